"""The one palette (``ravine.plot.palette``): what it promises, and that every face uses it.

Colour-blind safety is checked numerically: the colours are simulated for protanopia,
deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity 1) and must stay
pairwise apart (CIE76 ΔE in L*a*b*); each colour, with the path casing under it, must keep a
WCAG contrast of at least 3 against the lightest and darkest colours of the contour map.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ravine.plot import palette

# Machado et al. 2009, severity 1.0, on linear RGB
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _rgb(hex_: str) -> np.ndarray:
    return np.array([int(hex_[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0


def _linear(c):
    c = np.asarray(c, float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(lin):
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _luminance(hex_: str) -> float:
    return float(np.array([0.2126, 0.7152, 0.0722]) @ _linear(_rgb(hex_)))


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_at_least_eight_distinct_colours():
    assert len(palette.COLORS) >= 8
    assert len({c.lower() for c in palette.COLORS}) == len(palette.COLORS)
    assert len(palette.COLOR_NAMES) == len(palette.COLORS)
    assert palette.color(len(palette.COLORS)) == palette.COLORS[0]


@pytest.mark.parametrize("kind", ["normal", *CVD])
def test_colours_stay_apart_under_colour_blindness(kind):
    lin = [_linear(_rgb(c)) for c in palette.COLORS]
    if kind != "normal":
        m = np.array(CVD[kind])
        lin = [np.clip(m @ c, 0, 1) for c in lin]
    labs = [_lab(c) for c in lin]
    worst = min(
        (float(np.linalg.norm(labs[i] - labs[j])), palette.COLOR_NAMES[i], palette.COLOR_NAMES[j])
        for i in range(len(labs))
        for j in range(i + 1, len(labs))
    )
    assert worst[0] > 12, f"{kind}: {worst[1]} and {worst[2]} are only ΔE {worst[0]:.1f} apart"


def test_every_colour_is_readable_on_the_contour_map():
    """The casing (the dark edge under each path) stands out on every grey of the map (3:1),
    and each colour stands out on the map or on its casing (2.5:1), on the lightest and the
    darkest grey."""
    scale = [c for _, c in palette.CONTOUR_SCALE]
    lightest, darkest = max(scale, key=_luminance), min(scale, key=_luminance)
    casing = palette.PATH_CASING["color"]
    for bg in scale:
        assert _contrast(casing, bg) >= 3, f"the casing does not stand out on {bg}"
    for name, c in zip(palette.COLOR_NAMES, palette.COLORS):
        for bg in (lightest, darkest):
            best = max(_contrast(c, bg), _contrast(c, casing))
            assert best >= 2.5, f"{name} on {bg}: contrast {best:.2f} against the map and its casing"
    # and the map carries no hue a path could vanish into (a neutral grey ramp)
    for c in scale:
        r, g, b = _rgb(c)
        assert max(r, g, b) - min(r, g, b) < 0.06, f"{c} is not a neutral grey"


def test_markers_follow_the_static_conventions():
    m = palette.MARKERS
    assert (m["minimum"]["matplotlib"], m["minimum"]["face"]) == ("*", "#ffffff")
    assert (m["start"]["matplotlib"], m["start"]["face"], m["start"]["edge"]) == ("o", "#ffffff", "#000000")
    assert m["end"]["face"] == "path" and m["diverged"]["face"] == "path"
    assert m["diverged"]["matplotlib"] == "X" and m["diverged"]["plotly"] == "x"
    for kind, look in m.items():  # every face has its symbol
        assert {"matplotlib", "plotly", "plotly3d", "face", "edge", "size", "edge_width"} <= set(look), kind
    d = palette.as_dict()
    assert d["colors"] == palette.COLORS and set(d["markers"]) == set(m)


def test_palette_does_not_import_matplotlib():
    code = "import sys, ravine.plot.palette; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_static_plots_draw_with_the_palette():
    pytest.importorskip("matplotlib")
    import ravine
    from ravine import plot
    from ravine.plot import _figure
    from ravine.rules import SGD

    assert plot.COLORS is palette.COLORS and _figure.COLORS is palette.COLORS
    res = ravine.run({"a": SGD(lr=0.1), "b": SGD(lr=0.5)}, "ellipse", np.array([-5.0, -2.0]), 10, backend="numpy")
    fig = plot.contour("ellipse", res)
    lines = fig.axes[0].get_lines()
    paths = {ln.get_gid(): ln.get_color().lower() for ln in lines if (ln.get_gid() or "").startswith("path:")}
    assert list(paths.values()) == [c.lower() for c in palette.COLORS[:2]]
    starts = [ln for ln in lines if ln.get_marker() == "o" and ln.get_markerfacecolor() == "#ffffff"]
    assert starts and starts[0].get_markeredgecolor() == "#000000"


def test_meta_serves_the_palette():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ravine.explorer import create_app

    with TestClient(create_app(numba=False, background=False), base_url="http://127.0.0.1") as client:
        got = client.get("/api/meta").json()["palette"]
    assert got == palette.as_dict()
