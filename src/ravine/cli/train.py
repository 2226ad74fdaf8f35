"""``ravine train``: the command line of :mod:`ravine.train`.

Its flags become a :class:`ravine.train.TrainConfig` (validated by
:func:`ravine.train.validate` before anything runs; a bad value is one line naming the flag),
``--opt key=value`` is read by :func:`ravine.cli.parse.parse_assignments`, the run shows a
per-epoch progress bar (``_progress``: rich on a terminal, a plain line every few epochs
otherwise) and its record is written with :meth:`ravine.train.Result.save`.
"""

from __future__ import annotations

from typing import Any

import click

from ..train import MODELS, PROBLEMS, TrainConfig, train, validate
from .parse import check_output_dir, parse_assignments

__all__ = ["command"]


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
    "-o",
    default="adam",
    show_default=True,
    help="ravine.optim name (adam, sgd, yogi, …) or torch.<name> (torch.adam).",
)
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
    help="LR schedule: cosine, step:step_size=10,gamma=0.5, warmup_cosine, … or torch.<name>.",
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
    help="Data cache [default: $RAVINE_DATA_DIR or ~/.cache/ravine/data].",
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
    no_save,
    as_json,
    quiet,
):
    """Train a model on real data with any ravine or torch optimizer.

    \b
    Examples:
      ravine train --problem digits --optimizer adam
      ravine train --problem mnist1d --model cnn --optimizer adam
      ravine train -o torch.sgd --lr 0.1 --opt momentum=0.9 --schedule cosine
      ravine train -o sgd --lr 0.5 --batch-size full --epochs 200    # gradient descent
      ravine train -o sgd --lr 0.5 --batch-size full --epochs 200 --track-sharpness every=10
    """
    if not no_save:
        check_output_dir(out, "--out")  # before training, not after it
    try:
        kw: dict[str, Any] = parse_assignments(list(opt_args), "--opt")
        from ..train.factories import check_optimizer_args, resolve_optimizer

        check_optimizer_args(resolve_optimizer(optimizer), kw, "--opt")
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
        raise click.UsageError(str(exc).splitlines()[0]) from None
    tracker = None
    if every is not None:
        from ..landscape import track_sharpness

        tracker = track_sharpness(cfg, every=every)
    label = f"{resolved.problem}/{resolved.model}/{resolved.optimizer}"
    cb, ctx = _progress(quiet, resolved.epochs, label)
    try:
        with ctx:
            res = train(cfg, callback=cb, step_callback=tracker)
    except ValueError as exc:  # e.g. an optimizer refusing a keyword
        raise click.UsageError(str(exc).splitlines()[0]) from None
    paths = None if no_save else res.save(out)
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
