"""ravine.lectures: the lectures' worked examples, checked against numbers written out here by hand."""

import csv
import io
import json
import math
import re

import pytest

from ravine.lectures import EXAMPLES, Row, get_example, list_examples


def _c(ex, quantity):
    return ex.row(quantity).correct


# ----------------------------------------------------------------- E(w1, w2), η = 0.3


def _grad_E(w1, w2):
    return (2 * (w1 - 3) / 4 - (w2 - 4) / 6, 2 * (w2 - 4) / 9 - (w1 - 3) / 6)


def test_error_surface_gd():
    ex = get_example("error_surface_gd")
    g1, g2 = _grad_E(1.5, 2.0)
    assert _c(ex, "w1(t+1)") == pytest.approx(1.5 - 0.3 * g1, abs=1e-15)
    assert _c(ex, "w2(t+1)") == pytest.approx(2 + 0.3 * 7 / 36, abs=1e-15)  # 2.058333…
    assert _c(ex, "w2(t+1)") == pytest.approx(2.0583333333, abs=1e-9)
    assert ex.row("w1(t+1)").agrees is True
    assert ex.row("w2(t+1)").agrees is False  # slide: 2.05
    assert (_c(ex, "w1* (minimizer)"), _c(ex, "w2* (minimizer)")) == pytest.approx((3.0, 4.0))
    assert _c(ex, "E(w*) (minimum)") == pytest.approx(0.05)


def test_error_surface_momentum_both_betas():
    ex = get_example("error_surface_momentum")
    g1, g2 = _grad_E(1.5, 2.0)
    for beta, tag in ((0.9, "the slide's arithmetic"), (0.6, "as the slide states")):
        w1 = 1.5 - 0.3 * g1 + beta * (1.5 - 1)
        w2 = 2.0 - 0.3 * g2 + beta * (2.0 - 1)
        assert _c(ex, f"w1(t+1), β = {beta:g} ({tag})") == pytest.approx(w1, abs=1e-14)
        assert _c(ex, f"w2(t+1), β = {beta:g} ({tag})") == pytest.approx(w2, abs=1e-14)
    assert _c(ex, "w1(t+1), β = 0.9 (the slide's arithmetic)") == pytest.approx(2.075)
    assert _c(ex, "w2(t+1), β = 0.9 (the slide's arithmetic)") == pytest.approx(2.958333333, abs=1e-9)
    assert _c(ex, "w1(t+1), β = 0.6 (as the slide states)") == pytest.approx(1.925)
    assert _c(ex, "w2(t+1), β = 0.6 (as the slide states)") == pytest.approx(2.658333333, abs=1e-9)
    # βΔw1 in w2's line, as printed
    assert _c(ex, "w2(t+1) with βΔw1 as printed (β = 0.9)") == pytest.approx(2 - 0.3 * g2 + 0.9 * 0.5)
    assert {r.quantity for r in ex.errata} == {
        "w1(t+1), β = 0.6 (as the slide states)",
        "w2(t+1), β = 0.6 (as the slide states)",
        "w2(t+1) with βΔw1 as printed (β = 0.9)",
    }
    assert "Δw1" in ex.row("w2(t+1) with βΔw1 as printed (β = 0.9)").note


# ----------------------------------------------------------------- Adam on a sigmoid neuron


def test_adam_sigmoid_hand_formulas():
    ex = get_example("adam_sigmoid")
    x, y, w, b = 3.5, 0.5, -2.0, -2.0
    yhat = 1 / (1 + math.exp(9))  # σ(−9)
    L = -(y * math.log(yhat) + (1 - y) * math.log(1 - yhat))
    gw, gb = (yhat - y) * x, yhat - y
    assert _c(ex, "ŷ = σ(z)") == pytest.approx(yhat, rel=1e-12)
    assert _c(ex, "ŷ = σ(z)") == pytest.approx(1.2339e-4, rel=1e-4)
    assert _c(ex, "L (BCE)") == pytest.approx(L, rel=1e-10)
    assert _c(ex, "∇_w L") == pytest.approx(gw, rel=1e-12)
    assert _c(ex, "∇_b L") == pytest.approx(gb, rel=1e-12)
    assert _c(ex, "s_W") == pytest.approx(0.1 * gw, rel=1e-12)
    assert _c(ex, "s_B") == pytest.approx(0.1 * gb, rel=1e-12)
    assert _c(ex, "r_W") == pytest.approx(0.01 * gw**2, rel=1e-12)
    assert _c(ex, "r_B") == pytest.approx(0.01 * gb**2, rel=1e-12)
    assert _c(ex, "ŝ_W") == pytest.approx(gw, rel=1e-12)
    assert _c(ex, "ŝ_B") == pytest.approx(gb, rel=1e-12)
    assert _c(ex, "r̂_W") == pytest.approx(gw**2, rel=1e-12)
    assert _c(ex, "r̂_B") == pytest.approx(gb**2, rel=1e-12)
    assert _c(ex, "w (after one step)") == pytest.approx(w - 0.1 * gw / (abs(gw) + 1e-8), rel=1e-14)
    assert _c(ex, "b (after one step)") == pytest.approx(b - 0.1 * gb / (abs(gb) + 1e-8), rel=1e-14)
    assert _c(ex, "β2 used for r") == 0.99


def test_adam_sigmoid_slide_values_flagged():
    ex = get_example("adam_sigmoid")
    wrong = {r.quantity for r in ex.errata}
    for q in (
        "ŷ = σ(z)",
        "L (BCE)",
        "∇_w L",
        "∇_b L",
        "s_W",
        "s_B",
        "r_W",
        "r_B",
        "ŝ_W",
        "ŝ_B",
        "r̂_W",
        "r̂_B",
        "w (after one step)",
        "b (after one step)",
        "β2 used for r",
    ):
        assert q in wrong, q
    assert ex.row("z = wx + b").agrees is True
    assert ex.row("ŷ = σ(z)").slide == "0.0180"  # kept as printed
    # the note pins down where 0.0180 comes from: σ(−4)
    assert "σ(−4)" in ex.row("ŷ = σ(z)").note
    assert ex.rules == ("adam",)


# ----------------------------------------------------------------- gd on x²


def test_gd_parabola_iterates_exact():
    ex = get_example("gd_parabola")
    tab = ex.tables[0][1]
    assert tab.column("x_k (η=0.05)") == pytest.approx([10 * 0.9**k for k in range(11)], rel=1e-14)
    assert tab.column("x_k (η=1.1)") == pytest.approx([10 * (-1.2) ** k for k in range(11)], rel=1e-14)
    assert _c(ex, "x_10 (η = 0.05)") == pytest.approx(3.486784401, rel=1e-9)
    assert _c(ex, "x_10 (η = 1.1)") == pytest.approx(61.917364224, rel=1e-9)
    assert _c(ex, "max rel. deviation from 10(1−2η)^k (η = 1.1)") < 1e-14


# ----------------------------------------------------------------- ellipse


def _hand_heavy_ball(lr, beta, steps=20):
    # d2l: v ← βv + g, x ← x − ηv, with g = (0.2 x1, 4 x2)
    x1, x2, v1, v2 = -5.0, -2.0, 0.0, 0.0
    for _ in range(steps):
        v1, v2 = beta * v1 + 0.2 * x1, beta * v2 + 4 * x2
        x1, x2 = x1 - lr * v1, x2 - lr * v2
    return x1, x2


def test_ellipse_trajectories_and_convergence():
    ex = get_example("ellipse_momentum")
    tab = ex.tables[0][1]
    for lr, beta, label in (
        (0.4, 0, "η = 0.4, no momentum"),
        (0.6, 0, "η = 0.6, no momentum"),
        (0.6, 0.5, "η = 0.6, β = 0.5"),
        (0.6, 0.25, "η = 0.6, β = 0.25"),
    ):
        x1, x2 = _hand_heavy_ball(lr, beta)
        assert tab.column(f"x1 ({label})")[-1] == pytest.approx(x1, rel=1e-12)
        assert tab.column(f"x2 ({label})")[-1] == pytest.approx(x2, rel=1e-12)
    assert _c(ex, "η = 0.6, no momentum: slide says 'diverging'") == "diverges"
    assert _c(ex, "η = 0.4, no momentum: predicted rate per step") == pytest.approx(0.92)  # |1 − 0.4·0.2|
    assert _c(ex, "η = 0.6, no momentum: predicted rate per step") == pytest.approx(1.4)  # |1 − 0.6·4|
    assert _c(ex, "η = 0.6, β = 0.5: predicted rate per step") == pytest.approx(math.sqrt(0.5))
    assert _c(ex, "largest convergent η without momentum (sup)") == pytest.approx(0.5)
    assert not ex.errata


# ----------------------------------------------------------------- analysis slides


def test_step_size_slide():
    ex = get_example("step_size_slide")
    row = ex.row("largest convergent η (supremum)")
    assert row.slide == "0.33" and row.correct == pytest.approx(2 / 8) and row.agrees is False
    assert ex.row("fastest fixed η").correct == pytest.approx(2 / (4 + 8))
    assert ex.row("η_x,opt (one-step optimum along x)").agrees is True


def test_critical_point():
    ex = get_example("critical_point")
    assert [_c(ex, q) for q in ("x1*", "x2*", "x3*")] == pytest.approx([-1, -1, -1])
    assert _c(ex, "λ_min") == pytest.approx(2 - math.sqrt(2))
    assert _c(ex, "λ_max") == pytest.approx(2 + math.sqrt(2))
    assert _c(ex, "kind") == "minimum"
    assert _c(ex, "f(x*)") == pytest.approx(-1.0)
    assert not ex.errata
    newton = ex.tables[0][1].row(1)
    assert (newton["x1"], newton["x2"], newton["x3"]) == pytest.approx((-1, -1, -1))


def test_tanh():
    ex = get_example("tanh_vanishing")
    r = ex.row("f'(4) = 1 − tanh²(4)")
    assert r.correct == pytest.approx(1 - math.tanh(4) ** 2, rel=1e-12)
    assert r.correct == pytest.approx(0.001341, abs=5e-7)
    assert r.agrees is True  # 0.0013 to the printed digits


def test_momentum_expansion_lecture004():
    ex = get_example("momentum_expansion")
    assert [_c(ex, f"ν3: coefficient of G{i}") for i in (1, 2, 3)] == pytest.approx([-0.81, -0.9, -1.0])
    assert [r.quantity for r in ex.errata] == ["ν3 middle step: '−0.9·(0.9·G1 − G2)' → coefficient of G2"]


# ----------------------------------------------------------------- structure and rendering


def test_row_tolerance_from_printed_digits():
    assert Row("a", "0.0013", 0.001341).agrees is True
    assert Row("a", "2.05", 2.0583).agrees is False
    assert Row("a", "1/6", 1 / 6).agrees is True
    assert Row("a", None, 1.0).agrees is None
    assert Row("a", "2.958", 2.9583333).agrees is True


@pytest.mark.parametrize("name", list_examples())
def test_every_example_renders(name):
    ex = get_example(name)
    assert ex.rows and re.fullmatch(r"00[0-4]", ex.lecture) and ex.command.endswith(name)
    text = ex.to_text()
    assert ex.title in text and "Reproduce" in text
    md = ex.to_markdown()
    assert "| quantity | slide | correct | ok | note |" in md
    d = json.loads(ex.to_json())
    assert d["name"] == name and len(d["rows"]) == len(ex.rows)
    rows = list(csv.DictReader(io.StringIO(ex.to_csv())))
    assert len(rows) == len(ex.rows)


def test_unknown_example():
    with pytest.raises(ValueError, match="unknown name"):
        get_example("nope")
    assert set(EXAMPLES) >= {
        "error_surface_gd",
        "error_surface_momentum",
        "adam_sigmoid",
        "gd_parabola",
        "ellipse_momentum",
        "step_size_slide",
        "critical_point",
        "tanh_vanishing",
    }
