"""Docs generated from code are current."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_rules_page_is_generated_from_the_rules():
    out = subprocess.run(
        [sys.executable, "scripts/gen_rules_doc.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert (ROOT / "docs" / "rules.md").read_text() == out, (
        "docs/rules.md is stale: run .venv/bin/python scripts/gen_rules_doc.py > docs/rules.md"
    )
