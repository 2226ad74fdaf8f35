"""The models ``ravine train`` trains: multinomial logistic regression, an MLP and the
MNIST-1D paper's 1-D CNN. :data:`MODELS` names them (with a one-line description each) and
:func:`make_model` builds one from torch's global RNG, which :func:`ravine.train.train` seeds
inside a fork so that no global state is left changed.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MODELS", "make_model"]

MODELS = {
    "logreg": "multinomial logistic regression (one linear layer)",
    "mlp": "multilayer perceptron: depth hidden layers of width ReLU units",
    "cnn": "1-D CNN: 3 conv layers (width channels, stride 2) + linear (MNIST-1D paper's)",
}


class _CNN1d(nn.Module):
    """The MNIST-1D paper's ConvBase: 3 × (conv stride 2, ReLU), then a linear layer."""

    def __init__(self, length: int, channels: int, n_classes: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        out_len = length
        for k in (5, 3, 3):
            out_len = (out_len + 2 - k) // 2 + 1
        self.linear = nn.Linear(channels * out_len, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x.unsqueeze(1))
        return self.linear(h.flatten(1))


def make_model(model: str, n_features: int, n_classes: int, width: int = 128, depth: int = 1) -> nn.Module:
    """``logreg``, ``mlp`` (``depth`` hidden layers of ``width``) or ``cnn`` (``width``
    channels). Initialised from torch's global RNG (``train`` seeds it in a fork)."""
    if model == "logreg":
        return nn.Linear(n_features, n_classes)
    if model == "mlp":
        layers: list[nn.Module] = []
        d = n_features
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, n_classes))
        return nn.Sequential(*layers)
    if model == "cnn":
        return _CNN1d(n_features, width, n_classes)
    raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
