"""The catalog of analytic test functions, kept as data.

Each entry is a formula in the safe formula syntax (:mod:`ravine.problems.formula`) plus its
metadata; :func:`get_problem` parses it with the same parser that serves user formulas and
lets sympy derive the exact gradient and Hessian.  Importing this module does not import
sympy.

Sources
-------
* Lecture 002: the lecture "Deep Learning module 3: Optimization"
  (BITS Pilani), whose worked examples give the lecture_* problems, ``ellipse``, ``parabola``,
  ``saddle``, ``tanh`` and ``sigmoid_neuron``.
* Surjanovic, S. & Bingham, D. (2013). Virtual Library of Simulation Experiments: Test
  Functions and Datasets. https://www.sfu.ca/~ssurjano/ (VLSE) for the classic 2-D set.
* Jamil, M. & Yang, X.-S. (2013). A literature survey of benchmark functions for global
  optimization problems. Int. J. Math. Modelling & Num. Optimisation 4(2), 150-194; with the
  full-precision optima of A. Gavana's global optimization benchmarks (as in SciPy's
  ``benchmarks/go_benchmark_functions``).
* Himmelblau, D. M. (1972). Applied Nonlinear Programming. McGraw-Hill.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._renamed import renamed_message
from .base import Minimum

if TYPE_CHECKING:
    from .symbolic import SymbolicProblem

__all__ = ["CatalogEntry", "CATALOG", "get_problem", "list_problems", "LECTURE_002", "VLSE"]

LECTURE_002 = "lecture 002"
VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments (https://www.sfu.ca/~ssurjano/)"
JAMIL_YANG = (
    "Jamil & Yang (2013), A literature survey of benchmark functions for global optimization "
    "problems; optimum digits from Gavana's benchmarks (SciPy go_benchmark_functions)"
)


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog problem as data.

    ``title`` and ``notes`` may contain ``{param}`` fields, filled with the parameter values.
    ``minima`` is a tuple of ``(point, value)`` pairs or a function of the parameters that
    returns one.  ``digits`` is the number of decimals the published minimizers and critical
    points are given with (``None`` when they are exact or given to full double precision);
    tests use it to scale their tolerances.  ``kinks`` lists published points where f is not
    differentiable.  ``check`` validates parameter values (returns an error text or None).
    """

    name: str
    variables: tuple[str, ...]
    formula: str
    title: str
    source: str
    minima: Any = ()
    critical_points: tuple[tuple[float, ...], ...] = ()
    bounds: tuple[tuple[float, float], ...] = ()
    start: tuple[float, ...] = ()
    log_levels: bool = False
    parameters: Mapping[str, float] = field(default_factory=dict)
    notes: str = ""
    digits: int | None = None
    kinks: tuple[tuple[float, ...], ...] = ()
    check: Callable[[dict[str, float]], str | None] | None = None

    def minima_for(self, params: Mapping[str, float]) -> tuple[Minimum, ...]:
        raw = self.minima(dict(params)) if callable(self.minima) else self.minima
        return tuple(Minimum(tuple(float(c) for c in p), float(v)) for p, v in raw)


def _fmt(params: Mapping[str, float]) -> dict[str, str]:
    return {k: f"{v:g}" for k, v in params.items()}


def _check_sigmoid(p: dict[str, float]) -> str | None:
    if not 0.0 <= p["y"] <= 1.0:
        return f"y must be a label in [0, 1], got {p['y']!r}"
    return None


def _check_rosenbrock(p: dict[str, float]) -> str | None:
    if p["b"] <= 0:
        return f"b must be > 0 (otherwise there is no minimum), got {p['b']!r}"
    return None


def _check_positive(*names: str) -> Callable[[dict[str, float]], str | None]:
    def check(p: dict[str, float]) -> str | None:
        for n in names:
            if p[n] <= 0:
                return f"{n} must be > 0, got {p[n]!r}"
        return None

    return check


_ENTRIES: tuple[CatalogEntry, ...] = (
    # ------------------------------------------------------------------ lecture 002
    CatalogEntry(
        name="lecture_error_surface",
        variables=("w1", "w2"),
        formula="0.05 + (w1 - 3)^2/4 + (w2 - 4)^2/9 - (w1 - 3)*(w2 - 4)/6",
        title="Lecture error surface E(w1, w2) = 0.05 + (w1−3)²/4 + (w2−4)²/9 − (w1−3)(w2−4)/6",
        source=LECTURE_002 + " (numerical example: one GD and one momentum step from "
        "(1, 1) at t−1 and (1.5, 2.0) at t with η = 0.3)",
        minima=(((3.0, 4.0), 0.05),),
        bounds=((-1.0, 7.0), (0.0, 8.0)),
        start=(1.0, 1.0),
        notes="A convex quadratic with Hessian [[1/2, −1/6], [−1/6, 2/9]]. The lecture's momentum "
        "step states β = 0.6 but its arithmetic uses 0.9.",
    ),
    CatalogEntry(
        name="ellipse",
        variables=("x1", "x2"),
        formula="0.1*x1^2 + 2*x2^2",
        title="Distorted ellipsoid f(x1, x2) = 0.1·x1² + 2·x2²",
        source=LECTURE_002 + " (momentum example, after Dive into Deep Learning §12.6)",
        minima=(((0.0, 0.0), 0.0),),
        bounds=((-6.0, 6.0), (-3.0, 3.0)),
        start=(-5.0, -2.0),
        notes="Hessian diag(0.2, 4): gradient descent diverges for η > 2/4 = 0.5; the lecture uses "
        "η = 0.4 and 0.6, with and without momentum (β = 0.5, 0.25).",
    ),
    CatalogEntry(
        name="lecture_bowl3d",
        variables=("x", "y", "z"),
        formula="3*x^2 + 2*y^2 + 4*z^2 + 6",
        title="Lecture error surface E(x, y, z) = 3x² + 2y² + 4z² + 6",
        source=LECTURE_002 + " (optimal learning-rate example)",
        minima=(((0.0, 0.0, 0.0), 6.0),),
        bounds=((-3.0, 3.0),) * 3,
        start=(1.0, 1.0, 1.0),
        notes="Hessian diag(6, 4, 8): per-direction optimal rates 1/6, 1/4, 1/8; gradient descent "
        "converges iff η < 2/8 = 0.25 (the slide's 'largest learning rate = 0.33' is the slip: "
        "min[2/6, 2/4, 2/8] = 0.25); the best fixed rate is 2/(λmin + λmax) = 1/6.",
    ),
    CatalogEntry(
        name="lecture_three_var",
        variables=("x1", "x2", "x3"),
        formula="x1^2 + x1*(1 - x2) + x2^2 - x2*x3 + x3^2 + x3",
        title="Lecture example f(x1, x2, x3) = x1² + x1(1 − x2) + x2² − x2·x3 + x3² + x3",
        source=LECTURE_002 + " (unconstrained minimization example)",
        minima=(((-1.0, -1.0, -1.0), -1.0),),
        bounds=((-3.0, 3.0),) * 3,
        start=(1.0, 1.0, 1.0),
        notes="Hessian [[2, −1, 0], [−1, 2, −1], [0, −1, 2]] with eigenvalues 2 − √2, 2, 2 + √2 "
        "(the lecture's 0.586, 2, 3.414); the minimum value −1 is not stated in the lecture.",
    ),
    CatalogEntry(
        name="parabola",
        variables=("x",),
        formula="x^2",
        title="Parabola f(x) = x²",
        source=LECTURE_002 + " (gd(eta, f_grad) from x = 10 with η = 0.05 and η = 1.1)",
        minima=(((0.0,), 0.0),),
        bounds=((-11.0, 11.0),),
        start=(10.0,),
        notes="f'' = 2: gradient descent converges iff 0 < η < 1; η = 1.1 oscillates and diverges.",
    ),
    CatalogEntry(
        name="saddle",
        variables=("x", "y"),
        formula="x^2 - y^2",
        title="Saddle f(x, y) = x² − y² (the lecture prints 'x² y²': its minus sign was lost)",
        source=LECTURE_002 + " (saddle-point example; the lecture's 'f(x, y) = x² y²' lost its minus sign)",
        critical_points=((0.0, 0.0),),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
        start=(1.5, 0.05),
        notes="No minimum (unbounded below along y). (0, 0) is a saddle: a minimum along x and a "
        "maximum along y, Hessian eigenvalues 2 and −2.",
    ),
    CatalogEntry(
        name="tanh",
        variables=("x",),
        formula="tanh(x)",
        title="Vanishing gradient f(x) = tanh(x), f'(x) = 1 − tanh²(x)",
        source=LECTURE_002 + " (vanishing-gradient example: f'(4) ≈ 0.0013)",
        bounds=((-5.0, 5.0),),
        start=(4.0,),
        notes="No minimum and no critical point: f decreases towards its infimum −1 as x → −∞. "
        "f'(4) = 1 − tanh²(4) ≈ 0.00134, the lecture's 0.0013.",
    ),
    CatalogEntry(
        name="sigmoid_neuron",
        variables=("w", "b"),
        formula="y*log(1 + exp(-(w*x + b))) + (1 - y)*log(1 + exp(w*x + b))",
        title="BCE loss of one sigmoid neuron L(w, b) = −[y·ln σ(wx + b) + (1 − y)·ln(1 − σ(wx + b))]"
        " on (x, y) = ({x}, {y})",
        source=LECTURE_002 + " (Adam numerical example: (x, y) = (3.5, 0.5), w = b = −2)",
        bounds=((-4.0, 4.0), (-4.0, 4.0)),
        start=(-2.0, -2.0),
        parameters={"x": 3.5, "y": 0.5},
        check=_check_sigmoid,
        notes="Written in the stable form y·ln(1 + e^(−z)) + (1 − y)·ln(1 + e^z), z = wx + b. No "
        "isolated minimum: for 0 < y < 1 the infimum, the binary entropy of y (ln 2 ≈ 0.693 "
        "for y = 0.5), is reached on the whole line w·x + b = ln(y/(1 − y)) (w·x + b = 0 for "
        "y = 0.5); for y = 0 or 1 the infimum 0 is not attained. Gradient: ∂L/∂w = (σ(z) − y)·x, "
        "∂L/∂b = σ(z) − y.",
    ),
    # ------------------------------------------------------------------ classic 2-D set
    CatalogEntry(
        name="rosenbrock",
        variables=("x", "y"),
        formula="(a - x)^2 + b*(y - x^2)^2",
        title="Rosenbrock f(x, y) = (a − x)² + b(y − x²)² with a = {a}, b = {b}",
        source=VLSE + "; Rosenbrock (1960), Comput. J. 3(3), 175-184",
        minima=lambda p: (((p["a"], p["a"] ** 2), 0.0),),
        bounds=((-2.0, 2.0), (-1.0, 3.0)),
        start=(-1.2, 1.0),
        log_levels=True,
        parameters={"a": 1, "b": 100},
        check=_check_rosenbrock,
        notes="Global minimum 0 at (a, a²) at the bottom of a curved, flat valley.",
    ),
    CatalogEntry(
        name="beale",
        variables=("x", "y"),
        formula="(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        title="Beale f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        source=VLSE,
        minima=(((3.0, 0.5), 0.0),),
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        start=(1.0, 1.0),
        log_levels=True,
    ),
    CatalogEntry(
        name="himmelblau",
        variables=("x", "y"),
        formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        title="Himmelblau f(x, y) = (x² + y − 11)² + (x + y² − 7)²",
        source="Himmelblau (1972), Applied Nonlinear Programming, McGraw-Hill; minimizers to six "
        "decimals as commonly tabulated (e.g. Wikipedia, 'Himmelblau's function')",
        minima=(
            ((3.0, 2.0), 0.0),
            ((-2.805118, 3.131312), 0.0),
            ((-3.779310, -3.283186), 0.0),
            ((3.584428, -1.848126), 0.0),
        ),
        critical_points=((-0.270845, -0.923039),),
        bounds=((-5.0, 5.0), (-5.0, 5.0)),
        start=(0.0, 0.0),
        log_levels=True,
        digits=6,
        notes="Four global minima with value 0; a local maximum f ≈ 181.617 at (−0.270845, −0.923039).",
    ),
    CatalogEntry(
        name="rastrigin",
        variables=("x", "y"),
        formula="2*A + x^2 - A*cos(2*pi*x) + y^2 - A*cos(2*pi*y)",
        title="Rastrigin f(x, y) = 2A + Σ (xi² − A·cos(2π·xi)) with A = {A}",
        source=VLSE,
        minima=(((0.0, 0.0), 0.0),),
        bounds=((-5.12, 5.12), (-5.12, 5.12)),
        start=(2.5, 2.5),
        parameters={"A": 10},
        check=_check_positive("A"),
        notes="Highly multimodal: a local minimum near every integer point; global minimum 0 at 0.",
    ),
    CatalogEntry(
        name="booth",
        variables=("x", "y"),
        formula="(x + 2*y - 7)^2 + (2*x + y - 5)^2",
        title="Booth f(x, y) = (x + 2y − 7)² + (2x + y − 5)²",
        source=VLSE,
        minima=(((1.0, 3.0), 0.0),),
        bounds=((-10.0, 10.0), (-10.0, 10.0)),
        start=(0.0, 0.0),
    ),
    CatalogEntry(
        name="goldstein_price",
        variables=("x", "y"),
        formula="(1 + (x + y + 1)^2*(19 - 14*x + 3*x^2 - 14*y + 6*x*y + 3*y^2))"
        "*(30 + (2*x - 3*y)^2*(18 - 32*x + 12*x^2 + 48*y - 36*x*y + 27*y^2))",
        title="Goldstein-Price f(x, y) = [1 + (x + y + 1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]"
        "·[30 + (2x − 3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]",
        source=VLSE,
        minima=(((0.0, -1.0), 3.0),),
        bounds=((-2.0, 2.0), (-2.0, 2.0)),
        start=(-1.0, 1.0),
        log_levels=True,
        notes="Global minimum 3 at (0, −1); several local minima (e.g. 30 near (−0.6, −0.4)).",
    ),
    CatalogEntry(
        name="six_hump_camel",
        variables=("x", "y"),
        formula="(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
        title="Six-hump camel f(x, y) = (4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²",
        source=VLSE + "; minimizers and value from " + JAMIL_YANG,
        minima=(
            ((0.08984201368301331, -0.7126564032704135), -1.031628453489877),
            ((-0.08984201368301331, 0.7126564032704135), -1.031628453489877),
        ),
        bounds=((-2.0, 2.0), (-1.0, 1.0)),
        start=(1.5, 0.5),
        digits=9,
        notes="Six local minima, two of them global with value −1.0316284535. The published "
        "16-digit minimizers are accurate to 9 decimals (the exact ones are "
        "±(0.0898420131003181, −0.7126564030207396)).",
    ),
    CatalogEntry(
        name="matyas",
        variables=("x", "y"),
        formula="0.26*(x^2 + y^2) - 0.48*x*y",
        title="Matyas f(x, y) = 0.26(x² + y²) − 0.48xy",
        source=VLSE,
        minima=(((0.0, 0.0), 0.0),),
        bounds=((-10.0, 10.0), (-10.0, 10.0)),
        start=(8.0, 2.0),
        notes="A flat, badly conditioned convex quadratic: Hessian eigenvalues 0.04 and 1.",
    ),
    CatalogEntry(
        name="ackley",
        variables=("x", "y"),
        formula="-a*exp(-b*sqrt((x^2 + y^2)/2)) - exp((cos(2*pi*x) + cos(2*pi*y))/2) + a + e",
        title="Ackley f(x, y) = −a·exp(−b·√((x² + y²)/2)) − exp((cos 2πx + cos 2πy)/2) + a + e with a = {a}, b = {b}",
        source=VLSE,
        minima=(((0.0, 0.0), 0.0),),
        bounds=((-5.0, 5.0), (-5.0, 5.0)),
        start=(2.5, 2.0),
        parameters={"a": 20, "b": 0.2},
        check=_check_positive("b"),
        kinks=((0.0, 0.0),),
        notes="Not differentiable at its minimum (0, 0) (a cone point of the √ term): the gradient "
        "there is 0/0 = nan, but it is finite everywhere else.",
    ),
    CatalogEntry(
        name="monkey_saddle",
        variables=("x", "y"),
        formula="x^3 - 3*x*y^2",
        title="Monkey saddle f(x, y) = x³ − 3xy²",
        source="Classic example of a degenerate critical point (e.g. Hilbert & Cohn-Vossen, "
        "Geometry and the Imagination, 1932)",
        critical_points=((0.0, 0.0),),
        bounds=((-1.5, 1.5), (-1.5, 1.5)),
        start=(1.0, 0.5),
        notes="No minimum. (0, 0) is a degenerate critical point: gradient and Hessian are both "
        "zero there, so the second-derivative test is inconclusive.",
    ),
)

#: name -> entry, in catalog order.
CATALOG: dict[str, CatalogEntry] = {e.name: e for e in _ENTRIES}


def list_problems() -> list[str]:
    """Names of all catalog problems (lecture problems first, then the classic 2-D set)."""
    return list(CATALOG)


def _normalize(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"problem: name must be a string, got {type(name).__name__}")
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def get_problem(name: str, **params: Any) -> SymbolicProblem:
    """Build the catalog problem ``name``; keyword arguments override its parameters.

    >>> get_problem("rosenbrock", a=1, b=100).minima
    (Minimum(point=(1.0, 1.0), value=0.0),)

    Raises ``ValueError`` for unknown names or parameters.
    """
    from .symbolic import SymbolicProblem

    key = _normalize(name)
    entry = CATALOG.get(key)
    if entry is None:
        moved = renamed_message("problem", key)
        if moved:
            raise ValueError(moved)
        raise ValueError(f"problem: unknown name {name!r}; choose one of: {', '.join(CATALOG)}")
    unknown = sorted(set(params) - set(entry.parameters))
    if unknown:
        allowed = ", ".join(entry.parameters) if entry.parameters else "none"
        raise ValueError(f"problem '{key}': unknown parameter {unknown[0]!r}; its parameters are: {allowed}")
    values: dict[str, float] = dict(entry.parameters)
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"problem '{key}': parameter {k} must be a real number, got {v!r}") from None
        if not (math.isfinite(v) and abs(v) <= 1e12):
            raise ValueError(f"problem '{key}': parameter {k} must be finite with |{k}| <= 1e12, got {v!r}")
        values[k] = v
    if entry.check is not None:
        message = entry.check(values)
        if message:
            raise ValueError(f"problem '{key}': {message}")
    shown = _fmt(values)
    return SymbolicProblem(
        entry.formula,
        entry.variables,
        parameters=values,
        name=entry.name,
        title=entry.title.format(**shown),
        source=entry.source,
        minima=entry.minima_for(values),
        critical_points=entry.critical_points,
        bounds=entry.bounds,
        start=entry.start,
        log_levels=entry.log_levels,
        notes=entry.notes.format(**shown) if "{" in entry.notes else entry.notes,
    )
