"""The :class:`Problem` interface shared by every analytic test function.

A problem is a smooth (or almost smooth) function f: R^dim -> R with its exact gradient and
Hessian.  All three evaluate a whole batch of points at once: ``x`` has shape ``(..., dim)``
and the results have shapes ``(...)``, ``(..., dim)`` and ``(..., dim, dim)``.

Conventions shared by all problems:

* Inputs may be NumPy arrays, lists or tuples.  Floating inputs keep their dtype (a float32
  batch is evaluated in float32 and returns float32); anything else (ints, bools) is
  evaluated in float64.  Complex input is rejected.
* The last axis must have length ``dim``; otherwise a ``ValueError`` names the problem, the
  shape received and the dimension expected.

This module imports only NumPy: sympy is loaded lazily by the symbolic problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Minimum", "Problem", "as_points"]


class Minimum(NamedTuple):
    """A published minimizer ``point`` and the function ``value`` there."""

    point: tuple[float, ...]
    value: float


def as_points(x: Any, dim: int, name: str) -> np.ndarray:
    """Return ``x`` as an array of points of shape ``(..., dim)`` in a floating dtype.

    Floating dtypes are kept (float32 stays float32); other real dtypes become float64.
    Raises ``ValueError`` naming the problem ``name`` when the last axis is not ``dim`` or
    when the input is complex or not numeric.
    """
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise ValueError(f"problem '{name}': x must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        if arr.dtype.kind not in "biu":
            raise ValueError(f"problem '{name}': x must be numeric, got dtype {arr.dtype} with shape {arr.shape}")
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(
            f"problem '{name}': x must have shape (..., {dim}) (last axis = dim = {dim}), got shape {arr.shape}"
        )
    return arr


def _as_float_tuple(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


class Problem:
    """An analytic test function with exact gradient and Hessian, vectorized over a batch.

    Attributes
    ----------
    name : str
        Lower-case identifier, e.g. ``"rosenbrock"``.
    dim : int
        Number of variables.
    variables : tuple[str, ...]
        Variable names, in the order of the last axis of ``x``.
    title : str
        Human-readable title including the formula.
    source : str
        Where the function comes from: a lecture (``"lecture 002"``, docs/explain.md lists them) or a
        paper / reference.
    minima : tuple[Minimum, ...]
        Published minimizers with their values (may be empty).
    critical_points : tuple[tuple[float, ...], ...]
        Other known critical points (saddles, maxima, degenerate points; may be empty).
    bounds : tuple[tuple[float, float], ...]
        A good plotting window, one ``(low, high)`` pair per variable.
    start : tuple[float, ...]
        A good default starting point for optimizers.
    log_levels : bool
        True when contour plots should use log-spaced levels (Rosenbrock-like valleys).
    params : dict[str, float]
        The parameter values the problem was built with (empty when it has none).
    notes : str
        Remarks that do not fit elsewhere (non-differentiable points, infima that are not
        attained, errata in the source).

    Subclasses implement ``_f``, ``_grad`` and ``_hessian`` on validated arrays of shape
    ``(..., dim)``; the public ``f``, ``grad`` and ``hessian`` do the validation.
    """

    def __init__(
        self,
        *,
        name: str,
        variables: tuple[str, ...] | list[str],
        title: str = "",
        source: str = "",
        minima: Iterable[tuple[Iterable[float], float]] = (),
        critical_points: Iterable[Iterable[float]] = (),
        bounds: Iterable[tuple[float, float]] | None = None,
        start: Iterable[float] | None = None,
        log_levels: bool = False,
        params: dict[str, float] | None = None,
        notes: str = "",
    ) -> None:
        variables = tuple(str(v) for v in variables)
        if not variables:
            raise ValueError(f"problem '{name}': needs at least one variable")
        self.name: str = str(name)
        self.variables: tuple[str, ...] = variables
        self.dim: int = len(variables)
        self.title: str = title or name
        self.source: str = source
        self.minima: tuple[Minimum, ...] = tuple(Minimum(_as_float_tuple(p), float(v)) for p, v in minima)
        self.critical_points: tuple[tuple[float, ...], ...] = tuple(_as_float_tuple(p) for p in critical_points)
        if bounds is None:
            bounds = ((-3.0, 3.0),) * self.dim
        self.bounds: tuple[tuple[float, float], ...] = tuple((float(lo), float(hi)) for lo, hi in bounds)
        if start is None:
            start = tuple(0.5 * (lo + hi) for lo, hi in self.bounds)
        self.start: tuple[float, ...] = _as_float_tuple(start)
        self.log_levels: bool = bool(log_levels)
        self.params: dict[str, float] = dict(params or {})
        self.notes: str = notes
        self._check_metadata()

    # ------------------------------------------------------------------ validation
    def _check_metadata(self) -> None:
        n = self.dim
        if len(self.bounds) != n:
            raise ValueError(f"problem '{self.name}': bounds needs {n} (low, high) pairs")
        for lo, hi in self.bounds:
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"problem '{self.name}': bad bounds pair ({lo}, {hi})")
        if len(self.start) != n:
            raise ValueError(f"problem '{self.name}': start needs {n} coordinates")
        for m in self.minima:
            if len(m.point) != n:
                raise ValueError(f"problem '{self.name}': minimum {m.point} is not {n}-D")
        for p in self.critical_points:
            if len(p) != n:
                raise ValueError(f"problem '{self.name}': critical point {p} is not {n}-D")

    def _points(self, x: Any) -> np.ndarray:
        return as_points(x, self.dim, self.name)

    # ------------------------------------------------------------------ public API
    def f(self, x: Any) -> np.ndarray:
        """Function values, shape ``x.shape[:-1]``."""
        return self._f(self._points(x))

    def grad(self, x: Any) -> np.ndarray:
        """Exact gradient, shape ``x.shape`` (``(..., dim)``)."""
        return self._grad(self._points(x))

    def hessian(self, x: Any) -> np.ndarray:
        """Exact Hessian, shape ``(..., dim, dim)``."""
        return self._hessian(self._points(x))

    def __call__(self, x: Any) -> np.ndarray:
        """Same as :meth:`f`."""
        return self.f(x)

    def scalar_functions(self) -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]] | None:
        """Return ``(f_scalar, grad_scalar)`` or ``None``.

        ``f_scalar(x1, ..., x_dim) -> float`` and ``grad_scalar(x1, ..., x_dim) -> tuple`` are
        plain Python functions using only arithmetic and the ``math`` module, so that
        ``numba.njit`` can compile them.  Problems that cannot provide them return ``None``.
        """
        return None

    @property
    def f_min(self) -> float | None:
        """The least value among the known minima (the global minimum when all are listed), or None."""
        return float(min(m.value for m in self.minima)) if self.minima else None

    @property
    def expr(self) -> Any:
        """The sympy expression of ``f`` (``None`` for problems without one)."""
        return None

    # ------------------------------------------------------------------ to implement
    def _f(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _hessian(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"<{type(self).__name__} {self.name!r} dim={self.dim}{params}>"
