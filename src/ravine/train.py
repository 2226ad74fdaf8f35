"""Train small models on real data with any ravine or torch optimizer: ``ravine train``.

Python API::

    from ravine.train import TrainConfig, train
    res = train(TrainConfig(problem="digits", model="mlp", optimizer="adam", seed=0))
    res.test_acc, res.metric("val_acc"), res.to_dict()
    res.save("out/train")            # <hash>.json and <hash>.csv

:func:`train` is a pure function of its config: no global state is read or left changed
(torch's global RNG is forked around model initialisation, shuffling uses its own
``torch.Generator``), so the same config gives the same numbers on the same machine and many
runs can be made in one process. A :class:`Result` is plain data (``to_dict`` / ``from_dict``)
keyed by :attr:`Result.config_hash`, the SHA-256 of the resolved config.

Names
-----
``optimizer``: ``"adam"`` (or ``"ravine.adam"``, ``"ravine:Adam"``) is ``ravine.optim.Adam``;
``"torch.adam"`` (or ``"torch:Adam"``, ``"torch.optim.Adam"``) is ``torch.optim.Adam``. Names
are case-insensitive; ``_`` and ``-`` are ignored (``rmsprop_nesterov`` → ``RMSpropNesterov``).

``schedule`` (learning rate): a ravine schedule (``ravine.schedules``), written
``"name"`` or ``"name:key=value,..."`` (values are Python literals), e.g. ``"cosine"``,
``"step:step_size=10,gamma=0.5"``, ``"warmup_cosine:warmup_steps=100"``; ``init`` defaults to the
learning rate and lengths (``total_steps``, ``steps``) to the whole run. It sets
``group["lr"] = sched(t)`` before update ``t`` (``schedule_interval="step"``) or before each
epoch (``"epoch"``). ``"torch.cosine"`` / ``"torch:CosineAnnealingLR"`` use torch's
``lr_scheduler`` classes (short names: cosine, step, multistep, exponential, linear,
constant, polynomial, onecycle, plateau), stepped at the same interval. A
:class:`ravine.schedules.Schedule` object may also be passed in the Python API.
"""
from __future__ import annotations

import ast
import csv
import dataclasses
import hashlib
import importlib
import inspect
import io
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import click
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import __version__ as _ravine_version
from . import data as _data
from . import schedules as _schedules

__all__ = ["TrainConfig", "Result", "History", "train", "validate", "make_optimizer",
           "resolve_optimizer", "make_model", "make_schedule", "parse_kwargs", "versions",
           "PROBLEMS", "MODELS", "DEFAULTS", "SCHEMA", "command"]

SCHEMA = "ravine.train/1"
PROBLEMS = tuple(_data.PROBLEMS)
MODELS = {
    "logreg": "multinomial logistic regression (one linear layer)",
    "mlp": "multilayer perceptron: depth hidden layers of width ReLU units",
    "cnn": "1-D CNN: 3 conv layers (width channels, stride 2) + linear (MNIST-1D paper's)",
}

#: Defaults filled in by :meth:`TrainConfig.resolved` where a field is None:
#: (problem, model) → epochs, batch size, width. Chosen so that Adam at its default
#: learning rate reaches > 95 % (digits, MLP) and > 85 % (MNIST-1D, CNN) test accuracy.
DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("digits", "logreg"): {"epochs": 30, "batch_size": 32, "width": 0},
    ("digits", "mlp"): {"epochs": 30, "batch_size": 32, "width": 128},
    ("digits", "cnn"): {"epochs": 30, "batch_size": 32, "width": 32},
    ("mnist1d", "logreg"): {"epochs": 40, "batch_size": 64, "width": 0},
    ("mnist1d", "mlp"): {"epochs": 60, "batch_size": 64, "width": 256},
    ("mnist1d", "cnn"): {"epochs": 40, "batch_size": 32, "width": 128},
}

#: config fields that change no number (left out of the config hash)
_NOT_HASHED = ("data_dir", "threads")


# =========================================================================== config


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. ``None`` means "the default" (see
    :data:`DEFAULTS`; ``lr=None`` is the optimizer's own default learning rate;
    ``test_fraction=None`` is the problem's default test set, see :mod:`ravine.data`)."""

    problem: str = "digits"
    model: str = "mlp"
    optimizer: str = "adam"
    lr: float | None = None
    optimizer_args: Mapping[str, Any] = field(default_factory=dict)
    schedule: Any = None  # str spec, a ravine Schedule, or None
    schedule_interval: str = "step"
    epochs: int | None = None
    batch_size: int | str | None = None  # int ≥ 1 or "full"
    seed: int = 0
    data_seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float | None = None
    samples: int | None = None
    width: int | None = None
    depth: int = 1
    dtype: str = "float32"
    data_dir: str | None = None
    threads: int | None = 1  # torch CPU threads during the run (None: leave as is)

    def resolved(self) -> "TrainConfig":
        """A validated copy with the defaults filled in (what is hashed and recorded)."""
        return _resolve(self)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["optimizer_args"] = {k: _jsonable(v) for k, v in dict(self.optimizer_args).items()}
        d["schedule"] = _schedule_str(self.schedule)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"TrainConfig: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**dict(d))

    def hash(self) -> str:
        """SHA-256 (hex) of the resolved config, without the fields that change no number."""
        d = self.resolved().to_dict()
        for k in _NOT_HASHED:
            d.pop(k, None)
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(blob.encode()).hexdigest()


def _schedule_str(s: Any) -> Any:
    if s is None or isinstance(s, str):
        return s
    return repr(s)


def _jsonable(v: Any) -> Any:
    """A JSON-friendly copy of a hyperparameter value (tuples → lists, tensors → numbers,
    anything else that JSON cannot hold → its repr)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else repr(f)
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return _jsonable(v.item())
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, torch.dtype):
        return str(v)
    return repr(v)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _resolve(c: TrainConfig) -> TrainConfig:
    def bad(name: str, what: str, value: Any) -> ValueError:
        return ValueError(f"{name} must be {what}, got {value!r}")

    if not isinstance(c.problem, str) or c.problem.strip().lower() not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}; got {c.problem!r}")
    problem = c.problem.strip().lower()
    if not isinstance(c.model, str) or c.model.strip().lower() not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {c.model!r}")
    model = c.model.strip().lower()
    if not isinstance(c.optimizer, str) or not c.optimizer.strip():
        raise bad("optimizer", "a name such as 'adam' or 'torch.adam'", c.optimizer)
    resolve_optimizer(c.optimizer)  # unknown / unavailable names fail here
    if c.lr is not None and (isinstance(c.lr, bool) or not isinstance(c.lr, (int, float, np.number))
                             or not math.isfinite(float(c.lr)) or float(c.lr) <= 0):
        raise bad("lr", "a positive finite number (or None for the optimizer's default)", c.lr)
    if not isinstance(c.optimizer_args, Mapping) or not all(isinstance(k, str) for k in c.optimizer_args):
        raise bad("optimizer_args", "a mapping of keyword names to values", c.optimizer_args)
    if "params" in c.optimizer_args:
        raise ValueError("optimizer_args must not contain 'params'")
    if c.lr is not None and "lr" in c.optimizer_args:
        raise ValueError("lr is given twice: as lr and in optimizer_args")
    if c.schedule is not None and not isinstance(c.schedule, (str, _schedules.Schedule)):
        raise bad("schedule", "a schedule name, a ravine Schedule or None", c.schedule)
    if isinstance(c.schedule, str):
        _parse_schedule_spec(c.schedule)
    if c.schedule_interval not in ("step", "epoch"):
        raise bad("schedule_interval", "'step' or 'epoch'", c.schedule_interval)
    d = DEFAULTS[(problem, model)]
    epochs = d["epochs"] if c.epochs is None else c.epochs
    if not _is_int(epochs) or epochs < 1:
        raise bad("epochs", "a positive integer", c.epochs)
    bs = d["batch_size"] if c.batch_size is None else c.batch_size
    if isinstance(bs, str):
        if bs.strip().lower() == "full":
            bs = "full"
        else:
            try:
                bs = int(bs)
            except ValueError:
                raise bad("batch_size", "a positive integer or 'full'", c.batch_size) from None
    if bs != "full" and (not _is_int(bs) or bs < 1):
        raise bad("batch_size", "a positive integer or 'full'", c.batch_size)
    for name in ("seed", "data_seed"):
        v = getattr(c, name)
        if not _is_int(v) or v < 0:
            raise bad(name, "an integer ≥ 0", v)
    for name in ("val_fraction", "test_fraction"):
        v = getattr(c, name)
        if v is None and name == "test_fraction":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) \
                or not math.isfinite(float(v)) or not 0 <= float(v) < 1:
            raise bad(name, "a number in [0, 1)", v)
    tf = 0.2 if c.test_fraction is None else float(c.test_fraction)
    if float(c.val_fraction) + tf >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got "
                         f"{float(c.val_fraction):g} + {tf:g}")
    if c.samples is not None and (not _is_int(c.samples) or c.samples < 50):
        raise bad("samples", "an integer ≥ 50 (or None for the whole data set)", c.samples)
    width = d["width"] if c.width is None else c.width
    if model != "logreg" and (not _is_int(width) or width < 1):
        raise bad("width", "a positive integer", c.width)
    if not _is_int(c.depth) or c.depth < 1:
        raise bad("depth", "a positive integer", c.depth)
    if c.dtype not in ("float32", "float64"):
        raise bad("dtype", "'float32' or 'float64'", c.dtype)
    if c.threads is not None and (not _is_int(c.threads) or c.threads < 1):
        raise bad("threads", "a positive integer", c.threads)
    return dataclasses.replace(
        c, problem=problem, model=model, epochs=int(epochs),
        batch_size=bs if bs == "full" else int(bs), width=int(width) if model != "logreg" else 0,
        lr=None if c.lr is None else float(c.lr), optimizer_args=dict(c.optimizer_args),
        val_fraction=float(c.val_fraction),
        test_fraction=None if c.test_fraction is None else float(c.test_fraction),
        depth=int(c.depth), seed=int(c.seed), data_seed=int(c.data_seed))


def validate(config: TrainConfig) -> TrainConfig:
    """Check a config without training; return it resolved. One-line ValueError on bad input."""
    return _resolve(config)


# =========================================================================== parsing


def parse_kwargs(text: str, *, what: str = "arguments") -> dict[str, Any]:
    """``"a=1,betas=(0.9,0.99),nesterov=True"`` → a dict (values are Python literals; a bare
    word that is not a literal is kept as a string)."""
    text = text.strip()
    if not text:
        return {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise ValueError(f"{what}: cannot parse {text!r}; write key=value,key=value") from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise ValueError(f"{what}: cannot parse {text!r}; write key=value,key=value")
    out = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            if isinstance(kw.value, ast.Name):
                out[kw.arg] = kw.value.id
            else:
                raise ValueError(f"{what}: {kw.arg}= is not a literal in {text!r}") from None
    return out


# =========================================================================== optimizers


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def _split_source(name: str) -> tuple[str, str]:
    s = name.strip()
    low = s.lower()
    for prefix, source in (("torch.optim.", "torch"), ("torch.", "torch"), ("torch:", "torch"),
                           ("ravine.optim.", "ravine"), ("ravine.", "ravine"), ("ravine:", "ravine")):
        if low.startswith(prefix):
            return source, s[len(prefix):]
    return "ravine", s


def _torch_optimizers() -> dict[str, type]:
    out = {}
    for n, obj in vars(torch.optim).items():
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            out[_norm(n)] = obj
    return out


def _ravine_optimizers() -> tuple[dict[str, type], str | None]:
    """(normalized name → class in ravine.optim, why ravine.optim is unavailable or None)."""
    try:
        mod = importlib.import_module("ravine.optim")
    except Exception as exc:  # not written yet, or broken
        return {}, f"ravine.optim does not import ({type(exc).__name__}: {exc})"
    out = {}
    for n in dir(mod):
        obj = getattr(mod, n)
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            out[_norm(n)] = obj
    return out, None


def resolve_optimizer(name: str) -> type:
    """The optimizer class a name stands for (see the module docstring); a one-line
    ValueError for an unknown name or a ravine class that ``ravine.optim`` lacks."""
    from .rules import ALIASES, RULES

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"optimizer must be a name such as 'adam' or 'torch.adam', got {name!r}")
    source, rest = _split_source(name)
    if source == "torch":
        table = _torch_optimizers()
        cls = table.get(_norm(rest))
        if cls is None:
            raise ValueError(f"optimizer: torch.optim has no optimizer {rest!r}; choose one of: "
                             f"{', '.join(sorted(c.__name__ for c in table.values()))}")
        return cls
    snake = rest.strip().lower().replace("-", "_")
    snake = ALIASES.get(snake, snake)
    key = _norm(snake)
    table, why = _ravine_optimizers()
    if key in table:
        return table[key]
    known = {_norm(r): r for r in RULES}
    known.update({_norm(k): v for k, v in ALIASES.items()})
    if key in known or key in table:
        torch_alt = _torch_optimizers().get(key)
        alt = f"; use 'torch.{rest.strip().lower()}' for torch.optim.{torch_alt.__name__}" if torch_alt else ""
        reason = why or "ravine.optim has no optimizer for it"
        raise ValueError(f"optimizer: ravine optimizer {rest!r} is not available ({reason}){alt}")
    names = sorted(set(RULES) | {c.__name__ for c in table.values()})
    raise ValueError(f"optimizer: unknown name {name!r}; choose a ravine rule ({', '.join(names)}) "
                     f"or 'torch.<name>' for a torch.optim optimizer")


def make_optimizer(name: str, params, lr: float | None = None, **kwargs) -> torch.optim.Optimizer:
    """Build the optimizer ``name`` (see :func:`resolve_optimizer`) over ``params``."""
    cls = resolve_optimizer(name)
    if lr is not None:
        kwargs["lr"] = lr
    try:
        return cls(params, **kwargs)
    except TypeError as exc:
        raise ValueError(f"optimizer_args: {cls.__name__} refused {sorted(kwargs)} "
                         f"({str(exc).splitlines()[0]})") from None


def _hyper(group: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in group.items() if k != "params"}


# =========================================================================== schedules

_TORCH_SCHEDULERS = {
    "cosine": "CosineAnnealingLR", "step": "StepLR", "multistep": "MultiStepLR",
    "exponential": "ExponentialLR", "linear": "LinearLR", "constant": "ConstantLR",
    "polynomial": "PolynomialLR", "onecycle": "OneCycleLR", "plateau": "ReduceLROnPlateau",
    "cosinewarmrestarts": "CosineAnnealingWarmRestarts", "cyclic": "CyclicLR",
}
_RAVINE_SCHEDULES = ("constant", "piecewise_constant", "exponential", "polynomial", "step",
                     "cosine", "linear", "warmup_cosine")


def _parse_schedule_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``"torch.cosine:eta_min=0.001"`` → ("torch", "CosineAnnealingLR", {...})."""
    source, rest = _split_source(spec)
    name, _, args = rest.partition(":")
    kwargs = parse_kwargs(args, what="schedule")
    if source == "torch":
        from torch.optim import lr_scheduler

        key = _norm(name)
        cls_name = _TORCH_SCHEDULERS.get(key)
        if cls_name is None:
            for n in dir(lr_scheduler):
                if _norm(n) == key and inspect.isclass(getattr(lr_scheduler, n)):
                    cls_name = n
        if cls_name is None:
            raise ValueError(f"schedule: unknown torch scheduler {name!r}; short names: "
                             f"{', '.join(_TORCH_SCHEDULERS)} or a torch.optim.lr_scheduler class")
        return "torch", cls_name, kwargs
    key = name.strip().lower().replace("-", "_")
    if key not in _RAVINE_SCHEDULES:
        raise ValueError(f"schedule: unknown name {name!r}; choose one of: {', '.join(_RAVINE_SCHEDULES)} "
                         f"or 'torch.<name>' for torch's lr_scheduler")
    return "ravine", key, kwargs


def make_schedule(spec: Any, lr: float, total: int, optimizer: torch.optim.Optimizer | None = None):
    """A ravine :class:`~ravine.schedules.Schedule` or a torch lr scheduler from ``spec``.

    ``lr`` fills ``init`` (``max_lr`` for OneCycleLR); ``total`` (the number of scheduler
    steps in the run) fills the lengths that are not given.
    """
    if spec is None or isinstance(spec, _schedules.Schedule):
        return spec
    source, name, kw = _parse_schedule_spec(spec)
    try:
        if source == "torch":
            from torch.optim import lr_scheduler

            cls = getattr(lr_scheduler, name)
            params = inspect.signature(cls).parameters
            fill = {"T_max": total, "total_iters": total, "total_steps": total,
                    "step_size": max(1, total // 3), "max_lr": lr}
            for k, v in fill.items():
                if k in params and k not in kw and (k != "total_iters" or name == "PolynomialLR"):
                    kw[k] = v
            if optimizer is None:
                raise ValueError("schedule: a torch scheduler needs the optimizer")
            obj = cls(optimizer, **kw)
            obj._ravine_kwargs = {k: _jsonable(v) for k, v in kw.items()}
            return obj
        if name == "warmup_cosine":
            w = kw.pop("warmup_steps", max(1, total // 10))
            final = kw.pop("final", 0.0)
            start = kw.pop("start", 0.0)
            init = kw.pop("init", lr)
            if kw:
                raise TypeError(f"unexpected {sorted(kw)}")
            return _schedules.warmup(_schedules.cosine(init, max(1, total - w), final), w, start)
        fn = getattr(_schedules, name)
        params = inspect.signature(fn).parameters
        fill = {"init": lr, "value": lr, "total_steps": total, "steps": total,
                "step_size": max(1, total // 3), "final": 0.0}
        for k, v in fill.items():
            if k in params and k not in kw:
                kw[k] = v
        return fn(**kw)
    except TypeError as exc:
        raise ValueError(f"schedule: {spec!r}: {str(exc).splitlines()[0]}") from None


# =========================================================================== models


class _CNN1d(nn.Module):
    """The MNIST-1D paper's ConvBase: 3 × (conv stride 2, ReLU), then a linear layer."""

    def __init__(self, length: int, channels: int, n_classes: int):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(1, channels, 5, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
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


# =========================================================================== result


def versions() -> dict[str, str]:
    """Software versions recorded with every run."""
    from importlib import metadata

    def ver(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "ravine": _ravine_version,
            "scikit-learn": ver("scikit-learn"), "mnist1d": ver("mnist1d"),
            "platform": platform.platform(), "machine": platform.machine(),
            "torch_threads": str(torch.get_num_threads())}


_EPOCH_FIELDS = ("epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
                 "time", "elapsed")


@dataclass
class Result:
    """The record of one run (plain data; ``to_dict``/``from_dict`` round-trip through JSON)."""

    config: dict[str, Any]
    config_hash: str
    optimizer: dict[str, Any]
    schedule: dict[str, Any] | None
    data: dict[str, Any]
    model: dict[str, Any]
    epochs: list[dict[str, Any]]
    test_loss: float | None
    test_acc: float | None
    diverged: bool
    wall_time: float
    versions: dict[str, Any]
    started: str = ""
    schema: str = SCHEMA
    module: Any = field(default=None, repr=False, compare=False)  # the trained nn.Module, if kept

    @property
    def run_id(self) -> str:
        """The first 16 hex digits of the config hash (the record's file name)."""
        return self.config_hash[:16]

    def metric(self, name: str) -> list[Any]:
        """One per-epoch metric as a list, e.g. ``res.metric("val_acc")``."""
        if name not in _EPOCH_FIELDS:
            raise ValueError(f"metric must be one of {', '.join(_EPOCH_FIELDS)}; got {name!r}")
        return [e.get(name) for e in self.epochs]

    @property
    def final(self) -> dict[str, Any]:
        last = self.epochs[-1] if self.epochs else {}
        vals = [e["val_acc"] for e in self.epochs if e.get("val_acc") is not None]
        return {"epochs_run": len(self.epochs), "steps": last.get("steps", 0),
                "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
                "val_acc": last.get("val_acc"), "best_val_acc": max(vals) if vals else None,
                "best_epoch": (1 + vals.index(max(vals))) if vals else None,
                "test_loss": self.test_loss, "test_acc": self.test_acc, "diverged": self.diverged,
                "wall_time": self.wall_time}

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "config_hash": self.config_hash, "run_id": self.run_id,
                "started": self.started, "config": self.config, "optimizer": self.optimizer,
                "schedule": self.schedule, "data": self.data, "model": self.model,
                "epochs": self.epochs, "final": self.final, "test_loss": self.test_loss,
                "test_acc": self.test_acc, "diverged": self.diverged,
                "wall_time": self.wall_time, "versions": self.versions}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Result":
        names = {f.name for f in dataclasses.fields(cls)} - {"module"}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Result":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_jsonable)

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per epoch: run keys, every config field (``cfg.*``), every resolved
        optimizer hyperparameter (``opt.*``), the epoch's metrics, the test metrics (on the
        last row) and the software versions (``ver.*``)."""
        head: dict[str, Any] = {"config_hash": self.config_hash, "run_id": self.run_id,
                                "optimizer_class": self.optimizer.get("class")}
        for k, v in self.config.items():
            head[f"cfg.{k}"] = json.dumps(v) if isinstance(v, (dict, list)) else v
        for k, v in self.optimizer.get("hyperparameters", {}).items():
            head[f"opt.{k}"] = json.dumps(v) if isinstance(v, (dict, list)) else v
        head["schedule"] = None if self.schedule is None else self.schedule.get("repr")
        tail = {f"ver.{k}": v for k, v in self.versions.items()}
        rows = []
        for i, e in enumerate(self.epochs):
            last = i == len(self.epochs) - 1
            row = dict(head)
            row.update({k: e.get(k) for k in _EPOCH_FIELDS})
            row["test_loss"] = self.test_loss if last else None
            row["test_acc"] = self.test_acc if last else None
            row["diverged"] = self.diverged
            row.update(tail)
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        rows = self.csv_rows()
        buf = io.StringIO()
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        return buf.getvalue()

    def save(self, out_dir: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<run_id>.json`` and ``<run_id>.csv`` into ``out_dir``; return both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pj, pc = out / f"{self.run_id}.json", out / f"{self.run_id}.csv"
        pj.write_text(self.to_json() + "\n")
        pc.write_text(self.to_csv())
        return pj, pc


History = Result


# =========================================================================== training


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float | None, float | None]:
    if len(y) == 0:
        return None, None
    with torch.no_grad():
        out = model(x)
        loss = F.cross_entropy(out, y).item()
        acc = (out.argmax(1) == y).double().mean().item()
    return (loss if math.isfinite(loss) else float("nan")), acc


def _finite_or_none(v: float | None) -> float | None:
    return v if v is None or math.isfinite(v) else None


class _threads:
    def __init__(self, n: int | None):
        self.n, self.old = n, None

    def __enter__(self):
        if self.n is not None:
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        if self.old is not None:
            torch.set_num_threads(self.old)


def train(config: TrainConfig | Mapping[str, Any] | None = None, *,
          callback: Callable[[dict[str, Any]], None] | None = None,
          keep_model: bool = False,
          step_callback: Callable[[int, nn.Module, torch.optim.Optimizer], None] | None = None,
          **overrides) -> Result:
    """Train one model; return its :class:`Result`.

    ``config`` is a :class:`TrainConfig` (or a dict of its fields); keyword ``overrides``
    replace fields. ``callback(epoch_record)`` is called after every epoch (the CLI's progress
    bar). ``step_callback(step, model, optimizer)`` is called after every update, with
    ``step`` the number of updates made so far (e.g. ``ravine.landscape.track_sharpness``).
    ``keep_model=True`` keeps the trained module in ``Result.module``.

    A non-finite training loss (or a ravine optimizer's NonFiniteGradientError) ends the run
    with ``diverged=True``; its metrics are recorded up to that epoch.
    """
    if config is None:
        config = TrainConfig()
    elif isinstance(config, Mapping):
        config = TrainConfig.from_dict(config)
    if overrides:
        config = dataclasses.replace(config, **overrides)
    cfg = config.resolved()
    chash = config.hash()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.perf_counter()
    with _threads(cfg.threads):
        res = _train(cfg, chash, callback, keep_model, t_start, step_callback)
    res.started = started
    return res


def _train(cfg: TrainConfig, chash: str, callback, keep_model: bool, t_start: float,
           step_callback=None) -> Result:
    ds = _data.load(cfg.problem, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                    data_seed=cfg.data_seed, samples=cfg.samples, data_dir=cfg.data_dir)
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    Xtr, Ytr = torch.as_tensor(ds.x_train, dtype=dtype), torch.as_tensor(ds.y_train)
    Xva, Yva = torch.as_tensor(ds.x_val, dtype=dtype), torch.as_tensor(ds.y_val)
    Xte, Yte = torch.as_tensor(ds.x_test, dtype=dtype), torch.as_tensor(ds.y_test)
    n = len(Ytr)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = make_model(cfg.model, ds.n_features, ds.n_classes, cfg.width, cfg.depth).to(dtype)
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)

    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, **dict(cfg.optimizer_args))
    base_lr = float(opt.param_groups[0]["lr"]) if "lr" in opt.param_groups[0] else (cfg.lr or 0.0)
    hyper0 = _hyper(opt.param_groups[0])  # before any schedule touches lr

    b = n if cfg.batch_size == "full" else min(int(cfg.batch_size), n)
    steps_per_epoch = math.ceil(n / b)
    total = cfg.epochs * (steps_per_epoch if cfg.schedule_interval == "step" else 1)
    sched = make_schedule(cfg.schedule, base_lr, total, opt)
    ravine_sched = isinstance(sched, _schedules.Schedule)
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and cfg.schedule_interval != "epoch":
        raise ValueError("schedule: ReduceLROnPlateau needs schedule_interval='epoch'")
    needs_closure = type(opt).__name__ == "LBFGS"

    def set_lr(t: int) -> None:
        v = sched(t)
        for g in opt.param_groups:
            g["lr"] = v

    epochs: list[dict[str, Any]] = []
    diverged = False
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        if ravine_sched and cfg.schedule_interval == "epoch":
            set_lr(epoch - 1)
        perm = torch.randperm(n, generator=shuffle_gen) if b < n else None
        loss_sum, correct, seen = 0.0, 0, 0
        for k in range(steps_per_epoch):
            idx = perm[k * b:(k + 1) * b] if perm is not None else slice(None)
            xb, yb = Xtr[idx], Ytr[idx]
            if ravine_sched and cfg.schedule_interval == "step":
                set_lr(step)

            def closure():
                opt.zero_grad(set_to_none=True)
                out = model(xb)
                loss = F.cross_entropy(out, yb)
                loss.backward()
                return loss

            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            lv = loss.item()
            if not math.isfinite(lv):
                diverged = True
                break
            loss.backward()
            try:
                opt.step(closure) if needs_closure else opt.step()
            except FloatingPointError:  # ravine's NonFiniteGradientError
                diverged = True
                break
            step += 1
            if sched is not None and not ravine_sched and cfg.schedule_interval == "step":
                sched.step()
            if step_callback is not None:
                step_callback(step, model, opt)
            loss_sum += lv * len(yb)
            correct += int((out.argmax(1) == yb).sum())
            seen += len(yb)
        model.eval()
        seen = max(seen, 1)
        val_loss, val_acc = _evaluate(model, Xva, Yva)
        if val_loss is not None and not math.isfinite(val_loss):
            diverged = True
        rec = {"epoch": epoch, "steps": step, "lr": float(opt.param_groups[0].get("lr", float("nan"))),
               "train_loss": _finite_or_none(loss_sum / seen) if not diverged else None,
               "train_acc": correct / seen if not diverged else None,
               "val_loss": _finite_or_none(val_loss), "val_acc": val_acc if not diverged else None,
               "time": time.perf_counter() - t0, "elapsed": time.perf_counter() - t_start}
        epochs.append(rec)
        if callback is not None:
            callback(dict(rec))
        if diverged:
            break
        if sched is not None and not ravine_sched and cfg.schedule_interval == "epoch":
            if plateau:
                sched.step(val_loss if val_loss is not None else rec["train_loss"])
            else:
                sched.step()

    test_loss, test_acc = _evaluate(model, Xte, Yte)
    if diverged:
        test_loss, test_acc = None, None

    opt_rec = {"name": cfg.optimizer, "class": f"{type(opt).__module__}.{type(opt).__qualname__}",
               "defaults": {k: _jsonable(v) for k, v in opt.defaults.items()},
               "hyperparameters": hyper0}
    sched_rec = None
    if sched is not None:
        sched_rec = {"spec": _schedule_str(cfg.schedule), "interval": cfg.schedule_interval,
                     "total": total, "kind": "ravine" if ravine_sched else "torch",
                     "repr": repr(sched) if ravine_sched else
                     f"torch.optim.lr_scheduler.{type(sched).__name__}("
                     + ", ".join(f"{k}={v!r}" for k, v in sorted(getattr(sched, "_ravine_kwargs", {}).items()))
                     + ")"}
    model_rec = {"name": cfg.model, "width": cfg.width, "depth": cfg.depth, "dtype": cfg.dtype,
                 "n_params": sum(p.numel() for p in model.parameters()),
                 "repr": repr(model)}
    data_rec = dict(ds.info, sizes=ds.sizes(), n_features=ds.n_features, n_classes=ds.n_classes,
                    batch_size=b, steps_per_epoch=steps_per_epoch)
    return Result(config=cfg.to_dict(), config_hash=chash, optimizer=opt_rec, schedule=sched_rec,
                  data=data_rec, model=model_rec, epochs=epochs, test_loss=_finite_or_none(test_loss),
                  test_acc=test_acc, diverged=diverged, wall_time=time.perf_counter() - t_start,
                  versions=versions(), module=model if keep_model else None)


# =========================================================================== CLI


class _BatchSize(click.ParamType):
    name = "INT|full"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        elif isinstance(value, str) and value.strip().lower() == "full":
            return "full"
        else:
            try:
                v = int(str(value))
            except ValueError:
                self.fail(f"must be a positive integer or 'full', got {value!r}", param, ctx)
        if v < 1:
            self.fail(f"must be a positive integer or 'full', got {value!r}", param, ctx)
        return v


def _progress(quiet: bool, epochs: int, label: str):
    """(callback, context manager) for per-epoch progress: a rich bar on a terminal, a
    plain line every few epochs otherwise, nothing when quiet."""
    import contextlib

    if quiet:
        return None, contextlib.nullcontext()
    from rich.console import Console

    console = Console(stderr=True)

    def fmt(r):
        s = f"loss {r['train_loss']:.4f}" if r["train_loss"] is not None else "loss nan"
        if r["val_acc"] is not None:
            s += f"  val {100 * r['val_acc']:.1f}%"
        return s

    if not console.is_terminal:
        every = max(1, epochs // 10)

        def cb(r):
            if r["epoch"] % every == 0 or r["epoch"] == epochs or r["train_loss"] is None:
                click.echo(f"epoch {r['epoch']:>4}/{epochs}  {fmt(r)}  ({r['elapsed']:.1f} s)", err=True)
        return cb, contextlib.nullcontext()

    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("epochs"), TimeElapsedColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=console)
    task = prog.add_task(label, total=epochs, info="")

    def cb(r):
        prog.update(task, advance=1, info=fmt(r))
    return cb, prog


@click.command(name="train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--problem", default="digits", show_default=True,
              help=f"Data set: {', '.join(PROBLEMS)}.")
@click.option("--model", default="mlp", show_default=True, help=f"Model: {', '.join(MODELS)}.")
@click.option("--optimizer", "-o", default="adam", show_default=True,
              help="ravine.optim name (adam, sgd, yogi, …) or torch.<name> (torch.adam).")
@click.option("--lr", type=float, default=None, help="Learning rate [default: the optimizer's].")
@click.option("--opt", "opt_args", multiple=True, metavar="KEY=VALUE",
              help="Optimizer keyword, repeatable: --opt betas=(0.9,0.99) --opt weight_decay=1e-4.")
@click.option("--schedule", default=None,
              help="LR schedule: cosine, step:step_size=10,gamma=0.5, warmup_cosine, … or torch.<name>.")
@click.option("--schedule-interval", type=click.Choice(["step", "epoch"]), default="step",
              show_default=True, help="Apply the schedule per update step or per epoch.")
@click.option("--epochs", type=int, default=None, help="Epochs [default: per problem/model].")
@click.option("--batch-size", "-b", type=_BatchSize(), default=None,
              help="Minibatch size, 1 (SGD) … or 'full' (GD) [default: per problem/model].")
@click.option("--seed", type=int, default=0, show_default=True, help="Initialisation and shuffling seed.")
@click.option("--data-seed", type=int, default=0, show_default=True, help="Train/val/test split seed.")
@click.option("--val-fraction", type=float, default=0.1, show_default=True)
@click.option("--test-fraction", type=float, default=None,
              help="[default: digits 0.2 stratified; mnist1d the package's 1000-sample test split]")
@click.option("--samples", type=int, default=None, help="Use a smaller data set of this many samples.")
@click.option("--width", type=int, default=None, help="Hidden units (mlp) / channels (cnn).")
@click.option("--depth", type=int, default=1, show_default=True, help="Hidden layers of the MLP.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch CPU threads for this run (these models are fastest on one).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data cache [default: $RAVINE_DATA_DIR or ~/.cache/ravine/data].")
@click.option("--out", type=click.Path(file_okay=False), default="out/train", show_default=True,
              help="Where <run_id>.json and <run_id>.csv are written.")
@click.option("--no-save", is_flag=True, help="Write no record.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def command(problem, model, optimizer, lr, opt_args, schedule, schedule_interval, epochs, batch_size,
            seed, data_seed, val_fraction, test_fraction, samples, width, depth, dtype, threads,
            data_dir, out, no_save, as_json, quiet):
    """Train a model on real data with any ravine or torch optimizer.

    \b
    Examples:
      ravine train --problem digits --optimizer adam
      ravine train --problem mnist1d --model cnn --optimizer adam
      ravine train -o torch.sgd --lr 0.1 --opt momentum=0.9 --schedule cosine
      ravine train -o sgd --lr 0.5 --batch-size full --epochs 200    # gradient descent
    """
    try:
        kw: dict[str, Any] = {}
        for item in opt_args:
            kw.update(parse_kwargs(item, what="--opt"))
        cfg = TrainConfig(problem=problem, model=model, optimizer=optimizer, lr=lr,
                          optimizer_args=kw, schedule=schedule, schedule_interval=schedule_interval,
                          epochs=epochs, batch_size=batch_size, seed=seed, data_seed=data_seed,
                          val_fraction=val_fraction, test_fraction=test_fraction, samples=samples,
                          width=width, depth=depth, dtype=dtype, threads=threads, data_dir=data_dir)
        resolved = validate(cfg)
    except ValueError as exc:
        raise click.UsageError(str(exc).splitlines()[0]) from None
    label = f"{resolved.problem}/{resolved.model}/{resolved.optimizer}"
    cb, ctx = _progress(quiet, resolved.epochs, label)
    try:
        with ctx:
            res = train(cfg, callback=cb)
    except ValueError as exc:  # e.g. an optimizer refusing a keyword
        raise click.UsageError(str(exc).splitlines()[0]) from None
    paths = None if no_save else res.save(out)
    if as_json:
        click.echo(res.to_json())
    f = res.final
    pct = (lambda v: "n/a" if v is None else f"{100 * v:.2f}%")
    msg = (f"{label}: test acc {pct(res.test_acc)}"
           + (f" (loss {res.test_loss:.4f})" if res.test_loss is not None else "")
           + f", best val acc {pct(f['best_val_acc'])}, {f['epochs_run']} epochs, "
           f"{f['steps']} steps, {res.wall_time:.1f} s" + (" — DIVERGED" if res.diverged else ""))
    click.echo(msg, err=as_json)
    if paths:
        click.echo(f"record: {paths[0]}  {paths[1]}", err=as_json)
