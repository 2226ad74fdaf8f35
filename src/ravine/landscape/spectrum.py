"""Eigenvalues, trace and spectral density of a symmetric operator from products H v alone.

* :func:`lanczos` — the k largest eigenvalues and their eigenvectors by the Lanczos process
  with full reorthogonalization (Lanczos 1950; Golub & Van Loan, *Matrix Computations*, §10.1).
  After j products the Krylov basis Q_j = [q₁ … q_j] gives the tridiagonal
  T_j = Q_jᵀ H Q_j (α on the diagonal, β off it); a Ritz pair (θ, y = Q_j s) of T_j has the
  residual ‖H y − θ y‖ = β_j |s_j| (last component of s) with no extra product, and for a
  symmetric H some eigenvalue lies within that residual of θ. A pair is *converged* when
  β_j |s_j| ≤ tol·|θ|, so the relative eigenvalue error is at most ``tol`` (and, with a gap
  δ to the rest of the spectrum, at most (tol·|θ|)²/δ).
* :func:`power_iteration` — the simple reference: v ← H v/‖H v‖, θ = vᵀ H v, stopped on the
  same residual test; it finds the eigenvalue of largest *magnitude* (for trained networks the
  positive outlier λ_max).
* :func:`hutchinson_trace` — tr H = E[zᵀ H z] for Rademacher z (Hutchinson 1989), the mean of
  m samples with its standard error s/√m.
* :func:`slq_density` — stochastic Lanczos quadrature (Golub & Meurant; Ghorbani, Krishnan &
  Xiao 2019, "An investigation into neural net optimization via Hessian eigenvalue density";
  PyHessian, Yao et al. 2020): for n_v Gaussian probes v, m Lanczos steps from v/‖v‖ give
  nodes θ_j and weights τ_j = (e₁ᵀ s_j)², and the density is the Gaussian-broadened sum

      φ(t) = (1/n_v) Σ_v Σ_j τ_j^{(v)} g_σ(t − θ_j^{(v)}),   g_σ(x) = exp(−x²/2σ²)/(σ√(2π)),

  which integrates to 1 (Σ_j τ_j = 1) and whose expectation, for m = dim, is the
  σ-broadened eigenvalue histogram (1/n) Σ_i g_σ(t − λ_i).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .operators import Operator

__all__ = [
    "EigenResult",
    "TraceEstimate",
    "SpectralDensity",
    "lanczos",
    "power_iteration",
    "hutchinson_trace",
    "slq_density",
]


@dataclass
class EigenResult:
    """Top eigenpairs: ``eigenvalues`` (descending), ``eigenvectors`` (dim × k, orthonormal
    columns), ``residuals`` ‖H y − θ y‖ of each pair, ``converged`` (residual ≤ tol·|θ| for
    every pair), ``n_products`` (H v products used) and ``tol``."""

    eigenvalues: np.ndarray
    eigenvectors: torch.Tensor
    residuals: np.ndarray
    converged: bool
    n_products: int
    tol: float
    method: str

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])


@dataclass
class TraceEstimate:
    """Hutchinson's estimate ``trace`` ± ``stderr`` from ``n_products`` probes (``samples``: each zᵀHz)."""

    trace: float
    stderr: float
    n_products: int
    samples: np.ndarray


@dataclass
class SpectralDensity:
    """φ on ``grid`` (``density``), the quadrature ``nodes`` and ``weights`` (n_v × m), ``sigma``."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    sigma: float
    n_products: int


def _check_int(name: str, value: Any, low: int, high: int | None = None, what: str = "") -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        rng = f"an integer in [{low}, {high}]" if high is not None else f"an integer ≥ {low}"
        raise ValueError(f"{name} must be {rng}{what}, got {value!r}")
    return int(value)


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not 0 < float(tol) < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    return float(tol)


def _check_op(op: Any) -> Operator:
    if not isinstance(op, Operator):
        raise ValueError(
            f"op must be a ravine.landscape Operator (DenseOperator, LossHessian, …), got {type(op).__name__}"
        )
    return op


def _start(dim: int, dtype: torch.dtype, seed: int, kind: str = "gauss") -> torch.Tensor:
    g = torch.Generator().manual_seed(int(seed))
    if kind == "rademacher":
        return (torch.randint(0, 2, (dim,), generator=g) * 2 - 1).to(dtype)
    return torch.randn(dim, generator=g, dtype=torch.float64).to(dtype)


def _lanczos_basis(op: Operator, v0: torch.Tensor, m: int, *, k: int = 0, tol: float = 0.0):
    """m steps (or fewer: convergence of the top k when k > 0, or an invariant subspace) of
    Lanczos with full reorthogonalization from v0. Returns (Q [j × dim], alpha [j], beta [j])."""
    n = op.dim
    Q = torch.zeros(m, n, dtype=op.dtype)
    alpha, beta = np.zeros(m), np.zeros(m)
    q = v0 / v0.norm()
    scale = 0.0
    for j in range(m):
        Q[j] = q
        w = op.matvec(q)
        alpha[j] = float(q @ w)
        # full reorthogonalization: classical Gram–Schmidt twice against all of Q_j
        for _ in range(2):
            w = w - Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = float(w.norm())
        beta[j] = b
        scale = max(scale, abs(alpha[j]), b)
        if b <= 1e-12 * max(scale, 1e-300) or j + 1 == n:
            return Q[: j + 1], alpha[: j + 1], beta[: j + 1], True
        if k and j + 1 >= k:
            theta, s = _ritz(alpha[: j + 1], beta[:j])
            res = b * np.abs(s[-1, :k])
            if np.all(res <= tol * np.maximum(np.abs(theta[:k]), 1e-300)):
                return Q[: j + 1], alpha[: j + 1], beta[: j + 1], False
        q = w / b
    return Q, alpha, beta, False


def _ritz(alpha: np.ndarray, beta_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the tridiagonal T (descending eigenvalues; columns of s are eigenvectors)."""
    T = np.diag(alpha) + np.diag(beta_off, 1) + np.diag(beta_off, -1)
    theta, s = np.linalg.eigh(T)
    return theta[::-1], s[:, ::-1]


def lanczos(op: Operator, k: int = 1, *, tol: float = 1e-3, max_iter: int | None = None, seed: int = 0) -> EigenResult:
    """The ``k`` largest (algebraic) eigenvalues of ``op`` and their eigenvectors.

    Stops when every one of the top k Ritz pairs has residual β_j|s_j| ≤ ``tol``·|θ| (see the
    module docstring), after ``max_iter`` products (default min(dim, max(20, 10 k) + 60)), or
    on an invariant subspace (then the pairs are exact and ``converged`` is True). ``seed``
    fixes the Gaussian start vector.
    """
    op = _check_op(op)
    k = _check_int("k", k, 1, op.dim, f" (the operator has dim = {op.dim})")
    tol = _check_tol(tol)
    m = (
        min(op.dim, max(20, 10 * k) + 60)
        if max_iter is None
        else _check_int("max_iter", max_iter, k, None, " (at least k)")
    )
    m = min(m, op.dim)
    before = op.n_products
    Q, alpha, beta, exact = _lanczos_basis(op, _start(op.dim, op.dtype, seed), m, k=k, tol=tol)
    theta, s = _ritz(alpha, beta[:-1])
    res = beta[-1] * np.abs(s[-1, :k]) if not exact else np.zeros(k)
    vecs = Q.T @ torch.as_tensor(np.ascontiguousarray(s[:, :k]), dtype=op.dtype)
    conv = bool(np.all(res <= tol * np.maximum(np.abs(theta[:k]), 1e-300)))
    return EigenResult(theta[:k].copy(), vecs, res, conv, op.n_products - before, tol, "lanczos")


def power_iteration(op: Operator, *, tol: float = 1e-3, max_iter: int = 1000, seed: int = 0) -> EigenResult:
    """The eigenvalue of largest magnitude by power iteration (the simple reference for
    :func:`lanczos`): v ← H v/‖H v‖, θ = vᵀHv, until ‖H v − θ v‖ ≤ ``tol``·|θ|."""
    op = _check_op(op)
    tol = _check_tol(tol)
    max_iter = _check_int("max_iter", max_iter, 1)
    before = op.n_products
    v = _start(op.dim, op.dtype, seed)
    v = v / v.norm()
    theta, res, conv = 0.0, math.inf, False
    for _ in range(max_iter):
        w = op.matvec(v)
        theta = float(v @ w)
        res = float((w - theta * v).norm())
        if res <= tol * max(abs(theta), 1e-300):
            conv = True
            break
        nw = w.norm()
        if float(nw) == 0.0:  # v in the null space: θ = 0 exactly
            conv = True
            break
        v = w / nw
    return EigenResult(np.array([theta]), v.reshape(-1, 1), np.array([res]), conv, op.n_products - before, tol, "power")


def hutchinson_trace(op: Operator, n_probes: int = 100, *, seed: int = 0) -> TraceEstimate:
    """tr H ≈ (1/m) Σ zᵢᵀ H zᵢ with m = ``n_probes`` Rademacher vectors; stderr = s/√m."""
    op = _check_op(op)
    m = _check_int("n_probes", n_probes, 2)
    g = torch.Generator().manual_seed(int(seed))
    before = op.n_products
    samples = np.empty(m)
    for i in range(m):
        z = (torch.randint(0, 2, (op.dim,), generator=g) * 2 - 1).to(op.dtype)
        samples[i] = float(z @ op.matvec(z))
    return TraceEstimate(
        float(samples.mean()), float(samples.std(ddof=1) / math.sqrt(m)), op.n_products - before, samples
    )


def slq_density(
    op: Operator,
    n_probes: int = 10,
    n_steps: int = 60,
    *,
    sigma: float | None = None,
    grid: Any = None,
    n_grid: int = 1000,
    seed: int = 0,
) -> SpectralDensity:
    """The Hessian eigenvalue density by stochastic Lanczos quadrature (see the module docstring).

    ``n_steps`` Lanczos steps per probe (at most dim); ``sigma`` the Gaussian width (default:
    1 % of the nodes' range); ``grid`` the points t (default ``n_grid`` points spanning the
    nodes ± 5σ).
    """
    op = _check_op(op)
    nv = _check_int("n_probes", n_probes, 1)
    m = min(_check_int("n_steps", n_steps, 1), op.dim)
    if sigma is not None and (
        isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0
    ):
        raise ValueError(f"sigma must be a positive number (or None), got {sigma!r}")
    before = op.n_products
    nodes, weights = np.full((nv, m), np.nan), np.zeros((nv, m))
    g = torch.Generator().manual_seed(int(seed))
    for i in range(nv):
        v0 = torch.randn(op.dim, generator=g, dtype=torch.float64).to(op.dtype)
        _, alpha, beta, _ = _lanczos_basis(op, v0, m)
        theta, s = _ritz(alpha, beta[:-1])
        j = len(theta)
        nodes[i, :j], weights[i, :j] = theta, s[0] ** 2
    ok = np.isfinite(nodes)
    lo, hi = float(nodes[ok].min()), float(nodes[ok].max())
    if sigma is None:
        sigma = 0.01 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 1e-2
    t = (
        np.linspace(lo - 5 * sigma, hi + 5 * sigma, _check_int("n_grid", n_grid, 2))
        if grid is None
        else np.asarray(grid, dtype=np.float64)
    )
    th, w = nodes[ok], weights[ok]
    dens = (w[None, :] * np.exp(-0.5 * ((t[:, None] - th[None, :]) / sigma) ** 2)).sum(1)
    dens /= nv * sigma * math.sqrt(2 * math.pi)
    return SpectralDensity(t, dens, nodes, weights, float(sigma), op.n_products - before)
