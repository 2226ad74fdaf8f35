"""The models ``ravine train`` trains: multinomial logistic regression, an MLP and the
MNIST-1D paper's 1-D CNN. :data:`MODELS` names them (with a one-line description each) and
:func:`make_model` builds one from torch's global RNG, which :func:`ravine.train.train` seeds
inside a fork so that no global state is left changed.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks

__all__ = ["MODELS", "make_model", "count_params", "estimate_bytes"]

MODELS = {
    "logreg": "multinomial logistic regression (one linear layer)",
    "mlp": "multilayer perceptron: depth hidden layers of width ReLU units",
    "cnn": "1-D CNN: 3 conv layers (width channels, stride 2) + linear (MNIST-1D paper's)",
}


def _cnn_lengths(length: int) -> list[int]:
    """The signal's length after each of the CNN's three convolutions (kernels 5, 3, 3; stride 2; padding 1)."""
    out = []
    for k in (5, 3, 3):
        length = (length + 2 - k) // 2 + 1
        out.append(length)
    return out


def count_params(model: str, n_features: int, n_classes: int, width: int = 128, depth: int = 1) -> int:
    """The parameters :func:`make_model` would build, counted without building anything."""
    f, c, w = n_features, n_classes, width
    if model == "logreg":
        return f * c + c
    if model == "mlp":
        return (f * w + w) + (depth - 1) * (w * w + w) + (w * c + c)
    if model == "cnn":
        return (5 * w + w) + 2 * (3 * w * w + w) + (w * _cnn_lengths(f)[-1] * c + c)
    raise _checks.UnknownChoice(f"model must be one of {', '.join(MODELS)}; got {model!r}", model, MODELS)


#: tensors of the parameters' size a run holds: the weights, their gradients and up to three
#: optimizer states (AMSGrad's m, v and max v; ravine.optim keeps weights and gradients in flat
#: buffers the parameters are views of, so they are not counted twice)
PARAM_COPIES = 5


def estimate_bytes(
    model: str, n_features: int, n_classes: int, width: int, depth: int, rows: int, itemsize: int
) -> tuple[int, int]:
    """(bytes of the parameter-sized tensors, bytes of the activations) of a run, before anything
    is built::

        parameters   P · itemsize · PARAM_COPIES        (weights, gradients, optimizer state)
        activations  2 · rows · U · itemsize            (each layer's output and its gradient)

    with P from :func:`count_params`, ``rows`` the largest batch one forward pass sees (the
    training batch, or the validation or test split evaluated at once) and U the units one
    sample occupies across the layers: features + 2 · width · depth + classes for the MLP (a
    linear layer's output and its ReLU's), features + 2 · width · Σ lengths + classes for the
    CNN, features + classes for logistic regression."""
    p = count_params(model, n_features, n_classes, width, depth)
    if model == "mlp":
        units = n_features + 2 * width * depth + n_classes
    elif model == "cnn":
        units = n_features + 2 * width * sum(_cnn_lengths(n_features)) + n_classes
    else:
        units = n_features + n_classes
    return p * itemsize * PARAM_COPIES, 2 * rows * units * itemsize


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
        out_len = _cnn_lengths(length)[-1]
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
    raise _checks.UnknownChoice(f"model must be one of {', '.join(MODELS)}; got {model!r}", model, MODELS)
