"""The explorer's end-to-end tests: Debian's chromium driven by Playwright for Python.

``require_chromium()`` skips the calling test module, saying why, when Playwright or the
browser is missing; we never run ``playwright install`` (it downloads a browser).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RAVINE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("RAVINE_ARTIFACTS", ROOT / "artifacts" / "explorer"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module unless Playwright, the explorer's extras and chromium are here."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"{CHROMIUM} is missing: run scripts/install-browser.sh as root "
            "(apt-get install chromium); this machine cannot provide it",
            allow_module_level=True,
        )
