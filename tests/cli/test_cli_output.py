"""The command line never misleads: numbers never cut, labels kept distinct, points listed once,
the sweep's backend, progress and data, the picture options, and names with "did you mean"."""

import json
import re

from click.testing import CliRunner

from ravine.cli import cli
from ravine.cli.parse import shorten_labels


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# ------------------------------------------------------------------ ravine run: the table


def test_run_never_cuts_a_number():
    r = invoke("run", "sgd(lr=0.1)", "--problem", "lecture_bowl3d", "--steps", "50")
    assert r.exit_code == 0, r.output
    assert "1.1259e-35" in r.output  # z, once shown as "1."
    r = invoke("run", "sgd(lr=0.1)", "--problem", "lecture_bowl3d", "--steps", "50", "--digits", "2")
    assert "1.1e-35" in r.output
    r = invoke("run", "sgd", "--digits", "0")
    assert r.exit_code == 2


def test_run_long_labels_ellipsized_and_distinct():
    a = "adam(lr=0.01,beta1=0.9,beta2=0.999,eps=1e-8,weight_decay=0.1)"
    b = "adam(lr=0.01,beta1=0.9,beta2=0.999,eps=1e-8,weight_decay=0.2)"
    r = invoke("run", a, b, "--steps", "5")
    assert r.exit_code == 0, r.output
    rows = [line.split()[0] for line in r.output.splitlines() if line.strip().startswith("adam")]
    assert len(rows) == 2 and rows[0] != rows[1]
    assert all("…" in x and len(x) <= 40 for x in rows)
    assert rows[0].endswith("0.1)") and rows[1].endswith("0.2)")


def test_shorten_labels_keeps_labels_distinct():
    short = ["x" * 50 + "1" + "y" * 20, "x" * 50 + "2" + "y" * 20]  # differ in the middle
    assert shorten_labels(short) == short  # shortening would make them read alike: kept whole
    assert shorten_labels(["sgd"]) == ["sgd"]


# ------------------------------------------------------------------ ravine analyze: each point once


def test_analyze_lists_a_point_once():
    r = invoke("analyze", "saddle", "--point", "0,0")
    assert r.exit_code == 0, r.output
    assert r.output.count("(0, 0)") == 1
    r = invoke("analyze", "saddle", "--point", "0,0", "--format", "json")
    pts = [tuple(cp["point"]) for cp in json.loads(r.output)["critical_points"]]
    assert pts == [(0.0, 0.0)]
    r = invoke("analyze", "saddle", "--point", "0,1")  # not critical: listed, and the search's (0, 0) too
    assert "(0, 1)" in r.output and "(0, 0)" in r.output


# ------------------------------------------------------------------ ravine sweep: backend, progress, data, log1m

SWEEP = ["sweep", "sgd", "--problem", "ellipse", "--x", "lr=0.05:1.5:4:log", "--y", "momentum=0:0.9:3", "--steps", "50"]


def test_parse_axis_log1m():
    import numpy as np
    import pytest

    from ravine.cli.parse import ParseError, parse_axis

    name, v, scale = parse_axis("beta2=0.9:0.9999:20:log1m")
    assert name == "beta2" and scale == "log1m" and v.size == 20
    assert np.isclose(v[0], 0.9) and np.isclose(v[-1], 0.9999)
    assert np.allclose(np.diff(np.log(1 - v)), np.log(1 - v[1]) - np.log(1 - v[0]))
    with pytest.raises(ParseError, match="log1m axis needs low and high < 1"):
        parse_axis("beta2=0.9:1:5:log1m")


def test_sweep_backends_agree_and_data_is_every_cell(tmp_path):
    import csv

    outs = {}
    for backend in ("numpy", "auto"):
        data = tmp_path / f"{backend}.csv"
        r = invoke(*SWEEP, "--backend", backend, "--data", str(data), "-o", str(tmp_path / f"{backend}.png"))
        assert r.exit_code == 0, r.output
        assert f"({'numpy' if backend == 'numpy' else 'numba'})" in r.stderr  # the progress line names it
        assert "done in" in r.stderr
        with open(data) as fh:
            outs[backend] = list(csv.DictReader(fh))
    assert len(outs["numpy"]) == 12 and set(outs["numpy"][0]) == {"lr", "momentum", "loss", "status"}
    for a, b in zip(outs["numpy"], outs["auto"]):
        assert (a["lr"], a["momentum"], a["status"]) == (b["lr"], b["momentum"], b["status"])
        if a["loss"]:
            assert abs(float(a["loss"]) - float(b["loss"])) <= 1e-9 * max(1.0, abs(float(a["loss"])))
    j = tmp_path / "d.json"
    r = invoke(*SWEEP, "--backend", "numpy", "--data", str(j), "-o", str(tmp_path / "j.png"))
    doc = json.loads(j.read_text())
    assert doc["x"] == "lr" and doc["y"] == "momentum" and len(doc["rows"]) == 12


def test_sweep_says_when_it_compiles(tmp_path, monkeypatch):
    from ravine.runner import numba_backend as nb

    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(nb, "_KERNELS", {})  # as in a fresh process: nothing compiled yet
    monkeypatch.setattr(nb, "_BY_KEY", type(nb._BY_KEY)())
    r = invoke(*SWEEP, "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 0, r.output
    assert "compiling the kernel for sgd on ellipse" in r.stderr and "once; cached on disk" in r.stderr
    r = invoke(*SWEEP, "-o", str(tmp_path / "b.png"))
    assert r.exit_code == 0 and "compiling" not in r.stderr  # loaded now


def test_sweep_bad_data_and_backend(tmp_path):
    r = invoke(*SWEEP, "--data", str(tmp_path / "d.txt"), "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 2 and "--data" in r.output
    r = invoke(*SWEEP, "--backend", "fast", "-o", str(tmp_path / "a.png"))
    assert r.exit_code == 2
    assert not any(p.suffix == ".png" for p in tmp_path.iterdir())


# ------------------------------------------------------------------ pictures: --dpi, --size, --style; 1-D problems


def test_style_names_are_the_plot_styles():
    from ravine.cli.plot import STYLE_NAMES
    from ravine.plot import STYLES

    assert tuple(STYLES) == STYLE_NAMES


def test_picture_size_dpi_and_style(tmp_path):
    from PIL import Image

    p = tmp_path / "slide.png"
    r = invoke(
        "plot", "sgd:lr=0.1", "--problem", "ellipse", "--steps", "5", "--style", "slides", "--size", "12x6.75",
        "--dpi", "50", "-o", str(p),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with Image.open(p) as im:
        assert im.size == (600, 337)
    g = tmp_path / "a.gif"
    r = invoke(
        "animate", "sgd", "--problem", "booth", "--lr", "0.02", "--steps", "5", "--frames", "2", "--size", "3x2",
        "--dpi", "40", "--style", "paper", "-o", str(g),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with Image.open(g) as im:
        assert im.size == (120, 80)
    s = tmp_path / "s.png"
    r = invoke(*SWEEP, "--backend", "numpy", "--size", "8x5", "--dpi", "25", "--style", "slides", "-o", str(s))
    assert r.exit_code == 0, r.output
    with Image.open(s) as im:
        assert im.size == (200, 125)


def test_picture_options_bounded(tmp_path):
    o = str(tmp_path / "x.png")
    base = ["plot", "sgd", "--problem", "ellipse", "--steps", "2", "-o", o]
    for extra, needle in [
        (["--size", "0x3"], "from 1 to 40 inches"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--dpi", "1000"], "--dpi"),
        (["--size", "40x40", "--dpi", "600"], "the limit is"),
        (["--style", "poster"], "--style"),
    ]:
        r = invoke(*base, *extra)
        assert r.exit_code == 2 and needle in r.output, (extra, r.output)
    assert not (tmp_path / "x.png").exists()


def test_one_dimensional_problem_plots(tmp_path):
    from PIL import Image

    p = tmp_path / "x2.png"
    r = invoke(
        "plot", "sgd:lr=0.05", "sgd:lr=1.1", "--problem", "parabola", "--start", "10", "--steps", "10", "-o", str(p)
    )
    assert r.exit_code == 0, r.output
    with Image.open(p) as im:
        assert im.format == "PNG" and im.size[0] > 100


# ------------------------------------------------------------------ names: "did you mean", shell completion


def test_did_you_mean_for_every_kind_of_name(tmp_path):
    png = str(tmp_path / "x.png")
    for args, hint in [
        (["plto"], "did you mean 'plot'"),
        (["run", "adamm"], "did you mean 'adam'"),
        (["run", "sgd", "--problem", "rosenbrok"], "did you mean 'rosenbrock'"),
        (["run", "sgd", "--convention", "kears"], "did you mean 'keras'"),
        (["list", "optimzers"], "did you mean 'optimizers'"),
        (["list", "shedules"], "did you mean 'schedules'"),
        (["run", "sgd", "--format", "jsn"], "did you mean 'json'"),
        (["sweep", "sgd", "--problem", "ellipse", "--x", "lrr=0.1:1:3", "--y", "momentum=0:0.5:2", "-o", png],
         "did you mean 'lr'"),
        (["train", "--schedule", "cosin", "--no-save"], "did you mean 'cosine'"),
        (["train", "--problem", "digts", "--no-save"], "did you mean 'digits'"),
    ]:  # fmt: skip
        r = invoke(*args)
        assert r.exit_code == 2 and hint in r.output, (args, r.output)


def test_main_prints_the_subcommand_hint_on_its_one_line(capsys):
    import pytest

    from ravine.cli import main

    with pytest.raises(SystemExit) as ei:
        main(["sweeep"])
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "did you mean 'sweep'" in err


def test_shell_completion_of_optimizer_and_problem_names():
    from click.shell_completion import ShellComplete

    from ravine.cli import cli

    def complete(args, incomplete):
        return [c.value for c in ShellComplete(cli, {}, "ravine", "_RAVINE_COMPLETE").get_completions(args, incomplete)]

    assert {"adam", "adamw", "adagrad", "adadelta"} <= set(complete(["run"], "ad"))
    assert complete(["plot", "sgd", "--problem"], "rosen") == ["rosenbrock"]
    assert complete(["sweep"], "yo") == ["yogi"]
    assert "sigmoid_neuron" in complete(["analyze"], "sig")
    assert complete(["explain", "--problem"], "bea") == ["beale"]
    assert complete(["train", "--optimizer"], "yo") == ["yogi"]
    assert "newton" not in complete(["train", "--optimizer"], "")
    assert "sweep" in complete([], "sw")


def test_progress_bar_text():
    from ravine.cli.plot import _bar

    assert _bar(0, 10, 0.0) == "[------------------------]   0 % · 0 s"
    assert _bar(5, 20, 3.0) == "[######------------------]  25 % · 3 s, about 9 s left"
    assert _bar(20, 20, 7.0) == "[########################] 100 % · 7 s"


def test_run_reports_progress_after_each_optimizer():
    import ravine

    seen = []
    rules = {f"lr={lr}": ravine.rules.SGD(lr=lr) for lr in (0.01, 0.02, 0.05)}
    ravine.run(rules, "ellipse", steps=5, record="final", progress=lambda k, n: seen.append((k, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_sweep_draws_a_progress_bar_on_a_terminal(tmp_path):
    """On a terminal (a pty), stderr shows the bar with the fraction of cells done."""
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    args = ["sweep", "sgd", "--problem", "ellipse", "--x", "lr=0.05:1.5:20:log", "--y", "momentum=0:0.9:10"]
    args += ["--steps", "2000", "--backend", "numpy", "-o", str(tmp_path / "s.png")]  # a few seconds
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ravine.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 120)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=120) == 0, out.decode(errors="replace")
    text = out.decode(errors="replace")
    assert "done in" in text
    bars = re.findall(r"\[([#-]{24})\] +(\d+) % · (\d+) s", text)
    assert bars, text  # at least one redraw (the sweep takes more than a second)
    fracs = [int(p) for _, p, _ in bars]
    assert fracs == sorted(fracs) and any(0 < f < 100 for f in fracs), fracs  # cells done, in order
    for fill, pct, _ in bars:  # the bar's fill is its percentage (each rounded: ½ cell + 24 × ½ %)
        assert abs(fill.count("#") - 24 * int(pct) / 100) <= 0.5 + 0.12 + 1e-9


# ------------------------------------------------------------------ pictures: slide-ready by default


def _spy(monkeypatch, name):
    """Record the Figures the real ``ravine.plot.<name>`` returns to the command (it still draws
    and writes the file)."""
    import ravine.plot as plot

    figs, real = [], getattr(plot, name)

    def spy(*a, **k):
        figs.append(real(*a, **k))
        return figs[-1]

    monkeypatch.setattr(plot, name, spy)
    return figs


def test_pictures_are_slide_size_by_default(tmp_path):
    from PIL import Image

    p, g = tmp_path / "p.png", tmp_path / "a.gif"
    assert invoke("plot", "sgd:lr=0.1", "--problem", "ellipse", "--steps", "5", "-o", str(p)).exit_code == 0
    r = invoke("animate", "sgd", "--problem", "booth", "--lr", "0.02", "--steps", "3", "-o", str(g))
    assert r.exit_code == 0, r.output
    for f in (p, g):
        with Image.open(f) as im:
            assert im.size == (1600, 900)
    c = tmp_path / "c.png"
    r = invoke("plot", "sgd:lr=0.1", "--problem", "ellipse", "--steps", "5", "--style", "compact", "-o", str(c))
    with Image.open(c) as im:
        assert r.exit_code == 0 and im.size == (640, 480)


def test_labels_and_noise_are_in_the_legend(tmp_path, monkeypatch):
    figs = _spy(monkeypatch, "contour")
    r = invoke(
        "plot", "sgd", "sgd:momentum=0.9", "--lr", "1e-3", "--problem", "rosenbrock", "--steps", "20",
        "--label", "GD", "--label", "heavy ball", "--noise", "3", "-o", str(tmp_path / "p.png"),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (fig,) = figs
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["minimum", "GD + noise σ 3", "heavy ball + noise σ 3"]
    assert "GD + noise σ 3: f = " in fig.axes[0].get_title()
    for labels, needle in [
        (["--label", "a"], "--label: 1 label for 2 optimizers"),
        (["--label", "a", "--label", "a"], "--label: 'a' is given twice"),
    ]:
        r = invoke("plot", "sgd", "adam", "--problem", "booth", "--steps", "2", *labels, "-o", str(tmp_path / "x.png"))
        assert r.exit_code == 2 and needle in r.output, r.output


def test_animate_draws_one_dimensional_problems(tmp_path):
    """The lecture's GD on x² (η 0.05 and 1.1) from 1: one frame per step."""
    from PIL import Image

    g = tmp_path / "x2.gif"
    r = invoke(
        "animate", "sgd:lr=0.05", "sgd:lr=1.1", "--problem", "parabola", "--start", "1", "--steps", "12",
        "--size", "4x3", "--dpi", "40", "-o", str(g),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with Image.open(g) as im:
        assert im.n_frames == 13 and im.size == (160, 120)
    r = invoke("animate", "sgd", "--problem", "parabola", "--3d", "-o", str(tmp_path / "y.gif"))
    assert r.exit_code == 2 and "--3d: needs a 2-D problem; parabola is 1-D" in r.output
    r = invoke("animate", "sgd", "--problem", "booth", "--frames", "2000", "--steps", "5000", "-o", str(g))
    assert r.exit_code == 2 and "--frames: 2000 frames of 1600 × 900 pixels" in r.output
