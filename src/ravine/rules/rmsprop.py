"""RMSProp and its relatives: centered/momentum RMSProp (torch), RMSProp with
Nesterov momentum (lecture 000), and the moving-window RMSProp that lecture 45
calls AdaDelta."""

from __future__ import annotations

import math
from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import BOOL, INT, LR, NONNEG, POSITIVE, UNIT
from .ops import Array, ring_put, sqrt, where, window_sum, zeros_like, zeros_stack


class RMSpropHyper(NamedTuple):
    lr: Annotated[float, LR()]
    alpha: Annotated[float, NONNEG(scale="log1m")]  # torch: alpha >= 0
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    momentum: Annotated[float, NONNEG(default=0.0, scale="log1m")]  # torch: momentum >= 0
    centered: Annotated[bool, BOOL(default=False)]
    eps_inside: Annotated[bool, BOOL(kw_only=True)]
    lr_in_buffer: Annotated[
        bool, BOOL(default=False, kw_only=True, doc="keep η inside the momentum buffer (Keras, optax: b ← μb + ηg/den)")
    ]


class RMSpropState(NamedTuple):
    r: Any  # running average of g² ("square_avg")
    m: Any  # running average of g (centered only, else 0.0)
    b: Any  # momentum buffer (momentum > 0 only, else 0.0)


class RMSpropRecord(NamedTuple):
    g: Any
    r: Any
    m: Any
    denom: Any
    b: Any
    delta: Any


class RMSprop(Rule):
    r"""RMSProp (Tieleman & Hinton 2012; lectures 000, 001, 002, 004), with torch's options:

    .. math::
        g &\leftarrow g + \lambda\theta \\
        r &\leftarrow \alpha r + (1-\alpha)\, g \odot g \\
        m &\leftarrow \alpha m + (1-\alpha)\, g  \qquad\text{(centered only)}\\
        \bar r &= r - m \odot m \ \text{ if centered else } r \\
        \text{denom} &= \sqrt{\bar r} + \epsilon \quad\text{(eps\_inside: } \sqrt{\bar r + \epsilon}) \\
        b &\leftarrow \mu b + g / \text{denom}, \quad \Delta\theta = -\eta\, b \qquad (\mu > 0)\\
        \Delta\theta &= -\eta\, g / \text{denom} \qquad (\mu = 0)

    torch calls the decay ``alpha`` (default 0.99) and puts ε outside the root;
    the lectures call it β (γ, ρ) = 0.9 and put ε inside: ``convention="lecture000"``.

    Conventions (docs/conventions.md): ``"torch"`` α = 0.99, ε = 1e-8 outside the
    root (after centering), η = 1e-2. ``"keras"`` ρ = 0.9, ε = 1e-7 inside,
    √(r − m² + ε) when centered, η = 1e-3. ``"optax"`` decay 0.9, ε = 1e-8
    inside (``eps_in_sqrt=True``, its default), η required (ravine: 1e-2).
    Keras and optax keep η inside the momentum buffer (b ← μb + ηg/denom,
    θ ← θ − b): ``lr_in_buffer=True``, set by both presets (the same iterates while η
    is constant, theirs under an η schedule). Not reproduced (off by default, so the
    defaults agree): optax's ``bias_correction=True``, ``initial_scale`` ≠ 0 (TF1's
    r₀ = 1) and ``nesterov=True``. Keras's ``weight_decay`` is decoupled: ``"keras"``
    with ``weight_decay ≠ 0`` is refused with a message.

    Centered, ε outside the root (torch): r − m⊙m as torch's ``addcmul(m, m, value=-1)``
    gives it, fused, so an r that overflowed to inf stays inf (the step is 0, as torch's) where
    inf − inf would be NaN; with ε inside (Keras ``velocity - square(average_grad) + epsilon``,
    optax ``nu - mu**2``) r − m⊙m is computed as those write it.
    """

    name = "rmsprop"
    title = "RMSProp (centered, momentum)"
    source = "lecture 000, 001, 002, lecture 004; Tieleman & Hinton 2012; Graves 2013 (centered); torch.optim.RMSprop"
    conventions = {
        "torch": dict(lr=1e-2, alpha=0.99, eps=1e-8, eps_inside=False),  # torch rmsprop.py L34-39, L316-339
        "keras": dict(lr=1e-3, alpha=0.9, eps=1e-7, eps_inside=True, lr_in_buffer=True),  # L55-59, L109-154
        "optax": dict(lr=1e-2, alpha=0.9, eps=1e-8, eps_inside=True, lr_in_buffer=True),  # alias.rmsprop
        "paper": dict(lr=1e-3, alpha=0.9, eps=1e-8, eps_inside=True),
        "lecture000": dict(lr=1e-2, alpha=0.9, eps=1e-6, eps_inside=True),
        "lecture002": dict(lr=1e-2, alpha=0.9, eps=1e-6, eps_inside=True),
    }
    symbols = {"g": "g", "r": "r", "m": "m", "denom": "√r+ε", "b": "b", "delta": "Δθ"}
    Hyper, State, Record = RMSpropHyper, RMSpropState, RMSpropRecord
    coupled_decay_only = True  # Keras decays decoupled: its preset with weight_decay != 0 is refused
    moves = ("b", "gradient")

    @staticmethod
    def init_state(h: RMSpropHyper, theta: Array) -> RMSpropState:
        return RMSpropState(
            r=zeros_like(theta),
            m=zeros_like(theta) if h.centered else 0.0,
            b=zeros_like(theta) if h.momentum != 0 else 0.0,
        )

    @staticmethod
    def update(h: RMSpropHyper, state: RMSpropState, g: Array, theta: Array, k: tuple[()]) -> RMSpropRecord:
        if h.weight_decay != 0:
            g = g + h.weight_decay * theta
        r = h.alpha * state.r + (1 - h.alpha) * g * g
        m = state.m
        r_bar = r
        if h.centered:
            m = h.alpha * m + (1 - h.alpha) * g
            # ε outside the root is torch's form; torch computes v − m² in one addcmul (fused,
            # rounded once), so an infinite v stays infinite where inf − inf would be NaN
            r_bar = r - m * m if h.eps_inside else where(r == math.inf, r, r - m * m)
        denom = sqrt(r_bar + h.eps) if h.eps_inside else sqrt(r_bar) + h.eps
        b = state.b
        if h.momentum != 0 and h.lr_in_buffer:  # Keras, optax: η inside the buffer
            b = h.momentum * b + h.lr * g / denom
            delta = -b
        elif h.momentum != 0:
            b = h.momentum * b + g / denom
            delta = -h.lr * b
        else:
            delta = -h.lr * g / denom
        return RMSpropRecord(g=g, r=r, m=m, denom=denom, b=b, delta=delta)


class RMSpropNesterovHyper(NamedTuple):
    lr: Annotated[float, LR()]
    alpha: Annotated[float, UNIT()]
    momentum: Annotated[float, UNIT()]
    eps: Annotated[float, POSITIVE()]
    eps_inside: Annotated[bool, BOOL(kw_only=True)]
    lookahead: Annotated[bool, BOOL(default=False, kw_only=True)]


class RMSpropNesterovState(NamedTuple):
    r: Any
    v: Any


class RMSpropNesterovRecord(NamedTuple):
    g: Any
    r: Any
    v: Any
    delta: Any


class _LookaheadNeeds:
    """``needs`` follows the ``lookahead`` flag of each instance (and ``with_hyper``);
    on the class it reads as the default, ()."""

    def __get__(self, obj: Rule | None, cls: type | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("lookahead",) if obj.h.lookahead else ()


class RMSpropNesterov(Rule):
    r"""RMSProp with Nesterov momentum (lecture 000, after Goodfellow et al. algorithm 8.7):

    .. math::
        \tilde\theta &= \theta + \alpha v, \quad g = \nabla L(\tilde\theta) \\
        r &\leftarrow \beta r + (1-\beta)\, g \odot g \\
        v &\leftarrow \alpha v - \frac{\eta}{\sqrt{\epsilon + r}} \odot g \\
        \theta &\leftarrow \theta + v

    (The slide's last line "W_{t+1} = W_t + v_t" should read v_{t+1}.) Here
    ``alpha`` is the decay β of r (torch's name) and ``momentum`` is α.

    ``lookahead=True`` is the slide's form and needs a gradient oracle.
    ``lookahead=False`` keeps φ = θ + αv as the parameters, so one gradient at
    the parameters suffices (what ``ravine.optim`` uses):
    φ ← φ − αv_old + (1 + α)v_new. Both give the same iterates (tested).
    torch has no such optimizer.
    """

    name = "rmsprop_nesterov"
    title = "RMSProp with Nesterov momentum"
    source = "lecture 000; Goodfellow, Bengio & Courville 2016, algorithm 8.7"
    conventions = {
        "torch": dict(lr=1e-2, alpha=0.99, momentum=0.9, eps=1e-8, eps_inside=False),
        "lecture000": dict(lr=1e-2, alpha=0.9, momentum=0.9, eps=1e-6, eps_inside=True),
        "paper": dict(lr=1e-3, alpha=0.9, momentum=0.9, eps=1e-6, eps_inside=True),
    }
    symbols = {"g": "g(θ̃)", "r": "r", "v": "v", "delta": "Δθ"}
    Hyper, State, Record = RMSpropNesterovHyper, RMSpropNesterovState, RMSpropNesterovRecord
    moves = ("v", "displacement")
    needs = _LookaheadNeeds()

    @staticmethod
    def init_state(h: RMSpropNesterovHyper, theta: Array) -> RMSpropNesterovState:
        return RMSpropNesterovState(r=zeros_like(theta), v=zeros_like(theta))

    @staticmethod
    def lookahead(h: RMSpropNesterovHyper, state: RMSpropNesterovState, theta: Array) -> Array:
        """θ̃ = θ + αv, where the gradient is taken (lookahead=True)."""
        return theta + h.momentum * state.v

    @staticmethod
    def update(
        h: RMSpropNesterovHyper, state: RMSpropNesterovState, g: Array, theta: Array, k: tuple[()]
    ) -> RMSpropNesterovRecord:
        r = h.alpha * state.r + (1 - h.alpha) * g * g
        denom = sqrt(h.eps + r) if h.eps_inside else sqrt(r) + h.eps
        v = h.momentum * state.v - h.lr * g / denom
        if h.lookahead:
            delta = v  # θ ← θ + v
        else:
            delta = (1 + h.momentum) * v - h.momentum * state.v  # φ ← φ − αv_old + (1+α)v
        return RMSpropNesterovRecord(g=g, r=r, v=v, delta=delta)


class WindowedRMSpropHyper(NamedTuple):
    lr: Annotated[float, LR()]
    window: Annotated[int, INT()]
    eps: Annotated[float, POSITIVE()]
    eps_inside: Annotated[bool, BOOL(kw_only=True)]


class WindowedRMSpropState(NamedTuple):
    w: Any  # the last `window` squared gradients, a ring: g_t² at row (t − 1) mod W; shape (W, *θ.shape)


class WindowedRMSpropRecord(NamedTuple):
    g: Any
    w: Any
    r: Any
    delta: Any


class WindowedRMSpropTerms(NamedTuple):
    n: int  # number of squared gradients in the window: min(t, W)
    slot: int  # the row step t writes: (t − 1) mod W


class WindowedRMSprop(Rule):
    r"""RMSProp with a moving-WINDOW average: what lecture 45 (lecture 000) calls "AdaDelta".

    .. math::
        r_t &= \frac{1}{n}\sum_{\tau=t-n+1}^{t} g_\tau \odot g_\tau, \qquad n = \min(t, W) \\
        \Delta\theta &= -\frac{\eta}{\sqrt{\epsilon + r_t}} \odot g_t

    The lecture: "AdaDelta instead of taking the exponentially decaying average
    of squared gradient computes the moving window average … window size W".
    It has no unit-correcting numerator, so it is not Zeiler's AdaDelta
    (:class:`ravine.rules.Adadelta`). The average uses the n < W gradients seen
    so far while t < W (the other rows are still 0).

    The window is a ring buffer: step t writes g_t² over the oldest row, (t − 1) mod W, so a
    step reads the W rows once (the sum) and writes one row — under ``torch.compile`` the
    state moves as much data per byte as Adam's (``perf/step.py``).
    """

    name = "windowed_rmsprop"
    title = "Windowed RMSProp (lecture 45's 'AdaDelta')"
    source = "lecture 000 (Lecture 45, 'AdaDelta' slide)"
    conventions = {
        "torch": dict(lr=1e-2, window=10, eps=1e-8, eps_inside=False),
        "lecture000": dict(lr=1e-2, window=10, eps=1e-6, eps_inside=True),
    }
    elementwise = False
    symbols = {"g": "g", "r": "r (window mean)", "delta": "Δθ"}
    Hyper, State, Record, Terms = (
        WindowedRMSpropHyper,
        WindowedRMSpropState,
        WindowedRMSpropRecord,
        WindowedRMSpropTerms,
    )

    @staticmethod
    def init_state(h: WindowedRMSpropHyper, theta: Array) -> WindowedRMSpropState:
        return WindowedRMSpropState(w=zeros_stack(theta, h.window))

    @staticmethod
    def terms(h: WindowedRMSpropHyper, t: int) -> WindowedRMSpropTerms:
        return WindowedRMSpropTerms(n=min(t, h.window), slot=(t - 1) % h.window)

    @staticmethod
    def update(
        h: WindowedRMSpropHyper, state: WindowedRMSpropState, g: Array, theta: Array, k: WindowedRMSpropTerms
    ) -> WindowedRMSpropRecord:
        w = ring_put(state.w, k.slot, g * g)  # the W newest g², g_t² over the oldest
        r = window_sum(w) / k.n
        denom = sqrt(h.eps + r) if h.eps_inside else sqrt(r) + h.eps
        return WindowedRMSpropRecord(g=g, w=w, r=r, delta=-h.lr * g / denom)
