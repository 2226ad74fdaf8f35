"""The noisy quadratic model (Zhang et al. 2019, "Which algorithmic choices matter at which
batch sizes? Insights from a noisy quadratic model", NeurIPS; arXiv:1907.04164).

L(θ) = ½ θᵀHθ with H = diag(h_i), h_i = 1/i (i = 1…d), and minibatch gradients
g = Hθ + ξ, ξ ~ N(0, C/B) with C = H (the gradient covariance equals the curvature, their
Sec. 2). Preconditioning P = H^−γ is the same model in the variable φ = P^−½ θ: curvature
H^{1−γ} and noise covariance H^{1−γ}/B, so ``gamma`` > 0 gives "preconditioned SGD" with any
rule. The expected loss of SGD has a closed form (every coordinate is an independent linear
recursion, their eq. (3)):

E[θ_i,t+1] = (1 − αh_i) E[θ_i,t],   V[θ_i,t+1] = (1 − αh_i)² V[θ_i,t] + α² h_i / B,
E[L_t] = ½ Σ h_i (E[θ_i,t]² + V[θ_i,t]),

which :func:`expected_loss` evaluates beside the simulated one.
"""

from __future__ import annotations

import numpy as np

from .base import Data, Problem


def curvatures(d: int, gamma: float = 0.0) -> np.ndarray:
    """h_i = (1/i)^{1−γ}: the spectrum of H, or of H^{1−γ} after preconditioning by H^−γ."""
    return (1.0 / np.arange(1, d + 1)) ** (1.0 - gamma)


def expected_loss(
    lr: float, steps, batch_size: float, d: int = 100, gamma: float = 0.0, theta0: float = 1.0
) -> np.ndarray:
    """E[L_t] of SGD with learning rate ``lr`` on the NQM (closed form above), for
    t = 0…steps when ``steps`` is an int, else at the steps given (an array)."""
    h = curvatures(d, gamma)
    a = 1.0 - lr * h
    t = (np.arange(steps + 1) if np.ndim(steps) == 0 else np.asarray(steps, dtype=float))[:, None]
    q = a * a
    mean2 = theta0**2 * q**t
    noise = lr * lr * h / batch_size
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        var = np.where(np.isclose(q, 1.0), noise * t, noise * (1 - q**t) / (1 - q))
    return 0.5 * (h * (mean2 + var)).sum(axis=1)


def steps_to_target(
    target: float,
    batch_size: float,
    d: int = 100,
    gamma: float = 0.0,
    max_steps: int = 100_000,
    lrs: np.ndarray | None = None,
) -> tuple[float, float]:
    """(fewest steps for E[L] ≤ target over a grid of stable learning rates, that lr);
    (inf, nan) when no lr reaches it in ``max_steps``. Steps are searched exactly up to 2000
    and on a 0.5 %-spaced geometric grid beyond (so large counts are within 0.5 %)."""
    h = curvatures(d, gamma)
    if lrs is None:
        lrs = np.geomspace(1e-4, 2.0 / h.max() * 0.999, 200)
    ts = np.arange(min(max_steps, 2000) + 1, dtype=float)
    if max_steps > 2000:
        ts = np.unique(
            np.concatenate(
                [ts, np.round(np.geomspace(2000, max_steps, 1 + int(np.log(max_steps / 2000) / np.log(1.005))))]
            )
        )
    best = (float("inf"), float("nan"))
    for lr in lrs:
        el = expected_loss(lr, ts, batch_size, d, gamma)
        hit = np.nonzero(el <= target)[0]
        if hit.size and ts[hit[0]] < best[0]:
            best = (float(ts[hit[0]]), float(lr))
    return best


_QUADRATIC = None


def _quadratic_cls():
    """The module ½ θᵀHθ + ξᵀθ (one class, so that models stack; made once torch is loaded)."""
    global _QUADRATIC
    if _QUADRATIC is None:
        import torch
        from torch import nn

        class Quadratic(nn.Module):
            def __init__(self, h):
                super().__init__()
                self.theta = nn.Parameter(torch.ones(len(h), dtype=h.dtype))
                self.register_buffer("h", h.clone())

            def forward(self, xi):  # L(θ) + ξᵀθ: its gradient is Hθ + ξ
                return 0.5 * (self.h * self.theta * self.theta).sum() + (xi * self.theta).sum()

        _QUADRATIC = Quadratic
    return _QUADRATIC


class NQM(Problem):
    """Noisy quadratic model, d = 50, B = 16, h_i = 1/i, θ₀ = 1 (the seed draws the noise only)."""

    name = "nqm"
    title = "noisy quadratic model (d=50, B=16)"
    source = "Zhang et al. 2019 (arXiv:1907.04164) Sec. 2"
    batch_size = 16
    steps = 300
    metric = "loss"
    target = 0.3
    d = 50
    gamma = 0.0
    dtype = "float64"
    smoke_steps = 100

    def make_data(self):
        import torch

        dt = self.torch_dtype()
        zero = torch.zeros(self.d, dtype=dt)
        dummy = torch.zeros(1, dtype=dt)
        return Data(None, None, zero, dummy, zero, dummy, {"d": self.d, "gamma": self.gamma, "B": self.batch_size})

    def model(self, seed):
        import torch

        h = torch.as_tensor(curvatures(self.d, self.gamma), dtype=self.torch_dtype())
        return _quadratic_cls()(h)

    def criterion(self, out, y):
        return out

    def error(self, out, y):
        return None

    def batches(self, data, gen):
        import torch

        scale = torch.as_tensor(np.sqrt(curvatures(self.d, self.gamma) / self.batch_size), dtype=self.torch_dtype())
        dummy = data.y_val
        while True:
            yield scale * torch.randn(self.d, generator=gen, dtype=self.torch_dtype()), dummy
