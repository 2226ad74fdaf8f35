"""Performance of ravine.landscape (reported in docs/landscape.md, "Performance").

    PYTHONPATH=src python perf/landscape.py [--threads 2] [--repeat 7] [--out perf/landscape.json]

1. one HVP (jvp, double backward, linearize) vs one gradient on the same data (MNIST-1D MLP
   and CNN, the whole training split);
2. λ_max of a ~100 k-parameter model (MNIST-1D CNN, width 128) to 1e-3 relative: products used;
3. a dense-Hessian check of a ≤ 2 k-parameter model in float64 (HVPs and Lanczos vs eigh);
4. a 41 × 41 filter-normalized 2-D landscape of the MNIST-1D MLP on 4 000 training points.

Medians of ``--repeat`` runs (after one warm-up; the four timings of 1. interleaved so they see
the same machine load); times with ``time.perf_counter``. ``--only`` picks some of the four.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ravine.landscape import LossHessian, lanczos, param_dict, param_vector, power_iteration, random_plane
from ravine.landscape.solutions import splits
from ravine.train import TrainConfig, train


def trained(model, width, epochs, dtype="float32", val_fraction=0.1):
    cfg = TrainConfig(
        problem="mnist1d",
        model=model,
        width=width,
        optimizer="adam",
        lr=1e-3,
        epochs=epochs,
        dtype=dtype,
        val_fraction=val_fraction,
        optimizer_args={"impl": "eager"},
    )
    res = train(cfg, keep_model=True)
    return res.module, splits(cfg)["train"], res


def hvp_vs_grad(repeat):
    out = {}
    for model, width in (("mlp", 256), ("cnn", 128)):
        m, data, _ = trained(model, width, 3)
        x, y = data
        H = LossHessian(m, data, batch_size=len(y))
        Hd = LossHessian(m, data, batch_size=len(y), method="double_backward")
        Hl = LossHessian(m, data, batch_size=len(y), method="linearize")
        v = torch.randn(H.dim)

        def plain_grad():
            m.zero_grad(set_to_none=True)
            F.cross_entropy(m(x), y).backward()

        fns = {
            "grad_autograd_s": plain_grad,
            "grad_func_s": H.gradient,
            "hvp_jvp_s": lambda: H.matvec(v),
            "hvp_double_backward_s": lambda: Hd.matvec(v),
            "hvp_linearize_s": lambda: Hl.matvec(v),
        }
        ts = {k: [] for k in fns}
        for f in fns.values():
            f()  # warm-up
        for _ in range(repeat):  # interleaved, so that all four see the same machine load
            for k, f in fns.items():
                t = time.perf_counter()
                f()
                ts[k].append(time.perf_counter() - t)
        row = {"n_params": H.dim, "n_samples": len(y), **{k: statistics.median(t) for k, t in ts.items()}}
        row["ratio_jvp"] = row["hvp_jvp_s"] / row["grad_autograd_s"]
        row["ratio_double_backward"] = row["hvp_double_backward_s"] / row["grad_autograd_s"]
        row["ratio_linearize"] = row["hvp_linearize_s"] / row["grad_autograd_s"]
        row["linearize_setup_s"] = Hl.setup_time
        out[f"mnist1d_{model}"] = row
        print(model, json.dumps(row), flush=True)
    return out


def lambda_max_products():
    from ravine.landscape.spectrum import _lanczos_basis, _ritz, _start

    m, data, res = trained("cnn", 128, 5)
    # the product count does not depend on the number of samples; 1000 of the training split
    # keep this part's time down on a shared machine; linearize: cheapest per product here
    data = (data[0][:1000], data[1][:1000])
    H = LossHessian(m, data, batch_size=1000, method="linearize")
    ref = lanczos(H, 1, tol=1e-6, max_iter=60)
    row = {
        "n_params": H.dim,
        "dtype": "float32",
        "n_samples": len(data[1]),
        "reference": ref.lambda_max,
        "reference_products": ref.n_products,
        "reference_converged": ref.converged,
    }
    for seed in range(3):
        r = lanczos(H, 1, tol=1e-3, seed=seed + 1)
        row[f"lanczos_seed{seed + 1}"] = {
            "products": r.n_products,
            "lambda": r.lambda_max,
            "rel_error": abs(r.lambda_max - ref.lambda_max) / abs(ref.lambda_max),
            "converged": r.converged,
        }
    p = power_iteration(H, tol=1e-3, max_iter=60, seed=1)
    row["power"] = {
        "products": p.n_products,
        "lambda": p.lambda_max,
        "converged": p.converged,
        "rel_error": abs(p.lambda_max - ref.lambda_max) / abs(ref.lambda_max),
    }
    # the Ritz value after j products is the top eigenvalue of T's leading j × j block
    _, alpha, beta, _ = _lanczos_basis(H, _start(H.dim, H.dtype, 1), 30)
    errs = [
        abs(_ritz(alpha[:j], beta[: j - 1])[0][0] - ref.lambda_max) / abs(ref.lambda_max)
        for j in range(1, len(alpha) + 1)
    ]
    row["rel_error_by_products"] = errs
    row["products_to_1e-3_error"] = next((j + 1 for j, e in enumerate(errs) if e <= 1e-3), None)
    print("lambda_max", json.dumps(row), flush=True)
    return row


def dense_check():
    m, data, _ = trained("mlp", 32, 3, dtype="float64")
    x, y = data
    th = param_vector(m)
    t = time.perf_counter()
    ref = torch.autograd.functional.hessian(
        lambda p: F.cross_entropy(torch.func.functional_call(m, param_dict(m, p), (x,)), y), th
    )
    t_ref = time.perf_counter() - t
    H = LossHessian(m, data, batch_size=4096, method="linearize")
    t = time.perf_counter()
    D = H.dense()
    t_hvp = time.perf_counter() - t
    ev = np.linalg.eigvalsh(ref.numpy())[::-1]
    r = lanczos(H, 5, tol=1e-10, max_iter=400)
    row = {
        "n_params": H.dim,
        "max_abs_diff": float((D - ref).abs().max()),
        "max_abs_entry": float(ref.abs().max()),
        "rel_eig_err_top5": float(np.max(np.abs(r.eigenvalues - ev[:5]) / np.abs(ev[:5]))),
        "lanczos_products": r.n_products,
        "dense_autograd_s": t_ref,
        "dense_by_hvp_s": t_hvp,
        "top5": ev[:5].tolist(),
    }
    print("dense", json.dumps(row), flush=True)
    return row


def plane_timing(repeat):
    m, data, res = trained("mlp", 256, 10, val_fraction=0.0)
    assert len(data[1]) == 4000, len(data[1])
    ts, cpu = [], []
    for i in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        pl = random_plane(m, data, n=41, span=1.0, seed=i)
        ts.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    row = {
        "n_params": sum(p.numel() for p in m.parameters()),
        "n_samples": 4000,
        "grid": "41x41",
        "median_s": statistics.median(ts),
        "times_s": ts,
        "cpu_s": cpu,
        "centre_loss": float(pl.loss["train"][20, 20]),
    }
    print("plane", json.dumps(row), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", default="perf/landscape.json")
    ap.add_argument("--only", default="hvp,lambda,dense,plane")
    a = ap.parse_args()
    only = set(a.only.split(","))
    torch.set_num_threads(a.threads)
    info = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": a.threads,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    info["loadavg_before"] = os.getloadavg()
    out = {"info": info}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    parts = {
        "hvp": ("hvp_vs_grad", lambda: hvp_vs_grad(a.repeat)),
        "lambda": ("lambda_max", lambda_max_products),
        "dense": ("dense_check", dense_check),
        "plane": ("plane", lambda: plane_timing(max(3, a.repeat // 2))),
    }
    for key, (name, fn) in parts.items():
        if key in only:
            out[name] = fn()
            info["loadavg_after"] = os.getloadavg()
            Path(a.out).write_text(json.dumps(out, indent=2) + "\n")  # after each part
    print("wrote", a.out)


if __name__ == "__main__":
    main()
