"""Edge of stability on real data (Cohen et al. 2021; Cohen et al. 2022 for Adam).

    PYTHONPATH=src python scripts/edge_of_stability.py [--steps 1500] [--every 10] [--out docs]

Full-batch gradient descent (``ravine.optim.SGD``, batch_size="full") on MNIST-1D (the whole
3500-sample training split), MLP with one hidden layer of 64 ReLUs, cross-entropy,
at several step sizes η; λ_max of the full training loss Hessian is recorded every
``--every`` steps by :class:`ravine.landscape.track_sharpness` (Lanczos, tol 1e-3) and drawn
with the 2/η lines. Then full-batch Adam (β₁ = 0.9) with the preconditioned sharpness
λ_max(P⁻¹H) against (2 + 2β₁)/((1 − β₁)η) = 38/η. Writes
``docs/img/landscape_eos_gd.png``, ``docs/img/landscape_eos_adam.png`` and
``<out>/landscape_eos.json``. A few minutes on one core.

(On digits the same MLP separates the training set within ~50 GD steps: the cross-entropy
goes to 0 and λ_max *falls* from its start, so digits shows no edge of stability — tried with
η up to 2.5, which is above 2/λ at initialization; η = 4 diverges. MNIST-1D is hard enough for
the loss to stay O(1) for the whole run.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ravine.landscape import plots, track_sharpness
from ravine.train import TrainConfig, train


def run(optimizer: str, lr: float, steps: int, every: int, args=None):
    cfg = TrainConfig(
        problem="mnist1d",
        model="mlp",
        width=64,
        optimizer=optimizer,
        lr=lr,
        batch_size="full",
        epochs=steps,
        seed=0,
        optimizer_args={**(args or {}), "impl": "eager"},
    )
    tr = track_sharpness(cfg, every=every, tol=1e-3, max_iter=80)
    res = train(cfg, step_callback=tr)
    return tr, res


def summary(arr: dict, key: str, thr_key: str) -> dict:
    """λ against its threshold: when it first reaches 90 % of it (step 1 left out: Adam's v̂₁ = g₁²
    makes P₁ tiny), and the ratio λ/threshold after that and over the second half of the run."""
    lam, thr, steps = arr[key], arr[thr_key], arr["step"]
    thr0 = float(np.nanmedian(thr))
    ok = steps > 1
    reached = np.nonzero(ok & (lam >= 0.9 * thr0))[0]
    first = int(steps[reached[0]]) if len(reached) else None
    after = lam[reached[0] :] if len(reached) else np.array([])
    late = lam[steps > steps.max() / 2] / thr0

    def q(r):
        return (
            {
                "median_ratio": float(np.median(r)),
                "q10_ratio": float(np.quantile(r, 0.1)),
                "q90_ratio": float(np.quantile(r, 0.9)),
            }
            if len(r)
            else None
        )

    return {
        "threshold": thr0,
        "lambda_initial": float(lam[0]),
        "lambda_max_seen": float(np.nanmax(lam[ok])),
        "first_step_at_90pct_threshold": first,
        "after_reaching": q(after / thr0),
        "second_half": q(late),
        "final_loss": float(arr["loss"][-1]),
        "min_loss": float(np.nanmin(arr["loss"])),
    }


def _arrays(records):
    keys = [k for k in records[0] if not isinstance(records[0][k], bool)]
    return {k: np.array([np.nan if r.get(k) is None else float(r[k]) for r in records]) for k in keys}


def draw(gd_runs, adam_runs, img: Path):
    plots.sharpness_over_training(
        gd_runs,
        path=img / "landscape_eos_gd.png",
        title="full-batch GD, MNIST-1D MLP (64 ReLU), cross-entropy: λ_max, 2/η dotted",
    )
    plots.sharpness_over_training(
        adam_runs,
        key="pre_lambda_max",
        threshold_key="pre_threshold",
        path=img / "landscape_eos_adam.png",
        log=True,
        min_step=2,
        title="full-batch Adam (β₁=0.9), MNIST-1D MLP: λ_max(P⁻¹H), 38/η dotted",
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--lrs", default="0.25,0.5,1.0")
    ap.add_argument("--adam-lrs", default="0.001,0.01")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--img", default="docs/img")
    ap.add_argument("--replot", action="store_true", help="redraw the figures from <out>/landscape_eos.json")
    a = ap.parse_args()
    if a.replot:
        d = json.loads((Path(a.out) / "landscape_eos.json").read_text())
        gd = {f"GD η={float(lr):g} (2/η={2 / float(lr):g})": _arrays(v["records"]) for lr, v in d["gd"].items()}
        ad = {f"Adam η={float(lr):g} (38/η={38 / float(lr):.0f})": _arrays(v["records"]) for lr, v in d["adam"].items()}
        draw(gd, ad, Path(a.img))
        return
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    out = {"gd": {}, "adam": {}}
    gd_runs, adam_runs = {}, {}
    for lr in (float(v) for v in a.lrs.split(",")):
        tr, res = run("sgd", lr, a.steps, a.every)
        arr = tr.arrays()
        gd_runs[f"GD η={lr:g} (2/η={2 / lr:g})"] = arr
        out["gd"][str(lr)] = dict(
            summary(arr, "lambda_max", "threshold_plain"),
            diverged=res.diverged,
            test_acc=res.test_acc,
            records=tr.records,
        )
        print(
            f"[{time.perf_counter() - t0:5.1f}s] GD lr={lr}:",
            {k: v for k, v in out["gd"][str(lr)].items() if k != "records"},
            flush=True,
        )
    for lr in (float(v) for v in a.adam_lrs.split(",")):
        tr, res = run("adam", lr, a.steps, a.every)
        arr = tr.arrays()
        adam_runs[f"Adam η={lr:g} (38/η={38 / lr:.0f})"] = arr
        out["adam"][str(lr)] = dict(
            summary(arr, "pre_lambda_max", "pre_threshold"),
            diverged=res.diverged,
            test_acc=res.test_acc,
            raw_lambda_max_final=float(arr["lambda_max"][-1]),
            records=tr.records,
        )
        print(
            f"[{time.perf_counter() - t0:5.1f}s] Adam lr={lr}:",
            {k: v for k, v in out["adam"][str(lr)].items() if k != "records"},
            flush=True,
        )
    draw(gd_runs, adam_runs, Path(a.img))
    out["elapsed_s"] = time.perf_counter() - t0
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "landscape_eos.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"total {out['elapsed_s']:.0f} s")


if __name__ == "__main__":
    main()
