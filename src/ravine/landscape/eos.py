"""Edge of stability: sharpness λ_max(H) recorded during training, against its stability threshold.

Gradient descent θ ← θ − η∇L on a quadratic with top curvature λ diverges iff λ > 2/η.
Cohen, Kaur, Li, Kolter & Talwalkar 2021 ("Gradient descent on neural networks typically
occurs at the edge of stability") observe that full-batch GD on networks shows *progressive
sharpening* — λ_max rises during training — until it reaches 2/η and then hovers at or just
above 2/η while the loss keeps decreasing non-monotonically. With heavy-ball momentum β the
threshold is (2 + 2β)/η, with Nesterov momentum (2 + 2β)/((1 + 2β)η) (their Appendix on
momentum).

For Adam, Cohen et al. 2022 ("Adaptive gradient methods at the edge of stability") track the
*preconditioned* sharpness λ_max(P_t⁻¹ H_t) with

    P_t = (1 − β₁^t) · (diag(√v̂_t) + ε),   v̂_t = v_t/(1 − β₂^t),

and find it equilibrates at (2 + 2β₁)/((1 − β₁)η), 38/η for β₁ = 0.9. λ_max(P⁻¹H) is computed
as λ_max(P^{-1/2} H P^{-1/2}) (a similar, symmetric matrix) by Lanczos.

:class:`track_sharpness` is a ``step_callback`` for :func:`ravine.train.train`:

    tr = track_sharpness(config, every=10)
    train(config, step_callback=tr); tr.records   # [{step, lambda_max, threshold, …}, …]

Its products are taken on the whole training split (not the minibatch) with detached copies
of the parameters; the optimizer, the gradients and every random generator of the run are
untouched, so the run's numbers do not change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .operators import LossHessian, ScaledOperator, loss_fn
from .spectrum import lanczos

__all__ = ["track_sharpness", "stability_threshold", "adam_preconditioner"]


def stability_threshold(optimizer: torch.optim.Optimizer) -> tuple[str, float]:
    """(kind, threshold) for the optimizer's first group: "plain" with 2/η, (2 + 2β)/η for heavy
    ball, (2 + 2β)/((1 + 2β)η) for Nesterov, or "preconditioned" (2 + 2β₁)/((1 − β₁)η) for Adam."""
    from ..analysis import adam_preconditioned_bound, heavy_ball_bound, nesterov_bound

    g = optimizer.param_groups[0]
    lr = float(g["lr"])
    if "betas" in g:
        return "preconditioned", adam_preconditioned_bound(lr, float(g["betas"][0]))
    beta = float(g.get("momentum", 0.0) or 0.0)
    # the step-size bounds of ravine.analysis are symmetric in η and λmax: at a given η they
    # are the largest stable sharpness
    if g.get("nesterov", False):
        return "plain", nesterov_bound(lr, beta)
    return "plain", heavy_ball_bound(lr, beta)


def adam_preconditioner(model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> torch.Tensor:
    """P_t's diagonal (1 − β₁^t)(√v̂_t + ε) over ``model``'s parameters, in named-parameter order,
    from the optimizer's ``exp_avg_sq`` state (torch.optim.Adam and ravine.optim.Adam)."""
    g = optimizer.param_groups[0]
    if "betas" not in g:
        raise ValueError(
            f"optimizer: {type(optimizer).__name__} has no betas; the preconditioned sharpness is defined for Adam"
        )
    b1, b2 = (float(b) for b in g["betas"])
    eps = float(g["eps"])
    t = int(step)
    if t < 1:
        raise ValueError(f"step must be ≥ 1 for Adam's bias correction, got {step!r}")
    parts = []
    for name, p in model.named_parameters():
        st = optimizer.state.get(p, {})
        if "exp_avg_sq" not in st:
            raise ValueError(f"optimizer: no exp_avg_sq state for parameter {name!r} (not stepped yet?)")
        v = st["exp_avg_sq"].detach().reshape(-1).double()
        parts.append((1 - b1**t) * ((v / (1 - b2**t)).sqrt() + eps))
    return torch.cat(parts)


class track_sharpness:
    """Record λ_max of the full-training-split Hessian every ``every`` steps (a ``step_callback``).

    Parameters
    ----------
    data : TrainConfig | (x, y)
        The training split: given a config, the split ``train`` itself uses (same data seed,
        fractions, dtype) is loaded.
    every : int ≥ 1
        Record at steps every, 2·every, … (and at step 1).
    preconditioned : "auto" | bool
        Also record λ_max(P⁻¹H) for Adam (``"auto"``: when the optimizer has ``betas``).
    tol, max_iter : Lanczos tolerance (relative residual) and product limit per record.
    """

    def __init__(
        self,
        data: Any,
        *,
        every: int = 10,
        loss: str | Callable = "cross_entropy",
        preconditioned: Any = "auto",
        tol: float = 1e-3,
        max_iter: int = 60,
        batch_size: int = 4096,
        seed: int = 0,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if preconditioned not in ("auto", True, False):
            raise ValueError(f"preconditioned must be 'auto', True or False, got {preconditioned!r}")
        loss_fn(loss)
        self.every, self.loss, self.pre = int(every), loss, preconditioned
        self.tol, self.max_iter, self.batch_size, self.seed = tol, max_iter, batch_size, seed
        self._config = None
        if hasattr(data, "resolved") and hasattr(data, "problem"):
            self._config = data.resolved()
            self.data = None
        else:
            self.data = data
        self.records: list[dict[str, Any]] = []

    def _split(self, dtype: torch.dtype):
        if self.data is None:
            from ..train import data as _data

            c = self._config
            ds = _data.load(
                c.problem,
                val_fraction=c.val_fraction,
                test_fraction=c.test_fraction,
                data_seed=c.data_seed,
                samples=c.samples,
                data_dir=c.data_dir,
            )
            self.data = (torch.as_tensor(ds.x_train, dtype=dtype), torch.as_tensor(ds.y_train))
        return self.data

    def __call__(self, step: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if step != 1 and step % self.every:
            return
        dtype = next(model.parameters()).dtype
        op = LossHessian(model, self._split(dtype), self.loss, batch_size=self.batch_size)
        kind, thr = stability_threshold(optimizer)
        r = lanczos(op, 1, tol=self.tol, max_iter=min(self.max_iter, op.dim), seed=self.seed + step)
        rec = {
            "step": int(step),
            "lr": float(optimizer.param_groups[0]["lr"]),
            "loss": op.value(),
            "lambda_max": r.lambda_max,
            "converged": r.converged,
            "n_products": r.n_products,
            "threshold_plain": (thr if kind == "plain" else 2.0 / float(optimizer.param_groups[0]["lr"])),
        }
        pre = self.pre is True or (self.pre == "auto" and kind == "preconditioned")
        if pre:
            d = adam_preconditioner(model, optimizer, step).to(op.dtype)
            rp = lanczos(
                ScaledOperator(op, d), 1, tol=self.tol, max_iter=min(self.max_iter, op.dim), seed=self.seed + step
            )
            rec.update(
                pre_lambda_max=rp.lambda_max,
                pre_converged=rp.converged,
                pre_threshold=thr,
                n_products=r.n_products + rp.n_products,
            )
        if not math.isfinite(rec["lambda_max"]):
            rec["lambda_max"] = None
        self.records.append(rec)

    def arrays(self) -> dict[str, np.ndarray]:
        """The records as columns (NaN where a field is missing)."""
        keys = sorted({k for r in self.records for k in r})
        return {
            k: np.array([np.nan if r.get(k) is None else float(r.get(k, np.nan)) for r in self.records]) for k in keys
        }
