"""Test problems: f(θ) = ½θᵀAθ − bᵀθ + Σ log cosh θ, smooth, non-quadratic, A SPD.

One definition for every test folder: :func:`make_problem` (one point, NumPy float64) and
:class:`BatchProblem` (also batched Hessians for the second-order rules).
"""

import numpy as np


def make_problem(seed=0, dim=6, ridge=0.5):
    """θ0 and ∇f of f(θ) = ½θᵀAθ − bᵀθ + Σ log cosh θ, A = QQᵀ/dim + ridge·I."""
    r = np.random.default_rng(seed)
    Q = r.normal(size=(dim, dim))
    A = Q @ Q.T / dim + ridge * np.eye(dim)
    b = r.normal(size=dim)
    theta0 = r.normal(size=dim)

    def grad(theta):
        return A @ theta - b + np.tanh(theta)

    return theta0, grad


class BatchProblem:
    """The same f in NumPy float64 for ``rule``: a batch of ``batch`` independent problems for
    second-order rules (``"hessian" in rule.needs``), else one; ``look`` marks look-ahead rules."""

    def __init__(self, rule, seed=0, dim=5, batch=3):
        self.second = "hessian" in rule.needs
        self.look = "lookahead" in rule.needs
        self.dim = dim
        r = np.random.default_rng(seed)
        if self.second:
            Q = r.normal(size=(batch, dim, dim))
            self.A = Q @ np.swapaxes(Q, -1, -2) / dim + np.eye(dim)
            self.b = r.normal(size=(batch, dim))
            self.theta0 = r.normal(size=(batch, dim))
        else:
            Q = r.normal(size=(dim, dim))
            self.A = Q @ Q.T / dim + 0.5 * np.eye(dim)
            self.b = r.normal(size=dim)
            self.theta0 = r.normal(size=dim)

    def grad(self, theta):
        return (self.A @ theta[..., None])[..., 0] - self.b + np.tanh(theta)

    def hess(self, theta):
        return self.A + np.eye(self.dim) * (1 - np.tanh(theta) ** 2)[..., None, :]
