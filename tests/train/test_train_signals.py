"""Signals to a running ``ravine train`` (real subprocesses, real signals): SIGTERM after an
epoch gives exit 143 and a partial record of the finished epochs marked interrupted; Ctrl+C
while ravine.optim compiles (an empty inductor cache) ends the run with exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")


def _start(args, **env):
    return subprocess.Popen(
        [sys.executable, "-m", "ravine.cli", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's Ctrl-C finds it
    )


def _finish(p, timeout=120):
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"no exit {timeout} s after the signal")


def test_sigterm_keeps_the_finished_epochs(tmp_path):
    out = tmp_path / "out"
    # ~1300 updates an epoch on a 2 × 1024 MLP: an epoch takes seconds, ten of them far longer
    args = ["--optimizer", "torch.sgd", "--lr", "0.01", "--width", "1024", "--depth", "2", "--batch-size", "1"]
    p = _start([*args, "--epochs", "10", "--out", str(out)])
    first = p.stderr.readline()  # "epoch    1/10 …": one line an epoch when stderr is not a terminal
    assert first.startswith("epoch    1/10"), first
    p.send_signal(signal.SIGTERM)
    _, err = _finish(p)
    assert p.returncode == 143, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "ravine: terminated"
    (record,) = out.glob("*.json")
    d = json.loads(record.read_text())
    assert d["interrupted"] is True and 1 <= len(d["epochs"]) < 10
    assert [e["epoch"] for e in d["epochs"]] == list(range(1, len(d["epochs"]) + 1))
    assert f"interrupted after {len(d['epochs'])} epoch" in err


def test_ctrl_c_while_compiling_ends_the_run(tmp_path):
    cache = tmp_path / "inductor"  # empty: the compiled step (the default) compiles from scratch
    out = tmp_path / "out"
    p = _start(["--optimizer", "adam", "--epochs", "200", "--out", str(out)], TORCHINDUCTOR_CACHE_DIR=str(cache))
    t0 = time.monotonic()
    while not (cache.exists() and any(cache.rglob("*"))):  # inductor has started writing: compiling
        assert p.poll() is None and time.monotonic() - t0 < 180, "no compilation seen"
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = _finish(p)
    assert p.returncode == 130, err[-2000:]  # not 0: it did not train on to the last epoch
    assert err.strip().splitlines()[-1] == "ravine: interrupted"
    (record,) = out.glob("*.json")
    d = json.loads(record.read_text())
    assert d["interrupted"] is True and len(d["epochs"]) < 200
