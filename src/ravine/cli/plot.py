"""``ravine plot``, ``ravine animate`` and ``ravine sweep``: the pictures from the command line.

Optimizers are written ``NAME`` or ``NAME:key=value,key=value`` (e.g. ``sgd:lr=0.4,momentum=0.5``);
``--lr`` and ``--set key=value`` apply to every optimizer that has that hyperparameter (an
optimizer's own ``:key=value`` wins). Bad input is a one-line usage error (exit status 2).

\b
  ravine plot sgd:lr=0.4 sgd:lr=0.6,momentum=0.5 --problem ellipse --start -5,-2 --steps 20 -o e.png
  ravine animate sgd nag adam --problem beale --start 1,1.5 --lr 1e-3 --frames 60 -o beale.gif
  ravine sweep sgd --problem ellipse --x lr=1e-2:2:24:log --y momentum=0:0.95:20 --metric steps -o s.png
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
import numpy as np

from .parse import (
    Choice,
    bounded_float,
    check_output_file,
    check_pixels,
    check_work,
    complete_optimizer,
    complete_problem,
    did_you_mean,
    parse_axis,
    parse_optimizers,
    parse_point,
    parse_problem,
    parse_size,
    state_numbers,
)

PICTURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
#: steps × cells × starts of one sweep
MAX_SWEEP_WORK = 50_000_000

__all__ = ["plot_cmd", "animate_cmd", "sweep_cmd"]

#: the names of ``ravine.plot.STYLES`` (a test checks they agree; listed here so that
#: ``--help`` does not load matplotlib); the first is the default
STYLE_NAMES = ("slides", "compact", "paper")
#: one frame of an animation, at most
MAX_FRAME_PIXELS = 4_000_000
#: frames × pixels of one animation, at most (the GIF writer holds every frame, one byte a pixel)
MAX_ANIMATION_PIXELS = 1_000_000_000


def _picture_options():
    def deco(f):
        opts = [
            click.option(
                "--dpi",
                type=click.IntRange(20, 600),
                help="Dots per inch of the picture (default: the style's; 160 for slides).",
            ),
            click.option(
                "--size", metavar="WxH", help="Figure size in inches, e.g. 12x6.75 (each 1 to 40; default the style's)."
            ),
            click.option(
                "--style",
                "style_name",
                type=Choice(STYLE_NAMES),
                default=STYLE_NAMES[0],
                show_default=True,
                help="slides: 1600x900 pixels, large text and thick lines for a projector; "
                "compact: 640x480, matplotlib's look; paper: small text at 200 dpi.",
            ),
        ]
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _picture_size(size, dpi, style_name, limit=None):
    """(figsize, dpi) of a picture: ``--size`` and ``--dpi``, else the style's; refused past
    ``limit`` pixels (default ``check_pixels``'s)."""
    from ..plot import style_pixels

    default_size, default_dpi = style_pixels(style_name)
    figsize = parse_size(size) or default_size
    dpi = default_dpi if dpi is None else dpi
    check_pixels(figsize, dpi, default_size, **({"limit": limit} if limit else {}))
    return figsize, dpi


def _starts(problem, start):
    if not start:
        return None
    return np.stack([parse_point(s, problem.dim, "--start") for s in start])


def _window(problem, text):
    if not text:
        return None
    names = [(f"{v}0", f"{v}1") for v in problem.variables]
    expected = ",".join(a + "," + b for a, b in names)
    v = parse_point(text, None, "--window")
    if len(v) != 2 * problem.dim:
        raise ValueError(
            f"--window: expected {2 * problem.dim} numbers {expected} (the low and high of "
            f"{' and of '.join(problem.variables)}), got {len(v)} in {text!r}"
        )
    w = v.reshape(problem.dim, 2)
    for (low, high), (a, b) in zip(w, names):
        if not low < high:
            raise ValueError(f"--window: {a} must be < {b}, got {a}={low:g} and {b}={high:g} in {text!r}")
    return tuple(map(tuple, w))


@contextlib.contextmanager
def _usage_errors():
    """ValueErrors from parsing and validation → one-line click usage errors (exit 2)."""
    from ..plot import FFmpegNotFoundError

    try:
        yield
    except FFmpegNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise click.UsageError(msg) from None


def _run_options(f):
    opts = [
        click.option(
            "--problem",
            "-p",
            shell_complete=complete_problem,
            help="Catalog problem, e.g. rosenbrock or rosenbrock:b=10.",
        ),
        click.option("--formula", "-f", help="A formula instead, e.g. '(1-x)^2 + 100*(y-x^2)^2'."),
        click.option("--start", "-s", multiple=True, help="Start point x,y (repeatable; default the problem's)."),
        click.option("--steps", default=500, show_default=True, type=click.IntRange(0, 100_000)),
        click.option("--lr", type=float, help="Learning rate for every optimizer."),
        click.option(
            "--set", "sets", multiple=True, metavar="K=V", help="Hyperparameter for every optimizer that has it."
        ),
        click.option(
            "--noise", default=0.0, show_default=True, type=float, help="σ of Gaussian gradient noise (SGD emulation)."
        ),
        click.option(
            "--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1), help="Seed of the noise."
        ),
        click.option("--tol", type=float, help="Stop a trajectory when ‖∇f‖ ≤ tol."),
        click.option("--window", help="Plotting window x0,x1,y0,y1 (default the problem's bounds)."),
        click.option("--title", help="Title (default: what happened to each run, then the problem)."),
        click.option(
            "--label",
            "labels",
            multiple=True,
            help="Legend label of each optimizer, in order (repeatable: one per optimizer), e.g. --label 'heavy ball'.",
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _labelled(opts: dict, labels, noise: float) -> dict:
    """``opts`` ({label: rule}) under the ``--label`` names, in order, each followed by the
    gradient noise when there is some (the legend says σ)."""
    if labels:
        if len(labels) != len(opts):
            raise ValueError(
                f"--label: {len(labels)} label{'s' * (len(labels) != 1)} for {len(opts)} "
                f"optimizer{'s' * (len(opts) != 1)}; give one --label per optimizer, in order"
            )
        twice = [lab for i, lab in enumerate(labels) if lab in labels[:i]]
        if twice:
            raise ValueError(f"--label: {twice[0]!r} is given twice; each optimizer needs its own label")
        opts = dict(zip(labels, opts.values()))
    if noise:
        opts = {f"{lab} + noise σ {noise:g}": rule for lab, rule in opts.items()}
    return opts


def _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, labels=()):
    from ..runner import run

    tol = bounded_float(tol, "--tol")
    noise = bounded_float(noise, "--noise", hi=1e6)
    prob = parse_problem(problem, formula)
    opts = _labelled(parse_optimizers(optimizers, lr=lr, sets=sets), labels, noise)
    starts = _starts(prob, start)
    per_step = 4 * prob.dim + 2 + state_numbers(opts.values(), prob.dim)
    check_work(steps, len(opts) * (len(starts) if starts is not None else 1), per_step)
    res = run(opts, prob, starts, steps, tol=tol, grad_noise=noise, seed=seed, backend="numpy")
    return prob, res


# ------------------------------------------------------------------------------- commands


@click.command("plot")
@click.argument("optimizers", nargs=-1, required=True, shell_complete=complete_optimizer)
@_run_options
@click.option("--kind", type=Choice(["contour", "surface", "loss"]), default="contour", show_default=True)
@_picture_options()
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Picture file (.png/.svg/.pdf).")
def plot_cmd(
    optimizers,
    problem,
    formula,
    start,
    steps,
    lr,
    sets,
    noise,
    seed,
    tol,
    window,
    title,
    labels,
    kind,
    dpi,
    size,
    style_name,
    out,
):
    """Contour or 3-D trajectory plot, or loss curves, of OPTIMIZERS on a problem (a 1-D
    problem: the curve f(x) with the iterates on it).

    \b
    Examples:
      ravine plot sgd:lr=0.4 sgd:lr=0.6,momentum=0.5 --problem ellipse --start=-5,-2 --steps 20 -o e.png
      ravine plot sgd:lr=0.05 sgd:lr=1.1 --problem parabola --start 10 --steps 10 -o x2.png
      ravine plot adam --problem rosenbrock --style slides --size 12x6.75 --dpi 160 -o slide.png
    """
    with _usage_errors():
        if Path(out).suffix.lower() not in PICTURES:
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        figsize, dpi = _picture_size(size, dpi, style_name)
        check_output_file(out, "-o")
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, labels)
        from .. import plot

        bounds = _window(prob, window)
        fig = {"dpi": dpi, "figsize": figsize}
        with plot.style(style_name):
            if kind == "contour":
                plot.contour(prob, res, path=out, bounds=bounds, title=title, **fig)
            elif kind == "surface":
                plot.surface3d(prob, res, path=out, bounds=bounds, title=title, **fig)
            else:
                plot.loss_curves(res, problem=prob, path=out, title=title, **fig)
    click.echo(f"wrote {out}")


@click.command("animate")
@click.argument("optimizers", nargs=-1, required=True, shell_complete=complete_optimizer)
@_run_options
@click.option("--frames", default=60, show_default=True, type=click.IntRange(1, 2000))
@click.option("--fps", default=15, show_default=True, type=click.IntRange(1, 120))
@click.option("--3d", "three_d", is_flag=True, help="Move on the 3-D surface instead of the contour map.")
@_picture_options()
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="out.gif or out.mp4 (needs ffmpeg).")
def animate_cmd(
    optimizers,
    problem,
    formula,
    start,
    steps,
    lr,
    sets,
    noise,
    seed,
    tol,
    window,
    title,
    labels,
    frames,
    fps,
    three_d,
    dpi,
    size,
    style_name,
    out,
):
    """Animate OPTIMIZERS moving together on a problem (GIF, or MP4 with ffmpeg): on a 2-D
    problem's contour map (or its surface, --3d), on a 1-D problem's curve f(x).

    \b
    Examples:
      ravine animate sgd nag adam --problem beale --start=-1,-1.5 --lr 1e-3 -o beale.gif
      ravine animate sgd:lr=0.05 sgd:lr=1.1 --problem parabola --start 1 --steps 20 -o x2.gif
    """
    with _usage_errors():
        from ..plot.animation import _check_out, animate

        _check_out(out)  # wrong suffix or missing ffmpeg: fail before running anything
        figsize, dpi = _picture_size(size, dpi, style_name, limit=MAX_FRAME_PIXELS)
        px = int(figsize[0] * dpi) * int(figsize[1] * dpi)
        if min(frames, steps + 1) * px > MAX_ANIMATION_PIXELS:
            raise ValueError(
                f"--frames: {min(frames, steps + 1)} frames of {int(figsize[0] * dpi)} × {int(figsize[1] * dpi)} "
                f"pixels is more than {MAX_ANIMATION_PIXELS:,} pixels in all (fewer --frames, or a smaller "
                "--size or --dpi)"
            )
        check_output_file(out, "-o")
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, labels)
        if three_d and prob.dim != 2:
            raise ValueError(f"--3d: needs a 2-D problem; {prob.name} is {prob.dim}-D")
        from .. import plot

        with plot.style(style_name):
            animate(
                prob,
                res,
                out,
                frames=frames,
                fps=fps,
                three_d=three_d,
                bounds=_window(prob, window),
                title=title,
                dpi=dpi,
                figsize=figsize,
            )
    click.echo(f"wrote {out}")


DATA = (".csv", ".json")


def _variants(rule, xn, xv, yn, yv):
    """One cell of each compiled variant the grid needs (exact zeros and integers are
    compile-time constants: ``literals`` in ``ravine.rules.specialize``)."""
    from ..rules.specialize import literals

    cast = {f: type(getattr(rule.h, f)) for f in (xn, yn)}

    def conv(f, v):
        return int(round(v)) if cast[f] is int else float(v)

    def reps(f, vals):  # one value per compile-time class: 0, each integer, any other number
        out: dict = {}
        for v in vals:
            c = conv(f, v)
            out.setdefault(c if c == 0 or cast[f] is int else "number", c)
        return list(out.values())

    seen: dict = {}
    for a in reps(xn, xv):
        for b in reps(yn, yv):
            r = rule.with_hyper(**{xn: a, yn: b})
            seen.setdefault(literals(r.h), r)
    return list(seen.values())


def _kernels_to_compile(rule, prob, starts, xn, xv, yn, yv) -> int | None:
    """How many of the compiled kernels the sweep needs are neither loaded nor in the disk cache
    (None where the sweep will not be compiled), by ``ravine.runner.numba_backend``'s digest of
    a kernel's generated source."""
    from ..runner.driver import _numba_ok

    if not _numba_ok(rule, prob):
        return None
    from ..runner import numba_backend as nb

    pts = np.asarray(prob.start if starts is None else starts, dtype=float).reshape(-1, prob.dim)
    missing = 0
    for r in _variants(rule, xn, xv, yn, yv):
        st0 = r.init_state(r.h, pts)
        fields = tuple(r.State._fields)
        placeholder = tuple(np.ndim(getattr(st0, f)) == 0 for f in fields)
        src = nb._module_source(r, prob, fields, placeholder, (), False, False)
        digest = nb._digest(src)
        if digest not in nb._KERNELS and not nb.on_disk(digest):
            missing += 1
    return missing


def _bar(done: int, total: int, elapsed: float, width: int = 24) -> str:
    """``[#########---------------]  37 % · 3 s, about 5 s left`` (the estimate from the rate so far)."""
    frac = done / total if total else 0.0
    fill = int(round(frac * width))
    left = f", about {elapsed * (1 - frac) / frac:.0f} s left" if 0 < frac < 1 else ""
    return f"[{'#' * fill}{'-' * (width - fill)}] {100 * frac:3.0f} % · {elapsed:.0f} s{left}"


@contextlib.contextmanager
def _progress(what: str):
    """A progress bar on stderr while the sweep runs (cells done, elapsed time, an estimate of
    the time left), redrawn in place once a second on a terminal; the time taken at the end.
    Yields the ``progress(done, total)`` callback the sweep calls after each cell."""
    import sys
    import threading
    import time

    t0 = time.perf_counter()
    done = threading.Event()
    tty = sys.stderr.isatty()
    state = [0, 0]

    def update(k: int, total: int) -> None:
        state[0], state[1] = k, total

    click.echo(f"{what} …", err=True, nl=not tty)

    def tick():
        while not done.wait(1.0):
            k, total = state
            shown = _bar(k, total, time.perf_counter() - t0) if total else f"{time.perf_counter() - t0:.0f} s"
            click.echo(f"\r{what} {shown}\x1b[K", err=True, nl=False)

    th = threading.Thread(target=tick, daemon=True) if tty else None
    if th:
        th.start()
    try:
        yield update
    finally:
        done.set()
        if th:
            th.join()
            click.echo("\r\x1b[K", err=True, nl=False)
    click.echo(f"{what}: done in {time.perf_counter() - t0:.1f} s", err=True)


def _write_data(path, rule, prob, metric, steps, tol, data) -> None:
    import csv
    import json

    from .._json import jsonable
    from ..runner.sweep import SweepResult

    sw = SweepResult(
        rule,
        prob.name,
        data["x_name"],
        np.asarray(data["x"]),
        data["y_name"],
        np.asarray(data["y"]),
        metric,
        steps,
        tol,
        np.asarray(data["values"]),
        np.asarray(data["status"]),
        np.asarray(data["diverged"]),
        np.asarray(data["not_converged"]),
        prob.f_min,
        data["result"],
    )
    rows = sw.rows()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if str(path).lower().endswith(".csv"):
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
        else:
            doc = {
                "optimizer": rule.name,
                "fixed": {k: v for k, v in rule.h._asdict().items() if k not in (sw.x_name, sw.y_name)},
                "problem": prob.name,
                "metric": metric,
                "steps": steps,
                "tol": tol,
                "x": sw.x_name,
                "y": sw.y_name,
                "rows": rows,
            }
            json.dump(jsonable(doc), fh, indent=1, ensure_ascii=False, allow_nan=False)
            fh.write("\n")


@click.command("sweep")
@click.argument("optimizer", shell_complete=complete_optimizer)
@click.option("--problem", "-p", shell_complete=complete_problem, help="Catalog problem.")
@click.option("--formula", "-f", help="A formula instead.")
@click.option("--x", "x_axis", required=True, help="x axis: name=low:high:n[:log|log1m] or name=v1,v2,...")
@click.option("--y", "y_axis", required=True, help="y axis, same syntax.")
@click.option("--metric", type=Choice(["loss", "steps"]), default="loss", show_default=True)
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--tol", type=float, help="Gradient-norm tolerance for --metric steps (default 1e-6).")
@click.option("--start", "-s", multiple=True, help="Start point(s) x,y (default the problem's).")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="Fixed hyperparameters.")
@click.option(
    "--backend",
    type=Choice(["auto", "numba", "numpy"]),
    default="auto",
    show_default=True,
    help="auto: the compiled runner where the rule and problem allow it, else NumPy.",
)
@click.option(
    "--data",
    "data_out",
    type=click.Path(dir_okay=False),
    help="Also write every cell (x, y, value, status) to FILE.csv or FILE.json.",
)
@click.option("--title")
@_picture_options()
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False))
def sweep_cmd(
    optimizer,
    problem,
    formula,
    x_axis,
    y_axis,
    metric,
    steps,
    tol,
    start,
    sets,
    backend,
    data_out,
    title,
    dpi,
    size,
    style_name,
    out,
):
    """Heatmap of final loss or steps-to-tolerance over two hyperparameters of OPTIMIZER.

    \b
    Examples:
      ravine sweep sgd --problem ellipse --x lr=1e-3:1:200:log --y momentum=0:0.99:100 --steps 2000 -o s.png
      ravine sweep adam --problem rosenbrock --x lr=1e-3:0.1:20:log --y beta2=0.9:0.9999:20:log1m -o b.png
    """
    with _usage_errors():
        if Path(out).suffix.lower() not in PICTURES:
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        figsize, dpi = _picture_size(size, dpi, style_name)
        check_output_file(out, "-o")
        if data_out is not None:
            check_output_file(data_out, "--data", DATA)
        tol = bounded_float(tol, "--tol")
        prob = parse_problem(problem, formula)
        ((_, rule),) = parse_optimizers([optimizer], sets=sets).items()
        xn, xv, xs = parse_axis(x_axis, "--x")
        yn, yv, ys = parse_axis(y_axis, "--y")
        if xv.size * yv.size > 40_000:
            raise ValueError(f"sweep: {xv.size} × {yv.size} cells is too many (at most 40000)")
        n_starts = max(len(start), 1)
        if xv.size * yv.size * n_starts * steps > MAX_SWEEP_WORK:
            raise ValueError(
                f"--steps: {xv.size} × {yv.size} cells × {n_starts} starts × {steps} steps is more than "
                f"{MAX_SWEEP_WORK} steps in all (fewer cells or steps)"
            )
        for name in (xn, yn):
            if name not in rule.h._fields:
                raise ValueError(
                    f"--{'x' if name == xn else 'y'}: {rule.name} has no hyperparameter {name!r}; "
                    f"it has {', '.join(rule.h._fields)}" + did_you_mean(name, rule.h._fields)
                )
        starts = _starts(prob, start)
        if backend == "numba":
            from ..runner.driver import _numba_ok

            if not _numba_ok(rule, prob):
                raise ValueError(
                    f"--backend numba: {rule.name} on {prob.name} cannot be compiled (Numba missing, or the "
                    f"rule or problem is not elementwise); use --backend auto or numpy"
                )
        used = "numpy"
        if backend != "numpy":
            todo = _kernels_to_compile(rule, prob, starts, xn, xv, yn, yv)
            if todo is not None:
                used = "numba"
                if todo:
                    click.echo(
                        f"compiling the kernel for {rule.name} on {prob.name}"
                        + (f" ({todo} variants)" if todo > 1 else "")
                        + ", once; cached on disk",
                        err=True,
                    )
        from .. import plot

        what = f"sweep: {xv.size} × {yv.size} cells × {n_starts} start{'s' * (n_starts > 1)} × {steps} steps ({used})"
        with _progress(what) as progress, plot.style(style_name):
            fig = plot.heatmap(
                rule,
                prob,
                (xn, xv),
                (yn, yv),
                metric=metric,
                steps=steps,
                tol=tol,
                starts=starts,
                path=out,
                title=title,
                xscale=xs,
                yscale=ys,
                backend=backend,
                dpi=dpi,
                progress=progress,
                figsize=figsize,
            )
        if data_out is not None:
            _write_data(
                data_out, rule, prob, metric, steps, 1e-6 if tol is None and metric == "steps" else tol, fig.ravine_data
            )
    click.echo(f"wrote {out}" + (f" and {data_out}" if data_out else ""))
