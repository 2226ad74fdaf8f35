"""Fixtures the explorer's test modules share; each is module-scoped, so a module builds its own
once (and tests/conftest.py keeps a module's tests on one xdist worker).

- ``client``: fastapi's TestClient on ``create_app(numba=False)`` (NumPy path; no compile thread).
- ``server``: a real ``ravine serve --no-numba`` subprocess on a free loopback port
  (:class:`support.serve.Server`).
- ``explorer_url`` and ``browser``: the end-to-end pair, ``ravine serve`` started through the
  console script's entry point and Debian's chromium under Playwright; a module using them
  calls :func:`support.browser.require_chromium` first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from ravine.explorer.app import create_app

    with TestClient(create_app(numba=False), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def server():
    from support.serve import Server

    srv = Server(numba=False)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def explorer_url():
    from support.browser import ROOT
    from support.serve import free_port

    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # the `ravine` console script's entry point (ravine.cli:main), run by this interpreter
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ravine.cli import main; main()",
            "serve",
            "--no-open",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ravine serve exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
                if json.load(r).get("ok"):
                    break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("ravine serve did not answer within 60 s") from None
            time.sleep(0.1)  # polling the server's readiness, not waiting for the page
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright import sync_api

    from support.browser import ARGS, CHROMIUM

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
