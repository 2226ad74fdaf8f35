"""Runner benchmark: 10 000 Adam trajectories × 1 000 steps on Rosenbrock, float64.

Measures, side by side in one run (median of --repeat runs after a warm-up):

* ravine.run, compiled backend (Numba; compile time reported separately),
* ravine.run, NumPy backend (the reference path: masks, stopping and records),
* a plain vectorized NumPy loop (baseline written here, in place, no stopping),
* JAX jit + vmap (baseline; skipped with a note when jax is not installed),
* a Python loop over scalars (baseline; timed on a subset, extrapolated).

Every variant's final points are checked against ravine's (max |Δθ|).
Usage: python perf/runner.py [--trajectories 10000] [--steps 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def timeit(fn, repeat):
    fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


# ---------------------------------------------------------------- baselines
# Adam and Rosenbrock's gradient written out here only as independent baselines.


def numpy_loop(starts, steps):
    x = starts[:, 0].copy()
    y = starts[:, 1].copy()
    sx = np.zeros_like(x)
    sy = np.zeros_like(x)
    rx = np.zeros_like(x)
    ry = np.zeros_like(x)
    tmp = np.empty_like(x)
    gx = np.empty_like(x)
    gy = np.empty_like(x)
    for t in range(1, steps + 1):
        np.multiply(x, x, out=tmp)
        np.subtract(y, tmp, out=tmp)  # y − x²
        np.multiply(tmp, 200.0, out=gy)  # 200(y − x²)
        np.multiply(x, tmp, out=gx)
        np.multiply(gx, -400.0, out=gx)  # −400x(y − x²)
        gx += 2.0 * x
        gx -= 2.0  # … − 2(1 − x)
        bc1 = 1 - B1**t
        bc2 = 1 - B2**t
        for g, s, r, p in ((gx, sx, rx, x), (gy, sy, ry, y)):
            s *= B1
            s += (1 - B1) * g
            r *= B2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - B2
            r += tmp
            np.divide(r, bc2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += EPS
            np.divide(s, tmp, out=tmp)
            tmp *= LR / bc1
            p -= tmp
    return np.stack([x, y], 1)


def python_loop(starts, steps):
    out = []
    for x, y in starts:
        sx = sy = rx = ry = 0.0
        for t in range(1, steps + 1):
            gx = -2 * (1 - x) - 400 * x * (y - x * x)
            gy = 200 * (y - x * x)
            bc1 = 1 - B1**t
            bc2 = 1 - B2**t
            sx = B1 * sx + (1 - B1) * gx
            rx = B2 * rx + (1 - B2) * gx * gx
            sy = B1 * sy + (1 - B1) * gy
            ry = B2 * ry + (1 - B2) * gy * gy
            x -= LR * (sx / bc1) / (math.sqrt(rx / bc2) + EPS)
            y -= LR * (sy / bc1) / (math.sqrt(ry / bc2) + EPS)
        out.append((x, y))
    return np.array(out)


def jax_fn(steps):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def one(p):
        def body(t, c):
            p, s, r = c
            x, y = p[0], p[1]
            g = jnp.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
            tt = t + 1.0
            s = B1 * s + (1 - B1) * g
            r = B2 * r + (1 - B2) * g * g
            p = p - LR * (s / (1 - B1**tt)) / (jnp.sqrt(r / (1 - B2**tt)) + EPS)
            return p, s, r

        z = jnp.zeros(2, dtype=jnp.float64)
        return jax.lax.fori_loop(0, steps, body, (p, z, z))[0]

    f = jax.jit(jax.vmap(one))
    return lambda s: np.asarray(f(jnp.asarray(s)).block_until_ready())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--python-subset", type=int, default=200)
    args = ap.parse_args()

    import ravine
    from ravine.problems import get_problem

    N, T = args.trajectories, args.steps
    starts = np.random.default_rng(0).uniform(-2, 2, (N, 2))
    prob = get_problem("rosenbrock")
    rule = ravine.get_rule("adam", lr=LR)
    cpu = (
        next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
        if os.path.exists("/proc/cpuinfo")
        else platform.processor()
    )
    print(f"machine: {cpu}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}")
    print(f"task: {N} Adam trajectories × {T} steps on Rosenbrock, float64; median of {args.repeat}\n")

    t0 = time.perf_counter()
    ravine.run(rule, prob, starts[:4], 3, record="final", backend="numba")
    compile_s = time.perf_counter() - t0
    rows = []
    t_rv, res = timeit(lambda: ravine.run(rule, prob, starts, T, record="final", backend="numba"), args.repeat)
    ref = res.final_theta
    rows.append(("ravine.run (numba backend)", t_rv, 0.0, f"compile {compile_s:.2f} s once per process"))
    t_np_rv, r2 = timeit(
        lambda: ravine.run(rule, prob, starts, T, record="final", backend="numpy"), max(1, args.repeat // 3)
    )
    rows.append(("ravine.run (numpy backend)", t_np_rv, np.abs(r2.final_theta - ref).max(), "reference path"))
    t_np, th = timeit(lambda: numpy_loop(starts, T), args.repeat)
    rows.append(("plain vectorized NumPy (baseline)", t_np, np.abs(th - ref).max(), "in place, no stopping"))
    try:
        f = jax_fn(T)
        t0 = time.perf_counter()
        f(starts[:8])
        jc = time.perf_counter() - t0
        t_jx, th = timeit(lambda: f(starts), args.repeat)
        rows.append(("JAX jit+vmap (baseline)", t_jx, np.abs(th - ref).max(), f"jit {jc:.2f} s"))
    except ImportError:
        rows.append(("JAX jit+vmap (baseline)", float("nan"), float("nan"), "jax not installed: pip install jax"))
    k = min(args.python_subset, N)
    t_py, th = timeit(lambda: python_loop(starts[:k], T), 1)
    rows.append(
        (
            "Python loop over scalars (baseline)",
            t_py * N / k,
            np.abs(th - ref[:k]).max(),
            f"{k * T / t_py / 1e6:.2f} M steps/s, extrapolated from {k}",
        )
    )

    w = max(len(r[0]) for r in rows)
    print(f"{'variant':{w}s}  {'median s':>9s}  {'vs ravine':>9s}  {'max |Δθ|':>9s}  note")
    for name, t, d, note in rows:
        print(f"{name:{w}s}  {t:9.4f}  {t / t_rv:9.2f}  {d:9.1e}  {note}")
    print(f"\ntarget: ravine.run ≤ 0.06 s → {'met' if t_rv <= 0.06 else 'MISSED'} ({t_rv:.4f} s)")


if __name__ == "__main__":
    main()
