"""Text output: :class:`Table`, the one renderer for text, Markdown, CSV and JSON.

``explain`` and ``build_rule`` (the step-by-step tables of a rule) live in
:mod:`ravine.step_tables`; ``from ravine.tables import explain`` still works.
"""

from __future__ import annotations

from typing import Any

from .table import FORMATS, Table

__all__ = ["Table", "FORMATS", "explain", "build_rule"]


def __getattr__(name: str) -> Any:
    if name in ("explain", "build_rule"):  # their old home (ravine 0.2.0's changelog names it)
        from .. import step_tables

        return getattr(step_tables, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
