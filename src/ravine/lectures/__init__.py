"""The lectures' worked examples, recomputed through the rules, with the slides' printed values beside.

Every *correct* value here is computed: by a rule's ``apply`` (through
:func:`ravine.explain`), by a problem's ``f``/``grad``/``hessian``, or by
:mod:`ravine.analysis`. The slides' numbers are kept only as what the slide
prints (``Row.slide``, the text as printed) for comparison; where a note says
what the slide's own arithmetic gives, that number is computed here from the
slide's printed inputs.

>>> from ravine.lectures import get_example
>>> ex = get_example("adam_sigmoid")
>>> [r.quantity for r in ex.errata][:2]
['ŷ = σ(z)', 'L (BCE)']

Examples (``list_examples()``; ``ravine explain --lecture-example NAME``):

* ``error_surface_gd``, ``error_surface_momentum``: lecture 002's E(w1, w2) numerical example.
* ``adam_sigmoid``: lecture 002's one Adam step on a sigmoid neuron with BCE.
* ``gd_parabola``: lecture 002's ``gd(eta, f_grad)`` on x² with η = 0.05 and 1.1.
* ``ellipse_momentum``: lecture 002's (d2l's) ellipse 0.1x1² + 2x2² with and without momentum.
* ``step_size_slide``: lecture 002's E = 3x² + 2y² + 4z² + 6 slide (``ravine.analysis``).
* ``critical_point``: lecture 002's three-variable minimization example (``ravine.analysis``).
* ``tanh_vanishing``: lecture 002's tanh′(4) ≈ 0.0013.
* ``momentum_expansion``: lecture 004's unrolled heavy-ball velocities ν1, ν2, ν3.
"""

from __future__ import annotations

from collections.abc import Callable

from .example import LECTURE_000, LECTURE_001, LECTURE_002, LECTURE_003, LECTURE_004, LectureExample, Row
from .lecture002 import (
    adam_sigmoid,
    critical_point,
    ellipse_momentum,
    error_surface_gd,
    error_surface_momentum,
    gd_parabola,
    step_size_slide,
    tanh_vanishing,
)
from .lecture004 import momentum_expansion
from .slides import SlideRow, StepSizeSlide, lecture_critical_point_example, lecture_step_size_slide

__all__ = [
    "Row",
    "LectureExample",
    "EXAMPLES",
    "list_examples",
    "get_example",
    "LECTURE_000",
    "LECTURE_001",
    "LECTURE_002",
    "LECTURE_003",
    "LECTURE_004",
    "SlideRow",
    "StepSizeSlide",
    "lecture_step_size_slide",
    "lecture_critical_point_example",
]

# ====================================================================== registry

EXAMPLES: dict[str, tuple[Callable[[], LectureExample], str]] = {
    "error_surface_gd": (error_surface_gd, "lecture 002: one GD step on E(w1, w2), η = 0.3"),
    "error_surface_momentum": (error_surface_momentum, "lecture 002: one heavy-ball step, β = 0.6 stated / 0.9 used"),
    "adam_sigmoid": (adam_sigmoid, "lecture 002: one Adam step on a sigmoid neuron with BCE"),
    "gd_parabola": (gd_parabola, "lecture 002: gd(eta, f_grad) on x², η = 0.05 and 1.1"),
    "ellipse_momentum": (ellipse_momentum, "lecture 002: ellipse 0.1x1² + 2x2², η = 0.4/0.6, β = 0.5/0.25"),
    "step_size_slide": (step_size_slide, "lecture 002: optimal η for 3x² + 2y² + 4z² + 6"),
    "critical_point": (critical_point, "lecture 002: minimum of the three-variable example"),
    "tanh_vanishing": (tanh_vanishing, "lecture 002: tanh'(4) ≈ 0.0013"),
    "momentum_expansion": (momentum_expansion, "lecture 004: ν3 = −0.81G1 − 0.9G2 − G3"),
}


def list_examples() -> list[str]:
    return list(EXAMPLES)


def get_example(name: str) -> LectureExample:
    """Compute the worked example ``name`` (see :func:`list_examples`)."""
    if not isinstance(name, str) or name.strip().lower().replace("-", "_") not in EXAMPLES:
        raise ValueError(f"lecture example: unknown name {name!r}; choose one of: {', '.join(EXAMPLES)}")
    return EXAMPLES[name.strip().lower().replace("-", "_")][0]()
