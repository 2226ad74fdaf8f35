"""Static pictures of optimizer runs (matplotlib; imported only here, never by ``import ravine``).

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` and saves it when
given ``path``. Figures are built without pyplot on the Agg canvas, so saving works on any
machine (no display, no global backend switch); pass ``ax=`` to draw into an axes of your own.

* :func:`contour` -- a 2-D problem's contour map with the trajectories of several optimizers
  (legend, start points and minima marked; log-spaced levels where ``problem.log_levels``).
* :func:`surface3d` -- the surface z = f(x, y) with the paths drawn on it.
* :func:`loss_curves` -- loss against step on a log axis (f − f* where f ≤ 0 occurs and the
  minima are known, else a symlog axis).
* :func:`seed_bands` -- training curves, mean ± std over seeds (label → list of per-seed arrays).
* :func:`heatmap` -- final loss or steps-to-tolerance over a grid of two hyperparameters,
  computed by :func:`ravine.runner.sweep`, with the
  stability bounds of :class:`ravine.analysis.QuadraticRates` drawn over it on quadratics.
* :func:`step_sizes` -- ‖Δθ_t‖ against t (Adagrad's vanishing step beside RMSProp's).

Sizes, text and lines come from the active :func:`style` (``with plot.style("slides"):`` —
1600 × 900 pixels, the command line's and the gallery's look), or from matplotlib's rcParams
outside one; ``figsize=``/``dpi=`` override them. Default titles say what happened
(:func:`outcome`: "adam converges in 87 steps; sgd diverges at step 12"), then the problem.

No hidden clipping: numbers are never clipped. A trajectory that leaves the plotting window is
drawn up to the point where it crosses the window's edge, and that point is marked (✕) with the
step and, when the runner marked it diverged, the step of divergence. Excursions that come back
are drawn and clipped to the axes by matplotlib.
"""

from __future__ import annotations

from ._figure import (
    COLORS,
    DEFAULT_STYLE,
    STYLES,
    Trace,
    _save,
    draw_background,
    new_figure,
    outcome,
    style,
    style_pixels,
    traces,
    visible_part,
)
from .animation import FFmpegNotFoundError, animate, frame_steps
from .heatmap import heatmap
from .static import contour, curve1d, loss_curves, seed_bands, step_sizes, surface3d

__all__ = [
    "contour",
    "surface3d",
    "loss_curves",
    "seed_bands",
    "heatmap",
    "step_sizes",
    "Trace",
    "traces",
    "COLORS",
    "new_figure",
    "draw_background",
    "visible_part",
    "save",
    "animate",
    "frame_steps",
    "FFmpegNotFoundError",
    "curve1d",
    "style",
    "STYLES",
    "DEFAULT_STYLE",
    "style_pixels",
    "outcome",
]

save = _save
