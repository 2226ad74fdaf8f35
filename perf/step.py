"""Optimizer step time: every ravine.optim optimizer beside torch.optim's for-loop,
foreach and fused implementations, float32, in one run.

    python perf/step.py            # 1 M, 10 M, 50 M parameters; 1 tensor and 200 tensors of mixed sizes
    python perf/step.py --quick    # 1 M parameters only (a check that everything runs)
    python perf/step.py --ab       # interleaved: every optimizer steps once per round, side by side

``--ab`` builds all the optimizers of a configuration first and then times them in rounds (one
step of each per round, ``--steps`` rounds): on a shared machine whose load drifts, the
ratios of interleaved medians are far steadier than those of runs minutes apart.

For each configuration: ``--warmup`` steps, then the median of ``--steps`` (≥ 7)
timed steps. Achieved bandwidth = bytes the method must move per step (its
memory pattern: e.g. Adam reads p, g, s, r and writes p, s, r → 7 × 4 bytes
per parameter) / median time, printed beside a triad bandwidth (a = b + s·c,
12 bytes per element) measured in the same run at the same size. The ``ravine`` rows use the DEFAULT
settings (``nonfinite="ignore"``: no check, as torch); the ``ravine raise`` rows (Adam, SGD)
turn the non-finite check on (one extra read of g, a sum, before the update; its bytes are not
counted, so the per-byte figures are strict). The first ravine step
(compilation, or loading it from inductor's cache) is timed separately.

Compiled code is cached in the user's private inductor cache (``TORCHINDUCTOR_CACHE_DIR`` if
set, else the ``inductor`` folder of ``$RAVINE_CACHE_DIR`` or ``~/.cache/ravine``, as
``ravine.optim`` does) so that a second run starts warm.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "src"))
import ravine.optim as ro  # noqa: E402
from ravine._cache import use_for_inductor  # noqa: E402

W = 10  # WindowedRMSprop window (its default)

#: method → (ravine kwargs, torch class or None, units of 4 bytes moved per parameter per step)
METHODS = {
    "SGD": (dict(lr=1e-3, momentum=0.9), "SGD", 5),  # r p g b, w p b
    "Momentum": (dict(lr=1e-3), None, 5),  # r p g v, w p v
    "Adagrad": (dict(lr=1e-2), "Adagrad", 5),  # r p g r, w p r
    "RMSprop": (dict(lr=1e-3), "RMSprop", 5),  # r p g r, w p r
    "Adadelta": (dict(lr=1.0), "Adadelta", 7),  # r p g s u, w p s u
    "Adam": (dict(lr=1e-3), "Adam", 7),  # r p g s r, w p s r
    "AdamW": (dict(lr=1e-3), "AdamW", 7),
    "NAdam": (dict(lr=1e-3), "NAdam", 7),  # torch: μ-product is a scalar
    "Yogi": (dict(lr=1e-2), None, 7),
    "RMSpropNesterov": (dict(lr=1e-3), None, 7),  # r p g r v, w p r v
    "WindowedRMSprop": (dict(lr=1e-3, window=W), None, 2 * W + 2),  # r p g w[:W-1], w p w
}
#: ravine's own pattern where it differs from torch's
RAVINE_UNITS = {"NAdam": 9}  # the rule keeps ∏μ per coordinate (r + w)
CHECKED = ("Adam", "SGD")  # also timed with nonfinite="raise" (the check)


def machine_info() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"CPU: {cpu}; cores: {os.cpu_count()}; torch threads: {torch.get_num_threads()}; "
        f"torch {torch.__version__}; python {platform.python_version()}; {platform.platform()}"
    )


def layout(n: int, tensors: int) -> list[int]:
    if tensors == 1:
        return [n]
    rng = np.random.default_rng(0)
    w = np.exp(rng.uniform(0.0, np.log(5000.0), tensors))  # sizes spread over ~4 decades
    sizes = np.maximum(1, np.floor(w / w.sum() * n)).astype(np.int64)
    sizes[np.argmax(sizes)] += n - sizes.sum()
    return [int(s) for s in sizes]


def make_params(sizes, device):
    ps = []
    for s in sizes:
        p = torch.nn.Parameter(torch.empty(s, dtype=torch.float32, device=device).uniform_(-1, 1))
        p.grad = torch.empty_like(p).uniform_(-1e-2, 1e-2)
        ps.append(p)
    return ps


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(opt, steps, warmup, device):
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):  # SGD's first step is eager, its compile comes at step 2
        opt.step()
    sync(device)
    first = time.perf_counter() - t0
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.step()
        sync(device)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), first


def triad(n, steps, device):
    a = torch.empty(n, device=device)
    b = torch.rand(n, device=device)
    c = torch.rand(n, device=device)
    for _ in range(2):
        torch.add(b, c, alpha=0.5, out=a)
    ts = []
    for _ in range(steps):
        sync(device)
        t0 = time.perf_counter()
        torch.add(b, c, alpha=0.5, out=a)
        sync(device)
        ts.append(time.perf_counter() - t0)
    return 12 * n / statistics.median(ts) / 1e9


def _torch(name, **kw):
    return lambda ps: getattr(torch.optim, name)(ps, **kw)


#: --ab: name → (factory, 4-byte words moved per parameter per step, words of state per parameter).
#: The torch rows are the references: fused Adam for every ratio; for-loop and foreach beside it.
AB = {
    "torch fused Adam": (_torch("Adam", lr=1e-3, fused=True), 7, 2),
    "torch foreach Adam": (_torch("Adam", lr=1e-3, foreach=True), 7, 2),
    "torch for-loop Adam": (_torch("Adam", lr=1e-3, foreach=False), 7, 2),
    "ravine Adam": (lambda ps: ro.Adam(ps, lr=1e-3), 7, 2),
    "ravine Adam raise": (lambda ps: ro.Adam(ps, lr=1e-3, nonfinite="raise"), 7, 2),  # the check: + a read of g
    "torch foreach RMSprop": (_torch("RMSprop", lr=1e-3, foreach=True), 5, 1),
    "ravine RMSprop": (lambda ps: ro.RMSprop(ps, lr=1e-3), 5, 1),
    "torch foreach Adadelta": (_torch("Adadelta", lr=1.0, foreach=True), 7, 2),
    "ravine Adadelta": (lambda ps: ro.Adadelta(ps, lr=1.0), 7, 2),
    "torch foreach NAdam": (_torch("NAdam", lr=1e-3, foreach=True), 7, 2),
    "ravine NAdam": (lambda ps: ro.NAdam(ps, lr=1e-3), 9, 3),
    "ravine Yogi": (lambda ps: ro.Yogi(ps, lr=1e-2), 7, 2),
    # the ring: reads the W rows (the sum) and p, g; writes one row and p
    "ravine WindowedRMSprop": (lambda ps: ro.WindowedRMSprop(ps, lr=1e-3, window=W), W + 4, W),
}


def run_ab(sizes, tensor_counts, steps, warmup, device, only=None):
    print(
        "\n## interleaved (--ab): median ms over rounds; × torch fused Adam; × fused Adam per byte moved "
        "(the method's memory pattern / Adam's 7 words); × fused Adam per byte of state\n"
    )
    print("| params | tensors | optimizer | ms/step | × torch fused Adam | per byte moved | per byte of state |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    names = [k for k in AB if only is None or k == "torch fused Adam" or any(o in k for o in only)]
    for n in sizes:
        for nt in tensor_counts:
            sz = layout(n, nt)
            opts = {}
            for name in names:
                opts[name] = AB[name][0](make_params(sz, device))
                for _ in range(max(1, warmup)):
                    opts[name].step()
            times = {name: [] for name in opts}
            for _ in range(steps):
                for name, opt in opts.items():
                    sync(device)
                    t0 = time.perf_counter()
                    opt.step()
                    sync(device)
                    times[name].append(time.perf_counter() - t0)
            ref = statistics.median(times["torch fused Adam"])
            for name in opts:
                med = statistics.median(times[name])
                _, moved, state = AB[name]
                per_byte = (med / moved) / (ref / 7)
                per_state = (med / state) / (ref / 2)
                print(
                    f"| {n:,} | {nt} | {name} | {med * 1e3:.2f} | {med / ref:.2f} | {per_byte:.2f} | {per_state:.2f} |",
                    flush=True,
                )
            del opts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 M parameters only")
    ap.add_argument("--sizes", default=None, help="comma-separated parameter counts (default 1e6,1e7,5e7)")
    ap.add_argument("--tensors", default="1,200", help="comma-separated tensor counts (default 1,200)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names")
    ap.add_argument("--steps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--impl", default="auto", choices=ro.IMPLS)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    ap.add_argument("--ab", action="store_true", help="interleaved: one step of each optimizer per round")
    ap.add_argument(
        "--only", default=None, help="--ab: only the rows whose name contains one of these (comma-separated)"
    )
    a = ap.parse_args(argv)
    if a.steps < 7:
        ap.error("--steps must be at least 7")
    sizes = [int(float(s)) for s in (a.sizes or ("1e6" if a.quick else "1e6,1e7,5e7")).split(",")]
    tensor_counts = [int(t) for t in a.tensors.split(",")]
    methods = [m for m in a.methods.split(",") if m]
    device = torch.device(a.device)
    t_start = time.perf_counter()
    print(machine_info())
    if a.ab:
        run_ab(sizes, tensor_counts, a.steps, a.warmup, device, a.only.split(",") if a.only else None)
        print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
        return
    print(
        f"device {device}; float32; median of {a.steps} steps after {a.warmup} warm-up; "
        f"inductor cache {use_for_inductor()}"
    )
    rows, firsts = [], []
    header = (
        "| params | tensors | method | impl | ms/step | GB/s | × torch best | × fused Adam per byte |\n"
        "|---:|---:|---|---|---:|---:|---:|---:|"
    )
    for n in sizes:
        tri = triad(n, a.steps, device)
        print(f"\n== {n:,} parameters: triad {tri:.1f} GB/s")
        for nt in tensor_counts:
            sz = layout(n, nt)
            results = {}
            # torch first (fused Adam is the per-byte reference)
            for m in methods:
                kw, tname, units = METHODS[m]
                if tname is None:
                    continue
                for label, tkw in (
                    ("torch for-loop", dict(foreach=False)),
                    ("torch foreach", dict(foreach=True)),
                    ("torch fused", dict(fused=True)),
                ):
                    ps = make_params(sz, device)
                    try:
                        opt = getattr(torch.optim, tname)(ps, **kw, **tkw)
                        med, _ = time_steps(opt, a.steps, a.warmup, device)
                    except (RuntimeError, ValueError, TypeError):
                        continue  # e.g. no fused implementation of this method
                    finally:
                        del ps
                    results[(m, label)] = (med, units)
            for m in methods:
                kw, tname, units = METHODS[m]
                units = RAVINE_UNITS.get(m, units)
                for label, pol in (("ravine", "ignore"), ("ravine raise", "raise")):
                    if pol == "raise" and m not in CHECKED:
                        continue
                    ps = make_params(sz, device)
                    opt = getattr(ro, m)(ps, **kw, impl=a.impl, nonfinite=pol)
                    c0 = ro.compile_stats()["compile_seconds"]
                    med, first = time_steps(opt, a.steps, a.warmup, device)
                    firsts.append((m, label, n, nt, first, ro.compile_stats()["compile_seconds"] - c0))
                    del opt, ps
                    results[(m, label)] = (med, units)
            fused_adam = results.get(("Adam", "torch fused"))
            ref_pb = fused_adam[0] / (fused_adam[1] * 4 * n) if fused_adam else None
            for m in methods:
                tbest = min(
                    (v[0] for (mm, lab), v in results.items() if mm == m and lab.startswith("torch")), default=None
                )
                for (mm, lab), (med, units) in results.items():
                    if mm != m:
                        continue
                    gbs = units * 4 * n / med / 1e9
                    vs_best = f"{med / tbest:.2f}" if tbest and lab.startswith("ravine") else ""
                    vs_pb = (
                        f"{med / (units * 4 * n) / ref_pb:.2f}"
                        if ref_pb and lab.startswith("ravine") and (m, "torch fused") not in results
                        else ""
                    )
                    row = f"| {n:,} | {nt} | {m} | {lab} | {med * 1e3:.2f} | {gbs:.1f} | {vs_best} | {vs_pb} |"
                    rows.append(row)
                    print(row, flush=True)
    print("\n## all results\n")
    print(f"triad and machine: see above\n\n{header}")
    for r in rows:
        print(r)
    print("\n## first ravine step (compile or cache load), separate from the medians\n")
    print(
        "| method | variant | params | tensors | warm-up steps s | of which compiling s |\n|---|---|---:|---:|---:|---:|"
    )
    for m, lab, n, nt, first, comp in firsts:
        print(f"| {m} | {lab} | {n:,} | {nt} | {first:.2f} | {comp:.2f} |")
    total = time.perf_counter() - t_start
    print(f"\ncompile stats: {ro.compile_stats()}; total {total:.0f} s")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(machine_info() + "\n\n" + header + "\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
