"""Many trajectories at once: optimizers × hyperparameter values × start points.

``run`` is the NumPy adapter of the rules (``ravine/rules``). Each optimizer
(a rule with fixed hyperparameters) forms a *group* of trajectories, one per
start point, and the rule's ``update`` runs on the whole ``(starts, dim)``
array of the group at once. When Numba is installed and the rule is
elementwise, the same ``update`` is compiled into one loop over steps and
trajectories (``backend="numba"``, see ``runner/numba_backend.py``); both backends give
the same numbers (tested).

Stopping, per trajectory: ``converged`` when ‖∇f(θ)‖ ≤ tol, ``diverged`` when
a step would leave θ non-finite or with ‖θ‖∞ > ``divergence`` — marked, never
raised — else it runs ``steps`` steps (``max_steps``). A stopped trajectory
stays frozen at its last good point (its optimizer state keeps the values of
the step that failed); later records repeat that point.

Non-finite gradients in the runner: ``nonfinite="stop"`` (default) marks the
trajectory diverged; ``"skip"`` skips the step for that trajectory (θ and
state unchanged) and goes on; ``"raise"`` raises
:class:`ravine.rules.NonFiniteGradientError`.

Modules: ``driver`` (run, grid: picks the backend per group), ``numpy_backend``,
``numba_backend`` (compiled), ``result`` (RunResult, status codes), ``sweep`` (2-D
hyperparameter grids).
"""

from __future__ import annotations

from .driver import grid, run
from .result import CONVERGED, DIVERGED, MAX_STEPS, RUNNING, STATUS, RunResult
from .sweep import METRICS, SweepResult, sweep

__all__ = [
    "run",
    "grid",
    "sweep",
    "SweepResult",
    "METRICS",
    "RunResult",
    "STATUS",
    "RUNNING",
    "MAX_STEPS",
    "CONVERGED",
    "DIVERGED",
]
