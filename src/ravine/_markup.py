"""Grids of cells as Markdown and HTML, and numbers as people read them: the one renderer.

:class:`ravine.tables.Table` (its ``to_markdown``, ``to_html`` and a notebook's
``_repr_markdown_``/``_repr_html_``) and :class:`ravine.runner.RunResult`'s notebook summary both
render through these functions, so a number looks the same in a terminal, a Markdown page and a
notebook. Plain Python; nothing here imports more than the standard library and NumPy.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["fmt_number", "markdown_table", "html_table"]


def fmt_number(v: Any, digits: int) -> str:
    """A cell as text: ``digits`` significant digits, ``nan``/``inf``, ``yes``/``no``, blank None."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (numbers.Integral, np.integer)):
        return str(int(v))
    if isinstance(v, (numbers.Real, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == 0:
            return "0"
        return f"{x:.{digits}g}"
    return str(v)


def markdown_table(
    columns: Sequence[str], cells: Sequence[Sequence[str]], title: str = "", notes: Sequence[str] = ()
) -> str:
    """A GitHub-flavoured Markdown table of text cells (``|`` escaped), the title in bold above."""

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = []
    if title:
        lines += [f"**{esc(title)}**", ""]
    lines.append("| " + " | ".join(esc(c) for c in columns) + " |")
    lines.append("|" + "|".join("---:" for _ in columns) + "|")
    for r in cells:
        lines.append("| " + " | ".join(esc(c) for c in r) + " |")
    if notes:
        lines.append("")
        lines.extend(f"- {esc(n)}" for n in notes)
    return "\n".join(lines)


def html_table(
    columns: Sequence[str], cells: Sequence[Sequence[str]], title: str = "", notes: Sequence[str] = ()
) -> str:
    """An HTML ``<table>`` of text cells (every cell escaped), the title as its caption, the
    notes in a list after it; numbers right-aligned, as in the text table."""
    e = html.escape
    out = ['<table class="ravine-table">']
    if title:
        out.append(f'<caption style="text-align: left; font-weight: bold">{e(title)}</caption>')
    out.append("<thead><tr>" + "".join(f'<th style="text-align: right">{e(c)}</th>' for c in columns) + "</tr></thead>")
    out.append("<tbody>")
    for r in cells:
        out.append("<tr>" + "".join(f'<td style="text-align: right">{e(c)}</td>' for c in r) + "</tr>")
    out.append("</tbody></table>")
    if notes:
        out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(out)
