"""WindowedRMSprop (lecture 45's "AdaDelta") on torch tensors, compiled and eager, against the
equations written out step by step: r_t = mean of the last min(t, W) squared gradients,
θ ← θ − η g/(√r + ε). The window is a ring buffer (g_τ² in row (τ − 1) mod W)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch

import ravine.optim as ro


def _grad(x):
    return 2.0 * x * np.array([1.0, 3.0, 0.5, 2.0, 7.0]) + np.sin(3 * x) - 0.3


@pytest.mark.parametrize("impl", ["eager", "compiled"])
@pytest.mark.parametrize("W", [1, 4, 7])
def test_windowed_rmsprop_matches_the_equations(impl, W):
    eta, eps, steps = 1e-2, 1e-8, 40
    x0 = np.array([1.0, -0.5, 2.0, 0.25, -1.5])
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = ro.WindowedRMSprop([p], lr=eta, window=W, eps=eps, impl=impl)
    theta, window = x0.copy(), deque(maxlen=W)
    for t in range(1, steps + 1):
        g = _grad(theta)
        p.grad = torch.tensor(_grad(p.detach().numpy()), dtype=torch.float64)
        opt.step()
        window.append(g * g)
        r = sum(window) / len(window)
        theta = theta - eta * g / (np.sqrt(r) + eps)
        # float64: a few roundings per step, carried through 40 steps of a contracting map
        np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")
        ring = np.zeros((W, x0.size))
        for tau, sq in zip(range(t - len(window) + 1, t + 1), window):
            ring[(tau - 1) % W] = sq
        np.testing.assert_allclose(opt.state[p]["w"].numpy(), ring, rtol=1e-12, atol=0, err_msg=f"step {t}")
        assert int(opt.state[p]["step"]) == t
