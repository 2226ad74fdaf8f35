"""Gradient descent and momentum: SGD (torch's form), the two momentum forms of
the lectures, and Nesterov's look-ahead.

Batch GD, SGD and minibatch SGD are one rule, θ ← θ − η g; they differ only in
how g is computed (all data, one example, the mean over a minibatch B), which
belongs to the training loop (lecture 002, algorithms 1–3).
On analytic functions the runner emulates SGD by adding Gaussian noise to the
gradient (lecture 002's ``sgd`` snippet), see ``ravine.run(grad_noise=...)``.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import BOOL, CHOICE, LR, NONNEG, REAL, UNIT
from .ops import Array, add_scaled, zeros_like


class SGDHyper(NamedTuple):
    lr: Annotated[float, LR()]
    momentum: Annotated[float, NONNEG(default=0.0, scale="log1m")]  # torch: momentum >= 0 (>= 1 runs, and diverges)
    dampening: Annotated[float, REAL(default=0.0)]  # torch: unchecked
    weight_decay: Annotated[float, NONNEG(default=0.0)]
    nesterov: Annotated[bool, BOOL(default=False)]
    first_buffer: Annotated[str, CHOICE(("g", "zero"), kw_only=True)]
    lr_in_buffer: Annotated[
        bool, BOOL(default=False, kw_only=True, doc="keep η inside the momentum buffer (Keras: b ← μb + ηg, θ ← θ − b)")
    ]


class SGDState(NamedTuple):
    b: Any  # momentum buffer (0.0 when momentum = 0)


class SGDRecord(NamedTuple):
    g: Any
    b: Any
    delta: Any
    theta: Any  # θ_{t+1} = θ − η d


class SGDTerms(NamedTuple):
    first: bool  # t == 1


class SGD(Rule):
    r"""Stochastic gradient descent with optional momentum, exactly as ``torch.optim.SGD``.

    .. math::
        g &\leftarrow g + \lambda\theta                      && \text{(weight\_decay } \lambda)\\
        b &\leftarrow \begin{cases} g & t = 1 \text{ (torch; zero start: } (1-\tau)g)\\
                                    \mu b + (1-\tau) g & t > 1\end{cases}
                                                             && \text{(momentum } \mu,\ \text{dampening } \tau)\\
        d &\leftarrow g + \mu b \text{ if nesterov else } b \\
        \Delta\theta &= -\eta\, d

    Without momentum this is plain gradient descent, θ ← θ − η g (lecture 002).
    With constant η and τ = 0 it equals the heavy ball of lectures 003/004
    (v = −η b); ``nesterov=True`` is Nesterov's method written in the
    look-ahead variable (see :class:`NAG`; Sutskever et al. 2013).

    Conventions (docs/conventions.md): ``"torch"`` (η = 1e-3) starts the buffer
    at b₁ = g; ``"keras"`` (η = 0.01), ``"optax"`` (η required) and ``"paper"``
    (Sutskever et al.) start it at zero, so b₁ = (1 − τ) g. Keras and optax have
    no dampening, so with τ = 0 all of them agree. Keras keeps η inside the buffer,
    m ← μm − ηg, θ ← θ + m: ``lr_in_buffer=True`` (set by ``"keras"``) is that form
    (b = −m ← μb + ηg, θ ← θ − b), equal to the other while η is constant and Keras's
    own under an η schedule. Keras's ``weight_decay`` is decoupled (θ ← θ − ηλθ before
    the step); ravine's SGD decays coupled (torch's form), so ``convention="keras"``
    with ``weight_decay ≠ 0`` is refused with a message rather than silently differing.
    """

    name = "sgd"
    title = "SGD (momentum, dampening, Nesterov)"
    source = "lecture 002 (GD, SGD, minibatch); torch.optim.SGD; Sutskever et al. 2013"
    conventions = {
        "torch": dict(lr=1e-3, first_buffer="g"),  # torch sgd.py L32, L358-364
        "keras": dict(lr=1e-2, first_buffer="zero", lr_in_buffer=True),  # keras sgd.py L45-47, L105-111
        "optax": dict(lr=1e-3, first_buffer="zero"),  # optax trace: s₀ = 0 (lr required)
        "paper": dict(lr=1e-3, first_buffer="zero", lr_in_buffer=True),  # Sutskever et al. 2013: v₀ = 0, v = μv − ηg
    }
    symbols = {"g": "g", "b": "b", "delta": "Δθ"}

    Hyper = SGDHyper
    State = SGDState
    Record = SGDRecord
    Terms = SGDTerms
    coupled_decay_only = True  # Keras decays decoupled: its preset with weight_decay != 0 is refused
    moves = ("b", "gradient")

    @classmethod
    def check(cls, h: SGDHyper) -> None:
        if h.nesterov and (h.momentum <= 0 or h.dampening != 0):
            raise ValueError(
                f"{cls.__name__}: nesterov=True requires momentum > 0 and dampening = 0, "
                f"got momentum={h.momentum:g}, dampening={h.dampening:g}"
            )

    @staticmethod
    def init_state(h: SGDHyper, theta: Array) -> SGDState:
        return SGDState(b=zeros_like(theta) if h.momentum != 0 else 0.0)

    @staticmethod
    def terms(h: SGDHyper, t: int) -> SGDTerms:
        return SGDTerms(first=(t == 1))

    @staticmethod
    def update(h: SGDHyper, state: SGDState, g: Array, theta: Array, k: SGDTerms) -> SGDRecord:
        # x + a·y is written add_scaled(x, a, y): torch.optim's own fused kernel on tensors
        if h.weight_decay != 0:
            g = add_scaled(g, h.weight_decay, theta)
        b = state.b
        d = g
        if h.momentum != 0 and h.lr_in_buffer:
            # Keras: m ← μm − ηg, θ ← θ + m (nesterov: θ + μm − ηg); here b = −m, so under an η
            # schedule the buffer holds the past learning rates, as Keras's does
            if k.first and h.first_buffer == "g":
                b = h.lr * g
            else:
                b = add_scaled(h.momentum * b, h.lr * (1 - h.dampening), g)
            step = add_scaled(h.lr * g, h.momentum, b) if h.nesterov else b
            return SGDRecord(g=g, b=b, delta=-step, theta=theta - step)
        if h.momentum != 0:
            if k.first and h.first_buffer == "g":
                b = g
            else:
                b = add_scaled(h.momentum * b, 1 - h.dampening, g)
            d = add_scaled(g, h.momentum, b) if h.nesterov else b
        return SGDRecord(g=g, b=b, delta=-h.lr * d, theta=add_scaled(theta, -h.lr, d))


class MomentumHyper(NamedTuple):
    lr: Annotated[float, LR()]
    momentum: Annotated[float, UNIT()]
    form: Annotated[str, CHOICE(("heavy_ball", "average"), kw_only=True)]


class MomentumState(NamedTuple):
    v: Any


class MomentumRecord(NamedTuple):
    g: Any
    v: Any
    delta: Any


class Momentum(Rule):
    r"""Momentum in the two forms the lectures teach.

    ``form="heavy_ball"`` (lectures 003, 004 and lecture 002's worked example; Polyak 1964):

    .. math::  v \leftarrow \alpha v - \eta g, \qquad \theta \leftarrow \theta + v

    equivalently θ_{t+1} = θ_t − η g_t + α(θ_t − θ_{t−1}).

    ``form="average"`` (lecture 001 and lecture 002 algorithm 4, an exponential average):

    .. math::  v \leftarrow \beta v + (1-\beta) g, \qquad \theta \leftarrow \theta - \eta v

    Both start at v₀ = 0. ``momentum`` is α (resp. β). A momentum schedule
    (lecture 004: start at 0.5, anneal to 0.9) is ``ravine.schedules.momentum_anneal``
    applied to ``momentum``.
    """

    name = "momentum"
    title = "Momentum (heavy ball or exponential average)"
    source = "lecture 003, 004 (heavy ball); lectures 001, 002 algorithm 4 (average)"
    conventions = {
        "torch": dict(lr=1e-2, momentum=0.9, form="heavy_ball"),
        "lecture003": dict(lr=1e-2, momentum=0.9, form="heavy_ball"),
        "lecture004": dict(lr=1e-2, momentum=0.9, form="heavy_ball"),
        "lecture001": dict(lr=1e-2, momentum=0.9, form="average"),
        "lecture002": dict(lr=1e-2, momentum=0.9, form="average"),
    }
    symbols = {"g": "g", "v": "v", "delta": "Δθ"}

    Hyper = MomentumHyper
    State = MomentumState
    Record = MomentumRecord

    def movement(self) -> dict[str, str] | None:
        kind = "displacement" if self.h.form == "heavy_ball" else "gradient"
        return {"field": "v", "kind": kind, "symbol": self.symbols.get("v", "v")}

    @staticmethod
    def init_state(h: MomentumHyper, theta: Array) -> MomentumState:
        return MomentumState(v=zeros_like(theta))

    @staticmethod
    def update(h: MomentumHyper, state: MomentumState, g: Array, theta: Array, k: tuple[()]) -> MomentumRecord:
        if h.form == "heavy_ball":
            v = h.momentum * state.v - h.lr * g
            delta = v
        else:
            v = h.momentum * state.v + (1 - h.momentum) * g
            delta = -h.lr * v
        return MomentumRecord(g=g, v=v, delta=delta)


class NAGHyper(NamedTuple):
    lr: Annotated[float, LR()]
    momentum: Annotated[float, UNIT()]


class NAGState(NamedTuple):
    v: Any


class NAGRecord(NamedTuple):
    g: Any
    v: Any
    delta: Any


class NAG(Rule):
    r"""Nesterov's accelerated gradient, look-ahead form (lectures 000, 003):

    .. math::
        \tilde\theta = \theta + \alpha v,\quad g = \nabla L(\tilde\theta),\quad
        v \leftarrow \alpha v - \eta g,\quad \theta \leftarrow \theta + v

    The gradient is taken at the look-ahead point θ̃, so the driver needs a
    gradient oracle (``needs = ("lookahead",)``). In a training loop with one
    backward pass use ``SGD(nesterov=True)``: it is this method with the
    parameters standing for θ̃ (tested in tests/rules/test_sgd.py).
    """

    name = "nag"
    title = "Nesterov accelerated gradient (look-ahead)"
    source = "lecture 000, 003; Nesterov 1983; Sutskever et al. 2013"
    conventions = {"torch": dict(lr=1e-2, momentum=0.9), "paper": dict(lr=1e-2, momentum=0.9)}
    needs = ("lookahead",)
    symbols = {"g": "g(θ̃)", "v": "v", "delta": "Δθ"}

    Hyper = NAGHyper
    State = NAGState
    Record = NAGRecord
    moves = ("v", "displacement")

    @staticmethod
    def init_state(h: NAGHyper, theta: Array) -> NAGState:
        return NAGState(v=zeros_like(theta))

    @staticmethod
    def lookahead(h: NAGHyper, state: NAGState, theta: Array) -> Array:
        """θ̃ = θ + αv, where the gradient is taken."""
        return theta + h.momentum * state.v

    @staticmethod
    def update(h: NAGHyper, state: NAGState, g: Array, theta: Array, k: tuple[()]) -> NAGRecord:
        v = h.momentum * state.v - h.lr * g
        return NAGRecord(g=g, v=v, delta=v)
