"""The seeds' worked examples, recomputed through the rules, with the slides' printed values beside.

Every *correct* value here is computed: by a rule's ``apply`` (through
:func:`ravine.explain`), by a problem's ``f``/``grad``/``hessian``, or by
:mod:`ravine.analysis`. The slides' numbers are kept only as what the slide
prints (``Row.slide``, the text as printed) for comparison; where a note says
what the slide's own arithmetic gives, that number is computed here from the
slide's printed inputs.

>>> from ravine.seeds import get_example
>>> ex = get_example("adam_sigmoid")
>>> [r.quantity for r in ex.errata][:2]
['ŷ = σ(z)', 'L (BCE)']

Examples (``list_examples()``; ``ravine explain --seed-example NAME``):

* ``error_surface_gd``, ``error_surface_momentum``: seed 002's E(w1, w2) numerical example.
* ``adam_sigmoid``: seed 002's one Adam step on a sigmoid neuron with BCE.
* ``gd_parabola``: seed 002's ``gd(eta, f_grad)`` on x² with η = 0.05 and 1.1.
* ``ellipse_momentum``: seed 002's (d2l's) ellipse 0.1x1² + 2x2² with and without momentum.
* ``step_size_slide``: seed 002's E = 3x² + 2y² + 4z² + 6 slide (``ravine.analysis``).
* ``critical_point``: seed 002's three-variable minimization example (``ravine.analysis``).
* ``tanh_vanishing``: seed 002's tanh′(4) ≈ 0.0013.
* ``momentum_expansion``: seed 004's unrolled heavy-ball velocities ν1, ν2, ν3.
"""

from __future__ import annotations

from collections.abc import Callable

from .example import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, Row, SeedExample
from .seed002 import (
    adam_sigmoid,
    critical_point,
    ellipse_momentum,
    error_surface_gd,
    error_surface_momentum,
    gd_parabola,
    step_size_slide,
    tanh_vanishing,
)
from .seed004 import momentum_expansion
from .slides import SlideRow, StepSizeSlide, seed_critical_point_example, seed_step_size_slide

__all__ = [
    "Row",
    "SeedExample",
    "EXAMPLES",
    "list_examples",
    "get_example",
    "SEED_000",
    "SEED_001",
    "SEED_002",
    "SEED_003",
    "SEED_004",
    "SlideRow",
    "StepSizeSlide",
    "seed_step_size_slide",
    "seed_critical_point_example",
]

# ====================================================================== registry

EXAMPLES: dict[str, tuple[Callable[[], SeedExample], str]] = {
    "error_surface_gd": (error_surface_gd, "seed 002: one GD step on E(w1, w2), η = 0.3"),
    "error_surface_momentum": (error_surface_momentum, "seed 002: one heavy-ball step, β = 0.6 stated / 0.9 used"),
    "adam_sigmoid": (adam_sigmoid, "seed 002: one Adam step on a sigmoid neuron with BCE"),
    "gd_parabola": (gd_parabola, "seed 002: gd(eta, f_grad) on x², η = 0.05 and 1.1"),
    "ellipse_momentum": (ellipse_momentum, "seed 002: ellipse 0.1x1² + 2x2², η = 0.4/0.6, β = 0.5/0.25"),
    "step_size_slide": (step_size_slide, "seed 002: optimal η for 3x² + 2y² + 4z² + 6"),
    "critical_point": (critical_point, "seed 002: minimum of the three-variable example"),
    "tanh_vanishing": (tanh_vanishing, "seed 002: tanh'(4) ≈ 0.0013"),
    "momentum_expansion": (momentum_expansion, "seed 004: ν3 = −0.81G1 − 0.9G2 − G3"),
}


def list_examples() -> list[str]:
    return list(EXAMPLES)


def get_example(name: str) -> SeedExample:
    """Compute the worked example ``name`` (see :func:`list_examples`)."""
    if not isinstance(name, str) or name.strip().lower().replace("-", "_") not in EXAMPLES:
        raise ValueError(f"seed example: unknown name {name!r}; choose one of: {', '.join(EXAMPLES)}")
    return EXAMPLES[name.strip().lower().replace("-", "_")][0]()
