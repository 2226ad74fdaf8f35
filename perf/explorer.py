"""Benchmark of the explorer's server (``ravine serve``).

1. In-process: the /api/run handler's work (validation, the runs, the JSON body) for
   8 optimizers × 500 steps on Rosenbrock, timed around the handler, ≥ 30 requests.
2. End-to-end over HTTP: the same request against a real uvicorn server (a subprocess on a
   free loopback port), one client, ≥ 30 requests.
3. Load: 20 concurrent clients (threads with httpx) for 60 s on loopback: errors, p95 latency,
   requests/s. Bounded by time and by a request count.

Targets: median < 50 ms, 0 errors, p95 < 150 ms. Kernels are compiled (warm-up) before timing.

    python perf/explorer.py            # full: 60 s load, writes docs/performance-explorer.md
    python perf/explorer.py --quick    # 8 s load, 30 requests per phase
    python perf/explorer.py --no-write # print only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

try:  # the clients share this process's GIL with each other: parse answers fast
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    from json import loads as _loads
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ravine.explorer.app import Explorer, RunSetup, encode  # noqa: E402

OPTIMIZERS = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adadelta", "adam", "yogi"]
HYPER = {
    "sgd": {"lr": 1e-3},
    "momentum": {"lr": 1e-3},
    "nag": {"lr": 1e-3},
    "adam": {"lr": 0.05},
    "rmsprop": {"lr": 0.01},
    "adagrad": {"lr": 0.5},
    "adadelta": {},
    "yogi": {"lr": 0.05},
}


def setup_body(i: int = 0) -> dict:
    # vary the start a little so no layer could cache answers
    return {
        "problem": "rosenbrock",
        "start": [-1.2 + 1e-4 * (i % 97), 1.0],
        "steps": 500,
        "optimizers": [{"name": n, "hyper": HYPER[n]} for n in OPTIMIZERS],
    }


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def summary(ms):
    return {"n": len(ms), "median_ms": statistics.median(ms), "p95_ms": pct(ms, 95), "max_ms": max(ms)}


def load_state():
    la = os.getloadavg()
    return {"loadavg": la, "cpus": os.cpu_count()}


def in_process(n: int) -> tuple[dict, str]:
    eng = Explorer(numba=True, background=False)  # compile in the warm-up, not in the timing
    for i in range(3):
        eng.run(RunSetup(**setup_body(i)))
    times, backend = [], ""
    for i in range(n):
        t0 = time.perf_counter()
        setup = RunSetup(**setup_body(i))  # validation (as FastAPI does it)
        out = eng.run(setup)  # the handler
        body = encode(out)  # its response body
        times.append(1000 * (time.perf_counter() - t0))
        backend = out["backend"]
    assert len(body) > 1000
    return summary(times), backend


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int = 1, env: dict | None = None):
    """``ravine serve`` in a child process on a free loopback port (``env``: its environment)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ravine.cli", "serve", "--no-open", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def warm_http(url: str, timeout: float = 180) -> str:
    """Send the request until every worker answers from compiled kernels: each worker process
    compiles (or loads from the disk cache) its own, in the background. A new connection per
    request lets the OS hand them to different workers; 20 compiled answers in a row end it."""
    deadline = time.monotonic() + timeout
    backend, streak = "", 0
    while time.monotonic() < deadline and streak < 20:
        with httpx.Client(timeout=30) as c:
            backend = c.post(url + "/api/run", json=setup_body()).json()["backend"]
        streak = streak + 1 if backend == "numba" else 0
        if backend != "numba":
            time.sleep(0.25)
    return backend


def http_serial(url: str, n: int) -> tuple[dict, dict]:
    times, server = [], []
    with httpx.Client(timeout=30) as c:
        for i in range(n):
            t0 = time.perf_counter()
            r = c.post(url + "/api/run", json=setup_body(i))
            d = r.json()
            times.append(1000 * (time.perf_counter() - t0))
            server.append(d["server_ms"])
            assert r.status_code == 200
    return summary(times), summary(server)


def http_load(url: str, clients: int, seconds: float, max_requests: int) -> dict:
    lat, errors, count = [], [], [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(k):
        with httpx.Client(timeout=30) as c:
            i = k
            while time.monotonic() < stop_at:
                with lock:
                    if count[0] >= max_requests:
                        return
                    count[0] += 1
                t0 = time.perf_counter()
                try:
                    r = c.post(url + "/api/run", json=setup_body(i))
                    dt = 1000 * (time.perf_counter() - t0)  # the answer is in; checking it is the client's time
                    ok = r.status_code == 200 and len(_loads(r.content)["trajectories"]) == len(OPTIMIZERS)
                except Exception as exc:
                    ok = False
                    r = exc
                    dt = 1000 * (time.perf_counter() - t0)
                with lock:
                    lat.append(dt)
                    if not ok:
                        errors.append(repr(r)[:100])
                i += clients

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return {
        "clients": clients,
        "seconds": wall,
        "requests": len(lat),
        "errors": len(errors),
        "error_samples": errors[:3],
        "rps": len(lat) / wall,
        "median_ms": statistics.median(lat),
        "p95_ms": pct(lat, 95),
        "max_ms": max(lat),
    }


_WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local bad = 0
  for st, n in pairs(statuses) do if st ~= 200 then bad = bad + n end end
  io.write(string.format("RAVINE %%d %%d %%d %%d %%.1f %%.1f %%.1f %%.3f\\n",
    summary.requests, bad + summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.timeout, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000, 0))
end
"""


def wrk_load(url: str, clients: int, seconds: float) -> dict:
    """The same load from wrk (C, two threads): the Python clients' own CPU on a 2-core machine
    otherwise takes most of the time being measured. Every answer's status is counted (non-200 =
    error); wrk's timeouts and socket errors count as errors too."""
    import tempfile

    script = _WRK_LUA % json.dumps(setup_body())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "10s", "-s", fh.name, url + "/api/run"],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    os.unlink(fh.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RAVINE ")), None)
    if line is None:
        raise RuntimeError("wrk gave no summary: " + (out.stderr or out.stdout)[-300:])
    n, bad, timeouts, dur_us, med, p95, mx, _ = line.split()[1:]
    wall = int(dur_us) / 1e6
    return {
        "clients": clients,
        "seconds": wall,
        "requests": int(n),
        "errors": int(bad),
        "error_samples": [],
        "rps": int(n) / wall,
        "median_ms": float(med),
        "p95_ms": float(p95),
        "max_ms": float(mx),
        "client": "wrk",
    }


def write_doc(res: dict, path: Path):
    busy = res["busy"]
    ip, hs, hsrv, ld = res["in_process"], res["http_serial"], res["http_server"], res["load"]
    ok = lambda cond: "met" if cond else "**missed**"
    lines = [
        "# Explorer performance" + (" (preliminary)" if busy else ""),
        "",
        f"Measured {res['date']} by `perf/explorer.py{' --quick' if res['quick'] else ''}` on "
        f"{res['machine']} ({res['cpus']} CPUs), Python {res['python']}.",
        "",
    ]
    if busy:
        lines += [
            f"**Preliminary:** the machine was busy (load average {res['load_before'][0]:.2f} before, "
            f"{res['load_after'][0]:.2f} after, on {res['cpus']} CPUs; other test suites were running). "
            "Re-run `python perf/explorer.py` on an idle machine for the figures of record.",
            "",
        ]
    lines += [
        "Request: `POST /api/run`, Rosenbrock, 8 optimizers (" + ", ".join(OPTIMIZERS) + ") × 500 steps, "
        "record of every step (θ, loss, ‖g‖, ∇f, optimizer state); response about "
        f"{res['bytes'] / 1e3:.0f} kB of JSON. Kernels compiled before timing (backend: {res['backend']}).",
        "",
        "| measurement | n | median | p95 | max | target |",
        "|---|---|---|---|---|---|",
        f"| in-process, around the handler (validate + run + JSON) | {ip['n']} | {ip['median_ms']:.1f} ms | "
        f"{ip['p95_ms']:.1f} ms | {ip['max_ms']:.1f} ms | median < 50 ms: {ok(ip['median_ms'] < 50)} |",
        f"| HTTP end to end, one client (uvicorn, loopback) | {hs['n']} | {hs['median_ms']:.1f} ms | "
        f"{hs['p95_ms']:.1f} ms | {hs['max_ms']:.1f} ms | median < 50 ms: {ok(hs['median_ms'] < 50)} |",
        f"| server's own time (`server_ms`, runs only) | {hsrv['n']} | {hsrv['median_ms']:.1f} ms | "
        f"{hsrv['p95_ms']:.1f} ms | {hsrv['max_ms']:.1f} ms | |",
        "",
        f"Load: {ld['clients']} concurrent clients for {ld['seconds']:.0f} s (keep-alive, "
        f"loopback, {res.get('workers', 1)} uvicorn worker(s), load from {ld.get('client', 'threads')}):",
        "",
        "| requests | errors | requests/s | median | p95 | max | targets |",
        "|---|---|---|---|---|---|---|",
        f"| {ld['requests']} | {ld['errors']} | {ld['rps']:.1f} | {ld['median_ms']:.0f} ms | {ld['p95_ms']:.0f} ms | "
        f"{ld['max_ms']:.0f} ms | 0 errors: {ok(ld['errors'] == 0)}; p95 < 150 ms: {ok(ld['p95_ms'] < 150)} |",
        "",
        "Notes:",
        "",
        "- The server runs `ravine serve --workers N` (default here: one per core). Each worker is a "
        "process with its own compiled kernels (loaded from the disk cache); within a worker the runs "
        "release the GIL while the kernels loop. The load generator (wrk when installed, else Python "
        "threads, whose own CPU then dominates on a small machine) runs on the same machine and takes "
        "CPU from the server.",
        "- Trajectories are sent as float32 numbers (7 significant digits) for drawing; `/api/explain` "
        "gives one step's exact float64 record and `/api/export` all of it.",
        "- The first request for a new (optimizer, problem, flags) combination is answered by the NumPy "
        "path (≈ 20–40 µs per step and optimizer) while its Numba kernel compiles in the background "
        "(≈ 1–4 s per kernel, once per machine: kernels are cached on disk); later requests take the "
        "compiled path.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short load phase (8 s) and 30 requests per phase")
    ap.add_argument("--requests", type=int, default=None, help="requests per serial phase (>= 30)")
    ap.add_argument("--seconds", type=float, default=None, help="load duration (default 60, quick 8)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (ravine serve --workers; default: one per core)",
    )
    ap.add_argument(
        "--client",
        choices=["auto", "wrk", "threads"],
        default="auto",
        help="load generator: wrk when installed (apt-get install wrk), else Python threads",
    )
    ap.add_argument("--no-write", action="store_true", help="do not write docs/performance-explorer.md")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance-explorer.md"))
    a = ap.parse_args(argv)
    n = max(30, a.requests or (30 if a.quick else 60))
    seconds = a.seconds or (8.0 if a.quick else 60.0)
    before = load_state()

    ip, backend = in_process(n)
    print(f"in-process handler: median {ip['median_ms']:.1f} ms, p95 {ip['p95_ms']:.1f} ms ({backend})")
    proc, url = start_server(a.workers)
    try:
        http_backend = warm_http(url)
        size = len(httpx.post(url + "/api/run", json=setup_body(), timeout=30).content)
        hs, hsrv = http_serial(url, n)
        print(
            f"HTTP one client: median {hs['median_ms']:.1f} ms, p95 {hs['p95_ms']:.1f} ms "
            f"(server {hsrv['median_ms']:.1f} ms; {http_backend})"
        )
        if a.client == "wrk" or (a.client == "auto" and shutil.which("wrk")):
            ld = wrk_load(url, a.clients, seconds)
        else:
            ld = http_load(url, a.clients, seconds, max_requests=200_000)
            ld["client"] = "python threads"
        print(
            f"load {a.clients} clients {ld['seconds']:.0f} s: {ld['requests']} requests, {ld['errors']} errors, "
            f"{ld['rps']:.1f} req/s, median {ld['median_ms']:.0f} ms, p95 {ld['p95_ms']:.0f} ms"
        )
    finally:
        proc.terminate()
        proc.wait(10)
    after = load_state()
    cpus = before["cpus"] or 1
    busy = max(before["loadavg"][0], after["loadavg"][0]) > 0.5 * cpus + (0 if a.quick else 1)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "quick": a.quick,
        "machine": platform.machine() + " " + platform.processor(),
        "cpus": cpus,
        "python": platform.python_version(),
        "load_before": before["loadavg"],
        "load_after": after["loadavg"],
        "busy": busy or a.quick,
        "in_process": ip,
        "http_serial": hs,
        "http_server": hsrv,
        "load": ld,
        "backend": http_backend,
        "bytes": size,
        "workers": a.workers,
    }
    if not a.no_write:
        write_doc(res, Path(a.out))
        print(f"wrote {a.out}")
    print(json.dumps({k: v for k, v in res.items() if k not in ("load_before", "load_after")}, default=str)[:2000])


if __name__ == "__main__":
    main()
