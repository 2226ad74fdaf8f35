"""The one set of validators for numbers, counts and choices, with one message style.

Every check raises a one-line ``ValueError`` that names where (a class or function), the
parameter, what is allowed and the value given::

    Adam: beta2 must be in [0, 1), got 1.5
    schedule: step t must be an integer >= 0, got -1
    compare_rates: lr must be a finite number > 0, got nan

Bounds are written in ASCII (``>=``, ``<=``) so that messages can be typed and grepped.
``bool`` is never a number here (``True`` is refused where a count or a rate is asked for).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["show", "bounds_text", "real", "integer", "boolean", "choice", "is_integer", "UnknownChoice"]


def show(v: Any) -> str:
    """A value as messages show it: floats in ``%g``, NumPy scalars as Python, else ``repr``."""
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        try:
            v = v.item()
        except (TypeError, ValueError):
            pass
    return f"{v:g}" if isinstance(v, float) else repr(v)


def bounds_text(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> str:
    """``"in [0, 1)"``, ``">= 0"``, ``"> 0"``, ``"<= 10"`` or ``""``."""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def _inside(v: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def is_integer(v: Any) -> bool:
    """An integer that is not a bool (NumPy integers count)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and type(v).__name__ != "bool_"


def real(
    where: str,
    name: str,
    v: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    describe: str | None = None,
) -> float:
    """A finite real number within the bounds (0-d arrays and tensors count; bools do not)."""
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 and not isinstance(v, bool):
        try:
            v = v.item()
        except (TypeError, ValueError):
            pass
    rng = bounds_text(lo, hi, lo_open, hi_open)
    what = describe or (f"a finite number {rng}" if rng else "a finite real number")
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"{where}: {name} must be {what}, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{where}: {name} must be {what}, got {show(f)}")
    if not _inside(f, lo, hi, lo_open, hi_open):
        raise ValueError(f"{where}: {name} must be {describe or rng}, got {show(v)}")
    return f


def integer(where: str, name: str, v: Any, *, minimum: float | None = None, maximum: float | None = None) -> int:
    """An integer (not a bool) with ``minimum <= v <= maximum`` (bounds may be given as floats)."""
    rng = bounds_text(minimum, maximum)
    what = f"an integer {rng}".rstrip()
    if not is_integer(v) or not _inside(int(v), minimum, maximum, False, False):
        raise ValueError(f"{where}: {name} must be {what}, got {v!r}")
    return int(v)


def boolean(where: str, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{where}: {name} must be True or False, got {v!r}")
    return v


class UnknownChoice(ValueError):
    """A value that is not one of the allowed choices (a ``ValueError`` whose message says so).
    ``value`` and ``choices`` are kept, so that a caller can add the nearest name ("did you
    mean …") without reading the message's text."""

    def __init__(self, message: str, value: Any, choices: Iterable[Any]) -> None:
        super().__init__(message)
        self.value = value
        self.choices = tuple(choices)


def choice(where: str, name: str, v: Any, choices: Iterable[Any]) -> Any:
    """``v`` if it is one of ``choices``, else :class:`UnknownChoice`."""
    choices = tuple(choices)
    try:
        ok = v in choices
    except TypeError:
        ok = False
    if not ok:
        raise UnknownChoice(f"{where}: {name} must be one of {', '.join(map(repr, choices))}, got {v!r}", v, choices)
    return v
