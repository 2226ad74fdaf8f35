"""Tables of numbers for people: one renderer for text, Markdown, CSV and JSON.

:class:`Table` is what ``ravine explain``, ``ravine run``, the lectures' worked examples and the
benchmark reports print. Numbers are shown to a number of significant digits (never cut to
a column width), wide characters are measured as the terminal shows them, and JSON output is
finite-or-null.
"""

from __future__ import annotations

import csv
import io
import json
import numbers
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import _checks
from .._json import jsonable as _jsonable
from .._markup import fmt_number, html_table, markdown_table

__all__ = ["Table", "FORMATS", "check_format", "check_digits", "fmt_number", "text_width", "ljust", "rjust", "jsonable"]


def text_width(s: str) -> int:
    """Display width of a cell: combining marks (the hat of r̂) take no column."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in s)


def rjust(s: str, w: int) -> str:
    return " " * max(0, w - text_width(s)) + s


def ljust(s: str, w: int) -> str:
    return s + " " * max(0, w - text_width(s))


def _plain(v: Any) -> Any:
    """A JSON/CSV-friendly Python scalar."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (numbers.Integral, np.integer)):
        return int(v)
    if isinstance(v, (numbers.Real, np.floating)):
        return float(v)
    return str(v)


class Table:
    """A step table: ``columns`` (names) and ``rows`` (lists of numbers, bools or None).

    Exports: :meth:`to_text` (aligned, ~6 significant digits), :meth:`to_markdown`,
    :meth:`to_csv` (full precision, ``csv`` module), :meth:`to_json` (full precision;
    NaN/±inf as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        title: str = "",
        notes: Sequence[str] = (),
        meta: dict | None = None,
        descriptions: dict | None = None,
    ):
        self.columns: list[str] = [str(c) for c in columns]
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"Table: column names must be unique, got {self.columns}")
        self.rows: list[list[Any]] = [list(r) for r in rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"Table: a row has {len(r)} values for {len(self.columns)} columns")
        self.title = title
        self.notes: list[str] = list(notes)
        self.meta: dict = dict(meta or {})
        self.descriptions: dict = dict(descriptions or {})

    # -- access ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        """The values of one column, top to bottom."""
        try:
            i = self.columns.index(name)
        except ValueError:
            raise ValueError(f"Table: no column {name!r}; it has {', '.join(self.columns)}") from None
        return [r[i] for r in self.rows]

    def row(self, t: int) -> dict:
        """The row whose ``t`` is ``t``, as a dict column → value."""
        ts = self.column("t")
        if t not in ts:
            raise ValueError(f"Table: no row with t = {t}")
        return dict(zip(self.columns, self.rows[ts.index(t)]))

    def to_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    # -- exports --------------------------------------------------------
    def _cells(self, digits: int) -> list[list[str]]:
        return [[fmt_number(v, digits) for v in r] for r in self.rows]

    def to_text(self, digits: int = 6, *, notes: bool = True) -> str:
        """Aligned plain text for terminals: numbers right-aligned with ``digits`` significant digits."""
        digits = check_digits(digits)
        body = self._cells(digits)
        widths = [max([text_width(c)] + [text_width(r[i]) for r in body]) for i, c in enumerate(self.columns)]
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append("  ".join(rjust(c, w) for c, w in zip(self.columns, widths)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for r in body:
            lines.append("  ".join(rjust(c, w) for c, w in zip(r, widths)).rstrip())
        if notes and self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_markdown(self, digits: int = 6, *, notes: bool = True) -> str:
        """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""
        digits = check_digits(digits)
        return markdown_table(self.columns, self._cells(digits), self.title, self.notes if notes else ())

    def to_html(self, digits: int = 6, *, notes: bool = True) -> str:
        """An HTML ``<table>`` (every cell escaped; the title its caption, the notes a list after it)."""
        digits = check_digits(digits)
        return html_table(self.columns, self._cells(digits), self.title, self.notes if notes else ())

    def _repr_markdown_(self) -> str:
        """What a notebook (Jupyter, VS Code) shows for a table that is a cell's value."""
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """What a notebook (Jupyter, VS Code) shows for a table that is a cell's value."""
        return self.to_html()

    def to_csv(self) -> str:
        """CSV with a header row; floats written with ``repr`` (round-trip exact); blanks for None."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(
                ["" if v is None else (repr(float(v)) if isinstance(_plain(v), float) else _plain(v)) for v in r]
            )
        return buf.getvalue()

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[jsonable(v) for v in r] for r in self.rows],
            "notes": list(self.notes),
            "meta": {k: jsonable(v) for k, v in self.meta.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON: {"title", "columns", "rows", "notes", "meta"}; strict (no bare NaN)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def render(self, fmt: str = "text", digits: int = 6) -> str:
        fmt = check_format(fmt)
        if fmt == "text":
            return self.to_text(digits)
        if fmt == "markdown":
            return self.to_markdown(digits)
        if fmt == "csv":
            return self.to_csv()
        return self.to_json()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<Table {self.title!r}: {len(self.rows)} rows × {len(self.columns)} columns>"


FORMATS = ("text", "markdown", "csv", "json")


def check_format(fmt: str) -> str:
    if fmt == "md":
        fmt = "markdown"
    _checks.choice("Table", "format", fmt, FORMATS)
    return fmt


def check_digits(digits: Any) -> int:
    return _checks.integer("Table", "digits", digits, minimum=1, maximum=17)


def jsonable(v: Any) -> Any:
    """:func:`ravine._json.jsonable` with NaN and ±inf as text (``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``), as :meth:`Table.to_json` writes them."""
    return _jsonable(v, nonfinite="text")
