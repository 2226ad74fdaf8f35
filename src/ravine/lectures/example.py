"""Rows and worked examples: what a slide prints beside what is right (see ``__init__``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..tables.table import Table, check_digits, check_format, fmt_number, jsonable, ljust, text_width

__all__ = ["Row", "LectureExample", "LECTURE_000", "LECTURE_001", "LECTURE_002", "LECTURE_003", "LECTURE_004", "cmd"]

LECTURE_000 = "000"
LECTURE_001 = "001"
LECTURE_002 = "002"
LECTURE_003 = "003"
LECTURE_004 = "004"


# ====================================================================== rows


def _parse_printed(text: str) -> tuple[float, float] | None:
    """(value, tolerance) of a number as printed: half a unit of its last decimal; exact for a/b."""
    s = text.strip().replace("−", "-").replace("≈", "").replace(" ", "")
    m = re.fullmatch(r"([+-]?\d+)/(\d+)", s)
    if m:
        return float(Fraction(int(m.group(1)), int(m.group(2)))), 1e-12
    m = re.fullmatch(r"[+-]?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?", s)
    if not m:
        return None
    decimals = len(m.group(2) or "")
    exp = int(m.group(3) or 0)
    return float(s), 0.5 * 10.0 ** (exp - decimals) * (1 + 1e-9)


@dataclass(frozen=True)
class Row:
    """One quantity of a worked example.

    ``slide``: what the slide prints (text as printed, or a number; None: the slide does
    not state it). ``correct``: the computed value (a number, or a word such as "minimum").
    ``ok``: None → decided from the printed precision (half a unit of the last printed
    decimal); True/False to state it. ``note``: why a value differs (empty when it agrees).
    """

    quantity: str
    slide: Any
    correct: Any
    note: str = ""
    formula: str = ""
    ok: bool | None = None

    @property
    def agrees(self) -> bool | None:
        """True/False when the slide states the quantity, None when it does not."""
        if self.slide is None:
            return None
        if self.ok is not None:
            return self.ok
        if isinstance(self.correct, str):
            return str(self.slide).strip().lower() == self.correct.strip().lower()
        if isinstance(self.slide, str):
            parsed = _parse_printed(self.slide)
            if parsed is None:
                return str(self.slide).strip() == str(self.correct)
            value, tol = parsed
        else:
            value, tol = float(self.slide), 1e-9 * max(1.0, abs(float(self.slide)))
        return abs(value - float(self.correct)) <= tol

    @property
    def status(self) -> str:
        a = self.agrees
        return "" if a is None else ("ok" if a else "ERRATUM")

    def cells(self, digits: int) -> list[str]:
        slide = (
            "—"
            if self.slide is None
            else (self.slide if isinstance(self.slide, str) else fmt_number(self.slide, digits))
        )
        correct = self.correct if isinstance(self.correct, str) else fmt_number(self.correct, digits)
        return [self.quantity, slide, correct, self.status, self.note or self.formula]


@dataclass(frozen=True, eq=False)
class LectureExample:
    """A worked example: the setup, rows (quantity, slide, correct, ok, note), step tables, notes."""

    name: str
    title: str
    lecture: str
    setup: str
    rows: tuple[Row, ...]
    tables: tuple[tuple[str, Table], ...] = ()
    notes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    command: str = ""

    @property
    def errata(self) -> list[Row]:
        """The rows where the slide disagrees with the computed value."""
        return [r for r in self.rows if r.agrees is False]

    def row(self, quantity: str) -> Row:
        for r in self.rows:
            if r.quantity == quantity:
                return r
        raise ValueError(f"{self.name}: no row {quantity!r}")

    def comparison_table(self) -> Table:
        return Table(
            ["quantity", "slide", "correct", "ok", "note"],
            [
                [
                    r.quantity,
                    r.slide if r.slide is None or isinstance(r.slide, str) else r.slide,
                    r.correct,
                    r.status,
                    r.note or r.formula,
                ]
                for r in self.rows
            ],
        )

    # -- rendering --------------------------------------------------------
    def _head(self) -> list[str]:
        return [f"{self.name}: {self.title}", f"lecture: {self.lecture}", f"setup: {self.setup}"]

    def to_text(self, digits: int = 6) -> str:
        digits = check_digits(digits)
        head = ["quantity", "slide", "correct", "ok", "note"]
        body = [r.cells(digits) for r in self.rows]
        w = [max(text_width(x[i]) for x in [head, *body]) for i in range(4)]
        lines = self._head() + [""]
        fmt = lambda c: "  ".join(ljust(c[i], w[i]) for i in range(4)) + ("  " + c[4] if c[4] else "")
        lines.append(fmt(head).rstrip())
        lines.append("  ".join("-" * x for x in w) + "  " + "-" * 4)
        lines += [fmt(c).rstrip() for c in body]
        for caption, tab in self.tables:
            lines += ["", caption, tab.to_text(digits)]
        if self.notes:
            lines.append("")
            lines += [f"note: {n}" for n in self.notes]
        n_err = len(self.errata)
        lines += ["", f"{n_err} erratum row(s). Reproduce: {self.command}"]
        return "\n".join(lines)

    def to_markdown(self, digits: int = 6) -> str:
        digits = check_digits(digits)

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        lines = [
            f"### `{self.name}`: {esc(self.title)}",
            "",
            f"Lecture {self.lecture}. {esc(self.setup)}",
            "",
            "| quantity | slide | correct | ok | note |",
            "|---|---:|---:|---|---|",
        ]
        lines += ["| " + " | ".join(esc(c) for c in r.cells(digits)) + " |" for r in self.rows]
        for caption, tab in self.tables:
            lines += ["", f"*{esc(caption)}*", "", tab.to_markdown(digits)]
        if self.notes:
            lines += [""] + [f"- {esc(n)}" for n in self.notes]
        lines += ["", f"Reproduce: `{self.command}`"]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "lecture": self.lecture,
            "setup": self.setup,
            "rows": [
                {
                    "quantity": r.quantity,
                    "slide": jsonable(r.slide),
                    "correct": jsonable(r.correct),
                    "ok": r.agrees,
                    "note": r.note,
                    "formula": r.formula,
                }
                for r in self.rows
            ],
            "tables": [{"caption": c, **t.to_dict()} for c, t in self.tables],
            "notes": list(self.notes),
            "rules": list(self.rules),
            "command": self.command,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_csv(self) -> str:
        return self.comparison_table().to_csv()

    def render(self, fmt: str = "text", digits: int = 6) -> str:
        fmt = check_format(fmt)
        return {
            "text": lambda: self.to_text(digits),
            "markdown": lambda: self.to_markdown(digits),
            "csv": self.to_csv,
            "json": self.to_json,
        }[fmt]()

    def __str__(self) -> str:
        return self.to_text()


def cmd(name: str, opt: str = "") -> str:
    return f"ravine explain {opt + ' ' if opt else ''}--lecture-example {name}"
