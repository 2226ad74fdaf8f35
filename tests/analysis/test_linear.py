"""ravine.analysis.linear: per-direction rates against a direct eigenvalue computation of the
iteration matrix, and against the rules' own iterates on a quadratic."""

from __future__ import annotations

import numpy as np
import pytest

from ravine.analysis import heavy_ball_bound, nesterov_bound
from ravine.analysis.linear import (
    gd_rates,
    heavy_ball_matrix,
    heavy_ball_rates,
    linear_form,
    nesterov_matrix,
    nesterov_rates,
    no_linear_rate_reason,
)
from ravine.rules import get_rule

LAMS = np.array([-0.5, 0.01, 0.2, 1.0, 3.7, 40.0])
CASES = [(lr, b) for lr in (1e-3, 0.05, 0.3, 1.2) for b in (0.0, 0.3, 0.81, 0.95)]


def _radius(m):
    return float(np.max(np.abs(np.linalg.eigvals(m))))


@pytest.mark.parametrize("lr, beta", CASES)
def test_heavy_ball_rates_are_the_spectral_radius_of_the_iteration_matrix(lr, beta):
    direct = [_radius(np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])) for lam in LAMS]
    np.testing.assert_allclose(heavy_ball_rates(lr, beta, LAMS), direct, rtol=1e-6)
    for lam in LAMS:
        np.testing.assert_allclose(heavy_ball_matrix(lr, beta, lam), [[1 + beta - lr * lam, -beta], [1.0, 0.0]])


@pytest.mark.parametrize("lr, beta", CASES)
def test_nesterov_rates_are_the_spectral_radius_of_the_iteration_matrix(lr, beta):
    # written out from the look-ahead form: v' = βv − ηλ(e + βv), e' = e + v'
    direct = []
    for lam in LAMS:
        a = 1 - lr * lam
        direct.append(_radius(np.array([[a, beta * a], [-lr * lam, beta * a]])))
        np.testing.assert_allclose(nesterov_matrix(lr, beta, lam), [[a, beta * a], [-lr * lam, beta * a]])
    np.testing.assert_allclose(nesterov_rates(lr, beta, LAMS), direct, rtol=1e-6)


def test_gd_rates_and_the_double_root():
    np.testing.assert_allclose(gd_rates(0.1, [1.0, 10.0, 30.0]), [0.9, 0.0, 2.0])
    np.testing.assert_allclose(heavy_ball_rates(0.1, 0.0, [1.0, 10.0, 30.0]), [0.9, 0.0, 2.0], atol=1e-15)
    # Polyak's optimum for λ ∈ {1, 100}: both extreme matrices have a double root of modulus (√κ−1)/(√κ+1)
    lr, beta = 4 / (10 + 1) ** 2, (9 / 11) ** 2
    np.testing.assert_allclose(heavy_ball_rates(lr, beta, [1.0, 100.0]), [9 / 11, 9 / 11], rtol=1e-12)


def test_stability_edges_agree_with_the_bounds():
    lam, beta = 2.0, 0.6
    edge = heavy_ball_bound(lam, beta)
    assert heavy_ball_rates(edge * 0.999, beta, [lam])[0] < 1 < heavy_ball_rates(edge * 1.001, beta, [lam])[0]
    edge = nesterov_bound(lam, beta)
    assert nesterov_rates(edge * 0.999, beta, [lam])[0] < 1 < nesterov_rates(edge * 1.001, beta, [lam])[0]


@pytest.mark.parametrize(
    "name, hyper",
    [
        ("sgd", {"lr": 0.2}),
        ("sgd", {"lr": 0.2, "momentum": 0.7}),
        ("sgd", {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05}),
        ("sgd", {"lr": 0.2, "momentum": 0.7, "nesterov": True}),
        ("momentum", {"lr": 0.1, "momentum": 0.8}),
        ("momentum", {"lr": 0.3, "momentum": 0.8, "form": "average"}),
        ("nag", {"lr": 0.2, "momentum": 0.6}),
    ],
)
def test_linear_form_predicts_the_measured_decay_of_each_component(name, hyper):
    rule = get_rule(name).with_hyper(**hyper)
    form = linear_form(rule)
    assert form is not None
    H = np.array([[2.0, 0.6], [0.6, 0.5]])
    wd = form.weight_decay
    lam, Q = np.linalg.eigh(H)
    theta = np.array([[1.0, -0.7]])
    st = rule.init(theta)
    comps = [np.abs(theta[0] @ Q)]
    for _ in range(300):
        if "lookahead" in rule.needs:
            theta, st, _ = rule.apply(theta, None, st, grad_fn=lambda x: x @ H)
        else:
            theta, st, _ = rule.apply(theta, theta @ H, st)
        comps.append(np.abs(theta[0] @ Q))
    comps = np.array(comps)
    rho = form.rates(lam)
    # the decay decomposes with the Hessian H + λI of the decayed loss; the eigenvectors are the same
    assert wd == hyper.get("weight_decay", 0.0)
    for i in range(2):
        e = comps[:, i]
        # from step 10 (past the transient) to where round-off of the other component starts
        last = int(np.nonzero(e > 1e-9 * e[0])[0][-1])
        assert last >= 30, (i, last)
        # peaks of the envelope near both ends: oscillating (complex) modes have zeros
        w = max(4, last // 6)
        a = last // 3 + int(np.argmax(e[last // 3 : last // 3 + w]))
        b = last - w + int(np.argmax(e[last - w : last + 1]))
        measured = (e[b] / e[a]) ** (1.0 / (b - a))  # between two peaks
        assert measured == pytest.approx(rho[i], rel=0.03), (i, measured, rho[i])


def test_rules_without_a_linear_form_say_why():
    for name in ("adam", "rmsprop", "adagrad"):
        rule = get_rule(name)
        assert linear_form(rule) is None
        assert "not linear" in no_linear_rate_reason(rule)
    assert "Newton" in no_linear_rate_reason(get_rule("newton"))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="eigenvalues"):
        heavy_ball_rates(0.1, 0.5, [np.nan])
    with pytest.raises(ValueError, match="lr"):
        gd_rates(float("inf"), [1.0])
