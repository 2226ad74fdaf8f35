"""JSON bodies of the explorer's answers: strict JSON, non-finite numbers as ``null``.

:func:`encode` is the one encoder: ``orjson`` when it is installed (faster, docs/explorer.md;
NumPy arrays encoded directly, NaN/±inf → null), else :mod:`json` over
:func:`ravine._json.jsonable` (finite-or-null; the same JSON). :func:`f64` and :func:`f32`
shape arrays before they are encoded; :func:`nested` is an array as lists, for the few small
values built by hand (the explain table).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ravine._json import jsonable

__all__ = ["encode", "nested", "f64", "f32"]

try:  # optional: faster JSON, numpy arrays encoded directly, NaN/inf → null
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def encode(data) -> bytes:
    """The JSON body of an answer (strict JSON: non-finite numbers are null)."""
    if _orjson is not None:
        return _orjson.dumps(data, option=_orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(jsonable(data), allow_nan=False, separators=(",", ":")).encode()


def nested(a) -> Any:
    """An array (or number) as nested lists of floats; non-finite values become None."""
    return jsonable(np.asarray(a, dtype=float))


def f64(a) -> np.ndarray:
    """A C-contiguous float64 copy/view, for the encoder (non-finite values become null)."""
    return np.ascontiguousarray(a, dtype=np.float64)


def f32(a) -> np.ndarray:
    """Numbers for drawing: float32 (7 significant digits) halves the JSON of a run. The exact
    float64 values are in /api/explain (one step) and /api/export (everything)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = a.astype(np.float32)
    out[np.isfinite(a) & ~np.isfinite(out)] = np.nan  # beyond float32's range: drawn as a gap
    return np.ascontiguousarray(out)
