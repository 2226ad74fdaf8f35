"""Rosenbrock's valley with noisy gradients: L(x, y) = (1 − x)² + 100 (y − x²)²
(Rosenbrock 1960), gradients ∇L + ξ with ξ ~ N(0, σ²I), σ = 1, from (−1.2, 1)."""

from __future__ import annotations

from .base import Data, Problem

_VALLEY = None


def _valley_cls():
    """The module L(θ) + ξᵀθ (one class, so that models stack; made once torch is loaded)."""
    global _VALLEY
    if _VALLEY is None:
        import torch
        from torch import nn

        class Valley(nn.Module):
            def __init__(self, dtype):
                super().__init__()
                self.theta = nn.Parameter(torch.tensor([-1.2, 1.0], dtype=dtype))

            def forward(self, xi):
                x, y = self.theta[0], self.theta[1]
                return (1 - x) ** 2 + 100 * (y - x * x) ** 2 + (xi * self.theta).sum()

        _VALLEY = Valley
    return _VALLEY


class NoisyRosenbrock(Problem):
    name = "rosenbrock"
    title = "Rosenbrock, noisy gradients (σ=1)"
    source = "Rosenbrock 1960; start (−1.2, 1) as in Moré, Garbow & Hillstrom 1981"
    batch_size = 1
    steps = 500
    metric = "loss"
    target = 0.5
    sigma = 1.0
    dtype = "float64"
    smoke_steps = 100

    def make_data(self):
        import torch

        zero = torch.zeros(2, dtype=self.torch_dtype())
        return Data(None, None, zero, zero[:1], zero, zero[:1], {"sigma": self.sigma})

    def model(self, seed):
        return _valley_cls()(self.torch_dtype())

    def criterion(self, out, y):
        return out

    def error(self, out, y):
        return None

    def batches(self, data, gen):
        import torch

        dummy = data.y_val
        while True:
            yield self.sigma * torch.randn(2, generator=gen, dtype=self.torch_dtype()), dummy
