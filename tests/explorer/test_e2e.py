"""End-to-end: the explorer in a real browser (Playwright for Python driving Debian's chromium).

The server is ``ravine serve --no-open`` on a free loopback port, in a subprocess. The test
reads the page's own data (``window.ravineState``) and waits with ``page.wait_for_function``;
it never sleeps for a fixed time. A screenshot is saved under ``artifacts/explorer/``
(override with RAVINE_ARTIFACTS).

Chromium: ``scripts/install-browser.sh`` installs Debian's package when we are root; the test
skips, saying why, only when /usr/bin/chromium (or $RAVINE_CHROMIUM) is not there or
Playwright is not installed. We never run ``playwright install`` (it downloads a browser).
"""

from __future__ import annotations

import pytest

from support.browser import ARTIFACTS, require_chromium

require_chromium()


def _signature(page):
    """The trajectories the page currently holds: final points and lengths, from its own data."""
    return page.evaluate("""() => {
        const r = window.ravineState.result;
        return r.trajectories.map(t => [t.name, t.x.length, t.x[t.x.length - 1], t.y[t.y.length - 1]]);
    }""")


def test_explorer_end_to_end(explorer_url, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    console: list[str] = []  # console.error messages (failed module loads, bad responses …)
    page.on(
        "console",
        lambda m: (
            console.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error"
            # the one refusal this test provokes: the hostile formula's 422 from /api/problem
            and not (m.location.get("url", "").endswith("/api/problem") and "422" in m.text)
            else None
        ),
    )
    external: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith(explorer_url) or r.url.startswith(("data:", "blob:")) else external.append(r.url)
        ),
    )
    page.goto(explorer_url + "/")
    page.wait_for_function("() => window.ravineState && window.ravineState.ready && window.ravineState.result")
    assert page.evaluate("() => typeof Plotly") == "object"

    # -- select two optimizers: set the first card to nag and the second to rmsprop
    cards = page.locator(".opt-card")
    assert cards.count() == 2
    n0 = page.evaluate("() => window.ravineState.requests")
    cards.nth(0).locator("select.opt-name").select_option("nag")
    cards.nth(1).locator("select.opt-name").select_option("rmsprop")
    page.wait_for_function(
        """(n) => { const s = window.ravineState;
                    return s.requests > n && s.pending === 0 && s.result.trajectories.map(t => t.name).join() === 'nag,rmsprop'; }""",
        arg=n0,
    )
    names = page.evaluate("() => window.ravineState.result.trajectories.map(t => t.name)")
    assert names == ["nag", "rmsprop"]

    # -- click a start point on the contour (at 30 % / 25 % of the plot area)
    box = page.evaluate("""() => { const gd = document.getElementById('contour');
        const r = gd.getBoundingClientRect(), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return {x: r.left + xa._offset + 0.3 * xa._length, y: r.top + ya._offset + 0.25 * ya._length,
                xr: xa.range, yr: ya.range}; }""")
    before = _signature(page)
    n1 = page.evaluate("() => window.ravineState.requests")
    page.mouse.click(box["x"], box["y"])
    page.wait_for_function("(n) => window.ravineState.requests > n && window.ravineState.pending === 0", arg=n1)
    start = page.evaluate("() => window.ravineState.setup.start")
    xr, yr = box["xr"], box["yr"]
    assert start[0] == pytest.approx(xr[0] + 0.3 * (xr[1] - xr[0]), abs=0.02 * (xr[1] - xr[0]))
    assert start[1] == pytest.approx(yr[1] - 0.25 * (yr[1] - yr[0]), abs=0.02 * (yr[1] - yr[0]))
    after_click = _signature(page)
    assert after_click != before
    first_points = page.evaluate("() => window.ravineState.result.trajectories.map(t => [t.x[0], t.y[0]])")
    for p in first_points:
        assert p == pytest.approx(start)

    # -- move the learning-rate slider of the second optimizer; the trajectories must change
    slider = cards.nth(1).locator('input.hyper-slider[data-field="lr"]')
    lr_before = page.evaluate("() => window.ravineState.setup.optimizers[1].hyper.lr ?? null")
    n2 = page.evaluate("() => window.ravineState.requests")
    sig2 = _signature(page)
    slider.focus()
    for _ in range(60):
        page.keyboard.press("ArrowLeft")  # 60 of 1000 positions (log scale) lower
    page.wait_for_function("(n) => window.ravineState.requests > n && window.ravineState.pending === 0", arg=n2)
    # each key press may send a request; wait until the answer shown is the one for the last press
    # (on a loaded machine an earlier answer can arrive while later presses are still debounced)
    page.wait_for_function(
        "() => { const s = window.ravineState, want = s.setup.optimizers[1].hyper.lr;"
        " const got = s.result && s.result.trajectories[1].hyper.lr;"
        " return s.pending === 0 && got != null && Math.abs(got - want) <= 1e-6 * Math.abs(want); }"
    )
    lr_after = page.evaluate("() => window.ravineState.setup.optimizers[1].hyper.lr")
    assert lr_after != lr_before
    assert page.evaluate("() => window.ravineState.result.trajectories[1].hyper.lr") == pytest.approx(lr_after)
    sig3 = _signature(page)
    assert sig3[1] != sig2[1], "the rmsprop trajectory did not change with its learning rate"
    assert sig3[0] == sig2[0], "the nag trajectory should not change"

    # -- step forward: the state table shows the selected optimizer's record at that step
    page.locator("#selected").select_option("1")
    for _ in range(5):
        page.locator("#fwd").click()
    page.wait_for_function(
        "() => window.ravineState.step === 5 && window.ravineState.explain "
        "&& window.ravineState.explain.data.step === 5 && window.ravineState.explain.data.index === 1"
    )
    table = page.locator("#state-table").inner_text()
    assert "√r+ε" in table or "r" in table
    assert (
        page.locator(".annotation").count()
        + page.evaluate("() => document.getElementById('contour').layout.annotations.length")
        >= 2
    )

    # -- play, then pause
    page.locator("#play").click()
    page.wait_for_function("() => window.ravineState.step > 5")
    page.locator("#play").click()
    page.wait_for_function("() => !window.ravineState.playing")
    page.locator("#fwd").click()  # lands on a definite step
    step_now = page.evaluate("() => window.ravineState.step")

    shot = ARTIFACTS / "explorer.png"
    page.wait_for_function(
        "() => window.ravineState.explain && window.ravineState.explain.data.step === window.ravineState.step"
    )
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # -- the URL restores the whole setup in a fresh page
    url = page.url
    setup = page.evaluate("() => JSON.stringify(window.ravineState.setup)")
    page2 = browser.new_page(viewport={"width": 1200, "height": 900})
    page2.goto(url)
    page2.wait_for_function("() => window.ravineState && window.ravineState.ready && window.ravineState.result")
    assert page2.evaluate("() => JSON.stringify(window.ravineState.setup)") == setup
    assert page2.evaluate("() => window.ravineState.step") == step_now
    assert page2.evaluate("() => window.ravineState.selected") == 1
    assert _signature(page2) == _signature(page)
    page2.close()

    # -- a bad formula is refused with the parser's message; the page keeps working
    page.locator("#problem").select_option("__formula__")
    page.locator("#formula").fill("__import__('os').system('id')")
    page.locator("#formula-apply").click()
    page.wait_for_function("() => document.getElementById('formula-error').textContent.length > 0")
    assert "not allowed" in page.locator("#formula-error").inner_text()
    n3 = page.evaluate("() => window.ravineState.requests")
    page.locator("#formula").fill("x^2 + 10*y^2")
    page.locator("#formula-apply").click()
    page.wait_for_function("(n) => window.ravineState.requests > n && window.ravineState.pending === 0", arg=n3)
    assert page.evaluate("() => window.ravineState.problemInfo.formula") == "x^2 + 10*y^2"

    # -- export
    with page.expect_download() as dl:
        page.locator("#export-csv").click()
    csv_path = ARTIFACTS / "trajectories.csv"
    dl.value.save_as(str(csv_path))
    assert csv_path.read_text().startswith("label,start,step,theta1,theta2")

    assert not errors, f"page errors: {errors}"
    assert not console, f"console errors: {console}"
    assert not external, f"the page fetched something outside the server: {external}"
    page.close()
