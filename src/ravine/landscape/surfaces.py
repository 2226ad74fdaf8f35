"""Loss and accuracy of a network at many parameter vectors: lines, planes, filter-normalized slices.

All evaluations go through :func:`evaluate`: a stack of P flat parameter vectors θ₁ … θ_P
is evaluated at once with ``torch.func.vmap`` over ``torch.func.functional_call`` (one
batched forward per chunk of points and chunk of data; no model copies), giving the mean loss
L(θ_p) = (1/N) Σᵢ ℓ(f(xᵢ; θ_p), yᵢ) and the accuracy on a split.

* :func:`interpolate` — the straight line θ(α) = (1 − α) θ_a + α θ_b, α ∈ [−0.5, 1.5]
  (Goodfellow, Vinyals & Saxe 2015, "Qualitatively characterizing neural network optimization
  problems"; with θ_a the initialization it is their path from initialization). At α = 0
  and 1 the point *is* θ_a and θ_b (0·θ + 1·θ' = θ' exactly in floating point).
  :func:`interpolate_pairs` does every pair of two or more solutions (lecture 004's Figure 1).
* :func:`random_plane` — θ(x, y) = θ* + x δ + y η with filter-normalized Gaussian directions
  (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss landscape of neural nets"):
  each filter (a row of a Linear weight, an output channel of a Conv weight) of δ is rescaled
  to the norm of the same filter of θ*, δ_{i,j} ← δ_{i,j}/‖δ_{i,j}‖ · ‖θ*_{i,j}‖, and 1-D
  parameters (biases) get direction 0 (Li et al.'s ``ignore biasbn``), so that the plot is
  unchanged by the per-filter rescalings a ReLU network is invariant to.
* :func:`plane_through` — the plane through three solutions (Garipov et al. 2018's picture):
  origin θ₁, u = (θ₂ − θ₁)/‖θ₂ − θ₁‖, v = the part of θ₃ − θ₁ orthogonal to u, normalized;
  coordinates are Euclidean distances in parameter space.

Batch norm and buffers: ``make_model``'s models have none. Buffers of other models are held
at the first model's values (evaluation-mode statistics, not recomputed per point); a model
with batch-norm running statistics should be given the statistics of its own solution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .operators import as_split, check_same_architecture, loss_fn, param_dict, param_vector

__all__ = [
    "evaluate",
    "interpolate",
    "interpolate_pairs",
    "Line",
    "Plane",
    "filter_normalized_direction",
    "random_plane",
    "plane_through",
    "DEFAULT_ALPHAS",
]

DEFAULT_ALPHAS = np.linspace(-0.5, 1.5, 41)

#: at most this many activations (points × samples × widest layer) in one batched forward
_BUDGET = 1 << 24


def _widest(model: nn.Module) -> int:
    w = 1
    for m in model.modules():
        if isinstance(m, nn.Linear):
            w = max(w, m.out_features, m.in_features)
    return w


def evaluate(
    model: nn.Module,
    thetas: torch.Tensor,
    data: Any,
    loss: str | Callable = "cross_entropy",
    *,
    points_per_batch: int | None = None,
    samples_per_batch: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """(loss[P], accuracy[P]) of ``model``'s architecture at each row of ``thetas`` (P × dim) on ``data``."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    dim = sum(p.numel() for p in model.parameters())
    thetas = torch.as_tensor(thetas)
    if thetas.ndim == 1:
        thetas = thetas[None]
    if thetas.ndim != 2 or thetas.shape[1] != dim:
        raise ValueError(f"thetas must have shape (P, {dim}) for this model, got {tuple(thetas.shape)}")
    dtype = next(model.parameters()).dtype
    thetas = thetas.to(dtype)
    x, y = as_split(data, dtype)
    lf = loss_fn(loss)
    n = x.shape[0]
    buffers = {k: b.detach() for k, b in model.named_buffers()}
    sb = min(int(samples_per_batch), n)
    if points_per_batch is None:
        # vmap turns a convolution with P weight sets into one grouped convolution, which on CPU
        # is slower than P separate ones (measured: docs/landscape.md); so conv models go one point
        # per batch, dense models as many as fit the activation budget
        has_conv = any(isinstance(mod, nn.modules.conv._ConvNd) for mod in model.modules())
        pb = 1 if has_conv else max(1, min(256, _BUDGET // (sb * _widest(model))))
    else:
        pb = int(points_per_batch)

    def one(flat, xb, yb):
        out = torch.func.functional_call(model, (param_dict(model, flat), buffers), (xb,))
        return lf(out, yb, reduction="sum"), (out.argmax(-1) == yb).sum()

    batched = torch.func.vmap(one, in_dims=(0, None, None))
    P = thetas.shape[0]
    tot_l, tot_c = torch.zeros(P, dtype=torch.float64), torch.zeros(P, dtype=torch.float64)
    with torch.no_grad():
        for i in range(0, P, pb):
            for j in range(0, n, sb):
                loss, c = batched(thetas[i : i + pb], x[j : j + sb], y[j : j + sb])
                tot_l[i : i + pb] += loss.double()
                tot_c[i : i + pb] += c.double()
    return (tot_l / n).numpy(), (tot_c / n).numpy()


@dataclass
class Line:
    """Loss/accuracy along θ(α) = (1 − α)θ_a + αθ_b for each named split."""

    alphas: np.ndarray
    loss: dict[str, np.ndarray]
    acc: dict[str, np.ndarray]
    distance: float  # ‖θ_b − θ_a‖
    labels: tuple[str, str] = ("a", "b")

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for i, a in enumerate(self.alphas):
            r = {"alpha": float(a)}
            for s in self.loss:
                r[f"{s}_loss"], r[f"{s}_acc"] = float(self.loss[s][i]), float(self.acc[s][i])
            out.append(r)
        return out


@dataclass
class Plane:
    """Loss/accuracy on a grid θ(x, y) = origin + x·d₁ + y·d₂ (``loss[s]`` has shape (len(y), len(x)))."""

    x: np.ndarray
    y: np.ndarray
    loss: dict[str, np.ndarray]
    acc: dict[str, np.ndarray]
    kind: str
    points: dict[str, tuple[float, float]] = field(default_factory=dict)  # named solutions in (x, y)


def _splits(splits: Any) -> dict[str, Any]:
    if isinstance(splits, dict):
        if not splits:
            raise ValueError("splits: need at least one named split, got none")
        return splits
    return {"train": splits}


def _check_alphas(alphas: Any) -> np.ndarray:
    a = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"alphas must be a non-empty array of finite numbers, got {alphas!r}")
    return a


def interpolate(
    model_a: nn.Module,
    model_b: nn.Module,
    splits: Any,
    *,
    alphas: Any = DEFAULT_ALPHAS,
    loss: str | Callable = "cross_entropy",
    labels: tuple[str, str] = ("a", "b"),
) -> Line:
    """Loss and accuracy along the line from ``model_a`` (α = 0) to ``model_b`` (α = 1).

    ``splits`` is one (x, y) pair or a dict {name: (x, y)}, e.g. {"train": …, "test": …}.
    """
    check_same_architecture([model_a, model_b], "models")
    a = _check_alphas(alphas)
    ta, tb = param_vector(model_a), param_vector(model_b)
    al = torch.as_tensor(a, dtype=ta.dtype)[:, None]
    thetas = (1 - al) * ta[None] + al * tb[None]
    res = {s: evaluate(model_a, thetas, d, loss) for s, d in _splits(splits).items()}
    return Line(
        a, {s: r[0] for s, r in res.items()}, {s: r[1] for s, r in res.items()}, float((tb - ta).norm()), tuple(labels)
    )


def interpolate_pairs(
    models: Mapping[str, nn.Module],
    splits: Any,
    *,
    alphas: Any = DEFAULT_ALPHAS,
    loss: str | Callable = "cross_entropy",
) -> list[Line]:
    """:func:`interpolate` between every pair of two or more labelled solutions, in label order."""
    if not isinstance(models, Mapping) or len(models) < 2:
        got = len(models) if isinstance(models, Mapping) else type(models).__name__
        raise ValueError(f"models must map ≥ 2 labels to solutions, got {got}")
    check_same_architecture(list(models.values()), "models")
    labels = list(models)
    return [
        interpolate(models[a], models[b], splits, alphas=alphas, loss=loss, labels=(a, b))
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
    ]


def filter_normalized_direction(model: nn.Module, seed: int = 0) -> torch.Tensor:
    """A Gaussian direction, filter-normalized to ``model``'s weights (see the module docstring)."""
    g = torch.Generator().manual_seed(int(seed))
    parts = []
    for _, p in model.named_parameters():
        w = p.detach()
        if w.ndim <= 1:
            parts.append(torch.zeros_like(w).reshape(-1))
            continue
        d = torch.randn(w.shape, generator=g, dtype=torch.float64).to(w.dtype)
        dims = tuple(range(1, w.ndim))
        d = d / d.norm(dim=dims, keepdim=True).clamp_min(1e-30) * w.norm(dim=dims, keepdim=True)
        parts.append(d.reshape(-1))
    return torch.cat(parts)


def _check_grid(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"{name} must be an integer ≥ 2, got {n!r}")
    return int(n)


def _plane(
    model: nn.Module,
    origin: torch.Tensor,
    d1: torch.Tensor,
    d2: torch.Tensor,
    xs: np.ndarray,
    ys: np.ndarray,
    splits: Any,
    loss: str | Callable,
    kind: str,
    points=None,
) -> Plane:
    X, Y = np.meshgrid(xs, ys)
    cx = torch.as_tensor(X.reshape(-1), dtype=origin.dtype)[:, None]
    cy = torch.as_tensor(Y.reshape(-1), dtype=origin.dtype)[:, None]
    thetas = origin[None] + cx * d1[None] + cy * d2[None]
    res = {s: evaluate(model, thetas, d, loss) for s, d in _splits(splits).items()}
    shape = (len(ys), len(xs))
    return Plane(
        xs,
        ys,
        {s: r[0].reshape(shape) for s, r in res.items()},
        {s: r[1].reshape(shape) for s, r in res.items()},
        kind,
        points or {},
    )


def random_plane(
    model: nn.Module,
    splits: Any,
    *,
    n: int = 41,
    span: float = 1.0,
    seed: int = 0,
    loss: str | Callable = "cross_entropy",
) -> Plane:
    """The 2-D slice θ* + x δ + y η, x, y ∈ [−span, span] on an n × n grid, δ, η filter-normalized
    (seeds ``seed`` and ``seed + 1``)."""
    n = _check_grid("n", n)
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not 0 < span < 1e6:
        raise ValueError(f"span must be a positive number, got {span!r}")
    origin = param_vector(model)
    d1, d2 = filter_normalized_direction(model, seed), filter_normalized_direction(model, seed + 1)
    xs = np.linspace(-span, span, n)
    return _plane(model, origin, d1, d2, xs, xs.copy(), splits, loss, "filter-normalized", {"solution": (0.0, 0.0)})


def plane_through(
    models: Sequence[nn.Module],
    splits: Any,
    *,
    n: int = 31,
    margin: float = 0.3,
    labels: Sequence[str] = ("1", "2", "3"),
    loss: str | Callable = "cross_entropy",
) -> Plane:
    """Loss on the plane through three solutions (see the module docstring); the grid covers
    the three points with ``margin`` × their extent on every side."""
    if len(models) != 3:
        raise ValueError(f"models: the plane needs exactly 3 solutions, got {len(models)}")
    check_same_architecture(list(models), "models")
    n = _check_grid("n", n)
    t1, t2, t3 = (param_vector(m) for m in models)
    u = t2 - t1
    du = u.norm()
    if float(du) == 0:
        raise ValueError("models: solutions 1 and 2 are the same point; no plane")
    u = u / du
    w = t3 - t1
    v = w - (w @ u) * u
    dv = v.norm()
    if float(dv) <= 1e-12 * float(w.norm() + du):
        raise ValueError("models: the three solutions are on one line; no plane")
    v = v / dv
    pts = {labels[0]: (0.0, 0.0), labels[1]: (float(du), 0.0), labels[2]: (float(w @ u), float(dv))}
    px, py = np.array([p[0] for p in pts.values()]), np.array([p[1] for p in pts.values()])
    ext = max(px.max() - px.min(), py.max() - py.min())
    xs = np.linspace(px.min() - margin * ext, px.max() + margin * ext, n)
    ys = np.linspace(py.min() - margin * ext, py.max() + margin * ext, n)
    return _plane(models[0], t1, u, v, xs, ys, splits, loss, "three solutions", pts)
