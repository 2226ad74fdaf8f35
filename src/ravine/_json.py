"""JSON helpers shared by every module that writes records or keys them by a hash (NumPy only).

:func:`jsonable` makes a finite JSON-friendly copy of a value: NaN and ±inf become ``None``
(``null``; or the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` where a table shows
them), tuples become lists, NumPy scalars and arrays become Python numbers and lists, mapping
keys become strings, and anything else JSON cannot hold becomes its ``repr``. The one
conversion to JSON in ravine: records, the explorer, runner exports, tables and lectures.
:func:`canonical_json` writes such a copy with sorted keys and no spaces, and
:func:`stable_hash` is the SHA-256 (hex) of that text: the same value gives the same hash in
every process and on every machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["NONFINITE", "jsonable", "canonical_json", "stable_hash"]


#: how :func:`jsonable` writes NaN and ±inf: ``"null"`` (``None``: records, the explorer's
#: JSON, runner exports) or ``"text"`` (the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``:
#: ``ravine explain``'s tables and the lectures, where a diverged value is shown, not dropped)
NONFINITE = ("null", "text")


def jsonable(v: Any, nonfinite: str = "null") -> Any:
    """A JSON-friendly copy of ``v`` with only finite numbers (NaN/inf → ``None``, or their
    names under ``nonfinite="text"``)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (numbers.Integral, np.integer)):
        return int(v)
    if isinstance(v, (numbers.Real, np.floating)):
        f = float(v)
        if math.isfinite(f):
            return f
        if nonfinite == "text":
            return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
        return None
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist(), nonfinite)
    if isinstance(v, (list, tuple)):
        return [jsonable(x, nonfinite) for x in v]
    if isinstance(v, Mapping):
        return {str(k): jsonable(x, nonfinite) for k, x in v.items()}
    return repr(v)


def canonical_json(obj: Any) -> str:
    """``jsonable(obj)`` as JSON text with sorted keys and no spaces (strict: no NaN)."""
    return json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_hash(obj: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()
