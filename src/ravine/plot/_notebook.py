"""The Figure class of ``ravine.plot``: a matplotlib Figure that shows itself in a notebook.

ravine draws on the Agg canvas without pyplot, so a returned Figure belongs to no backend and
IPython's inline backend never sees it: a cell ending in ``ravine.plot.contour(...)`` would print
``<Figure size 640x480 with 1 Axes>``. IPython shows a cell's value through its ``_repr_png_``
when it has one, so this class renders itself to PNG there, without ``%matplotlib inline`` and
without importing pyplot or IPython. Everything else is matplotlib's Figure.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure as _MatplotlibFigure

__all__ = ["Figure"]


class Figure(_MatplotlibFigure):
    """A matplotlib Figure that a notebook displays as a PNG when it is a cell's value."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png")  # the figure's own size and dpi, as savefig(path) writes it
        return buf.getvalue()
