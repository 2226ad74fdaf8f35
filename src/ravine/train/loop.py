"""The training loop: :func:`train` turns a :class:`~ravine.train.config.TrainConfig` into a
:class:`~ravine.train.record.Result`. Each update step is one forward and one backward pass on
a minibatch (reshuffled every epoch by the run's own ``torch.Generator``; LBFGS re-evaluates
through its closure), the learning-rate schedule is applied per step or per epoch, and every
epoch ends with an evaluation on the validation split (``_evaluate``). torch's CPU thread count
is set for the run and restored afterwards (``_threads``), and torch's global RNG is forked
around model initialisation, so no global state is left changed.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import _signals
from .. import schedules as _schedules
from . import data as _data
from .config import CappedWarning, TrainConfig, _schedule_str, check_fits
from .factories import _hyper, make_optimizer, make_schedule
from .models import make_model
from .record import Result, _jsonable, versions

__all__ = ["train"]


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


def train(
    config: TrainConfig | Mapping[str, Any] | None = None,
    *,
    callback: Callable[[dict[str, Any]], None] | None = None,
    keep_model: bool = False,
    step_callback: Callable[[int, nn.Module, torch.optim.Optimizer], None] | None = None,
    **overrides,
) -> Result:
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
    check_fits(cfg)  # before anything is built
    chash = config.hash()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.perf_counter()
    py_rng = random.getstate()  # a library imported on the first call may draw from it (rich, via sklearn)
    try:
        with _threads(cfg.threads):
            res = _train(cfg, chash, callback, keep_model, t_start, step_callback)
    finally:
        random.setstate(py_rng)
    res.started = started
    return res


def _train(cfg: TrainConfig, chash: str, callback, keep_model: bool, t_start: float, step_callback=None) -> Result:
    ds = _data.load(
        cfg.problem,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        data_seed=cfg.data_seed,
        samples=cfg.samples,
        data_dir=cfg.data_dir,
    )
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    Xtr, Ytr = torch.as_tensor(ds.x_train, dtype=dtype), torch.as_tensor(ds.y_train)
    Xva, Yva = torch.as_tensor(ds.x_val, dtype=dtype), torch.as_tensor(ds.y_val)
    Xte, Yte = torch.as_tensor(ds.x_test, dtype=dtype), torch.as_tensor(ds.y_test)
    n = len(Ytr)
    if cfg.samples is not None and cfg.samples > ds.info["n_total"]:
        m = ds.info["n_total"]
        warnings.warn(
            f"samples {cfg.samples} is more than the {cfg.problem} data set's {m}: all {m} used",
            CappedWarning,
            stacklevel=3,
        )
    if cfg.batch_size != "full" and cfg.batch_size > n:
        warnings.warn(
            f"batch_size {cfg.batch_size} is more than the {n} training samples: one batch of {n} an epoch",
            CappedWarning,
            stacklevel=3,
        )

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
            idx = perm[k * b : (k + 1) * b] if perm is not None else slice(None)
            xb, yb = Xtr[idx], Ytr[idx]
            if ravine_sched and cfg.schedule_interval == "step":
                set_lr(step)

            def closure(xb=xb, yb=yb):
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
            _signals.check()  # an interrupt swallowed on the way (in a finalizer, a compiler) ends the run here
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
        rec = {
            "epoch": epoch,
            "steps": step,
            "lr": float(opt.param_groups[0].get("lr", float("nan"))),
            "train_loss": _finite_or_none(loss_sum / seen) if not diverged else None,
            "train_acc": correct / seen if not diverged else None,
            "val_loss": _finite_or_none(val_loss),
            "val_acc": val_acc if not diverged else None,
            "time": time.perf_counter() - t0,
            "elapsed": time.perf_counter() - t_start,
        }
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

    opt_rec = {
        "name": cfg.optimizer,
        "class": f"{type(opt).__module__}.{type(opt).__qualname__}",
        "defaults": {k: _jsonable(v) for k, v in opt.defaults.items()},
        "hyperparameters": hyper0,
    }
    sched_rec = None
    if sched is not None:
        sched_rec = {
            "spec": _schedule_str(cfg.schedule),
            "interval": cfg.schedule_interval,
            "total": total,
            "kind": "ravine" if ravine_sched else "torch",
            "repr": repr(sched)
            if ravine_sched
            else f"torch.optim.lr_scheduler.{type(sched).__name__}("
            + ", ".join(f"{k}={v!r}" for k, v in sorted(getattr(sched, "_ravine_kwargs", {}).items()))
            + ")",
        }
    model_rec = {
        "name": cfg.model,
        "width": cfg.width,
        "depth": cfg.depth,
        "dtype": cfg.dtype,
        "n_params": sum(p.numel() for p in model.parameters()),
        "repr": repr(model),
    }
    data_rec = dict(
        ds.info,
        sizes=ds.sizes(),
        n_features=ds.n_features,
        n_classes=ds.n_classes,
        batch_size=b,
        steps_per_epoch=steps_per_epoch,
    )
    return Result(
        config=cfg.to_dict(),
        config_hash=chash,
        optimizer=opt_rec,
        schedule=sched_rec,
        data=data_rec,
        model=model_rec,
        epochs=epochs,
        test_loss=_finite_or_none(test_loss),
        test_acc=test_acc,
        diverged=diverged,
        wall_time=time.perf_counter() - t_start,
        versions=versions(),
        module=model if keep_model else None,
    )
