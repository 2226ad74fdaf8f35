"""The training harness's acceptance runs, timed: wall time and test accuracy of

    ravine train --problem digits --optimizer adam                  (MLP; target > 95 %, < 60 s)
    ravine train --problem mnist1d --model cnn --optimizer adam     (target > 85 %)

each in a new process, as a user runs them (one-time costs included).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

RUNS = [
    (["--problem", "digits", "--optimizer", "adam"], 0.95),
    (["--problem", "mnist1d", "--model", "cnn", "--optimizer", "adam"], 0.85),
]


def main():
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as out:
        for args, target in RUNS:
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "ravine.cli", "train", *args, "--quiet", "--json", "--out", out],
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                print("failed:", " ".join(args), proc.stderr[-500:])
                continue
            res = json.loads(proc.stdout)
            acc = res.get("test_acc") or res.get("final", {}).get("test_acc")
            print(f"ravine train {' '.join(args)}: test accuracy {acc:.2%} (target > {target:.0%}), wall {wall:.1f} s")


if __name__ == "__main__":
    main()
