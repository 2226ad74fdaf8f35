"""Problems defined by a formula: sympy derives the exact gradient and Hessian.

The formula text (in the safe syntax of :mod:`ravine.problems.formula`) is parsed into a sympy
expression; ``sympy.diff`` gives the gradient and the Hessian, and ``sympy.lambdify`` turns them
into vectorized NumPy functions (``modules="numpy"``) and into scalar ``math``-only functions
that ``numba.njit`` can compile.  Everything is built lazily on first use and cached per
(formula, variables, parameters), so ``get_problem("rosenbrock")`` twice compiles once.

Only the sympy tree built by the safe parser ever reaches ``lambdify`` (with ``dummify=True``,
so not even variable names appear in the generated code); user text is never evaluated.

The cost of a user formula is bounded (:func:`from_formula`): the parser's static limits
(:mod:`ravine.problems.formula`: length, tree size and depth, literals, exponents, exact
constants kept small), then the derivatives' sizes (:data:`MAX_GRADIENT_NODES`,
:data:`MAX_HESSIAN_NODES`, counted as the nodes of the generated code), then a trial
evaluation, all of it in a child process with a hard wall-clock limit (:data:`FORMULA_SECONDS`)
and a memory cap (:mod:`ravine.problems.worker`). Each refusal is one :class:`FormulaError`
line naming ``formula`` and the limit it passed. :meth:`SymbolicProblem.cost` is the number of
expression nodes one evaluation of f and its gradient (and Hessian) runs through: the
explorer's measure of work per step.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

from .base import Problem
from .formula import FormulaError, ParsedFormula, _tree_size, parse

_T = TypeVar("_T")

__all__ = ["SymbolicProblem", "from_formula", "MAX_GRADIENT_NODES", "MAX_HESSIAN_NODES", "FORMULA_SECONDS"]

#: nodes of all gradient components together (the 100-factor product's gradient has 20 000)
MAX_GRADIENT_NODES = 5000
#: nodes of the Hessian's upper triangle together
MAX_HESSIAN_NODES = 15000
#: what the formula children find imported (sympy's first differentiation and code generation)
WARM_MODULE = "ravine.problems._warm"
#: the hard wall-clock limit on a user formula's symbolic work (parse, derivatives, trial)
FORMULA_SECONDS = 5.0


class _Core:
    """The expression of one (formula, variables, parameters) and everything derived from it."""

    def __init__(
        self,
        formula: str,
        variables: tuple[str, ...],
        params: tuple[tuple[str, float], ...],
        parsed: ParsedFormula | None = None,
    ) -> None:
        self.formula = formula
        self.variables = variables
        self.params = dict(params)
        self._parsed: ParsedFormula | None = parsed
        self._cache: dict[str, Any] = {}
        self.bounded = False  # user formulas: derivative sizes are limited

    def cost(self) -> dict[str, int]:
        """Expression nodes of f, of the gradient and of the Hessian (the work per evaluation)."""
        if "cost" not in self._cache:

            def count(exprs: Sequence[Any]) -> int:
                return sum(_tree_size(e, 10**7)[0] for e in exprs)

            self._cache["cost"] = {
                "f": count([self.expr]),
                "grad": count(self.grad_exprs),
                "hessian": count(self.hessian_exprs),
            }
        cost: dict[str, int] = self._cache["cost"]
        return cost

    # -- symbolic pieces ------------------------------------------------------------------
    @property
    def parsed(self) -> ParsedFormula:
        if self._parsed is None:
            self._parsed = parse(self.formula, self.variables, self.params)
        return self._parsed

    @property
    def expr(self) -> Any:
        return self.parsed.expr

    def _cached(self, key: str, build: Callable[[], _T]) -> _T:
        if key not in self._cache:
            self._cache[key] = build()
        out: _T = self._cache[key]
        return out

    @property
    def grad_exprs(self) -> tuple[Any, ...]:
        import sympy

        def build() -> tuple[Any, ...]:
            out, total = [], 0
            for s in self.parsed.symbols:
                g = sympy.diff(self.expr, s)
                total += _tree_size(g, MAX_GRADIENT_NODES)[0]
                if self.bounded and total > MAX_GRADIENT_NODES:
                    raise FormulaError(
                        f"formula: its gradient has more than {MAX_GRADIENT_NODES} expression nodes "
                        f"(the limit on the work per step is {MAX_GRADIENT_NODES})"
                    )
                out.append(g)
            return tuple(out)

        return self._cached("grad", build)

    @property
    def hessian_exprs(self) -> tuple[Any, ...]:
        """Upper triangle (row-major, i <= j) of the Hessian.

        Distributions from differentiating ``abs`` (``DiracDelta``) are replaced by 0: the
        Hessian is exact wherever the function is twice differentiable.
        """
        import sympy

        def build() -> tuple[Any, ...]:
            syms = self.parsed.symbols
            grads = self.grad_exprs
            out, total = [], 0
            for i in range(len(syms)):
                for j in range(i, len(syms)):
                    h = sympy.diff(grads[i], syms[j])
                    if h.has(sympy.DiracDelta):
                        h = h.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
                    total += _tree_size(h, MAX_HESSIAN_NODES)[0]
                    if self.bounded and total > MAX_HESSIAN_NODES:
                        raise FormulaError(
                            f"formula: its Hessian has more than {MAX_HESSIAN_NODES} expression nodes "
                            f"(the limit for second-order work is {MAX_HESSIAN_NODES})"
                        )
                    out.append(h)
            return tuple(out)

        return self._cached("hessian", build)

    # -- compiled functions ---------------------------------------------------------------
    def _lambdify(self, exprs: Any, modules: str) -> Callable[..., Any]:
        import sympy

        fn: Callable[..., Any] = sympy.lambdify(self.parsed.symbols, exprs, modules=modules, dummify=True)
        return fn

    @property
    def np_f(self) -> Callable[..., Any]:
        return self._cached("np_f", lambda: self._lambdify(self.expr, "numpy"))

    @property
    def np_grad(self) -> Callable[..., Any]:
        return self._cached("np_grad", lambda: self._lambdify(list(self.grad_exprs), "numpy"))

    @property
    def np_hessian(self) -> Callable[..., Any]:
        return self._cached("np_hessian", lambda: self._lambdify(list(self.hessian_exprs), "numpy"))

    def scalar_functions(self) -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]]:
        import sympy

        def as_float(e: Any) -> Any:
            return sympy.Float(e.evalf()) if e.is_number else e

        def build() -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]]:
            f = self._lambdify(as_float(self.expr), "math")
            g = self._lambdify(tuple(as_float(e) for e in self.grad_exprs), "math")
            return f, g

        return self._cached("scalar", build)


@functools.lru_cache(maxsize=256)
def _core(formula: str, variables: tuple[str, ...], params: tuple[tuple[str, float], ...]) -> _Core:
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

    @classmethod
    def _from_derived(cls, derived: _Derived, **metadata: Any) -> SymbolicProblem:
        """A problem from work done elsewhere (the bounded child): nothing symbolic is redone."""
        problem = cls(derived.parsed_formula, derived.parsed.variables, parsed=derived.parsed, **metadata)
        core = problem._core
        core.bounded = True
        core._cache.update(grad=derived.grad, hessian=derived.hessian, cost=derived.cost)
        return problem

    @property
    def expr(self) -> Any:
        """The sympy expression of f (real symbols named after :attr:`variables`)."""
        return self._core.expr

    @property
    def grad_expr(self) -> tuple[Any, ...]:
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

    def cost(self) -> dict[str, int]:
        """Expression nodes one evaluation runs through: ``{"f": …, "grad": …, "hessian": …}``."""
        return self._core.cost()

    def scalar_functions(self) -> tuple[Callable[..., float], Callable[..., tuple[float, ...]]]:
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


class _Derived(NamedTuple):
    """What the bounded child sends back: the parsed formula, its derivatives, cost, start."""

    parsed_formula: str
    parsed: ParsedFormula
    grad: tuple[Any, ...]
    hessian: tuple[Any, ...]
    cost: dict[str, int]
    start: tuple[float, ...]


def _derive(text: str, variables: Any) -> _Derived:
    """All the symbolic work on a user formula, with its size limits (run in the child)."""
    import numpy as np

    parsed = parse(text, variables)
    problem = SymbolicProblem(
        formula=text,
        variables=parsed.variables,
        parsed=parsed,
        name="formula",
        bounds=((-3.0, 3.0),) * len(parsed.variables),
        start=(0.0,) * len(parsed.variables),
    )
    core = problem._core
    core.bounded = True
    try:
        cost = core.cost()  # gradient and Hessian, each within its limit
        start = _default_start(problem)
        with np.errstate(all="ignore"):  # a trial evaluation of every generated function
            x = np.asarray([start, [0.5] * problem.dim])
            problem.f(x), problem.grad(x), problem.hessian(x)
        problem.scalar_functions()
    except FormulaError:
        raise
    except RecursionError:
        raise FormulaError("formula: its derivatives are nested too deeply to evaluate") from None
    except Exception as exc:
        first = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise FormulaError(f"formula: cannot be evaluated ({type(exc).__name__}: {first})") from None
    return _Derived(text, parsed, core.grad_exprs, core.hessian_exprs, cost, start)


_DERIVED: OrderedDict[tuple[str, tuple[str, ...] | None], _Derived | str] = (
    OrderedDict()
)  # (text, variables) -> _Derived or the refusal's message
_DERIVED_SIZE = 64
_DERIVED_LOCK = threading.Lock()


def derive_bounded(
    text: str, variables: Any = None, seconds: float | None = FORMULA_SECONDS, cancelled: Any = None
) -> _Derived:
    """:func:`_derive` in a child process killed after ``seconds`` (``None``: in this process).

    The answers (and the refusals) of the last :data:`_DERIVED_SIZE` formulas are kept.
    """
    from .formula import check, normalize_variables

    check(text, variables)  # the static limits, in this process, before any symbolic work
    names = normalize_variables(variables)
    key = (text, names)
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
        if hit is not None:
            _DERIVED.move_to_end(key)
    if isinstance(hit, str):
        raise FormulaError(hit)
    if hit is not None:
        return hit
    from .worker import WorkFailed, WorkTimeout, bounded

    out: _Derived | FormulaError
    try:
        if seconds is None:
            out = _derive(text, names)
        else:
            out = bounded(_derive, (text, names), seconds, preload=WARM_MODULE, cancelled=cancelled)
    except FormulaError as exc:
        out = exc
    except WorkTimeout:
        if cancelled is not None and cancelled():
            raise FormulaError("formula: its symbolic work was cancelled") from None  # not kept
        out = FormulaError(
            f"formula: its symbolic work (parse, gradient, Hessian) took longer than the limit of {seconds:g} s"
        )
    except WorkFailed as exc:
        out = FormulaError(f"formula: its symbolic work {exc} (the limit)")
    except MemoryError:
        out = FormulaError("formula: its symbolic work ran out of memory")
    with _DERIVED_LOCK:
        _DERIVED[key] = str(out) if isinstance(out, FormulaError) else out
        while len(_DERIVED) > _DERIVED_SIZE:
            _DERIVED.popitem(last=False)
    if isinstance(out, FormulaError):
        raise out
    return out


def from_formula(
    text: str,
    variables: str | Sequence[str] | None = None,
    name: str | None = None,
    *,
    seconds: float | None = FORMULA_SECONDS,
    cancelled: Callable[[], bool] | None = None,
) -> SymbolicProblem:
    """Build a :class:`~ravine.problems.Problem` from a user formula (parsed safely).

    The problem gets the window (-3, 3) per variable, a start point where f and its gradient
    are finite (``(1, ..., 1)`` when possible) and no published minima. The symbolic work is
    bounded (see the module docstring) and runs in a child process killed after ``seconds``
    (``None``: in this process, with the same size limits but no clock), or as soon as
    ``cancelled()`` says so.

    >>> p = from_formula("(1-x)^2 + 100*(y-x^2)^2")
    >>> float(p.f([1.0, 1.0]))
    0.0
    """
    derived = derive_bounded(text, variables, seconds, cancelled)
    names = derived.parsed.variables
    label = " ".join(text.split())
    problem = SymbolicProblem._from_derived(
        derived,
        name=name or "formula",
        title=f"f({', '.join(names)}) = {label}",
        source="user formula",
        bounds=((-3.0, 3.0),) * len(names),
        start=derived.start,
    )
    return problem
