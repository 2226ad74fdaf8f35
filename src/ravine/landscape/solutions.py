"""Solutions to look at: models trained by :func:`ravine.train.train` from one initialization.

``train`` seeds torch in a fork with ``config.seed`` and calls ``make_model``; so every
optimizer run with the same ``seed`` starts from the same θ₀, and :func:`initial_model`
rebuilds that θ₀ (for the path from initialization). :func:`splits` loads the same split
``train`` uses, as tensors of the run's dtype.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..train import Result, TrainConfig, make_model, train
from ..train import data as _data

__all__ = ["Solution", "initial_model", "splits", "train_solutions", "eager"]


@dataclass
class Solution:
    """A trained model with its run record and a label."""

    label: str
    model: nn.Module
    result: Result


def _dtype(cfg: TrainConfig) -> torch.dtype:
    return torch.float64 if cfg.dtype == "float64" else torch.float32


def splits(
    config: TrainConfig, names: tuple[str, ...] = ("train", "test")
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{name: (x, y)} tensors of the split(s) ``train(config)`` trains and tests on."""
    c = config.resolved()
    ds = _data.load(
        c.problem,
        val_fraction=c.val_fraction,
        test_fraction=c.test_fraction,
        data_seed=c.data_seed,
        samples=c.samples,
        data_dir=c.data_dir,
    )
    out = {}
    for n in names:
        if n not in ("train", "val", "test"):
            raise ValueError(f"names: split must be train, val or test, got {n!r}")
        out[n] = (torch.as_tensor(getattr(ds, f"x_{n}"), dtype=_dtype(c)), torch.as_tensor(getattr(ds, f"y_{n}")))
    return out


def initial_model(config: TrainConfig) -> nn.Module:
    """θ₀ of ``train(config)``: ``make_model`` under ``torch.manual_seed(config.seed)`` in a fork."""
    c = config.resolved()
    ds = _data.load(
        c.problem,
        val_fraction=c.val_fraction,
        test_fraction=c.test_fraction,
        data_seed=c.data_seed,
        samples=c.samples,
        data_dir=c.data_dir,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(c.seed)
        return make_model(c.model, ds.n_features, ds.n_classes, c.width, c.depth).to(_dtype(c))


def eager(cfg: TrainConfig) -> TrainConfig:
    """ravine.optim optimizers run eagerly unless ``impl`` is given: these small models gain
    nothing from ``torch.compile``, whose compilation would dominate a short run; torch.optim
    ones have no ``impl``."""
    args = dict(cfg.optimizer_args)
    if cfg.optimizer.strip().lower().startswith("torch"):
        args.pop("impl", None)
    else:
        args.setdefault("impl", "eager")
    return dataclasses.replace(cfg, optimizer_args=args)


def train_solutions(config: TrainConfig, runs: Mapping[str, Mapping[str, Any]]) -> list[Solution]:
    """Train ``config`` once per entry of ``runs`` ({label: TrainConfig field overrides, e.g.
    {"optimizer": "sgd", "lr": 0.1}}), all from the same initialization (same ``seed``).
    ravine optimizers get ``impl="eager"`` unless the run sets it."""
    if not runs:
        raise ValueError("runs: need at least one run, got none")
    out = []
    for label, over in runs.items():
        if "seed" in over:
            raise ValueError(f"runs[{label!r}]: seed must not differ between runs (one initialization)")
        res = train(eager(dataclasses.replace(config, **dict(over))), keep_model=True)
        out.append(Solution(str(label), res.module, res))
    return out
