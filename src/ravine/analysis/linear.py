"""Per-eigen-direction linear rates of GD, the heavy ball and Nesterov on a quadratic.

On f(θ) = ½(θ − θ*)ᵀH(θ − θ*) + c with H = QΛQᵀ the error e = θ − θ* splits into components
e_i = q_iᵀe that evolve independently, each by a scalar (GD) or 2×2 (momentum) linear map
whose spectral radius ρ_i is the asymptotic per-step rate of |e_i(t)| ≈ C·ρ_i^t
(Goh 2017, "Why Momentum Really Works", Distill, §"First steps: gradient descent" and
§"The dynamics of momentum"; Polyak 1964, "Some methods of speeding up the convergence of
iteration methods"):

* gradient descent θ ← θ − η∇f: e_i(t + 1) = (1 − ηλ_i) e_i(t), so ρ_i = |1 − ηλ_i|;
* heavy ball θ_{t+1} = θ_t − η∇f(θ_t) + β(θ_t − θ_{t−1}) (Polyak 1964): the pair
  (e_i(t + 1), e_i(t)) evolves by R_i = [[1 + β − ηλ_i, −β], [1, 0]], characteristic
  polynomial z² − (1 + β − ηλ_i) z + β (Goh 2017 writes the same map in the variables (z, w));
* Nesterov θ̃ = θ + βv, v ← βv − η∇f(θ̃), θ ← θ + v (Nesterov 1983; Sutskever et al. 2013):
  (e_i, v_i) evolves by N_i = [[1 − ηλ_i, β(1 − ηλ_i)], [−ηλ_i, β(1 − ηλ_i)]], characteristic
  polynomial z² − (1 + β)(1 − ηλ_i) z + β(1 − ηλ_i). ``SGD(nesterov=True)`` is the same
  method in the look-ahead variable, so it has the same rates.

The rates are the larger root modulus of z² − p z + q, computed in closed form (at a double
root a general eigensolver loses half the digits). ρ_i < 1 for every i is stability; the
bounds in η are :func:`ravine.analysis.heavy_ball_bound` and :func:`ravine.analysis.nesterov_bound`.
:func:`linear_form` says which of these a rule is (with its effective step and any coupled
weight decay), or None for the rules whose update is not linear in the gradient (Adam,
RMSprop, AdaGrad, …: their step divides by a running gradient statistic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .._checks import real

if TYPE_CHECKING:
    from ..rules import Rule

__all__ = [
    "gd_rates",
    "heavy_ball_matrix",
    "heavy_ball_rates",
    "nesterov_matrix",
    "nesterov_rates",
    "LinearForm",
    "linear_form",
    "no_linear_rate_reason",
]


def _eigenvalues(where: str, lam: Any) -> np.ndarray:
    a = np.asarray(lam, dtype=np.float64)
    if a.ndim > 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{where}: eigenvalues must be a non-empty 1-D array of finite numbers, got {lam!r}")
    return np.atleast_1d(a)


def _radius(p: np.ndarray, q: np.ndarray | float) -> np.ndarray:
    """The larger modulus of the roots of z² − p z + q (element-wise, closed form)."""
    q = np.broadcast_to(np.asarray(q, dtype=np.float64), p.shape)
    disc = p * p - 4.0 * q
    # a double root computed with round-off: |disc| at rounding level counts as 0
    disc = np.where(np.abs(disc) <= 64 * np.finfo(float).eps * (p * p + 4.0 * np.abs(q)), 0.0, disc)
    root = np.sqrt(np.abs(disc))
    real_radius = np.maximum(np.abs(p + root), np.abs(p - root)) / 2.0
    complex_radius = np.sqrt(np.abs(q))  # complex pair: |z|² = q
    out: np.ndarray = np.where(disc >= 0, real_radius, complex_radius)
    return out


def gd_rates(lr: float, eigenvalues: Any) -> np.ndarray:
    """ρ_i = |1 − ηλ_i|: gradient descent's factor per step along eigenvector i (Goh 2017)."""
    lr = real("gd_rates", "lr", lr)
    return np.abs(1.0 - lr * _eigenvalues("gd_rates", eigenvalues))


def heavy_ball_matrix(lr: float, momentum: float, lam: float) -> np.ndarray:
    """R = [[1 + β − ηλ, −β], [1, 0]], the heavy ball's map of (e_t, e_{t−1}) → (e_{t+1}, e_t)."""
    lr = real("heavy_ball_matrix", "lr", lr)
    b = real("heavy_ball_matrix", "momentum", momentum)
    lam = real("heavy_ball_matrix", "lam", lam)
    return np.array([[1.0 + b - lr * lam, -b], [1.0, 0.0]])


def heavy_ball_rates(lr: float, momentum: float, eigenvalues: Any) -> np.ndarray:
    """ρ_i = spectral radius of [[1 + β − ηλ_i, −β], [1, 0]] (Polyak 1964; Goh 2017): the roots of
    z² − (1 + β − ηλ_i) z + β; with β = 0, |1 − ηλ_i|."""
    lr = real("heavy_ball_rates", "lr", lr)
    b = real("heavy_ball_rates", "momentum", momentum)
    lam = _eigenvalues("heavy_ball_rates", eigenvalues)
    return _radius(1.0 + b - lr * lam, b)


def nesterov_matrix(lr: float, momentum: float, lam: float) -> np.ndarray:
    """N = [[1 − ηλ, β(1 − ηλ)], [−ηλ, β(1 − ηλ)]], Nesterov's map of (e_t, v_t) → (e_{t+1}, v_{t+1})
    (look-ahead form: v ← βv − ηλ(e + βv), e ← e + v)."""
    lr = real("nesterov_matrix", "lr", lr)
    b = real("nesterov_matrix", "momentum", momentum)
    lam = real("nesterov_matrix", "lam", lam)
    a = 1.0 - lr * lam
    return np.array([[a, b * a], [-lr * lam, b * a]])


def nesterov_rates(lr: float, momentum: float, eigenvalues: Any) -> np.ndarray:
    """ρ_i = spectral radius of Nesterov's 2×2 map: the roots of z² − (1 + β)(1 − ηλ_i) z + β(1 − ηλ_i)
    (Nesterov 1983; Sutskever et al. 2013). Stable for all i iff 0 < ηλ_i < 2(1 + β)/(1 + 2β)."""
    lr = real("nesterov_rates", "lr", lr)
    b = real("nesterov_rates", "momentum", momentum)
    a = 1.0 - lr * _eigenvalues("nesterov_rates", eigenvalues)
    return _radius((1.0 + b) * a, b * a)


class LinearForm(NamedTuple):
    """How a rule acts on a quadratic: ``method`` ``"gd"``, ``"heavy_ball"`` or ``"nesterov"``;
    ``lr`` the effective step η (the rule's η times its scale: (1 − τ) for SGD's dampening τ,
    (1 − β) for the averaged momentum form); ``momentum`` β; ``weight_decay`` the coupled L2
    decay added to the Hessian (H + λI); ``lr_scale`` = η_eff/η_rule."""

    method: str
    lr: float
    momentum: float
    weight_decay: float
    lr_scale: float

    def rates(self, eigenvalues: Any) -> np.ndarray:
        """ρ_i for the eigenvalues λ_i of the problem's Hessian (the decay is added here)."""
        lam = _eigenvalues("LinearForm.rates", eigenvalues) + self.weight_decay
        if self.method == "gd":
            return gd_rates(self.lr, lam)
        if self.method == "heavy_ball":
            return heavy_ball_rates(self.lr, self.momentum, lam)
        return nesterov_rates(self.lr, self.momentum, lam)

    @property
    def formula(self) -> str:
        if self.method == "gd":
            return "ρᵢ = |1 − ηλᵢ|"
        if self.method == "heavy_ball":
            return "ρᵢ = spectral radius of [[1 + β − ηλᵢ, −β], [1, 0]] (Polyak 1964; Goh 2017)"
        return "ρᵢ = spectral radius of [[1 − ηλᵢ, β(1 − ηλᵢ)], [−ηλᵢ, β(1 − ηλᵢ)]] (Nesterov 1983)"


def linear_form(rule: Rule) -> LinearForm | None:
    """The linear (GD / heavy ball / Nesterov) form of ``rule`` on a quadratic, or None.

    SGD (momentum μ, dampening τ, coupled decay λ): GD with η(1 − τ) if μ = 0, else the heavy
    ball (or Nesterov with ``nesterov=True``) with η(1 − τ), μ; Momentum: heavy ball with η
    (``form="heavy_ball"``) or η(1 − β) (``form="average"``); NAG: Nesterov with η, β. The rates
    are asymptotic: SGD's first buffer (b₁ = g or (1 − τ)g) changes only the transient.
    """
    from ..rules.sgd import NAG, SGD, Momentum

    h = rule.h
    if isinstance(rule, SGD):
        scale = 1.0 - float(h.dampening)
        if h.momentum == 0:
            return LinearForm("gd", float(h.lr) * scale, 0.0, float(h.weight_decay), scale)
        if h.nesterov:
            return LinearForm("nesterov", float(h.lr), float(h.momentum), float(h.weight_decay), 1.0)
        return LinearForm("heavy_ball", float(h.lr) * scale, float(h.momentum), float(h.weight_decay), scale)
    if isinstance(rule, Momentum):
        scale = (1.0 - float(h.momentum)) if h.form == "average" else 1.0
        method = "gd" if h.momentum == 0 else "heavy_ball"
        return LinearForm(method, float(h.lr) * scale, float(h.momentum), 0.0, scale)
    if isinstance(rule, NAG):
        method = "gd" if h.momentum == 0 else "nesterov"
        return LinearForm(method, float(h.lr), float(h.momentum), 0.0, 1.0)
    return None


def no_linear_rate_reason(rule: Rule) -> str:
    """One line on why ``rule`` has no linear rate on a quadratic (for rules where
    :func:`linear_form` is None)."""
    if "hessian" in rule.needs:
        return (
            f"{rule.name} uses the Hessian: on a quadratic a full Newton step lands on θ* at once, "
            "so there is no per-direction linear rate to draw"
        )
    return (
        f"{rule.name} divides its step by a running statistic of the gradient, so its update is not "
        "linear in θ − θ*: no fixed per-direction rate exists (the measured components are shown)"
    )
