"""Tables and run results in a notebook: the one Markdown/HTML renderer (ravine._markup), read
through IPython's own display formatter, as Jupyter does with a cell's value."""

from __future__ import annotations

import html.parser

import pytest

import ravine
from ravine.rules import SGD
from ravine.tables import Table

IPython = pytest.importorskip("IPython")


def formatted(obj) -> dict:
    """What IPython's display formatter makes of ``obj`` (mime type → data), as in a kernel."""
    from IPython.core.interactiveshell import InteractiveShell

    data, _ = InteractiveShell.instance().display_formatter.format(obj)
    return data


class _Cells(html.parser.HTMLParser):
    """The text of an HTML table's caption, header and body cells, row by row."""

    def __init__(self):
        super().__init__()
        self.rows, self.caption, self._in = [], "", None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th", "caption"):
            self._in = tag
            if tag != "caption":
                self.rows[-1].append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "caption":
            self.caption += data
        elif self._in:
            self.rows[-1][-1] += data


def cells(text: str) -> _Cells:
    p = _Cells()
    p.feed(text)
    return p


def test_a_table_is_html_and_markdown_in_a_notebook_with_its_cells_escaped():
    t = Table(["t", "θ<x>", "ok"], [[0, 1.23456789, True], [1, float("nan"), None]], title="a & b", notes=["n|1"])
    data = formatted(t)
    assert {"text/plain", "text/html", "text/markdown"} <= set(data)
    parsed = cells(data["text/html"])
    assert parsed.caption == "a & b"
    assert parsed.rows == [["t", "θ<x>", "ok"], ["0", "1.23457", "yes"], ["1", "nan", ""]]
    assert "<x>" not in data["text/html"] and "θ&lt;x&gt;" in data["text/html"]  # escaped, not markup
    assert data["text/markdown"] == (
        "**a & b**\n\n| t | θ<x> | ok |\n|---:|---:|---:|\n| 0 | 1.23457 | yes |\n| 1 | nan |  |\n\n- n\\|1"
    )
    assert data["text/plain"] == repr(t)


def test_a_step_table_shows_its_rows():
    tab = ravine.explain(SGD(lr=0.4, momentum=0.5), "ellipse", start=(-5, -2), steps=3)
    parsed = cells(formatted(tab)["text/html"])
    assert parsed.rows[0] == tab.columns and len(parsed.rows) == 1 + len(tab.rows) == 5
    assert parsed.rows[2][tab.columns.index("f(θ)")] == f"{tab.row(1)['f(θ)']:.6g}"


def test_a_run_result_is_its_summary_table():
    res = ravine.run({"gd": SGD(lr=0.4), "hb": SGD(lr=0.4, momentum=0.5)}, "ellipse", starts=[(-5, -2)], steps=40)
    data = formatted(res)
    parsed = cells(data["text/html"])
    assert parsed.caption == f"ellipse: 2 trajectories, 40 steps ({res.backend})"
    assert parsed.rows[0] == list(res.SUMMARY)
    for i, row in enumerate(parsed.rows[1:]):
        assert row[0] == res.labels[i] and row[1] == res.status_names[i] and row[2] == str(res.stop_step[i])
        assert row[4] == f"{res.final_loss[i]:.6g}"
    assert data["text/markdown"].splitlines()[2].startswith("| optimizer | status | steps |")
