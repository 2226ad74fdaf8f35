"""Imported by the formula fork server (:mod:`ravine.problems.worker`) to pay, once, the first
use of sympy's differentiation and code generation (about a second), not once per formula."""

from __future__ import annotations


def warm() -> None:
    from .symbolic import _derive

    _derive("x*y + sin(x)^2", None)


warm()
