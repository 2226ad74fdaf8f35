"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import LR, NONNEG, UNIT
from .ops import Array, add_scaled, maximum, zeros_like


class AdamaxHyper(NamedTuple):
    lr: Annotated[float, LR()]
    beta1: Annotated[float, UNIT(pair="betas")]
    beta2: Annotated[float, UNIT(pair="betas")]
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]


class AdamaxState(NamedTuple):
    s: Any  # first moment (torch: exp_avg)
    u: Any  # exponentially weighted infinity norm (torch: exp_inf)


class AdamaxRecord(NamedTuple):
    g: Any
    s: Any
    u: Any
    eta_t: Any
    delta: Any


class AdamaxTerms(NamedTuple):
    eta_t: float  # η / (1 − β1^t): the bias correction of s, folded into the step size


class Adamax(Rule):
    r"""Adamax (Kingma & Ba 2015, §7.1 and Algorithm 2) as in torch.optim.Adamax:

    .. math::
        g &\leftarrow g + \lambda\theta \\
        s &\leftarrow \beta_1 s + (1-\beta_1)\, g \\
        u &\leftarrow \max(\beta_2 u,\; |g| + \epsilon) \\
        \Delta\theta &= -\frac{\eta}{1-\beta_1^t}\, \frac{s}{u}

    Only s is bias-corrected (u is a max, not an average: it has no bias towards 0 to
    correct). The paper's u = max(β₂u, |g|) has no ε; torch adds ε to |g| inside the max
    (never after it), which keeps u > 0 when g and u start at 0. Weight decay is coupled
    (torch's L2, g ← g + λθ).

    Order of operations (torch's ``_single_tensor_adamax``): η/(1 − β₁ᵗ) is one Python float
    per step (``terms``) and θ ← θ − (η_t·s)/u, as torch's ``addcdiv`` rounds it.
    """

    name = "adamax"
    title = "Adamax (infinity norm)"
    source = "Kingma & Ba 2015 (arXiv:1412.6980) §7.1, Algorithm 2; torch.optim.Adamax (torch/optim/adamax.py)"
    conventions = {
        # torch.optim.Adamax (adamax.py L29-42)
        "torch": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    }
    symbols = {"g": "g", "s": "s", "u": "u", "eta_t": "η_t", "delta": "Δθ"}
    Hyper, State, Record, Terms = AdamaxHyper, AdamaxState, AdamaxRecord, AdamaxTerms
    moves = ("s", "gradient")

    @staticmethod
    def init_state(h: AdamaxHyper, theta: Array) -> AdamaxState:
        return AdamaxState(s=zeros_like(theta), u=zeros_like(theta))

    @staticmethod
    def terms(h: AdamaxHyper, t: int) -> AdamaxTerms:
        return AdamaxTerms(eta_t=h.lr / (1 - h.beta1**t))

    @staticmethod
    def update(h: AdamaxHyper, state: AdamaxState, g: Array, theta: Array, k: AdamaxTerms) -> AdamaxRecord:
        if h.weight_decay != 0:
            g = add_scaled(g, h.weight_decay, theta)  # torch: grad.add(param, alpha=λ)
        s = h.beta1 * state.s + (1 - h.beta1) * g
        u = maximum(h.beta2 * state.u, abs(g) + h.eps)
        return AdamaxRecord(g=g, s=s, u=u, eta_t=k.eta_t, delta=-(k.eta_t * s / u))
