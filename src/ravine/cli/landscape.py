"""``ravine landscape``: interpolate, plane, spectrum, track — PNGs plus JSON/CSV numbers.

The group is defined here; the CLI registers it (``ravine/cli/landscape.py`` after the layout
change). Every subcommand trains what it looks at with :func:`ravine.train.train` (one
initialization, ``--seed``), so a run is reproducible from its command line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

_CTX = {"help_option_names": ["-h", "--help"]}


def _common(f):
    opts = [
        click.option("--problem", default="digits", show_default=True, help="digits or mnist1d."),
        click.option("--model", default="mlp", show_default=True, help="logreg, mlp or cnn."),
        click.option("--width", type=int, default=None, help="Hidden units / channels [default: per problem]."),
        click.option("--epochs", type=int, default=10, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True, help="Initialization and shuffling seed."),
        click.option("--samples", type=int, default=None, help="A smaller data set of this many samples."),
        click.option("--out", type=click.Path(file_okay=False), default="out/landscape", show_default=True),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _positive(value, flag: str, *, integer: bool = False, low: float = 0.0):
    if value is None:
        return value
    if value <= low:
        raise click.BadParameter(f"must be {'an integer ' if integer else ''}> {low:g}, got {value!r}", param_hint=flag)
    return value


def _config(problem, model, width, epochs, seed, samples, optimizer="adam", lr=None, **kw):
    from ..train import TrainConfig, validate

    _positive(epochs, "--epochs", integer=True)
    from ..landscape.solutions import eager

    cfg = eager(
        TrainConfig(
            problem=problem,
            model=model,
            width=width,
            epochs=epochs,
            seed=seed,
            samples=samples,
            optimizer=optimizer,
            lr=lr,
            **kw,
        )
    )
    try:
        validate(cfg)
    except ValueError as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    return cfg


def _parse_optimizers(text: str) -> dict[str, dict]:
    """``"sgd:0.1,adam:0.001,torch.rmsprop"`` → {label: {"optimizer": name, "lr": lr or None}}."""
    runs = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        name, _, lr = item.partition(":")
        try:
            lrv = float(lr) if lr else None
        except ValueError:
            raise click.BadParameter(
                f"learning rate {lr!r} in {item!r} is not a number; write name:lr", param_hint="--optimizers"
            ) from None
        if lrv is not None and not lrv > 0:
            raise click.BadParameter(f"learning rate in {item!r} must be > 0", param_hint="--optimizers")
        runs[item] = {"optimizer": name, "lr": lrv}
    if len(runs) < 2:
        raise click.BadParameter(
            f"need at least two optimizers (name[:lr],name[:lr]), got {text!r}", param_hint="--optimizers"
        )
    return runs


def _run(fn):
    """Library ValueErrors become one-line usage errors (exit code 2)."""
    try:
        return fn()
    except ValueError as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None


@click.group(name="landscape", context_settings=_CTX)
def landscape():
    """What the optimizers found: lines, planes, spectra and sharpness of real networks.

    \b
    Examples:
      ravine landscape interpolate --optimizers sgd:0.1,adam:0.001
      ravine landscape plane --problem mnist1d --optimizer adam --grid 41
      ravine landscape spectrum --optimizer sgd --lr 0.1 --k 5
      ravine landscape track --lr 0.5 --lr 1.5 --steps 400 --every 10
    """


@landscape.command(context_settings=_CTX)
@_common
@click.option(
    "--optimizers",
    default="sgd:0.1,adam:0.001",
    show_default=True,
    help="Comma-separated name[:lr]; all trained from one initialization.",
)
@click.option("--points", type=int, default=41, show_default=True, help="α values in [−0.5, 1.5].")
def interpolate(problem, model, width, epochs, seed, samples, out, optimizers, points):
    """Loss and accuracy on the straight lines between every pair of solutions (and from θ₀)."""
    import itertools

    import numpy as np

    from ..landscape import plots
    from ..landscape.solutions import initial_model, splits, train_solutions
    from ..landscape.surfaces import interpolate as _interp

    runs = _parse_optimizers(optimizers)
    if points < 2:
        raise click.BadParameter(f"must be an integer ≥ 2, got {points}", param_hint="--points")
    cfg = _config(problem, model, width, epochs, seed, samples)
    sols = _run(lambda: train_solutions(cfg, runs))
    data = splits(cfg)
    alphas = np.linspace(-0.5, 1.5, points)
    lines = [
        _interp(a.model, b.model, data, alphas=alphas, labels=(a.label, b.label))
        for a, b in itertools.combinations(sols, 2)
    ]
    init = initial_model(cfg)
    lines += [_interp(init, s.model, data, alphas=alphas, labels=("θ₀", s.label)) for s in sols]
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    plots.interpolation(lines, path=outp / "interpolate.png", title=f"{problem}/{model}: straight lines")
    with open(outp / "interpolate.csv", "w", newline="") as fh:
        w = None
        for ln in lines:
            for r in ln.rows():
                r = {"from": ln.labels[0], "to": ln.labels[1], **r}
                if w is None:
                    w = csv.DictWriter(fh, fieldnames=list(r), lineterminator="\n")
                    w.writeheader()
                w.writerow(r)
    click.echo(f"wrote {outp / 'interpolate.png'} and {outp / 'interpolate.csv'}")


@landscape.command(context_settings=_CTX)
@_common
@click.option("--optimizer", default="adam", show_default=True)
@click.option("--lr", type=float, default=None)
@click.option("--grid", type=int, default=21, show_default=True, help="Points per axis.")
@click.option("--span", type=float, default=1.0, show_default=True, help="Coordinates in [−span, span].")
@click.option("--directions-seed", type=int, default=0, show_default=True)
def plane(problem, model, width, epochs, seed, samples, out, optimizer, lr, grid, span, directions_seed):
    """A 2-D slice around a solution in filter-normalized random directions (Li et al. 2018)."""
    from ..landscape import plots
    from ..landscape.solutions import splits, train_solutions
    from ..landscape.surfaces import random_plane

    if grid < 2:
        raise click.BadParameter(f"must be an integer ≥ 2, got {grid}", param_hint="--grid")
    _positive(span, "--span")
    _positive(lr, "--lr")
    cfg = _config(problem, model, width, epochs, seed, samples)
    sol = _run(lambda: train_solutions(cfg, {optimizer: {"optimizer": optimizer, "lr": lr}}))[0]
    data = splits(cfg)
    pl = _run(lambda: random_plane(sol.model, data, n=grid, span=span, seed=directions_seed))
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    plots.contour2d(pl, path=outp / "plane.png", title=f"{problem}/{model}/{optimizer}: filter-normalized slice")
    plots.surface3d(pl, path=outp / "plane_surface.png")
    (outp / "plane.json").write_text(
        json.dumps(
            {
                "x": pl.x.tolist(),
                "y": pl.y.tolist(),
                "loss": {k: v.tolist() for k, v in pl.loss.items()},
                "acc": {k: v.tolist() for k, v in pl.acc.items()},
                "kind": pl.kind,
            }
        )
        + "\n"
    )
    click.echo(f"wrote {outp / 'plane.png'}, {outp / 'plane_surface.png'} and {outp / 'plane.json'}")


@landscape.command(context_settings=_CTX)
@_common
@click.option("--optimizer", default="adam", show_default=True)
@click.option("--lr", type=float, default=None)
@click.option("--k", type=int, default=3, show_default=True, help="Top eigenvalues by Lanczos.")
@click.option("--tol", type=float, default=1e-3, show_default=True, help="Relative residual tolerance.")
@click.option("--probes", type=int, default=10, show_default=True, help="Hutchinson / SLQ probes.")
@click.option("--steps", type=int, default=60, show_default=True, help="Lanczos steps per SLQ probe.")
def spectrum(problem, model, width, epochs, seed, samples, out, optimizer, lr, k, tol, probes, steps):
    """Top-k eigenvalues, trace and eigenvalue density of the training loss Hessian."""
    from ..landscape import plots
    from ..landscape.operators import LossHessian
    from ..landscape.solutions import splits, train_solutions
    from ..landscape.spectrum import hutchinson_trace, lanczos, slq_density

    for flag, v in (("--k", k), ("--probes", probes), ("--steps", steps)):
        if v < 1:
            raise click.BadParameter(f"must be an integer ≥ 1, got {v}", param_hint=flag)
    if not 0 < tol < 1:
        raise click.BadParameter(f"must be in (0, 1), got {tol}", param_hint="--tol")
    _positive(lr, "--lr")
    cfg = _config(problem, model, width, epochs, seed, samples)
    sol = _run(lambda: train_solutions(cfg, {optimizer: {"optimizer": optimizer, "lr": lr}}))[0]
    H = LossHessian(sol.model, splits(cfg)["train"])
    if k > H.dim:
        raise click.BadParameter(f"must be at most the number of parameters ({H.dim}), got {k}", param_hint="--k")
    top = _run(lambda: lanczos(H, k, tol=tol))
    tr = _run(lambda: hutchinson_trace(H, max(2, probes)))
    dens = _run(lambda: slq_density(H, probes, steps))
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    plots.spectral_density({optimizer: dens}, path=outp / "spectrum.png")
    rec = {
        "eigenvalues": top.eigenvalues.tolist(),
        "residuals": top.residuals.tolist(),
        "converged": top.converged,
        "lanczos_products": top.n_products,
        "tol": tol,
        "trace": tr.trace,
        "trace_stderr": tr.stderr,
        "trace_products": tr.n_products,
        "density": {"grid": dens.grid.tolist(), "density": dens.density.tolist(), "sigma": dens.sigma},
        "n_params": H.dim,
    }
    (outp / "spectrum.json").write_text(json.dumps(rec) + "\n")
    click.echo(
        f"λ = {', '.join(f'{v:.4g}' for v in top.eigenvalues)} ({top.n_products} products, "
        f"{'converged' if top.converged else 'NOT converged'}), tr H = {tr.trace:.4g} ± {tr.stderr:.2g}"
    )
    click.echo(f"wrote {outp / 'spectrum.png'} and {outp / 'spectrum.json'}")


@landscape.command(context_settings=_CTX)
@_common
@click.option("--optimizer", default="sgd", show_default=True, help="sgd (GD when full batch) or adam, …")
@click.option("--lr", "lrs", type=float, multiple=True, help="Step size η, repeatable [default: 0.5].")
@click.option("--steps", type=int, default=300, show_default=True, help="Full-batch steps.")
@click.option("--every", type=int, default=10, show_default=True, help="Record λ_max every K steps.")
def track(problem, model, width, epochs, seed, samples, out, optimizer, lrs, steps, every):
    """Sharpness during full-batch training at each η, against 2/η (edge of stability)."""
    from ..landscape import plots
    from ..landscape.eos import track_sharpness
    from ..train import train

    lrs = lrs or (0.5,)
    for v in lrs:
        _positive(v, "--lr")
    if steps < 1:
        raise click.BadParameter(f"must be an integer ≥ 1, got {steps}", param_hint="--steps")
    if every < 1:
        raise click.BadParameter(f"must be an integer ≥ 1, got {every}", param_hint="--every")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    runs, rows = {}, []
    pre = False
    for lr in lrs:
        cfg = _config(problem, model, width, steps, seed, samples, optimizer=optimizer, lr=lr, batch_size="full")
        tr = track_sharpness(cfg, every=every)
        _run(lambda: train(cfg, step_callback=tr))  # noqa: B023 (called at once)
        runs[f"η={lr:g}"] = tr.arrays()
        pre = pre or "pre_lambda_max" in runs[f"η={lr:g}"]
        rows += [{"lr": lr, **r} for r in tr.records]
    if pre:
        plots.sharpness_over_training(
            runs, key="pre_lambda_max", threshold_key="pre_threshold", path=outp / "track.png"
        )
    else:
        plots.sharpness_over_training(runs, path=outp / "track.png")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(outp / "track.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    click.echo(f"wrote {outp / 'track.png'} and {outp / 'track.csv'}")


command = landscape
