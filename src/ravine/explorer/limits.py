"""The explorer's bounds on one request: its deadline, and the checks of its work and memory.

Bounds (:data:`~ravine.explorer.schemas.LIMITS`): every integer hyperparameter (a count such as
``window``) ``<= max_count``; steps × optimizers ``<= max_work``; Σ (steps + 1) × recorded
state numbers ``<= max_state_values``; Σ steps × expression nodes per step
(:meth:`SymbolicProblem.cost`: f and gradient, and the Hessian for second-order rules)
``<= max_cost``. :func:`under_deadline` runs a computation under a deadline: every evaluation
of a :func:`guarded` problem and every replayed step calls :func:`check_deadline`, which raises
:class:`Overloaded` past it (or once the explorer is closing).
"""

from __future__ import annotations

import copy
import threading
import time

import numpy as np

from ravine.rules import RULES, get_rule, normalize_name
from ravine.rules.hyper import field_map

from .schemas import LIMITS, OptimizerSpec, RunSetup

__all__ = [
    "BadRequest",
    "Overloaded",
    "check_deadline",
    "time_left",
    "under_deadline",
    "guarded",
    "one_line",
    "build_rule",
    "check_counts",
    "check_setup",
    "check_cost",
]


class BadRequest(ValueError):
    """A request that is well-formed but cannot be served; becomes a 422 with its message."""


class Overloaded(Exception):
    """The request passed its time limit (504), or the explorer is stopping (503)."""

    def __init__(self, message: str, status: int = 504):
        super().__init__(message)
        self.status = status


_deadline = threading.local()  # .at: the monotonic time limit, .closing: the explorer's Event


def check_deadline() -> None:
    """Raise :class:`Overloaded` when this thread's computation is past its limit."""
    closing = getattr(_deadline, "closing", None)
    if closing is not None and closing.is_set():
        raise Overloaded("the explorer is stopping", 503)
    at = getattr(_deadline, "at", None)
    if at is not None and time.monotonic() > at:
        raise Overloaded(f"the request passed its time limit of {LIMITS['request_seconds']:g} s")


def time_left(default: float) -> float:
    """Seconds left to this thread's computation, at most ``default`` (``default`` without one)."""
    at = getattr(_deadline, "at", None)
    return default if at is None else max(0.0, min(default, at - time.monotonic()))


def under_deadline(fn, args, seconds: float, closing: threading.Event):
    """``fn(*args)`` in this thread with a deadline ``seconds`` from now, cut short by ``closing``."""
    _deadline.at = time.monotonic() + seconds
    _deadline.closing = closing
    try:
        check_deadline()
        return fn(*args)
    finally:
        _deadline.at = _deadline.closing = None


def guarded(problem):
    """A shallow copy of ``problem`` whose every evaluation checks the deadline first."""
    q = copy.copy(problem)
    for name in ("_f", "_grad", "_hessian"):
        inner = getattr(problem, name)

        def checked(x, inner=inner):
            check_deadline()
            return inner(x)

        setattr(q, name, checked)
    return q


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (what a 422 answer says)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_rule(spec: OptimizerSpec):
    """The rule ``spec`` names: the user's values go in with the convention's (a convention may
    have no default for one: optax's Adadelta η, ``hyper.Required``)."""
    return get_rule(spec.name, convention=spec.convention, **(spec.hyper or {}))


def check_counts(spec: OptimizerSpec) -> None:
    """Every integer hyperparameter (a count such as ``window``) is at most ``max_count``."""
    cls = RULES.get(normalize_name(spec.name))
    if cls is None:
        return  # get_rule says what is wrong
    fields = field_map(cls.settable())
    for k, v in spec.hyper.items():
        f = fields.get(k)
        if f is not None and f.kind.type == "int" and isinstance(v, int) and v > LIMITS["max_count"]:
            raise BadRequest(
                f"{k}: must be <= {LIMITS['max_count']} in the explorer (memory grows with {k} × steps), got {v}"
            )


def check_setup(setup: RunSetup) -> list:
    """The setup's rules, built and checked against ``max_work``, ``max_count`` and
    ``max_state_values``; :class:`BadRequest` naming the optimizer otherwise."""
    work = setup.steps * len(setup.optimizers)
    if work > LIMITS["max_work"]:
        raise BadRequest(
            f"steps × optimizers must be <= {LIMITS['max_work']}, got {setup.steps} × {len(setup.optimizers)} = {work}"
        )
    rules = []
    for i, spec in enumerate(setup.optimizers):
        try:
            check_counts(spec)
            rules.append(build_rule(spec))
        except ValueError as exc:
            raise BadRequest(f"optimizers[{i}]: {one_line(exc)}") from None
    values = 0
    for rule in rules:
        st = rule.init(np.zeros((1, 2)))
        per_step = sum(int(np.size(v)) for v in st.state) + 8  # θ, loss, ‖g‖, gradient …
        values += (setup.steps + 1) * per_step
    if values > LIMITS["max_state_values"]:
        raise BadRequest(
            f"steps × recorded state: {values} numbers for these optimizers over {setup.steps} steps; "
            f"the limit is {LIMITS['max_state_values']} (fewer steps or a smaller window)"
        )
    return rules


def _step_cost(problem, rule) -> int:
    """Expression nodes one step of ``rule`` evaluates (a problem without a formula: 50)."""
    cost = getattr(problem, "cost", None)
    if cost is None:
        return 50
    c = cost()
    n = c["f"] + c["grad"] * (2 if "lookahead" in rule.needs else 1)
    if "hessian" in rule.needs:
        n += c["hessian"]
    return max(n, 1)


def check_cost(rules, problem, setup: RunSetup) -> None:
    """Σ steps × expression nodes per step of ``rules`` on ``problem`` is at most ``max_cost``."""
    cost = sum(setup.steps * _step_cost(problem, r) for r in rules)
    if cost > LIMITS["max_cost"]:
        per = ", ".join(str(_step_cost(problem, r)) for r in rules)
        raise BadRequest(
            f"work: {setup.steps} steps × expression nodes per step ({per}) = {cost}; the limit is "
            f"{LIMITS['max_cost']} (fewer steps or optimizers, or a simpler formula)"
        )
