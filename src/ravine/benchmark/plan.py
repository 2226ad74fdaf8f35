"""Suites, plans and their execution.

A :class:`Plan` is problems × optimizers × protocols × tuning budget × final seeds (+ the
Sobol seed and every search space); its hash guards the store. Execution, restartable at any
point (``ravine.benchmark.store``):

1. plan the tuning trials: for protocol ``lr`` and ``all``, Sobol points 0…trials−1 (the same
   unit points for every optimizer and problem), tuning seed 0; and the ``defaults`` arm
   (every optimizer at its framework defaults) on the final seeds;
2. run every planned tuning trial;
3. plan the final phase (once all tuning trials of the plan are recorded): for each
   (protocol, problem, optimizer) the trial with the best validation value (ties: the lower
   point index) re-run on the final seeds 1…seeds. The choice is a function of the recorded
   tuning results, and its rows are inserted in one transaction keyed by (protocol, problem,
   optimizer, seed), so planning again after a kill changes nothing;
4. run every planned final trial. Test values are read only for reporting.

Backends: ``local`` (a process pool), ``batched`` (``ravine.benchmark.batched``: the trials
of one (problem, optimizer) as one vectorized model, chunks of ``--batch``), ``ray`` (Ray
tasks, ``max_retries``; Ray is imported only here).

Interrupts: an exception in the driver (Ctrl+C's ``KeyboardInterrupt``, the command's SIGTERM)
cancels the trials that wait, ends the running workers (``close_pool``) or cancels the Ray
tasks and shuts down the Ray the driver started, and propagates; every trial recorded so far is
kept, and running the same command again resumes. A driver that dies without a word (SIGKILL)
leaves nothing behind either: each pool worker watches the driver's pid and exits when it ends
(``_die_with``), and the forkserver and multiprocessing's resource tracker exit when the last
worker holding their pipes has gone. A local Ray the driver started is watched by a process of
its own (``ravine.benchmark.reaper``) that ends what is left of it when the driver ends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import _checks, _signals
from .._signals import Terminated
from .._version import versions as _versions
from . import metrics as _metrics
from .problems import get_problem, list_problems
from .reaper import Reaper
from .space import PROTOCOLS, RANGES, arms, check_range, full_hyper, sobol_points, space_for
from .store import Store
from .trial import Outcome, TrialSpec, run_trial

__all__ = ["Plan", "SUITES", "make_plan", "run_sweep", "BACKENDS", "versions", "hardware"]

BACKENDS = ("local", "batched", "ray")
TUNE_SEED = 0

#: suite → defaults of the plan
SUITES: dict[str, dict[str, Any]] = {
    # CI: two problems, two optimizers, a handful of short trials
    "smoke": dict(
        problems=["digits_logreg", "nqm"],
        optimizers=["sgd", "adam"],
        trials=4,
        seeds=2,
        protocols=["lr", "all"],
        short=True,
    ),
    # every problem, 6 optimizers, 16 trials per optimizer and protocol, 10 final seeds
    "small": dict(
        problems=None,
        optimizers=["sgd", "heavy_ball", "nesterov", "adagrad", "rmsprop", "adam"],
        trials=16,
        seeds=10,
        protocols=["lr", "all"],
        short=False,
    ),
    # the Wilson et al. Fig. 1 analogue on MNIST-1D (docs/benchmarks.md)
    "wilson_mnist1d": dict(
        problems=["mnist1d_mlp"],
        optimizers=["sgd", "heavy_ball", "adam", "rmsprop", "adagrad"],
        trials=16,
        seeds=5,
        protocols=["lr"],
        short=False,
    ),
}


@dataclass(frozen=True)
class Plan:
    suite: str
    problems: tuple[str, ...]
    optimizers: tuple[str, ...]
    protocols: tuple[str, ...]
    trials: int
    seeds: int
    sobol_seed: int = 0
    short: bool = False
    ranges: Mapping[str, tuple[float, float, str]] = field(default_factory=dict)

    def steps(self, problem: str) -> int:
        p = get_problem(problem)
        return (p.smoke_steps or p.steps) if self.short else p.steps

    def spaces(self) -> dict[str, dict[str, str]]:
        return {o: {pr: space_for(o, self.ranges).describe(pr) for pr in self.protocols} for o in self.optimizers}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ranges"] = {k: list(v) for k, v in dict(self.ranges).items()}
        d["steps"] = {p: self.steps(p) for p in self.problems}
        d["spaces"] = self.spaces()
        d["problem_specs"] = {p: get_problem(p, steps=self.steps(p)).describe() for p in self.problems}
        return d

    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _names(flag: str, given: Sequence[str] | None, default: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    if given is None:
        return tuple(default)
    out = []
    for g in given:
        for n in str(g).split(","):
            n = n.strip()
            if not n:
                continue
            if n not in allowed:
                raise ValueError(
                    f"{flag}: unknown {flag.strip('-').rstrip('s')} {n!r}; choose from {', '.join(allowed)}"
                )
            if n not in out:
                out.append(n)
    if not out:
        raise ValueError(f"{flag}: empty list; choose from {', '.join(allowed)}")
    return tuple(out)


def make_plan(
    suite: str = "smoke",
    *,
    problems=None,
    optimizers=None,
    protocols=None,
    trials: int | None = None,
    seeds: int | None = None,
    sobol_seed: int = 0,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> Plan:
    """The plan of ``suite`` with any field overridden; one-line ValueError naming bad input."""
    if suite not in SUITES:
        raise ValueError(f"--suite: unknown suite {suite!r}; choose from {', '.join(SUITES)}")
    s = SUITES[suite]
    all_problems = list_problems()
    probs = _names("--problems", problems, s["problems"] or all_problems, all_problems)
    opts = _names("--optimizers", optimizers, s["optimizers"], list(arms()))
    prots = _names("--protocols", protocols, s["protocols"], list(PROTOCOLS))
    n = s["trials"] if trials is None else trials
    n = _checks.integer("bench", "--trials", n, minimum=1)
    k = _checks.integer("bench", "--seeds", s["seeds"] if seeds is None else seeds, minimum=1)
    rg: dict[str, tuple[float, float, str]] = {}
    for kind, (low, high) in dict(ranges or {}).items():
        if kind not in RANGES:
            raise ValueError(f"--range: unknown kind {kind!r}; choose from {', '.join(RANGES)}")
        transform = RANGES[kind][2]
        check_range(kind, low, high, transform)
        rg[kind] = (float(low), float(high), transform)
    plan = Plan(suite, probs, opts, prots, int(n), int(k), int(sobol_seed), bool(s["short"]), rg)
    plan.spaces()  # every optimizer's space is valid
    return plan


# ------------------------------------------------------------------------------ planning


def _key(phase, protocol, problem, optimizer, point, seed) -> str:
    return f"{phase}/{protocol}/{problem}/{optimizer}/p{point if point is not None else '-'}/s{seed}"


def planned_row(phase, protocol, problem, optimizer, point, seed, steps, hyper) -> dict[str, Any]:
    """One row of the plan (what ``Store.add_planned`` takes), keyed by what it runs."""
    return dict(
        key=_key(phase, protocol, problem, optimizer, point, seed),
        phase=phase,
        protocol=protocol,
        problem=problem,
        optimizer=optimizer,
        point=point,
        seed=seed,
        steps=steps,
        hyper=hyper,
    )


def tune_rows(plan: Plan) -> list[dict[str, Any]]:
    pts = sobol_points(plan.trials, plan.sobol_seed)
    rows = []
    for problem in plan.problems:
        wd = get_problem(problem).weight_decay
        steps = plan.steps(problem)
        for opt in plan.optimizers:
            space = space_for(opt, plan.ranges)
            for protocol in plan.protocols:
                for i in range(plan.trials):
                    hyper = full_hyper(opt, {**space.sample(pts[i], protocol), "weight_decay": wd})
                    rows.append(planned_row("tune", protocol, problem, opt, i, TUNE_SEED, steps, hyper))
    return rows


def final_seeds(plan: Plan) -> list[int]:
    return list(range(1, plan.seeds + 1))


def defaults_rows(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for problem in plan.problems:
        wd = get_problem(problem).weight_decay
        for opt in plan.optimizers:
            hyper = full_hyper(opt, {"weight_decay": wd})
            for s in final_seeds(plan):
                rows.append(planned_row("final", "defaults", problem, opt, None, s, plan.steps(problem), hyper))
    return rows


def choose_best(tune: Iterable[Mapping[str, Any]], metric: str) -> Mapping[str, Any] | None:
    """The tuning row with the lowest validation score (ties: the lowest point index)."""
    rows = list(tune)
    if not rows:
        return None
    return min(rows, key=lambda r: (_metrics.score_of(r["metrics"] or {}, r["status"], metric), r["point"]))


def final_rows(plan: Plan, store: Store) -> list[dict[str, Any]]:
    rows = []
    tune = store.rows("phase = 'tune'")
    if any(r["status"] == "planned" for r in tune):
        raise RuntimeError("final phase planned before every tuning trial was recorded")
    for problem in plan.problems:
        metric = get_problem(problem).metric
        for opt in plan.optimizers:
            for protocol in plan.protocols:
                best = choose_best(
                    [
                        r
                        for r in tune
                        if r["problem"] == problem and r["optimizer"] == opt and r["protocol"] == protocol
                    ],
                    metric,
                )
                if best is None:
                    continue
                for s in final_seeds(plan):
                    rows.append(
                        planned_row("final", protocol, problem, opt, best["point"], s, best["steps"], best["hyper"])
                    )
    return rows


# ------------------------------------------------------------------------------ execution


def versions() -> dict[str, str | None]:
    """The software a trial ran with (``ravine._version.versions``)."""
    return _versions("torch", "numpy", "scipy", "scikit-learn", "mnist1d", "ray", "pyarrow")


def hardware() -> dict[str, Any]:
    """The machine (read once per process)."""
    return dict(_hardware())


@functools.cache
def _hardware() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
        "node": platform.node(),
    }


class Progress:
    """One line per finished trial on stderr: which trial, its status, elapsed and ETA."""

    def __init__(self, phase: str, total: int, quiet: bool = False, stream=None):
        self.phase, self.total, self.quiet = phase, total, quiet
        self.done = 0
        self.t0 = time.perf_counter()
        self.stream = stream or sys.stderr

    def __call__(self, spec: TrialSpec, out: Outcome) -> None:
        self.done += 1
        if self.quiet:
            return
        el = time.perf_counter() - self.t0
        eta = el / self.done * (self.total - self.done)
        v = out.metrics.get("final_val") if out.metrics else None
        print(
            f"[{self.phase} {self.done}/{self.total}] {spec.key}: {out.status}"
            + (f" val {v:.4g}" if isinstance(v, float) else "")
            + (f" ({out.error})" if out.error else "")
            + f"  {el:.0f}s elapsed, ETA {eta:.0f}s",
            file=self.stream,
            flush=True,
        )


def _worker_init(driver: int | None = None):
    """A trial process's set-up: one torch thread; in a pool (``driver``: the driver's pid),
    SIGINT ignored (the driver decides when its workers stop: a terminal's Ctrl+C reaches the
    whole process group) and the worker bound to the driver's life (``_die_with``)."""
    import torch

    torch.set_num_threads(1)
    if driver is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with(driver)


#: prctl(2)'s PR_SET_PDEATHSIG
_PR_SET_PDEATHSIG = 1


def _die_with(driver: int) -> None:
    """End this process when the driver ends, however it ends (SIGKILL included).

    A pool worker's parent is the forkserver, not the driver, and the forkserver lives as long
    as any worker holds its pipe, so the parent's death cannot be the signal: a daemon thread
    waits for the driver's pid to exit (a pidfd on Linux, exact and immediate; elsewhere a poll
    every second) and ends the process with ``os._exit``. On Linux the worker also asks for
    SIGKILL when its parent (the forkserver) dies (PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_driver, args=(driver,), name="ravine-driver-watch", daemon=True).start()


def _watch_driver(driver: int) -> None:
    import select

    try:
        fd = os.pidfd_open(driver)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): poll
        fd = None
    if fd is not None:
        select.select([fd], [], [])  # readable once the driver has exited
    else:
        while True:
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                break
            except PermissionError:  # alive, another user's (a reused pid): keep waiting
                pass
            time.sleep(1.0)
    os._exit(1)


def _run_batch_job(specs, compile=None):
    from .batched import run_batch

    return run_batch(specs, compile)


def execute(
    store: Store,
    specs: list[TrialSpec],
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    batch: int = 32,
    compile: str | None = None,
    progress: Callable | None = None,
    max_retries: int = 3,
    pool=None,
) -> int:
    """Run ``specs`` with ``backend`` and record each result as it arrives; returns how many
    were recorded."""
    if not specs:
        return 0
    workers = workers or os.cpu_count() or 1
    ver, hw = versions(), hardware()
    n = 0

    def rec(spec, out):
        nonlocal n
        if store.record(out, versions=ver, hardware=hw, backend=backend):
            n += 1
        if progress is not None:
            progress(spec, out)

    by_key = {s.key: s for s in specs}
    if backend == "ray":
        return _execute_ray(specs, rec, workers, address, max_retries) or n
    if backend == "batched":
        groups: dict[tuple, list[TrialSpec]] = {}
        for s in specs:
            groups.setdefault((s.problem, s.optimizer, s.steps), []).append(s)
        # at most ``batch`` configurations per model, and no fewer jobs than workers where the
        # trials allow it (32 trials on 2 workers: two models of 16, one per core, not one of 32)
        size = max(1, min(batch, math.ceil(len(specs) / workers)))
        jobs = [g[i : i + size] for g in groups.values() for i in range(0, len(g), size)]
    elif backend == "local":
        jobs = [[s] for s in specs]
    else:
        raise ValueError(f"--backend: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    fn = functools.partial(_run_batch_job, compile=compile) if backend == "batched" else _run_single
    if workers == 1 or len(jobs) == 1:
        _worker_init()
        for job in jobs:
            for out in fn(job):
                rec(by_key[out.key], out)
        return n
    import concurrent.futures as cf

    own = pool is None
    if own:
        pool = make_pool(workers, {s.problem for s in specs})
    try:
        futs = [pool.submit(fn, job) for job in jobs]
        for f in cf.as_completed(futs):
            for out in f.result():
                rec(by_key[out.key], out)
    except BaseException:
        if own:
            close_pool(pool, now=True)
        raise
    if own:
        close_pool(pool)
    return n


#: what every trial process imports: torch, its compiler front end (``torch.optim``'s first
#: ``add_param_group`` imports ``torch._dynamo``: 2-3 s), the trial code and ``ravine.optim``
POOL_PRELOAD = ("torch", "torch._dynamo", "ravine.benchmark.trial", "ravine.benchmark.batched", "ravine.optim")


def make_pool(workers: int, problems: Iterable[str] = ()):
    """A process pool whose workers fork from a server that has imported torch, the trial code
    and what ``problems`` declare they need (:attr:`Problem.preload`) once (``forkserver``
    with preload: a worker starts in milliseconds instead of importing them again, and no
    threaded driver is forked)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    extra = {m for name in problems for m in get_problem(name).preload}
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([*POOL_PRELOAD, *sorted(extra)])
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
    )


def close_pool(pool, *, now: bool = False, grace: float = 5.0) -> None:
    """Shut ``pool`` down: after its work (``now=False``), or at once (an interrupt): the
    trials that wait are cancelled and the running workers ended (SIGTERM, then SIGKILL after
    ``grace`` seconds). Their trials are not recorded; they stay planned and run next time."""
    if not now:
        pool.shutdown(cancel_futures=True)
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1.0)
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:  # it sees the workers gone and closes the queues
        manager.join(grace)


def _run_single(job):
    return [run_trial(job[0])]


def _execute_ray(specs, rec, workers, address, max_retries):
    try:
        import ray  # only here: --backend ray
    except ImportError:
        raise ValueError("--backend ray needs Ray, which is not installed (pip install 'ravine[ray]')") from None

    started = not ray.is_initialized()
    # a local Ray started here: a watcher ends what is left of it when the driver ends (it reads /proc)
    local = started and not address
    reaper = Reaper.start(os.path.dirname(ray.__file__)) if local and sys.platform.startswith("linux") else None
    try:
        if started and address:
            _ray_init(ray, address=address, log_to_driver=False)
        elif started:
            _ray_init(
                ray, num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
            )
        remote = ray.remote(num_cpus=1, max_retries=max_retries)(_ray_trial)
        pending = {remote.remote(s): s for s in specs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    spec = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as exc:
                        out = Outcome(
                            spec.key, "failed", f"ray: {type(exc).__name__}: {str(exc).splitlines()[0]}", {}, {}, 0.0
                        )
                    rec(spec, out)
        except BaseException as exc:  # an interrupt: the tasks still pending stop
            if not local:  # on a cluster, which outlives this driver. A Ray started here ends with
                # ray.shutdown below, workers included; a forced cancel there raced a task's own end
                # (Ray 2.x aborts the driver: "Tried to complete task that was not pending", status 1)
                for ref in pending:
                    try:
                        ray.cancel(ref, force=True)
                    except Exception:
                        pass
            if isinstance(exc, KeyboardInterrupt):  # ray.wait turns what a signal handler raised
                _signals.check()  # into a KeyboardInterrupt: the signal received, SIGTERM included
            raise
    finally:
        if started:
            ray.shutdown()
        if reaper is not None:
            reaper.finish()
    return None


def _ray_init(ray, **kw):
    """``ray.init`` with the caller's SIGTERM handler kept. ``ray.init`` puts its own in place
    (a Python one that exits, and its core worker's, which prints a stack and aborts), after
    which SIGTERM would end the run with a stack trace and status 134, not with the interrupt
    the command handles. A SIGTERM during start-up reaches Ray's handler, which raises
    SystemExit: it is raised as :class:`ravine._signals.Terminated`."""
    handler = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(**kw)
    except SystemExit:
        raise Terminated() from None
    finally:
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, handler)


def _ray_trial(spec):
    _worker_init()
    return run_trial(TrialSpec(*spec))


def run_sweep(
    store_path: str,
    plan: Plan,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    batch: int = 32,
    compile: str | None = None,
    quiet: bool = False,
    phases: Sequence[str] = ("tune", "final"),
) -> Store:
    """Plan and run ``plan`` into the store at ``store_path`` (restartable; see the module docstring)."""
    if backend not in BACKENDS:
        raise ValueError(f"--backend: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if workers is not None:
        workers = _checks.integer("bench run", "--workers", workers, minimum=1)
    store = Store.open(store_path, plan.to_dict(), plan.hash())
    store.add_planned(tune_rows(plan))
    store.add_planned(defaults_rows(plan))
    workers = workers or os.cpu_count() or 1
    pool = make_pool(workers, plan.problems) if backend in ("local", "batched") and workers > 1 else None
    kw = dict(backend=backend, workers=workers, address=address, batch=batch, compile=compile, pool=pool)
    try:
        todo = store.pending("tune")
        execute(store, todo, progress=Progress("tune", len(todo), quiet), **kw)
        if "final" in phases:
            store.add_planned(final_rows(plan, store))
            todo = store.pending("final")
            execute(store, todo, progress=Progress("final", len(todo), quiet), **kw)
    except BaseException:
        if pool is not None:
            close_pool(pool, now=True)
        raise
    if pool is not None:
        close_pool(pool)
    return store
