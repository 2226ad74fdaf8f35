"""Array arguments of the analysis functions: finite matrices and vectors, one message style."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import integer, real

__all__ = ["matrix", "vector", "positive", "count"]


def matrix(where: str, name: str, a: Any, *, symmetric: bool = True) -> np.ndarray:
    """A finite, square, (symmetric) float64 matrix; 0-d scalars become 1×1."""
    try:
        m = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a square matrix of real numbers") from None
    if m.ndim == 0:
        m = m.reshape(1, 1)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{where}: {name} must be a non-empty square 2-D array, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{where}: {name} must be finite, it contains NaN or inf")
    if symmetric:
        asym = float(np.max(np.abs(m - m.T)))
        allowed = 1e-8 * max(1.0, float(np.max(np.abs(m))))
        if asym > allowed:
            raise ValueError(
                f"{where}: {name} must be symmetric, max |{name} − {name}ᵀ| = {asym:.3g} (allowed {allowed:.1g})"
            )
        m = 0.5 * (m + m.T)
    return m


def vector(where: str, name: str, v: Any, dim: int | None = None) -> np.ndarray:
    try:
        x = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a 1-D array of real numbers") from None
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"{where}: {name} must be a 1-D array, got shape {x.shape}")
    if dim is not None and x.shape[0] != dim:
        raise ValueError(f"{where}: {name} must have length {dim}, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: {name} must be finite, it contains NaN or inf")
    return x


def positive(where: str, name: str, value: Any) -> float:
    """A finite number > 0."""
    return real(where, name, value, lo=0.0, lo_open=True)


def count(where: str, name: str, value: Any, minimum: int) -> int:
    return integer(where, name, value, minimum=minimum)
