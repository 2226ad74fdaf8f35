"""Soak of the explorer's memory: the server's RSS after warm-up and after each pass.

Starts the real server (``python -m ravine serve`` on 127.0.0.1, a free port, in a child
process, with a fresh kernel cache folder unless ``--cache-dir`` is given), reads ``/api/meta``
and sends every rule × convention on every 2-D problem through ``/api/run`` and
``/api/hypermap`` (a small map), pass after pass. After each pass it prints the server's RSS
(``VmRSS`` of ``/proc/<pid>/status``) and what the answers were (status codes, backends).

``--settle S`` waits after each combination until the server's CPU time stops growing (its
background compiler idle), at most S seconds: every kernel the server wants to compile is then
compiled, the worst case for memory. Without it (``--settle 0``) requests come as fast as the
server answers and a full compile queue drops most compiles, as under a real flood.

The code measured is the ``ravine`` the child imports: ``PYTHONPATH`` if set, else this
checkout's ``src``::

    python perf/explorer_soak.py                        # every problem, 2 passes, settle 60 s
    python perf/explorer_soak.py --problems 3 --passes 2
    PYTHONPATH=/other/checkout/src python perf/explorer_soak.py --problems 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from explorer import ROOT, start_server  # perf/explorer.py: ravine serve in a child process


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def settle(pid: int, limit: float, quiet: float = 0.5) -> float:
    """Wait until the process used < 2 % of a core over ``quiet`` seconds, at most ``limit``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = cpu_seconds(pid)
        time.sleep(quiet)
        if cpu_seconds(pid) - c0 < 0.02 * quiet:
            break
    return time.monotonic() - t0


def combinations(meta: dict, problems: int | None, steps: int):
    """(label, setup) for every rule × convention on the first ``problems`` problems."""
    for p in meta["problems"][:problems]:
        for o in meta["optimizers"]:
            for conv in o["conventions"]:
                hyper = {} if "lr" in o["defaults"][conv] else {"lr": 1e-2}  # optax's Adadelta has no η
                spec = {"name": o["name"], "convention": conv, "hyper": hyper}
                setup = {"problem": p["name"], "start": p["start"], "steps": steps, "optimizers": [spec]}
                yield f"{p['name']}/{o['name']}/{conv}", setup


def one_pass(client, url, pid, combos, n, settle_s, tally):
    for _label, setup in combos:
        r = client.post(url + "/api/run", json=setup)
        tally[f"run {r.status_code} {r.json().get('backend', '-') if r.status_code == 200 else '-'}"] += 1
        m = client.post(url + "/api/hypermap", json={"setup": setup, "index": 0, "metric": "loss", "n": n})
        tally[f"map {m.status_code} {m.json().get('backend', '-') if m.status_code == 200 else '-'}"] += 1
        if settle_s > 0:
            settle(pid, settle_s)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=None, help="the first N problems of /api/meta (default all)")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50, help="steps per run (default 50)")
    ap.add_argument("--n", type=int, default=8, help="cells per axis of the map (default 8)")
    ap.add_argument("--settle", type=float, default=60.0, help="wait for the compiler after each combination, s")
    ap.add_argument("--cache-dir", default=None, help="RAVINE_CACHE_DIR for the server (default: a fresh one)")
    args = ap.parse_args(argv)

    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="ravine-soak-") as tmp:
        env["RAVINE_CACHE_DIR"] = args.cache_dir or tmp
        proc, url = start_server(env=env)
        try:
            with httpx.Client(timeout=120) as client:
                meta = client.get(url + "/api/meta").json()
                combos = list(combinations(meta, args.problems, args.steps))
                print(
                    f"code: {env['PYTHONPATH']}; {len(combos)} rule × convention × problem combinations, "
                    f"each through /api/run and /api/hypermap (n={args.n}), {args.steps} steps, settle {args.settle:g} s"
                )
                print(f"RSS at start: {rss_mib(proc.pid):.0f} MiB")
                # warm-up: the first kernels (Numba's own start-up memory), then quiet
                one_pass(client, url, proc.pid, combos[:1] * 3, args.n, max(args.settle, 30.0), Counter())
                base = rss_mib(proc.pid)
                print(f"RSS after warm-up: {base:.0f} MiB")
                for k in range(1, args.passes + 1):
                    t0 = time.monotonic()
                    tally = Counter()
                    one_pass(client, url, proc.pid, combos, args.n, args.settle, tally)
                    settle(proc.pid, max(args.settle, 5.0))
                    now = rss_mib(proc.pid)
                    kernels = len(list(Path(env["RAVINE_CACHE_DIR"]).rglob("k_*.py")))
                    print(
                        f"RSS after pass {k}: {now:.0f} MiB (+{now - base:.0f} over warm-up) in "
                        f"{time.monotonic() - t0:.0f} s; kernel modules in the cache: {kernels}; "
                        f"answers: {json.dumps(dict(sorted(tally.items())))}",
                        flush=True,
                    )
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
