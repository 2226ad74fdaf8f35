"""One trial: train one optimizer setting on one problem for its budget, with evaluations
at fixed points; the plain (unbatched) execution every backend is checked against.

It reuses the rest of ravine: data from ``ravine.train.data``, models from ``ravine.train.make_model``
and the optimizer from ``ravine.optim`` (the rule's own ``update``; ``impl="eager"``, since
compiling a variant costs more than these short runs). Returns plain data (:class:`Outcome`).
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import metrics as _metrics
from .problems import get_problem
from .space import get_optimizer, optim_keywords

__all__ = ["TrialSpec", "Outcome", "run_trial", "problem_instance", "CURVE_FIELDS"]

CURVE_FIELDS = ("step", "time", "train_loss", "val_loss", "val_err", "test_loss", "test_err")


class TrialSpec(NamedTuple):
    """What a trial runs (a row of the plan)."""

    key: str
    problem: str
    optimizer: str
    hyper: Mapping[str, Any]  # every hyperparameter of the rule, defaults written out
    seed: int
    steps: int


class Outcome(NamedTuple):
    key: str
    status: str  # "ok" | "diverged" | "failed"
    error: str | None
    curves: dict[str, list]
    metrics: dict[str, Any]
    wall_time: float


_PROBLEMS: dict = {}


def problem_instance(name: str, steps: int):
    """One problem object (and its data) per process and budget."""
    key = (name, steps)
    if key not in _PROBLEMS:
        _PROBLEMS[key] = get_problem(name, steps=steps)
    return _PROBLEMS[key]


def _fault(key: str, where: str) -> None:
    """Fault injection for the tests: ``RAVINE_BENCH_FAULT=kill_once:DIR[:SUBSTRING]`` SIGKILLs
    the process running a trial (whose key contains SUBSTRING), mid-trial, the first time each
    such trial gets there (a marker file in DIR remembers it)."""
    spec = os.environ.get("RAVINE_BENCH_FAULT", "")
    if not spec.startswith("kill_once:") or where != "mid":
        return
    _, d, *pat = spec.split(":", 2)
    if pat and pat[0] not in key:
        return
    marker = os.path.join(d, key.replace("/", "_"))
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)


def _eval(problem, model, x, y):
    import torch

    with torch.no_grad():
        out = model(x)
        loss = float(problem.criterion(out, y))
        err = problem.error(out, y)
    return loss, (None if err is None else float(err))


def _fin(v):
    return v if v is not None and math.isfinite(v) else None


def run_trial(spec: TrialSpec) -> Outcome:
    """Run one trial; never raises (a failure is an Outcome with status "failed")."""
    t_all = time.perf_counter()
    try:
        return _run(spec, t_all)
    except Exception as exc:
        msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return Outcome(spec.key, "failed", msg, {f: [] for f in CURVE_FIELDS}, {}, time.perf_counter() - t_all)


def _run(spec: TrialSpec, t_all: float) -> Outcome:
    import torch

    from .. import optim

    torch.set_num_threads(1)
    problem = problem_instance(spec.problem, spec.steps)
    data = problem.data()
    model = problem.model(spec.seed)
    cls = getattr(optim, get_optimizer(spec.optimizer).optim)
    # a non-finite gradient ends the trial at that step (as the batched backend's mask does)
    opt = cls(model.parameters(), impl="eager", nonfinite="raise", **optim_keywords(spec.optimizer, spec.hyper))
    gen = torch.Generator().manual_seed(int(spec.seed))
    batches = problem.batches(data, gen)
    evals = problem.eval_steps()
    curves: dict[str, list] = {f: [] for f in CURVE_FIELDS}
    train_time = 0.0

    def record(step, train_loss):
        vl, ve = _eval(problem, model, data.x_val, data.y_val)
        tl, te = _eval(problem, model, data.x_test, data.y_test)
        for f, v in zip(CURVE_FIELDS, (step, train_time, train_loss, _fin(vl), ve, _fin(tl), te)):
            curves[f].append(v)
        return math.isfinite(vl)

    record(0, None)
    diverged = False
    run_sum, run_n = 0.0, 0
    nxt = 1
    mid = spec.steps // 2
    t0 = time.perf_counter()
    for step in range(1, spec.steps + 1):
        xb, yb = next(batches)
        opt.zero_grad(set_to_none=True)
        loss = problem.criterion(model(xb), yb)
        lv = loss.item()
        if not math.isfinite(lv):
            diverged = True
            break
        loss.backward()
        try:
            opt.step()
        except FloatingPointError:  # ravine.optim's NonFiniteGradientError
            diverged = True
            break
        run_sum += lv
        run_n += 1
        if step == mid:
            _fault(spec.key, "mid")
        if nxt < len(evals) and step == evals[nxt]:
            train_time += time.perf_counter() - t0
            ok = record(step, run_sum / run_n)
            run_sum, run_n = 0.0, 0
            nxt += 1
            t0 = time.perf_counter()
            if not ok:
                diverged = True
                break
    else:
        train_time += time.perf_counter() - t0
    if diverged:
        train_time += 0.0
    steps_done = step if not diverged else step - 1
    m = _metrics.trial_metrics(
        curves, problem.metric, problem.target, diverged, steps_done=steps_done, train_time=train_time
    )
    if data.x_train is not None and not diverged:  # the whole training split, once, at the end
        m["final_train_loss_full"], m["final_train_err_full"] = _eval(problem, model, data.x_train, data.y_train)
    return Outcome(spec.key, "diverged" if diverged else "ok", None, curves, m, time.perf_counter() - t_all)
