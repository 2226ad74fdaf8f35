"""``ScheduleLR``: ravine schedules (``sched(t)``) driving any group hyperparameter,
behind torch's LRScheduler protocol (``step()``, ``get_last_lr()``, ``state_dict()``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch.optim.lr_scheduler import LRScheduler

from ..rules import RULES
from ..rules import hyper as hp

__all__ = ["ScheduleLR"]


def _parts(optimizer) -> dict[str, tuple[str, int]]:
    """``{"beta1": ("betas", 0), "beta2": ("betas", 1)}``: each part of a paired group key, from
    the rule's field specs (a ravine optimizer), or from every rule's (a torch optimizer)."""
    rule = getattr(optimizer, "_rule", None)
    out: dict[str, tuple[str, int]] = {}
    for r in [rule] if rule is not None else RULES.values():
        for pair, parts in hp.pair_names(r.fields).items():
            out.update({part: (pair, i) for i, part in enumerate(parts)})
    return out


class ScheduleLR(LRScheduler):
    """Set group hyperparameters from schedules at every ``scheduler.step()``.

    ``schedules`` maps a hyperparameter name to a schedule (any callable
    ``sched(t) -> float``, such as ``ravine.schedules.cosine(...)``), or to a list
    with one schedule per param group. Names are group keys (``"lr"``,
    ``"momentum"``, ``"weight_decay"``, …); ``"beta1"`` / ``"beta2"`` set one entry of
    ``group["betas"]``. As with torch's schedulers, the values for the first
    optimizer step (t = 0) are set at construction and ``scheduler.step()`` after
    each ``optimizer.step()`` moves to t + 1 — ravine's convention that t = 0 is
    the first update.
    """

    def __init__(self, optimizer, schedules: Mapping[str, Any], last_epoch: int = -1):
        if not isinstance(schedules, Mapping) or not schedules:
            raise ValueError(f"ScheduleLR: schedules must be a non-empty dict name -> schedule, got {schedules!r}")
        n = len(optimizer.param_groups)
        self._parts = _parts(optimizer)
        self.schedules: dict[str, list[Callable]] = {}
        for name, s in schedules.items():
            per = list(s) if isinstance(s, (list, tuple)) else [s] * n
            if len(per) != n:
                raise ValueError(
                    f"ScheduleLR: schedules[{name!r}] must give {n} schedules (one per param group), got {len(per)}"
                )
            for f in per:
                if not callable(f):
                    raise ValueError(f"ScheduleLR: schedules[{name!r}] must be callable sched(t), got {f!r}")
            key = self._parts[name][0] if name in self._parts else name
            for g in optimizer.param_groups:
                if key not in g:
                    raise ValueError(f"ScheduleLR: schedules names {name!r}, which the param groups do not have")
            self.schedules[name] = per
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t = max(self.last_epoch, 0)
        if "lr" in self.schedules:
            return [float(f(t)) for f in self.schedules["lr"]]
        return [g["lr"] for g in self.optimizer.param_groups]

    def step(self, epoch=None):
        if epoch is not None:
            raise ValueError("ScheduleLR: step(epoch) is not supported; call step() once per optimizer step")
        self._step_count = getattr(self, "_step_count", 0) + 1
        self.last_epoch += 1
        t = max(self.last_epoch, 0)
        for name, per in self.schedules.items():
            for g, f in zip(self.optimizer.param_groups, per):
                v = float(f(t))
                if name in self._parts:
                    pair, i = self._parts[name]
                    b = list(g[pair])
                    b[i] = v
                    g[pair] = tuple(b)
                elif name == "lr" and hasattr(g["lr"], "fill_"):
                    g["lr"].fill_(v)
                else:
                    g[name] = v
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedules", "_parts")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
