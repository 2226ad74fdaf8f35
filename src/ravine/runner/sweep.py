"""Two-dimensional hyperparameter sweeps: one trajectory (or several starts) per grid cell.

:func:`sweep` is the computing half of ``ravine.plot.heatmap`` and of ``ravine sweep``: every
cell of the (x, y) grid is one rule of :func:`ravine.runner.grid`, and the whole grid runs as
one vectorized :func:`ravine.run` (compiled where the rule and problem allow it). The result
holds plain arrays, so it can be drawn, exported (CSV/JSON) or searched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks
from ..rules import Rule, get_rule
from .driver import grid, run
from .result import CONVERGED, DIVERGED, RunResult

__all__ = ["sweep", "SweepResult", "METRICS"]

METRICS = ("loss", "steps")


@dataclass(eq=False)
class SweepResult:
    """Per cell (x index, y index): ``values`` (mean over starts of the final f − f*, or of the
    steps to ‖∇f‖ ≤ tol, NaN where a start did not converge), ``status`` (per start, codes of
    ``STATUS``), ``diverged`` and ``not_converged`` masks."""

    rule: Rule
    problem: str
    x_name: str
    x: np.ndarray
    y_name: str
    y: np.ndarray
    metric: str
    steps: int
    tol: float | None
    values: np.ndarray
    status: np.ndarray
    diverged: np.ndarray
    not_converged: np.ndarray
    f_star: float | None
    result: RunResult = field(repr=False)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per cell: x, y, value (None where not finite), status."""
        out = []
        for i, xv in enumerate(self.x):
            for j, yv in enumerate(self.y):
                v = float(self.values[i, j])
                st = "diverged" if self.diverged[i, j] else "not_converged" if self.not_converged[i, j] else "ok"
                out.append(
                    {
                        self.x_name: float(xv),
                        self.y_name: float(yv),
                        self.metric: v if np.isfinite(v) else None,
                        "status": st,
                    }
                )
        return out


def _axis(which: str, spec: Any, base: Rule) -> tuple[str, np.ndarray]:
    if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)):
        raise ValueError(f"{which}: expected (hyperparameter name, values), got {spec!r}")
    name, vals = spec
    vals = np.asarray(vals, dtype=float).ravel()
    if vals.size == 0 or not np.isfinite(vals).all():
        raise ValueError(f"{which}: {name} needs at least one finite value")
    if name not in base.h._fields:
        raise ValueError(
            f"{which}: {type(base).__name__} has no hyperparameter {name!r}; it has {', '.join(base.h._fields)}"
        )
    return name, vals


def sweep(
    rule: Rule | str,
    problem,
    x: tuple[str, Sequence[float]],
    y: tuple[str, Sequence[float]],
    *,
    metric: str = "loss",
    steps: int = 200,
    starts=None,
    tol: float | None = None,
    divergence: float | None = None,
    backend: str = "auto",
    progress=None,
) -> SweepResult:
    """Run ``rule`` over the grid of hyperparameters ``x`` × ``y`` on ``problem``.

    ``x``, ``y``: (hyperparameter name, values). ``metric``: ``"loss"`` (final f − f* when
    f* is known, else f) or ``"steps"`` (steps until ‖∇f‖ ≤ tol, default tol 1e-6).
    ``divergence`` defaults to 1000 × the problem window's largest |coordinate|.
    ``progress(done, total)`` is called after each cell (see :func:`ravine.runner.run`).
    """
    from ..problems import Problem, get_problem

    problem = get_problem(problem) if isinstance(problem, str) else problem
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a Problem or a catalog name, got {problem!r}")
    base = get_rule(rule) if isinstance(rule, str) else rule
    _checks.choice("sweep", "metric", metric, METRICS)
    xn, xv = _axis("x", x, base)
    yn, yv = _axis("y", y, base)
    if xn == yn:
        raise ValueError(f"x and y must be different hyperparameters, both are {xn!r}")
    if tol is None and metric == "steps":
        tol = 1e-6
    window = np.asarray(problem.bounds, float)
    if divergence is None:
        divergence = 1000.0 * float(np.max(np.abs(window)))
    cast = {f: type(getattr(base.h, f)) for f in (xn, yn)}

    def conv(f, v):
        return int(round(v)) if cast[f] is int else float(v)

    rules = grid(base, **{xn: [conv(xn, v) for v in xv], yn: [conv(yn, v) for v in yv]})
    res = run(
        rules,
        problem,
        starts,
        steps,
        tol=tol,
        divergence=divergence,
        record="final",
        backend=backend,
        progress=progress,
    )
    S = res.theta.shape[1] // (xv.size * yv.size)
    status = res.status.reshape(xv.size, yv.size, S)
    f_star = problem.f_min
    if metric == "loss":
        v = res.final_loss.reshape(xv.size, yv.size, S).astype(float)
        if f_star is not None:
            v = v - f_star
        vals = v.mean(-1)
    else:
        st = res.stop_step.reshape(xv.size, yv.size, S).astype(float)
        st = np.where(status == CONVERGED, st, np.nan)
        vals = st.mean(-1)
    diverged = (status == DIVERGED).any(-1)
    not_conv = (~diverged) & ~np.isfinite(vals)
    return SweepResult(
        base, problem.name, xn, xv, yn, yv, metric, steps, tol, vals, status, diverged, not_conv, f_star, res
    )
