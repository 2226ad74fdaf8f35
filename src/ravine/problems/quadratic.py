"""N-dimensional quadratics f(x) = ½ xᵀAx − bᵀx + c with exact derivatives.

The gradient is ``A x − b`` and the Hessian is ``A`` (constant).  ``A`` must be symmetric; when
it is positive definite the unique minimizer is ``x* = A⁻¹ b`` with value
``c − ½ bᵀA⁻¹b``, and :attr:`Quadratic.minima` lists it.  When ``A`` is nonsingular but not
positive definite, ``x*`` is listed in :attr:`Quadratic.critical_points` instead.

:func:`random_quadratic` builds a symmetric positive-definite test problem with a prescribed
condition number, for tests and benchmarks of step-size rules (gradient descent converges iff
0 < η < 2/λ_max; Polyak's heavy-ball optimum depends on κ = λ_max/λ_min).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _checks
from .base import Problem

__all__ = ["Quadratic", "random_quadratic"]


def _finite_array(value: Any, param: str, name: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{param}: quadratic '{name}' needs a real numeric array") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{param}: quadratic '{name}' has non-finite entries (nan or inf)")
    return arr


class Quadratic(Problem):
    """f(x) = ½ xᵀAx − bᵀx + c in N dimensions; gradient A x − b, Hessian A.

    Parameters
    ----------
    A : array_like, shape (N, N)
        Symmetric matrix (symmetric within a relative tolerance of 1e-10; it is then
        symmetrized exactly).
    b : array_like, shape (N,), optional
        Linear term (default zeros).
    c : float
        Constant term.
    name, title, source, bounds, start, log_levels :
        Metadata; defaults: name ``"quadratic"``, variables ``x1 … xN``, a window of ±3 around
        the minimizer (or the origin), and a start point ``x* + (2, −1.5, 2, −1.5, …)``.

    ``eigenvalues`` holds the eigenvalues of ``A`` (ascending) and ``cond`` its condition
    number (``inf`` unless positive definite).
    """

    def __init__(
        self,
        A: Any,
        b: Any = None,
        c: float = 0.0,
        name: str = "quadratic",
        *,
        title: str | None = None,
        source: str = "ravine: f(x) = ½ xᵀAx − bᵀx + c",
        bounds: Sequence[tuple[float, float]] | None = None,
        start: Sequence[float] | None = None,
        log_levels: bool = False,
    ) -> None:
        A = _finite_array(A, "A", name)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A: quadratic '{name}' needs a square (N, N) matrix, got shape {A.shape}")
        n = A.shape[0]
        scale = max(1.0, float(np.max(np.abs(A))))
        asym = float(np.max(np.abs(A - A.T)))
        if asym > 1e-10 * scale:
            raise ValueError(f"A: quadratic '{name}' needs a symmetric matrix; max |A - A.T| = {asym:.3g}")
        A = 0.5 * (A + A.T)
        if b is None:
            b = np.zeros(n)
        b = _finite_array(b, "b", name)
        if b.shape != (n,):
            raise ValueError(f"b: quadratic '{name}' needs shape ({n},), got {b.shape}")
        try:
            c = float(c)
        except (TypeError, ValueError):
            raise ValueError(f"c: quadratic '{name}' needs a real number, got {c!r}") from None
        if not np.isfinite(c):
            raise ValueError(f"c: quadratic '{name}' needs a finite number, got {c!r}")

        eig = np.linalg.eigvalsh(A)
        tol = 1e-12 * max(1.0, float(np.max(np.abs(eig))))
        positive_definite = bool(eig[0] > tol)
        nonsingular = bool(np.min(np.abs(eig)) > tol)
        minima: tuple[tuple[tuple[float, ...], float], ...] = ()
        critical: tuple[tuple[float, ...], ...] = ()
        center = np.zeros(n)
        if nonsingular:
            center = np.linalg.solve(A, b)
            value = c - 0.5 * float(b @ center)
            if positive_definite:
                minima = ((tuple(center.tolist()), value),)
            else:
                critical = (tuple(center.tolist()),)
        if bounds is None:
            bounds = tuple((float(m) - 3.0, float(m) + 3.0) for m in center)
        if start is None:
            offsets = np.where(np.arange(n) % 2 == 0, 2.0, -1.5)
            start = tuple((center + offsets).tolist())
        if title is None:
            kind = "positive definite" if positive_definite else "indefinite or singular"
            title = f"Quadratic ½ xᵀAx − bᵀx + c in {n}-D ({kind}, κ = {_cond(eig):.3g})"

        self.A: np.ndarray = A
        self.b: np.ndarray = b
        self.c: float = c
        self.eigenvalues: np.ndarray = eig
        self.cond: float = _cond(eig)
        self.positive_definite: bool = positive_definite
        self._typed: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}
        super().__init__(
            name=name,
            variables=tuple(f"x{i + 1}" for i in range(n)),
            title=title,
            source=source,
            minima=minima,
            critical_points=critical,
            bounds=bounds,
            start=start,
            log_levels=log_levels,
        )

    def _as(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """A and b in the dtype of the input (cached), so float32 stays float32."""
        if dtype not in self._typed:
            self._typed[dtype] = (self.A.astype(dtype), self.b.astype(dtype))
        return self._typed[dtype]

    def _f(self, x: np.ndarray) -> np.ndarray:
        A, b = self._as(x.dtype)
        Ax = x @ A  # A is symmetric: (A x)ᵢ = Σⱼ xⱼ Aⱼᵢ
        out = 0.5 * np.sum(x * Ax, axis=-1) - x @ b + x.dtype.type(self.c)
        return np.asarray(out, dtype=x.dtype)

    def _grad(self, x: np.ndarray) -> np.ndarray:
        A, b = self._as(x.dtype)
        return np.asarray(x @ A - b, dtype=x.dtype)

    def _hessian(self, x: np.ndarray) -> np.ndarray:
        A, _ = self._as(x.dtype)
        out: np.ndarray = np.broadcast_to(A, x.shape[:-1] + A.shape).copy()
        return out

    @property
    def expr(self) -> Any:
        """The sympy expression ½ xᵀAx − bᵀx + c (with float coefficients; built on request)."""
        import sympy

        xs = sympy.symbols(self.variables, real=True)
        n = self.dim
        quad = sum(sympy.Float(self.A[i, j]) * xs[i] * xs[j] for i in range(n) for j in range(n))
        lin = sum(sympy.Float(self.b[i]) * xs[i] for i in range(n))
        return sympy.Rational(1, 2) * quad - lin + sympy.Float(self.c)

    def scalar_functions(self) -> None:
        """Quadratics with a matrix provide no scalar functions; use the vectorized methods."""
        return None


def _cond(eig: np.ndarray) -> float:
    if eig[0] <= 0:
        return float("inf")
    return float(eig[-1] / eig[0])


def random_quadratic(
    dim: int,
    cond: float = 10.0,
    seed: int | None = 0,
    *,
    lam_max: float = 1.0,
    shift: bool = True,
    name: str | None = None,
) -> Quadratic:
    """A random symmetric positive-definite quadratic with condition number ``cond``.

    ``A = Q diag(λ) Qᵀ`` with a Haar-random orthogonal ``Q`` and eigenvalues spaced
    geometrically from ``lam_max / cond`` to ``lam_max`` (both included).  With ``shift`` the
    minimizer ``x*`` is a standard-normal random vector (``b = A x*``); otherwise ``b = 0`` and
    ``x* = 0``.  The same ``seed`` gives the same problem.
    """
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim: must be a positive integer, got {dim!r}")
    dim = int(dim)
    _checks.real("random_quadratic", "cond", cond, lo=1)
    _checks.real("random_quadratic", "lam_max", lam_max, lo=0, lo_open=True)
    if dim == 1 and cond != 1.0:
        raise ValueError(f"cond: a 1-D quadratic has condition number 1, got {cond!r}")
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((dim, dim))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
    lam = np.geomspace(lam_max / cond, lam_max, dim)
    A = (q * lam) @ q.T
    A = 0.5 * (A + A.T)
    x_star = rng.standard_normal(dim) if shift else np.zeros(dim)
    b = A @ x_star
    label = name or f"random_quadratic_{dim}d_cond{cond:g}"
    return Quadratic(
        A,
        b,
        0.0,
        name=label,
        title=f"Random SPD quadratic in {dim}-D, κ = {cond:g} (seed {seed})",
        source="ravine.problems.random_quadratic: A = Q diag(λ) Qᵀ, λ geometric in [λmax/κ, λmax]",
    )
