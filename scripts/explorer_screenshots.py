"""The presenter-mode screenshots of docs/explorer.md, taken in a real browser.

Starts ``ravine serve --no-open --no-numba`` on a free loopback port, opens each setup below in
Debian's chromium (Playwright) at 1280×720 in presenter mode, waits for the page's own
readiness (``window.ravineState``) and writes ``docs/img/explorer_present_*.png``:

    python scripts/explorer_screenshots.py [--out docs/img] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "() => window.ravineState && window.ravineState.ready && window.ravineState.result && window.ravineState.pending === 0"

# GD on the ellipse (λmax = 4): η = 0.3 converges, η = 0.6 > 2/λmax diverges and is cut at the
# window with ✕; the heavy ball rides the valley
ELLIPSE = {
    "problem": "ellipse",
    "start": [-4.5, 1.0],
    "steps": 60,
    "t": 12,
    "present": 1,
    "optimizers": [
        {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.3}},
        {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.6}},
        {"name": "momentum", "convention": "torch", "hyper": {"lr": 0.05, "momentum": 0.8}},
    ],
}
SHOTS = {
    "explorer_present.png": ELLIPSE,
    "explorer_present_dark.png": dict(ELLIPSE, theme="dark"),
    "explorer_present_table.png": dict(ELLIPSE, tab="table", sel=2),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "ravine",
        "serve",
        "--no-open",
        "--no-numba",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("ravine serve did not start") from None
                time.sleep(0.1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox"])
            for name, setup in SHOTS.items():
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.goto(url + "/#s=" + urllib.parse.quote(json.dumps(setup)))
                page.wait_for_function(READY)
                if setup.get("tab") == "table":  # the rule's full record of the step (paused)
                    page.wait_for_function("() => window.ravineState.explain")
                page.wait_for_timeout(300)  # Plotly's resize settles (a screenshot, not a test)
                args.out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out / name))
                print(args.out / name)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
