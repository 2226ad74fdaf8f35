"""Second-order steps (lecture 004): damped Newton and the exact step along the
gradient on a quadratic. They need the Hessian, so they run on analytic
problems (the runner passes H); they are not elementwise."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import LR, NONNEG
from .ops import Array, dot, identity_like, is_positive_definite, matvec, solve, where


class NewtonHyper(NamedTuple):
    lr: Annotated[float, LR()]  # step scale on the Newton direction (1 = the full step)
    damping: Annotated[float, NONNEG()]  # λ in (H + λI)
    fallback_lr: Annotated[float, LR()]  # gradient step where H + λI is not positive definite


class NewtonState(NamedTuple):
    pass


class NewtonRecord(NamedTuple):
    g: Any
    newton_ok: Any  # True where H + λI is positive definite
    delta: Any


class Newton(Rule):
    r"""Damped Newton's method with a gradient-step fallback (lecture 004):

    .. math::
        \Delta\theta = \begin{cases} -\eta\,(H + \lambda I)^{-1} g & H + \lambda I \succ 0 \\
                                     -\eta_{fb}\, g & \text{otherwise}\end{cases}

    With η = 1, λ = 0 it reaches the minimum of a positive definite quadratic
    in one step. Where the damped Hessian has a non-positive eigenvalue the
    Newton direction need not descend (it heads for saddles and maxima), so
    the rule falls back to plain gradient descent with ``fallback_lr``.
    """

    name = "newton"
    title = "Newton (damped, with fallback)"
    source = "lecture 004 (Newton's method); Nocedal & Wright 2006, §3.4"
    conventions = {"torch": dict(lr=1.0, damping=0.0, fallback_lr=1e-2)}
    elementwise = False
    needs = ("hessian",)
    symbols = {"g": "g", "newton_ok": "H+λI ≻ 0", "delta": "Δθ"}
    Hyper, State, Record = NewtonHyper, NewtonState, NewtonRecord

    @staticmethod
    def init_state(h: NewtonHyper, theta: Array) -> NewtonState:
        return NewtonState()

    @staticmethod
    def update(h: NewtonHyper, state: NewtonState, g: Array, theta: Array, k: tuple[()], H: Array) -> NewtonRecord:
        H_damped = H + h.damping * identity_like(H)
        ok = is_positive_definite(H_damped)
        # solve only where it is safe; elsewhere solve with the identity (discarded below)
        safe_H = where(ok[..., None, None], H_damped, identity_like(H) + 0 * H_damped)
        newton = -h.lr * solve(safe_H, g)
        delta = where(ok[..., None], newton, -h.fallback_lr * g)
        return NewtonRecord(g=g, newton_ok=ok, delta=delta)


class ExactStepHyper(NamedTuple):
    lr: Annotated[float, LR()]  # fallback step where gᵀHg ≤ 0


class ExactStepState(NamedTuple):
    pass


class ExactStepRecord(NamedTuple):
    g: Any
    gHg: Any
    eps_star: Any  # the step size used
    delta: Any


class ExactStep(Rule):
    r"""The optimal step along the gradient on a quadratic (lecture 004):

    .. math::
        \epsilon^* = \frac{g^\top g}{g^\top H g}, \qquad \Delta\theta = -\epsilon^* g

    On a quadratic this is exact line search (steepest descent with the best
    step). Where gᵀHg ≤ 0 the quadratic model is unbounded along −g and, as
    the lecture says, the method "switches back" to the base learning rate ``lr``.
    """

    name = "exact_step"
    title = "Exact quadratic step gᵀg / gᵀHg"
    source = "lecture 004 (ε* = gᵀg / gᵀHg)"
    conventions = {"torch": dict(lr=1e-2)}
    elementwise = False
    needs = ("hessian",)
    symbols = {"g": "g", "gHg": "gᵀHg", "eps_star": "ε*", "delta": "Δθ"}
    Hyper, State, Record = ExactStepHyper, ExactStepState, ExactStepRecord

    @staticmethod
    def init_state(h: ExactStepHyper, theta: Array) -> ExactStepState:
        return ExactStepState()

    @staticmethod
    def update(
        h: ExactStepHyper, state: ExactStepState, g: Array, theta: Array, k: tuple[()], H: Array
    ) -> ExactStepRecord:
        gg = dot(g, g)
        gHg = dot(g, matvec(H, g))
        curved = gHg > 0
        eps_star = where(curved, gg / where(curved, gHg, 1.0 + 0 * gHg), h.lr + 0 * gg)
        return ExactStepRecord(g=g, gHg=gHg, eps_star=eps_star, delta=-eps_star[..., None] * g)
