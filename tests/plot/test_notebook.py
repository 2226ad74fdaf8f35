"""ravine's figures show themselves in a notebook: IPython's display formatter gives a PNG for a
figure that is a cell's value, with no ``%matplotlib inline``."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("IPython")

from PIL import Image

import ravine
from ravine import plot
from ravine.rules import SGD


def test_a_returned_figure_is_a_png_for_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    fig = plot.contour("ellipse")
    data, _ = InteractiveShell.instance().display_formatter.format(fig)
    assert "image/png" in data
    with Image.open(io.BytesIO(data["image/png"])) as im:
        assert im.size == (640, 480)  # the figure's own size at its dpi
    # a loss curve, and a grid of axes of plot.new_figure (the gallery's side-by-side pictures)
    curves = plot.loss_curves(ravine.run({"gd": SGD(lr=0.1)}, "ellipse", steps=5, backend="numpy"))
    grid, _ = plot.new_figure(1, 2)
    for f in (curves, grid):
        assert "image/png" in InteractiveShell.instance().display_formatter.format(f)[0]
