"""ASGD: SGD with a decaying step and a running (Polyak–Ruppert) average of the iterates."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import LR, NONNEG, REAL
from .ops import Array, add_scaled, full_like, where, zeros_like


class ASGDHyper(NamedTuple):
    lr: Annotated[float, LR()]
    lambd: Annotated[float, NONNEG(doc="the decay term: θ ← θ(1 − λη_t) and η_t = η/(1 + λη t)^α")]
    alpha: Annotated[float, REAL(doc="the power of the step-size decay η_t = η/(1 + λη t)^α")]  # torch: unchecked
    t0: Annotated[float, REAL(doc="the step after which the average θ̄ starts")]  # torch: unchecked
    weight_decay: Annotated[float, NONNEG(default=0.0)]


class ASGDState(NamedTuple):
    eta: Any  # η_t, the step size of this step (torch: one number per parameter)
    mu: Any  # μ_t, the averaging weight of this step (torch: one number per parameter)
    ax: Any  # θ̄, the average of the iterates


class ASGDRecord(NamedTuple):
    g: Any
    delta: Any
    theta: Any  # θ_{t+1} in torch's order: the decay θ(1 − λη_t), then − η_t g
    ax: Any
    eta: Any  # η_{t+1}
    mu: Any  # μ_{t+1}


class ASGDTerms(NamedTuple):
    eta_next: float  # η_{t+1} = η / (1 + λ η t)^α
    mu_next: float  # μ_{t+1} = 1 / max(1, t − t0)


class ASGD(Rule):
    r"""Averaged SGD (Polyak & Juditsky 1992; the step-size schedule of Bottou 2012, §5.3) as in
    torch.optim.ASGD:

    .. math::
        g &\leftarrow g + \lambda_{wd}\,\theta \\
        \theta &\leftarrow \theta\,(1 - \lambda\eta_t) - \eta_t\, g \\
        \bar\theta &\leftarrow \bar\theta + \mu_t\,(\theta - \bar\theta) \quad (\bar\theta \leftarrow \theta \text{ while } \mu_t = 1) \\
        \eta_{t+1} &= \eta / (1 + \lambda\eta\, t)^{\alpha}, \qquad \mu_{t+1} = 1 / \max(1,\, t - t_0)

    with η₁ = η and μ₁ = 1. θ̄ (``ax``) is the Polyak–Ruppert average of the iterates from
    step t₀ on: it is kept, not used — θ̄ is the estimate to evaluate, θ the one that moves.
    With torch's defaults (t₀ = 10⁶) the average is the last iterate for the first million
    steps. λ (``lambd``) both shrinks θ and decays the step size; λ_wd (``weight_decay``) is
    torch's coupled L2.

    η_t and μ_t are state, as in torch: η_{t+1} is computed at the end of step t from the
    learning rate *of step t*, so a scheduler's new η reaches the step size one step later,
    exactly as in torch.optim.ASGD. The rule keeps η and μ per coordinate (every coordinate
    holds the same number); ``ravine.optim.ASGD`` publishes them as one number per
    parameter, as torch does.
    """

    name = "asgd"
    title = "ASGD (averaged SGD)"
    source = (
        "Polyak & Juditsky 1992, Acceleration of stochastic approximation by averaging (SIAM J. Control "
        "Optim. 30(4)); Bottou 2012, Stochastic gradient descent tricks, §5.3; torch.optim.ASGD (torch/optim/asgd.py)"
    )
    conventions = {
        # torch.optim.ASGD (asgd.py L29-42)
        "torch": dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0),
    }
    symbols = {"g": "g", "eta": "η_{t+1}", "mu": "μ_{t+1}", "ax": "θ̄", "delta": "Δθ"}  # the record holds the next η, μ
    Hyper, State, Record, Terms = ASGDHyper, ASGDState, ASGDRecord, ASGDTerms

    @staticmethod
    def init_state(h: ASGDHyper, theta: Array) -> ASGDState:
        # η₁ = η (written as a sum: η may be one value per configuration, ravine.benchmark.batched)
        return ASGDState(eta=zeros_like(theta) + h.lr, mu=full_like(theta, 1.0), ax=zeros_like(theta))

    @staticmethod
    def terms(h: ASGDHyper, t: int) -> ASGDTerms:
        # torch's expressions (asgd.py, _single_tensor_asgd), with its step count t
        return ASGDTerms(eta_next=h.lr / ((1 + h.lambd * h.lr * t) ** h.alpha), mu_next=1 / max(1.0, t - h.t0))

    @staticmethod
    def update(h: ASGDHyper, state: ASGDState, g: Array, theta: Array, k: ASGDTerms) -> ASGDRecord:
        if h.weight_decay != 0:
            g = add_scaled(g, h.weight_decay, theta)  # torch: grad.add(param, alpha=λ_wd)
        eta = state.eta
        theta_d = theta * (1 - h.lambd * eta)  # torch: param.mul_(1 − λη_t)
        new_theta = theta_d - eta * g  # torch: param.add_(grad, alpha=−η_t)
        # torch copies θ into θ̄ while μ_t = 1 (ax.copy_(param)): θ̄ + 1·(θ − θ̄) need not round to θ
        ax = where(state.mu == 1, new_theta, state.ax + (new_theta - state.ax) * state.mu)
        return ASGDRecord(
            g=g,
            delta=new_theta - theta,
            theta=new_theta,
            ax=ax,
            eta=zeros_like(theta) + k.eta_next,  # one number in every coordinate (η may be per configuration)
            mu=zeros_like(theta) + k.mu_next,
        )
