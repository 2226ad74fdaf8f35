"""Analysis the seeds teach: critical points, Hessians and step sizes on quadratics.

* Critical points (seed ``002_a32fa2ef93e90666.txt``): ∇f = 0, classified by the eigenvalues
  of the Hessian -- all positive: (strict local) minimum, all negative: maximum, some of each:
  saddle. Where an eigenvalue is zero the second-order test says nothing: the seed's
  "f''(x) = 0 means saddle point" is wrong in general (x⁴ has f''(0) = 0 at a minimum, −x⁴ at a
  maximum, x³ at a stationary inflection). The seed's saddle example "f(x, y) = x² y²" has lost
  its minus sign: x² − y² (x²y² has a zero Hessian at the origin, where it is a minimum).
* Step sizes on a quadratic f(θ) = ½θᵀAθ − bᵀθ + c with eigenvalues 0 < λ_min ≤ ... ≤ λ_max of
  A: gradient descent θ ← θ − η∇f multiplies the error along eigenvector i by (1 − ηλ_i), so it
  converges iff 0 < η < 2/λ_max; η = 1/λ_i zeroes direction i in one step; the fixed η with the
  best worst-case rate max_i |1 − ηλ_i| is 2/(λ_min + λ_max), with rate (κ − 1)/(κ + 1),
  κ = λ_max/λ_min.
* Heavy ball θ_{t+1} = θ_t − η∇f(θ_t) + α(θ_t − θ_{t−1}) (Polyak 1964, "Some methods of
  speeding up the convergence of iteration methods"): per eigen-direction the pair
  (e_{t+1}, e_t) evolves by [[1 + α − ηλ_i, −α], [1, 0]]; the best constant parameters are
  η = 4/(√λ_max + √λ_min)², α = ((√κ − 1)/(√κ + 1))², rate (√κ − 1)/(√κ + 1).

Only NumPy is imported. The quadratic loop in :func:`compare_rates` is written out here on
purpose: it is the analysis's own independent check of the optimizer rules.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

__all__ = [
    "Classification",
    "classify",
    "CriticalPointReport",
    "critical_point_at",
    "find_critical_points",
    "QuadraticCriticalPoint",
    "quadratic_critical_point",
    "HeavyBallOptimum",
    "QuadraticRates",
    "measured_rate",
    "RateComparison",
    "compare_rates",
    "SlideRow",
    "StepSizeSlide",
    "seed_step_size_slide",
    "seed_critical_point_example",
]

KINDS = ("minimum", "maximum", "saddle", "inconclusive")


# --------------------------------------------------------------------------- validation


def _matrix(where: str, name: str, a: Any, *, symmetric: bool = True) -> np.ndarray:
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
                f"{where}: {name} must be symmetric, max |{name} − {name}ᵀ| = {asym:.3g} "
                f"(allowed {allowed:.1g})"
            )
        m = 0.5 * (m + m.T)
    return m


def _vector(where: str, name: str, v: Any, dim: int | None = None) -> np.ndarray:
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


def _real(where: str, name: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > 0 or not positive)
    if not ok:
        allowed = "a finite number > 0" if positive else "a finite real number"
        shown = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"{where}: {name} must be {allowed}, got {shown!r}")
    return float(value)


def _count(where: str, name: str, value: Any, minimum: int) -> int:
    ok = isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or int(value) < minimum:
        raise ValueError(f"{where}: {name} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


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

    The seed (002) says f''(x) = 0 means a saddle point. That is wrong in general: x⁴ has
    f''(0) = 0 at a minimum, −x⁴ at a maximum, and x³ at a stationary inflection point; the
    second-order test cannot tell them apart, so ravine reports "inconclusive".

    Call it at a point where ∇f = 0 (see :func:`critical_point_at`); the Hessian alone does not
    know whether the gradient vanishes. A 0-d number is read as a 1×1 Hessian (f''(x)).
    """
    h = _matrix("classify", "hessian", hessian)
    lam = np.linalg.eigvalsh(h)
    if tol is None:
        tol = 1e-9 * max(1.0, float(np.max(np.abs(lam))))
    else:
        tol = _real("classify", "tol", tol)
        if tol < 0:
            raise ValueError(f"classify: tol must be ≥ 0, got {tol!r}")
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
            f"{where}: problem.grad/hessian returned shapes {g.shape}, {h.shape} "
            f"for a point of shape {x.shape}"
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


def critical_point_at(
    problem: Any, point: Any, gtol: float = 1e-8, tol: float | None = None
) -> CriticalPointReport:
    """Check and classify a candidate critical point.

    ``problem`` is any object with ``grad(x)`` and ``hessian(x)`` (x of shape (dim,)); if it also
    has ``value(x)`` (or is callable) f(x) is reported and scales the test: the point is
    critical when ‖∇f(x)‖₂ ≤ gtol·max(1, |f(x)|) (plain ‖∇f(x)‖₂ ≤ gtol without a value).
    ``tol`` is passed to :func:`classify`. At an approximate critical point near a degenerate
    one an eigenvalue can be small but not zero; pass a ``tol`` that reflects how far the point
    may be from the true one.
    """
    where = "critical_point_at"
    gtol = _real(where, "gtol", gtol, positive=True)
    x = _vector(where, "point", point)
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
    d, *_ = np.linalg.lstsq(h, -g, rcond=None)
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
    gtol = _real(where, "gtol", gtol, positive=True)
    xtol = _real(where, "xtol", xtol, positive=True)
    max_iter = _count(where, "max_iter", max_iter, 1)
    dedup_tol = _real(where, "dedup_tol", dedup_tol)
    hessian_safety = _real(where, "hessian_safety", hessian_safety)
    starts = list(starts)
    if not starts:
        raise ValueError(f"{where}: starts must contain at least one point, got none")
    dim = _vector(where, "starts[0]", starts[0]).size

    found: list[dict[str, Any]] = []
    for k, s in enumerate(starts):
        x = _vector(where, f"starts[{k}]", s, dim).copy()
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
    reports.sort(
        key=lambda r: (r.value if r.value is not None else 0.0, tuple(np.round(r.point, 12)))
    )
    return reports


def _sym(h: np.ndarray) -> np.ndarray:
    return 0.5 * (h + h.T)


def _try_point(where: str, problem: Any, x: np.ndarray):
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
    a = _matrix(where, "A", A)
    bv = _vector(where, "b", b, a.shape[0])
    c = _real(where, "c", c)
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


# --------------------------------------------------------------------------- rates on quadratics


@dataclass(frozen=True)
class HeavyBallOptimum:
    """Polyak's optimal constant heavy-ball parameters and the rate they achieve."""

    lr: float
    momentum: float
    rate: float


class QuadraticRates:
    """Step-size facts for gradient descent on a quadratic with symmetric Hessian A ≻ 0.

    With eigenvalues λ_min = λ_1 ≤ ... ≤ λ_n = λ_max and κ = λ_max/λ_min:

    * ``lr_max`` = 2/λ_max: GD converges iff 0 < η < lr_max;
    * ``lr_per_direction`` = 1/λ_i: the step that zeroes eigen-direction i in one update;
    * ``lr_best`` = 2/(λ_min + λ_max), ``rate_best`` = (κ − 1)/(κ + 1): the fixed η with the
      smallest worst-case contraction;
    * ``gd_rate(η)`` = max_i |1 − ηλ_i| (≥ 1: no convergence);
    * ``heavy_ball_rate(η, α)`` = max_i ρ([[1 + α − ηλ_i, −α], [1, 0]]);
    * ``heavy_ball_optimal()`` = Polyak (1964): η = 4/(√λ_max + √λ_min)²,
      α = ((√κ − 1)/(√κ + 1))², rate (√κ − 1)/(√κ + 1).

    Rates are per step, asymptotic: ‖θ_t − θ*‖ ≈ C·rate^t. (Where a 2×2 heavy-ball matrix has
    a double root -- at Polyak's optimum for λ_min and λ_max -- the error behaves like
    C·t·rate^t, so a measured rate approaches the spectral one only like rate·(1 + O(1/t)).)
    """

    def __init__(self, A: Any):
        a = _matrix("QuadraticRates", "A", A)
        lam = np.linalg.eigvalsh(a)
        bad = np.nonzero(lam <= 0)[0]
        if bad.size:
            which = ", ".join(f"λ_{i + 1} = {lam[i]:.6g}" for i in bad)
            verb = "is" if bad.size == 1 else "are"
            raise ValueError(
                f"QuadraticRates: A must be positive definite, but eigenvalue {which} "
                f"(ascending, of {lam.size}) {verb} not positive"
            )
        self.A = a
        self.eigenvalues = lam

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        return self.lambda_max / self.lambda_min

    @property
    def lr_max(self) -> float:
        return 2.0 / self.lambda_max

    @property
    def lr_per_direction(self) -> np.ndarray:
        return 1.0 / self.eigenvalues

    @property
    def lr_best(self) -> float:
        return 2.0 / (self.lambda_min + self.lambda_max)

    @property
    def rate_best(self) -> float:
        k = self.condition_number
        return (k - 1.0) / (k + 1.0)

    def gd_rate(self, lr: float) -> float:
        lr = _real("gd_rate", "lr", lr)
        return float(np.max(np.abs(1.0 - lr * self.eigenvalues)))

    def heavy_ball_rate(self, lr: float, momentum: float) -> float:
        lr = _real("heavy_ball_rate", "lr", lr)
        alpha = _real("heavy_ball_rate", "momentum", momentum)
        # Eigenvalues of [[p, −α], [1, 0]] are the roots of z² − p z + α = 0, p = 1 + α − ηλ_i.
        # Closed form rather than a 2×2 eigensolver: at Polyak's optimum the extreme matrices
        # are defective (double root) and a general eigensolver loses half the digits there.
        p = 1.0 + alpha - lr * self.eigenvalues
        disc = p * p - 4.0 * alpha
        # a double root computed with round-off: treat |disc| at rounding level as 0
        disc = np.where(np.abs(disc) <= 64 * np.finfo(float).eps * (p * p + 4.0 * abs(alpha)), 0.0, disc)
        root = np.sqrt(np.abs(disc))
        real_radius = np.maximum(np.abs(p + root), np.abs(p - root)) / 2.0
        complex_radius = np.full_like(p, math.sqrt(abs(alpha)))  # |z|² = α when disc < 0
        return float(np.max(np.where(disc >= 0, real_radius, complex_radius)))

    def heavy_ball_optimal(self) -> HeavyBallOptimum:
        sq_min, sq_max = math.sqrt(self.lambda_min), math.sqrt(self.lambda_max)
        sk = math.sqrt(self.condition_number)
        q = (sk - 1.0) / (sk + 1.0)
        return HeavyBallOptimum(lr=4.0 / (sq_max + sq_min) ** 2, momentum=q * q, rate=q)

    def __repr__(self) -> str:
        return f"QuadraticRates(eigenvalues={np.array2string(self.eigenvalues, precision=6)})"


def measured_rate(
    trajectory: Any,
    minimizer: Any,
    skip: int | None = None,
    method: str = "fit",
) -> float:
    """The observed per-step linear rate of a trajectory θ_0, ..., θ_T (array (T+1, dim)).

    e_t = ‖θ_t − θ*‖₂. Only the prefix before e_t first drops to ≤ 1e-12·e_0 (round-off) or
    becomes non-finite is used; ``skip`` (default: half of that prefix) initial steps are
    dropped as transient. Then, on the remaining tail t = a..b:

    * ``method="fit"`` (default): exp of the least-squares slope of log e_t against t -- robust
      to the oscillation of heavy-ball errors;
    * ``method="geometric"``: geometric mean of the ratios e_{t+1}/e_t, which telescopes to
      (e_b/e_a)^{1/(b−a)}.

    A rate ≥ 1 means no convergence.
    """
    where = "measured_rate"
    traj = np.asarray(trajectory, dtype=np.float64)
    if traj.ndim == 1:
        traj = traj[:, None]
    if traj.ndim != 2 or traj.shape[0] < 2:
        raise ValueError(f"{where}: trajectory must be an array of shape (T+1, dim) with T ≥ 1, got {traj.shape}")
    xs = _vector(where, "minimizer", minimizer, traj.shape[1])
    if method not in ("fit", "geometric"):
        raise ValueError(f"{where}: method must be 'fit' or 'geometric', got {method!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.linalg.norm(traj - xs, axis=1)
    if not (np.isfinite(err[0]) and err[0] > 0):
        raise ValueError(f"{where}: the trajectory must start at a finite point other than the minimizer")
    bad = ~np.isfinite(err) | (err <= 1e-12 * err[0])
    end = int(np.argmax(bad)) if bad.any() else err.size
    usable = err[:end]
    if skip is None:
        skip = usable.size // 2
    else:
        skip = _count(where, "skip", skip, 0)
    tail = usable[skip:]
    if tail.size < 2:
        raise ValueError(
            f"{where}: need at least 2 errors above the round-off floor after skip={skip}, "
            f"have {tail.size} (of {usable.size} usable steps)"
        )
    if method == "geometric":
        return float((tail[-1] / tail[0]) ** (1.0 / (tail.size - 1)))
    t = np.arange(tail.size, dtype=np.float64)
    slope = np.polyfit(t, np.log(tail), 1)[0]
    return float(np.exp(slope))


@dataclass(frozen=True, eq=False)
class RateComparison:
    """Predicted (spectral) vs measured rate of GD / heavy ball on one quadratic run."""

    lr: float
    momentum: float
    predicted: float
    measured: float
    minimizer: np.ndarray
    trajectory: np.ndarray = field(repr=False)

    @property
    def relative_error(self) -> float:
        return abs(self.measured - self.predicted) / self.predicted

    @property
    def converges(self) -> bool:
        return self.predicted < 1.0


def compare_rates(
    A: Any,
    b: Any,
    lr: float,
    steps: int,
    start: Any,
    momentum: float = 0.0,
    skip: int | None = None,
) -> RateComparison:
    """Run GD (momentum = 0) or heavy ball on f = ½θᵀAθ − bᵀθ and compare rates.

    The iterates are those of the heavy-ball rule (``ravine.rules.Momentum``, v ← αv − ηg,
    θ ← θ + v with v₀ = 0), i.e. θ_{t+1} = θ_t − η(Aθ_t − b) + α(θ_t − θ_{t−1}); with α = 0 it is
    plain gradient descent. It stops early if ‖θ‖ exceeds 1e150 (divergence). ``predicted`` is
    :meth:`QuadraticRates.gd_rate` / :meth:`QuadraticRates.heavy_ball_rate`; ``measured`` is
    :func:`measured_rate` (least-squares fit) on the trajectory.
    """
    where = "compare_rates"
    rates = QuadraticRates(A)
    a = rates.A
    bv = _vector(where, "b", b, a.shape[0])
    lr = _real(where, "lr", lr)
    alpha = _real(where, "momentum", momentum)
    steps = _count(where, "steps", steps, 1)
    theta = _vector(where, "start", start, a.shape[0]).copy()
    xs = np.linalg.solve(a, bv)

    from .rules import Momentum  # the one definition of the heavy ball

    rule = Momentum(lr=lr, momentum=alpha, form="heavy_ball")
    state = rule.init(theta)
    traj = [theta.copy()]
    for _ in range(steps):
        theta, state, _ = rule.apply(theta, a @ theta - bv, state, nonfinite="ignore")
        traj.append(theta.copy())
        if not np.all(np.isfinite(theta)) or np.linalg.norm(theta) > 1e150:
            break
    traj_arr = np.array(traj)
    predicted = rates.gd_rate(lr) if alpha == 0.0 else rates.heavy_ball_rate(lr, alpha)
    measured = measured_rate(traj_arr, xs, skip=skip)
    return RateComparison(lr, alpha, predicted, measured, xs, traj_arr)


# --------------------------------------------------------------------------- the seed's slides


@dataclass(frozen=True)
class SlideRow:
    """One quantity on a slide: what the slide says, what is right, and why."""

    quantity: str
    slide: float
    correct: float
    formula: str
    note: str

    @property
    def agrees(self) -> bool:
        return math.isclose(self.slide, self.correct, rel_tol=0, abs_tol=5e-3)


@dataclass(frozen=True, eq=False)
class StepSizeSlide:
    """Seed 002's "E(x, y, z) = 3x² + 2y² + 4z² + 6" slide, checked."""

    function: str
    hessian: np.ndarray
    eigenvalues: np.ndarray
    rows: tuple[SlideRow, ...]

    def table(self) -> str:
        """A plain-text table: quantity | slide | correct | ok | formula."""
        head = ("quantity", "slide", "correct", "ok", "formula")
        body = [
            (r.quantity, f"{r.slide:.4g}", f"{r.correct:.4g}", "yes" if r.agrees else "NO", r.formula)
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def seed_step_size_slide() -> StepSizeSlide:
    """Reproduce and check seed 002's step-size slide for E = 3x² + 2y² + 4z² + 6.

    Hessian diag(6, 4, 8). The slide's per-direction optima 1/6, 1/4, 1/8 (= 1/λ_i) are right.
    Its "largest learning rate for convergence = min[2η_xopt, 2η_yopt, 2η_zopt] = 0.33" is an
    arithmetic slip: the minimum is 2/8 = 0.25 = 2/λ_max (and the slide's own next line says
    it diverges above 0.25). Its "optimal learning rate = min[...] = 1/8" is not the fastest
    fixed η: 1/8 gives rate max|1 − λ_i/8| = 0.5, while 2/(λ_min + λ_max) = 2/12 = 1/6 gives
    (κ − 1)/(κ + 1) = 1/3.
    """
    h = np.diag([6.0, 4.0, 8.0])
    r = QuadraticRates(h)
    slide_opt = 1 / 8
    rows = (
        SlideRow("η_x,opt (one-step optimum along x)", 1 / 6, 1 / 6.0, "1/λ_x = 1/6", "right"),
        SlideRow("η_y,opt (one-step optimum along y)", 1 / 4, 1 / 4.0, "1/λ_y = 1/4", "right"),
        SlideRow("η_z,opt (one-step optimum along z)", 1 / 8, 1 / 8.0, "1/λ_z = 1/8", "right"),
        SlideRow(
            "largest convergent η (supremum)",
            0.33,
            r.lr_max,
            "2/λ_max = min(2/6, 2/4, 2/8) = 0.25",
            "arithmetic slip on the slide: min(0.333, 0.5, 0.25) is 0.25",
        ),
        SlideRow(
            "divergence above",
            0.25,
            r.lr_max,
            "η > 2/λ_max = 0.25 diverges (η = 0.25 oscillates along z)",
            "right, and contradicts the slide's 0.33",
        ),
        SlideRow(
            "fastest fixed η",
            slide_opt,
            r.lr_best,
            "2/(λ_min + λ_max) = 2/(4 + 8) = 1/6",
            "the slide takes min_i 1/λ_i, which is safe but not fastest",
        ),
        SlideRow(
            "rate at the fastest η",
            r.gd_rate(slide_opt),
            r.rate_best,
            "max_i |1 − ηλ_i|; (κ − 1)/(κ + 1) = 1/3 at η = 1/6",
            "slide's η = 1/8 contracts by 0.5 per step, η = 1/6 by 1/3",
        ),
    )
    return StepSizeSlide("E(x, y, z) = 3x² + 2y² + 4z² + 6", h, r.eigenvalues, rows)


def seed_critical_point_example() -> QuadraticCriticalPoint:
    """Seed 002's worked example f = x1² + x1(1 − x2) + x2² − x2x3 + x3² + x3.

    As ½xᵀAx − bᵀx: A = [[2, −1, 0], [−1, 2, −1], [0, −1, 2]], b = (−1, 0, −1). Critical point
    (−1, −1, −1), eigenvalues 2 − √2, 2, 2 + √2 ≈ 0.586, 2, 3.414 (the seed's): a minimum,
    f = −1.
    """
    a = np.array([[2.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 2.0]])
    return quadratic_critical_point(a, np.array([-1.0, 0.0, -1.0]))
