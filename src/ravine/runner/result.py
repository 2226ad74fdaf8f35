"""What a run returns: :class:`RunResult` and the status codes of a trajectory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .._json import jsonable
from .._markup import fmt_number, html_table, markdown_table

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

    #: the columns of :meth:`summary`
    SUMMARY = ("optimizer", "status", "steps", "final θ", "f(θ)", "‖g‖")

    def summary(self, labels=None, digits: int = 6) -> list[list]:
        """One row per trajectory, in the columns :attr:`SUMMARY`: its label (``labels``
        instead, e.g. shortened), status, the step it stopped at, θ at the last recorded step
        (as text, ``digits`` significant digits), f and ‖∇f‖ there. What ``ravine run`` prints,
        and a notebook shows for a result that is a cell's value."""
        labels = self.labels if labels is None else labels
        rows = []
        for i, label in enumerate(labels):
            theta = "(" + ", ".join(fmt_number(float(v), digits) for v in self.theta[-1, i]) + ")"
            rows.append(
                [
                    label,
                    STATUS[self.status[i]],
                    int(self.stop_step[i]),
                    theta,
                    float(self.loss[-1, i]),
                    float(self.grad_norm[-1, i]),
                ]
            )
        return rows

    def _caption(self) -> str:
        return f"{self.problem}: {len(self.labels)} trajectories, {int(self.steps[-1])} steps ({self.backend})"

    def _cells(self) -> list[list[str]]:
        return [[fmt_number(v, 6) for v in row] for row in self.summary()]

    def _repr_markdown_(self) -> str:
        """A notebook's view of a result: the :meth:`summary` as a Markdown table."""
        return markdown_table(self.SUMMARY, self._cells(), self._caption())

    def _repr_html_(self) -> str:
        """A notebook's view of a result: the :meth:`summary` as an HTML table."""
        return html_table(self.SUMMARY, self._cells(), self._caption())

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
