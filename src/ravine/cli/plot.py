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
import re
from pathlib import Path

import click
import numpy as np

__all__ = ["plot_cmd", "animate_cmd", "sweep_cmd", "parse_value", "parse_optimizer", "parse_axis",
           "parse_point"]


# ------------------------------------------------------------------------------- parsing

def parse_value(text: str):
    """'10' → 10, '1e-3' → 0.001, 'true' → True, '0.9/0.99' → a pair: as ``ravine run`` reads it."""
    from .cli_core import _value

    return _value(text, "value")


def _pairs(text: str, where: str) -> dict:
    from .cli_core import _assignments

    return _assignments(text, where)


def parse_optimizer(spec: str, common: dict | None = None):
    """``'adam:lr=0.1,beta1=0.8'`` or ``'adam(lr=0.1,beta1=0.8)'`` (as ``ravine run``) → (label, rule).
    ``common`` values apply where the rule has them."""
    from .rules import get_rule

    m = re.fullmatch(r"\s*([A-Za-z_][\w\-]*)\s*\((.*)\)\s*", spec, re.S)
    name, _, rest = (m.group(1), ":", m.group(2)) if m else spec.partition(":")
    own = _pairs(rest, f"optimizer {spec!r}") if rest else {}
    rule = get_rule(name.strip())
    fields = rule.h._fields
    for k in own:
        if k not in fields:
            raise ValueError(f"optimizer {spec!r}: {type(rule).__name__} has no hyperparameter {k!r}; "
                             f"it has {', '.join(fields)}")
    changes = {k: v for k, v in (common or {}).items() if k in fields}
    changes.update(own)
    if changes:
        rule = rule.with_hyper(**{k: (float(v) if isinstance(getattr(rule.h, k), float)
                                      and isinstance(v, int) and not isinstance(v, bool) else v)
                                  for k, v in changes.items()})
    shown = {k: getattr(rule.h, k) for k in changes}
    if not shown and "lr" in fields:
        shown = {"lr": rule.h.lr}
    label = rule.name + (" (" + ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in shown.items()) + ")" if shown else "")
    return label, rule


def parse_optimizers(specs, lr=None, sets=()):
    if not specs:
        raise ValueError("give at least one optimizer, e.g. 'sgd' or 'adam:lr=0.01'")
    common = {}
    for s in sets:
        common.update(_pairs(s, "--set"))
    if lr is not None:
        common["lr"] = float(lr)
    out = {}
    for spec in specs:
        label, rule = parse_optimizer(spec, common)
        base, n = label, 2
        while label in out:
            label = f"{base} #{n}"
            n += 1
        out[label] = rule
    for k in common:
        if not any(k in r.h._fields for r in out.values()):
            raise ValueError(f"--set/--lr: no optimizer given has a hyperparameter {k!r}")
    return out


def parse_point(text: str, dim: int | None = None) -> np.ndarray:
    """``'-1.2,1'`` → array([-1.2, 1.0])."""
    try:
        v = np.array([float(p) for p in text.replace(" ", "").split(",") if p != ""], dtype=float)
    except ValueError:
        raise ValueError(f"--start: expected numbers separated by commas, got {text!r}") from None
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"--start: expected finite numbers separated by commas, got {text!r}")
    if dim is not None and v.size != dim:
        raise ValueError(f"--start: the problem has {dim} variables, got {v.size} numbers in {text!r}")
    return v


def parse_axis(text: str):
    """``'lr=1e-3:1:20:log'`` → ('lr', values, 'log'); ``'momentum=0:0.99:20'`` linear;
    ``'window=1,2,5'`` an explicit list."""
    if "=" not in text:
        raise ValueError(f"axis: expected name=low:high:n[:log|lin] or name=v1,v2,..., got {text!r}")
    name, spec = (s.strip() for s in text.split("=", 1))
    if not name:
        raise ValueError(f"axis: missing hyperparameter name in {text!r}")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"axis {name}: expected low:high:n[:log|lin], got {spec!r}")
        try:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"axis {name}: expected low:high:n with numbers, got {spec!r}") from None
        scale = parts[3].strip().lower() if len(parts) == 4 else "lin"
        if scale not in ("log", "lin", "linear"):
            raise ValueError(f"axis {name}: scale must be 'log' or 'lin', got {parts[3]!r}")
        if not (np.isfinite(lo) and np.isfinite(hi)) or n < 1 or n > 200:
            raise ValueError(f"axis {name}: need finite bounds and 1 <= n <= 200, got {spec!r}")
        if scale == "log":
            if lo <= 0 or hi <= 0:
                raise ValueError(f"axis {name}: a log axis needs low and high > 0, got {spec!r}")
            return name, np.geomspace(lo, hi, n), "log"
        return name, np.linspace(lo, hi, n), "linear"
    try:
        vals = np.array([float(v) for v in spec.split(",") if v.strip()], dtype=float)
    except ValueError:
        raise ValueError(f"axis {name}: expected numbers, got {spec!r}") from None
    if vals.size == 0 or not np.isfinite(vals).all():
        raise ValueError(f"axis {name}: expected finite numbers, got {spec!r}")
    return name, vals, None


def load_problem(problem, formula):
    from .problems import from_formula, get_problem

    if problem and formula:
        raise ValueError("give either --problem or --formula, not both")
    if formula:
        return from_formula(formula)
    if not problem:
        raise ValueError("give a problem: --problem NAME (see 'ravine list problems') or --formula TEXT")
    name, _, rest = problem.partition(":")
    return get_problem(name, **(_pairs(rest, f"problem {problem!r}") if rest else {}))


def _starts(problem, start):
    if not start:
        return None
    return np.stack([parse_point(s, problem.dim) for s in start])


def _window(problem, text):
    if not text:
        return None
    v = parse_point(text)
    if v.size != 2 * problem.dim:
        raise ValueError(f"--window: expected {2 * problem.dim} numbers (low,high per variable), got {text!r}")
    w = v.reshape(problem.dim, 2)
    if (w[:, 0] >= w[:, 1]).any():
        raise ValueError(f"--window: each low must be < high, got {text!r}")
    return tuple(map(tuple, w))


@contextlib.contextmanager
def _usage_errors():
    """ValueErrors from parsing and validation → one-line click usage errors (exit 2)."""
    from .animate import FFmpegNotFoundError

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
        click.option("--steps", default=500, show_default=True, type=click.IntRange(0, 1_000_000)),
        click.option("--lr", type=float, help="Learning rate for every optimizer."),
        click.option("--set", "sets", multiple=True, metavar="K=V", help="Hyperparameter for every optimizer that has it."),
        click.option("--noise", default=0.0, show_default=True, type=float,
                     help="σ of Gaussian gradient noise (SGD emulation)."),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed of the gradient noise."),
        click.option("--tol", type=float, help="Stop a trajectory when ‖∇f‖ ≤ tol."),
        click.option("--window", help="Plotting window x0,x1,y0,y1 (default the problem's bounds)."),
        click.option("--title", help="Title (default: the problem's)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol):
    from .runner import run

    prob = load_problem(problem, formula)
    opts = parse_optimizers(optimizers, lr, sets)
    starts = _starts(prob, start)
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
        if Path(out).suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol)
        from . import plot

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
def animate_cmd(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol, window, title,
                frames, fps, three_d, out):
    """Animate OPTIMIZERS moving together on a 2-D problem (GIF, or MP4 with ffmpeg)."""
    with _usage_errors():
        from .animate import _check_out, animate

        _check_out(out)  # wrong suffix or missing ffmpeg: fail before running anything
        prob, res = _do_run(optimizers, problem, formula, start, steps, lr, sets, noise, seed, tol)
        animate(prob, res, out, frames=frames, fps=fps, three_d=three_d, bounds=_window(prob, window),
                title=title)
    click.echo(f"wrote {out}")


@click.command("sweep")
@click.argument("optimizer")
@click.option("--problem", "-p", help="Catalog problem.")
@click.option("--formula", "-f", help="A formula instead.")
@click.option("--x", "x_axis", required=True, help="x axis: name=low:high:n[:log] or name=v1,v2,...")
@click.option("--y", "y_axis", required=True, help="y axis, same syntax.")
@click.option("--metric", type=click.Choice(["loss", "steps"]), default="loss", show_default=True)
@click.option("--steps", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--tol", type=float, help="Gradient-norm tolerance for --metric steps (default 1e-6).")
@click.option("--start", "-s", multiple=True, help="Start point(s) x,y (default the problem's).")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="Fixed hyperparameters.")
@click.option("--title")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False))
def sweep_cmd(optimizer, problem, formula, x_axis, y_axis, metric, steps, tol, start, sets, title, out):
    """Heatmap of final loss or steps-to-tolerance over two hyperparameters of OPTIMIZER."""
    with _usage_errors():
        if Path(out).suffix.lower() not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
            raise ValueError(f"-o: picture files end in .png, .svg, .pdf or .jpg, got {Path(out).name!r}")
        prob = load_problem(problem, formula)
        (_, rule), = parse_optimizers([optimizer], None, sets).items()
        xn, xv, xs = parse_axis(x_axis)
        yn, yv, ys = parse_axis(y_axis)
        if xv.size * yv.size > 40_000:
            raise ValueError(f"sweep: {xv.size} × {yv.size} cells is too many (at most 40000)")
        from . import plot

        plot.heatmap(rule, prob, (xn, xv), (yn, yv), metric=metric, steps=steps, tol=tol,
                     starts=_starts(prob, start), path=out, title=title, xscale=xs, yscale=ys)
    click.echo(f"wrote {out}")
