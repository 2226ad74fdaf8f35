"""Shared helpers of the problems built on ``ravine.train.data`` and ``ravine.train.make_model``."""

from __future__ import annotations

from .base import Data

#: what ``ravine.train.data.load`` imports (the digits set, the stratified split): 1-2 s
PRELOAD = ("sklearn.datasets", "sklearn.model_selection")


def real_data(problem: str, dtype, samples: int | None = None) -> Data:
    """``ravine.train.data.load`` (validation carved from the training data, stratified; test as
    the problem's default split) as tensors of ``dtype``."""
    import torch

    from ...train import data as _data

    ds = _data.load(problem, val_fraction=0.1, data_seed=0, samples=samples)

    def t(a):
        return torch.as_tensor(a, dtype=dtype)

    return Data(
        t(ds.x_train),
        torch.as_tensor(ds.y_train),
        t(ds.x_val),
        torch.as_tensor(ds.y_val),
        t(ds.x_test),
        torch.as_tensor(ds.y_test),
        dict(ds.info, sizes=ds.sizes()),
    )


def real_model(kind: str, n_features: int, seed: int, dtype, width: int = 0, depth: int = 1):
    """``ravine.train.make_model`` initialised from ``seed`` without touching global RNG state."""
    import torch

    from ...train import make_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_model(kind, n_features, 10, width, depth).to(dtype)
