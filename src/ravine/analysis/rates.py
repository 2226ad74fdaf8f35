"""Rates and step-size bounds on quadratics: gradient descent and the heavy ball.

On f(θ) = ½θᵀAθ − bᵀθ + c with eigenvalues 0 < λ_min ≤ ... ≤ λ_max of A, gradient descent
θ ← θ − η∇f multiplies the error along eigenvector i by (1 − ηλ_i), so it converges iff
0 < η < 2/λ_max (lecture 002); the heavy ball
θ_{t+1} = θ_t − η∇f(θ_t) + α(θ_t − θ_{t−1}) (Polyak 1964) evolves the pair (e_{t+1}, e_t) by
[[1 + α − ηλ_i, −α], [1, 0]] and is stable iff 0 ≤ α < 1 and 0 < η < 2(1 + α)/λ_max.

This module is the one home of these facts: the plots, the explorer and the lectures read them
from here (``heavy_ball_bound``, ``heavy_ball_form``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from .._checks import real
from ._arrays import count, matrix, positive, vector

if TYPE_CHECKING:
    from ..problems import Problem
    from ..rules import Rule

__all__ = [
    "HeavyBallOptimum",
    "QuadraticRates",
    "measured_rate",
    "RateComparison",
    "compare_rates",
    "heavy_ball_bound",
    "heavy_ball_form",
    "HeavyBallForm",
    "constant_hessian",
    "nesterov_bound",
    "adam_preconditioned_bound",
]


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
        a = matrix("QuadraticRates", "A", A)
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
        lr = real("gd_rate", "lr", lr)
        return float(np.max(np.abs(1.0 - lr * self.eigenvalues)))

    def heavy_ball_rate(self, lr: float, momentum: float) -> float:
        lr = real("heavy_ball_rate", "lr", lr)
        alpha = real("heavy_ball_rate", "momentum", momentum)
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
    xs = vector(where, "minimizer", minimizer, traj.shape[1])
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
        skip = count(where, "skip", skip, 0)
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
    bv = vector(where, "b", b, a.shape[0])
    lr = real(where, "lr", lr)
    alpha = real(where, "momentum", momentum)
    steps = count(where, "steps", steps, 1)
    theta = vector(where, "start", start, a.shape[0]).copy()
    xs = np.linalg.solve(a, bv)

    from ..rules.sgd import Momentum  # the one definition of the heavy ball

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


# --------------------------------------------------------------------------- which rules are a heavy ball


class HeavyBallForm(NamedTuple):
    """How a rule is a heavy ball θ_{t+1} = θ_t − η_eff ∇f + β(θ_t − θ_{t−1}) on a quadratic.

    ``lr_scale``: η_eff = η · lr_scale, or ``"1-momentum"`` for the averaged form
    (η_eff = η(1 − β)); ``weight_decay``: λ added to the Hessian (coupled L2 decay);
    ``momentum``: the name of the β hyperparameter.
    """

    lr_scale: float | Literal["1-momentum"]
    weight_decay: float
    momentum: str

    def effective_lr(self, lr: float, momentum: float) -> float:
        return lr * ((1.0 - momentum) if self.lr_scale == "1-momentum" else self.lr_scale)

    def lr_of(self, effective_lr: float, momentum: float) -> float:
        """The rule's η that gives ``effective_lr``."""
        s = (1.0 - momentum) if self.lr_scale == "1-momentum" else self.lr_scale
        return effective_lr / s


def heavy_ball_form(rule: Rule) -> HeavyBallForm | None:
    """The heavy-ball form of ``rule``, or None if it is not one.

    SGD (dampening τ, no Nesterov): θ_{t+1} = θ_t − η(1−τ)g + μ(θ_t − θ_{t−1}) from t = 2 on;
    Momentum(form="heavy_ball"): η, α; form="average": η(1−β), β (lecture 002 algorithm 4).
    """
    from ..rules.sgd import SGD, Momentum

    h = rule.h
    if isinstance(rule, SGD) and not h.nesterov:
        return HeavyBallForm(1.0 - h.dampening, h.weight_decay, "momentum")
    if isinstance(rule, Momentum):
        return HeavyBallForm("1-momentum" if h.form == "average" else 1.0, 0.0, "momentum")
    return None


def heavy_ball_bound(lambda_max: float, momentum: float = 0.0) -> float:
    """The largest stable effective step of the heavy ball on a quadratic: η < 2(1 + β)/λmax.

    With β = 0 this is gradient descent's 2/λmax (lecture 002). From the characteristic
    polynomial z² − (1 + β − ηλ)z + β of [[1 + β − ηλ, −β], [1, 0]]: both roots lie in the
    unit disc iff |β| < 1 and 0 < ηλ < 2(1 + β) (Polyak 1964). With β ≥ 1 the product of
    the roots is β ≥ 1, so no step is stable: the bound is 0.
    """
    lam = positive("heavy_ball_bound", "lambda_max", lambda_max)
    beta = real("heavy_ball_bound", "momentum", momentum, lo=0.0)
    return 2.0 * (1.0 + beta) / lam if beta < 1.0 else 0.0


def nesterov_bound(lambda_max: float, momentum: float = 0.0) -> float:
    """The largest stable step of Nesterov's momentum (SGD's ``nesterov=True``) on a quadratic:
    η < 2(1 + β)/((1 + 2β)·λmax); with β = 0, gradient descent's 2/λmax (Cohen et al. 2021,
    App. on momentum). The bound is symmetric in η and λmax, so it is also the largest stable
    sharpness for a given η."""
    lam = positive("nesterov_bound", "lambda_max", lambda_max)
    beta = real("nesterov_bound", "momentum", momentum, lo=0.0)
    return 2.0 * (1.0 + beta) / ((1.0 + 2.0 * beta) * lam) if beta < 1.0 else 0.0


def adam_preconditioned_bound(lr: float, beta1: float) -> float:
    """The stability threshold of Adam's preconditioned sharpness λmax(P⁻¹H) at step size η:
    (2 + 2β₁)/((1 − β₁)η) — 38/η for β₁ = 0.9 (Cohen et al. 2022, "Adaptive gradient methods at
    the edge of stability")."""
    eta = positive("adam_preconditioned_bound", "lr", lr)
    b1 = real("adam_preconditioned_bound", "beta1", beta1, lo=0.0, hi=1.0, hi_open=True)
    return (2.0 + 2.0 * b1) / ((1.0 - b1) * eta)


def constant_hessian(problem: Problem) -> np.ndarray | None:
    """The constant Hessian of ``problem`` if it is a quadratic (checked at 5 points), else None."""
    from ..problems import Quadratic

    if isinstance(problem, Quadratic):
        return np.asarray(problem.hessian(np.zeros(problem.dim)), float)
    rng = np.random.default_rng(0)
    w = np.asarray(problem.bounds, float)
    pts = w[:, 0] + (w[:, 1] - w[:, 0]) * rng.random((5, problem.dim))
    try:
        with np.errstate(all="ignore"):
            H = np.asarray(problem.hessian(pts), float)
    except Exception:
        return None
    if not np.isfinite(H).all() or not np.allclose(H, H[0], rtol=1e-9, atol=1e-12):
        return None
    out: np.ndarray = H[0]
    return out
