"""RAdam: Adam with its variance rectified, plain momentum SGD while the rectifier is undefined."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import BOOL, LR, NONNEG, UNIT
from .ops import Array, add_scaled, sqrt, where, zeros_like


class RAdamHyper(NamedTuple):
    lr: Annotated[float, LR()]
    beta1: Annotated[float, UNIT(pair="betas")]
    beta2: Annotated[float, UNIT(pair="betas")]
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    decoupled_weight_decay: Annotated[bool, BOOL(default=False)]


class RAdamState(NamedTuple):
    s: Any  # first moment (torch: exp_avg)
    r: Any  # second moment (torch: exp_avg_sq)


class RAdamRecord(NamedTuple):
    g: Any
    s: Any
    r: Any
    s_hat: Any
    rho_t: Any
    rect: Any
    delta: Any
    theta: Any  # θ_{t+1}: decoupled decay first, then the step (torch's two roundings)


class RAdamTerms(NamedTuple):
    bc1: float  # 1 − β1^t
    sqrt_bc2: float  # √(1 − β2^t)
    rho_t: float  # ρ_t, the length of the approximated simple moving average
    rect: float  # the rectifier r_t (0.0 while warming up)
    warmup: bool  # ρ_t ≤ 5: the step is η ŝ, without the adaptive denominator (per configuration
    # in the batched benchmark, where β₂ is one per configuration: then an array of flags)


class RAdam(Rule):
    r"""RAdam (Liu et al. 2020, Algorithm 2) as in torch.optim.RAdam, with weight decay:

    .. math::
        g &\leftarrow g + \lambda\theta \quad\text{(coupled; decoupled: } \theta \leftarrow \theta(1 - \eta\lambda)
            \text{ before the step)} \\
        s &\leftarrow \beta_1 s + (1-\beta_1)\, g, \qquad r \leftarrow \beta_2 r + (1-\beta_2)\, g \odot g \\
        \hat s &= s / (1-\beta_1^t) \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
            \rho_t = \rho_\infty - \frac{2t\,\beta_2^t}{1-\beta_2^t} \\
        \rho_t > 5:&\quad r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_t}},
            \qquad \Delta\theta = -\eta\, \hat s\, \frac{\sqrt{1-\beta_2^t}}{\sqrt r + \epsilon}\, r_t \\
        \rho_t \le 5:&\quad \Delta\theta = -\eta\, \hat s

    The threshold ρ_t > 5 is torch's (the paper's Algorithm 2 writes ρ_t > 4; torch takes 5,
    where the rectifier's variance estimate is tractable): with β₂ = 0.999 the first five steps
    are momentum SGD on ŝ. ε is added to √r before the bias correction √(1 − β₂ᵗ), as torch
    does. ``decoupled_weight_decay=True`` is torch's AdamW-style decay, θ ← θ(1 − ηλ) before
    the step.

    Order of operations (torch's ``_single_tensor_radam``): the step is
    ((ŝ·η)·(√(1 − β₂ᵗ)/(√r + ε)))·r_t, and ρ_t, r_t and √(1 − β₂ᵗ) are computed once per step
    in Python floats (``terms``), as torch computes them from its step count.
    """

    name = "radam"
    title = "RAdam (rectified Adam)"
    source = (
        "Liu et al. 2020, On the Variance of the Adaptive Learning Rate and Beyond (arXiv:1908.03265), "
        "Algorithm 2; torch.optim.RAdam (torch/optim/radam.py)"
    )
    conventions = {
        # torch.optim.RAdam (radam.py L31-45)
        "torch": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False),
    }
    symbols = {"g": "g", "s": "s", "r": "r", "s_hat": "ŝ", "rho_t": "ρ_t", "rect": "r_t", "delta": "Δθ"}
    Hyper, State, Record, Terms = RAdamHyper, RAdamState, RAdamRecord, RAdamTerms
    moves = ("s", "gradient")

    @staticmethod
    def init_state(h: RAdamHyper, theta: Array) -> RAdamState:
        return RAdamState(s=zeros_like(theta), r=zeros_like(theta))

    @staticmethod
    def terms(h: RAdamHyper, t: int) -> RAdamTerms:
        # torch's expressions, in its order (radam.py, _single_tensor_radam)
        bc2 = 1 - h.beta2**t
        rho_inf = 2 / (1 - h.beta2) - 1
        rho_t = rho_inf - 2 * t * (h.beta2**t) / bc2
        past = rho_t > 5.0

        # r_t² is read only past the warm-up, as torch does: before it the ratio can be < 0 or 0/0
        def r2(rho: Any) -> Any:
            return (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)

        warmup: Any  # a flag, or an array of flags
        if isinstance(past, bool):  # one configuration: Python numbers
            warmup, rect = not past, (r2(rho_t) ** 0.5 if past else 0.0)
        else:  # one β₂ per configuration (the batched benchmark): any ρ > 5 stands in where not past
            warmup, rect = ~past, where(past, sqrt(r2(where(past, rho_t, 8.0))), 0.0)
        return RAdamTerms(bc1=1 - h.beta1**t, sqrt_bc2=bc2**0.5, rho_t=rho_t, rect=rect, warmup=warmup)

    @staticmethod
    def update(h: RAdamHyper, state: RAdamState, g: Array, theta: Array, k: RAdamTerms) -> RAdamRecord:
        theta_d = theta  # θ after decoupled weight decay
        if h.weight_decay != 0:
            if h.decoupled_weight_decay:
                theta_d = theta * (1 - h.lr * h.weight_decay)
            else:
                g = add_scaled(g, h.weight_decay, theta)  # torch: grad.add(param, alpha=λ)
        s = h.beta1 * state.s + (1 - h.beta1) * g
        r = h.beta2 * state.r + (1 - h.beta2) * g * g
        s_hat = s / k.bc1
        move = s_hat * h.lr  # the warm-up's step: momentum SGD on ŝ
        if k.warmup is not True:
            adaptive = move * (k.sqrt_bc2 / (sqrt(r) + h.eps)) * k.rect
            move = adaptive if k.warmup is False else where(k.warmup, move, adaptive)
        delta = -move
        if h.weight_decay != 0 and h.decoupled_weight_decay:
            delta = delta - h.lr * h.weight_decay * theta
        return RAdamRecord(g=g, s=s, r=r, s_hat=s_hat, rho_t=k.rho_t, rect=k.rect, delta=delta, theta=theta_d - move)
