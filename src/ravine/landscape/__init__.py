"""``ravine.landscape``: what the optimizers found — curvature and shape of a network's loss.

Hessian-vector products on a whole data split, sharpness λ_max and the top of the spectrum
(Lanczos, power iteration), the trace (Hutchinson), the spectral density (stochastic Lanczos
quadrature), loss along lines and planes between solutions and in filter-normalized random
directions, and the edge of stability during training. See docs/landscape.md.

A tool: it imports torch (``import ravine`` does not import this package), the core
(``ravine.problems``) and the train tool; nothing in core or adapters imports it.

>>> from ravine.landscape import LossHessian, lanczos, hutchinson_trace
>>> H = LossHessian(model, (x_train, y_train))                 # doctest: +SKIP
>>> lanczos(H, k=3).eigenvalues, hutchinson_trace(H).trace     # doctest: +SKIP
"""

from __future__ import annotations

from .eos import adam_preconditioner, stability_threshold, track_sharpness
from .operators import (
    DenseOperator,
    LossHessian,
    Operator,
    ScaledOperator,
    check_same_architecture,
    param_dict,
    param_vector,
    problem_hessian,
)
from .spectrum import (
    EigenResult,
    SpectralDensity,
    TraceEstimate,
    hutchinson_trace,
    lanczos,
    power_iteration,
    slq_density,
)
from .surfaces import (
    DEFAULT_ALPHAS,
    Line,
    Plane,
    evaluate,
    filter_normalized_direction,
    interpolate,
    interpolate_pairs,
    plane_through,
    random_plane,
)

__all__ = [
    "Operator",
    "DenseOperator",
    "LossHessian",
    "ScaledOperator",
    "problem_hessian",
    "param_vector",
    "param_dict",
    "check_same_architecture",
    "EigenResult",
    "TraceEstimate",
    "SpectralDensity",
    "lanczos",
    "power_iteration",
    "hutchinson_trace",
    "slq_density",
    "evaluate",
    "interpolate",
    "interpolate_pairs",
    "Line",
    "Plane",
    "filter_normalized_direction",
    "random_plane",
    "plane_through",
    "DEFAULT_ALPHAS",
    "track_sharpness",
    "stability_threshold",
    "adam_preconditioner",
    "gallery_figures",
]


def __getattr__(name):
    if name == "gallery_figures":
        from .plots import gallery_figures

        return gallery_figures
    raise AttributeError(f"module 'ravine.landscape' has no attribute {name!r}")
