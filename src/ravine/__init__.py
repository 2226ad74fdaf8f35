"""ravine: an optimizer lab for deep learning.

Core (NumPy only): ``ravine.rules`` (every update rule, once), ``ravine.problems``,
``ravine.schedules``, ``ravine.analysis``. Adapters: ``ravine.run`` (vectorized
trajectories), ``ravine.optim`` (torch.optim optimizers). Tools load lazily:
``ravine.explain``, ``ravine.plot``, the CLI. ``import ravine`` imports no torch,
matplotlib, web stack or Ray.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .rules import get_rule, list_rules  # noqa: E402  (NumPy only)

_LAZY = {
    "run": ("ravine.runner", "run"),
    "RunResult": ("ravine.runner", "RunResult"),
    "get_problem": ("ravine.problems", "get_problem"),
    "list_problems": ("ravine.problems", "list_problems"),
    "from_formula": ("ravine.problems", "from_formula"),
    "explain": ("ravine.explain", "explain"),
    "schedules": ("ravine.schedules", None),
    "analysis": ("ravine.analysis", None),
    "problems": ("ravine.problems", None),
    "rules": ("ravine.rules", None),
    "landscape": ("ravine.landscape", None),  # a tool: imports torch, only when asked for
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ravine' has no attribute {name!r}")


__all__ = ["__version__", "get_rule", "list_rules", *_LAZY]
