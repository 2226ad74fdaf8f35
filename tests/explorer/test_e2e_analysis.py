"""End-to-end: the eigen-components view and the hyperparameter map, in a real browser.

What each view *draws* is checked against numbers computed here: the measured curves of the
eigen view against |qᵢᵀ(θ_t − θ*)| from the page's own trajectory (window.ravineState.result)
and a NumPy eigen-decomposition of H; its dashed lines' slopes against the spectral radius of
the iteration matrix; the map's heatmap cells against direct runs of ravine.run, its bound
lines against ravine.analysis; a click on a cell against the optimizer it sets and reruns.
Same server and browser fixtures as test_e2e.py (tests/explorer/conftest.py: a ``ravine serve`` subprocess, Debian's
chromium); waits are ``wait_for_function`` on the page's state, never fixed sleeps.
"""

from __future__ import annotations

import json
import math
import urllib.parse

import numpy as np
import pytest

import ravine
from ravine.problems import get_problem
from ravine.rules import get_rule
from support.browser import ARTIFACTS, require_chromium

require_chromium()


def _open(browser, explorer_url, setup, sel=0):
    page = browser.new_page(viewport={"width": 1360, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    state = dict(setup, t=0, sel=sel)
    page.goto(explorer_url + "/#s=" + urllib.parse.quote(json.dumps(state)))
    page.wait_for_function("() => window.ravineState && window.ravineState.ready && window.ravineState.result")
    return page, errors


def _quadratic(name):
    p = get_problem(name)
    H = np.asarray(p.hessian(np.zeros(2)), float)
    xs = np.linalg.solve(H, -np.asarray(p.grad(np.zeros(2)), float))
    return H, xs


def _traces(page, div):
    return page.evaluate(
        f"""() => document.getElementById('{div}').data.map(t => ({{
            type: t.type, x: Array.from(t.x || []), y: Array.from(t.y || []), name: t.name,
            z: t.z ? t.z.map(r => Array.isArray(r) ? Array.from(r) : r) : null,
            meta: t.meta || null, dash: t.line ? t.line.dash || null : null }}))"""
    )


def _heavy_ball_rho(lr, beta, lam):
    return max(abs(np.linalg.eigvals(np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]]))))


MATYAS = {
    "problem": "matyas",
    "start": [8.0, 2.0],
    "steps": 200,
    "optimizers": [
        {"name": "momentum", "convention": "torch", "hyper": {"lr": 0.5, "momentum": 0.6}},
        {"name": "adam", "convention": "torch", "hyper": {"lr": 0.1}},
    ],
}


def _check_eigen_plot(page, H, xs, index, lr, beta):
    lam, Q = np.linalg.eigh(H)
    tr = page.evaluate(f"() => window.ravineState.result.trajectories[{index}]")
    theta = np.stack([np.array(tr["x"], float), np.array(tr["y"], float)], axis=1)
    want = np.abs((theta - xs) @ Q)
    traces = _traces(page, "eigen-plot")
    measured = [t for t in traces if t["meta"] and t["meta"]["role"] == "measured"]
    theory = [t for t in traces if t["meta"] and t["meta"]["role"] == "theory"]
    assert len(measured) == 2, [t["name"] for t in traces]
    scale = float(np.abs(theta).max())
    for t in measured:
        i = t["meta"]["i"]
        y = np.array([np.nan if v is None else v for v in t["y"]], float)
        ok = np.isfinite(y)
        assert ok.sum() > 50
        # the page's trajectory is float32: |error| ≤ a few float32 ulps of |θ|
        np.testing.assert_allclose(y[ok], want[ok, i], rtol=1e-5, atol=3e-7 * scale)
    rhos = []
    assert len(theory) == 2
    for t in theory:
        i = t["meta"]["i"]
        assert t["dash"] == "dash"
        rho = _heavy_ball_rho(lr, beta, lam[i])
        x, y = np.array(t["x"], float), np.array(t["y"], float)
        assert x.size >= 2
        slope = (math.log(y[-1]) - math.log(y[0])) / (x[-1] - x[0])
        assert slope == pytest.approx(math.log(rho), rel=1e-6, abs=1e-9)
        assert y[0] == pytest.approx(want[0, i], rel=1e-5)
        rhos.append(rho)
    return rhos


def test_eigen_view_draws_the_components_and_the_predicted_rates(browser, explorer_url):
    page, errors = _open(browser, explorer_url, MATYAS)
    H, xs = _quadratic("matyas")
    page.locator("#eigen-view > summary").click()
    page.wait_for_function(
        "() => { const s = window.ravineState; return s.eigen && s.eigen.index === 0 && s.eigen.hyper.lr === 0.5"
        " && document.getElementById('eigen-plot').data; }"
    )
    before = _check_eigen_plot(page, H, xs, 0, 0.5, 0.6)
    assert "quadratic" in page.locator("#eigen-note").inner_text()
    assert "slowest direction decides" in page.locator("#eigen-rates").inner_text()

    # -- move the lr slider: the drawn rates follow the new η
    slider = page.locator('.opt-card[data-index="0"] input.hyper-slider[data-field="lr"]')
    slider.focus()
    for _ in range(40):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "() => { const s = window.ravineState, want = s.setup.optimizers[0].hyper.lr;"
        " return s.pending === 0 && want !== 0.5 && s.result.trajectories[0].hyper.lr === want"
        " && s.eigen && s.eigen.index === 0 && s.eigen.hyper.lr === want; }"
    )
    lr = page.evaluate("() => window.ravineState.setup.optimizers[0].hyper.lr")
    assert lr < 0.5
    after = _check_eigen_plot(page, H, xs, 0, lr, 0.6)
    assert after != pytest.approx(before)

    page.screenshot(path=str(ARTIFACTS / "eigen.png"), full_page=True)

    # -- Adam: the measured components, no rate, and one line saying why
    page.locator("#selected").select_option("1")
    page.wait_for_function("() => window.ravineState.eigen && window.ravineState.eigen.index === 1")
    page.wait_for_function(
        "() => document.getElementById('eigen-plot').data.filter(t => t.meta.role === 'theory').length === 0"
    )
    traces = _traces(page, "eigen-plot")
    assert [t["meta"]["role"] for t in traces] == ["measured", "measured"]
    assert "No rate drawn" in page.locator("#eigen-rates").inner_text()
    assert "not linear" in page.locator("#eigen-rates").inner_text()

    # -- a non-quadratic: the local model at the nearest minimum, labelled so
    page.locator("#problem").select_option("rosenbrock")
    page.wait_for_function(
        "() => window.ravineState.eigen && window.ravineState.eigen.kind === 'local'"
        " && window.ravineState.result.problem === 'rosenbrock'"
    )
    assert "not a quadratic" in page.locator("#eigen-note").inner_text()
    assert "local quadratic model" in page.locator("#eigen-note").inner_text()
    assert not errors, errors
    page.close()


ELLIPSE = {
    "problem": "ellipse",
    "start": [-5.0, -2.0],
    "steps": 500,
    "optimizers": [{"name": "momentum", "convention": "torch", "hyper": {"lr": 0.1, "momentum": 0.5}}],
}


def test_hypermap_draws_direct_runs_and_the_bounds_and_a_click_runs_a_cell(browser, explorer_url):
    page, errors = _open(browser, explorer_url, ELLIPSE)
    page.locator("#hypermap-view > summary").click()
    page.wait_for_function(
        "() => { const m = window.ravineState.hypermap; return m && !m.compiling && m.n === 40"
        " && document.getElementById('hypermap-plot').data; }",
        timeout=120_000,  # the first answer may wait for the map's kernel to compile
    )
    m = page.evaluate("() => window.ravineState.hypermap")
    assert m["backend"] == "numba" and m["y"]["name"] == "momentum" and m["metric"] == "loss"
    xs, ys = np.array(m["x"]["values"]), np.array(m["y"]["values"])
    traces = _traces(page, "hypermap-plot")
    (heat,) = [t for t in traces if t["meta"] and t["meta"]["role"] == "map"]
    assert heat["type"] == "heatmap"
    np.testing.assert_allclose(heat["x"], np.log10(xs))
    np.testing.assert_allclose(heat["y"], np.log10(1 - ys))  # β on log(1 − β)
    z = np.array([[np.nan if v is None else v for v in row] for row in heat["z"]], float)
    assert z.shape == (40, 40)
    p = get_problem("ellipse")
    checked = 0
    for j, i in [(5, 10), (20, 25), (35, 3), (12, 30), (30, 18)]:
        rule = get_rule("momentum").with_hyper(lr=float(xs[i]), momentum=float(ys[j]))
        res = ravine.run([rule], p, starts=[ELLIPSE["start"]], steps=500, divergence=m["divergence"], record="final")
        if res.status[0] == ravine.runner.DIVERGED:
            assert np.isnan(z[j, i])
            continue
        want = math.log10(max(float(res.final_loss[0]) - p.f_min, 1e-20))
        assert z[j, i] == pytest.approx(want, abs=1e-9), (i, j)
        checked += 1
    assert checked >= 2
    # the heavy-ball bound η < 2(1 + β)/λmax, λmax of H computed here
    L = np.linalg.eigvalsh(_quadratic("ellipse")[0])[-1]
    (bound,) = [t for t in traces if t["meta"] and t["meta"]["role"] == "bound"]
    bx, by = 10 ** np.array(bound["x"]), 1 - 10 ** np.array(bound["y"])
    np.testing.assert_allclose(bx, 2 * (1 + by) / L, rtol=1e-9)
    assert "2(1 + β)/L" in bound["name"]
    page.screenshot(path=str(ARTIFACTS / "hypermap.png"), full_page=True)

    # -- a click on a converging cell: that optimizer's η and β become the cell's, and it reruns
    status = np.array(m["status"])
    j, i = 28, 12
    assert status[j, i] == 0
    n_maps = page.evaluate("() => window.ravineState.hypermapRequests")
    page.locator("#hypermap-plot").scroll_into_view_if_needed()
    pos = page.evaluate(
        """([xc, yc]) => { const gd = document.getElementById('hypermap-plot');
        const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [r.left + xa._offset + xa.l2p(xc), r.top + ya._offset + ya.l2p(yc)]; }""",
        [math.log10(xs[i]), math.log10(1 - ys[j])],
    )
    page.mouse.click(pos[0], pos[1])
    page.wait_for_function(
        "([lr, b]) => { const s = window.ravineState, h = s.setup.optimizers[0].hyper,"
        " r = s.result.trajectories[0].hyper;"
        " return s.pending === 0 && h.lr === lr && h.momentum === b && r.lr === lr && r.momentum === b; }",
        arg=[float(xs[i]), float(ys[j])],
    )
    # the card shows the new values, the contour the clicked run (its last point = a direct run's)
    card_lr = page.locator('.opt-card[data-index="0"] .opt-field[data-field="lr"] input.hyper-num').input_value()
    assert float(card_lr) == pytest.approx(xs[i])
    tr = page.evaluate("() => window.ravineState.result.trajectories[0]")
    rule = get_rule("momentum").with_hyper(lr=float(xs[i]), momentum=float(ys[j]))
    direct = ravine.run([rule], p, starts=[ELLIPSE["start"]], steps=500).theta[-1, 0]
    assert [tr["x"][-1], tr["y"][-1]] == pytest.approx(direct, rel=1e-5, abs=1e-6)
    # the map itself did not change (its inputs did not), the × moved to the clicked cell
    page.wait_for_function(
        "(x) => { const t = document.getElementById('hypermap-plot').data.find(t => t.meta.role === 'current');"
        " return Math.abs(t.x[0] - x) < 1e-12; }",
        arg=math.log10(xs[i]),
    )
    assert page.evaluate("() => window.ravineState.hypermapRequests") == n_maps

    # -- steps-to-tolerance: another z, same axes
    page.locator("#hypermap-metric").select_option("steps")
    page.wait_for_function(
        "() => { const m = window.ravineState.hypermap; return m.metric === 'steps' && !m.compiling; }",
        timeout=120_000,
    )
    steps = page.evaluate("() => window.ravineState.hypermap")
    v = np.array([[np.nan if x is None else x for x in row] for row in steps["values"]], float)
    assert np.nanmax(v) <= 500 and np.isfinite(v).sum() > 100
    assert not errors, errors
    page.close()
