"""Lecture 004's worked example: the unrolled heavy-ball velocities."""

from __future__ import annotations

import numpy as np

from ..step_tables import explain
from .example import LECTURE_004, LectureExample, Row
from .example import cmd as _cmd

# ====================================================================== lecture 004: unrolled momentum


def momentum_expansion() -> LectureExample:
    """Lecture 004: ν ← 0.9ν − G_t (learning rate 1) unrolled: ν3 = −0.81G1 − 0.9G2 − G3.

    Computed with Momentum(lr=1, momentum=0.9) in 3-D, the gradients G1, G2, G3 being the unit
    vectors e1, e2, e3, so the coordinates of ν_t are the coefficients of G1, G2, G3.
    """
    from ..rules import Momentum

    grads = iter(np.eye(3))
    tab = explain(
        Momentum(lr=1.0, momentum=0.9),
        None,
        start=(0.0, 0.0, 0.0),
        steps=3,
        grad_fn=lambda th: next(grads),
        f=lambda th: 0.0,
        variables=("G1", "G2", "G3"),
    )
    v2 = tab.row(2)
    v3 = tab.row(3)
    rows = (
        Row("ν1: coefficient of G1", "-1", tab.row(1)["v[G1]"], formula="ν1 = −G1"),
        Row("ν2: coefficient of G1", "-0.9", v2["v[G1]"], formula="0.9·ν1 − G2"),
        Row("ν2: coefficient of G2", "-1", v2["v[G2]"]),
        Row(
            "ν3 middle step: '−0.9·(0.9·G1 − G2)' → coefficient of G2",
            "+0.9",
            v3["v[G2]"],
            note="0.9·ν2 = −0.9·(0.9·G1 + G2): the printed '−0.9·(0.9·G1 − G2)' has the wrong sign "
            "inside the bracket (it expands to −0.81G1 + 0.9G2); the slide's final line is right",
        ),
        Row("ν3: coefficient of G1", "-0.81", v3["v[G1]"]),
        Row("ν3: coefficient of G2", "-0.9", v3["v[G2]"]),
        Row("ν3: coefficient of G3", "-1", v3["v[G3]"]),
    )
    return LectureExample(
        "momentum_expansion",
        "Unrolled heavy-ball velocities ν1, ν2, ν3",
        LECTURE_004,
        "ν ← 0.9·ν − G_t, ν0 = 0 (the lecture's η = 0.9 is the momentum coefficient, α = 1 the step)",
        rows,
        (("Momentum(lr=1, momentum=0.9) with G_t = e_t (coordinates = coefficients):", tab),),
        (),
        ("momentum",),
        _cmd("momentum_expansion", "momentum"),
    )
