"""Analysis the lectures teach: critical points, Hessians and step sizes on quadratics.

* Critical points (lecture 002): ∇f = 0, classified by the eigenvalues
  of the Hessian -- all positive: (strict local) minimum, all negative: maximum, some of each:
  saddle. Where an eigenvalue is zero the second-order test says nothing: the lecture's
  "f''(x) = 0 means saddle point" is wrong in general (x⁴ has f''(0) = 0 at a minimum, −x⁴ at a
  maximum, x³ at a stationary inflection). The lecture's saddle example "f(x, y) = x² y²" has lost
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

Only NumPy is imported. ``critical.py`` holds the critical points, ``rates.py`` the rates and
step-size bounds (the one home of the 2/λmax and 2(1+β)/λmax bounds). The lectures' slides
that use them live in ``ravine.lectures``.
"""

from __future__ import annotations

from .critical import (
    KINDS,
    Classification,
    CriticalPointReport,
    QuadraticCriticalPoint,
    classify,
    critical_point_at,
    find_critical_points,
    quadratic_critical_point,
)
from .rates import (
    HeavyBallForm,
    HeavyBallOptimum,
    QuadraticRates,
    RateComparison,
    adam_preconditioned_bound,
    compare_rates,
    constant_hessian,
    heavy_ball_bound,
    heavy_ball_form,
    measured_rate,
    nesterov_bound,
)

__all__ = [
    "KINDS",
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
    "heavy_ball_bound",
    "heavy_ball_form",
    "HeavyBallForm",
    "constant_hessian",
    "nesterov_bound",
    "adam_preconditioned_bound",
]
