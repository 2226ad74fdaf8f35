"""The explorer's problems: a small LRU cache of catalog problems and user formulas
(:class:`ProblemCache`), what the explorer learns about each (:class:`Entry`), the contour
``/api/problem`` draws (:func:`problem_info`) and the quadratic model the eigen and map views
speak of (:func:`quadratic_model`)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ravine.problems import from_formula, get_problem

from .encode import f64
from .limits import BadRequest, check_deadline, time_left
from .schemas import LIMITS, ProblemSpec

__all__ = ["Entry", "ProblemCache", "problem_info", "quadratic_model"]

_UNKNOWN = object()


class Entry:
    """A cached problem with what the explorer learned about it: its kernels (``warm``,
    ``broken``, ``pending``: :mod:`ravine.explorer.compiling`) and its quadratic model."""

    def __init__(self, problem, key):
        self.problem = problem
        self.key = key
        self.warm: set = set()
        self.broken: set = set()
        self.pending: set = set()
        self.quadratic = _UNKNOWN  # (H, critical point) when the Hessian is constant, else None
        self.lock = threading.Lock()


class ProblemCache:
    """The last ``size`` problems asked for, by catalog name or formula text."""

    def __init__(self, size: int, closing: threading.Event):
        self._cache: OrderedDict = OrderedDict()
        self._size = size
        self._closing = closing
        self._lock = threading.Lock()

    def entry(self, spec: ProblemSpec) -> Entry:
        """The problem ``spec`` names (a formula's symbolic work bounded in a child process)."""
        if spec.formula is not None and spec.formula.strip():
            key = ("formula", spec.formula)
        else:
            key = ("catalog", spec.problem)  # get_problem folds case and spelling
        with self._lock:
            e = self._cache.get(key)
            if e is not None:
                self._cache.move_to_end(key)
        if e is None:
            if key[0] == "formula":
                # FormulaError (a ValueError): one line; the symbolic work is bounded in a child
                try:
                    problem = from_formula(
                        spec.formula, seconds=time_left(LIMITS["formula_seconds"]), cancelled=self._closing.is_set
                    )
                except ValueError:
                    check_deadline()  # stopping: 503, not the formula's fault
                    raise
            else:
                problem = get_problem(spec.problem)
            if problem.dim != 2:
                raise BadRequest(
                    f"problem: the explorer draws functions of 2 variables; "
                    f"{problem.name!r} has {problem.dim} ({', '.join(problem.variables)})"
                )
            e = Entry(problem, key)
            with self._lock:
                e = self._cache.setdefault(key, e)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return e


def problem_info(e: Entry, spec: ProblemSpec) -> dict:
    """The problem as ``/api/problem`` describes it, with its contour over ``spec``'s bounds."""
    p = e.problem
    bounds = [list(b) for b in (spec.bounds or p.bounds)]
    n = LIMITS["contour_points"]
    xs = np.linspace(bounds[0][0], bounds[0][1], n)
    ys = np.linspace(bounds[1][0], bounds[1][1], n)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = np.asarray(p.f(np.stack([X, Y], -1)), dtype=float)
    fin = Z[np.isfinite(Z)]
    zmin = float(fin.min()) if fin.size else 0.0
    zmax = float(fin.max()) if fin.size else 1.0
    spread = zmax - zmin
    # log-spaced levels for valleys (the catalog says so) or a wide dynamic range
    typical = float(np.median(fin - zmin)) if fin.size else 0.0
    log = bool(p.log_levels or (spread > 0 and typical > 0 and spread / typical > 50))
    return {
        "name": p.name,
        "title": p.title,
        "variables": list(p.variables),
        "formula": getattr(p, "formula", None) if e.key[0] == "formula" else None,
        "source": p.source,
        "notes": p.notes,
        "bounds": bounds,
        "default_bounds": [list(b) for b in p.bounds],
        "start": list(p.start),
        "log_levels": log,
        "minima": [{"point": list(m.point), "value": m.value} for m in p.minima],
        "critical_points": [list(c) for c in p.critical_points],
        "contour": {"x": f64(xs), "y": f64(ys), "z": f64(Z), "zmin": zmin, "zmax": zmax},
    }


def quadratic_model(e: Entry, near) -> dict:
    """The quadratic the theory speaks of: the function itself when its Hessian is constant
    (``kind`` "quadratic"), else the local quadratic model at the minimum nearest ``near``
    (``kind`` "local"), else ``kind`` None with a ``message`` saying why."""
    from ravine.analysis import constant_hessian, find_critical_points, quadratic_critical_point

    p = e.problem
    if e.quadratic is _UNKNOWN:
        H = constant_hessian(p)
        e.quadratic = None
        if H is not None:
            with np.errstate(all="ignore"):
                b = -np.asarray(p.grad(np.zeros(2)), float)
            cp = quadratic_critical_point(H, b)
            e.quadratic = (H, cp)
    if e.quadratic is not None:
        H, cp = e.quadratic
        if not cp.unique:
            return {"kind": None, "message": f"a quadratic with a singular Hessian: {cp.message}"}
        xs = np.where(np.abs(cp.point) < 1e-13, 0.0, cp.point) + 0.0  # no −0
        return {
            "kind": "quadratic",
            "hessian": H,
            "theta_star": xs,
            "f_star": float(p.f(xs)),
            "point_kind": cp.classification.kind,
            "message": f"f is a quadratic (constant Hessian); its {cp.classification.kind} θ* = "
            f"({xs[0]:.6g}, {xs[1]:.6g})",
        }
    near = np.asarray(near, float)
    cands = [np.asarray(m.point, float) for m in p.minima]
    if not cands and np.isfinite(near).all():
        check_deadline()
        cands = [r.point for r in find_critical_points(p, [near], max_iter=50) if r.kind == "minimum"]
    if not cands or not np.isfinite(near).all():
        return {"kind": None, "message": "f is not a quadratic and no minimum was found near the run"}
    xs = min(cands, key=lambda c: float(np.linalg.norm(c - near)))
    with np.errstate(all="ignore"):
        H = np.asarray(p.hessian(xs), float)
    H = 0.5 * (H + H.T)
    if not np.isfinite(H).all() or np.linalg.eigvalsh(H)[0] <= 0:
        return {"kind": None, "message": "f is not a quadratic; its Hessian at the nearest minimum is not positive"}
    return {
        "kind": "local",
        "hessian": H,
        "theta_star": xs,
        "f_star": float(p.f(xs)),
        "point_kind": "minimum",
        "message": f"f is not a quadratic: the local quadratic model ½(θ − θ*)ᵀH(θ − θ*) at the minimum "
        f"θ* = ({xs[0]:.6g}, {xs[1]:.6g}) nearest the run; the theory holds only near it",
    }
