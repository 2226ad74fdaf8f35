"""Pictures: real properties of the files and figures, not golden images."""

import io
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import ravine  # noqa: E402
from ravine.rules import SGD, Adam, Momentum  # noqa: E402


def _pixels(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).astype(int)


def _valid_image(path, fmt=None):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        if fmt:
            assert im.format == fmt
        return im.size


@pytest.fixture(scope="module")
def ellipse_runs():
    return ravine.run(
        {"GD η 0.4": SGD(lr=0.4), "GD η 0.6": SGD(lr=0.6)}, "ellipse", np.array([-5.0, -2.0]), 20, backend="numpy"
    )


def test_import_ravine_does_not_import_matplotlib():
    code = "import ravine, sys; ravine.run; ravine.get_problem; assert 'matplotlib' not in sys.modules, 'mpl'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_contour_file_is_valid_png_and_path_changes_pixels(tmp_path, ellipse_runs):
    from ravine import plot

    p = tmp_path / "c.png"
    fig = plot.contour("ellipse", ellipse_runs, path=p, figsize=(4, 3))
    w, h = _valid_image(p, "PNG")
    assert w > 100 and h > 100
    one = {"GD η 0.4": ellipse_runs.theta[:, 0]}
    with_path = _pixels(plot.contour("ellipse", one, figsize=(4, 3), legend=False))
    without = _pixels(plot.contour("ellipse", None, figsize=(4, 3), legend=False))
    assert with_path.shape == without.shape
    changed = np.abs(with_path - without).sum(-1) > 60
    assert changed.sum() > 50  # the trajectory is visibly drawn
    # and it is drawn in the trajectory's colour (the palette's first)
    first = np.array([int(plot.COLORS[0][i : i + 2], 16) for i in (1, 3, 5)])
    near = np.abs(with_path[..., :3].astype(float) - first).max(-1) < 40
    assert (near & changed).sum() > 20
    assert fig.axes


def test_left_window_is_marked_and_numbers_not_clipped(ellipse_runs):
    from ravine import plot

    fig = plot.contour("ellipse", ellipse_runs)
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert any("GD η 0.6" in lab and "left the window at step 2" in lab for lab in labels)
    exits = [ln for ln in ax.lines if (ln.get_gid() or "").startswith("exit:")]
    assert len(exits) == 1
    x, y = exits[0].get_xdata()[0], exits[0].get_ydata()[0]
    assert y == pytest.approx(-3.0)  # exactly on the window's lower edge
    assert -6 <= x <= 6
    # the runner's numbers are untouched: η = 0.6 > 2/λmax really blows up
    assert abs(ellipse_runs.theta[-1, 1, 1]) > 100


def test_visible_part_cuts_at_window_edge():
    from ravine.plot import visible_part

    w = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    pts, ex = visible_part(np.array([[0, 0], [0.5, 0], [3, 0]], float), w)
    assert ex == 2 and np.allclose(pts[-1], [1.0, 0.0])
    pts, ex = visible_part(np.array([[0, 0], [3, 0], [0.5, 0]], float), w)  # comes back: kept whole
    assert ex is None and len(pts) == 3
    pts, ex = visible_part(np.array([[0, 0], [0.5, 0.5], [np.nan, np.nan]]), w)
    assert ex == 2 and np.allclose(pts[-1], [0.5, 0.5])


def test_log_levels_for_log_problems():
    from ravine import plot

    fig = plot.contour("rosenbrock", None)
    cs = [c for c in fig.axes[0].collections if hasattr(c, "levels")]
    lv = np.asarray(cs[0].levels)
    ratios = lv[1:] / lv[:-1]
    assert np.allclose(ratios, ratios[0], rtol=1e-6) and ratios[0] > 1.2  # geometric


def test_surface_and_loss_curves(tmp_path, ellipse_runs):
    from ravine import plot

    plot.surface3d("ellipse", ellipse_runs, path=tmp_path / "s.png", figsize=(4, 3), n=30)
    _valid_image(tmp_path / "s.png", "PNG")
    fig = plot.loss_curves(ellipse_runs, path=tmp_path / "l.png")
    _valid_image(tmp_path / "l.png", "PNG")
    assert fig.axes[0].get_yscale() == "log"


def test_loss_curves_nonpositive_losses():
    from ravine import plot
    from ravine.problems import from_formula

    # f* = -1 known: plots f - f*
    res = ravine.run({"gd": SGD(lr=0.1)}, "six_hump_camel", np.array([[0.3, -0.5]]), 50, backend="numpy")
    fig = plot.loss_curves(res)
    assert fig.axes[0].get_yscale() == "log"
    assert "f*" in fig.axes[0].get_ylabel()
    # unknown f*: symlog
    p = from_formula("x^2 + y^2 - 5")
    res = ravine.run({"gd": SGD(lr=0.1)}, p, np.array([[1.0, 1.0]]), 20, backend="numpy")
    fig = plot.loss_curves(res, problem=p)
    assert fig.axes[0].get_yscale() == "symlog"


def test_seed_bands(tmp_path):
    from ravine import plot

    rng = np.random.default_rng(0)
    hist = {
        "sgd": [np.exp(-np.arange(50) / 20) * (1 + 0.1 * rng.random(50)) for _ in range(4)],
        "adam": [np.exp(-np.arange(40) / 10) for _ in range(3)],
    }
    fig = plot.seed_bands(hist, path=tmp_path / "b.png")
    _valid_image(tmp_path / "b.png", "PNG")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    bands = [c for c in ax.collections if (c.get_gid() or "").startswith("band:")]
    assert len(bands) == 2
    # on a log axis the centre is the geometric mean, the band exp(mean ± std) of log y
    mean_line = ax.lines[0].get_ydata()
    logs = np.log(np.stack(hist["sgd"]))
    assert np.allclose(mean_line, np.exp(logs.mean(0)))
    (lo_hi,) = [b for b in bands if b.get_gid() == "band:sgd"]
    verts = lo_hi.get_paths()[0].vertices
    assert verts[:, 1].min() >= np.exp(logs.mean(0) - logs.std(0)).min() * (1 - 1e-9)
    with pytest.raises(ValueError):
        plot.seed_bands({})


def test_seed_bands_on_a_log_axis_never_dip_towards_zero():
    """Seeds spread over two decades: an arithmetic mean − std would go below 0; the geometric
    band's lower edge stays within a factor exp(std of log y) of its centre."""
    from ravine import plot

    runs = [np.full(30, v) for v in (1e-3, 1e-2, 1e-1)]
    fig = plot.seed_bands({"spread": runs})
    ax = fig.axes[0]
    assert np.mean(runs, 0)[0] - np.std(runs, 0)[0] < 0  # what the old band would have drawn
    verts = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert verts.min() > 1e-3 * 0.3 and verts.max() < 1e-1 * 3.5
    linear = plot.seed_bands({"spread": runs}, log=False)
    assert np.allclose(linear.axes[0].lines[0].get_ydata(), np.mean(runs, 0))


def test_one_dimensional_problems_draw_the_curve_and_the_iterates(tmp_path):
    """The lecture's gd on x²: η = 0.05 creeps down, η = 1.1 bounces out (lecture 002)."""
    from ravine import plot, run
    from ravine.rules import SGD

    res = run({"η = 0.05": SGD(lr=0.05), "η = 1.1": SGD(lr=1.1)}, "parabola", [[10.0]], 10)
    fig = plot.contour("parabola", res, path=tmp_path / "x2.png")
    _valid_image(tmp_path / "x2.png", "PNG")
    ax = fig.axes[0]
    slow, fast = (ln for ln in ax.lines if ln.get_label().startswith("η"))
    assert np.allclose(slow.get_xdata(), 10 * 0.9 ** np.arange(11))
    assert np.allclose(fast.get_xdata(), 10 * (-1.2) ** np.arange(11))
    lo, hi = ax.get_xlim()
    assert lo < 10 * (-1.2) ** 9 and hi > 10 * (-1.2) ** 10  # the window holds the divergent run


def test_heatmap_stability_line_and_diverged_cells(tmp_path):
    from ravine import plot

    lrs = np.geomspace(0.05, 1.5, 12)
    fig = plot.heatmap(
        "sgd", "ellipse", ("lr", lrs), ("weight_decay", [0.0, 0.0001]), steps=200, path=tmp_path / "h.png"
    )
    _valid_image(tmp_path / "h.png", "PNG")
    d = fig.ravine_data
    ax = fig.axes[0]
    lines = [ln for ln in ax.lines if ln.get_gid() == "lr_max"]
    assert len(lines) == 1
    assert lines[0].get_xdata()[0] == pytest.approx(2 / 4.0)  # 2/λmax, Hessian diag(0.2, 4)
    assert d["lr_max"] == pytest.approx(0.5)
    # above 2/λmax every cell diverged, below none did; the diverged cells carry a marker
    assert d["diverged"][lrs > 0.55].all() and not d["diverged"][lrs < 0.45].any()
    marks = [c for c in ax.collections if c.get_gid() == "diverged"]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == int(d["diverged"].sum())


def test_heatmap_heavy_ball_region_matches_theory():
    from ravine import plot
    from ravine.analysis import QuadraticRates

    lrs = np.geomspace(0.05, 2.0, 10)
    moms = np.linspace(0.0, 0.9, 8)
    fig = plot.heatmap(SGD(), "ellipse", ("lr", lrs), ("momentum", moms), metric="steps", steps=400, tol=1e-3)
    d = fig.ravine_data
    ax = fig.axes[0]
    assert any(c.get_gid() == "heavy_ball_bound" for c in ax.collections)
    q = QuadraticRates(np.diag([0.2, 4.0]))
    for i, lr in enumerate(lrs):
        for j, m in enumerate(moms):
            rate = q.heavy_ball_rate(lr, m)
            if rate > 1.05:
                assert d["diverged"][i, j], (lr, m, rate)
            if rate < 0.97:
                assert not d["diverged"][i, j] and np.isfinite(d["values"][i, j]), (lr, m, rate)


def test_heatmap_adam_betas_and_errors():
    from ravine import plot

    fig = plot.heatmap(Adam(lr=0.05), "booth", ("beta1", [0.0, 0.5, 0.9]), ("beta2", [0.9, 0.99]), steps=50)
    assert fig.ravine_data["values"].shape == (3, 2)
    assert fig.ravine_data["lr_max"] is None  # no theory line for adaptive methods
    with pytest.raises(ValueError, match="no hyperparameter"):
        plot.heatmap("sgd", "ellipse", ("lr", [0.1]), ("beta9", [0.1]))
    with pytest.raises(ValueError):
        plot.heatmap("sgd", "ellipse", ("lr", [0.1]), ("lr", [0.1]))


def test_heatmap_momentum_average_form_scales_bound():
    from ravine import plot

    fig = plot.heatmap(
        Momentum(momentum=0.5, form="average"), "ellipse", ("lr", [0.1, 1.0, 3.0]), ("momentum", [0.5]), steps=20
    )  # 1-row momentum axis: (lr, momentum) contour
    assert fig.ravine_data["lr_max"] == pytest.approx(0.5)


def test_gif_frame_count(tmp_path):
    from ravine.plot import animate

    res = ravine.run({"sgd": SGD(lr=0.05), "adam": Adam(lr=0.1)}, "booth", None, 60, backend="numpy")
    out = animate("booth", res, tmp_path / "a.gif", frames=12, fps=8, figsize=(3, 2.4), dpi=50)
    with Image.open(out) as im:
        assert im.format == "GIF"
        assert im.n_frames == 12
    out3 = animate("booth", res, tmp_path / "b.gif", frames=5, fps=8, three_d=True, figsize=(3, 2.4), dpi=40)
    with Image.open(out3) as im:
        assert im.n_frames == 5


def test_frame_steps_subsample():
    from ravine.plot import frame_steps

    idx = frame_steps(np.arange(101), 11)
    assert len(idx) == 11 and idx[0] == 0 and idx[-1] == 100 and len(set(idx)) == 11
    assert len(frame_steps(np.arange(5), 11)) == 5


def test_mp4_without_ffmpeg_is_a_clear_error(tmp_path, monkeypatch):
    import shutil

    from ravine.plot import animation as A

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    res = ravine.run({"sgd": SGD(lr=0.05)}, "booth", None, 5, backend="numpy")
    with pytest.raises(A.FFmpegNotFoundError, match="ffmpeg.*apt-get install ffmpeg"):
        A.animate("booth", res, tmp_path / "a.mp4", frames=3)
    assert not (tmp_path / "a.mp4").exists()
    with pytest.raises(ValueError, match=".gif or .mp4"):
        A.animate("booth", res, tmp_path / "a.avi")


# ------------------------------------------------------------------------------- CLI


def test_cli_plot_animate_sweep(tmp_path):
    from click.testing import CliRunner

    from ravine.cli import cli

    r = CliRunner()
    out = tmp_path / "p.png"
    res = r.invoke(
        cli,
        [
            "plot",
            "sgd:lr=0.4",
            "sgd:lr=0.6,momentum=0.5",
            "--problem",
            "ellipse",
            "--start",
            "-5,-2",
            "--steps",
            "20",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    _valid_image(out, "PNG")
    for kind in ("surface", "loss"):
        o = tmp_path / f"{kind}.png"
        res = r.invoke(
            cli,
            ["plot", "adam", "--formula", "x^2 + 3*y^2", "--lr", "0.1", "--steps", "30", "--kind", kind, "-o", str(o)],
        )
        assert res.exit_code == 0, res.output
        _valid_image(o, "PNG")
    g = tmp_path / "a.gif"
    res = r.invoke(
        cli,
        [
            "animate",
            "sgd",
            "nag",
            "--problem",
            "booth",
            "--lr",
            "0.02",
            "--steps",
            "30",
            "--frames",
            "7",
            "--fps",
            "5",
            "-o",
            str(g),
        ],
    )
    assert res.exit_code == 0, res.output
    with Image.open(g) as im:
        assert im.n_frames == 7
    s = tmp_path / "s.png"
    res = r.invoke(
        cli,
        [
            "sweep",
            "sgd",
            "--problem",
            "ellipse",
            "--x",
            "lr=0.05:1.5:6:log",
            "--y",
            "momentum=0:0.9:4",
            "--metric",
            "steps",
            "--steps",
            "100",
            "-o",
            str(s),
        ],
    )
    assert res.exit_code == 0, res.output
    _valid_image(s, "PNG")


@pytest.mark.parametrize(
    "args",
    [
        ["plot", "adam", "--problem", "nope", "-o", "x.png"],
        ["plot", "adam:foo=1", "--problem", "beale", "-o", "x.png"],
        ["plot", "adam", "--problem", "beale", "--start", "1,2,3", "-o", "x.png"],
        ["plot", "adam", "--problem", "beale", "-o", "x.txt"],
        ["plot", "adam", "--problem", "beale", "--formula", "x^2", "-o", "x.png"],
        ["plot", "sgd", "--problem", "lecture_bowl3d", "-o", "x.png"],
        ["plot", "sgd", "--problem", "beale", "--set", "beta9=1", "-o", "x.png"],
        ["sweep", "sgd", "--problem", "ellipse", "--x", "lr=1:0:3:log", "--y", "momentum=0:1:2", "-o", "x.png"],
        ["sweep", "sgd", "--problem", "ellipse", "--x", "lr=0.1:1:3", "--y", "momentum=-0.5:0.5:2", "-o", "x.png"],
        ["animate", "sgd", "--problem", "beale", "-o", "x.avi"],
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, tmp_path, monkeypatch, capsys):
    from ravine.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ravine: error:") and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_cli_mp4_without_ffmpeg(tmp_path, monkeypatch, capsys):
    import shutil

    from ravine.cli import main

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(SystemExit) as exc:
        main(["animate", "sgd", "--problem", "booth", "--steps", "5", "-o", str(tmp_path / "a.mp4")])
    assert exc.value.code == 2
    assert "ffmpeg" in capsys.readouterr().err


def test_gallery_quick(tmp_path):
    from ravine import gallery

    made = gallery.build(tmp_path, quick=True)
    names = {p.name for p, _ in made}
    assert {
        "hero.png",
        "ellipse_momentum.png",
        "seven_optimizers.gif",
        "adagrad_vs_rmsprop.png",
        "adadelta_eps.png",
        "sweep_momentum.png",
    } <= names
    for p, cmd in made:
        assert p.exists() and cmd.startswith("ravine ")
        _valid_image(p)
    md = (tmp_path / "gallery.md").read_text()
    assert "hero.png" in md and "ravine plot" in md
    # every registered picture drew its files (the registry, not a list kept here)
    trains = gallery._torch_available()
    for name, pic in gallery.PICTURES.items():
        if trains or not pic.needs_torch:
            assert any(n.startswith(name) for n in names), f"picture {name!r} wrote nothing"


@pytest.mark.skipif(
    __import__("shutil").which("ffmpeg") is None or __import__("shutil").which("ffprobe") is None,
    reason="ffmpeg is not installed (apt-get install ffmpeg): the MP4 path is checked where it is",
)
def test_mp4_has_the_frames_asked_for(tmp_path):
    from ravine.plot import animate

    res = ravine.run({"adam": Adam(lr=2e-2), "momentum": Momentum(lr=1e-3)}, "rosenbrock", None, 200)
    out = animate("rosenbrock", res, tmp_path / "a.mp4", frames=17, fps=10)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    codec, frames = probe.split(",")
    assert int(frames) == 17 and codec


def test_heatmap_puts_decay_factors_near_one_on_a_log_one_minus_axis():
    """β2 ∈ {0.9, …, 0.9999}: equal steps in log(1 − β2) are equal steps on the axis."""
    from ravine import plot

    b2 = 1 - np.geomspace(1e-1, 1e-4, 4)
    fig = plot.heatmap("adam", "ellipse", ("lr", np.geomspace(1e-2, 1, 3)), ("beta2", b2), steps=20)
    ax = fig.axes[0]
    assert ax.get_yscale() == "function" and ax.get_xscale() == "log"
    centres = ax.transData.transform(np.c_[np.full(4, 0.1), b2])[:, 1]
    assert np.allclose(np.diff(centres), np.diff(centres)[0], rtol=1e-6)
    with pytest.raises(ValueError, match="scale"):
        plot.heatmap("adam", "ellipse", ("lr", [0.1, 0.2]), ("beta2", b2), steps=2, yscale="logit")


# ------------------------------------------------------------------------------- slide-ready pictures


def test_default_titles_say_what_happened():
    """A run that meets the tolerance and one past 2/λmax: the title names each and its step,
    the steps being the runner's own (stop_step)."""
    from ravine import plot

    res = ravine.run(
        {"GD η 0.4": SGD(lr=0.4), "GD η 1.2": SGD(lr=1.2)}, "ellipse", np.array([-5.0, -2.0]), 400, tol=1e-6
    )
    assert res.status_names == ["converged", "diverged"]
    conv, div = (int(s) for s in res.stop_step)
    title = plot.contour("ellipse", res).axes[0].get_title()
    assert f"GD η 0.4 converges in {conv} steps" in title and f"GD η 1.2 diverges at step {div}" in title
    assert title.rstrip().endswith(ravine.problems.get_problem("ellipse").title)
    # a run that leaves the window before the runner calls it diverged: the title says where
    short = ravine.run({"GD η 1.2": SGD(lr=1.2)}, "ellipse", np.array([-5.0, -2.0]), 8)
    assert short.status_names == ["max_steps"]
    assert plot.contour("ellipse", short).axes[0].get_title().startswith("GD η 1.2 leaves the window at step 1\n")
    assert "GD η 1.2 diverges" in plot.loss_curves(res).axes[0].get_title()
    assert plot.contour("ellipse", res, title="mine").axes[0].get_title() == "mine"


def test_outcome_counts_when_many_optimizers():
    from ravine import plot

    res = ravine.run(
        {f"η {lr}": SGD(lr=lr) for lr in (0.3, 0.4, 0.45, 1.2)}, "ellipse", np.array([-5.0, -2.0]), 600, tol=1e-6
    )
    assert res.status_names == ["converged"] * 3 + ["diverged"]
    first = int(np.argmin(res.stop_step[:3]))
    text = plot.outcome(plot.traces(res))
    assert text == (
        f"4 optimizers: 3 converge (first: {res.labels[first]}, step {res.stop_step[first]}), "
        f"1 diverges (η 1.2, step {res.stop_step[3]})"
    )


def test_slides_style_is_1600_pixels_wide_and_styles_set_the_size(tmp_path):
    from ravine import plot

    res = ravine.run({"sgd": SGD(lr=0.1)}, "booth", None, 5)
    for name, (w, h) in (("slides", (1600, 900)), ("compact", (640, 480)), ("paper", (1280, 800))):
        with plot.style(name):
            plot.contour("booth", res, path=tmp_path / f"{name}.png")
        assert _valid_image(tmp_path / f"{name}.png", "PNG") == (w, h)
    assert plot.style_pixels() == ((10.0, 5.625), 160) and plot.DEFAULT_STYLE == "slides"


def test_surface_paths_are_drawn_over_the_surface():
    """The saddle: the paths (and their ends) are drawn after the surface and lifted above it."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from ravine import plot
    from ravine.problems import get_problem

    res = ravine.run({"sgd": SGD(lr=0.05), "adam": Adam(lr=0.05)}, "saddle", None, 30)
    ax = plot.surface3d("saddle", res, figsize=(4, 3), n=30).axes[0]
    assert ax.computed_zorder is False
    surface = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    paths = [ln for ln in ax.lines if str(ln.get_gid()).startswith("path:")]
    assert len(surface) == 1 and len(paths) == 2
    assert min(ln.get_zorder() for ln in ax.lines) > max(c.get_zorder() for c in ax.collections)
    for ln in paths:
        x, y, z = (np.asarray(v) for v in ln.get_data_3d())
        f = get_problem("saddle").f(np.c_[x, y])
        assert (z > f).all()  # lifted: 1 % of the surface's height


def test_one_dimensional_animation_moves_a_dot_along_the_curve(tmp_path):
    """The lecture's GD on x² from 1 (η 0.05 and 1.1): one frame per step, each dot at its
    iterate (x_t, x_t²); the diverging run stops at the window's edge with a ✕."""
    from ravine.plot import animate
    from ravine.plot.animation import scene

    steps = 20
    res = ravine.run({"η 0.05": SGD(lr=0.05), "η 1.1": SGD(lr=1.1)}, "parabola", np.array([[1.0]]), steps)
    sc = scene("parabola", res, frames=100, bounds=((-5.0, 5.0),), figsize=(4, 3))
    assert list(sc.steps) == list(range(steps + 1))
    slow, fast = sc.heads
    edge_step = int(np.argmax(np.abs(1.2 ** np.arange(steps + 1)) > 5))  # first |x_t| > 5: t = 9
    for k in range(steps + 1):
        sc.draw(k)
        x = 0.9**k
        assert slow.get_xdata()[0] == pytest.approx(x, rel=1e-12) and slow.get_ydata()[0] == pytest.approx(x * x)
        assert len(sc.lines[0].get_xdata()) == k + 1  # the path so far: one point per step
        if k < edge_step:
            assert fast.get_xdata()[0] == pytest.approx((-1.2) ** k, rel=1e-12) and fast.get_marker() == "o"
        else:  # left the window at step 9 (x_9 = -5.16): stopped on its edge, marked ✕
            assert fast.get_xdata()[0] == pytest.approx(-5.0) and fast.get_ydata()[0] == pytest.approx(25.0)
            assert fast.get_marker() == "X"
    out = animate("parabola", res, tmp_path / "x2.gif", frames=100, figsize=(4, 3), dpi=40)
    with Image.open(out) as im:
        assert im.n_frames == steps + 1 and im.size == (160, 120)
    out = animate("parabola", res, tmp_path / "x2_7.gif", frames=7, figsize=(4, 3), dpi=40)
    with Image.open(out) as im:
        assert im.n_frames == 7
