"""Analytic test problems with exact gradients and Hessians, vectorized over a batch.

>>> from ravine.problems import get_problem, from_formula, Quadratic
>>> p = get_problem("rosenbrock")
>>> p.f([[1.0, 1.0], [0.0, 0.0]]).tolist()
[0.0, 1.0]

* :func:`get_problem` / :func:`list_problems`: the catalog (the lecture's worked examples and
  the classic 2-D test functions), see :mod:`ravine.problems.catalog`.
* :func:`from_formula` / :func:`parse_formula`: user formulas, parsed safely (never
  evaluated), see :mod:`ravine.problems.formula` (the parser) and
  :mod:`ravine.problems.symbolic` (the problem built from it).
* :class:`Quadratic` / :func:`random_quadratic`: N-dimensional quadratics.

Importing this package does not import sympy; it is loaded on first use of a symbolic problem.
"""

from .base import Minimum, Problem
from .catalog import CATALOG, CatalogEntry, get_problem, list_problems
from .formula import FormulaError, parse_formula
from .quadratic import Quadratic, random_quadratic
from .symbolic import SymbolicProblem, from_formula

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "FormulaError",
    "Minimum",
    "Problem",
    "Quadratic",
    "SymbolicProblem",
    "from_formula",
    "get_problem",
    "list_problems",
    "parse_formula",
    "random_quadratic",
]
