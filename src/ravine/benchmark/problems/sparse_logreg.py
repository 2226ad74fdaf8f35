"""Logistic regression on sparse binary features with power-law frequencies, where rare
features carry signal: the setting Adagrad was made for (Duchi, Hazan & Singer 2011, Sec. 1:
"frequently occurring features ... low learning rates, infrequent features high ones")."""

from __future__ import annotations

import numpy as np

from .base import Data, Problem


def sparse_data(n: int = 3000, d: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    freq = np.minimum(0.5, 3.0 / np.arange(1, d + 1))  # feature j present w.p. ~ 3/j
    X = (rng.random((n, d)) < freq).astype(np.float64)
    w = rng.choice([-1.0, 1.0], size=d) * 2.0
    z = X @ w + 0.5 * rng.standard_normal(n)
    y = (z > np.median(z)).astype(np.int64)
    return X, y


class SparseLogreg(Problem):
    name = "sparse_logreg"
    title = "sparse-feature logistic regression (d=1000)"
    source = "Duchi, Hazan & Singer 2011 (motivating setting); synthetic, fixed seed"
    batch_size = 32
    steps = 300
    metric = "err"
    target = 0.25

    def make_data(self):
        import torch

        X, y = sparse_data()
        dt = self.torch_dtype()
        tr, va = 2000, 2400
        X = torch.as_tensor(X, dtype=dt)
        y = torch.as_tensor(y)
        return Data(X[:tr], y[:tr], X[tr:va], y[tr:va], X[va:], y[va:], {"n": len(y), "d": X.shape[1]})

    def model(self, seed):
        import torch
        from torch import nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return nn.Linear(self.data().x_train.shape[1], 2).to(self.torch_dtype())
