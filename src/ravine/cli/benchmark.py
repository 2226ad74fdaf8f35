"""``ravine bench``: run, status, report, export (click lives here only; the merger moves this
file to ``ravine/cli/benchmark.py``)."""

from __future__ import annotations

import click

from .. import _checks
from . import Interrupted, Terminated

__all__ = ["command"]


def _ranges(items):
    out = {}
    for item in items:
        kind, sep, rest = item.partition("=")
        parts = rest.split(",")
        if not sep or len(parts) != 2:
            raise click.UsageError(f"--range: write KIND=LOW,HIGH (e.g. lr=1e-4,1), got {item!r}")
        try:
            out[kind.strip()] = (float(parts[0]), float(parts[1]))
        except ValueError:
            raise click.UsageError(f"--range: LOW and HIGH must be numbers, got {item!r}") from None
    return out


@click.group(name="bench", context_settings={"help_option_names": ["-h", "--help"]})
def command():
    """Benchmark optimizers: problems × optimizers × seeds × tuning budget.

    \b
    Examples:
      ravine bench run out/smoke.db --suite smoke
      ravine bench run out/small.db --suite small --backend batched
      ravine bench status out/small.db
      ravine bench report out/small.db -o out/small-report
      ravine bench export out/small.db -o out/small.parquet
    """


@command.command("run")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--suite", default="smoke", show_default=True, help="smoke, small or wilson_mnist1d.")
@click.option("--problems", default=None, help="Comma-separated problems [default: the suite's].")
@click.option("--optimizers", default=None, help="Comma-separated optimizers [default: the suite's].")
@click.option("--protocols", default=None, help="lr, all (comma-separated) [default: both].")
@click.option("--trials", type=int, default=None, help="Tuning trials per optimizer, problem and protocol.")
@click.option("--seeds", type=int, default=None, help="Seeds of the final phase (and the defaults arm).")
@click.option("--sobol-seed", type=int, default=0, show_default=True, help="Scrambling seed of the Sobol points.")
@click.option(
    "--range",
    "ranges",
    multiple=True,
    metavar="KIND=LOW,HIGH",
    help="Override a tuning range: lr=1e-4,1 | unit=1e-3,0.5 (1−β) | positive=1e-10,0.1 (ε).",
)
@click.option("--backend", default="local", show_default=True, help="local, batched or ray.")
@click.option("--workers", type=int, default=None, help="Processes / Ray CPUs [default: the cores].")
@click.option("--address", default=None, help="Ray cluster address (--backend ray) [default: a local Ray].")
@click.option(
    "--batch",
    type=int,
    default=32,
    show_default=True,
    help="At most this many configurations per vectorized model (batched); a sweep of fewer "
    "trials than workers × batch is split evenly across the workers.",
)
@click.option(
    "--compile",
    "compile_",
    default=None,
    metavar="auto|always|never",
    help="Compile the batched step (inductor): auto compiles a (problem, optimizer variant) once it "
    "has run long enough eagerly to repay it [default: auto, or RAVINE_BATCHED_COMPILE].",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the report to this directory when done.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def run_cmd(
    store,
    suite,
    problems,
    optimizers,
    protocols,
    trials,
    seeds,
    sobol_seed,
    ranges,
    backend,
    workers,
    address,
    batch,
    compile_,
    report_dir,
    quiet,
):
    """Plan and run a sweep into STORE (an SQLite file); restart to finish a killed one."""
    from ..benchmark.plan import BACKENDS, make_plan, run_sweep

    if backend not in BACKENDS:
        raise click.UsageError(f"--backend: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    try:
        _checks.integer("bench run", "--batch", batch, minimum=1)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if compile_ is not None and backend != "batched":
        raise click.UsageError(f"--compile: only with --backend batched (got --backend {backend})")
    if backend == "batched":  # the flag, else RAVINE_BATCHED_COMPILE: checked before the store is opened
        from ..benchmark.batched import compile_mode

        try:
            compile_ = compile_mode(compile_)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if compile_ != "never":  # inductor's private cache folder, refused before the store is opened
            from .._cache import use_for_inductor

            use_for_inductor()
    split = lambda s: None if s is None else [s]
    plan = make_plan(
        suite,
        problems=split(problems),
        optimizers=split(optimizers),
        protocols=split(protocols),
        trials=trials,
        seeds=seeds,
        sobol_seed=sobol_seed,
        ranges=_ranges(ranges),
    )
    try:
        st = run_sweep(
            store, plan, backend=backend, workers=workers, address=address, batch=batch, compile=compile_, quiet=quiet
        )
    except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM: the pool is down, the store kept
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        raise Interrupted(exc, f"bench run {what}: {_recorded(store)}; run the same command again to resume") from None
    click.echo(_recorded(store, st))
    if report_dir:
        from ..benchmark.report import write_report

        path = write_report(st, report_dir)
        click.echo(f"report: {path}")


def _recorded(path, st=None) -> str:
    """``STORE: N trials recorded (ok …, planned …)``."""
    if st is None:
        from ..benchmark.store import Store

        try:
            st = Store.open(path, create=False)
        except Exception:  # interrupted before the store was made
            return f"{path}: no trial recorded"
    c = st.counts()
    done = sum(n for (ph, pr, s), n in c.items() if s != "planned")
    return f"{path}: {done} trials recorded ({', '.join(f'{s} {n}' for s, n in _by_status(c).items())})"


def _by_status(c):
    out = {}
    for (_, _, s), n in sorted(c.items()):
        out[s] = out.get(s, 0) + n
    return out


@command.command("status")
@click.argument("store", type=click.Path(dir_okay=False))
def status_cmd(store):
    """Trials per phase, protocol and status."""
    from ..benchmark.store import Store

    st = Store.open(store, create=False)
    plan = st.plan()
    click.echo(
        f"{store}: suite {plan.get('suite')!r}, plan {st.meta().get('plan_hash', '')[:12]}, "
        f"{len(plan.get('problems', []))} problems × {len(plan.get('optimizers', []))} optimizers, "
        f"{plan.get('trials')} trials per protocol, {plan.get('seeds')} final seeds"
    )
    for (ph, pr, s), n in sorted(st.counts().items()):
        click.echo(f"  {ph:<6} {pr:<9} {s:<9} {n}")


@command.command("report")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory for report.md and its PNGs.",
)
def report_cmd(store, out_dir):
    """Markdown + PNG report of a store."""
    from ..benchmark.report import write_report
    from ..benchmark.store import Store

    st = Store.open(store, create=False)
    click.echo(f"report: {write_report(st, out_dir)}")


@command.command("export")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="FILE.csv or FILE.parquet (one row per trial; curves and hyperparameters as JSON).",
)
def export_cmd(store, out_path):
    """Export every trial to CSV or Parquet."""
    from ..benchmark.export import export
    from ..benchmark.store import Store

    st = Store.open(store, create=False)
    n = export(st, out_path)
    click.echo(f"{out_path}: {n} trials")
