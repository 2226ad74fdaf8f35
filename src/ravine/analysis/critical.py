"""Critical points and their kind (lecture 002).

∇f = 0, classified by the eigenvalues of the Hessian -- all positive: (strict local) minimum,
all negative: maximum, some of each: saddle. Where an eigenvalue is zero the second-order
test says nothing: the lecture's "f''(x) = 0 means saddle point" is wrong in general (x⁴ has
f''(0) = 0 at a minimum, −x⁴ at a maximum, x³ at a stationary inflection).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import real
from ._arrays import count, matrix, positive, vector

__all__ = [
    "KINDS",
    "Classification",
    "classify",
    "CriticalPointReport",
    "critical_point_at",
    "find_critical_points",
    "QuadraticCriticalPoint",
    "quadratic_critical_point",
]


KINDS = ("minimum", "maximum", "saddle", "inconclusive")


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, eq=False)
class Classification:
    """The second-order test at a critical point.

    ``eigenvalues`` ascending; ``tol`` the threshold below which |λ| counts as zero;
    ``kind`` one of "minimum", "maximum", "saddle", "inconclusive".
    """

    kind: str
    eigenvalues: np.ndarray
    tol: float
    n_positive: int
    n_negative: int
    n_zero: int

    @property
    def reason(self) -> str:
        if self.kind == "minimum":
            return "all Hessian eigenvalues are positive"
        if self.kind == "maximum":
            return "all Hessian eigenvalues are negative"
        if self.kind == "saddle":
            return "the Hessian has a positive and a negative eigenvalue"
        return (
            f"{self.n_zero} Hessian eigenvalue(s) are zero within {self.tol:.1g}: "
            "the second-order test cannot decide (higher-order terms do)"
        )


def classify(hessian: Any, tol: float | None = None) -> Classification:
    """Classify a critical point by the eigenvalues of its symmetric Hessian.

    λ counts as zero when |λ| ≤ tol; by default tol = 1e-9·max(1, max_i |λ_i|). Then:

    * a positive and a negative eigenvalue: "saddle" (whatever the others are -- the point is a
      minimum along one direction and a maximum along another);
    * otherwise any zero eigenvalue: "inconclusive";
    * all positive: "minimum" (strict local); all negative: "maximum" (strict local).

    The lecture (002) says f''(x) = 0 means a saddle point. That is wrong in general: x⁴ has
    f''(0) = 0 at a minimum, −x⁴ at a maximum, and x³ at a stationary inflection point; the
    second-order test cannot tell them apart, so ravine reports "inconclusive".

    Call it at a point where ∇f = 0 (see :func:`critical_point_at`); the Hessian alone does not
    know whether the gradient vanishes. A 0-d number is read as a 1×1 Hessian (f''(x)).
    """
    h = matrix("classify", "hessian", hessian)
    lam = np.linalg.eigvalsh(h)
    if tol is None:
        tol = 1e-9 * max(1.0, float(np.max(np.abs(lam))))
    else:
        tol = real("classify", "tol", tol, lo=0.0)
    pos = int(np.sum(lam > tol))
    neg = int(np.sum(lam < -tol))
    zero = lam.size - pos - neg
    if pos and neg:
        kind = "saddle"
    elif zero:
        kind = "inconclusive"
    elif pos:
        kind = "minimum"
    else:
        kind = "maximum"
    return Classification(kind, lam, float(tol), pos, neg, zero)


# --------------------------------------------------------------------------- critical points


def _value(problem: Any, x: np.ndarray) -> float | None:
    """f(x) where the problem offers it (``value(x)``, else ``problem(x)``), else None."""
    fn = getattr(problem, "value", None)
    if not callable(fn):
        fn = problem if callable(problem) else None
    if fn is None:
        return None
    try:
        v = float(np.asarray(fn(x), dtype=np.float64))
    except (TypeError, ValueError):
        return None
    return v


def _grad_hess(where: str, problem: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    for meth in ("grad", "hessian"):
        if not callable(getattr(problem, meth, None)):
            raise ValueError(f"{where}: problem must have a {meth}(x) method")
    g = np.asarray(problem.grad(x), dtype=np.float64).reshape(-1)
    h = np.asarray(problem.hessian(x), dtype=np.float64)
    if h.ndim == 0:
        h = h.reshape(1, 1)
    if g.shape != x.shape or h.shape != (x.size, x.size):
        raise ValueError(
            f"{where}: problem.grad/hessian returned shapes {g.shape}, {h.shape} for a point of shape {x.shape}"
        )
    return g, h


@dataclass(frozen=True, eq=False)
class CriticalPointReport:
    """What is known at one point: ‖∇f‖, whether it counts as critical, the second-order test.

    ``critical`` means ‖∇f(x)‖₂ ≤ gtol·max(1, |f(x)|) (|f| only when the problem offers a value,
    otherwise ‖∇f‖₂ ≤ gtol). ``classification`` is the Hessian test; it means something only
    where ``critical`` is true. ``starts`` / ``iterations`` are filled by
    :func:`find_critical_points` (indices of the starts that ended here, Newton steps taken).
    """

    point: np.ndarray
    value: float | None
    grad_norm: float
    critical: bool
    classification: Classification
    starts: tuple[int, ...] = ()
    iterations: int = 0

    @property
    def kind(self) -> str:
        return self.classification.kind


def _grad_threshold(gtol: float, f: float | None) -> float:
    return gtol * max(1.0, abs(f)) if f is not None and math.isfinite(f) else gtol


def critical_point_at(problem: Any, point: Any, gtol: float = 1e-8, tol: float | None = None) -> CriticalPointReport:
    """Check and classify a candidate critical point.

    ``problem`` is any object with ``grad(x)`` and ``hessian(x)`` (x of shape (dim,)); if it also
    has ``value(x)`` (or is callable) f(x) is reported and scales the test: the point is
    critical when ‖∇f(x)‖₂ ≤ gtol·max(1, |f(x)|) (plain ‖∇f(x)‖₂ ≤ gtol without a value).
    ``tol`` is passed to :func:`classify`. At an approximate critical point near a degenerate
    one an eigenvalue can be small but not zero; pass a ``tol`` that reflects how far the point
    may be from the true one.
    """
    where = "critical_point_at"
    gtol = positive(where, "gtol", gtol)
    x = vector(where, "point", point)
    g, h = _grad_hess(where, problem, x)
    f = _value(problem, x)
    gn = float(np.linalg.norm(g))
    return CriticalPointReport(
        point=x.copy(),
        value=f,
        grad_norm=gn,
        critical=bool(gn <= _grad_threshold(gtol, f)),
        classification=classify(h, tol),
    )


def _newton_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Newton direction d with H d = −g; least-squares (minimum-norm) where H is singular."""
    d: np.ndarray = np.linalg.lstsq(h, -g, rcond=None)[0]
    return d


def find_critical_points(
    problem: Any,
    starts: Iterable[Any],
    *,
    gtol: float = 1e-8,
    xtol: float = 1e-8,
    max_iter: int = 200,
    dedup_tol: float = 1e-6,
    hessian_safety: float = 10.0,
) -> list[CriticalPointReport]:
    """All critical points Newton's method on ∇f = 0 reaches from ``starts``, classified.

    Newton on the gradient (not on f) is attracted by minima, maxima and saddles alike. Each
    step solves H d = −g (least squares where H is singular) and is damped by backtracking:
    s = 1, ½, ¼, ... until ‖∇f(x + s d)‖ < (1 − 10⁻⁴ s)‖∇f(x)‖ (if that fails, a
    Levenberg–Marquardt step d = −(H² + μI)⁻¹H g with growing μ is tried). A run has
    converged when both ‖∇f‖ ≤ gtol·max(1, |f|) (as in :func:`critical_point_at`) and the
    Newton step ‖d‖ ≤ xtol·max(1, ‖x‖) -- the second test keeps asymptotes such as eˣ → 0 at
    x → −∞ out -- after which one polishing Newton step is taken if it lowers ‖∇f‖. Runs that
    have not converged after ``max_iter`` steps, or cannot decrease ‖∇f‖, are dropped.

    Points closer than dedup_tol·max(1, ‖x‖) plus their convergence uncertainty (10 × the
    last Newton step) are merged; the report keeps the one with the smaller gradient and lists
    all start indices in ``starts``.

    Classification at a *computed* point: near a degenerate critical point (x³, x⁴) Newton
    converges only linearly and the Hessian there is small but not zero. The zero tolerance
    is therefore max(1e-9·max(1, max|λ|), hessian_safety·‖H_last − H_prev‖₂), the Hessian's
    change over the last step times a safety factor -- so such points come out
    "inconclusive", while at a non-degenerate point (quadratic convergence) the change is
    negligible. Results are sorted by f (when available), then lexicographically.
    """
    where = "find_critical_points"
    gtol = positive(where, "gtol", gtol)
    xtol = positive(where, "xtol", xtol)
    max_iter = count(where, "max_iter", max_iter, 1)
    dedup_tol = real(where, "dedup_tol", dedup_tol)
    hessian_safety = real(where, "hessian_safety", hessian_safety)
    starts = list(starts)
    if not starts:
        raise ValueError(f"{where}: starts must contain at least one point, got none")
    dim = vector(where, "starts[0]", starts[0]).size

    found: list[dict[str, Any]] = []
    for k, s in enumerate(starts):
        x = vector(where, f"starts[{k}]", s, dim).copy()
        run = _newton_on_gradient(where, problem, x, gtol, xtol, max_iter)
        if run is not None:
            run["starts"] = [k]
            found.append(run)

    # deduplicate
    merged: list[dict[str, Any]] = []
    for p in found:
        for q in merged:
            dist = float(np.linalg.norm(p["x"] - q["x"]))
            scale = max(1.0, float(np.linalg.norm(q["x"])))
            if dist <= dedup_tol * scale + p["err"] + q["err"]:
                q["starts"].extend(p["starts"])
                if np.linalg.norm(p["g"]) < np.linalg.norm(q["g"]):
                    for key in ("x", "g", "h", "f", "it", "err", "dh"):
                        q[key] = p[key]
                break
        else:
            merged.append(p)

    reports = []
    for q in merged:
        lam = np.linalg.eigvalsh(_sym(q["h"]))
        tol = max(1e-9 * max(1.0, float(np.max(np.abs(lam)))), hessian_safety * q["dh"])
        gn = float(np.linalg.norm(q["g"]))
        reports.append(
            CriticalPointReport(
                point=q["x"],
                value=q["f"],
                grad_norm=gn,
                critical=True,
                classification=classify(q["h"], tol),
                starts=tuple(sorted(q["starts"])),
                iterations=q["it"],
            )
        )
    reports.sort(key=lambda r: (r.value if r.value is not None else 0.0, tuple(np.round(r.point, 12))))
    return reports


def _sym(h: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (h + h.T)
    return out


def _try_point(where: str, problem: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """grad, hessian at x, or None where they are not finite."""
    with np.errstate(all="ignore"):
        g, h = _grad_hess(where, problem, x)
    if np.all(np.isfinite(g)) and np.all(np.isfinite(h)):
        return g, h
    return None


def _newton_on_gradient(
    where: str, problem: Any, x: np.ndarray, gtol: float, xtol: float, max_iter: int
) -> dict[str, Any] | None:
    """One damped Newton run on ∇f = 0; None where it does not converge."""
    first = _try_point(where, problem, x)
    if first is None:
        return None
    g, h = first
    f = _value(problem, x)
    h_prev = h
    last_step = 0.0
    it = 0
    while True:
        gn = float(np.linalg.norm(g))
        d = _newton_solve(h, g)
        if gn <= _grad_threshold(gtol, f) and np.linalg.norm(d) <= xtol * max(1.0, float(np.linalg.norm(x))):
            # converged; one polishing Newton step where it lowers ‖∇f‖ (full precision at
            # non-degenerate points, where Newton is quadratic)
            trial = _try_point(where, problem, x + d) if np.any(d) else None
            if trial is not None and np.linalg.norm(trial[0]) < gn:
                last_step = float(np.linalg.norm(d))
                x, h_prev = x + d, h
                g, h = trial
                f = _value(problem, x)
            break
        if it >= max_iter:
            return None
        accepted = None
        s_len = 1.0
        while s_len > 1e-10:  # backtracking on ‖∇f‖
            xn = x + s_len * d
            trial = _try_point(where, problem, xn)
            if trial is not None and np.linalg.norm(trial[0]) < (1 - 1e-4 * s_len) * gn:
                accepted = (xn, *trial)
                break
            s_len *= 0.5
        if accepted is None:  # Levenberg–Marquardt fallback on ½‖∇f‖²
            hg = h @ g
            scale = max(1.0, float(np.max(np.abs(h))) ** 2)
            for mu in scale * 10.0 ** np.arange(-8, 9):
                xn = x - np.linalg.solve(h @ h + mu * np.eye(x.size), hg)
                trial = _try_point(where, problem, xn)
                if trial is not None and np.linalg.norm(trial[0]) < gn:
                    accepted = (xn, *trial)
                    break
        if accepted is None:
            return None
        xn, g, hn = accepted
        last_step = float(np.linalg.norm(xn - x))
        x, h_prev, h = xn, h, hn
        f = _value(problem, x)
        it += 1
    dh = float(np.linalg.norm(_sym(h) - _sym(h_prev), 2))
    return dict(x=x, g=g, h=h, f=f, it=it, err=10.0 * last_step, dh=dh)


@dataclass(frozen=True, eq=False)
class QuadraticCriticalPoint:
    """The critical point of f(x) = ½xᵀAx − bᵀx + c.

    ``status`` is "unique" (A nonsingular: x* = A⁻¹b), "none" (A singular and b not in the range
    of A: ∇f = Ax − b never vanishes) or "infinitely many" (A singular, b in its range: a whole
    affine set of critical points; ``point`` is then its minimum-norm member). ``point`` and
    ``value`` are None when there is no critical point. ``message`` says it in words.
    """

    status: str
    point: np.ndarray | None
    value: float | None
    classification: Classification
    message: str

    @property
    def unique(self) -> bool:
        return self.status == "unique"


def quadratic_critical_point(A: Any, b: Any, c: float = 0.0) -> QuadraticCriticalPoint:
    """Solve ∇f = Ax − b = 0 for f(x) = ½xᵀAx − bᵀx + c, without crashing on a singular A.

    A is singular when an eigenvalue is zero within 1e-9·max(1, max|λ|) (the default of
    :func:`classify`). The classification of A (the Hessian everywhere) is always reported.
    """
    where = "quadratic_critical_point"
    a = matrix(where, "A", A)
    bv = vector(where, "b", b, a.shape[0])
    c = real(where, "c", c)
    cls = classify(a)
    if cls.n_zero == 0:
        x = np.linalg.solve(a, bv)
        val = float(0.5 * x @ a @ x - bv @ x + c)
        return QuadraticCriticalPoint(
            "unique", x, val, cls, f"unique critical point ({cls.kind}) at x = {np.round(x, 12).tolist()}"
        )
    x, *_ = np.linalg.lstsq(a, bv, rcond=None)
    resid = float(np.linalg.norm(a @ x - bv))
    if resid <= 1e-9 * max(1.0, float(np.linalg.norm(bv))):
        val = float(0.5 * x @ a @ x - bv @ x + c)
        return QuadraticCriticalPoint(
            "infinitely many",
            x,
            val,
            cls,
            f"no unique critical point: A is singular ({cls.n_zero} zero eigenvalue(s)) and "
            f"b is in its range, so every x* + null(A) is critical; minimum-norm one shown",
        )
    return QuadraticCriticalPoint(
        "none",
        None,
        None,
        cls,
        f"no unique critical point: A is singular ({cls.n_zero} zero eigenvalue(s)) and b is "
        f"not in its range, so Ax = b has no solution (∇f never vanishes; ‖Ax − b‖ ≥ {resid:.3g})",
    )
