"""The colours and markers of every picture ravine draws, in one place (no matplotlib here).

The static plots (``ravine.plot``, matplotlib) and the explorer (``ravine serve``: Plotly in
the browser, which reads this through ``/api/meta``) draw with these:

* :data:`COLORS` -- the trajectories' colours by position: Okabe & Ito's colour-blind-safe
  set (Okabe & Ito 2008, "Color Universal Design"; Wong 2011, Nature Methods 8:441), the
  darker colours first, so that a plot with few optimizers uses the most readable ones.
* :data:`MARKERS` -- what each kind of point looks like: a minimum is a white star, a start
  a white circle, a path's last point a dot of its colour, a path that diverged or left the
  window ends in an ✕ of its colour; every marker has a black edge (``"path"`` as a
  colour means the trajectory's own colour).
* :data:`CONTOUR_SCALE` -- the contour map behind the paths: a light neutral grey ramp
  (low f darker) against which every colour of :data:`COLORS` stays readable (no hue in
  the background that a path's hue could vanish into). ``PATH_CASING`` is the thin dark
  edge drawn under each path so that the light colours (sky blue, yellow) keep their
  contrast on the lightest greys.

:func:`as_dict` is the whole definition as plain data (what ``/api/meta`` serves).

>>> len(COLORS) >= 8 and len(set(COLORS)) == len(COLORS)
True
>>> MARKERS["minimum"]["matplotlib"], MARKERS["minimum"]["plotly"]
('*', 'star')
"""

from __future__ import annotations

__all__ = ["PALETTE_NAME", "COLORS", "COLOR_NAMES", "MARKERS", "CONTOUR_SCALE", "PATH_CASING", "as_dict", "color"]

PALETTE_NAME = "Okabe-Ito"

#: (name, hex) in the order trajectories get them
_PALETTE = (
    ("blue", "#0072B2"),
    ("vermillion", "#D55E00"),
    ("bluish green", "#009E73"),
    ("reddish purple", "#CC79A7"),
    ("orange", "#E69F00"),
    ("black", "#000000"),
    ("sky blue", "#56B4E9"),
    ("yellow", "#F0E442"),
)

#: the trajectories' colours by position (cycled past the last)
COLORS = [c for _, c in _PALETTE]
COLOR_NAMES = [n for n, _ in _PALETTE]

#: point kinds → look: the symbol in matplotlib, Plotly 2-D and Plotly 3-D (scatter3d has fewer);
#: ``face``/``edge``: a colour, or "path" (the trajectory's colour);
#: ``size``: matplotlib points (Plotly's sizes are pixels, about the same numbers)
MARKERS = {
    "minimum": {
        "matplotlib": "*",
        "plotly": "star",
        "plotly3d": "diamond",  # scatter3d has no star
        "face": "#ffffff",
        "edge": "#000000",
        "size": 14,
        "edge_width": 1.0,
    },
    "start": {
        "matplotlib": "o",
        "plotly": "circle",
        "plotly3d": "circle",
        "face": "#ffffff",
        "edge": "#000000",
        "size": 7,
        "edge_width": 1.2,
    },
    "end": {
        "matplotlib": "o",
        "plotly": "circle",
        "plotly3d": "circle",
        "face": "path",
        "edge": "#000000",
        "size": 4.5,
        "edge_width": 0.5,
    },
    "diverged": {
        "matplotlib": "X",
        "plotly": "x",
        "plotly3d": "x",
        "face": "path",
        "edge": "#000000",
        "size": 10,
        "edge_width": 0.8,
    },
    # the explorer's moving point (the state at the current step)
    "current": {
        "matplotlib": "o",
        "plotly": "circle",
        "plotly3d": "circle",
        "face": "path",
        "edge": "#000000",
        "size": 9,
        "edge_width": 1.5,
    },
}

#: the contour map: (position in [0, 1], colour), low f first (Plotly's colorscale form)
CONTOUR_SCALE = [
    (0.0, "#a9aeb5"),
    (0.25, "#c1c5ca"),
    (0.5, "#d5d8dc"),
    (0.75, "#e9ebed"),
    (1.0, "#fafafa"),
]

#: the edge under every path line: its colour and how much wider than the line it is
PATH_CASING = {"color": "#1c2533", "extra_width": 1.6, "opacity": 0.55}


def color(i: int) -> str:
    """The colour of the ``i``-th trajectory (cycled)."""
    return COLORS[i % len(COLORS)]


def as_dict() -> dict:
    """The palette, markers, contour map and casing as plain data (``/api/meta``'s ``palette``)."""
    return {
        "name": PALETTE_NAME,
        "colors": list(COLORS),
        "color_names": list(COLOR_NAMES),
        "markers": {k: dict(v) for k, v in MARKERS.items()},
        "contour_scale": [[p, c] for p, c in CONTOUR_SCALE],
        "path_casing": dict(PATH_CASING),
    }
