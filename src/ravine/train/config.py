"""What decides a training run: :class:`TrainConfig`, its defaults per (problem, model)
(:data:`DEFAULTS`), its validation (:func:`validate`, which fills the defaults in and raises a
one-line ``ValueError`` on bad input) and its hash (:meth:`TrainConfig.hash`, the
:func:`ravine._json.stable_hash` of the resolved config without the fields that change no
number), which keys every record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks
from .. import schedules as _schedules
from .._json import stable_hash
from . import data as _data
from .factories import check_schedule, resolve_optimizer
from .models import MODELS
from .record import _jsonable

__all__ = [
    "TrainConfig",
    "validate",
    "check_fits",
    "memory_limit",
    "PROBLEMS",
    "DEFAULTS",
    "MEMORY_CAP",
    "CappedWarning",
]

PROBLEMS = tuple(_data.PROBLEMS)

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


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. ``None`` means "the default" (see
    :data:`DEFAULTS`; ``lr=None`` is the optimizer's own default learning rate;
    ``test_fraction=None`` is the problem's default test set, see :mod:`ravine.train.data`)."""

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

    def resolved(self) -> TrainConfig:
        """A validated copy with the defaults filled in (what is hashed and recorded)."""
        return _resolve(self)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["optimizer_args"] = {k: _jsonable(v) for k, v in dict(self.optimizer_args).items()}
        d["schedule"] = _schedule_str(self.schedule)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
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
        return stable_hash(d)


def _schedule_str(s: Any) -> Any:
    if s is None or isinstance(s, str):
        return s
    return repr(s)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _resolve(c: TrainConfig) -> TrainConfig:
    def bad(name: str, what: str, value: Any) -> ValueError:
        return ValueError(f"{name} must be {what}, got {value!r}")

    if not isinstance(c.problem, str) or c.problem.strip().lower() not in PROBLEMS:
        raise _checks.UnknownChoice(
            f"problem must be one of {', '.join(PROBLEMS)}; got {c.problem!r}", c.problem, PROBLEMS
        )
    problem = c.problem.strip().lower()
    if not isinstance(c.model, str) or c.model.strip().lower() not in MODELS:
        raise _checks.UnknownChoice(f"model must be one of {', '.join(MODELS)}; got {c.model!r}", c.model, MODELS)
    model = c.model.strip().lower()
    if not isinstance(c.optimizer, str) or not c.optimizer.strip():
        raise bad("optimizer", "a name such as 'adam' or 'torch.adam'", c.optimizer)
    resolve_optimizer(c.optimizer)  # unknown / unavailable names fail here
    if c.lr is not None and (
        isinstance(c.lr, bool)
        or not isinstance(c.lr, (int, float, np.number))
        or not math.isfinite(float(c.lr))
        or float(c.lr) <= 0
    ):
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
        check_schedule(c.schedule)
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
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.number))
            or not math.isfinite(float(v))
            or not 0 <= float(v) < 1
        ):
            raise bad(name, "a number in [0, 1)", v)
    tf = 0.2 if c.test_fraction is None else float(c.test_fraction)
    if float(c.val_fraction) + tf >= 1:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {float(c.val_fraction):g} + {tf:g}")
    _data.check_samples(problem, c.samples)
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
        c,
        problem=problem,
        model=model,
        epochs=int(epochs),
        batch_size=bs if bs == "full" else int(bs),
        width=int(width) if model != "logreg" else 0,
        lr=None if c.lr is None else float(c.lr),
        optimizer_args=dict(c.optimizer_args),
        val_fraction=float(c.val_fraction),
        test_fraction=None if c.test_fraction is None else float(c.test_fraction),
        depth=int(c.depth),
        seed=int(c.seed),
        data_seed=int(c.data_seed),
    )


def validate(config: TrainConfig) -> TrainConfig:
    """Check a config without training (its values, and that its model fits in memory:
    :func:`check_fits`); return it resolved. One-line ValueError on bad input."""
    cfg = _resolve(config)
    check_fits(cfg)
    return cfg


class CappedWarning(UserWarning):
    """A value the data set caps (``samples`` beyond the data set, ``batch_size`` beyond the
    training split): the run uses the cap and says so with this warning, whose message starts
    with the field's name (the command line prints it as a note naming the flag)."""


#: the most memory a run may ask for, whatever the machine has (a sanity cap)
MEMORY_CAP = 64 * 2**30


def memory_limit() -> tuple[int, str]:
    """(bytes, what limits them): the memory available now (``MemAvailable`` of
    /proc/meminfo, else the free pages of ``os.sysconf``), at most :data:`MEMORY_CAP`."""
    import os

    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    if avail is None or avail >= MEMORY_CAP:
        return MEMORY_CAP, "the cap of ravine train"
    return avail, "memory available"


def check_fits(cfg: TrainConfig) -> None:
    """Refuse a resolved config whose model cannot fit in memory, before anything is built:
    one line naming width and depth (and the batch size where the activations are most of it),
    the estimate (:func:`ravine.train.models.estimate_bytes`) and the limit (:func:`memory_limit`)."""
    from .models import estimate_bytes

    f, c = _data.SHAPES[cfg.problem]
    n = _data.DIGITS_SAMPLES if cfg.problem == "digits" else (cfg.samples or _data.MNIST1D_SAMPLES)
    if cfg.problem == "digits" and cfg.samples:
        n = min(n, cfg.samples)
    rows = n if cfg.batch_size == "full" else min(int(cfg.batch_size), n)
    rows = max(rows, n // 5)  # the test split (a fifth by default) is evaluated in one pass
    itemsize = 8 if cfg.dtype == "float64" else 4
    params, acts = estimate_bytes(cfg.model, f, c, cfg.width, cfg.depth, rows, itemsize)
    limit, why = memory_limit()
    if params + acts <= limit:
        return
    gib = lambda b: f"{b / 2**30:.1f} GiB"
    what = f"width {cfg.width}, depth {cfg.depth}" if cfg.model == "mlp" else f"width {cfg.width}"
    flags = "--width or --depth" if cfg.model == "mlp" else "--width"
    if acts > params:
        what += f", batch size {cfg.batch_size}"
        flags += " or --batch-size"
    raise ValueError(
        f"model {cfg.model} ({what}) needs about {gib(params + acts)} ({gib(params)} for its parameters, "
        f"gradients and optimizer state, {gib(acts)} for activations), more than the {gib(limit)} limit ({why}); "
        f"lower {flags}"
    )
