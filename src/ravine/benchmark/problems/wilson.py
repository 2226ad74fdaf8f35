"""Wilson et al. 2017, "The Marginal Value of Adaptive Gradient Methods in Machine Learning"
(NeurIPS; arXiv:1705.08292), Sec. 3.3: a least-squares classification problem on which
adaptive methods generalise badly.

Labels y_i = +1 with probability p > 1/2, else −1. Features: x_i1 = y_i, x_i2 = x_i3 = 1,
and unique features: a positive example has one feature of its own equal to 1, a negative
example five. Every example (train, validation, test) gets fresh unique columns, so test
examples share only the first three features with training. Loss ½·mean (xᵀw − y)² from
w₀ = 0, full batch. Their result: gradient descent and heavy ball converge to the minimum-norm
solution and classify every test point correctly; Adagrad, RMSProp and Adam converge to a
multiple of sign(Xᵀy), which predicts +1 everywhere (test error = the fraction of negatives).
"""

from __future__ import annotations

import numpy as np

from .base import Data, Problem


def wilson_data(n_train: int = 100, n_val: int = 20, n_test: int = 200, p: float = 0.6, seed: int = 0):
    """(X, y, split sizes): the construction above, rows in train / val / test order."""
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    y = np.where(rng.random(n) < p, 1.0, -1.0)
    uniq = np.where(y > 0, 1, 5)
    X = np.zeros((n, 3 + int(uniq.sum())))
    X[:, 0] = y
    X[:, 1] = X[:, 2] = 1.0
    col = 3
    for i in range(n):
        X[i, col : col + uniq[i]] = 1.0
        col += uniq[i]
    return X, y, (n_train, n_val, n_test)


class Wilson(Problem):
    name = "wilson"
    title = "Wilson et al. 2017 least-squares counterexample"
    source = "Wilson et al. 2017 (arXiv:1705.08292) Sec. 3.3"
    batch_size = 100  # full batch
    steps = 300
    metric = "err"
    target = 0.05
    dtype = "float64"
    p = 0.6

    def make_data(self):
        import torch

        X, y, (a, b, c) = wilson_data(p=self.p)
        X = torch.as_tensor(X, dtype=self.torch_dtype())
        y = torch.as_tensor(y, dtype=self.torch_dtype())
        return Data(
            X[:a],
            y[:a],
            X[a : a + b],
            y[a : a + b],
            X[a + b :],
            y[a + b :],
            {"p": self.p, "d": X.shape[1], "negatives_in_test": float((y[a + b :] < 0).double().mean())},
        )

    def model(self, seed):
        from torch import nn

        d = self.data().x_train.shape[1]
        m = nn.Linear(d, 1, bias=False).to(self.torch_dtype())
        nn.init.zeros_(m.weight)
        return m

    def criterion(self, out, y):
        return 0.5 * ((out[..., 0] - y) ** 2).mean()

    def error(self, out, y):
        return (out[..., 0].sign() != y).to(out.dtype).mean()
