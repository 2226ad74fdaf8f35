"""The few math functions an update rule needs, for any array type.

Rules are written once with ordinary operators (``+ - * / **``) and the
functions below, so that the same lines run on

* NumPy arrays and Python floats (the runner, ``ravine explain``),
* torch tensors (``ravine.optim``; traced by ``torch.compile`` too),
* scalars inside compiled Numba kernels (``ravine.run`` registers Numba
  overloads for these names, see ``ravine/runner/numba_backend.py``).

Dispatch is by duck typing: anything with a ``.sqrt`` method (a torch tensor)
uses its own methods; everything else goes through NumPy. Nothing here imports
torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: what the rules compute on: a NumPy array, a torch tensor, or a Python/NumPy scalar
Array = Any

__all__ = [
    "Array",
    "add_scaled",
    "zeros_like",
    "zeros_stack",
    "full_like",
    "sqrt",
    "sign",
    "maximum",
    "where",
    "square",
    "isfinite_all",
    "push",
    "ring_put",
    "window_sum",
    "solve",
    "dot",
    "matvec",
    "identity_like",
    "is_positive_definite",
]


def _is_tensor(x: Array) -> bool:
    return hasattr(x, "sqrt") and not isinstance(x, np.ndarray)


def sqrt(x: Array) -> Array:
    """Elementwise square root."""
    if _is_tensor(x):
        return x.sqrt()
    if isinstance(x, float):
        return math.sqrt(x)
    return np.sqrt(x)


def zeros_like(x: Array) -> Array:
    """An array of zeros with the shape, dtype (and device) of ``x``."""
    if _is_tensor(x):
        import torch

        return torch.zeros_like(x)
    return np.zeros_like(x)


def zeros_stack(x: Array, n: int) -> Array:
    """Zeros of shape ``(n, *x.shape)`` with the dtype (and device) of ``x``."""
    if _is_tensor(x):
        import torch

        return torch.zeros((n, *x.shape), dtype=x.dtype, device=x.device)
    x = np.asarray(x)
    return np.zeros((n, *x.shape), dtype=x.dtype)


def full_like(x: Array, value: float) -> Array:
    """An array filled with ``value`` with the shape, dtype (and device) of ``x``."""
    if _is_tensor(x):
        import torch

        return torch.full_like(x, value)
    return np.full_like(x, value)


def _tracing(torch: Any) -> bool:
    """Inside ``make_fx`` (a proxy dispatch mode is active)."""
    return torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.PROXY) is not None


def add_scaled(x: Array, a: Array, y: Array) -> Array:
    """x + a·y. On tensors this is ``torch.add(x, y, alpha=a)``, the kernel torch.optim uses,
    which rounds once (a fused multiply-add) where x + a*y rounds twice; NumPy has no fused
    form and computes x + a*y."""
    if _is_tensor(x) or _is_tensor(y):
        import torch

        if torch.compiler.is_compiling() or _tracing(torch):
            # a traced alpha would be specialized (a recompile per lr), or read out of a
            # tensor being traced (``make_fx``: ravine.benchmark.batched's compiled step)
            return x + a * y
        if getattr(a, "ndim", 0) > 0:  # one value per stacked configuration (ravine.benchmark.batched)
            return x + a * y
        return torch.add(x, y, alpha=a)
    return x + a * y


def square(x: Array) -> Array:
    """Elementwise x·x (written as a product, as every reference does)."""
    return x * x


def sign(x: Array) -> Array:
    """Elementwise sign: −1, 0 or +1."""
    if _is_tensor(x):
        return x.sign()
    return np.sign(x)


def maximum(a: Array, b: Array) -> Array:
    """Elementwise maximum of two arrays of the same kind."""
    if _is_tensor(a):
        return a.maximum(b)
    return np.maximum(a, b)


def where(cond: Array, a: Array, b: Array) -> Array:
    """Elementwise choice: ``a`` where ``cond`` holds, else ``b``."""
    if _is_tensor(cond) or _is_tensor(a):
        import torch  # a tensor is already here, so torch is loaded

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def isfinite_all(x: Array) -> bool:
    """True when every entry of ``x`` is finite."""
    if _is_tensor(x):
        return bool(x.isfinite().all())
    return bool(np.isfinite(x).all())


def push(window: Array, x: Array) -> Array:
    """Return ``window`` with ``x`` put in front and the oldest entry dropped.

    ``window`` has shape ``(W, *x.shape)``; entry 0 is the newest.
    """
    if _is_tensor(window):
        import torch

        return torch.cat([x.unsqueeze(0), window[:-1]], dim=0)
    return np.concatenate([np.asarray(x)[None], window[:-1]], axis=0)


def ring_put(window: Array, i: Array, x: Array) -> Array:
    """Return ``window`` with entry ``i`` replaced by ``x``: a ring buffer of the last ``W`` values.

    ``window`` has shape ``(W, *x.shape)``; writing step t's value at ``i = (t − 1) mod W`` keeps
    the W newest values (in no particular order: a sum over them does not care). The function is
    pure; under ``torch.compile`` the copy back into the state buffer becomes a write of the one
    entry (inductor re-inplaces it), so a step moves θ-sized data, not W·θ. ``i`` may be a
    0-d tensor (the compiled step passes its terms as tensor values).
    """
    if _is_tensor(window):
        import torch

        idx = i.long().reshape(1) if _is_tensor(i) else torch.tensor([int(i)], device=window.device)
        return window.index_copy(0, idx, x.unsqueeze(0))
    out = np.array(window, copy=True)
    out[int(i)] = x
    return out


def window_sum(window: Array) -> Array:
    """Sum over the window axis (axis 0)."""
    return window.sum(0)


# --- linear algebra for the second-order rules (batched over leading axes) ---


def dot(a: Array, b: Array) -> Array:
    """Inner product over the last axis: Σ_i a_i b_i, keeping leading (batch) axes."""
    return (a * b).sum(-1)


def matvec(H: Array, v: Array) -> Array:
    """H v over the last two axes of H, batched."""
    return (H @ v[..., None])[..., 0]


def identity_like(H: Array) -> Array:
    """An identity matrix broadcastable against H (…, D, D)."""
    d = H.shape[-1]
    if _is_tensor(H):
        import torch

        return torch.eye(d, dtype=H.dtype, device=H.device)
    return np.eye(d, dtype=H.dtype)


def is_positive_definite(H: Array) -> Array:
    """Per batch entry: True where the symmetric matrix H is positive definite."""
    if _is_tensor(H):
        import torch

        return torch.linalg.eigvalsh(H)[..., 0] > 0
    return np.linalg.eigvalsh(H)[..., 0] > 0


def solve(H: Array, g: Array) -> Array:
    """Solve H x = g for x, batched over leading axes (H: (…, D, D), g: (…, D))."""
    if _is_tensor(H):
        import torch

        return torch.linalg.solve(H, g.unsqueeze(-1)).squeeze(-1)
    return np.linalg.solve(H, g[..., None])[..., 0]
