"""Metrics of trials and of whole sweeps.

* per trial (:func:`trial_metrics`): final validation / test values, the best validation
  value, steps and (training) wall-clock to the problem's target — a miss is ``inf`` and is
  kept, never dropped (AlgoPerf, Dahl et al. 2023, "Benchmarking Neural Network Training
  Algorithms", Sec. 4: a run that misses the target gets an infinite time);
* :func:`expected_best` — the expected best validation value after k random trials, as a
  curve over k (Dodge et al. 2019, "Show Your Work", eq. 1, on the empirical distribution);
* :func:`performance_profiles` and :func:`profile_score` — Dolan & Moré 2002 performance
  profiles ρ_s(τ) over problems and AlgoPerf's integrated score
  B_s = 1/(τ_max − 1) ∫_1^{τ_max} ρ_s(τ) dτ with τ_max = 4.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "trial_metrics",
    "expected_best",
    "performance_ratios",
    "performance_profiles",
    "profile_score",
    "TAU_MAX",
    "worst_value",
]

TAU_MAX = 4.0
INF = float("inf")


def worst_value(metric: str) -> float:
    """What a diverged or failed trial counts as when tuning minimises ``metric``."""
    return 1.0 if metric == "err" else INF


def trial_metrics(
    curves: Mapping[str, list], metric: str, target: float, diverged: bool, *, steps_done: int, train_time: float
) -> dict[str, Any]:
    vals = curves[f"val_{metric}"]
    tests = curves[f"test_{metric}"]
    steps, times = curves["step"], curves["time"]
    to_target, time_to = INF, INF
    for s, t, v in zip(steps, times, vals):
        if v is not None and v <= target:
            to_target, time_to = float(s), float(t)
            break
    finite = [v for v in vals if v is not None and math.isfinite(v)]
    last = lambda xs: xs[-1] if xs and not diverged else None
    return {
        "final_val": last(vals),
        "final_test": last(tests),
        "final_val_loss": last(curves["val_loss"]),
        "final_test_loss": last(curves["test_loss"]),
        "final_val_err": last(curves["val_err"]),
        "final_test_err": last(curves["test_err"]),
        "final_train_loss": last(curves["train_loss"]),
        "best_val": min(finite) if finite else None,
        "steps_to_target": to_target,
        "time_to_target": time_to,
        "steps_done": int(steps_done),
        "train_time": float(train_time),
        "step_time": float(train_time) / max(int(steps_done), 1),
    }


def score_of(m: Mapping[str, Any], status: str, metric: str) -> float:
    """The tuning objective of a trial: its final validation value (worst when not ok)."""
    v = m.get("final_val") if status == "ok" else None
    return worst_value(metric) if v is None or not math.isfinite(v) else float(v)


def expected_best(values: Sequence[float], ks: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(k, E[min of k draws]) from the empirical distribution of ``values`` (lower is better),
    Dodge et al. 2019 eq. 1: E = Σ_i v_(i) [((N−i+1)/N)^k − ((N−i)/N)^k] with v ascending."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    if ks is None:
        ks = np.arange(1, n + 1)
    ks = np.asarray(ks)
    i = np.arange(1, n + 1)
    out = []
    for k in ks:
        w = ((n - i + 1) / n) ** k - ((n - i) / n) ** k
        with np.errstate(invalid="ignore"):
            out.append(float(np.sum(np.where(w > 0, v * w, 0.0))))
    return ks, np.asarray(out)


def performance_ratios(t: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """t[problem][solver] (lower is better, inf = missed) → r[problem][solver] = t / min_s t
    (inf where missed, or where no solver reached the target)."""
    r: dict[str, dict[str, float]] = {}
    for p, row in t.items():
        best = min(row.values()) if row else INF
        r[p] = {
            s: (
                v / best
                if math.isfinite(v) and math.isfinite(best) and best > 0
                else (1.0 if math.isfinite(v) and best == 0 and v == 0 else INF)
            )
            for s, v in row.items()
        }
    return r


def performance_profiles(r: Mapping[str, Mapping[str, float]], taus: np.ndarray) -> dict[str, np.ndarray]:
    """ρ_s(τ) = |{p : r_{p,s} ≤ τ}| / |P| (Dolan & Moré 2002)."""
    solvers = sorted({s for row in r.values() for s in row})
    P = max(len(r), 1)
    return {s: np.array([sum(1 for row in r.values() if row.get(s, INF) <= tau) / P for tau in taus]) for s in solvers}


def profile_score(r: Mapping[str, Mapping[str, float]], tau_max: float = TAU_MAX) -> dict[str, float]:
    """AlgoPerf's score: the normalised area under ρ_s on [1, τ_max], computed exactly
    (each problem adds (τ_max − r)/(τ_max − 1)/|P| when r ≤ τ_max)."""
    solvers = sorted({s for row in r.values() for s in row})
    P = max(len(r), 1)
    return {
        s: sum((tau_max - row[s]) / (tau_max - 1) for row in r.values() if row.get(s, INF) <= tau_max) / P
        for s in solvers
    }
