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
    bounded_float,
    check_output_file,
    check_work,
    parse_axis,
    parse_optimizers,
    parse_point,
    parse_problem,
    state_numbers,
)

PICTURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
#: steps × cells × starts of one sweep
MAX_SWEEP_WORK = 50_000_000

__all__ = ["plot_cmd", "animate_cmd", "sweep_cmd"]


def _starts(problem, start):
    if not start:
        return None
    return np.stack([parse_point(s, problem.dim, "--start") for s in start])


def _window(problem, text):
    if not text:
        return None
    v = parse_point(text, 2 * problem.dim, "--window")
    w = v.reshape(problem.dim, 2)
    if (w[:, 0] >= w[:, 1]).any():
        raise ValueError(f"--window: each low must be < high, got {text!r}")
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
        click.option("--problem", "-p", help="Catalog problem, e.g. rosenbrock or rosenbrock:b=10."),
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
        click.option("--title", help="Title (default: the problem's)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol):
    from ..runner import run

    tol = bounded_float(tol, "--tol")
    noise = bounded_float(noise, "--noise", hi=1e6)
    prob = parse_problem(problem, formula)
    opts = parse_optimizers(optimizers, lr=lr, sets=sets)
    starts = _starts(prob, start)
    per_step = 4 * prob.dim + 2 + state_numbers(opts.values(), prob.dim)
    check_work(steps, len(opts) * (len(starts) if starts is not None else 1), per_step)
    res = run(opts, prob, starts, steps, tol=tol, grad_noise=noise, seed=seed, backend="numpy")
    return prob, res


# ------------------------------------------------------------------------------- commands


@click.command("plot")
@click.argument("optimizers", nargs=-1, required=True)
@_run_options
@click.option("--kind", type=click.Choice(["contour", "surface", "loss"]), default="contour", show_default=True)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Picture file (.png/.svg/.pdf).")
def plot_cmd(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, window, title, kind, out):
    """Contour or 3-D trajectory plot, or loss curves, of OPTIMIZERS on a problem."""
    with _usage_errors():
        if Path(out).suffix.lower() not in PICTURES:
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        check_output_file(out, "-o")
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol)
        from .. import plot

        bounds = _window(prob, window)
        if kind == "contour":
            plot.contour(prob, res, path=out, bounds=bounds, title=title)
        elif kind == "surface":
            plot.surface3d(prob, res, path=out, bounds=bounds, title=title)
        else:
            plot.loss_curves(res, problem=prob, path=out, title=title)
    click.echo(f"wrote {out}")


@click.command("animate")
@click.argument("optimizers", nargs=-1, required=True)
@_run_options
@click.option("--frames", default=60, show_default=True, type=click.IntRange(1, 2000))
@click.option("--fps", default=15, show_default=True, type=click.IntRange(1, 120))
@click.option("--3d", "three_d", is_flag=True, help="Move on the 3-D surface instead of the contour map.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="out.gif or out.mp4 (needs ffmpeg).")
def animate_cmd(
    optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, window, title, frames, fps, three_d, out
):
    """Animate OPTIMIZERS moving together on a 2-D problem (GIF, or MP4 with ffmpeg)."""
    with _usage_errors():
        from ..plot.animation import _check_out, animate

        _check_out(out)  # wrong suffix or missing ffmpeg: fail before running anything
        check_output_file(out, "-o")
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol)
        animate(prob, res, out, frames=frames, fps=fps, three_d=three_d, bounds=_window(prob, window), title=title)
    click.echo(f"wrote {out}")


@click.command("sweep")
@click.argument("optimizer")
@click.option("--problem", "-p", help="Catalog problem.")
@click.option("--formula", "-f", help="A formula instead.")
@click.option("--x", "x_axis", required=True, help="x axis: name=low:high:n[:log] or name=v1,v2,...")
@click.option("--y", "y_axis", required=True, help="y axis, same syntax.")
@click.option("--metric", type=click.Choice(["loss", "steps"]), default="loss", show_default=True)
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--tol", type=float, help="Gradient-norm tolerance for --metric steps (default 1e-6).")
@click.option("--start", "-s", multiple=True, help="Start point(s) x,y (default the problem's).")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="Fixed hyperparameters.")
@click.option("--title")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False))
def sweep_cmd(optimizer, problem, formula, x_axis, y_axis, metric, steps, tol, start, sets, title, out):
    """Heatmap of final loss or steps-to-tolerance over two hyperparameters of OPTIMIZER."""
    with _usage_errors():
        if Path(out).suffix.lower() not in PICTURES:
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        check_output_file(out, "-o")
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
        from .. import plot

        plot.heatmap(
            rule,
            prob,
            (xn, xv),
            (yn, yv),
            metric=metric,
            steps=steps,
            tol=tol,
            starts=_starts(prob, start),
            path=out,
            title=title,
            xscale=xs,
            yscale=ys,
        )
    click.echo(f"wrote {out}")
