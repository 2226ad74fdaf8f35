"""Analysis: expectations computed by hand (eigenvalues of small matrices, closed forms)."""

import math

import numpy as np
import pytest

from ravine import analysis as A
from ravine import lectures

SQ2 = math.sqrt(2.0)


class Fn:
    """A tiny problem object: value, grad, hessian written out by hand."""

    def __init__(self, f, g, h):
        self._f, self._g, self._h = f, g, h

    def value(self, x):
        return self._f(x)

    def grad(self, x):
        return np.atleast_1d(np.asarray(self._g(x), dtype=float))

    def hessian(self, x):
        return np.atleast_2d(np.asarray(self._h(x), dtype=float))


X4 = Fn(lambda x: x[0] ** 4, lambda x: 4 * x**3, lambda x: 12 * x**2)
X3 = Fn(lambda x: x[0] ** 3, lambda x: 3 * x**2, lambda x: 6 * x)


def ill_conditioned(lams, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(len(lams), len(lams))))
    return q @ np.diag(lams) @ q.T, rng.normal(size=len(lams)), rng.normal(size=len(lams))


# --------------------------------------------------------------------------- classify


def test_classify_lecture_three_variable_hessian():
    c = A.classify([[2, -1, 0], [-1, 2, -1], [0, -1, 2]])
    np.testing.assert_allclose(c.eigenvalues, [2 - SQ2, 2, 2 + SQ2], rtol=1e-14)
    np.testing.assert_allclose(c.eigenvalues, [0.586, 2, 3.414], atol=5e-4)  # the lecture's values
    assert c.kind == "minimum" and c.n_positive == 3


@pytest.mark.parametrize(
    "hessian, kind",
    [
        ([[2, 0], [0, -2]], "saddle"),  # x² − y² (the lecture's "x² y²" lost its minus)
        ([[-2, 0], [0, -2]], "maximum"),  # −x² − y²
        ([[2, 0], [0, 2]], "minimum"),
        ([[0, 0], [0, 0]], "inconclusive"),  # zero matrix, e.g. x²y² at the origin
        ([[2, 0], [0, 0]], "inconclusive"),  # x² + y⁴ (min) or x² + y³ (not) look alike
        ([[-2, 0], [0, 0]], "inconclusive"),
        ([[2, 0, 0], [0, -3, 0], [0, 0, 0]], "saddle"),  # mixed signs decide despite a zero
        ([[0, 1], [1, 0]], "saddle"),  # xy: eigenvalues ±1
        (3.0, "minimum"),  # 0-d: f''(x)
    ],
)
def test_classify_cases(hessian, kind):
    assert A.classify(hessian).kind == kind


def test_classify_x4_and_x3_are_both_inconclusive():
    # f = x⁴: f''(0) = 0 yet 0 is a minimum; f = x³: f''(0) = 0 at a stationary inflection.
    # The lecture's rule "f'' = 0 means saddle" would call the x⁴ minimum a saddle.
    for prob in (X4, X3):
        r = A.critical_point_at(prob, [0.0])
        assert r.critical and r.grad_norm == 0.0
        assert r.kind == "inconclusive"
        assert r.kind != "saddle"
    # nearby values settle it for x⁴ (minimum) but not for x³
    assert X4.value([0.1]) > 0 and X4.value([-0.1]) > 0
    assert X3.value([0.1]) > 0 > X3.value([-0.1])


def test_classify_tolerance_scales_with_largest_eigenvalue():
    big = A.classify(np.diag([1e6, 1e-5]))
    assert big.tol == pytest.approx(1e-3) and big.kind == "inconclusive"
    assert A.classify(np.diag([1.0, 1e-5])).kind == "minimum"
    assert A.classify(np.diag([1.0, 1e-5]), tol=1e-4).kind == "inconclusive"
    assert A.classify(np.diag([1e-12, 2e-12])).kind == "inconclusive"


def test_classify_eigenvalues_ascending():
    c = A.classify(np.diag([3.0, -1.0, 2.0]))
    assert c.eigenvalues.tolist() == [-1.0, 2.0, 3.0]
    assert c.kind == "saddle" and c.n_negative == 1 and c.n_positive == 2


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[1, 2, 3], [4, 5, 6]], "classify: hessian must be a non-empty square 2-D array, got shape \\(2, 3\\)"),
        ([1.0, 2.0], "classify: hessian must be a non-empty square 2-D array, got shape \\(2,\\)"),
        ([[1, 2], [0, 1]], "classify: hessian must be symmetric"),
        ([[1, float("nan")], [float("nan"), 1]], "classify: hessian must be finite"),
        ([["a", "b"], ["c", "d"]], "classify: hessian must be a square matrix of real numbers"),
    ],
)
def test_classify_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        A.classify(bad)


def test_tiny_asymmetry_is_tolerated():
    assert A.classify([[2.0, 1.0], [1.0 + 1e-14, 2.0]]).kind == "minimum"


# --------------------------------------------------------------------------- critical points


def test_critical_point_at_reports_gradient():
    saddle = Fn(
        lambda v: v[0] ** 2 - v[1] ** 2,
        lambda v: [2 * v[0], -2 * v[1]],
        lambda v: [[2, 0], [0, -2]],
    )
    r = A.critical_point_at(saddle, [0.0, 0.0])
    assert r.critical and r.kind == "saddle" and r.value == 0.0
    r2 = A.critical_point_at(saddle, [1.0, 0.0])
    assert not r2.critical and r2.grad_norm == pytest.approx(2.0)
    # scaled by max(1, |f|)
    big = Fn(lambda v: 1e6 + v[0] ** 2, lambda v: [2 * v[0]], lambda v: [[2.0]])
    assert A.critical_point_at(big, [1e-4], gtol=1e-8).critical  # 2e-4 ≤ 1e-8·1e6
    assert not A.critical_point_at(big, [1e-1], gtol=1e-8).critical


def test_critical_point_at_needs_grad_and_hessian():
    class NoHess:
        def grad(self, x):
            return x

    with pytest.raises(ValueError, match="problem must have a hessian\\(x\\) method"):
        A.critical_point_at(NoHess(), [1.0])
    with pytest.raises(ValueError, match="critical_point_at: point must be finite"):
        A.critical_point_at(X4, [float("nan")])


def test_find_critical_points_cubic_saddle_and_minimum():
    # f = x³ − 3x + y²: ∇f = (3x² − 3, 2y), critical points (1, 0) minimum, (−1, 0) saddle
    f = Fn(
        lambda v: v[0] ** 3 - 3 * v[0] + v[1] ** 2,
        lambda v: [3 * v[0] ** 2 - 3, 2 * v[1]],
        lambda v: [[6 * v[0], 0], [0, 2]],
    )
    starts = np.random.default_rng(0).normal(size=(20, 2)) * 2
    found = A.find_critical_points(f, starts)
    assert len(found) == 2
    by_kind = {r.kind: r for r in found}
    np.testing.assert_allclose(by_kind["minimum"].point, [1, 0], atol=1e-10)
    np.testing.assert_allclose(by_kind["saddle"].point, [-1, 0], atol=1e-10)
    assert by_kind["minimum"].value == pytest.approx(-2.0)
    assert by_kind["saddle"].value == pytest.approx(2.0)
    assert sorted(by_kind["minimum"].starts + by_kind["saddle"].starts) == list(range(20))
    assert found[0].value <= found[1].value  # sorted by f


def test_find_critical_points_finds_maximum_too():
    # f = −(x² + y²) + 0.25 (x² + y²)²: max at 0, ring of minima at radius √2 (degenerate there)
    f = Fn(
        lambda v: -(v @ v) + 0.25 * (v @ v) ** 2,
        lambda v: (-2 + (v @ v)) * v,
        lambda v: (-2 + (v @ v)) * np.eye(2) + 2 * np.outer(v, v),
    )
    found = A.find_critical_points(f, [[0.1, 0.05]])
    assert len(found) == 1 and found[0].kind == "maximum"
    np.testing.assert_allclose(found[0].point, [0, 0], atol=1e-12)
    ring = A.find_critical_points(f, [[2.0, 0.0]])
    np.testing.assert_allclose(np.linalg.norm(ring[0].point), SQ2, rtol=1e-9)
    assert ring[0].kind == "inconclusive"  # along the ring the Hessian is singular


@pytest.mark.parametrize("prob", [X4, X3], ids=["x^4", "x^3"])
def test_find_critical_points_degenerate_is_inconclusive(prob):
    found = A.find_critical_points(prob, [[1.0], [-2.0], [0.5], [3.0]])
    assert len(found) == 1  # the four runs end at one (fuzzy) point
    r = found[0]
    assert abs(r.point[0]) < 1e-2 and r.grad_norm < 1e-8
    assert r.kind == "inconclusive"
    assert r.starts == (0, 1, 2, 3)


def test_find_critical_points_validation():
    with pytest.raises(ValueError, match="find_critical_points: starts must contain at least one point"):
        A.find_critical_points(X4, [])
    with pytest.raises(ValueError, match="find_critical_points: starts\\[1\\] must have length 1, got 2"):
        A.find_critical_points(X4, [[1.0], [1.0, 2.0]])


def test_find_critical_points_drops_failures():
    # f = eˣ has no critical point
    f = Fn(lambda v: math.exp(v[0]), lambda v: np.exp(v), lambda v: [[math.exp(v[0])]])
    assert A.find_critical_points(f, [[0.0]], max_iter=20) == []


# --------------------------------------------------------------------------- quadratics


def test_lecture_critical_point_example():
    r = lectures.lecture_critical_point_example()
    assert r.status == "unique" and r.unique
    np.testing.assert_allclose(r.point, [-1, -1, -1], atol=1e-14)
    # f(−1, −1, −1) = 1 − 2 + 1 − 1 + 1 − 1 = −1
    assert r.value == pytest.approx(-1.0)
    assert r.classification.kind == "minimum"
    np.testing.assert_allclose(r.classification.eigenvalues, [2 - SQ2, 2, 2 + SQ2])


def test_quadratic_critical_point_unique_saddle():
    r = A.quadratic_critical_point([[2, 0], [0, -4]], [2, 8])  # x* = (1, −2)
    np.testing.assert_allclose(r.point, [1, -2])
    assert r.classification.kind == "saddle"
    # f = ½(2·1 − 4·4) − (2·1 + 8·(−2)) = −7 + 14 = 7
    assert r.value == pytest.approx(7.0)


def test_quadratic_critical_point_singular():
    none = A.quadratic_critical_point([[1, 0], [0, 0]], [1, 1])
    assert none.status == "none" and none.point is None and not none.unique
    assert none.message.startswith("no unique critical point")
    assert none.classification.kind == "inconclusive"
    many = A.quadratic_critical_point([[1, 0], [0, 0]], [1, 0])
    assert many.status == "infinitely many" and "no unique critical point" in many.message
    np.testing.assert_allclose(many.point, [1, 0])
    zero = A.quadratic_critical_point(np.zeros((2, 2)), [0, 0])
    assert zero.status == "infinitely many"


def test_quadratic_critical_point_bad_input():
    with pytest.raises(ValueError, match="quadratic_critical_point: b must have length 2, got 3"):
        A.quadratic_critical_point(np.eye(2), [1, 2, 3])
    with pytest.raises(ValueError, match="quadratic_critical_point: A must be symmetric"):
        A.quadratic_critical_point([[1, 1], [0, 1]], [1, 2])


def test_quadratic_rates_formulas():
    r = A.QuadraticRates(np.diag([1.0, 4.0, 100.0]))
    assert r.lambda_min == 1.0 and r.lambda_max == 100.0 and r.condition_number == 100.0
    assert r.lr_max == pytest.approx(0.02)
    np.testing.assert_allclose(r.lr_per_direction, [1.0, 0.25, 0.01])
    assert r.lr_best == pytest.approx(2 / 101)
    assert r.rate_best == pytest.approx(99 / 101)
    assert r.gd_rate(r.lr_best) == pytest.approx(99 / 101)
    assert r.gd_rate(0.01) == pytest.approx(0.99)  # |1 − 0.01·1|
    assert r.gd_rate(0.02) == pytest.approx(1.0)  # boundary: no convergence
    assert r.gd_rate(0.0201) > 1.0
    hb = r.heavy_ball_optimal()
    assert hb.lr == pytest.approx(4 / (10 + 1) ** 2)
    assert hb.momentum == pytest.approx((9 / 11) ** 2)
    assert hb.rate == pytest.approx(9 / 11)
    assert r.heavy_ball_rate(hb.lr, hb.momentum) == pytest.approx(9 / 11, rel=1e-12)
    assert hb.rate < r.rate_best  # momentum beats the best plain GD rate


def test_heavy_ball_rate_is_spectral_radius_of_2x2():
    lams = np.array([0.5, 2.0, 30.0])
    r = A.QuadraticRates(np.diag(lams))
    for lr, mom in [(0.01, 0.0), (0.05, 0.3), (0.06, 0.9), (0.1, 0.5), (0.02, -0.2)]:
        radii = [max(abs(np.linalg.eigvals(np.array([[1 + mom - lr * lam, -mom], [1.0, 0.0]])))) for lam in lams]
        assert r.heavy_ball_rate(lr, mom) == pytest.approx(max(radii), rel=1e-7)
    # momentum 0 reduces to GD
    assert r.heavy_ball_rate(0.05, 0.0) == pytest.approx(r.gd_rate(0.05), rel=1e-14)


def test_quadratic_rates_requires_positive_definite():
    with pytest.raises(
        ValueError, match="QuadraticRates: A must be positive definite, but eigenvalue λ_1 = -2 .* is not positive"
    ):
        A.QuadraticRates([[1, 0], [0, -2]])
    with pytest.raises(ValueError, match="λ_1 = 0 .* is not positive"):
        A.QuadraticRates([[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="QuadraticRates: A must be a non-empty square"):
        A.QuadraticRates([[1, 0, 0]])
    with pytest.raises(ValueError, match="gd_rate: lr must be a finite real number, got nan"):
        A.QuadraticRates(np.eye(2)).gd_rate(float("nan"))


# --------------------------------------------------------------------------- measured rates


def test_measured_rate_exact_geometric_sequence():
    t = np.arange(50)
    traj = np.stack([0.9**t, 0.5 * 0.9**t], axis=1) + np.array([1.0, 2.0])
    for method in ("fit", "geometric"):
        assert A.measured_rate(traj, [1.0, 2.0], method=method) == pytest.approx(0.9, rel=1e-12)


def test_measured_rate_ignores_roundoff_floor():
    t = np.arange(200)
    e = 0.5**t
    e[45:] = 1e-16 * (-1) ** t[45:]  # round-off noise after the floor
    assert A.measured_rate(e[:, None], [0.0]) == pytest.approx(0.5, rel=1e-10)
    with pytest.raises(ValueError, match="measured_rate: need at least 2 errors above the round-off floor"):
        A.measured_rate(np.array([[1.0], [0.0]]), [0.0])


@pytest.mark.parametrize("lams", [[1.0, 3.0, 10.0, 40.0, 100.0], [0.01, 0.5, 1.0]])
@pytest.mark.parametrize("which", ["best", "small", "momentum", "momentum2"])
def test_compare_rates_predicted_equals_measured(lams, which):
    a, b, start = ill_conditioned(lams, seed=len(lams))
    r = A.QuadraticRates(a)
    lr, mom = {
        "best": (r.lr_best, 0.0),
        "small": (0.7 * r.lr_best, 0.0),
        "momentum": (0.5 * r.lr_best, 0.5),
        "momentum2": (0.4 * r.lr_max, 0.7),
    }[which]
    c = A.compare_rates(a, b, lr, 20000, start, momentum=mom)
    assert c.predicted == pytest.approx(r.heavy_ball_rate(lr, mom))
    assert c.converges
    assert abs(c.measured - c.predicted) < 1e-3 * c.predicted
    np.testing.assert_allclose(c.minimizer, np.linalg.solve(a, b))


def test_compare_rates_gd_loop_is_the_textbook_one():
    a = np.diag([1.0, 10.0])
    b = np.array([1.0, 1.0])
    c = A.compare_rates(a, b, 0.1, 3, [0.0, 0.0])
    # θ1 = θ0 − 0.1(Aθ0 − b) = (0.1, 0.1); θ2 = (0.1, 0.1) − 0.1((0.1, 1.0) − (1, 1)) = (0.19, 0.1)
    np.testing.assert_allclose(c.trajectory[1], [0.1, 0.1])
    np.testing.assert_allclose(c.trajectory[2], [0.19, 0.1])
    h = A.compare_rates(a, b, 0.1, 3, [0.0, 0.0], momentum=0.5)
    # θ2 = θ1 − 0.1(Aθ1 − b) + 0.5(θ1 − θ0) = (0.19, 0.1) + (0.05, 0.05)
    np.testing.assert_allclose(h.trajectory[2], [0.24, 0.15])


def test_divergence_slightly_above_lr_max():
    a, b, start = ill_conditioned([1.0, 10.0, 100.0], seed=3)
    r = A.QuadraticRates(a)
    above = A.compare_rates(a, b, 1.01 * r.lr_max, 3000, start)
    assert above.predicted == pytest.approx(1.01 * 2 - 1)  # |1 − 1.01·2| = 1.02
    assert above.measured > 1.0 and not above.converges
    assert above.measured == pytest.approx(1.02, rel=1e-3)
    err = np.linalg.norm(above.trajectory - above.minimizer, axis=1)
    assert err[-1] > 1e3 * err[0]
    below = A.compare_rates(a, b, 0.99 * r.lr_max, 3000, start)
    assert below.measured < 1.0


def test_heavy_ball_optimum_beats_best_gd_in_practice():
    lams = [1.0, 5.0, 20.0, 100.0]
    a, b, start = ill_conditioned(lams, seed=7)
    r = A.QuadraticRates(a)
    hb = r.heavy_ball_optimal()
    assert hb.rate == pytest.approx(9 / 11)
    gd = A.compare_rates(a, b, r.lr_best, 5000, start)
    mom = A.compare_rates(a, b, hb.lr, 5000, start, momentum=hb.momentum)
    assert mom.measured < gd.measured
    # at the optimum the extreme modes are double roots (error ~ t·ρ^t): agreement is only O(1/t)
    assert mom.measured == pytest.approx(hb.rate, rel=2e-2)
    assert gd.measured == pytest.approx(r.rate_best, rel=1e-3)


def test_compare_rates_requires_positive_definite():
    with pytest.raises(ValueError, match="positive definite"):
        A.compare_rates([[1, 0], [0, -1]], [0, 0], 0.1, 10, [1, 1])
    with pytest.raises(ValueError, match="compare_rates: steps must be an integer >= 1, got 0"):
        A.compare_rates(np.eye(2), [0, 0], 0.1, 0, [1, 1])


# --------------------------------------------------------------------------- the lecture's slide


def test_lecture_step_size_slide():
    s = lectures.lecture_step_size_slide()
    np.testing.assert_array_equal(s.hessian, np.diag([6.0, 4.0, 8.0]))  # ∂²(3x²+2y²+4z²+6)
    assert s.eigenvalues.tolist() == [4.0, 6.0, 8.0]
    rows = {r.quantity.split(" (")[0]: r for r in s.rows}
    for q, v in [("η_x,opt", 1 / 6), ("η_y,opt", 1 / 4), ("η_z,opt", 1 / 8)]:
        assert rows[q].correct == pytest.approx(v) and rows[q].agrees
    largest = rows["largest convergent η"]
    assert largest.slide == 0.33 and largest.correct == pytest.approx(min(2 / 6, 2 / 4, 2 / 8))
    assert largest.correct == pytest.approx(0.25) and not largest.agrees
    assert rows["divergence above"].agrees
    fastest = rows["fastest fixed η"]
    assert fastest.slide == pytest.approx(1 / 8) and fastest.correct == pytest.approx(2 / 12)
    assert not fastest.agrees
    rate = rows["rate at the fastest η"]
    # η = 1/8: max(|1 − 4/8|, |1 − 6/8|, |1 − 8/8|) = 0.5; η = 1/6: max(1/3, 0, 1/3) = 1/3
    assert rate.slide == pytest.approx(0.5) and rate.correct == pytest.approx(1 / 3)
    table = s.table()
    assert "0.33" in table and "NO" in table and len(table.splitlines()) == 2 + len(s.rows)


def test_slide_claims_by_simulation():
    a = np.diag([6.0, 4.0, 8.0])
    b = np.zeros(3)
    start = np.ones(3)
    # 0.33 (the slide's "largest convergent η") diverges; 0.24 converges
    assert A.compare_rates(a, b, 0.33, 200, start).measured > 1
    assert A.compare_rates(a, b, 0.24, 200, start).measured < 1
    # 1/6 is faster than the slide's 1/8
    fast = A.compare_rates(a, b, 1 / 6, 200, start)
    slow = A.compare_rates(a, b, 1 / 8, 200, start)
    assert fast.measured == pytest.approx(1 / 3, rel=1e-3)
    assert slow.measured == pytest.approx(0.5, rel=1e-3)


def test_core_imports_only_numpy_and_stdlib():
    import ast
    import sys

    import ravine.analysis
    import ravine.schedules

    for mod in (ravine.analysis, ravine.schedules):
        import pathlib

        files = (
            [mod.__file__]
            if not mod.__file__.endswith("__init__.py")
            else sorted(map(str, pathlib.Path(mod.__file__).parent.glob("*.py")))
        )
        names = set()
        nodes = []
        for path in files:
            with open(path, encoding="utf-8") as fh:
                nodes += list(ast.walk(ast.parse(fh.read())))
        for node in nodes:
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
        third_party = {n for n in names if n not in sys.stdlib_module_names and n != "__future__"}
        assert third_party == {"numpy"}, (mod.__name__, third_party)


@pytest.mark.parametrize("lam,beta", [(4.0, 0.0), (4.0, 0.5), (0.3, 0.9), (10.0, 0.99)])
def test_nesterov_bound_is_the_edge_of_the_iteration(lam, beta):
    """SGD(nesterov=True) on f = ½λθ²: b' = βb + λθ, θ' = θ − η(λθ + βb'), i.e. the state
    (θ, b) is multiplied by [[1 − ηλ(1+β), −ηβ²], [λ, β]]: stable just below the bound,
    unstable just above."""

    def radius(eta):
        m = np.array([[1 - eta * lam * (1 + beta), -eta * beta**2], [lam, beta]])
        return max(abs(np.linalg.eigvals(m)))

    edge = A.nesterov_bound(lam, beta)
    assert radius(edge * (1 - 1e-6)) < 1 < radius(edge * (1 + 1e-6))
    assert A.nesterov_bound(lam, 0.0) == pytest.approx(2 / lam)


def test_adam_preconditioned_bound():
    assert A.adam_preconditioned_bound(0.01, 0.9) == pytest.approx(38 / 0.01)  # Cohen et al. 2022
    with pytest.raises(ValueError, match="beta1"):
        A.adam_preconditioned_bound(0.01, 1.0)
