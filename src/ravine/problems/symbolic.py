"""Problems defined by a formula: sympy derives the exact gradient and Hessian.

The formula text (in the safe syntax of :mod:`ravine.problems.formula`) is parsed into a sympy
expression; ``sympy.diff`` gives the gradient and the Hessian, and ``sympy.lambdify`` turns them
into vectorized NumPy functions (``modules="numpy"``) and into scalar ``math``-only functions
that ``numba.njit`` can compile.  Everything is built lazily on first use and cached per
(formula, variables, parameters), so ``get_problem("rosenbrock")`` twice compiles once.

Only the sympy tree built by the safe parser ever reaches ``lambdify`` (with ``dummify=True``,
so not even variable names appear in the generated code); user text is never evaluated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .base import Problem
from .formula import ParsedFormula, parse

__all__ = ["SymbolicProblem", "from_formula"]


class _Core:
    """The expression of one (formula, variables, parameters) and everything derived from it."""

    def __init__(self, formula: str, variables: tuple[str, ...], params: tuple, parsed=None):
        self.formula = formula
        self.variables = variables
        self.params = dict(params)
        self._parsed: ParsedFormula | None = parsed
        self._cache: dict[str, Any] = {}

    # -- symbolic pieces ------------------------------------------------------------------
    @property
    def parsed(self) -> ParsedFormula:
        if self._parsed is None:
            self._parsed = parse(self.formula, self.variables, self.params)
        return self._parsed

    @property
    def expr(self) -> Any:
        return self.parsed.expr

    def _cached(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def grad_exprs(self) -> tuple:
        import sympy

        return self._cached("grad", lambda: tuple(sympy.diff(self.expr, s) for s in self.parsed.symbols))

    @property
    def hessian_exprs(self) -> tuple:
        """Upper triangle (row-major, i <= j) of the Hessian.

        Distributions from differentiating ``abs`` (``DiracDelta``) are replaced by 0: the
        Hessian is exact wherever the function is twice differentiable.
        """
        import sympy

        def build() -> tuple:
            syms = self.parsed.symbols
            grads = self.grad_exprs
            out = []
            for i in range(len(syms)):
                for j in range(i, len(syms)):
                    h = sympy.diff(grads[i], syms[j])
                    if h.has(sympy.DiracDelta):
                        h = h.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
                    out.append(h)
            return tuple(out)

        return self._cached("hessian", build)

    # -- compiled functions ---------------------------------------------------------------
    def _lambdify(self, exprs: Any, modules: str) -> Callable[..., Any]:
        import sympy

        return sympy.lambdify(self.parsed.symbols, exprs, modules=modules, dummify=True)

    @property
    def np_f(self) -> Callable[..., Any]:
        return self._cached("np_f", lambda: self._lambdify(self.expr, "numpy"))

    @property
    def np_grad(self) -> Callable[..., Any]:
        return self._cached("np_grad", lambda: self._lambdify(list(self.grad_exprs), "numpy"))

    @property
    def np_hessian(self) -> Callable[..., Any]:
        return self._cached("np_hessian", lambda: self._lambdify(list(self.hessian_exprs), "numpy"))

    def scalar_functions(self) -> tuple[Callable[..., float], Callable[..., tuple]]:
        import sympy

        def as_float(e: Any) -> Any:
            return sympy.Float(e) if e.is_number else e

        def build() -> tuple:
            f = self._lambdify(as_float(self.expr), "math")
            g = self._lambdify(tuple(as_float(e) for e in self.grad_exprs), "math")
            return f, g

        return self._cached("scalar", build)


@functools.lru_cache(maxsize=256)
def _core(formula: str, variables: tuple[str, ...], params: tuple) -> _Core:
    return _Core(formula, variables, params)


def _column(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """One lambdified component as an array of the batch shape and dtype (constants broadcast)."""
    arr = np.asarray(value)
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if arr.shape != shape:
        arr = np.broadcast_to(arr, shape)
    return arr


class SymbolicProblem(Problem):
    """A problem given by a formula in the safe syntax; exact derivatives from sympy.

    Parameters
    ----------
    formula : str
        The formula text, e.g. ``"(a - x)^2 + b*(y - x^2)^2"``.
    variables : sequence of str
        The variable names, in the order of the last axis of ``x``.
    parameters : mapping, optional
        Names in the formula that are numbers (substituted exactly), e.g. ``{"a": 1, "b": 100}``.
    Other keyword arguments are the metadata of :class:`~ravine.problems.Problem`.
    """

    def __init__(
        self,
        formula: str,
        variables: Sequence[str],
        *,
        parameters: Mapping[str, float] | None = None,
        parsed: ParsedFormula | None = None,
        **metadata: Any,
    ) -> None:
        params = dict(parameters or {})
        super().__init__(variables=tuple(variables), params=params, **metadata)
        self.formula: str = formula
        key = (formula, self.variables, tuple(sorted(params.items())))
        if parsed is not None:
            self._core = _Core(*key, parsed=parsed)
        else:
            self._core = _core(*key)

    @property
    def expr(self) -> Any:
        """The sympy expression of f (real symbols named after :attr:`variables`)."""
        return self._core.expr

    @property
    def grad_expr(self) -> tuple:
        """The sympy gradient, one expression per variable."""
        return self._core.grad_exprs

    @property
    def hessian_expr(self) -> Any:
        """The sympy Hessian as a ``sympy.Matrix``."""
        import sympy

        n = self.dim
        upper = iter(self._core.hessian_exprs)
        m = sympy.zeros(n, n)
        for i in range(n):
            for j in range(i, n):
                m[i, j] = m[j, i] = next(upper)
        return m

    def _columns(self, x: np.ndarray) -> list[np.ndarray]:
        return [x[..., i] for i in range(self.dim)]

    def _f(self, x: np.ndarray) -> np.ndarray:
        return _column(self._core.np_f(*self._columns(x)), x.shape[:-1], x.dtype)

    def _grad(self, x: np.ndarray) -> np.ndarray:
        batch = x.shape[:-1]
        parts = self._core.np_grad(*self._columns(x))
        out = np.empty(x.shape, dtype=x.dtype)
        for i, part in enumerate(parts):
            out[..., i] = _column(part, batch, x.dtype)
        return out

    def _hessian(self, x: np.ndarray) -> np.ndarray:
        n = self.dim
        batch = x.shape[:-1]
        parts = iter(self._core.np_hessian(*self._columns(x)))
        out = np.empty(batch + (n, n), dtype=x.dtype)
        for i in range(n):
            for j in range(i, n):
                value = _column(next(parts), batch, x.dtype)
                out[..., i, j] = value
                if i != j:
                    out[..., j, i] = value
        return out

    def scalar_functions(self) -> tuple[Callable[..., float], Callable[..., tuple]]:
        """``(f_scalar, grad_scalar)``: plain ``math``-only Python functions of ``dim`` floats.

        Generated by ``sympy.lambdify(..., modules="math")`` from the parsed expression, so
        ``numba.njit(f_scalar)`` and ``numba.njit(grad_scalar)`` compile.
        """
        return self._core.scalar_functions()


def _default_start(problem: SymbolicProblem) -> tuple[float, ...]:
    """A start point where f and its gradient are finite, preferring (1, ..., 1)."""
    import numpy as np

    n = problem.dim
    candidates = [1.0, 0.5, 2.0, -1.0, 0.1, 0.0]
    with np.errstate(all="ignore"):
        for c in candidates:
            point = np.full(n, c)
            try:
                value = problem.f(point)
                grad = problem.grad(point)
            except (ArithmeticError, ValueError):  # pragma: no cover - defensive
                continue
            if np.isfinite(value) and np.all(np.isfinite(grad)):
                return tuple(point.tolist())
    return (1.0,) * n


def from_formula(text: str, variables: str | Sequence[str] | None = None, name: str | None = None) -> SymbolicProblem:
    """Build a :class:`~ravine.problems.Problem` from a user formula (parsed safely).

    The problem gets the window (-3, 3) per variable, a start point where f and its gradient
    are finite (``(1, ..., 1)`` when possible) and no published minima.

    >>> p = from_formula("(1-x)^2 + 100*(y-x^2)^2")
    >>> float(p.f([1.0, 1.0]))
    0.0
    """
    parsed = parse(text, variables)
    label = " ".join(text.split())
    problem = SymbolicProblem(
        formula=text,
        variables=parsed.variables,
        name=name or "formula",
        title=f"f({', '.join(parsed.variables)}) = {label}",
        source="user formula",
        bounds=((-3.0, 3.0),) * len(parsed.variables),
        start=(0.0,) * len(parsed.variables),
        parsed=parsed,
    )
    problem.start = _default_start(problem)
    return problem
