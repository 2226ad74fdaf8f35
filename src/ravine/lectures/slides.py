"""Lecture 002's analysis slides, checked: the step-size slide and the critical-point example.

The numbers come from :mod:`ravine.analysis` (``QuadraticRates``, ``quadratic_critical_point``);
this module holds only what the slides print and the comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analysis import QuadraticCriticalPoint, QuadraticRates, quadratic_critical_point
from ..tables.table import Table

__all__ = ["SlideRow", "StepSizeSlide", "lecture_step_size_slide", "lecture_critical_point_example"]


@dataclass(frozen=True)
class SlideRow:
    """One quantity on a slide: what the slide says, what is right, and why."""

    quantity: str
    slide: float
    correct: float
    formula: str
    note: str

    @property
    def agrees(self) -> bool:
        return math.isclose(self.slide, self.correct, rel_tol=0, abs_tol=5e-3)


@dataclass(frozen=True, eq=False)
class StepSizeSlide:
    """Lecture 002's "E(x, y, z) = 3x² + 2y² + 4z² + 6" slide, checked."""

    function: str
    hessian: np.ndarray
    eigenvalues: np.ndarray
    rows: tuple[SlideRow, ...]

    def table(self) -> str:
        """A plain-text table: quantity | slide | correct | ok | formula (through :class:`Table`)."""
        rows = [[r.quantity, r.slide, r.correct, "yes" if r.agrees else "NO", r.formula] for r in self.rows]
        return Table(["quantity", "slide", "correct", "ok", "formula"], rows).to_text(digits=4)


def lecture_step_size_slide() -> StepSizeSlide:
    """Reproduce and check lecture 002's step-size slide for E = 3x² + 2y² + 4z² + 6.

    Hessian diag(6, 4, 8). The slide's per-direction optima 1/6, 1/4, 1/8 (= 1/λ_i) are right.
    Its "largest learning rate for convergence = min[2η_xopt, 2η_yopt, 2η_zopt] = 0.33" is an
    arithmetic slip: the minimum is 2/8 = 0.25 = 2/λ_max (and the slide's own next line says
    it diverges above 0.25). Its "optimal learning rate = min[...] = 1/8" is not the fastest
    fixed η: 1/8 gives rate max|1 − λ_i/8| = 0.5, while 2/(λ_min + λ_max) = 2/12 = 1/6 gives
    (κ − 1)/(κ + 1) = 1/3.
    """
    h = np.diag([6.0, 4.0, 8.0])
    r = QuadraticRates(h)
    slide_opt = 1 / 8
    rows = (
        SlideRow("η_x,opt (one-step optimum along x)", 1 / 6, 1 / 6.0, "1/λ_x = 1/6", "right"),
        SlideRow("η_y,opt (one-step optimum along y)", 1 / 4, 1 / 4.0, "1/λ_y = 1/4", "right"),
        SlideRow("η_z,opt (one-step optimum along z)", 1 / 8, 1 / 8.0, "1/λ_z = 1/8", "right"),
        SlideRow(
            "largest convergent η (supremum)",
            0.33,
            r.lr_max,
            "2/λ_max = min(2/6, 2/4, 2/8) = 0.25",
            "arithmetic slip on the slide: min(0.333, 0.5, 0.25) is 0.25",
        ),
        SlideRow(
            "divergence above",
            0.25,
            r.lr_max,
            "η > 2/λ_max = 0.25 diverges (η = 0.25 oscillates along z)",
            "right, and contradicts the slide's 0.33",
        ),
        SlideRow(
            "fastest fixed η",
            slide_opt,
            r.lr_best,
            "2/(λ_min + λ_max) = 2/(4 + 8) = 1/6",
            "the slide takes min_i 1/λ_i, which is safe but not fastest",
        ),
        SlideRow(
            "rate at the fastest η",
            r.gd_rate(slide_opt),
            r.rate_best,
            "max_i |1 − ηλ_i|; (κ − 1)/(κ + 1) = 1/3 at η = 1/6",
            "slide's η = 1/8 contracts by 0.5 per step, η = 1/6 by 1/3",
        ),
    )
    return StepSizeSlide("E(x, y, z) = 3x² + 2y² + 4z² + 6", h, r.eigenvalues, rows)


def lecture_critical_point_example() -> QuadraticCriticalPoint:
    """Lecture 002's worked example f = x1² + x1(1 − x2) + x2² − x2x3 + x3² + x3.

    As ½xᵀAx − bᵀx: A = [[2, −1, 0], [−1, 2, −1], [0, −1, 2]], b = (−1, 0, −1). Critical point
    (−1, −1, −1), eigenvalues 2 − √2, 2, 2 + √2 ≈ 0.586, 2, 3.414 (the lecture's): a minimum,
    f = −1.
    """
    a = np.array([[2.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 2.0]])
    return quadratic_critical_point(a, np.array([-1.0, 0.0, -1.0]))
