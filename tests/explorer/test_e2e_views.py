"""End-to-end: the explorer's views beside and below the contour, in a real browser.

What is checked is what the views DRAW (Plotly's ``gd.data``) against what the server
answered (``window.ravineState``) and what Python defines: the palette in the page is
``ravine.plot.palette``'s; the 3-D view has the problem's surface and one path per optimizer
whose z are the run's losses lifted above the drawn surface (recomputed here, in NumPy, from
the contour grid), with markers that follow the keyboard; the keys change S.step as
docs/explorer.md says; the conventions view runs one path per convention with the values
/api/run returns for them, and its differences table has exactly the fields whose resolved
values (/api/meta defaults + the user's hyperparameters) differ.

The server and the browser are tests/explorer/conftest.py's fixtures; waits use wait_for_function, never
fixed sleeps.
"""

from __future__ import annotations

import json
import math
import urllib.parse

import numpy as np
import pytest

from ravine.plot import palette
from support.browser import require_chromium

require_chromium()

READY = "() => window.ravineState && window.ravineState.ready && window.ravineState.result && window.ravineState.pending === 0"


def _open(browser, explorer_url, setup=None, size=(1440, 1000)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(explorer_url + "/" + ("" if setup is None else "#s=" + urllib.parse.quote(json.dumps(setup))))
    page.wait_for_function(READY)
    return page, errors


SETUP = {
    "problem": "rosenbrock",
    "start": [-1.2, 1.0],
    "steps": 300,
    "optimizers": [
        {"name": "momentum", "convention": "torch", "hyper": {"lr": 0.001}},
        {"name": "adam", "convention": "torch", "hyper": {"lr": 0.05}},
        {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.01}},  # diverges: its path is cut
    ],
}


def test_palette_in_the_page_is_pythons(explorer_url, browser):
    setup = dict(
        SETUP,
        optimizers=[
            {"name": n, "convention": "torch", "hyper": {}}
            for n in ["momentum", "adam", "rmsprop", "nag", "adagrad", "sgd", "yogi", "adadelta", "nadam"]
        ],
    )
    page, errors = _open(browser, explorer_url, setup)
    assert page.evaluate("() => window.ravineState.meta.palette") == palette.as_dict()
    drawn = page.evaluate("""() => document.getElementById('contour').data
        .filter(t => t.type === 'scatter' && t.mode === 'lines' && t.showlegend !== false)
        .map(t => t.line.color)""")
    n = len(setup["optimizers"])
    assert drawn == [palette.COLORS[i % len(palette.COLORS)] for i in range(n)]  # the 9th cycles to the 1st
    cards = page.evaluate("() => [...document.querySelectorAll('.opt-card')].map(c => c.style.getPropertyValue('--c'))")
    assert cards == drawn
    marks = page.evaluate("""() => Object.fromEntries(document.getElementById('contour').data
        .filter(t => t.name === 'minima' || t.name === 'start').map(t => [t.name, t.marker]))""")
    for kind, name in (("minimum", "minima"), ("start", "start")):
        m = palette.MARKERS[kind]
        assert marks[name]["symbol"] == m["plotly"]
        assert (marks[name]["color"], marks[name]["line"]["color"]) == (m["face"], m["edge"])
    scale = page.evaluate("() => document.getElementById('contour').data[0].colorscale")
    assert scale == [[p, c] for p, c in palette.CONTOUR_SCALE]
    assert not errors, errors
    page.close()


def _surface_top(x, y, gx, gy, gz):
    """The highest the triangulated surface (either diagonal) is at (x, y); None outside."""
    nx, ny = len(gx), len(gy)
    fx0 = (x - gx[0]) / (gx[-1] - gx[0]) * (nx - 1)
    fy0 = (y - gy[0]) / (gy[-1] - gy[0]) * (ny - 1)
    if not (0 <= fx0 <= nx - 1 and 0 <= fy0 <= ny - 1):
        return None
    i, j = min(int(fx0), nx - 2), min(int(fy0), ny - 2)
    fx, fy = fx0 - i, fy0 - j
    z00, z10, z01, z11 = gz[j, i], gz[j, i + 1], gz[j + 1, i], gz[j + 1, i + 1]
    a = z00 + fx * (z10 - z00) + fy * (z11 - z10) if fx >= fy else z00 + fy * (z01 - z00) + fx * (z11 - z01)
    b = (
        z00 + fx * (z10 - z00) + fy * (z01 - z00)
        if fx + fy <= 1
        else z11 + (1 - fx) * (z01 - z11) + (1 - fy) * (z10 - z11)
    )
    return max(a, b)


def _press(page, key, step):
    """Press ``key`` and wait until the page is at ``step``."""
    page.keyboard.press(key)
    page.wait_for_function("(t) => window.ravineState.step === t", arg=step)


def _current_markers(page):
    return page.evaluate("""() => document.getElementById('surface').data
        .filter(t => t.ravine && t.ravine.role === 'current').map(t => [t.x[0], t.y[0], t.z[0]])""")


def test_surface_view_draws_the_paths_on_the_surface(explorer_url, browser):
    page, errors = _open(browser, explorer_url, SETUP)
    assert page.locator("#show-3d").is_checked() is False
    assert page.locator("#surface").is_hidden()
    page.locator("#show-3d").check()
    page.wait_for_function("() => window.ravineState.surface && document.getElementById('surface').data")
    assert '"v3d":1' in urllib.parse.unquote(page.url)
    data = page.evaluate("""() => { const s = window.ravineState, gd = document.getElementById('surface');
        return {traces: gd.data.map(t => ({type: t.type, role: t.ravine && t.ravine.role, index: t.ravine && t.ravine.index,
                                           x: t.x, y: t.y, z: t.z, color: t.line && t.line.color, surfacecolor: t.surfacecolor})),
                info: s.problemInfo, result: s.result, lift: s.surface.lift}; }""")
    info, result, lift = data["info"], data["result"], data["lift"]
    surfaces = [t for t in data["traces"] if t["type"] == "surface"]
    assert len(surfaces) == 1
    gz = np.array(info["contour"]["z"], dtype=float)
    np.testing.assert_array_equal(np.array(surfaces[0]["z"], dtype=float), gz)
    assert info["log_levels"] is True  # rosenbrock: the colour is the contour's log scale
    zmin = info["contour"]["zmin"]
    np.testing.assert_allclose(np.array(surfaces[0]["surfacecolor"], float), np.log10(1 + gz - zmin), rtol=1e-12)
    span = float(np.nanmax(gz) - np.nanmin(gz))
    assert 0 < lift <= 0.01 * span  # a hair

    paths = [t for t in data["traces"] if t["type"] == "scatter3d" and t["role"] == "path"]
    assert [p["index"] for p in paths] == list(range(len(SETUP["optimizers"])))
    assert [p["color"] for p in paths] == palette.COLORS[: len(paths)]
    gx, gy = info["contour"]["x"], info["contour"]["y"]
    (bx0, bx1), (by0, by1) = info["bounds"]
    cut = 0
    for p, tr in zip(paths, result["trajectories"]):
        assert p["x"] == tr["x"] and p["y"] == tr["y"]
        for x, y, z, f in zip(tr["x"], tr["y"], p["z"], tr["loss"]):
            inside = x is not None and f is not None and math.isfinite(f) and bx0 <= x <= bx1 and by0 <= y <= by1
            if not inside:
                assert z is None  # outside the window or not finite: not drawn
                cut += 1
                continue
            top = _surface_top(x, y, gx, gy, gz)
            want = max(f, top if top is not None else f) + lift
            assert z == pytest.approx(want, rel=1e-9, abs=1e-9 * span)
            assert z >= f  # never below the loss, never inside the drawn surface
    assert cut > 0, "the diverging sgd should leave the window"
    assert result["trajectories"][2]["status"] == "diverged"

    # the current-step markers follow the keyboard (focus is on the checkbox: not a text field)
    steps = result["steps"]
    for key, want in (
        ("End", steps),
        ("Home", 0),
        ("Shift+ArrowRight", 10),
        ("ArrowRight", 11),
        ("Shift+ArrowLeft", 1),
    ):
        _press(page, key, want)
        marks = _current_markers(page)
        for i, (tr, m) in enumerate(zip(result["trajectories"], marks)):
            k = min(want, len(tr["x"]) - 1)
            z = paths[i]["z"][k]
            assert m == ([tr["x"][k], tr["y"][k], z] if z is not None else [None, None, None]), (key, i)
    _press(page, "End", steps)
    assert _current_markers(page)[0] != [
        result["trajectories"][0]["x"][1],
        result["trajectories"][0]["y"][1],
        paths[0]["z"][1],
    ]

    # the URL brings the 3-D view back
    page2 = browser.new_page(viewport={"width": 1200, "height": 900})
    errors2: list[str] = []
    page2.on("pageerror", lambda e: errors2.append(str(e)))
    page2.goto(page.url)
    page2.wait_for_function(READY + " && window.ravineState.surface")
    assert page2.locator("#show-3d").is_checked()
    assert page2.evaluate("() => document.getElementById('surface').data.filter(t => t.type === 'surface').length") == 1
    page2.close()
    page.locator("#show-3d").uncheck()
    page.wait_for_function("() => !window.ravineState.surface")
    assert page.locator("#surface").is_hidden()
    assert '"v3d"' not in urllib.parse.unquote(page.url)
    assert not errors and not errors2, errors + errors2
    page.close()


def test_keyboard_keys_change_the_step_as_documented(explorer_url, browser):
    page, errors = _open(browser, explorer_url, SETUP)
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
    steps = page.evaluate("() => window.ravineState.result.steps")
    for key, want in (
        ("End", steps),
        ("Home", 0),
        ("Shift+ArrowRight", 10),
        ("Shift+ArrowRight", 20),
        ("ArrowLeft", 19),
        ("Shift+ArrowLeft", 9),
        ("ArrowRight", 10),
        ("Home", 0),
        ("ArrowLeft", 0),
    ):
        _press(page, key, want)
    assert page.locator("#speed").input_value() == "5"
    page.keyboard.press("+")
    assert page.locator("#speed").input_value() == "20"
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert page.locator("#speed").input_value() == "2"
    page.keyboard.press("Space")
    page.wait_for_function("() => window.ravineState.playing && window.ravineState.step > 0")
    page.keyboard.press("Space")
    page.wait_for_function("() => !window.ravineState.playing")
    # typing in a field keeps its keys
    page.keyboard.press("Home")
    page.wait_for_function("() => window.ravineState.step === 0")
    page.locator("#tol").focus()
    for key in ("End", "Shift+ArrowRight", "ArrowRight", "+", "Space"):
        page.keyboard.press(key)
    assert page.evaluate("() => window.ravineState.step") == 0
    assert page.evaluate("() => window.ravineState.playing") is False
    assert page.locator("#speed").input_value() == "2"
    # the buttons' titles name their keys (docs/explorer.md lists the same)
    titles = {
        b: page.locator(f"#{b}").get_attribute("title") for b in ("play", "first", "last", "back", "fwd", "speed")
    }
    assert "space" in titles["play"] and "Home" in titles["first"] and "End" in titles["last"]
    assert "Shift+←" in titles["back"] and "Shift+→" in titles["fwd"] and "+" in titles["speed"]
    assert not errors, errors
    page.close()


def _expected(meta, name, hyper):
    """Each convention's resolved hyperparameters from /api/meta, and the fields that differ."""
    m = next(o for o in meta["optimizers"] if o["name"] == name)
    resolved = {c: {**m["defaults"][c], **hyper} for c in m["conventions"]}
    fields = [f["name"] for f in m["fields"] if len({json.dumps(resolved[c][f["name"]]) for c in resolved}) > 1]
    return resolved, fields


def test_conventions_view_runs_each_convention_and_explains_the_differences(explorer_url, browser):
    setup = dict(
        SETUP,
        optimizers=[
            {"name": "rmsprop", "convention": "torch", "hyper": {"lr": 0.01}},
            {"name": "adam", "convention": "torch", "hyper": {"lr": 0.05}},
            {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.001, "momentum": 0.9, "weight_decay": 0.1}},
        ],
    )
    page, errors = _open(browser, explorer_url, setup)
    page.locator("#conventions-view > summary").click()
    page.wait_for_function("() => window.ravineState.conventions && window.ravineState.conventions.draws > 0")
    meta = page.evaluate("() => window.ravineState.meta")
    resolved, fields = _expected(meta, "rmsprop", {"lr": 0.01})
    conv = page.evaluate("() => window.ravineState.conventions")
    convs = list(resolved)
    assert conv["convs"] == convs and len(convs) >= 4
    assert conv["info"]["resolved"] == resolved
    assert all(h["lr"] == 0.01 for h in resolved.values())  # the user's lr in every convention
    assert "lr" not in fields and {"alpha", "eps", "eps_inside"} <= set(fields)
    # the table: one row per differing field, one value per convention, a sentence naming them
    rows = page.evaluate("""() => [...document.querySelectorAll('#conv-table tr[data-field]')].map(tr => ({
        field: tr.dataset.field, cells: [...tr.querySelectorAll('td.val')].length,
        why: tr.nextElementSibling.textContent}))""")
    assert [r["field"] for r in rows] == fields
    for r in rows:
        assert r["cells"] == len(convs)
        assert all(c in r["why"] for c in convs), r
    eps_row = next(r for r in rows if r["field"] == "eps_inside")
    assert "inside the root" in eps_row["why"] and "outside the root" in eps_row["why"]
    heads = page.evaluate("() => [...document.querySelectorAll('#conv-table th.conv')].map(th => th.textContent)")
    assert heads == convs
    # one path per convention, as /api/run returns it, in the palette's colours
    drawn = page.evaluate("""() => document.getElementById('conv-contour').data
        .filter(t => t.ravine && t.ravine.role === 'path').map(t => ({c: t.ravine.convention, x: t.x, y: t.y, color: t.line.color}))""")
    assert [d["c"] for d in drawn] == convs
    assert [d["color"] for d in drawn] == palette.COLORS[: len(convs)]
    trajs = conv["result"]["trajectories"]
    for d, tr, c in zip(drawn, trajs, convs):
        assert tr["convention"] == c and tr["hyper"] == resolved[c]
        assert (d["x"], d["y"]) == (tr["x"], tr["y"])
    keras = convs.index("keras")
    body = {
        "problem": "rosenbrock",
        "start": setup["start"],
        "steps": setup["steps"],
        "optimizers": [{"name": "rmsprop", "convention": "keras", "hyper": {"lr": 0.01}}],
    }
    alone = page.evaluate(
        """(b) => fetch('/api/run', {method: 'POST', headers: {'Content-Type': 'application/json'},
           body: JSON.stringify(b)}).then(r => r.json())""",
        body,
    )["trajectories"][0]
    assert (drawn[keras]["x"], drawn[keras]["y"]) == (alone["x"], alone["y"])
    assert drawn[convs.index("torch")]["x"] != drawn[keras]["x"]  # the conventions really differ here
    losses = page.evaluate("""() => document.getElementById('conv-loss').data.map(t => [t.ravine.convention, t.y])""")
    assert losses == [[c, tr["loss"]] for c, tr in zip(convs, trajs)]

    # a convention the rule refuses with these hyperparameters is named, not run
    n = page.evaluate("() => window.ravineState.conventions.draws")
    page.locator("#conv-pick").select_option("opt:2")
    page.wait_for_function("(n) => window.ravineState.conventions.draws > n", arg=n)
    conv = page.evaluate("() => window.ravineState.conventions")
    sgd_resolved, _ = _expected(meta, "sgd", setup["optimizers"][2]["hyper"])
    assert set(conv["info"]["errors"]) == {"keras"}
    assert conv["convs"] == [c for c in sgd_resolved if c != "keras"]
    assert [t["convention"] for t in conv["result"]["trajectories"]] == conv["convs"]
    assert "keras" in page.locator("#conv-errors").inner_text()
    assert not errors, errors
    page.close()
