"""``ravine train``: the command line of :mod:`ravine.train`.

Its flags become a :class:`ravine.train.TrainConfig` (validated by
:func:`ravine.train.validate` before anything runs; a bad value is one line naming the flag),
``--opt key=value`` is read by :func:`ravine.cli.parse.parse_assignments`, the run shows a
per-epoch progress bar with the learning rate (``_progress``: rich on a terminal, a plain line
every few epochs otherwise) and its record is written as ``<run_id>.json`` and ``.csv``. A
second run of the same config does not overwrite the first record: it is written as
``<run_id>-2`` (``--overwrite`` replaces it). Ctrl+C writes the epochs done so far as a
record marked ``"interrupted": true`` and exits with status 130.

``-o`` is the output file in every other command, so here the optimizer is ``--optimizer`` only
(``-o adam`` is refused with a message saying so).
"""

from __future__ import annotations

from typing import Any

import click

from ..train import MODELS, PROBLEMS, TrainConfig, train, validate
from .parse import check_output_dir, parse_assignments

__all__ = ["command"]


def runnable_optimizers() -> list[str]:
    """The ravine rule names ``ravine train`` can run (those
    :func:`ravine.train.factories.resolve_optimizer` accepts; not the rules without a
    ``ravine.optim`` class such as newton or nag)."""
    from ..rules import RULES

    try:
        from ..train.factories import resolve_optimizer
    except Exception:  # torch missing: the command says so when it runs
        return []
    out = []
    for name in RULES:
        try:
            resolve_optimizer(name)
        except Exception:
            continue
        out.append(name)
    return out


def _complete_optimizer(ctx, param, incomplete):
    names = runnable_optimizers()
    if incomplete.startswith("torch."):
        from ..train.factories import _torch_optimizers

        names = [f"torch.{c.__name__.lower()}" for c in _torch_optimizers().values()]
    return [n for n in names if n.startswith(incomplete)]


def _optimizer_message(name: str, exc: Exception) -> str:
    """The refusal of an optimizer name: only the runnable names offered, and the nearest one."""
    from .._checks import UnknownChoice
    from ..train.factories import NotAvailable
    from .parse import _did_you_mean

    msg = str(exc).splitlines()[0].removeprefix("optimizer: ")
    runnable = runnable_optimizers()
    if name.strip().lower().startswith("torch."):
        from ..train.factories import _torch_optimizers

        torch_names = [f"torch.{c.__name__.lower()}" for c in _torch_optimizers().values()]
        return msg + _did_you_mean(name.strip(), torch_names)
    if isinstance(exc, UnknownChoice):
        return (
            f"unknown name {name!r}; choose one of: {', '.join(runnable)}, or torch.<name> for a torch.optim "
            f"optimizer" + _did_you_mean(name, runnable)
        )
    if isinstance(exc, NotAvailable):
        return f"{msg}; ravine train runs {', '.join(runnable)} and torch.<name>"
    return msg


def _with_hint(exc: ValueError) -> str:
    """A refused value's one-line message; for a refused data set, model or schedule name
    (:class:`ravine._checks.UnknownChoice`), with the nearest name."""
    from .._checks import UnknownChoice
    from .parse import did_you_mean

    msg = str(exc).splitlines()[0]
    if isinstance(exc, UnknownChoice) and all(isinstance(v, str) for v in (exc.value, *exc.choices)):
        return msg + did_you_mean(exc.value.strip(), exc.choices)
    return msg


def _no_short_o(ctx, param, value):
    if value is not None:
        raise click.UsageError(f"-o is the output elsewhere; use --optimizer {value}")
    return value


def _record_paths(out, run_id: str, overwrite: bool):
    """``<run_id>.json``/``.csv`` in ``out``; when a record of this config is there already and
    ``overwrite`` is off, the first free ``<run_id>-N``."""
    from pathlib import Path

    folder = Path(out)
    stem, n = run_id, 2
    while not overwrite and ((folder / f"{stem}.json").exists() or (folder / f"{stem}.csv").exists()):
        stem = f"{run_id}-{n}"
        n += 1
    return folder / f"{stem}.json", folder / f"{stem}.csv"


def _save(res, out, overwrite: bool, interrupted: bool = False):
    import json

    folder_paths = _record_paths(out, res.run_id, overwrite)
    pj, pc = folder_paths
    pj.parent.mkdir(parents=True, exist_ok=True)
    if interrupted:
        d = json.loads(res.to_json())
        d["interrupted"] = True
        pj.write_text(json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        pj.write_text(res.to_json() + "\n")
    pc.write_text(res.to_csv())
    return pj, pc


def _partial_result(cfg, epochs: list, t0: float):
    """A :class:`ravine.train.Result` of the epochs finished before Ctrl+C (no test metrics)."""
    import time

    from ..train import Result
    from ..train.record import versions

    return Result(
        config=cfg.resolved().to_dict(),
        config_hash=cfg.hash(),
        optimizer={"name": cfg.optimizer},
        schedule=None,
        data={},
        model={},
        epochs=list(epochs),
        test_loss=None,
        test_acc=None,
        diverged=False,
        wall_time=time.perf_counter() - t0,
        versions=versions(),
    )


def _notes():
    """Print each capped value (:class:`ravine.train.config.CappedWarning`) as one line naming
    its flag: ``ravine: note: --samples 100000 is more than …``."""
    import contextlib
    import warnings

    from ..train.config import CappedWarning

    @contextlib.contextmanager
    def cm():
        with warnings.catch_warnings():
            warnings.simplefilter("always", CappedWarning)
            shown = warnings.showwarning

            def show(message, category, *args, **kw):
                if not issubclass(category, CappedWarning):
                    return shown(message, category, *args, **kw)
                field, _, rest = str(message).partition(" ")
                click.echo(f"ravine: note: --{field.replace('_', '-')} {rest}", err=True)

            warnings.showwarning = show
            yield

    return cm()


class _BatchSize(click.ParamType):
    name = "INT|full"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        elif isinstance(value, str) and value.strip().lower() == "full":
            return "full"
        else:
            try:
                v = int(str(value))
            except ValueError:
                self.fail(f"must be a positive integer or 'full', got {value!r}", param, ctx)
        if v < 1 or v > 10**7:
            self.fail(f"must be an integer in [1, 10000000] or 'full', got {value!r}", param, ctx)
        return v


def _progress(quiet: bool, epochs: int, label: str):
    """(callback, context manager) for per-epoch progress: a rich bar on a terminal, a
    plain line every few epochs otherwise, nothing when quiet."""
    import contextlib

    if quiet:
        return None, contextlib.nullcontext()
    from rich.console import Console

    console = Console(stderr=True)

    def fmt(r):
        s = f"loss {r['train_loss']:.4f}" if r["train_loss"] is not None else "loss nan"
        if r.get("lr") is not None:
            s += f"  lr {r['lr']:.3g}"
        if r["val_acc"] is not None:
            s += f"  val {100 * r['val_acc']:.1f}%"
        return s

    if not console.is_terminal:
        every = max(1, epochs // 10)

        def cb(r):
            if r["epoch"] % every == 0 or r["epoch"] == epochs or r["train_loss"] is None:
                click.echo(f"epoch {r['epoch']:>4}/{epochs}  {fmt(r)}  ({r['elapsed']:.1f} s)", err=True)

        return cb, contextlib.nullcontext()

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )
    task = prog.add_task(label, total=epochs, info="")

    def cb(r):
        prog.update(task, advance=1, info=fmt(r))

    return cb, prog


@click.command(name="train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--problem", default="digits", show_default=True, help=f"Data set: {', '.join(PROBLEMS)}.")
@click.option("--model", default="mlp", show_default=True, help=f"Model: {', '.join(MODELS)}.")
@click.option(
    "--optimizer",
    default="adam",
    show_default=True,
    shell_complete=_complete_optimizer,
    help="A ravine.optim name (" + ", ".join(runnable_optimizers()) + ") or torch.<name> (torch.adam).",
)
@click.option("-o", "short_o", hidden=True, expose_value=False, callback=_no_short_o)
@click.option("--lr", type=float, default=None, help="Learning rate [default: the optimizer's].")
@click.option(
    "--opt",
    "opt_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Optimizer keyword, repeatable: --opt betas=(0.9,0.99) --opt weight_decay=1e-4.",
)
@click.option(
    "--schedule",
    default=None,
    help="LR schedule: cosine, step:step_size=10,gamma=0.5, warmup_cosine, … or torch.<name>. "
    "Counts (step_size, warmup_steps, …) are in updates, or in epochs with --schedule-interval epoch.",
)
@click.option(
    "--schedule-interval",
    type=click.Choice(["step", "epoch"]),
    default="step",
    show_default=True,
    help="Apply the schedule per update step or per epoch.",
)
@click.option("--epochs", type=click.IntRange(max=100_000), default=None, help="Epochs [default: per problem/model].")
@click.option(
    "--batch-size",
    "-b",
    type=_BatchSize(),
    default=None,
    help="Minibatch size, 1 (SGD) … or 'full' (GD) [default: per problem/model].",
)
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Initialisation and shuffling seed."
)
@click.option(
    "--data-seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Train/val/test split seed."
)
@click.option("--val-fraction", type=float, default=0.1, show_default=True)
@click.option(
    "--test-fraction",
    type=float,
    default=None,
    help="[default: digits 0.2 stratified; mnist1d the package's 1000-sample test split]",
)
@click.option(
    "--samples", type=click.IntRange(max=10**8), default=None, help="Use a smaller data set of this many samples."
)
@click.option("--width", type=click.IntRange(max=65_536), default=None, help="Hidden units (mlp) / channels (cnn).")
@click.option("--depth", type=click.IntRange(max=64), default=1, show_default=True, help="Hidden layers of the MLP.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(max=256),
    default=1,
    show_default=True,
    help="torch CPU threads for this run (these models are fastest on one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data cache [default: $RAVINE_DATA_DIR, else $RAVINE_CACHE_DIR/data or ~/.cache/ravine/data].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="out/train",
    show_default=True,
    help="Where <run_id>.json and <run_id>.csv are written.",
)
@click.option(
    "--track-sharpness",
    "track",
    metavar="every=K",
    default=None,
    help="Record λmax of the training loss's Hessian every K steps (ravine.landscape; "
    "preconditioned λmax(P⁻¹H) for Adam-like optimizers) into <run_id>.sharpness.csv.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the record of the same config in --out (default: write <run_id>-2, -3, …).",
)
@click.option("--no-save", is_flag=True, help="Write no record.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def command(
    problem,
    model,
    optimizer,
    lr,
    opt_args,
    schedule,
    schedule_interval,
    epochs,
    batch_size,
    seed,
    data_seed,
    val_fraction,
    test_fraction,
    samples,
    width,
    depth,
    dtype,
    threads,
    data_dir,
    out,
    track,
    overwrite,
    no_save,
    as_json,
    quiet,
):
    """Train a model on real data with any ravine or torch optimizer.

    \b
    Examples:
      ravine train --problem digits --optimizer adam
      ravine train --problem mnist1d --model cnn --optimizer adam
      ravine train --optimizer torch.sgd --lr 0.1 --opt momentum=0.9 --schedule cosine
      ravine train --optimizer sgd --lr 0.1 --schedule step:step_size=10,gamma=0.5 --schedule-interval epoch
      ravine train --optimizer sgd --lr 0.5 --batch-size full --epochs 200    # gradient descent
      ravine train --optimizer sgd --lr 0.5 --batch-size full --epochs 200 --track-sharpness every=10

    \b
    Schedule counts such as step_size are in updates unless --schedule-interval epoch: with
    the default (step), step_size=10 halves lr every 10 updates - many times an epoch.
    """
    if not no_save:
        check_output_dir(out, "--out")  # before training, not after it
    try:
        kw: dict[str, Any] = parse_assignments(list(opt_args), "--opt")
        from ..train.factories import check_optimizer_args, resolve_optimizer

        try:
            cls = resolve_optimizer(optimizer)
        except ValueError as exc:
            raise ValueError(f"--optimizer: {_optimizer_message(optimizer, exc)}") from None
        check_optimizer_args(cls, kw, "--opt")
        if "lr" in kw:
            raise click.UsageError("--opt: give the learning rate with --lr, not --opt lr=...")
        cfg = TrainConfig(
            problem=problem,
            model=model,
            optimizer=optimizer,
            lr=lr,
            optimizer_args=kw,
            schedule=schedule,
            schedule_interval=schedule_interval,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            data_seed=data_seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            samples=samples,
            width=width,
            depth=depth,
            dtype=dtype,
            threads=threads,
            data_dir=data_dir,
        )
        resolved = validate(cfg)
        every = None
        if track is not None:
            spec = parse_assignments(track, "--track-sharpness")
            if set(spec) != {"every"} or not isinstance(spec["every"], int) or not 1 <= spec["every"] <= 100_000:
                raise click.UsageError(
                    f"--track-sharpness: write every=K with an integer 1 <= K <= 100000, got {track!r}"
                )
            every = spec["every"]
    except ValueError as exc:
        raise click.UsageError(_with_hint(exc)) from None
    tracker = None
    if every is not None:
        from ..landscape import track_sharpness

        tracker = track_sharpness(cfg, every=every)
    label = f"{resolved.problem}/{resolved.model}/{resolved.optimizer}"
    cb, ctx = _progress(quiet, resolved.epochs, label)
    import time

    done: list = []

    def keep(r):
        done.append(dict(r))
        if cb is not None:
            cb(r)

    t0 = time.perf_counter()
    try:
        with ctx, _notes():
            res = train(cfg, callback=keep, step_callback=tracker)
    except ValueError as exc:  # e.g. an optimizer refusing a keyword
        raise click.UsageError(str(exc).splitlines()[0]) from None
    except KeyboardInterrupt:
        if not no_save:
            pj, _ = _save(_partial_result(cfg, done, t0), out, overwrite, interrupted=True)
            click.echo(f"interrupted after {len(done)} epoch{'s' * (len(done) != 1)}: partial record {pj}", err=True)
        raise
    paths = None if no_save else _save(res, out, overwrite)
    if as_json:
        click.echo(res.to_json())
    f = res.final
    pct = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"
    msg = (
        f"{label}: test acc {pct(res.test_acc)}"
        + (f" (loss {res.test_loss:.4f})" if res.test_loss is not None else "")
        + f", best val acc {pct(f['best_val_acc'])}, {f['epochs_run']} epochs, "
        f"{f['steps']} steps, {res.wall_time:.1f} s" + (" — DIVERGED" if res.diverged else "")
    )
    click.echo(msg, err=as_json)
    if paths:
        click.echo(f"record: {paths[0]}  {paths[1]}", err=as_json)
    if tracker is not None and tracker.records:
        import csv
        from pathlib import Path

        rows = tracker.records
        keys = list(dict.fromkeys(k for r in rows for k in r))
        lam = [r["lambda_max"] for r in rows if r.get("lambda_max") is not None]
        click.echo(f"sharpness: λmax from {lam[0]:.4g} to {lam[-1]:.4g} over {len(rows)} records", err=as_json)
        if paths:
            target = Path(paths[0]).with_suffix(".sharpness.csv")
            with open(target, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=keys, lineterminator="\n")
                w.writeheader()
                w.writerows(rows)
            click.echo(f"sharpness record: {target}", err=as_json)
