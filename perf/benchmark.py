"""Timings of ``ravine bench`` (docs/benchmarks.md, "Performance"). No assertions: it prints.

    PYTHONPATH=src python perf/benchmark.py [overhead] [batched] [compile] [smoke]

overhead  one trial (ravine.benchmark.trial.run_trial, evaluations included) against the
          same steps in a plain hand-written torch loop (same model, optimizer, minibatches)
batched   32 configurations of the digits MLP: --backend local (process pool, 2 workers)
          against --backend batched --compile always (one vectorized model of 32 in one
          process; 2 × 16 on 2 workers, the default split) and --compile never (2 × 16), warm:
          the compilation is in the warm-up, not timed (``compile`` measures it)
compile   what compiling the batched step costs: one 16-configuration digits-MLP batch in a
          fresh process, compiled (first batch: tracing + compilation; second: steady) and
          eager, with inductor's disk cache empty (cold) and then filled (warm)
smoke     ``ravine bench run --suite smoke`` wall-clock, default workers
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# compiled code (the batched backend's step) is cached across runs in the user's private
# inductor cache, where ravine puts it (ravine._cache.use_for_inductor)


def overhead(reps: int = 9) -> None:
    """One trial through ``run_trial`` against the same work written by hand: the same model,
    optimizer (with the same non-finite check), minibatches, and the same evaluations of the
    validation and test splits at the problem's evaluation steps plus the whole training split
    at the end. What differs is the harness: curves, metrics, bookkeeping. Interleaved;
    medians (and the fastest of each, for reference)."""
    import torch

    from ravine import optim
    from ravine.benchmark.space import full_hyper, optim_keywords
    from ravine.benchmark.trial import TrialSpec, problem_instance, run_trial

    torch.set_num_threads(1)
    for problem, opt, lr in (("digits_mlp", "adam", 3e-3), ("mnist1d_cnn", "adam", 3e-3)):
        pr = problem_instance(problem, get_steps(problem))
        data = pr.data()
        hyper = full_hyper(opt, {"lr": lr, "weight_decay": pr.weight_decay})
        spec = TrialSpec("perf", problem, opt, hyper, 0, pr.steps)
        evals = set(pr.eval_steps())

        def plain():
            t = time.perf_counter()
            model = pr.model(0)
            o = optim.Adam(model.parameters(), impl="eager", nonfinite="raise", **optim_keywords(opt, hyper))
            gen = torch.Generator().manual_seed(0)
            it = pr.batches(data, gen)
            seen = []

            def evaluate(x, y):
                with torch.no_grad():
                    out = model(x)
                    return float(torch.nn.functional.cross_entropy(out, y)), float((out.argmax(-1) != y).float().mean())

            seen.append((evaluate(data.x_val, data.y_val), evaluate(data.x_test, data.y_test)))
            for step in range(1, pr.steps + 1):
                xb, yb = next(it)
                o.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(xb), yb)
                loss.item()
                loss.backward()
                o.step()
                if step in evals:
                    seen.append((evaluate(data.x_val, data.y_val), evaluate(data.x_test, data.y_test)))
            seen.append(evaluate(data.x_train, data.y_train))
            return time.perf_counter() - t

        def harness():
            t = time.perf_counter()
            out = run_trial(spec)
            assert out.status == "ok", out.error
            return time.perf_counter() - t

        plain(), harness()
        tp, th = [], []
        for _ in range(reps):  # interleaved (the machine is shared)
            tp.append(plain())
            th.append(harness())
        print(
            f"overhead {problem}/{opt}, {pr.steps} steps, {len(evals)} evaluations of val+test and the "
            f"training split at the end, both: hand-written {np.median(tp):.3f} s, one trial {np.median(th):.3f} s: "
            f"ratio of medians {np.median(th) / np.median(tp):.3f} (fastest {min(tp):.3f} / {min(th):.3f}; "
            f"load {os.getloadavg()[0]:.2f})",
            flush=True,
        )


def get_steps(problem):
    from ravine.benchmark.problems import get_problem

    return get_problem(problem).steps


def batched() -> None:
    from ravine.benchmark.plan import execute, planned_row
    from ravine.benchmark.space import full_hyper, sobol_points, space_for
    from ravine.benchmark.store import Store

    pts = sobol_points(32, 0)
    sp = space_for("adam")
    steps = get_steps("digits_mlp")
    rows = [
        planned_row(
            "tune",
            "all",
            "digits_mlp",
            "adam",
            i,
            0,
            steps,
            full_hyper("adam", {**sp.sample(pts[i], "all"), "weight_decay": 1e-4}),
        )
        for i in range(32)
    ]
    from ravine.benchmark.plan import make_pool

    def run(name, kw, pool=None):
        with tempfile.TemporaryDirectory() as d:
            st = Store.open(os.path.join(d, "s.db"), {"perf": name}, "perf")
            st.add_planned(rows)  # the same jobs each time (compiled once per process)
            t = time.perf_counter()
            n = execute(st, st.pending(), pool=pool, **kw)
            dt = time.perf_counter() - t
            bad = [r["status"] for r in st.rows() if r["status"] == "failed"]
            assert not bad, bad
            return n, dt

    pool = make_pool(2)
    cases = (
        ("local, 2 workers", dict(backend="local", workers=2), pool),
        ("local, 1 worker (inline)", dict(backend="local", workers=1), None),
        ("batched, 1 × 32 (one process)", dict(backend="batched", workers=1, batch=32, compile="always"), None),
        (
            "batched, 2 workers, --batch 32 (the default: 2 × 16)",
            dict(backend="batched", workers=2, batch=32, compile="always"),
            pool,
        ),
        (
            "batched, 2 × 16, eager (--compile never)",
            dict(backend="batched", workers=2, batch=32, compile="never"),
            pool,
        ),
    )
    res: dict = {name: [] for name, _, _ in cases}
    reps = int(os.environ.get("RAVINE_PERF_REPS", "3"))
    try:
        for name, kw, p in cases:  # start-up (imports, data, first calls, compilation) is not timed
            t = time.perf_counter()
            run(name, kw, p)
            run(name, kw, p)
            print(f"batched-vs-local {name}: warm-up {time.perf_counter() - t:.2f} s", flush=True)
        for _ in range(reps):  # interleaved: the machine is shared
            for name, kw, p in cases:
                n, dt = run(name, kw, p)
                res[name].append(n / dt)
                print(f"batched-vs-local {name}: {n} trials in {dt:.2f} s = {n / dt:.2f} trials/s", flush=True)
    finally:
        pool.shutdown()
    med = {k: float(np.median(v)) for k, v in res.items()}
    base = med["local, 2 workers"]
    print(f"medians of {reps} interleaved runs; load average after: {os.getloadavg()}")
    loc = res["local, 2 workers"]
    for k, v in med.items():
        per_round = [a / b for a, b in zip(res[k], loc)]  # each round's ratio (run side by side)
        print(
            f"  {k}: {v:.2f} trials/s = {v / base:.2f}× local (2 workers); per round "
            f"{min(per_round):.2f}–{max(per_round):.2f}×, median {np.median(per_round):.2f}×"
        )


_COMPILE_CHILD = """
import json, os, sys, time
from ravine.benchmark import batched
from ravine.benchmark.space import full_hyper, sobol_points, space_for
from ravine.benchmark.trial import TrialSpec
pts, sp = sobol_points(16, 0), space_for("adam")
specs = [TrialSpec(f"t{i}", "digits_mlp", "adam", full_hyper("adam", {**sp.sample(pts[i], "all"), "weight_decay": 1e-4}), 0, 200) for i in range(16)]
out = {}
for name, flag in (("compiled, first batch", "1"), ("compiled, second batch", "1"), ("eager", "0"), ("eager, again", "0")):
    os.environ["RAVINE_BATCHED_COMPILE"] = flag
    t = time.perf_counter()
    batched.run_batch(specs)
    out[name] = time.perf_counter() - t
out["compile_seconds"] = batched.STATS["compile_seconds"]
print(json.dumps(out))
"""


def compile_cost() -> None:
    import json

    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=d, PYTHONPATH=os.path.join(ROOT, "src"))
        for cache in ("cold (empty cache)", "warm (cache filled by the run above)"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_CHILD], env=env, capture_output=True, text=True)
            if r.returncode:
                print(f"compile {cache}: failed: {r.stderr[-500:]}", flush=True)
                continue
            v = json.loads(r.stdout.strip().splitlines()[-1])
            print(
                f"compile {cache}, 16 digits-MLP configurations × 200 steps, one process: "
                + ", ".join(f"{k} {x:.2f} s" for k, x in v.items()),
                flush=True,
            )


def smoke() -> None:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "ravine.cli",
                "bench",
                "run",
                os.path.join(d, "s.db"),
                "--suite",
                "smoke",
                "--quiet",
                "--report",
                os.path.join(d, "rep"),
            ],
            capture_output=True,
            text=True,
        )
        dt = time.perf_counter() - t
        print(
            f"smoke suite (default workers = {os.cpu_count()}), report included: {dt:.1f} s, rc {r.returncode}"
            + (f" {r.stderr[-500:]}" if r.returncode else ""),
            flush=True,
        )


if __name__ == "__main__":
    which = sys.argv[1:] or ["overhead", "batched", "compile", "smoke"]
    print(f"load average before: {os.getloadavg()}", flush=True)
    for w in which:
        {"overhead": overhead, "batched": batched, "compile": compile_cost, "smoke": smoke}[w]()
