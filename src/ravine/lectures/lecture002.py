"""Lecture 002's worked examples, recomputed through the rules."""

from __future__ import annotations

import math

import numpy as np

from ..step_tables import explain
from ..tables import Table
from .example import LECTURE_002, LectureExample, Row
from .example import cmd as _cmd

# ====================================================================== lecture 002: E(w1, w2)

_E_PREV = (1.0, 1.0)  # (w1, w2) at t − 1
_E_NOW = (1.5, 2.0)  # (w1, w2) at t
_E_LR = 0.3


def error_surface_gd() -> LectureExample:
    """One gradient-descent step on E(w1, w2) from (1.5, 2.0) with η = 0.3; and the minimum."""
    from ..rules import SGD, Newton

    tab = explain(SGD(lr=_E_LR), "lecture_error_surface", start=_E_NOW, steps=1)
    r1 = tab.row(1)
    newton = explain(Newton(), "lecture_error_surface", start=_E_NOW, steps=1)
    n1 = newton.row(1)
    gd_w2 = r1["w2"]
    rows = (
        Row("w1* (minimizer)", "3", n1["w1"], formula="∇E = 0 (one Newton step on the quadratic)"),
        Row("w2* (minimizer)", "4", n1["w2"], formula="∇E = 0"),
        Row("E(w*) (minimum)", "0.05", n1["f(θ)"], formula="E(3, 4)"),
        Row("∂E/∂w1 at (1.5, 2)", None, r1["g[w1]"], formula="(w1−3)/2 − (w2−4)/6"),
        Row("∂E/∂w2 at (1.5, 2)", None, r1["g[w2]"], formula="2(w2−4)/9 − (w1−3)/6"),
        Row("w1(t+1)", "1.625", r1["w1"], formula="w1 − η ∂E/∂w1"),
        Row(
            "w2(t+1)",
            "2.05",
            gd_w2,
            note=f"2 − 0.3·({r1['g[w2]']:.6g}) = {gd_w2:.6g}, which rounds to {gd_w2:.3g}, not 2.05 "
            "(the slide's own momentum step, 2.958 = 2.0583 + 0.9, uses 2.0583)",
            formula="w2 − η ∂E/∂w2",
        ),
    )
    return LectureExample(
        "error_surface_gd",
        "One gradient-descent step on the lecture's error surface",
        LECTURE_002,
        "E(w1, w2) = 0.05 + (w1−3)²/4 + (w2−4)²/9 − (w1−3)(w2−4)/6, (w1, w2) = (1.5, 2.0) at t, η = 0.3",
        rows,
        (("SGD (plain gradient descent), one step:", tab), ("Newton, one step (the minimum):", newton)),
        ("The slide also states α = 1.5, which no step of the example uses.",),
        ("sgd", "newton"),
        _cmd("error_surface_gd", "sgd"),
    )


def _heavy_ball_step(beta: float, velocity) -> Table:
    from ..rules import Momentum
    from ..rules.sgd import MomentumState

    rule = Momentum(lr=_E_LR, momentum=beta, form="heavy_ball")
    start = np.array(_E_NOW)
    st = rule.init(start)
    st = st._replace(state=MomentumState(v=np.asarray(velocity, dtype=float)))
    return explain(rule, "lecture_error_surface", start=start, steps=1, opt_state=st)


def error_surface_momentum() -> LectureExample:
    """One heavy-ball step θ_{t+1} = θ_t − η g_t + β(θ_t − θ_{t−1}) with β = 0.6 (stated) and 0.9 (used).

    Through :class:`ravine.rules.Momentum` (heavy ball) with the initial velocity
    v = θ_t − θ_{t−1}: v ← βv − ηg, θ ← θ + v.
    """
    dtheta = np.array(_E_NOW) - np.array(_E_PREV)  # (Δw1, Δw2) = (0.5, 1.0)
    t06 = _heavy_ball_step(0.6, dtheta).row(1)
    t09_tab = _heavy_ball_step(0.9, dtheta)
    t09 = t09_tab.row(1)
    as_printed = _heavy_ball_step(0.9, [dtheta[0], dtheta[0]]).row(1)  # βΔw1 in both lines
    rows = (
        Row("Δw1 = w1(t) − w1(t−1)", "0.5", float(dtheta[0]), formula="1.5 − 1"),
        Row("Δw2 = w2(t) − w2(t−1)", "1", float(dtheta[1]), formula="2 − 1"),
        Row("w1(t+1), β = 0.9 (the slide's arithmetic)", "2.075", t09["w1"], formula="w1 − η∂E/∂w1 + βΔw1"),
        Row("w2(t+1), β = 0.9 (the slide's arithmetic)", "2.958", t09["w2"], formula="w2 − η∂E/∂w2 + βΔw2"),
        Row(
            "w1(t+1), β = 0.6 (as the slide states)",
            "2.075",
            t06["w1"],
            note="the slide states β = 0.6 but multiplies by 0.9",
            formula="w1 − η∂E/∂w1 + 0.6·Δw1",
        ),
        Row(
            "w2(t+1), β = 0.6 (as the slide states)",
            "2.958",
            t06["w2"],
            note="the slide states β = 0.6 but multiplies by 0.9",
            formula="w2 − η∂E/∂w2 + 0.6·Δw2",
        ),
        Row(
            "w2(t+1) with βΔw1 as printed (β = 0.9)",
            "2.958",
            as_printed["w2"],
            note=f"the w2 line prints 'βΔw1' but computes 0.9·(2 − 1) = βΔw2; with Δw1 it would be "
            f"{as_printed['w2']:.6g}: a label slip, the arithmetic is right",
            formula="w2 − η∂E/∂w2 + βΔw1",
        ),
    )
    return LectureExample(
        "error_surface_momentum",
        "One heavy-ball momentum step on the lecture's error surface",
        LECTURE_002,
        "(w1, w2) = (1, 1) at t−1, (1.5, 2.0) at t, η = 0.3, stated β = 0.6 (and α = 1.5, unused); "
        "θ_{t+1} = θ_t − η g_t + β(θ_t − θ_{t−1}), i.e. Momentum(form='heavy_ball') with v = θ_t − θ_{t−1}",
        rows,
        (("Momentum (heavy ball), β = 0.9, v₀ = θ_t − θ_{t−1} = (0.5, 1):", t09_tab),),
        (
            "The slide's 2.958 contains w2's gradient step 2.0583, contradicting the 2.05 of the "
            "gradient-descent slide (see error_surface_gd).",
        ),
        ("momentum",),
        _cmd("error_surface_momentum", "momentum"),
    )


# ====================================================================== lecture 002: Adam on a neuron


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def adam_sigmoid() -> LectureExample:
    """One Adam step on one sigmoid neuron with BCE: (x, y) = (3.5, 0.5), w = b = −2.

    Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8), ε outside the root as the slide's last formula.
    The forward pass ŷ = σ(wx + b) is the model, not the optimizer; L and ∇L come from the
    problem ``sigmoid_neuron``; s, r, ŝ, r̂ and the new (w, b) from the rule's record.
    """
    from ..problems import get_problem
    from ..rules import Adam

    x, y, w0, b0 = 3.5, 0.5, -2.0, -2.0
    prob = get_problem("sigmoid_neuron", x=x, y=y)
    rule = Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    tab = explain(rule, prob, start=(w0, b0), steps=1)
    r = tab.row(1)
    z = w0 * x + b0
    yhat = _sigmoid(z)
    loss = float(prob.f([w0, b0]))
    # what the slide's own printed inputs give (diagnostics of the slide, not results)
    s_yhat = 0.0180
    s_logit = math.log(s_yhat / (1 - s_yhat))
    s_loss = -(y * math.log(s_yhat) + (1 - y) * math.log(1 - s_yhat))
    s_gw_own = (s_yhat - y) * x
    s_rw_own = 0.001 * 0.493**2
    s_rb_own = 0.001 * 0.482**2
    s_w_own = w0 - 0.10 / (math.sqrt(0.0608) + 1e-8) * 0.4437
    s_b_own = b0 - 0.10 / (math.sqrt(0.0584) + 1e-8) * 0.4382
    rows = (
        Row("z = wx + b", "-9", z, formula="−2.0×3.5 − 2.0 (the slide's expression is right)"),
        Row(
            "ŷ = σ(z)",
            "0.0180",
            yhat,
            note=f"σ(−9) = 1/(1+e⁹); 0.0180 is σ({s_logit:.3f}) ≈ σ(−4): the slide evaluated σ at −4",
            formula="1/(1 + e^9)",
        ),
        Row(
            "L (BCE)",
            "4.0076",
            loss,
            note=f"its formula on its own ŷ = 0.0180 gives {s_loss:.5g}; neither is right",
            formula="−[y ln ŷ + (1−y) ln(1−ŷ)]",
        ),
        Row(
            "∇_w L",
            "-0.493",
            r["g[w]"],
            note=f"(ŷ − y)·x; even its own (0.0180 − 0.5)×3.5 is {s_gw_own:.4g}",
            formula="(ŷ − y)·x",
        ),
        Row("∇_b L", "-0.482", r["g[b]"], note="(ŷ − y) with the wrong ŷ", formula="ŷ − y"),
        Row(
            "s_W",
            "0.04437",
            r["s[w]"],
            note="sign: it writes 0.90×0 − 0.10×(−0.493) ('+' became '−'); and 0.10×0.493 = 0.0493",
            formula="β1·0 + (1−β1)·∇_w L = 0.1·g_w",
        ),
        Row("s_B", "0.04382", r["s[b]"], note="same sign slip; 0.10×0.482 = 0.0482", formula="0.1·g_b"),
        Row(
            "β2 used for r",
            "0.999",
            rule.h.beta2,
            note="the slide states β2 = 0.99 but computes with 0.999 and 0.001",
            ok=False,
        ),
        Row(
            "r_W",
            "0.0001216",
            r["r[w]"],
            note=f"(1−β2)·g² = 0.01·g²; its own 0.001×0.493² = {s_rw_own:.4g}, and its '−0.001×' would make r negative",
            formula="0.01·g_w²",
        ),
        Row("r_B", "0.0001168", r["r[b]"], note=f"its own 0.001×0.482² = {s_rb_own:.4g}", formula="0.01·g_b²"),
        Row("ŝ_W", "0.4437", r["ŝ[w]"], note="at t = 1, ŝ = s/(1−β1) = g", formula="s_W/(1 − 0.9¹)"),
        Row("ŝ_B", "0.4382", r["ŝ[b]"], note="ŝ = g at t = 1", formula="s_B/(1 − 0.9¹)"),
        Row(
            "r̂_W",
            "0.0608",
            r["r̂[w]"],
            note=f"at t = 1, r̂ = g² whatever β2; its own 0.0001216/0.001 = {0.0001216 / 0.001:.4g}",
            formula="r_W/(1 − 0.99¹)",
        ),
        Row(
            "r̂_B",
            "0.0584",
            r["r̂[b]"],
            note=f"its own 0.0001168/0.001 = {0.0001168 / 0.001:.4g}",
            formula="r_B/(1 − 0.99¹)",
        ),
        Row(
            "w (after one step)",
            "-2.081",
            r["w"],
            note=f"first Adam step ≈ −η·sign(g): w rises to −1.9; its own numbers give {s_w_own:.4g}",
            formula="w − η ŝ_W/(√r̂_W + ε)",
        ),
        Row(
            "b (after one step)",
            "-2.079",
            r["b"],
            note=f"b rises to −1.9; its own numbers give {s_b_own:.4g}",
            formula="b − η ŝ_B/(√r̂_B + ε)",
        ),
        Row("L after the step", None, r["f(θ)"], formula="BCE at (w, b) after one step"),
    )
    return LectureExample(
        "adam_sigmoid",
        "One Adam step on a sigmoid neuron with BCE loss",
        LECTURE_002,
        "(x, y) = (3.5, 0.5), w = b = −2.0, η = 0.1, β1 = 0.9, β2 = 0.99, ε = 1e−8 (outside the root, "
        "as the slide's last formula), s = r = 0, bias correction at t = 1",
        rows,
        (("Adam(lr=0.1, betas=(0.9, 0.99), eps=1e-8) on sigmoid_neuron, one step:", tab),),
        (
            "Every quantity from ŷ on is wrong on the slide; with the right ŷ the step is about "
            "η = 0.1 per coordinate UP (the gradient is negative), the slide moves w and b down.",
        ),
        ("adam",),
        _cmd("adam_sigmoid", "adam"),
    )


# ====================================================================== lecture 002: gd on x²


def gd_parabola() -> LectureExample:
    """Lecture 002's ``gd(eta, f_grad)`` on f(x) = x² from x = 10, 10 steps, η = 0.05 and η = 1.1."""
    from ..rules import SGD

    runs = {eta: explain(SGD(lr=eta), "parabola", start=(10.0,), steps=10) for eta in (0.05, 1.1)}
    xs = {eta: tab.column("x") for eta, tab in runs.items()}
    closed = {eta: [10.0 * (1 - 2 * eta) ** k for k in range(11)] for eta in xs}
    dev = {eta: max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(xs[eta], closed[eta])) for eta in xs}
    table = Table(
        ["k", "x_k (η=0.05)", "10·0.9^k", "x_k (η=1.1)", "10·(−1.2)^k"],
        [[k, xs[0.05][k], closed[0.05][k], xs[1.1][k], closed[1.1][k]] for k in range(11)],
    )
    rows = (
        Row("x_10 (η = 0.05)", None, xs[0.05][-1], formula="10·(1 − 2·0.05)^10 = 10·0.9^10"),
        Row(
            "max rel. deviation from 10(1−2η)^k (η = 0.05)",
            None,
            dev[0.05],
            formula="rounding only: the iterates are exactly geometric",
        ),
        Row("x_10 (η = 1.1)", None, xs[1.1][-1], formula="10·(1 − 2·1.1)^10 = 10·1.2^10"),
        Row("max rel. deviation from 10(1−2η)^k (η = 1.1)", None, dev[1.1], formula="rounding only"),
        Row(
            "η = 0.05: 'slow learning, definitely converge'",
            "converges",
            "converges",
            formula="|1 − 2η| = 0.9 < 1: x shrinks by 10 % a step",
        ),
        Row(
            "η = 1.1: 'oscillations, worst case it might diverge'",
            "might diverge",
            "diverges",
            note="on x² it always diverges: |1 − 2η| = 1.2 > 1, the sign flips every step",
            ok=True,
        ),
    )
    return LectureExample(
        "gd_parabola",
        "gd(eta, f_grad) on f(x) = x²",
        LECTURE_002,
        "x_0 = 10, x ← x − η·2x for 10 steps, η = 0.05 and η = 1.1 (the slide shows only plots)",
        rows,
        (("Iterates (SGD with lr = η through explain) beside the closed form x_k = 10(1 − 2η)^k:", table),),
        ("GD on x² converges iff 0 < η < 1 = 2/f''.",),
        ("sgd",),
        _cmd("gd_parabola", "sgd"),
    )


# ====================================================================== lecture 002: ellipse + momentum


def ellipse_momentum(steps: int = 20) -> LectureExample:
    """The ellipse 0.1x1² + 2x2² from (−5, −2): η = 0.4, 0.6 without momentum, η = 0.6 with β = 0.5, 0.25.

    The pictures come from d2l (§12.6), whose momentum is v ← βv + g, θ ← θ − ηv: torch's
    SGD(momentum=β, dampening=0), used here. With constant η it is the heavy ball with α = β,
    so :meth:`ravine.analysis.QuadraticRates.heavy_ball_rate` predicts the rate.
    """
    from ..analysis import QuadraticRates
    from ..problems import get_problem
    from ..rules import SGD

    prob = get_problem("ellipse")
    H = prob.hessian(np.array(prob.start))
    rates = QuadraticRates(H)
    cases = [
        (0.4, 0.0, "converges; x2 oscillates more than x1", "converges"),
        (0.6, 0.0, "diverging", "diverges"),
        (0.6, 0.5, "converges well, lesser oscillations", "converges"),
        (0.6, 0.25, "reduced convergence, more oscillations", "converges"),
    ]
    rows = []
    cols = ["t"]
    traj = []
    for lr, beta, claim, claim_word in cases:
        tab = explain(SGD(lr=lr, momentum=beta), prob, start=prob.start, steps=steps)
        label = f"η = {lr:g}" + (f", β = {beta:g}" if beta else ", no momentum")
        pred = rates.gd_rate(lr) if beta == 0 else rates.heavy_ball_rate(lr, beta)
        x1, x2 = tab.column("x1"), tab.column("x2")
        cols += [f"x1 ({label})", f"x2 ({label})"]
        traj.append((x1, x2))
        verdict = "converges" if pred < 1 else "diverges"
        rows.append(
            Row(
                f"{label}: ‖θ_{steps}‖",
                None,
                float(math.hypot(x1[-1], x2[-1])),
                formula=f"θ_{steps} = ({x1[-1]:.4g}, {x2[-1]:.4g})",
            )
        )
        rows.append(
            Row(
                f"{label}: predicted rate per step",
                None,
                pred,
                formula="max_i |1 − ηλ_i|" if beta == 0 else "heavy ball, α = β",
            )
        )
        rows.append(
            Row(
                f"{label}: slide says '{claim}'",
                claim_word,
                verdict,
                note="" if claim_word == verdict else "the slide's picture disagrees with the rate",
            )
        )
    table = Table(cols, [[t] + [v for x1, x2 in traj for v in (x1[t], x2[t])] for t in range(steps + 1)])
    rows.append(
        Row(
            "largest convergent η without momentum (sup)",
            None,
            rates.lr_max,
            formula="2/λ_max = 2/4: η = 0.6 > 0.5 diverges along x2",
        )
    )
    return LectureExample(
        "ellipse_momentum",
        "Gradient descent and momentum on the ellipse 0.1x1² + 2x2²",
        LECTURE_002,
        f"start (−5, −2), {steps} steps; Hessian diag(0.2, 4); momentum as d2l: v ← βv + g, θ ← θ − ηv "
        "(SGD(momentum=β))",
        tuple(rows),
        ((f"Trajectories ({steps} steps, SGD through explain):", table),),
        ("d2l's momentum form equals the heavy ball θ_{t+1} = θ_t − ηg_t + β(θ_t − θ_{t−1}) at constant η.",),
        ("sgd",),
        _cmd("ellipse_momentum", "sgd"),
    )


# ====================================================================== lecture 002: analysis slides


def step_size_slide() -> LectureExample:
    """The E = 3x² + 2y² + 4z² + 6 slide, from :func:`ravine.lectures.lecture_step_size_slide`."""
    from .slides import lecture_step_size_slide

    s = lecture_step_size_slide()
    printed = {
        "η_x,opt (one-step optimum along x)": "1/6",
        "η_y,opt (one-step optimum along y)": "1/4",
        "η_z,opt (one-step optimum along z)": "1/8",
        "largest convergent η (supremum)": "0.33",
        "divergence above": "0.25",
        "fastest fixed η": "1/8",
    }
    rows = tuple(
        Row(
            r.quantity,
            printed.get(r.quantity, f"{r.slide:.4g} (its η's rate)"),
            float(r.correct),
            note="" if r.agrees else r.note,
            formula=r.formula,
            ok=r.agrees,
        )
        for r in s.rows
    )
    return LectureExample(
        "step_size_slide",
        "Optimal learning rate for E(x, y, z) = 3x² + 2y² + 4z² + 6",
        LECTURE_002,
        f"Hessian diag(6, 4, 8), eigenvalues {', '.join(f'{v:g}' for v in s.eigenvalues)}; gradient descent",
        rows,
        (),
        ("Computed by ravine.lectures.lecture_step_size_slide() (QuadraticRates).",),
        (),
        _cmd("step_size_slide"),
    )


def critical_point() -> LectureExample:
    """The three-variable example: minimum (−1, −1, −1), Hessian eigenvalues 0.586, 2, 3.414."""
    from ..problems import get_problem
    from ..rules import Newton
    from .slides import lecture_critical_point_example

    cp = lecture_critical_point_example()
    prob = get_problem("lecture_three_var")
    lam = cp.classification.eigenvalues
    g_at = prob.grad(cp.point)
    newton = explain(Newton(), prob, start=(1.0, 1.0, 1.0), steps=1)
    rows = (
        Row("x1*", "-1", float(cp.point[0]), formula="solve ∇f = 0"),
        Row("x2*", "-1", float(cp.point[1]), formula="solve ∇f = 0"),
        Row("x3*", "-1", float(cp.point[2]), formula="solve ∇f = 0"),
        Row("‖∇f(x*)‖ (problem's gradient)", None, float(np.linalg.norm(g_at)), formula="0 at a critical point"),
        Row("λ_min", "0.586", float(lam[0]), formula="2 − √2"),
        Row("λ_mid", "2", float(lam[1]), formula="2"),
        Row("λ_max", "3.414", float(lam[2]), formula="2 + √2"),
        Row("kind", "minimum", cp.classification.kind, formula=cp.classification.reason),
        Row("f(x*)", None, float(cp.value), formula="not stated on the slide"),
    )
    return LectureExample(
        "critical_point",
        "Critical point of f = x1² + x1(1 − x2) + x2² − x2x3 + x3² + x3",
        LECTURE_002,
        "∇f = 0, Hessian [[2, −1, 0], [−1, 2, −1], [0, −1, 2]]",
        rows,
        (("One Newton step from (1, 1, 1) lands on the minimum:", newton),),
        (
            "The slide writes 'All Eigen vectors are positive': it means eigenvalues.",
            "Computed by ravine.lectures.lecture_critical_point_example().",
        ),
        ("newton",),
        _cmd("critical_point", "newton"),
    )


def tanh_vanishing() -> LectureExample:
    """tanh′(4) = 1 − tanh²(4) ≈ 0.001341 (the lecture's 0.0013)."""
    from ..problems import get_problem

    prob = get_problem("tanh")
    d = float(prob.grad([4.0])[0])
    rows = (
        Row("f'(4) = 1 − tanh²(4)", "0.0013", d, formula="problem 'tanh' gradient at x = 4"),
        Row("f'(0) (for scale)", None, float(prob.grad([0.0])[0]), formula="1 − tanh²(0)"),
    )
    return LectureExample(
        "tanh_vanishing",
        "Vanishing gradient of tanh",
        LECTURE_002,
        "f(x) = tanh(x), f'(x) = 1 − tanh²(x)",
        rows,
        (),
        (
            "The slide prints the derivative as 'f'(x) = 1 tanh2(x)': the minus sign (and the "
            "square) were lost, as in its 'x² y²' saddle.",
        ),
        (),
        _cmd("tanh_vanishing"),
    )
