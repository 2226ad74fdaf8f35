"""Known results at small scale (docs/benchmarks.md): Wilson et al. 2017 Sec. 3.3 and the
noisy quadratic model of Zhang et al. 2019. Prints Markdown tables; writes PNGs.

    PYTHONPATH=src python scripts/bench_known_results.py wilson
    PYTHONPATH=src python scripts/bench_known_results.py nqm [--out docs/img/benchmarks]

Every run goes through ravine.benchmark (the problems' data and models, the ravine.optim
optimizers, the batched backend): nothing here restates an update rule.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np


def wilson(out_dir: str) -> None:
    import torch

    from ravine import optim
    from ravine.benchmark.problems import get_problem
    from ravine.benchmark.space import full_hyper, get_optimizer, optim_keywords

    pr = get_problem("wilson", steps=2000)
    d = pr.data()
    X, y = d.x_train, d.y_train
    sign = torch.sign(X.T @ y)
    shared = X.shape[1]
    print(
        f"Wilson et al. 2017 Sec. 3.3: n_train={len(y)}, d={shared}, p={pr.p}; "
        f"test negatives {d.info['negatives_in_test']:.3f}; {pr.steps} full-batch steps from w=0\n"
    )
    print("| optimizer | lr | train loss | train err | test err | test predictions +1 | cos(w, sign(Xᵀy)) |")
    print("|---|---|---|---|---|---|---|")
    for name, lrs in (
        ("sgd", (0.1, 0.5)),
        ("heavy_ball", (0.05, 0.2)),
        ("adagrad", (0.01, 0.1)),
        ("rmsprop", (1e-3, 1e-2)),
        ("adam", (1e-3, 1e-2)),
    ):
        for lr in lrs:
            model = pr.model(0)
            cls = getattr(optim, get_optimizer(name).optim)
            opt = cls(model.parameters(), impl="eager", **optim_keywords(name, full_hyper(name, {"lr": lr})))
            for _ in range(pr.steps):
                opt.zero_grad()
                loss = pr.criterion(model(X), y)
                loss.backward()
                opt.step()
            with torch.no_grad():
                w = model.weight[0]
                tr_err = float(pr.error(model(X), y))
                out = model(d.x_test)
                te_err = float(pr.error(out, d.y_test))
                plus = float((out[:, 0] > 0).double().mean())
                cos = float(w @ sign / (w.norm() * sign.norm()))
            print(
                f"| {name} | {lr:g} | {float(loss.detach()):.2e} | {tr_err:.3f} | {te_err:.3f} | {plus:.3f} | {cos:.3f} |"
            )


def nqm(out_dir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ravine.benchmark import trial as T
    from ravine.benchmark.batched import run_batch
    from ravine.benchmark.problems import nqm as N
    from ravine.benchmark.space import full_hyper
    from ravine.plot import palette

    d = 100
    batches = [1, 4, 16, 64, 256, 1024, 4096]
    gammas = [0.0, 0.5, 1.0]
    frac = 0.01  # target: 1 % of the initial loss
    max_steps = 4000
    print(
        f"NQM (Zhang et al. 2019): d={d}, h_i=1/i, C=H, θ₀=1; preconditioner P=H^−γ; target = {frac:g}·L₀; "
        f"SGD; closed form: best of 200 lrs; simulated (batched backend, 4 seeds, median): the closed form's "
        f"lr ×0.7, ×1, ×1.4, best of them; evaluated at 100 points; at most {max_steps} steps\n"
    )
    rows = {}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for gi, g in enumerate(gammas):
        h = N.curvatures(d, g)
        L0 = 0.5 * h.sum()
        target = frac * L0
        cf, sim = [], []
        for B in batches:
            steps, lr = N.steps_to_target(target, B, d, g, max_steps=max_steps)
            cf.append(steps)
            # simulate: the benchmark's NQM with this d, γ, B through the batched backend, at the
            # closed form's best lr and its neighbours (×0.7, ×1.4), 4 seeds; median over seeds
            if not math.isfinite(steps):
                sim.append(math.inf)
                continue
            N.NQM.d, N.NQM.gamma, N.NQM.batch_size = d, g, B
            N.NQM.target = target
            horizon = int(min(max_steps, 3 * steps + 10))
            N.NQM.evals = min(horizon, 100)
            T._PROBLEMS.clear()
            lrs = [lr * f for f in (0.7, 1.0, 1.4) if lr * f < 2.0 / h.max()]
            specs = [
                T.TrialSpec(f"{i}/{s}", "nqm", "sgd", full_hyper("sgd", {"lr": float(lr_i)}), s, horizon)
                for i, lr_i in enumerate(lrs)
                for s in range(4)
            ]
            outs = run_batch(specs)
            per_lr = {}
            for sp, o in zip(specs, outs):
                per_lr.setdefault(sp.key.split("/")[0], []).append(o.metrics.get("steps_to_target", math.inf))
            sim.append(min(float(np.median(v)) for v in per_lr.values()))
        rows[g] = (cf, sim)
        ax.loglog(batches, cf, "-", color=palette.color(gi), label=f"γ={g:g} closed form")
        ax.loglog(
            batches,
            [s if math.isfinite(s) else np.nan for s in sim],
            "o",
            color=palette.color(gi),
            label=f"γ={g:g} simulated",
        )
        # small-lr bound (our derivation, docs/benchmarks.md): steps ≥ ln(L₀/target)/(2·lr_max(B))
    ax.set_xlabel("batch size B")
    ax.set_ylabel("steps to target")
    ax.legend(fontsize=7)
    ax.set_title("NQM: steps to 1 % of L₀ (SGD, preconditioned by H^−γ)", fontsize=9)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(os.path.join(out_dir, "nqm_steps_vs_batch.png"), dpi=110)
    print("| γ | " + " | ".join(f"B={b}" for b in batches) + " |")
    print("|---|" + "---|" * len(batches))
    for g, (cf, sim) in rows.items():
        print(f"| {g:g} closed form | " + " | ".join(f"{c:.0f}" if math.isfinite(c) else "∞" for c in cf) + " |")
        print(f"| {g:g} simulated | " + " | ".join(f"{s:.0f}" if math.isfinite(s) else "∞" for s in sim) + " |")
    # critical batch size: the largest B at which doubling... here: B where steps(B) > 2 × steps(∞)-plateau
    print()
    for g, (cf, _) in rows.items():
        floor = min(cf)
        crit = next((b for b, c in zip(batches, cf) if c <= 2 * floor), None)
        print(f"γ={g:g}: fewest steps {floor:.0f} (largest B); smallest B within 2× of it: {crit}")


def nqm_critical(out_dir: str) -> None:
    """Closed form only, batch sizes 2^0…2^14: the critical batch size, defined as the smallest
    B at which the steps to target are at least twice what perfect scaling from B = 1 predicts
    (steps(1)/B), for targets 1 % and 0.1 % of L₀."""
    from ravine.benchmark.problems import nqm as N

    d = 100
    Bs = [2**k for k in range(15)]
    print(f"\nCritical batch size (closed form, d={d}; B_crit = smallest B with steps(B) ≥ 2·steps(1)/B):\n")
    print("| target | γ | steps at B=1 | steps at B=16384 | B_crit |")
    print("|---|---|---|---|---|")
    for frac in (1e-2, 1e-3):
        for g in (0.0, 0.5, 1.0):
            h = N.curvatures(d, g)
            target = frac * 0.5 * h.sum()
            st = [
                N.steps_to_target(
                    target, B, d, g, max_steps=100_000, lrs=np.geomspace(1e-4, 2.0 / h.max() * 0.999, 60)
                )[0]
                for B in Bs
            ]
            base = next(((b, s) for b, s in zip(Bs, st) if math.isfinite(s)), None)
            crit = None
            if base:
                crit = next((b for b, s in zip(Bs, st) if b > base[0] and s >= 2 * base[1] * base[0] / b), None)
            print(f"| {frac:g}·L₀ | {g:g} | {st[0]:.0f} | {st[-1]:.0f} | {crit} |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["wilson", "nqm", "nqm_critical"])
    ap.add_argument("--out", default="docs/img/benchmarks")
    a = ap.parse_args()
    {"wilson": wilson, "nqm": nqm, "nqm_critical": nqm_critical}[a.what](a.out)
