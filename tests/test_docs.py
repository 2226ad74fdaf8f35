"""Docs generated from code are current, and the docs' Python examples run."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_rules_page_is_generated_from_the_rules():
    out = subprocess.run(
        [sys.executable, "scripts/gen_rules_doc.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert (ROOT / "docs" / "rules.md").read_text() == out, (
        "docs/rules.md is stale: run .venv/bin/python scripts/gen_rules_doc.py > docs/rules.md"
    )


# ------------------------------------------------------------------------ the docs' examples run

#: a fenced Python block, and the comment that may precede it
_BLOCK = re.compile(r"(?:^<!-- (no-run)[^>]*-->\n)?^```python\n(.*?)^```", re.S | re.M)
#: at most this many blocks may be marked ``<!-- no-run: why -->`` (each says why)
MAX_NO_RUN = 2


def _blocks():
    out = []
    for md in sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"]):
        text = md.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            line = text[: m.start(2)].count("\n")
            out.append(pytest.param(m.group(2), bool(m.group(1)), id=f"{md.relative_to(ROOT)}:{line}"))
    return out


BLOCKS = _blocks()


def test_few_doc_examples_are_marked_not_runnable():
    marked = [p.id for p in BLOCKS if p.values[1]]
    assert len(BLOCKS) >= 15 and len(marked) <= MAX_NO_RUN, marked


@pytest.mark.parametrize("code, no_run", BLOCKS)
def test_doc_example_runs(code, no_run, tmp_path):
    """Each Python example of docs/*.md and the README runs as a script, in a fresh folder (what
    it writes stays there), against this checkout's ravine."""
    if no_run:
        pytest.skip("marked <!-- no-run --> (it says why)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    env["MPLCONFIGDIR"] = str(tmp_path / ".mpl")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 20_000_000]  # small budgets
