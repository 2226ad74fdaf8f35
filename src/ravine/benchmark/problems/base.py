"""What a benchmark problem is: fixed data, model, loss, batch size, budget, weight decay, target.

A problem is a small class in its own file of this folder; :func:`get_problem` finds it by
its ``name`` (adding a problem = adding one file). Every problem is written in one shape so
that one training loop (``ravine.benchmark.trial``) and one vectorized loop
(``ravine.benchmark.batched``) serve all of them:

* ``data()`` → :class:`Data`: train / val / test tensors. The validation split is carved from
  the training data; tuning reads only it, the test split is read for reporting only.
* ``model(seed)`` → an ``nn.Module`` whose ``forward(x)`` gives the outputs;
* ``criterion(out, y)`` → the (mean) loss, ``error(out, y)`` → the error rate (or ``None``);
* ``batches(data, gen)`` → an endless iterator of ``(x, y)`` minibatches drawn with ``gen``.
  Problems without data (the noisy quadratic, Rosenbrock) draw the gradient noise here:
  their "input" is the noise vector ξ and ``forward(ξ) = L(θ) + ξᵀθ``, whose gradient is
  ∇L(θ) + ξ; evaluation passes ξ = 0, the exact loss.

``metric`` is what tuning minimises on the validation split (``"err"`` or ``"loss"``) and
``target`` the value of it that counts as reached (steps to target, AlgoPerf).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Problem", "Data", "get_problem", "list_problems", "epoch_batches"]


@dataclass(frozen=True)
class Data:
    """Tensors of one problem (``x_train`` may be None for a noise-only problem)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    info: dict


class Problem:
    """Base class of a benchmark problem, a training task (see the module docstring); not
    :class:`ravine.problems.Problem`, an objective on ℝⁿ. Subclasses set the class attributes."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    source: ClassVar[str] = ""
    batch_size: ClassVar[int] = 32
    steps: ClassVar[int] = 200  # training budget (optimizer steps)
    evals: ClassVar[int] = 10  # evaluation points after step 0 (evenly spaced)
    weight_decay: ClassVar[float] = 0.0  # coupled L2, passed to every optimizer
    metric: ClassVar[str] = "err"  # tuned on validation: "err" or "loss"
    target: ClassVar[float] = 0.1  # validation metric counted as reached
    dtype: ClassVar[str] = "float32"
    #: a smaller budget for the smoke suite (steps); None: the same
    smoke_steps: ClassVar[int | None] = None
    #: modules its data or model needs, imported once by a process pool's server before the
    #: workers fork (not by each worker)
    preload: ClassVar[tuple[str, ...]] = ()

    def __init__(self, steps: int | None = None, dtype: str | None = None):
        self.steps = int(steps) if steps is not None else type(self).steps
        self.dtype = dtype or type(self).dtype
        self._data = None

    # -- data -------------------------------------------------------------
    def data(self) -> Data:
        if self._data is None:
            self._data = self.make_data()
        return self._data

    def make_data(self) -> Data:  # pragma: no cover - every problem overrides
        raise NotImplementedError

    def torch_dtype(self):
        import torch

        return torch.float64 if self.dtype == "float64" else torch.float32

    # -- model and loss ---------------------------------------------------
    def model(self, seed: int):  # pragma: no cover
        raise NotImplementedError

    def criterion(self, out, y):
        import torch.nn.functional as F

        return F.cross_entropy(out, y)

    def error(self, out, y):
        return (out.argmax(-1) != y).to(out.dtype).mean()

    def batches(self, data: Data, gen) -> Iterator[tuple[Any, Any]]:
        return epoch_batches(data.x_train, data.y_train, self.batch_size, gen)

    def eval_steps(self) -> list[int]:
        """The steps after which the model is evaluated: 0 and ``evals`` evenly spaced ones."""
        n = max(1, min(self.evals, self.steps))
        return sorted({0, *(round(self.steps * (i + 1) / n) for i in range(n))})

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "weight_decay": self.weight_decay,
            "metric": self.metric,
            "target": self.target,
            "dtype": self.dtype,
        }


def epoch_batches(x, y, batch_size: int, gen) -> Iterator[tuple[Any, Any]]:
    """Minibatches of a fresh permutation each epoch (``torch.randperm`` with ``gen``), as
    ``ravine.train`` draws them; the last, smaller batch of an epoch is kept."""
    import torch

    n = len(y)
    b = min(batch_size, n)
    while True:
        if b >= n:
            yield x, y
            continue
        perm = torch.randperm(n, generator=gen)
        for k in range(0, n, b):
            idx = perm[k : k + b]
            yield x[idx], y[idx]


_REGISTRY: dict[str, type[Problem]] | None = None


def _registry() -> dict[str, type[Problem]]:
    global _REGISTRY
    if _REGISTRY is None:
        # every module of this folder but base and the private helpers (read from the folder,
        # so this module never imports its own package)
        folder = str(Path(__file__).resolve().parent)
        package = __name__.rpartition(".")[0]
        reg: dict[str, type[Problem]] = {}
        for info in sorted(pkgutil.iter_modules([folder]), key=lambda i: i.name):
            if info.name.startswith("_") or info.name == "base":
                continue
            mod = importlib.import_module(f"{package}.{info.name}")
            for obj in vars(mod).values():
                if (
                    isinstance(obj, type)
                    and issubclass(obj, Problem)
                    and obj is not Problem
                    and obj.name
                    and obj.__module__ == mod.__name__
                ):
                    reg[obj.name] = obj
        _REGISTRY = reg
    return _REGISTRY


def list_problems() -> list[str]:
    return list(_registry())


def get_problem(name: str, **kw) -> Problem:
    reg = _registry()
    if name not in reg:
        raise ValueError(f"--problems: unknown problem {name!r}; choose from {', '.join(reg)}")
    return reg[name](**kw)
