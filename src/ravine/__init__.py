"""ravine: an optimizer lab for deep learning.

The package is layered; imports point down only (``tests/test_layering.py`` enforces it)::

    cli/                       the ``ravine`` command (the only importer of click)
      ↓
    tools      tables/ step_tables lectures/ plot/ gallery explorer/ train/ benchmark/ landscape/
      ↓
    adapters   runner/ (many trajectories on NumPy or compiled)   optim/ (torch.optim)
      ↓
    core       rules/ (every update rule, once; hyper.py: their hyperparameters)
               problems/  schedules  analysis/  _checks  _json  _renamed

Public face (loaded lazily: ``import ravine`` imports NumPy and the rules only — no torch,
matplotlib, web stack or Ray): ``ravine.run``, ``ravine.get_rule``, ``ravine.get_problem``,
``ravine.explain`` and the modules ``ravine.rules``, ``ravine.problems``, ``ravine.schedules``,
``ravine.analysis``, ``ravine.optim``, ``ravine.plot``, ``ravine.train``. See
docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .rules import get_rule, list_rules

_LAZY = {
    "run": ("ravine.runner", "run"),
    "grid": ("ravine.runner", "grid"),
    "RunResult": ("ravine.runner", "RunResult"),
    "get_problem": ("ravine.problems", "get_problem"),
    "list_problems": ("ravine.problems", "list_problems"),
    "from_formula": ("ravine.problems", "from_formula"),
    "explain": ("ravine.step_tables", "explain"),
    "Table": ("ravine.tables", "Table"),
    "schedules": ("ravine.schedules", None),
    "analysis": ("ravine.analysis", None),
    "problems": ("ravine.problems", None),
    "rules": ("ravine.rules", None),
    "runner": ("ravine.runner", None),
    "optim": ("ravine.optim", None),
    "plot": ("ravine.plot", None),
    "train": ("ravine.train", None),
    "lectures": ("ravine.lectures", None),
    "landscape": ("ravine.landscape", None),  # a tool: imports torch, only when asked for
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ravine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["__version__", "get_rule", "list_rules", *_LAZY]
