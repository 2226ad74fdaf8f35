"""End-to-end: presenter mode, the theme, the print style sheet and the divergence cut, in a
real browser (tests/explorer/conftest.py's ``ravine serve`` and Debian's chromium).

What is checked is what the page lays out and draws: bounding boxes against the viewport,
computed font sizes and colours, the Plotly traces of the contour against the server's
trajectories and the window (``window.ravineState``). Browser zoom is emulated by the CSS
viewport it gives: at 150 % a 1280×720 window is 853×480 CSS pixels (``device_scale_factor``
scales device pixels only, not the CSS layout, so it would not test the layout).
"""

from __future__ import annotations

import json
import urllib.parse

import pytest

from support.browser import require_chromium

require_chromium()

READY = "() => window.ravineState && window.ravineState.ready && window.ravineState.result && window.ravineState.pending === 0"

# on the ellipse (λmax = 4, 2/λmax = 0.5) sgd with lr 0.6 diverges across x2, lr 0.3 converges
SETUP = {
    "problem": "ellipse",
    "start": [-4.5, 1.0],
    "steps": 60,
    "optimizers": [
        {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.3}},
        {"name": "sgd", "convention": "torch", "hyper": {"lr": 0.6}},
    ],
}


def _open(browser, explorer_url, size, setup=SETUP, query=""):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(explorer_url + "/" + query + "#s=" + urllib.parse.quote(json.dumps(setup)))
    page.wait_for_function(READY)
    return page, errors


def _box(page, sel):
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height}; }",
        sel,
    )


def _fits(page, size):
    """The contour, the playback bar and the loss curve: visible, inside the viewport, no scrolling."""
    w, h = size
    for sel in ("#contour", "#playbar", "#loss"):
        b = _box(page, sel)
        assert b["width"] > 50 and b["height"] > 30, (sel, b)
        assert b["left"] >= 0 and b["top"] >= 0 and b["right"] <= w and b["bottom"] <= h, (size, sel, b)
    # the Plotly figures fill their boxes (they are redrawn at the presenter size)
    for sel in ("#contour", "#loss"):
        page.wait_for_function(
            "(s) => { const d = document.querySelector(s), svg = d.querySelector('.main-svg');"
            " return svg && Math.abs(svg.getBoundingClientRect().height - d.getBoundingClientRect().height) <= 2; }",
            arg=sel,
        )
    assert page.evaluate("() => [document.documentElement.scrollHeight, document.documentElement.scrollWidth]") == [
        h,
        w,
    ]


def _small_text(page):
    """Shown elements with text of their own (body text, labels, buttons, menus, table cells …)
    outside the Plotly figures whose computed font size is under 18 px."""
    return page.evaluate("""() => [document.body, ...document.body.querySelectorAll('*')]
        .filter(e => !e.closest('.plot') && e.getClientRects().length
                     && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(e => [e.id || e.className || e.tagName, e.textContent.trim().slice(0, 30), parseFloat(getComputedStyle(e).fontSize)])
        .filter(r => r[2] < 18)""")


@pytest.mark.parametrize(
    "size, link",
    [
        ((1280, 720), "hash"),  # "present":1 in the #s=… link
        ((853, 480), "query"),  # the CSS viewport of a 1280×720 window at 150 % browser zoom; ?present
    ],
    ids=["1280x720", "1280x720-at-150pct-zoom"],
)
def test_presenter_mode_fits_one_screen_with_large_text_and_prints_the_figures(explorer_url, browser, size, link):
    if link == "hash":
        page, errors = _open(browser, explorer_url, size, dict(SETUP, present=1))
    else:
        page, errors = _open(browser, explorer_url, size, query="?present")
    assert page.evaluate("() => document.body.classList.contains('present') && window.ravineState.view.present")
    _fits(page, size)
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    assert not _small_text(page)
    # Plotly's own text (axis titles, ticks) is at presenter size too
    ticks = page.evaluate(
        "() => [...document.querySelectorAll('#contour .xtick text')].map(t => parseFloat(getComputedStyle(t).fontSize))"
    )
    assert ticks and min(ticks) >= 18
    if link == "hash":  # print media: the controls are left out, the plot and the table are on the page
        page.emulate_media(media="print")
        for sel in ("#controls", "#playbar", "#view-tabs", "#copy-link", "#present-toggle"):
            assert page.locator(sel).is_hidden(), sel
        for sel in ("#contour", "#loss", "#state-table"):
            assert page.locator(sel).is_visible(), sel
        page.emulate_media(media="screen")
        assert page.locator("#playbar").is_visible()
    assert not errors, errors
    page.close()


def test_the_key_p_switches_presenter_mode_and_the_link_carries_it(explorer_url, browser):
    page, errors = _open(browser, explorer_url, (1280, 720))
    assert not page.evaluate("() => document.body.classList.contains('present')")
    assert _box(page, "#loss")["bottom"] > 720  # normal mode: the loss curve is below the fold
    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
    page.keyboard.press("p")
    page.wait_for_function("() => document.body.classList.contains('present')")
    _fits(page, (1280, 720))
    link = urllib.parse.unquote(page.url)
    assert '"present":1' in link
    page2 = browser.new_page(viewport={"width": 1280, "height": 720})
    page2.goto(page.url)
    page2.wait_for_function(READY)
    assert page2.evaluate("() => document.body.classList.contains('present')")
    page2.close()
    page.keyboard.press("p")
    page.wait_for_function("() => !document.body.classList.contains('present')")
    assert '"present"' not in urllib.parse.unquote(page.url)
    assert not errors, errors
    page.close()


def test_every_view_is_a_tab_in_presenter_mode(explorer_url, browser):
    page, errors = _open(browser, explorer_url, (1280, 720), dict(SETUP, present=1))
    shows = {
        "table": "#state-table",
        "setup": "#controls",
        "conventions": "#conv-table",
        "eigen": "#eigen-plot",
        "map": "#hypermap-plot",
        "run": "#contour",
    }
    for tab, sel in shows.items():
        page.locator(f'#view-tabs button[data-tab="{tab}"]').click()
        page.wait_for_function("(t) => document.body.dataset.tab === t", arg=tab)
        el = page.locator(sel)
        el.wait_for(state="visible")
        b = _box(page, sel)
        assert 0 <= b["top"] < 720 and b["left"] >= 0, (tab, b)  # on screen, not below the fold
        assert not _small_text(page), tab  # every tab's text at presenter size
        for other, osel in shows.items():
            if other != tab and not (tab, other) == ("run", "table"):
                assert page.locator(osel).is_hidden(), (tab, other)
    # the views compute when their tab opens them; the link remembers the tab
    page.locator('#view-tabs button[data-tab="eigen"]').click()
    page.wait_for_function("() => document.getElementById('eigen-plot').data")
    assert '"tab":"eigen"' in urllib.parse.unquote(page.url)
    assert not errors, errors
    page.close()


def _background(page):
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


def test_theme_follows_prefers_color_scheme_until_the_toggle_chooses(explorer_url, browser):
    page, errors = _open(browser, explorer_url, (1280, 720))
    page.emulate_media(color_scheme="light")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
    light, ink = _background(page), page.evaluate("() => getComputedStyle(document.body).color")
    page.emulate_media(color_scheme="dark")  # no choice made: the browser's preference decides
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    dark = _background(page)
    assert dark != light and page.evaluate("() => getComputedStyle(document.body).color") != ink
    page.emulate_media(color_scheme="light")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
    assert '"theme"' not in urllib.parse.unquote(page.url)
    page.locator("#theme-toggle").click()  # chosen: it stays whatever the browser prefers
    page.wait_for_function("(b) => getComputedStyle(document.body).backgroundColor !== b", arg=light)
    assert _background(page) == dark
    assert '"theme":"dark"' in urllib.parse.unquote(page.url)
    # the figures follow: Plotly's paper is the dark card colour
    paper = page.evaluate("() => document.getElementById('loss')._fullLayout.paper_bgcolor")
    assert paper.lower() == page.evaluate("() => getComputedStyle(document.body).getPropertyValue('--card').trim()")
    assert paper.lower() != "#ffffff"
    assert not errors, errors
    page.close()


def test_a_diverging_path_ends_at_the_window_with_an_exit_marker(explorer_url, browser):
    page, errors = _open(browser, explorer_url, (1280, 720))
    data = page.evaluate("""() => ({
        result: window.ravineState.result, bounds: window.ravineState.problemInfo.bounds,
        traces: document.getElementById('contour').data.filter(t => t.ravine)
                .map(t => ({role: t.ravine.role, index: t.ravine.index, step: t.ravine.step, x: t.x, y: t.y,
                            symbol: t.marker && t.marker.symbol})) })""")
    (x0, x1), (y0, y1) = data["bounds"]
    ok, bad = data["result"]["trajectories"]
    assert ok["exit"] is None and bad["status"] == "diverged"
    paths = {t["index"]: t for t in data["traces"] if t["role"] == "path"}
    exits = {t["index"]: t for t in data["traces"] if t["role"] == "exit"}
    # the converging path is drawn whole, without an exit marker
    assert paths[0]["x"] == ok["x"] and paths[0]["y"] == ok["y"] and 0 not in exits
    # the diverging one: every drawn point inside the window, the last on its edge, ✕ there
    k = bad["exit"]["step"]
    assert 0 < k < len(bad["x"])
    p = paths[1]
    assert len(p["x"]) == k + 1
    assert p["x"][:k] == bad["x"][:k] and p["y"][:k] == bad["y"][:k]
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in zip(p["x"], p["y"]))
    ex, ey = p["x"][-1], p["y"][-1]
    on_edge = min(abs(ex - x0), abs(ex - x1), abs(ey - y0), abs(ey - y1))
    assert on_edge <= 1e-9 * max(x1 - x0, y1 - y0)
    # the edge point lies on the segment from the last point inside to the first outside
    (ax, ay), (bx, by) = (bad["x"][k - 1], bad["y"][k - 1]), (bad["x"][k], bad["y"][k])
    assert not (x0 <= bx <= x1 and y0 <= by <= y1)
    cross = (bx - ax) * (ey - ay) - (by - ay) * (ex - ax)
    assert abs(cross) <= 1e-6 * abs((bx - ax) ** 2 + (by - ay) ** 2)
    assert exits[1]["x"] == [ex] and exits[1]["y"] == [ey] and exits[1]["step"] == k
    assert exits[1]["symbol"] == page.evaluate("() => window.ravineState.meta.palette.markers.diverged.plotly")
    # past the exit no current-step dot is drawn outside the window
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("End")
    page.wait_for_function("() => window.ravineState.step === 60")
    gd = page.evaluate("() => document.getElementById('contour').data.slice(-3, -1).map(t => [t.x[0], t.y[0]])")
    assert gd[1] == [None, None] and gd[0] == [ok["x"][-1], ok["y"][-1]]
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("tab", ["constructor", "__proto__", "nope"])
def test_a_link_with_an_unknown_tab_opens_the_run_view(explorer_url, browser, tab):
    """A shared link is untrusted input: a tab name that is no view (an inherited property name
    included) opens the Run view, with no error on the page."""
    page, errors = _open(browser, explorer_url, (1280, 720), setup=dict(SETUP, present=1, tab=tab))
    assert page.evaluate("() => document.body.dataset.tab") == "run"
    assert page.evaluate("() => document.body.classList.contains('present')")
    assert not errors, errors
    page.close()
