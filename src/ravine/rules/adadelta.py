"""AdaDelta (Zeiler 2012): RMSProp's denominator with a unit-correcting numerator."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import LR, NONNEG, UNIT, Required
from .ops import Array, sqrt, zeros_like

#: optax's preset has no learning rate ravine can reproduce: it must be given
_OPTAX_LR = Required(
    "optax.adadelta()'s default learning_rate=None applies +Δ without the sign flip (θ climbs), "
    "which ravine does not reproduce; give lr (optax.adadelta(learning_rate=1.0) is lr=1.0)"
)


class AdadeltaHyper(NamedTuple):
    lr: Annotated[float, LR()]
    rho: Annotated[float, UNIT(hi_open=False)]  # torch: 0 <= rho <= 1
    eps: Annotated[float, NONNEG()]  # torch: eps >= 0
    weight_decay: Annotated[float, NONNEG(default=0.0)]


class AdadeltaState(NamedTuple):
    s: Any  # running average of g²
    u: Any  # running average of Δ² (the accumulated updates)


class AdadeltaRecord(NamedTuple):
    g: Any
    s: Any
    step: Any  # Δ = √(u + ε)/√(s + ε) ⊙ g
    u: Any
    delta: Any


class Adadelta(Rule):
    r"""AdaDelta, Zeiler 2012 Algorithm 1 (lecture 001's "ADADELTA"):

    .. math::
        s &\leftarrow \rho s + (1-\rho)\, g \odot g \\
        \Delta &= \frac{\sqrt{u + \epsilon}}{\sqrt{s + \epsilon}} \odot g \\
        u &\leftarrow \rho u + (1-\rho)\, \Delta \odot \Delta \\
        \Delta\theta &= -\eta\, \Delta

    (u here is Zeiler's E[Δx²]; the old u enters Δ, the new u is kept.) The
    paper has no η (η = 1, torch's default); Keras multiplies by η = 0.001.
    Lecture 001 shows that at t = 1, Δ = √ε/√((1−ρ)g² + ε)·g ≈ √(ε/(1−ρ))·sign(g):
    ε acts as the learning rate early on.

    Conventions (docs/conventions.md): all put ε inside both roots and
    accumulate the Δ before η. ``"torch"`` η = 1, ρ = 0.9, ε = 1e-6;
    ``"keras"`` η = 1e-3, ρ = 0.95, ε = 1e-7; ``"optax"`` ρ = 0.9, ε = 1e-6
    and no default η: optax's default ``learning_rate=None`` skips the sign flip and
    climbs (+Δ), which ravine does not reproduce, so ``Adadelta(convention="optax")``
    without ``lr`` is refused with that reason (``lr=1.0`` is
    ``optax.adadelta(learning_rate=1.0)``); ``"paper"`` η = 1, ρ = 0.95,
    ε = 1e-6. optax's ``weight_decay`` is coupled like torch's; Keras's is
    decoupled (θ ← θ − ηλθ): ``"keras"`` with λ ≠ 0 is refused.

    Lecture 45 (lecture 000) uses the name AdaDelta for a different method, a
    moving-window RMSProp: that is :class:`ravine.rules.WindowedRMSprop`.
    """

    name = "adadelta"
    title = "AdaDelta (Zeiler 2012)"
    source = "lecture 001; Zeiler 2012 (arXiv:1212.5701) Algorithm 1; torch.optim.Adadelta"
    conventions = {
        "torch": dict(lr=1.0, rho=0.9, eps=1e-6),  # torch adadelta.py L32-35
        "keras": dict(lr=1e-3, rho=0.95, eps=1e-7),  # keras adadelta.py L42-44
        # optax alias.adadelta: rho=0.9, eps=1e-6 and learning_rate=None, which is no
        # scale_by_learning_rate at all: the update +Δ is applied without the sign flip
        "optax": dict(lr=_OPTAX_LR, rho=0.9, eps=1e-6),
        "paper": dict(lr=1.0, rho=0.95, eps=1e-6),
        "lecture001": dict(lr=1.0, rho=0.9, eps=1e-6),
    }
    symbols = {"g": "g", "s": "s", "step": "Δ", "u": "u", "delta": "Δθ"}
    Hyper, State, Record = AdadeltaHyper, AdadeltaState, AdadeltaRecord
    coupled_decay_only = True  # Keras decays decoupled: its preset with weight_decay != 0 is refused

    @staticmethod
    def init_state(h: AdadeltaHyper, theta: Array) -> AdadeltaState:
        return AdadeltaState(s=zeros_like(theta), u=zeros_like(theta))

    @staticmethod
    def update(h: AdadeltaHyper, state: AdadeltaState, g: Array, theta: Array, k: tuple[()]) -> AdadeltaRecord:
        if h.weight_decay != 0:
            g = g + h.weight_decay * theta
        s = h.rho * state.s + (1 - h.rho) * g * g
        step = sqrt(state.u + h.eps) / sqrt(s + h.eps) * g
        u = h.rho * state.u + (1 - h.rho) * step * step
        return AdadeltaRecord(g=g, s=s, step=step, u=u, delta=-h.lr * step)
