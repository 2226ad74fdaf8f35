"""What opening a ``ravine bench`` store costs (docs/benchmarks.md, "Store"). No assertions: it prints.

    PYTHONPATH=src python perf/store.py [TRIALS ...]

For each number of trials (default 3000 — the small suite's size — and 30000) a store is
filled with complete rows whose curves hold 200 evaluations (about 12 KB of JSON each), then
opened 5 times to read (``mode=ro``: integrity check, schema check) and to write (lock, check,
plan hash); the median is printed with the time of ``PRAGMA quick_check`` alone and the size.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time

from ravine.benchmark.store import Store


def fill(path: str, n: int) -> None:
    plan = {"suite": "perf", "n": n}
    st = Store.open(path, plan, "perf")
    k = 200
    curves = {
        "step": list(range(0, 10 * k, 10)),
        "time": [0.001 * i for i in range(k)],
        "train_loss": [1.0 / (1 + i) + 1e-9 * i for i in range(k)],
        "val_loss": [1.1 / (1 + i) + 1e-9 * i for i in range(k)],
    }
    st.add_planned(
        {
            "key": f"tune/lr/p/o/p{i}/s0",
            "phase": "tune",
            "protocol": "lr",
            "problem": "p",
            "optimizer": "o",
            "point": i,
            "seed": 0,
            "steps": 2000,
            "hyper": {"lr": 1e-3 * (1 + i % 97)},
        }
        for i in range(n)
    )
    text = json.dumps(curves)
    with st.tx() as c:
        c.execute(
            "UPDATE trials SET status = 'ok', curves = ?, metrics = '{\"final_val\": 0.1}', wall_time = 1.0, "
            "versions = '{}', hardware = '{}', backend = 'local', finished_at = planned_at",
            (text,),
        )
    st.close()


def median_time(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(sizes: list[int]) -> None:
    print(f"sqlite {sqlite3.sqlite_version}; median of 5; the file in the page cache (warm)")
    print(f"{'trials':>7} {'size':>9} {'open to read':>13} {'open to write':>14} {'quick_check':>12}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.db")
            fill(path, n)
            size = os.path.getsize(path)
            read = median_time(lambda: Store.open(path).close())
            write = median_time(lambda: Store.open(path, {"suite": "perf", "n": n}, "perf").close())

            def qc():
                con = sqlite3.connect(path)
                con.execute("PRAGMA quick_check").fetchall()
                con.close()

            check = median_time(qc)
            print(f"{n:>7} {size / 2**20:>7.1f}MB {read * 1e3:>11.1f}ms {write * 1e3:>12.1f}ms {check * 1e3:>10.1f}ms")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [3000, 30000])
