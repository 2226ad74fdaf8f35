"""Adagrad: a per-coordinate step scaled by the root of the summed squared gradients."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import BOOL, LR, NONNEG
from .ops import Array, full_like, sqrt


class AdagradHyper(NamedTuple):
    lr: Annotated[float, LR()]
    lr_decay: Annotated[float, NONNEG(default=0.0)]
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    initial_accumulator_value: Annotated[float, NONNEG()]
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    eps_inside: Annotated[bool, BOOL(kw_only=True)]


class AdagradState(NamedTuple):
    r: Any  # running sum of squared gradients


class AdagradRecord(NamedTuple):
    g: Any
    r: Any
    eta_t: Any
    delta: Any


class AdagradTerms(NamedTuple):
    eta_t: float  # η / (1 + (t − 1)·lr_decay)


class Adagrad(Rule):
    r"""Adagrad (Duchi, Hazan & Singer 2011; lectures 000, 002, 003):

    .. math::
        g &\leftarrow g + \lambda\theta \\
        r &\leftarrow r + g \odot g \qquad (r_0 = \text{initial\_accumulator\_value})\\
        \eta_t &= \eta / (1 + (t-1)\,\text{lr\_decay}) \\
        \Delta\theta &= -\eta_t\, g / (\sqrt{r} + \epsilon)
            \quad\text{or, with eps\_inside,}\quad -\eta_t\, g / \sqrt{r + \epsilon}

    Conventions (docs/conventions.md): ``"torch"`` puts ε outside the root
    (ε = 1e-10, r₀ = 0, η = 1e-2), as does ``"paper"`` (Duchi et al.'s δ + √G).
    ``"keras"`` puts ε inside, √(r + ε), with ε = 1e-7, r₀ = 0.1 and η = 1e-3;
    ``"optax"`` the same with η required (ravine: 1e-2); optax's "no update
    where r = 0" cannot arise since ε > 0. The lectures put ε inside
    (``"lecture000"``: "η/√(ε + r_t)"). Only torch has ``lr_decay``. Keras's
    ``weight_decay`` is decoupled (θ ← θ − ηλθ): ``"keras"`` with λ ≠ 0 is refused.
    Lecture 002 writes s_t = s_{t−1} g_t² (a dropped "+"): read it as r ← r + g²
    (docs/errata.md).
    """

    name = "adagrad"
    title = "Adagrad"
    source = "lecture 000, 002, 003; Duchi et al. 2011; torch.optim.Adagrad"
    conventions = {
        # torch adagrad.py L32-36, L402-427
        "torch": dict(lr=1e-2, eps=1e-10, initial_accumulator_value=0.0, eps_inside=False),
        # keras adagrad.py L37-39, L78-92
        "keras": dict(lr=1e-3, eps=1e-7, initial_accumulator_value=0.1, eps_inside=True),
        # optax alias.adagrad L329-333 + scale_by_rss L45-75 (lr required)
        "optax": dict(lr=1e-2, eps=1e-7, initial_accumulator_value=0.1, eps_inside=True),
        "paper": dict(lr=1e-2, eps=1e-10, initial_accumulator_value=0.0, eps_inside=False),
        "lecture000": dict(lr=1e-2, eps=1e-8, initial_accumulator_value=0.0, eps_inside=True),
    }
    symbols = {"g": "g", "r": "r", "eta_t": "η_t", "delta": "Δθ"}
    Hyper, State, Record, Terms = AdagradHyper, AdagradState, AdagradRecord, AdagradTerms
    coupled_decay_only = True  # Keras decays decoupled: its preset with weight_decay != 0 is refused

    @staticmethod
    def init_state(h: AdagradHyper, theta: Array) -> AdagradState:
        return AdagradState(r=full_like(theta, h.initial_accumulator_value))

    @staticmethod
    def terms(h: AdagradHyper, t: int) -> AdagradTerms:
        return AdagradTerms(eta_t=h.lr / (1 + (t - 1) * h.lr_decay))

    @staticmethod
    def update(h: AdagradHyper, state: AdagradState, g: Array, theta: Array, k: AdagradTerms) -> AdagradRecord:
        if h.weight_decay != 0:
            g = g + h.weight_decay * theta
        r = state.r + g * g
        if h.eps_inside:
            delta = -k.eta_t * g / sqrt(r + h.eps)
        else:
            delta = -k.eta_t * g / (sqrt(r) + h.eps)
        return AdagradRecord(g=g, r=r, eta_t=k.eta_t, delta=delta)
