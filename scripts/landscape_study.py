"""Lecture 004's Figure 1 and claim on real data: do adaptive methods find sharper minima, and do
sharper minima generalize worse?

    PYTHONPATH=src python scripts/landscape_study.py [--seeds 5] [--out docs] [--quick]

Six optimizers (SGD, heavy ball, Nesterov, Adam, RMSProp, Adagrad; ravine.optim, eager), each
with its learning rate tuned on the validation split (a 3-point grid, seed 0, best final
validation accuracy), are trained from one initialization per seed on three settings:
MNIST-1D MLP, MNIST-1D CNN and digits MLP. For every solution: λ_max (Lanczos, tol 1e-3) and
tr H (Hutchinson, 10 Rademacher probes, its standard error recorded) of the whole training split's loss Hessian, and train
and test accuracy of the final weights. Writes

* ``docs/img/landscape_pairs_<setting>.png`` — loss along the line between every pair (seed 0),
* ``docs/img/landscape_from_init_<setting>.png`` — loss from θ₀ to each solution (seed 0),
* ``docs/img/landscape_sharpness_gap.png`` — λ_max against the generalization gap,
* ``docs/img/landscape_plane_*.png``, ``landscape_spectrum.png`` (MNIST-1D MLP, seed 0),
* ``<out>/landscape_study.json`` and ``.csv`` — every number.

Compute: ~6–9 minutes on 2 cores (see docs/landscape.md for the choices that keep it there).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from ravine.landscape import (
    LossHessian,
    evaluate,
    hutchinson_trace,
    interpolate,
    lanczos,
    param_vector,
    plane_through,
    plots,
    random_plane,
    slq_density,
)
from ravine.landscape.solutions import initial_model, splits
from ravine.train import TrainConfig, train

OPTIMIZERS = {  # label → (TrainConfig.optimizer, optimizer_args, learning-rate grid)
    "SGD": ("sgd", {}, (0.1, 0.3, 1.0)),
    "heavy ball": ("sgd", {"momentum": 0.9}, (0.01, 0.03, 0.1)),
    "Nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, (0.01, 0.03, 0.1)),
    "Adam": ("adam", {}, (1e-3, 3e-3, 1e-2)),
    "RMSProp": ("rmsprop", {}, (3e-4, 1e-3, 3e-3)),
    "Adagrad": ("adagrad", {}, (1e-2, 3e-2, 1e-1)),
}

SETTINGS = {  # label → TrainConfig fields
    "mnist1d-mlp": dict(problem="mnist1d", model="mlp", width=256, epochs=20, batch_size=64),
    "mnist1d-cnn": dict(problem="mnist1d", model="cnn", width=32, epochs=15, batch_size=64, samples=2000),
    "digits-mlp": dict(problem="digits", model="mlp", width=128, epochs=20, batch_size=32),
}


def config(setting: str, label: str, lr: float, seed: int, quick: bool) -> TrainConfig:
    name, kw, _ = OPTIMIZERS[label]
    s = dict(SETTINGS[setting])
    if quick:
        s["epochs"] = 2
    return TrainConfig(optimizer=name, lr=lr, optimizer_args={**kw, "impl": "eager"}, seed=seed, **s)


def tune(setting: str, label: str, quick: bool) -> tuple[float, dict[float, float]]:
    """The grid learning rate with the best final validation accuracy (seed 0)."""
    grid = OPTIMIZERS[label][2]
    scores = {}
    for lr in grid[:1] if quick else grid:
        res = train(config(setting, label, lr, 0, quick))
        va = res.final["val_acc"]
        scores[lr] = -1.0 if (res.diverged or va is None) else va
    return max(scores, key=scores.get), scores


def measure(model, data: dict, n_probes: int) -> dict:
    H = LossHessian(model, data["train"], batch_size=4096)
    top = lanczos(H, 1, tol=1e-3, max_iter=60)
    tr = hutchinson_trace(H, n_probes, seed=0)
    th = param_vector(model)
    out = {
        "lambda_max": top.lambda_max,
        "lambda_converged": top.converged,
        "lambda_products": top.n_products,
        "trace": tr.trace,
        "trace_stderr": tr.stderr,
        "weight_norm": float(th.norm()),
    }
    for s in ("train", "test"):
        loss, acc = evaluate(model, th, data[s])
        out[f"{s}_loss"], out[f"{s}_acc"] = float(loss[0]), float(acc[0])
    out["gap"] = 100 * (out["train_acc"] - out["test_acc"])
    out["loss_gap"] = out["test_loss"] - out["train_loss"]
    return out


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--img", default="docs/img")
    ap.add_argument("--probes", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="2 epochs, no tuning: a smoke test")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated subset of the settings")
    a = ap.parse_args()
    chosen = [s.strip() for s in a.settings.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SETTINGS]
    if bad or "mnist1d-mlp" not in chosen:
        raise SystemExit(
            f"--settings: choose among {', '.join(SETTINGS)} (mnist1d-mlp always included); got {a.settings!r}"
        )
    for s in list(SETTINGS):
        if s not in chosen:
            del SETTINGS[s]
    torch.set_num_threads(1)
    img, out = Path(a.img), Path(a.out)
    img.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows, tuned, pairs_done = [], {}, {}
    for setting in SETTINGS:
        tuned[setting] = {}
        for label in OPTIMIZERS:
            lr, scores = tune(setting, label, a.quick)
            tuned[setting][label] = {"lr": lr, "val_acc_by_lr": {str(k): v for k, v in scores.items()}}
        print(
            f"[{time.perf_counter() - t0:6.1f}s] {setting} tuned:",
            {k: v["lr"] for k, v in tuned[setting].items()},
            flush=True,
        )
        data = splits(config(setting, "SGD", 0.1, 0, a.quick))
        for seed in range(a.seeds):
            models = {}
            for label in OPTIMIZERS:
                cfg = config(setting, label, tuned[setting][label]["lr"], seed, a.quick)
                res = train(cfg, keep_model=True)
                row = {
                    "setting": setting,
                    "optimizer": label,
                    "seed": seed,
                    "lr": cfg.lr,
                    "diverged": res.diverged,
                    "train_time": res.wall_time,
                }
                row.update(measure(res.module, data, a.probes))
                rows.append(row)
                models[label] = res.module
            if seed == 0:
                pairs_done[setting] = models
                init = initial_model(config(setting, "SGD", 0.1, 0, a.quick))
                lines = [
                    interpolate(models[p], models[q], data, labels=(p, q))
                    for p, q in itertools.combinations(OPTIMIZERS, 2)
                ]
                plots.interpolation_grid(
                    lines,
                    path=img / f"landscape_pairs_{setting}.png",
                    title=f"{setting}: loss on the line between every pair of solutions (one initialization, seed 0)",
                )
                from_init = [interpolate(init, models[p], data, labels=("θ₀", p)) for p in OPTIMIZERS]
                plots.interpolation(
                    from_init,
                    path=img / f"landscape_from_init_{setting}.png",
                    title=f"{setting}: from the initialization (α=0) to each solution (α=1)",
                )
                for ln in lines:
                    i_mid = int(np.argmin(np.abs(ln.alphas - 0.5)))
                    barrier = float(
                        np.max(ln.loss["train"][(ln.alphas >= 0) & (ln.alphas <= 1)])
                        - max(
                            ln.loss["train"][np.argmin(np.abs(ln.alphas))],
                            ln.loss["train"][np.argmin(np.abs(ln.alphas - 1))],
                        )
                    )
                    tuned[setting].setdefault("_barriers", {})[f"{ln.labels[0]}|{ln.labels[1]}"] = {
                        "train_barrier": barrier,
                        "train_loss_mid": float(ln.loss["train"][i_mid]),
                        "distance": ln.distance,
                    }
            print(f"[{time.perf_counter() - t0:6.1f}s] {setting} seed {seed} done", flush=True)

    # MNIST-1D MLP, seed 0: filter-normalized planes, the plane through three solutions, spectra
    m = pairs_done["mnist1d-mlp"]
    data = splits(config("mnist1d-mlp", "SGD", 0.1, 0, a.quick))
    planes = {}
    for label in ("SGD", "Adam"):
        pl = random_plane(m[label], {"train": data["train"]}, n=31, span=1.0, seed=0)
        planes[label] = pl
        plots.contour2d(
            pl,
            path=img / f"landscape_plane_{label.lower()}.png",
            title=f"MNIST-1D MLP, {label}: filter-normalized slice, train loss",
        )
    plots.surface3d(
        planes["Adam"], path=img / "landscape_surface_adam.png", title="MNIST-1D MLP, Adam: filter-normalized slice"
    )
    p3 = plane_through(
        [m["SGD"], m["heavy ball"], m["Adam"]], {"train": data["train"]}, n=31, labels=("SGD", "heavy ball", "Adam")
    )
    plots.contour2d(p3, path=img / "landscape_plane_three.png", title="MNIST-1D MLP: plane through 3 solutions")
    dens = {}
    for label in ("SGD", "Adam"):
        dens[label] = slq_density(LossHessian(m[label], data["train"]), n_probes=3, n_steps=40, seed=0)
    lo = min(d.grid[0] for d in dens.values())
    hi = max(d.grid[-1] for d in dens.values())
    grid = np.linspace(lo, hi, 1200)
    dens = {
        k: slq_density(
            LossHessian(m[k], data["train"]), n_probes=3, n_steps=40, seed=0, sigma=0.01 * (hi - lo), grid=grid
        )
        for k in dens
    }
    plots.spectral_density(dens, path=img / "landscape_spectrum.png", title="MNIST-1D MLP: Hessian density (SLQ)")

    # summary: mean ± std over seeds
    summary = {}
    for setting in SETTINGS:
        summary[setting] = {}
        for label in OPTIMIZERS:
            rs = [r for r in rows if r["setting"] == setting and r["optimizer"] == label]
            summary[setting][label] = {
                k: [
                    float(np.mean([r[k] for r in rs])),
                    float(np.std([r[k] for r in rs], ddof=1)) if len(rs) > 1 else 0.0,
                ]
                for k in (
                    "lambda_max",
                    "trace",
                    "train_acc",
                    "test_acc",
                    "gap",
                    "train_loss",
                    "test_loss",
                    "weight_norm",
                )
            }
        rs = [r for r in rows if r["setting"] == setting]
        summary[setting]["_spearman"] = {
            "lambda_max_vs_gap": spearman([r["lambda_max"] for r in rs], [r["gap"] for r in rs]),
            "trace_vs_gap": spearman([r["trace"] for r in rs], [r["gap"] for r in rs]),
            "lambda_max_vs_test_acc": spearman([r["lambda_max"] for r in rs], [r["test_acc"] for r in rs]),
        }
    plots.sharpness_scatter(
        rows, path=img / "landscape_sharpness_gap.png", title="every solution (3 settings × 6 optimizers × seeds)"
    )
    plots.sharpness_scatter(
        rows,
        x="trace",
        path=img / "landscape_trace_gap.png",
        title="every solution: tr H against the generalization gap",
    )
    elapsed = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "landscape_study.json").write_text(
        json.dumps(
            {
                "settings": SETTINGS,
                "optimizers": {k: [v[0], v[1], list(v[2])] for k, v in OPTIMIZERS.items()},
                "seeds": a.seeds,
                "tuned": tuned,
                "summary": summary,
                "rows": rows,
                "elapsed_s": elapsed,
                "quick": a.quick,
            },
            indent=1,
        )
        + "\n"
    )
    with open(out / "landscape_study.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print_table(summary)
    print(f"total {elapsed:.0f} s")


def print_table(summary):
    print("| setting | optimizer | λ_max | tr H | train acc (%) | test acc (%) | gap (points) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setting, by in summary.items():
        for label, s in by.items():
            if label.startswith("_"):
                continue
            f = lambda k, sc=1.0, d=1: f"{sc * s[k][0]:.{d}f} ± {sc * s[k][1]:.{d}f}"
            print(
                f"| {setting} | {label} | {f('lambda_max', d=2)} | {f('trace', d=1)} | "
                f"{f('train_acc', 100)} | {f('test_acc', 100)} | {f('gap')} |"
            )
        print(
            f"| {setting} | Spearman ρ | λ_max vs gap {by['_spearman']['lambda_max_vs_gap']:+.2f} | "
            f"tr vs gap {by['_spearman']['trace_vs_gap']:+.2f} | | | |"
        )


if __name__ == "__main__":
    main()
