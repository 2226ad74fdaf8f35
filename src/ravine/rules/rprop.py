"""Rprop: a step size per coordinate, grown while the gradient keeps its sign, shrunk when it flips."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from .base import Rule
from .hyper import LR, NONNEG, POSITIVE
from .ops import Array, full_like, sign, where, zeros_like


class RpropHyper(NamedTuple):
    lr: Annotated[float, LR(doc="the initial step size of every coordinate")]
    etaminus: Annotated[float, POSITIVE(pair="etas", hi=1.0, hi_open=True, doc="the factor on a sign flip")]
    etaplus: Annotated[float, POSITIVE(pair="etas", lo=1.0, doc="the factor while the sign holds")]
    step_size_min: Annotated[float, NONNEG(pair="step_sizes", doc="the smallest step size")]
    step_size_max: Annotated[float, NONNEG(pair="step_sizes", doc="the largest step size")]


class RpropState(NamedTuple):
    prev: Any  # the previous gradient, 0 where its sign flipped (torch: prev)
    step_size: Any  # Δ, the step size of each coordinate (torch: step_size)


class RpropRecord(NamedTuple):
    g: Any  # the gradient, 0 where its sign flipped
    factor: Any  # η⁺, η⁻ or 1
    step_size: Any
    prev: Any
    delta: Any


class Rprop(Rule):
    r"""Rprop (Riedmiller & Braun 1993) as in torch.optim.Rprop (the variant without
    weight-backtracking, Igel & Hüsken's Rprop⁻ with a zeroed gradient after a flip):

    .. math::
        f &= \begin{cases} \eta^+ & g \cdot g_{prev} > 0 \\ \eta^- & g \cdot g_{prev} < 0 \\
            1 & g \cdot g_{prev} = 0 \end{cases} \\
        \Delta &\leftarrow \mathrm{clip}(f\,\Delta,\; \Delta_{min},\; \Delta_{max}) \qquad (\Delta_0 = \eta) \\
        g &\leftarrow 0 \quad\text{where } g \cdot g_{prev} < 0 \\
        \Delta\theta &= -\operatorname{sign}(g)\, \Delta, \qquad g_{prev} \leftarrow g

    Only the sign of g is used: its size never enters the step. After a flip the coordinate
    does not move and its stored gradient is 0, so the next step keeps its step size (f = 1).
    ``etas`` = (η⁻, η⁺) with 0 < η⁻ < 1 < η⁺ (torch's check), ``step_sizes`` = (Δ_min, Δ_max);
    η (``lr``) is only the step size every coordinate starts with. The sign is that of the
    product g·g_prev, as torch computes it (a product that underflows to 0 counts as no
    change). A gradient of ±inf moves θ by ±Δ like any other of its sign: θ stays finite, as
    in torch. A NaN gradient depends on the array's sign function: NumPy's sign(NaN) is NaN,
    so θ becomes NaN; torch's is 0, so on tensors (``ravine.optim.Rprop``, like
    ``torch.optim.Rprop``) that coordinate does not move, g_prev holds the NaN, and its step
    size stays as it is from then on. ``nonfinite="raise"`` or ``"skip"`` avoid both.

    ravine refuses Δ_min > Δ_max (torch accepts it and then clamps every step size to Δ_max).
    """

    name = "rprop"
    title = "Rprop (resilient backpropagation)"
    source = (
        "Riedmiller & Braun 1993, A direct adaptive method for faster backpropagation learning: the RPROP "
        "algorithm (IEEE ICNN); Igel & Hüsken 2000 (Rprop⁻); torch.optim.Rprop (torch/optim/rprop.py)"
    )
    conventions = {
        # torch.optim.Rprop (rprop.py L30-42)
        "torch": dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)),
    }
    symbols = {"g": "g", "factor": "f", "step_size": "Δ", "prev": "g_prev", "delta": "Δθ"}
    Hyper, State, Record = RpropHyper, RpropState, RpropRecord

    @classmethod
    def check(cls, h: RpropHyper) -> None:
        if h.step_size_min > h.step_size_max:
            raise ValueError(
                f"{cls.__name__}: step_sizes must be (min, max) with min <= max, "
                f"got ({h.step_size_min:g}, {h.step_size_max:g})"
            )

    @staticmethod
    def init_state(h: RpropHyper, theta: Array) -> RpropState:
        return RpropState(prev=zeros_like(theta), step_size=full_like(theta, h.lr))

    @staticmethod
    def update(h: RpropHyper, state: RpropState, g: Array, theta: Array, k: Any) -> RpropRecord:
        same = sign(g * state.prev)  # torch: grad.mul(prev).sign()
        # η⁺ where the sign held, η⁻ where it flipped, 1 where either was 0 (NaN stays NaN)
        factor = where(same > 0, h.etaplus, where(same < 0, h.etaminus, where(same == 0, 1.0, same)))
        step_size = state.step_size * factor  # torch: step_size.mul_(sign).clamp_(min, max)
        step_size = where(step_size < h.step_size_min, h.step_size_min, step_size)
        step_size = where(step_size > h.step_size_max, h.step_size_max, step_size)
        g = where(same < 0, 0.0, g)  # no step where the sign flipped, and no flip counted next time
        return RpropRecord(g=g, factor=factor, step_size=step_size, prev=g, delta=-(sign(g) * step_size))
