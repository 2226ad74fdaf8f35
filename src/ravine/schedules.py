"""Schedules: a hyperparameter as a function of the update step.

A schedule is a small immutable callable ``sched(t) -> float``. ``t = 0, 1, 2, ...`` is the
index of the update step and ``t = 0`` is the *first* update -- the convention of optax
schedules and of torch's ``LambdaLR`` / ``StepLR`` (whose ``last_epoch`` is 0 for the first
optimizer step). Every schedule also has ``values(n)``, the first ``n`` values as a float64
array, computed vectorized by the same code as ``__call__`` so that
``values(n)[t] == sched(t)`` exactly.

Nothing here knows about optimizers: a schedule can drive any hyperparameter (a learning
rate, a momentum coefficient, Adam's beta1, ...). Use :func:`as_schedule` where a
hyperparameter may be given either as a plain number or as a schedule.

Sources
-------
* Lecture 002 ("Dynamic learning rate"): piecewise constant
  η(t) = η_i for t_i ≤ t < t_{i+1}, exponential η₀·e^{−λt}, polynomial η₀(βt + 1)^{−α}.
* Lecture 004: "the coefficient of momentum is initialized at 0.5, and
  gradually annealed to 0.9" -- :func:`momentum_anneal`, a :func:`linear` ramp.
* torch ``StepLR`` (:func:`step`), ``CosineAnnealingLR`` (:func:`cosine`), optax
  ``linear_schedule`` (:func:`linear`), ``join_schedules`` (:func:`join`) and the linear
  warm-up of ``warmup_cosine_decay_schedule`` (:func:`warmup`).

Mapping the lecture's snippets
---------------------------
Lecture 002 writes its schedules with a global counter that is incremented *before* use::

    def exponential_lr():          def polynomial_lr():
        global t                       global t
        t += 1                         t += 1
        return math.exp(-0.1 * t)      return (1 + 0.1 * t) ** (-0.5)

Starting from ``t = 0``, the k-th call (k = 1, 2, ...) returns the formula at t = k, so the
lecture's first learning rate is e^{−0.1} ≈ 0.905, not 1. In ravine's convention:

* ``exponential(1.0, 0.1)(k)`` is the lecture's k-th value, i.e. the lecture's first ``n`` values
  are ``exponential(1.0, 0.1).values(n + 1)[1:]``; the lecture's sequence indexed from ravine's
  t = 0 is ``exponential(math.exp(-0.1), 0.1)`` (because η₀e^{−λ(t+1)} = (η₀e^{−λ})e^{−λt}).
* likewise ``polynomial(1.0, alpha=0.5, beta=0.1).values(n + 1)[1:]``, or, from t = 0,
  ``polynomial((1.1) ** -0.5, alpha=0.5, beta=0.1 / 1.1)``
  (because β(t+1) + 1 = (1+β)(βt/(1+β) + 1)).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checks

__all__ = [
    "Schedule",
    "Constant",
    "PiecewiseConstant",
    "Exponential",
    "Polynomial",
    "Step",
    "Cosine",
    "Linear",
    "Warmup",
    "Join",
    "constant",
    "piecewise_constant",
    "exponential",
    "polynomial",
    "step",
    "cosine",
    "linear",
    "momentum_anneal",
    "warmup",
    "join",
    "as_schedule",
]


# --------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    """repr of a user value, with NumPy scalars shown as plain Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _is_int(x: Any) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


def _real(where: str, name: str, value: Any, *, minimum: float | None = None) -> float:
    """A finite real number, optionally >= minimum (``ravine._checks``)."""
    return _checks.real(where, name, value, lo=minimum)


#: the longest length a schedule takes (step_size, total_steps, steps, warmup_steps, a
#: boundary): a billion updates, more than any run of this lab makes (ravine train: at most
#: 100 000 epochs); a longer one is a typo
MAX_STEPS = 10**9


def _int(where: str, name: str, value: Any, *, minimum: int) -> int:
    """An integer in [minimum, MAX_STEPS]; floats such as 10.0 are refused (``ravine._checks``)."""
    return _checks.integer(where, name, value, minimum=minimum, maximum=MAX_STEPS)


def _step_index(t: Any) -> int:
    if not _is_int(t):
        raise TypeError(f"schedule: step t must be an integer >= 0, got {_show(t)}")
    return _checks.integer("schedule", "step t", t, minimum=0)


def _boundaries(where: str, value: Any) -> tuple[int, ...]:
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(
            f"{where}: boundaries must be a sequence of strictly increasing positive integers, got {_show(value)}"
        ) from None
    for b in items:
        if not _is_int(b) or int(b) < 1:
            raise ValueError(
                f"{where}: boundaries must be strictly increasing positive integers, "
                f"got {_show(b)} in {list(map(_show, items))}"
            )
    out = tuple(int(b) for b in items)
    for a, b in zip(out, out[1:]):
        if b <= a:
            raise ValueError(
                f"{where}: boundaries must be strictly increasing positive integers, got {b} after {a} in {list(out)}"
            )
    return out


# --------------------------------------------------------------------------- base


class Schedule:
    """Base class: subclasses are frozen dataclasses implementing ``_eval``.

    ``_eval(t)`` receives a 1-D int64 array of step indices (all ≥ 0) and returns a float64
    array of the same shape. ``__call__`` and ``values`` both go through it.
    """

    __slots__ = ()

    def _eval(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, t: int) -> float:
        """The value at update step ``t`` (``t = 0`` is the first update)."""
        i = _step_index(t)
        return float(self._eval(np.array([i], dtype=np.int64))[0])

    def values(self, n: int) -> np.ndarray:
        """The first ``n`` values ``[self(0), ..., self(n - 1)]`` as a float64 array."""
        if not _is_int(n) or int(n) < 0:
            raise ValueError(f"values: n must be an integer >= 0, got {_show(n)}")
        out = self._eval(np.arange(int(n), dtype=np.int64))
        return np.asarray(out, dtype=np.float64)


def _full(t: np.ndarray, value: float) -> np.ndarray:
    return np.full(t.shape, value, dtype=np.float64)


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Constant(Schedule):
    """η(t) = value."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _real("constant", "value", self.value))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return _full(t, self.value)


@dataclass(frozen=True)
class PiecewiseConstant(Schedule):
    """η(t) = levels[i] for boundaries[i−1] ≤ t < boundaries[i] (lecture 002).

    (The field is called ``levels`` because ``values`` is the method every schedule has.)
    With boundaries t_1 < t_2 < ... < t_k and values η_0, ..., η_k: η_0 for t < t_1,
    η_i for t_i ≤ t < t_{i+1}, η_k for t ≥ t_k. A boundary is the first step of the new value.
    (The lecture writes t_i ≤ t ≤ t_{i+1}, which would give two values at each boundary.)
    """

    boundaries: Sequence[int]  # any sequence given; stored as a tuple
    levels: Sequence[float]  # any sequence given; stored as a tuple of floats

    def __post_init__(self) -> None:
        where = "piecewise_constant"
        b = _boundaries(where, self.boundaries)
        try:
            vals = tuple(self.levels)
        except TypeError:
            raise ValueError(
                f"{where}: values must be a sequence of finite numbers, got {_show(self.levels)}"
            ) from None
        vals = tuple(_real(where, f"values[{i}]", v) for i, v in enumerate(vals))
        if len(vals) != len(b) + 1:
            raise ValueError(f"{where}: values must have len(boundaries) + 1 = {len(b) + 1} entries, got {len(vals)}")
        object.__setattr__(self, "boundaries", b)
        object.__setattr__(self, "levels", vals)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(np.asarray(self.boundaries, dtype=np.int64), t, side="right")
        return np.asarray(self.levels, dtype=np.float64)[idx]


@dataclass(frozen=True)
class Exponential(Schedule):
    """η(t) = init · e^{−decay_rate·t} (lecture 002's exponential decay, λ = decay_rate)."""

    init: float
    decay_rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _real("exponential", "init", self.init))
        object.__setattr__(self, "decay_rate", _real("exponential", "decay_rate", self.decay_rate, minimum=0))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.init * np.exp(-self.decay_rate * t.astype(np.float64))


@dataclass(frozen=True)
class Polynomial(Schedule):
    """η(t) = init · (beta·t + 1)^{−alpha} (lecture 002's polynomial decay).

    ``alpha=0.5, beta=0.1`` is the lecture's ``polynomial_lr`` (see the module docstring for its
    off-by-one counter).
    """

    init: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _real("polynomial", "init", self.init))
        object.__setattr__(self, "alpha", _real("polynomial", "alpha", self.alpha, minimum=0))
        object.__setattr__(self, "beta", _real("polynomial", "beta", self.beta, minimum=0))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        return self.init * (self.beta * t.astype(np.float64) + 1.0) ** (-self.alpha)


@dataclass(frozen=True)
class Step(Schedule):
    """η(t) = init · gamma^{⌊t / step_size⌋} (torch ``StepLR``)."""

    init: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _real("step", "init", self.init))
        object.__setattr__(self, "step_size", _int("step", "step_size", self.step_size, minimum=1))
        object.__setattr__(self, "gamma", _real("step", "gamma", self.gamma, minimum=0))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        k = (t // self.step_size).astype(np.float64)
        return self.init * np.power(self.gamma, k)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing from ``init`` to ``final`` over ``total_steps``, then ``final``.

    η(t) = final + (init − final)·(1 + cos(π t / T))/2 for t < T, and η(t) = final for t ≥ T
    (torch ``CosineAnnealingLR`` with eta_min = final, without restarts).
    """

    init: float
    total_steps: int
    final: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _real("cosine", "init", self.init))
        object.__setattr__(self, "total_steps", _int("cosine", "total_steps", self.total_steps, minimum=1))
        object.__setattr__(self, "final", _real("cosine", "final", self.final))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        frac = np.minimum(t, self.total_steps).astype(np.float64) / self.total_steps
        out = self.final + (self.init - self.final) * 0.5 * (1.0 + np.cos(np.pi * frac))
        return np.where(t >= self.total_steps, self.final, out)


@dataclass(frozen=True)
class Linear(Schedule):
    """Linear ramp from ``init`` (t = 0) to ``final`` (t = steps), then constant ``final``.

    η(t) = init + (final − init)·t/steps for t < steps, η(t) = final for t ≥ steps
    (optax ``linear_schedule``). Works in either direction (decay or increase).
    """

    init: float
    final: float
    steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "init", _real("linear", "init", self.init))
        object.__setattr__(self, "final", _real("linear", "final", self.final))
        object.__setattr__(self, "steps", _int("linear", "steps", self.steps, minimum=1))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        frac = np.minimum(t, self.steps).astype(np.float64) / self.steps
        out = self.init + (self.final - self.init) * frac
        return np.where(t >= self.steps, self.final, out)


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up in front of another schedule.

    With peak = schedule(0) and W = warmup_steps:
    η(t) = peak·(start + (1 − start)·t/W) for t < W (from start·peak at t = 0 up to peak),
    η(t) = schedule(t − W) for t ≥ W (the wrapped schedule, shifted by W).
    ``start`` is a fraction of the peak (0 = from zero).
    """

    schedule: Schedule
    warmup_steps: int
    start: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, Schedule):
            raise ValueError(f"warmup: schedule must be a ravine schedule, got {type(self.schedule).__name__}")
        object.__setattr__(self, "warmup_steps", _int("warmup", "warmup_steps", self.warmup_steps, minimum=1))
        object.__setattr__(self, "start", _real("warmup", "start", self.start, minimum=0))

    def _eval(self, t: np.ndarray) -> np.ndarray:
        w = self.warmup_steps
        peak = float(self.schedule._eval(np.zeros(1, dtype=np.int64))[0])
        ramp = peak * (self.start + (1.0 - self.start) * (np.minimum(t, w) / w))
        after = self.schedule._eval(np.maximum(t - w, 0))
        return np.where(t < w, ramp, after)


@dataclass(frozen=True)
class Join(Schedule):
    """Schedules one after another (optax ``join_schedules``).

    With boundaries b_1 < ... < b_k and schedules s_0, ..., s_k: η(t) = s_0(t) for t < b_1 and
    η(t) = s_i(t − b_i) for b_i ≤ t < b_{i+1}: each later schedule restarts its own clock at
    its boundary.
    """

    schedules: tuple[Schedule, ...]
    boundaries: Sequence[int]  # any sequence given; stored as a tuple

    def __post_init__(self) -> None:
        where = "join"
        try:
            scheds = tuple(self.schedules)
        except TypeError:
            raise ValueError(
                f"{where}: schedules must be a sequence of ravine schedules, got {type(self.schedules).__name__}"
            ) from None
        if not scheds:
            raise ValueError(f"{where}: schedules must contain at least one schedule, got none")
        for i, s in enumerate(scheds):
            if not isinstance(s, Schedule):
                raise ValueError(f"{where}: schedules[{i}] must be a ravine schedule, got {type(s).__name__}")
        b = _boundaries(where, self.boundaries)
        if len(b) != len(scheds) - 1:
            raise ValueError(
                f"{where}: boundaries must have len(schedules) − 1 = {len(scheds) - 1} entries, got {len(b)}"
            )
        object.__setattr__(self, "schedules", scheds)
        object.__setattr__(self, "boundaries", b)

    def _eval(self, t: np.ndarray) -> np.ndarray:
        out = self.schedules[0]._eval(t)
        out = np.array(out, dtype=np.float64, copy=True)
        for b, s in zip(self.boundaries, self.schedules[1:]):
            mask = t >= b
            if np.any(mask):
                out[mask] = s._eval(t[mask] - b)
        return out


# --------------------------------------------------------------------------- factories


def constant(value: float) -> Constant:
    """η(t) = value."""
    return Constant(value)


def piecewise_constant(boundaries: Sequence[int], values: Sequence[float]) -> PiecewiseConstant:
    """η(t) = values[i] for boundaries[i−1] ≤ t < boundaries[i] (lecture 002).

    ``len(values) == len(boundaries) + 1``; boundaries are strictly increasing positive ints,
    each the first step at which the next value applies. Example:
    ``piecewise_constant([10, 20], [0.1, 0.01, 0.001])`` is 0.1 for t = 0..9, 0.01 for
    t = 10..19 and 0.001 from t = 20 on.
    """
    return PiecewiseConstant(boundaries, values)


def exponential(init: float, decay_rate: float) -> Exponential:
    """η(t) = init·e^{−decay_rate·t} (lecture 002). Lecture 002's ``exponential_lr`` gives, at its
    k-th call, ``exponential(1.0, 0.1)(k)`` -- its first value is e^{−0.1}; see the module
    docstring."""
    return Exponential(init, decay_rate)


def polynomial(init: float, alpha: float, beta: float) -> Polynomial:
    """η(t) = init·(beta·t + 1)^{−alpha} (lecture 002). ``polynomial(1.0, 0.5, 0.1)(k)`` is lecture
    002's ``polynomial_lr`` at its k-th call (k ≥ 1)."""
    return Polynomial(init, alpha, beta)


def step(init: float, step_size: int, gamma: float = 0.1) -> Step:
    """η(t) = init·gamma^{⌊t/step_size⌋} (torch ``StepLR``)."""
    return Step(init, step_size, gamma)


def cosine(init: float, total_steps: int, final: float = 0.0) -> Cosine:
    """Cosine annealing from init to final over total_steps, then constant final."""
    return Cosine(init, total_steps, final)


def linear(init: float, final: float, steps: int) -> Linear:
    """Linear ramp from init (t = 0) to final (t = steps), then constant final."""
    return Linear(init, final, steps)


def momentum_anneal(start: float = 0.5, end: float = 0.9, *, steps: int) -> Linear:
    """Lecture 004's momentum schedule: "initialized at 0.5, and gradually annealed to 0.9".

    The lecture does not say how fast or in what shape; ravine uses a linear ramp over ``steps``
    updates, then holds ``end``: ``linear(start, end, steps)``. Pass it as the momentum of any
    optimizer that accepts a schedule for it.
    """
    return Linear(start, end, steps)


def warmup(schedule: Schedule | float, warmup_steps: int, start: float = 0.0) -> Warmup:
    """Linear warm-up from start·peak to peak = schedule(0) over warmup_steps, then
    ``schedule(t − warmup_steps)``. A plain number is wrapped with :func:`constant`."""
    return Warmup(as_schedule(schedule), warmup_steps, start)


def join(schedules: Sequence[Schedule | float], boundaries: Sequence[int]) -> Join:
    """optax ``join_schedules``: schedules[i] runs from boundaries[i−1] on, seeing
    t − boundaries[i−1]. Plain numbers are wrapped with :func:`constant`."""
    try:
        items = tuple(schedules)
    except TypeError:
        raise ValueError(
            f"join: schedules must be a sequence of ravine schedules, got {type(schedules).__name__}"
        ) from None
    return Join(tuple(as_schedule(s) for s in items), boundaries)


def as_schedule(x: Any) -> Schedule:
    """A schedule from a hyperparameter value: a number becomes ``constant(x)``, a schedule is
    returned unchanged, anything else is refused with a TypeError."""
    if isinstance(x, Schedule):
        return x
    if _is_real(x):
        return Constant(x)
    raise TypeError(
        f"as_schedule: expected a number or a ravine schedule (constant, exponential, ...), got {type(x).__name__}"
    )
