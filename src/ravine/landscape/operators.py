"""Symmetric linear operators v ↦ H v: a dense matrix, an analytic Hessian, a network's loss Hessian.

Every algorithm in :mod:`ravine.landscape.spectrum` sees only an :class:`Operator`: its
dimension ``dim``, its dtype and ``matvec(v)`` on a 1-D torch tensor. ``n_products`` counts
the products made, so each result can state what it cost.

The loss Hessian of a network (:class:`LossHessian`) is never formed. With the loss of a
whole data split

    L(θ) = (1/N) Σᵢ ℓ(f(xᵢ; θ), yᵢ),

the Hessian-vector product is the directional derivative of the gradient (Pearlmutter 1994,
"Fast exact multiplication by the Hessian"):

    H v = ∇²L(θ) v = d/dt ∇L(θ + t v) |_{t=0},

computed forward-over-reverse, ``torch.func.jvp(torch.func.grad(L), (θ,), (v,))`` over
``torch.func.functional_call`` (or, ``method="double_backward"``, as ∇(∇L·v) by two reverse
passes). The split is cut into chunks of ``batch_size`` samples and the chunks' products are
summed with weights n_c/N, so memory is bounded by one chunk and the result is the full-split
product, not a minibatch estimate.

``method="linearize"`` builds ``torch.func.linearize(grad L_c, θ)`` once per chunk: the
primal pass (forward and backward at θ) is traced and kept, and every product afterwards is
the tangent pass only, cheaper per product than ``jvp`` (the measured ratios to one gradient:
docs/landscape.md, Performance). The tracing costs seconds (``setup_time``) and every chunk's
traced graph is kept (memory grows with the split), so it pays only for many products at one
θ (dense checks, many probes); ``jvp`` (the default) is what one Lanczos run at a new θ wants.

Batch norm: none of ``ravine.train.make_model``'s models (logreg, mlp, cnn) has a
normalization layer or any buffer. For a model that has buffers they are held fixed (passed
to ``functional_call`` as they are; evaluation-mode statistics), never recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Operator",
    "DenseOperator",
    "problem_hessian",
    "LossHessian",
    "ScaledOperator",
    "param_vector",
    "param_dict",
    "check_same_architecture",
    "LOSSES",
    "loss_fn",
]


class Operator:
    """A symmetric linear operator on R^dim. Subclasses implement :meth:`_matvec`."""

    dim: int
    dtype: torch.dtype = torch.float64

    def __init__(self) -> None:
        self.n_products = 0

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a 1-D tensor v of length ``dim`` (one product counted)."""
        if v.ndim != 1 or v.shape[0] != self.dim:
            raise ValueError(f"v must be a 1-D tensor of length dim = {self.dim}, got shape {tuple(v.shape)}")
        self.n_products += 1
        return self._matvec(v.to(self.dtype))

    __matmul__ = matvec

    def _matvec(self, v: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def dense(self) -> torch.Tensor:
        """The matrix, column by column (dim products; for checks on small operators)."""
        eye = torch.eye(self.dim, dtype=self.dtype)
        return torch.stack([self.matvec(eye[i]) for i in range(self.dim)], 1)


class DenseOperator(Operator):
    """H v = A v for a symmetric matrix ``A`` (NumPy array or tensor), as float64 by default."""

    def __init__(self, A: Any, dtype: torch.dtype = torch.float64, *, check_symmetric: bool = True) -> None:
        super().__init__()
        A = torch.as_tensor(np.asarray(A) if not isinstance(A, torch.Tensor) else A, dtype=dtype)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a square (n, n) matrix with n ≥ 1, got shape {tuple(A.shape)}")
        if not torch.isfinite(A).all():
            raise ValueError("A has non-finite entries (nan or inf)")
        if check_symmetric:
            asym = float((A - A.T).abs().max())
            scale = max(1.0, float(A.abs().max()))
            if asym > 1e-10 * scale:
                raise ValueError(f"A must be symmetric; max |A - A.T| = {asym:.3g}")
        self.A, self.dim, self.dtype = A, int(A.shape[0]), dtype

    def _matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.A @ v


def problem_hessian(problem: Any, x: Sequence[float]) -> DenseOperator:
    """The exact Hessian ∇²f(x) of a :class:`ravine.problems.Problem` at one point x."""
    if isinstance(problem, str):
        from ..problems import get_problem

        problem = get_problem(problem)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (problem.dim,):
        raise ValueError(f"x must have shape ({problem.dim},) for problem '{problem.name}', got {x.shape}")
    return DenseOperator(np.asarray(problem.hessian(x), dtype=np.float64))


class ScaledOperator(Operator):
    """D^{-1/2} H D^{-1/2} for a positive diagonal D: the same eigenvalues as D⁻¹H (a similar
    matrix), symmetric, so Lanczos applies. Used for preconditioned sharpness λ_max(P⁻¹H)."""

    def __init__(self, op: Operator, diag: torch.Tensor) -> None:
        super().__init__()
        diag = torch.as_tensor(diag, dtype=op.dtype).reshape(-1)
        if diag.shape[0] != op.dim:
            raise ValueError(f"diag must have length dim = {op.dim}, got {diag.shape[0]}")
        if not bool((diag > 0).all()) or not bool(torch.isfinite(diag).all()):
            raise ValueError("diag must be positive and finite")
        self.op, self.dim, self.dtype = op, op.dim, op.dtype
        self.s = diag.rsqrt()

    def _matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.s * self.op.matvec(self.s * v)


# --------------------------------------------------------------------------- parameters


def param_vector(model: nn.Module) -> torch.Tensor:
    """θ: all parameters of ``model`` flattened into one detached 1-D tensor (named-parameter order)."""
    return torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])


def param_dict(model: nn.Module, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """The inverse of :func:`param_vector`: {name: view of ``flat``} shaped like the model's parameters."""
    out, i = {}, 0
    for name, p in model.named_parameters():
        n = p.numel()
        out[name] = flat[..., i : i + n].reshape(*flat.shape[:-1], *p.shape)
        i += n
    if i != flat.shape[-1]:
        raise ValueError(f"flat parameter vector has length {flat.shape[-1]}, the model has {i} parameters")
    return out


def check_same_architecture(models: Sequence[nn.Module], what: str = "models") -> None:
    """One-line ValueError unless every model has the same parameter names and shapes as ``models[0]``."""
    if len(models) == 0:
        raise ValueError(f"{what}: need at least one model, got none")
    ref = [(n, tuple(p.shape)) for n, p in models[0].named_parameters()]
    for i, m in enumerate(models[1:], 1):
        if not isinstance(m, nn.Module):
            raise ValueError(f"{what}[{i}] must be a torch.nn.Module, got {type(m).__name__}")
        got = [(n, tuple(p.shape)) for n, p in m.named_parameters()]
        if got == ref:
            continue
        names_ref, names_got = [n for n, _ in ref], [n for n, _ in got]
        if names_ref != names_got:
            raise ValueError(
                f"{what}[{i}] is another architecture: parameters {names_got[:4]}… vs {what}[0]'s {names_ref[:4]}…"
            )
        for (n, s0), (_, s1) in zip(ref, got):
            if s0 != s1:
                raise ValueError(
                    f"{what}[{i}] is another architecture: parameter {n!r} has shape {s1}, {what}[0]'s has {s0}"
                )


# --------------------------------------------------------------------------- losses


def _mse(out: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """½‖f(x) − onehot(y)‖² per sample (Cohen et al. 2021's square loss), averaged or summed."""
    per = 0.5 * (out - F.one_hot(y, out.shape[-1]).to(out.dtype)).pow(2).sum(-1)
    return per.mean() if reduction == "mean" else per.sum()


LOSSES: dict[str, Callable[..., torch.Tensor]] = {"cross_entropy": F.cross_entropy, "mse": _mse}


def loss_fn(loss: str | Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A loss ``(outputs, targets, reduction=...) -> tensor`` from its name or itself."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)} or a callable, got {loss!r}")
    return LOSSES[loss]


def as_split(data: Any, dtype: torch.dtype, what: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y) tensors from a pair of arrays; one-line ValueError for an empty or ragged split."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{what} must be a pair (x, y) of arrays, got {type(data).__name__}")
    x, y = data
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(dtype)
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).long()
    if x.shape[0] == 0:
        raise ValueError(f"{what}: the split is empty (0 samples)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what}: x has {x.shape[0]} samples but y has {y.shape[0]}")
    return x, y


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


METHODS = ("jvp", "linearize", "double_backward")


class LossHessian(Operator):
    """H = ∇²L(θ) of a model's mean loss on a whole data split, as Hessian-vector products.

    Parameters
    ----------
    model : nn.Module
        Its parameters θ are copied (detached) at construction; the module is not changed.
    data : (x, y)
        The split (arrays or tensors); must not be empty.
    loss : "cross_entropy" (default, what ``ravine.train`` minimizes) | "mse" | callable
    batch_size : int
        Samples per chunk; products are summed over chunks (memory bounded by one chunk).
    method : "jvp" (forward-over-reverse, default) | "linearize" (traced once, then tangent
        passes only) | "double_backward"
    dtype : torch dtype of θ and of the products (default: the model's).
    """

    def __init__(
        self,
        model: nn.Module,
        data: Any,
        loss: str | Callable = "cross_entropy",
        *,
        batch_size: int = 4096,
        method: str = "jvp",
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        params = [p for _, p in model.named_parameters()]
        if not params:
            raise ValueError("model has no parameters")
        self.dtype = dtype or params[0].dtype
        self.model, self.method, self.loss = model, method, loss_fn(loss)
        self.batch_size = _check_batch_size(batch_size)
        self.x, self.y = as_split(data, self.dtype)
        self.n = int(self.x.shape[0])
        self.theta = param_vector(model).to(self.dtype)
        self.dim = int(self.theta.numel())
        self.buffers = {k: b.detach() for k, b in model.named_buffers()}
        self.n_gradients = 0
        self._linear: list | None = None
        self.setup_time = 0.0  # seconds spent tracing the linearization (method "linearize")

    # L_c(θ) · n_c/N for one chunk, as a function of the flat θ
    def _chunk_loss(self, flat: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(self.model, (param_dict(self.model, flat), self.buffers), (xb,))
        return self.loss(out, yb, reduction="sum") / self.n

    def _chunks(self):
        for i in range(0, self.n, self.batch_size):
            yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]

    def _linearize(self) -> list:
        import time
        import warnings

        t = time.perf_counter()
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch.fx const-folding notes
            for xb, yb in self._chunks():
                g = torch.func.grad(lambda th, xb=xb, yb=yb: self._chunk_loss(th, xb, yb))
                out.append(torch.func.linearize(g, self.theta)[1])
        self.setup_time = time.perf_counter() - t
        return out

    def _matvec(self, v: torch.Tensor) -> torch.Tensor:
        if self.method == "linearize":
            if self._linear is None:
                self._linear = self._linearize()
            hv = self._linear[0](v)
            for f in self._linear[1:]:
                hv = hv + f(v)
            return hv
        hv = torch.zeros_like(self.theta)
        for xb, yb in self._chunks():
            if self.method == "jvp":
                g = torch.func.grad(self._chunk_loss)
                hv += torch.func.jvp(lambda t: g(t, xb, yb), (self.theta,), (v,))[1]  # noqa: B023 (called here)
            else:
                t = self.theta.detach().requires_grad_(True)
                (gr,) = torch.autograd.grad(self._chunk_loss(t, xb, yb), t, create_graph=True)
                (h,) = torch.autograd.grad(gr @ v, t)
                hv += h
        return hv

    def gradient(self) -> torch.Tensor:
        """∇L(θ) on the whole split (one reverse pass per chunk; counted in ``n_gradients``)."""
        self.n_gradients += 1
        g = torch.zeros_like(self.theta)
        for xb, yb in self._chunks():
            g += torch.func.grad(self._chunk_loss)(self.theta, xb, yb)
        return g

    def value(self) -> float:
        """L(θ) on the whole split."""
        with torch.no_grad():
            return float(sum(self._chunk_loss(self.theta, xb, yb) for xb, yb in self._chunks()))
