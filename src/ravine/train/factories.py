"""Names to objects: :func:`resolve_optimizer` / :func:`make_optimizer` turn an optimizer name
(``"adam"``, ``"ravine:Adam"``, ``"torch.adam"``, ``"torch.optim.Adam"``; case-insensitive,
``_`` and ``-`` ignored) into a ``ravine.optim`` or ``torch.optim`` optimizer, and
:func:`make_schedule` turns a schedule spec (``"cosine"``, ``"step:step_size=10,gamma=0.5"``,
``"torch.cosine"``) into a :class:`ravine.schedules.Schedule` or a torch lr scheduler, filling
in the learning rate and the run's length. :func:`parse_kwargs` reads the ``key=value,...``
part of a schedule spec with ``ravine._keyvalue``, the reader of the command line's
``key=value`` options too (one syntax: ``true``, ``0.9/0.99`` or ``(0.9, 0.99)``, names).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

import torch

from .. import _checks
from .. import _keyvalue as _kv
from .. import schedules as _schedules
from .record import _jsonable

__all__ = ["NotAvailable", "parse_kwargs", "resolve_optimizer", "make_optimizer", "make_schedule"]


# =========================================================================== parsing


def parse_kwargs(text: str, *, what: str = "arguments") -> dict[str, Any]:
    """``"a=1,betas=(0.9,0.99),nesterov=true"`` → a dict: the arguments of a schedule spec
    (``"step:step_size=10,gamma=0.5"``), read by :func:`ravine._keyvalue.parse_assignments`,
    the reader of the command line's ``key=value`` options too (one syntax for both)."""
    return _kv.parse_assignments(text, what)


# =========================================================================== optimizers


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def _split_source(name: str) -> tuple[str, str]:
    s = name.strip()
    low = s.lower()
    for prefix, source in (
        ("torch.optim.", "torch"),
        ("torch.", "torch"),
        ("torch:", "torch"),
        ("ravine.optim.", "ravine"),
        ("ravine.", "ravine"),
        ("ravine:", "ravine"),
    ):
        if low.startswith(prefix):
            return source, s[len(prefix) :]
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


class NotAvailable(ValueError):
    """A ravine rule that ``ravine.optim`` has no optimizer for (a ``ValueError``)."""


def resolve_optimizer(name: str) -> type:
    """The optimizer class a name stands for (see the module docstring); a one-line
    ValueError for an unknown name or a ravine class that ``ravine.optim`` lacks."""
    from ..rules import ALIASES, RULES, normalize_name

    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"optimizer must be a name such as 'adam' or 'torch.adam', got {name!r}")
    source, rest = _split_source(name)
    if source == "torch":
        table = _torch_optimizers()
        cls = table.get(_norm(rest))
        if cls is None:
            raise ValueError(
                f"optimizer: torch.optim has no optimizer {rest!r}; choose one of: "
                f"{', '.join(sorted(c.__name__ for c in table.values()))}"
            )
        return cls
    key = _norm(normalize_name(rest))
    table, why = _ravine_optimizers()
    if key in table:
        return table[key]
    known = {_norm(r): r for r in RULES}
    known.update({_norm(k): v for k, v in ALIASES.items()})
    if key in known or key in table:
        torch_alt = _torch_optimizers().get(key)
        alt = f"; use 'torch.{rest.strip().lower()}' for torch.optim.{torch_alt.__name__}" if torch_alt else ""
        reason = why or "ravine.optim has no optimizer for it"
        raise NotAvailable(f"optimizer: ravine optimizer {rest!r} is not available ({reason}){alt}")
    names = sorted(set(RULES) | {c.__name__ for c in table.values()})
    raise _checks.UnknownChoice(
        f"optimizer: unknown name {name!r}; choose a ravine rule ({', '.join(names)}) "
        f"or 'torch.<name>' for a torch.optim optimizer",
        name,
        names,
    )


def optimizer_keywords(cls: type) -> list[str]:
    """The keywords an optimizer class takes besides ``params`` (from its signature)."""
    sig = inspect.signature(cls.__init__)
    return [n for n, p in list(sig.parameters.items())[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_optimizer_args(cls: type, kwargs: Mapping[str, Any], where: str = "optimizer_args") -> None:
    """A one-line ValueError naming ``where`` for a keyword the optimizer does not take."""
    known = optimizer_keywords(cls)
    for k in kwargs:
        if k not in known:
            import difflib

            close = difflib.get_close_matches(k, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}: {cls.__name__} has no keyword {k!r}{hint}; it takes {', '.join(known)}")


def make_optimizer(name: str, params, lr: float | None = None, **kwargs) -> torch.optim.Optimizer:
    """Build the optimizer ``name`` (see :func:`resolve_optimizer`) over ``params``."""
    cls = resolve_optimizer(name)
    if lr is not None:
        if "lr" in kwargs:
            raise ValueError("optimizer_args: give lr once (the lr argument), not also in optimizer_args")
        kwargs["lr"] = lr
    check_optimizer_args(cls, kwargs)
    try:
        return cls(params, **kwargs)
    except TypeError as exc:
        raise ValueError(
            f"optimizer_args: {cls.__name__} refused {sorted(kwargs)} ({str(exc).splitlines()[0]})"
        ) from None


def _hyper(group: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in group.items() if k != "params"}


# =========================================================================== schedules

_TORCH_SCHEDULERS = {
    "cosine": "CosineAnnealingLR",
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "linear": "LinearLR",
    "constant": "ConstantLR",
    "polynomial": "PolynomialLR",
    "onecycle": "OneCycleLR",
    "plateau": "ReduceLROnPlateau",
    "cosinewarmrestarts": "CosineAnnealingWarmRestarts",
    "cyclic": "CyclicLR",
}
_RAVINE_SCHEDULES = (
    "constant",
    "piecewise_constant",
    "exponential",
    "polynomial",
    "step",
    "cosine",
    "linear",
    "warmup_cosine",
)


#: torch scheduler keywords that count steps (or epochs)
_TORCH_COUNTS = frozenset(
    ("step_size", "T_max", "T_0", "total_steps", "total_iters", "epochs", "steps_per_epoch", "milestones", "patience")
)


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
            raise ValueError(
                f"schedule: unknown torch scheduler {name!r}; short names: "
                f"{', '.join(_TORCH_SCHEDULERS)} or a torch.optim.lr_scheduler class"
            )
        for k in _TORCH_COUNTS.intersection(kwargs):  # lengths in steps: bounded as ravine's are
            v = kwargs[k]
            for x in v if isinstance(v, (list, tuple)) else [v]:
                _checks.integer("schedule", k, x, minimum=0, maximum=_schedules.MAX_STEPS)
        return "torch", cls_name, kwargs
    key = name.strip().lower().replace("-", "_")
    if key not in _RAVINE_SCHEDULES:
        raise _checks.UnknownChoice(
            f"schedule: unknown name {name!r}; choose one of: {', '.join(_RAVINE_SCHEDULES)} "
            f"or 'torch.<name>' for torch's lr_scheduler",
            name.strip(),
            _RAVINE_SCHEDULES,
        )
    return "ravine", key, kwargs


def check_schedule(spec: str) -> None:
    """Refuse a bad schedule spec before any data, model or optimizer is built: its name and,
    for torch's schedulers, the lengths (:func:`_parse_schedule_spec`); a ravine schedule is
    built once with lr = 1 and a 1-step run (``total`` fills only the lengths not given, so a
    given length is checked against its range as it will be in the run)."""
    if _parse_schedule_spec(spec)[0] != "torch":
        make_schedule(spec, 1.0, 1)


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
            fill = {
                "T_max": total,
                "total_iters": total,
                "total_steps": total,
                "step_size": max(1, total // 3),
                "max_lr": lr,
            }
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
        fill = {
            "init": lr,
            "value": lr,
            "total_steps": total,
            "steps": total,
            "step_size": max(1, total // 3),
            "final": 0.0,
        }
        for k, v in fill.items():
            if k in params and k not in kw:
                kw[k] = v
        return fn(**kw)
    except TypeError as exc:
        raise ValueError(f"schedule: {spec!r}: {str(exc).splitlines()[0]}") from None
