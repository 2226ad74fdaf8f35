"""Text output: :class:`Table` (one renderer for text, Markdown, CSV, JSON) and :func:`explain`,
the step-by-step table of a rule."""

from __future__ import annotations

from .explain import build_rule, explain
from .table import FORMATS, Table

__all__ = ["Table", "FORMATS", "explain", "build_rule"]
