"""Hostile input gets a bounded answer: a real ``ravine serve`` (loopback only) under the
issue's examples and a mixed load, and its stop on SIGINT/SIGTERM.

The load test is bounded in count and time (a few hundred requests over about 15 s on two
cores). Run this file as a script for the figures of the report::

    PYTHONPATH=tests .venv/bin/python tests/explorer/test_hostile.py
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
pytest.importorskip("uvicorn", reason="the explorer needs ravine[serve]")

from support.serve import Server

VALID = {
    "problem": "rosenbrock",
    "start": [-1.2, 1.0],
    "steps": 200,
    "optimizers": [{"name": "adam", "hyper": {"lr": 0.05}}, {"name": "momentum", "hyper": {"lr": 0.001}}],
}


def slow_formula(i: int) -> str:
    """A formula that passes the static limits and costs real symbolic work (refused later)."""
    return "sigmoid(" * 9 + f"x*y+{i}" + ")" * 9


EXAMPLES = {
    "x*54**0.7777777": dict(VALID, formula="x*54**0.7777777 + y^2"),
    "window=10**9": dict(VALID, optimizers=[{"name": "windowed_rmsprop", "hyper": {"window": 10**9}}]),
    "100 linear factors": dict(VALID, formula="*".join(f"(x+{i}*y)" for i in range(1, 101))),
    "sin(10**100) + x": dict(VALID, formula="sin(10**100) + x + y^2"),
    "38 nested sigmoids": dict(VALID, formula="sigmoid(" * 38 + "x*y" + ")" * 38),
    "(2**(1/3)+...)**100*x": dict(VALID, formula="(2**(1/3)+3**(1/5)+5**(1/7))**100*x + y^2"),
    "10**5 parentheses": dict(VALID, formula="(" * 100_000 + "x+y" + ")" * 100_000),
    '"steps": true': dict(VALID, steps=True),
    "Cyrillic х": dict(VALID, formula="x^2 + \u0445^2 + y^2"),
    "π": dict(VALID, formula="\u03c0*x^2 + y^2"),
    "10y": dict(VALID, formula="x^2 + 10y^2"),
}


def detail(body: bytes) -> str:
    try:
        return json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def run_examples(server) -> dict:
    out = {}
    for name, body in EXAMPLES.items():
        t0 = time.monotonic()
        status, data, _ = server.request("POST", "/api/run", body)
        out[name] = (round(time.monotonic() - t0, 3), status, detail(data) if status != 200 else "200 ok")
    return out


def test_examples_of_the_issue_get_a_bounded_answer(server):
    answers = run_examples(server)
    for name, (seconds, status, message) in answers.items():
        assert seconds < 8, (name, seconds, status, message)
        assert status in (200, 413, 422), (name, status, message)
        assert "\n" not in message
    assert answers["window=10**9"][1] == 422 and "window: must be <= 100" in answers["window=10**9"][2]
    assert answers['"steps": true'][1] == 422
    assert answers["Cyrillic х"][1] == 422 and "U+0445" in answers["Cyrillic х"][2]
    assert answers["π"][1] == 200
    assert answers["10y"][1:] == (422, "formula: '10y' at column 9: write 10*y (multiplication needs *)")
    assert answers["x*54**0.7777777"][1] == 200
    assert answers["sin(10**100) + x"][1] == 200
    assert answers["38 nested sigmoids"][1] == 422 and answers["38 nested sigmoids"][2].startswith("formula: ")
    assert answers["100 linear factors"][1] == 422


def test_host_header_and_security_headers(server):
    status, _, headers = server.request("GET", "/api/health")
    assert status == 200
    low = {k.lower(): v for k, v in headers.items()}
    assert low["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in low["content-security-policy"]
    assert server.request("GET", "/api/health", host="evil.example:8000")[0] == 400
    assert server.request("GET", "/api/health", host=f"localhost:{server.port}")[0] == 200


def mixed_load(server, seconds: float = 12.0, clients: int = 6) -> dict:
    """Slow formulas, huge hyperparameters and valid runs at once; health polled throughout."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    stats = {"valid": [], "valid_status": [], "hostile_status": [], "health": [], "rss": []}
    counter = iter(range(10**6))

    def hostile(k):
        i = next(counter)
        kinds = [
            dict(VALID, formula=slow_formula(i)),
            dict(VALID, optimizers=[{"name": "windowed_rmsprop", "hyper": {"window": 10**9}}]),
            dict(VALID, steps=10_000, optimizers=[{"name": "adam"}] * 4, formula=f"x^2 + {i}*y^2 + sin(x*y)"),
            dict(VALID, formula=f"x*54**0.77{i}"),
        ]
        return kinds[k % len(kinds)]

    def client(k):
        n = 0
        while time.monotonic() < stop and n < 60:  # bounded in count and time
            n += 1
            body = hostile(k + n) if k % 2 else VALID
            t0 = time.monotonic()
            try:
                status = server.request("POST", "/api/run", body, timeout=30)[0]
            except OSError:
                status = -1
            dt = time.monotonic() - t0
            with lock:
                if body is VALID:
                    stats["valid"].append(dt)
                    stats["valid_status"].append(status)
                else:
                    stats["hostile_status"].append(status)

    def health():
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                ok = server.request("GET", "/api/health", timeout=5)[0] == 200
            except OSError:
                ok = False
            stats["health"].append(time.monotonic() - t0 if ok else float("inf"))
            stats["rss"].append(server.rss_mb())
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=health))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    time.sleep(1.0)
    stats["rss_after"] = server.rss_mb()
    return stats


def _p95(values):
    v = sorted(values)
    return v[min(len(v) - 1, int(0.95 * len(v)))] if v else float("nan")


def test_mixed_load_keeps_valid_runs_and_health_answering(server):
    stats = mixed_load(server)
    assert stats["valid"], "no valid run finished"
    ok = [s for s in stats["valid_status"] if s == 200]
    assert len(ok) >= 0.5 * len(stats["valid_status"]), stats["valid_status"]
    assert set(stats["valid_status"]) <= {200, 503}, stats["valid_status"]
    assert set(stats["hostile_status"]) <= {200, 422, 503, 504}, stats["hostile_status"]
    assert max(stats["health"]) < 1.0, max(stats["health"])
    assert max(stats["rss"]) < 1500, max(stats["rss"])
    # and still answering after the load
    assert server.request("POST", "/api/run", VALID)[0] == 200


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_busy_server_stops_on_a_signal_within_seconds(sig):
    s = Server()
    try:
        busy = [
            threading.Thread(
                target=lambda i=i: s.request("POST", "/api/run", dict(VALID, formula=slow_formula(1000 + i)), 30)
            )
            for i in range(3)
        ]
        for t in busy:
            t.daemon = True
            t.start()
        time.sleep(0.5)
        took = s.stop(sig)
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
    assert took < 6.0, took
    assert "Traceback" not in s.proc.stderr.read()


if __name__ == "__main__":  # the figures of the report
    s = Server(numba=os.environ.get("RAVINE_HOSTILE_NUMBA") == "1")
    try:
        print(f"rss at start: {s.rss_mb():.0f} MB")
        for name, (sec, status, msg) in run_examples(s).items():
            print(f"{name:24s} {sec:7.3f} s  {status}  {msg[:150]}")
        st = mixed_load(s, seconds=float(os.environ.get("RAVINE_HOSTILE_SECONDS", "20")))
        valid = {c: st["valid_status"].count(c) for c in set(st["valid_status"])}
        hostile = {c: st["hostile_status"].count(c) for c in set(st["hostile_status"])}
        print(
            f"mixed load: valid runs {len(st['valid'])} {valid}, p95 {_p95(st['valid']):.3f} s, "
            f"max {max(st['valid']):.3f} s; hostile statuses {hostile}"
        )
        h = st["health"]
        print(f"health: n {len(h)}, p95 {_p95(h):.4f} s, max {max(h):.4f} s")
        print(f"rss: peak {max(st['rss']):.0f} MB, after {st['rss_after']:.0f} MB")
    finally:
        print(f"stop on SIGINT: {s.stop():.2f} s")
