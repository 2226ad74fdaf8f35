"""What a run returns: :class:`RunResult` and the status codes of a trajectory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .._json import jsonable

__all__ = ["RunResult", "STATUS", "RUNNING", "MAX_STEPS", "CONVERGED", "DIVERGED"]

#: trajectory status codes
STATUS = ("running", "max_steps", "converged", "diverged")
RUNNING, MAX_STEPS, CONVERGED, DIVERGED = range(4)


@dataclass
class RunResult:
    """Trajectories of a run. N = number of trajectories, R = recorded steps, D = dimension.

    ``theta`` (R, N, D), ``loss`` (R, N), ``grad_norm`` (R, N) at the recorded steps
    ``steps`` (R,); ``state`` maps each state field to (R, N, D) (record="all"
    only); ``status`` (N,) codes into ``STATUS``; ``stop_step`` (N,) the step at
    which each trajectory stopped; ``labels`` (N,) its optimizer's label;
    ``group`` (N,) the optimizer index; ``start`` (N,) the start-point index.
    """

    problem: str
    labels: list
    optimizers: dict
    group: np.ndarray
    start: np.ndarray
    steps: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    status: np.ndarray
    stop_step: np.ndarray
    state: dict = field(default_factory=dict)
    backend: str = "numpy"

    @property
    def final_theta(self) -> np.ndarray:
        return self.theta[-1]

    @property
    def final_loss(self) -> np.ndarray:
        return self.loss[-1]

    @property
    def status_names(self) -> list[str]:
        return [STATUS[s] for s in self.status]

    @property
    def diverged(self) -> np.ndarray:
        return self.status == DIVERGED

    @property
    def converged(self) -> np.ndarray:
        return self.status == CONVERGED

    def trajectory(self, i: int) -> np.ndarray:
        """θ of trajectory i at the recorded steps, (R, D)."""
        return self.theta[:, i]

    def to_dict(self) -> dict:
        """Plain lists, for JSON export."""
        return {
            "problem": self.problem,
            "optimizers": {k: {"name": r.name, **_jsonable(r.hyperparameters())} for k, r in self.optimizers.items()},
            "trajectories": [
                {
                    "label": self.labels[i],
                    "start_index": int(self.start[i]),
                    "status": STATUS[self.status[i]],
                    "stop_step": int(self.stop_step[i]),
                    "steps": self.steps.tolist(),
                    "theta": _clean(self.theta[:, i]),
                    "loss": _clean(self.loss[:, i]),
                    "grad_norm": _clean(self.grad_norm[:, i]),
                }
                for i in range(len(self.labels))
            ],
        }

    def to_json(self, path=None, **kw) -> str:
        text = json.dumps(self.to_dict(), **kw)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def to_csv(self, path=None) -> str:
        """Long format: label, start, step, θ₁…θ_D, loss, grad_norm, status."""
        D = self.theta.shape[-1]
        head = ["label", "start", "step", *[f"theta{j + 1}" for j in range(D)], "loss", "grad_norm", "status"]
        lines = [",".join(head)]
        for i, lab in enumerate(self.labels):
            for r, st in enumerate(self.steps):
                vals = [
                    f'"{lab}"',
                    str(self.start[i]),
                    str(int(st)),
                    *[repr(float(v)) for v in self.theta[r, i]],
                    repr(float(self.loss[r, i])),
                    repr(float(self.grad_norm[r, i])),
                    STATUS[self.status[i]],
                ]
                lines.append(",".join(vals))
        text = "\n".join(lines) + "\n"
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text


def _clean(a):
    """An array as nested lists, non-finite values as None (``ravine._json``)."""
    return jsonable(np.asarray(a, dtype=float))


_jsonable = jsonable
