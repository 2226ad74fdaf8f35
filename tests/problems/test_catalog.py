"""The catalog: published minima, exact derivatives, batching, dtypes and metadata."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from ravine.problems import CATALOG, Minimum, Problem, get_problem, list_problems
from ravine.problems.catalog import LECTURE_002

NAMES = list_problems()
REQUIRED = {
    "lecture_error_surface",
    "ellipse",
    "lecture_bowl3d",
    "lecture_three_var",
    "parabola",
    "saddle",
    "tanh",
    "sigmoid_neuron",
    "rosenbrock",
    "beale",
    "himmelblau",
    "rastrigin",
    "booth",
    "goldstein_price",
    "six_hump_camel",
    "matyas",
    "ackley",
    "monkey_saddle",
}


def random_points(problem: Problem, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in problem.bounds])
    hi = np.array([b[1] for b in problem.bounds])
    return lo + (hi - lo) * rng.random((n, problem.dim))


def fd_grad(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences along the last axis (works for scalar- and vector-valued f)."""
    cols = []
    for i in range(x.shape[-1]):
        e = np.zeros(x.shape[-1])
        e[i] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=-1)


def published_delta(name: str) -> float:
    """One unit in the last published decimal of the minimizers (0 when exact).

    One unit, not half: tables truncate as often as they round (Himmelblau's 3.131312 is
    3.1313125 truncated; the six-hump camel's 16-digit points are good to 9 decimals).
    """
    digits = CATALOG[name].digits
    return 0.0 if digits is None else 10.0 ** (-digits)


def assert_close(actual, expected, rtol, atol):
    """Elementwise |actual - expected| <= atol + rtol*|expected| with an array-valued atol."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    bound = atol + rtol * np.abs(expected)
    bad = ~(np.abs(actual - expected) <= bound)
    assert not bad.any(), (
        f"{bad.sum()} mismatches; worst excess {np.max(np.abs(actual - expected) - bound):.3g}; "
        f"actual {actual[bad][:4]}, expected {expected[bad][:4]}"
    )


# ----------------------------------------------------------------------------- the catalog


def test_catalog_has_every_required_problem():
    assert REQUIRED <= set(NAMES)
    assert all(n == n.lower() and " " not in n and "-" not in n for n in NAMES)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError) as err:
        get_problem("foo")
    msg = str(err.value)
    assert msg.startswith("problem: unknown name 'foo'; choose one of: ")
    assert "rosenbrock" in msg and "lecture_error_surface" in msg


@pytest.mark.parametrize("old", ["seed_bowl3d", "seed_three_var", "Seed-Error-Surface"])
def test_old_lecture_problem_names_say_the_new_name(old):
    new = "lecture_" + old.lower().replace("-", "_").removeprefix("seed_")
    with pytest.raises(ValueError, match=rf"^problem '{old.lower().replace('-', '_')}' was renamed '{new}'$"):
        get_problem(old)
    assert get_problem(new).name == new


def test_names_are_normalized():
    assert get_problem("Six-Hump-Camel").name == "six_hump_camel"


def test_unknown_or_bad_parameters_rejected():
    with pytest.raises(ValueError, match="unknown parameter 'c'"):
        get_problem("rosenbrock", c=1)
    with pytest.raises(ValueError, match="parameters are: none"):
        get_problem("booth", a=1)
    with pytest.raises(ValueError, match="must be a real number"):
        get_problem("rosenbrock", a="one")
    with pytest.raises(ValueError, match="must be finite"):
        get_problem("rosenbrock", a=float("nan"))
    with pytest.raises(ValueError, match="b must be > 0"):
        get_problem("rosenbrock", b=-1)
    with pytest.raises(ValueError, match=r"y must be a label in \[0, 1\]"):
        get_problem("sigmoid_neuron", y=2.0)


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    p = get_problem(name)
    assert isinstance(p, Problem)
    assert p.name == name
    assert p.dim == len(p.variables) == len(p.bounds) == len(p.start)
    assert p.title and p.source
    assert isinstance(p.log_levels, bool)
    for (lo, hi), s in zip(p.bounds, p.start):
        assert lo < s < hi, "start must lie inside the plotting window"
    for m in p.minima:
        assert isinstance(m, Minimum)
        assert len(m.point) == p.dim
        assert all(lo <= c <= hi for c, (lo, hi) in zip(m.point, p.bounds))
    for c in p.critical_points:
        assert len(c) == p.dim
    lecture_problems = {"ellipse", "parabola", "saddle", "tanh", "sigmoid_neuron"}
    if name.startswith("lecture_") or name in lecture_problems:
        assert LECTURE_002 in p.source
    elif name != "monkey_saddle":
        assert any(k in p.source for k in ("Surjanovic", "Himmelblau"))


def test_log_levels_for_valley_functions():
    assert get_problem("rosenbrock").log_levels
    assert get_problem("goldstein_price").log_levels
    assert not get_problem("ellipse").log_levels


# ----------------------------------------------------------------------------- published minima


@pytest.mark.parametrize("name", NAMES)
def test_published_minima(name):
    p = get_problem(name)
    entry = CATALOG[name]
    delta = published_delta(name)
    for point, value in p.minima:
        x = np.array(point)
        if point in entry.kinks:
            # not differentiable there (ackley): the value only; see test_ackley_at_its_kink
            assert abs(float(p.f(x)) - value) <= 1e-12 * max(1.0, abs(value))
            continue
        h = p.hessian(x)
        h_norm = float(np.linalg.norm(h, 2))
        # f agrees with the published value to the precision the point is given with
        vtol = 1e-12 * max(1.0, abs(value)) + h_norm * p.dim * delta**2
        assert abs(float(p.f(x)) - value) <= vtol, (name, point, float(p.f(x)), value)
        # exact points: the gradient vanishes to rounding; published decimals: |grad| <= 1e-6
        # or what one unit in the last decimal can cause, |H|*sqrt(dim)*10^-digits
        gtol = 1e-9 if delta == 0 else max(1e-6, h_norm * math.sqrt(p.dim) * delta)
        assert np.linalg.norm(p.grad(x)) <= gtol, (name, point, p.grad(x))
        # a minimum: Hessian positive semi-definite
        assert np.linalg.eigvalsh(h).min() >= -1e-9


@pytest.mark.parametrize("name", NAMES)
def test_published_points_are_within_their_digits_of_true_critical_points(name):
    """Newton on the exact gradient from each published point lands within its last digit."""
    p = get_problem(name)
    entry = CATALOG[name]
    delta = published_delta(name)
    points = [m.point for m in p.minima] + list(p.critical_points)
    for point in points:
        if point in entry.kinks:
            continue
        x = np.array(point)
        h = p.hessian(x)
        if abs(np.linalg.det(h)) < 1e-12:  # degenerate (saddle of the monkey): exact anyway
            assert np.linalg.norm(p.grad(x)) == 0.0
            continue
        for _ in range(20):
            x = x - np.linalg.solve(p.hessian(x), p.grad(x))
        assert np.linalg.norm(p.grad(x)) < 1e-10
        assert np.max(np.abs(x - np.array(point))) <= delta + 1e-12, (name, point, x)


def test_himmelblau_has_four_minima_and_a_maximum():
    p = get_problem("himmelblau")
    assert len(p.minima) == 4
    (xmax,) = p.critical_points
    assert np.linalg.eigvalsh(p.hessian(np.array(xmax))).max() < 0
    assert float(p.f(np.array(xmax))) == pytest.approx(181.617, abs=1e-3)


def test_six_hump_camel_value_to_ten_digits():
    p = get_problem("six_hump_camel")
    assert len(p.minima) == 2
    for m in p.minima:
        assert round(float(p.f(np.array(m.point))), 10) == -1.0316284535
        assert round(m.value, 10) == -1.0316284535


def test_goldstein_price_minimum_is_three():
    p = get_problem("goldstein_price")
    assert p.minima == (Minimum((0.0, -1.0), 3.0),)
    assert float(p.f([0.0, -1.0])) == 3.0


def test_ackley_at_its_kink():
    p = get_problem("ackley")
    assert p.minima == (Minimum((0.0, 0.0), 0.0),)
    assert abs(float(p.f([0.0, 0.0]))) < 1e-14
    assert p.expr.subs({s: 0 for s in p.expr.free_symbols}) == 0  # exactly 0 symbolically
    with np.errstate(all="ignore"):
        p.grad([0.0, 0.0])  # not differentiable at 0: no error (the value is nan)
    for off in ([1e-7, 0.0], [0.0, -1e-7], [3e-8, 4e-8], [-1e-3, 2e-3]):
        g = p.grad(np.array(off))
        assert np.all(np.isfinite(g))
        assert np.all(np.isfinite(p.hessian(np.array(off))))
    # the cone: the gradient does not vanish as x -> 0 (|grad| -> a*b/sqrt(2) = 2*sqrt(2))
    assert np.linalg.norm(p.grad([1e-9, 0.0])) == pytest.approx(2 * math.sqrt(2), rel=1e-6)


def test_rosenbrock_parameters():
    p = get_problem("rosenbrock", a=2, b=50)
    assert p.params == {"a": 2, "b": 50}
    assert p.minima == (Minimum((2.0, 4.0), 0.0),)
    assert "a = 2" in p.title and "b = 50" in p.title
    np.testing.assert_allclose(p.grad([2.0, 4.0]), [0.0, 0.0])
    x = np.array([0.3, -0.7])
    assert float(p.f(x)) == pytest.approx((2 - 0.3) ** 2 + 50 * (-0.7 - 0.09) ** 2)
    default = get_problem("rosenbrock")
    assert default.minima == (Minimum((1.0, 1.0), 0.0),)
    assert float(default.f([-1.2, 1.0])) == pytest.approx(24.2)


def test_rastrigin_parameter():
    p = get_problem("rastrigin", A=5)
    x = np.array([0.5, 0.25])
    expected = 10 + sum(v * v - 5 * math.cos(2 * math.pi * v) for v in x)
    assert float(p.f(x)) == pytest.approx(expected)


# -------------------------------------------------------------------------- lecture examples


def test_lecture_error_surface_gradient_step():
    p = get_problem("lecture_error_surface")
    g = p.grad([1.5, 2.0])
    np.testing.assert_allclose(g, [-5 / 12, -7 / 36])
    new = np.array([1.5, 2.0]) - 0.3 * g
    # the lecture prints (1.625, 2.05); the second coordinate is 2.0583 (rounded down on the slide)
    np.testing.assert_allclose(new, [1.625, 2.0 + 0.3 * 7 / 36])
    # momentum with the 0.9 the slide's arithmetic uses: (2.075, 2.958)
    momentum = new + 0.9 * (np.array([1.5, 2.0]) - np.array([1.0, 1.0]))
    np.testing.assert_allclose(momentum, [2.075, 2.958333333], atol=1e-9)


def test_lecture_three_var_minimum_and_hessian():
    p = get_problem("lecture_three_var")
    assert p.minima == (Minimum((-1.0, -1.0, -1.0), -1.0),)
    assert float(p.f([-1.0, -1.0, -1.0])) == -1.0
    h = p.hessian(np.zeros(3))
    np.testing.assert_array_equal(h, [[2, -1, 0], [-1, 2, -1], [0, -1, 2]])
    np.testing.assert_allclose(np.linalg.eigvalsh(h), [2 - math.sqrt(2), 2, 2 + math.sqrt(2)])


def test_lecture_bowl3d():
    p = get_problem("lecture_bowl3d")
    assert p.minima == (Minimum((0.0, 0.0, 0.0), 6.0),)
    np.testing.assert_array_equal(p.hessian(np.ones(3)), np.diag([6.0, 4.0, 8.0]))


def test_ellipse_and_parabola():
    e = get_problem("ellipse")
    np.testing.assert_array_equal(e.hessian([1.0, 1.0]), np.diag([0.2, 4.0]))
    p = get_problem("parabola")
    assert p.dim == 1 and p.start == (10.0,)
    np.testing.assert_array_equal(p.grad([[10.0]]), [[20.0]])


def test_saddle_sign_restored():
    p = get_problem("saddle")
    assert p.minima == ()
    assert p.critical_points == ((0.0, 0.0),)
    assert "x² − y²" in p.title and "minus" in p.title
    assert float(p.f([1.0, 2.0])) == -3.0
    np.testing.assert_array_equal(np.linalg.eigvalsh(p.hessian([0.0, 0.0])), [-2.0, 2.0])


def test_tanh_vanishing_gradient():
    p = get_problem("tanh")
    assert p.minima == () and p.critical_points == ()
    g = float(p.grad([4.0])[0])
    assert g == pytest.approx(1 - math.tanh(4) ** 2)
    assert round(g, 4) == 0.0013


def test_sigmoid_neuron_loss_gradient_and_infimum():
    p = get_problem("sigmoid_neuron")
    assert p.params == {"x": 3.5, "y": 0.5}
    assert p.variables == ("w", "b")
    assert p.minima == ()
    assert "line" in p.notes and "ln 2" in p.notes
    # the lecture's Adam example starts at w = b = -2 with (x, y) = (3.5, 0.5)
    z = -2.0 * 3.5 - 2.0
    s = 1 / (1 + math.exp(-z))
    loss = -(0.5 * math.log(s) + 0.5 * math.log(1 - s))
    assert float(p.f([-2.0, -2.0])) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(p.grad([-2.0, -2.0]), [(s - 0.5) * 3.5, s - 0.5], rtol=1e-12)
    # the infimum ln 2 on the whole line w*x + b = 0, where the gradient vanishes
    for w in (-3.0, 0.0, 1.0, 2.5):
        point = [w, -3.5 * w]
        assert float(p.f(point)) == pytest.approx(math.log(2), abs=1e-14)
        assert np.linalg.norm(p.grad(point)) < 1e-14
    # a different example: the infimum is the binary entropy, on w*x + b = logit(y)
    q = get_problem("sigmoid_neuron", x=-1.0, y=0.25)
    logit = math.log(0.25 / 0.75)
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    point = [1.0, logit + 1.0]
    assert float(q.f(point)) == pytest.approx(entropy, abs=1e-14)
    assert np.linalg.norm(q.grad(point)) < 1e-14
    assert "(-1, 0.25)" in q.title


def test_monkey_saddle_is_degenerate():
    p = get_problem("monkey_saddle")
    assert p.minima == ()
    assert p.critical_points == ((0.0, 0.0),)
    np.testing.assert_array_equal(p.grad([0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_array_equal(p.hessian([0.0, 0.0]), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- derivatives


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    p = get_problem(name)
    x = random_points(p, 8, seed=1)
    g = p.grad(x)
    fd = fd_grad(p.f, x)
    f = np.abs(p.f(x))[:, None]
    assert_close(g, fd, rtol=1e-5, atol=1e-7 * (1.0 + f))


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_finite_differences_of_gradient(name):
    p = get_problem(name)
    x = random_points(p, 8, seed=2)
    h = p.hessian(x)
    fd = fd_grad(p.grad, x)  # fd[..., i, j] = d g_i / d x_j
    scale = (1.0 + np.abs(p.f(x)) + np.abs(p.grad(x)).max(axis=-1))[:, None, None]
    assert_close(h, fd, rtol=1e-5, atol=1e-7 * scale)
    np.testing.assert_array_equal(h, np.swapaxes(h, -1, -2))


# ----------------------------------------------------------------------------- batching, dtypes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch", [(), (5,), (3, 4)])
def test_batch_shapes(name, batch):
    p = get_problem(name)
    n = int(np.prod(batch)) if batch else 1
    flat = random_points(p, n, seed=3)
    x = flat.reshape(batch + (p.dim,))
    assert p.f(x).shape == batch
    assert p.grad(x).shape == batch + (p.dim,)
    assert p.hessian(x).shape == batch + (p.dim, p.dim)
    # each batch entry equals the single-point evaluation
    for i, point in enumerate(flat):
        idx = np.unravel_index(i, batch) if batch else ()
        assert p.f(x)[idx] == pytest.approx(float(p.f(point)), rel=1e-14, abs=1e-300)
        np.testing.assert_allclose(p.grad(x)[idx], p.grad(point), rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    p = get_problem(name)
    x64 = random_points(p, 6, seed=4)
    x32 = x64.astype(np.float32)
    for method in (p.f, p.grad, p.hessian):
        r32 = method(x32)
        r64 = method(x32.astype(np.float64))
        assert r32.dtype == np.float32, method.__name__
        assert method(x64).dtype == np.float64
        np.testing.assert_allclose(r32, r64, rtol=2e-3, atol=2e-3 * np.abs(r64).max())


def test_lists_tuples_and_ints_accepted():
    p = get_problem("booth")
    assert float(p.f([1, 3])) == 0.0
    assert p.f((1, 3)).dtype == np.float64
    assert p.grad([[1, 3], [0, 0]]).shape == (2, 2)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((4, 1)), np.float64(1.0), np.zeros((2, 3))])
def test_wrong_shape_names_problem_shape_and_dim(bad):
    p = get_problem("himmelblau")
    for method in (p.f, p.grad, p.hessian):
        with pytest.raises(ValueError) as err:
            method(bad)
        msg = str(err.value)
        assert "himmelblau" in msg and str(np.shape(bad)) in msg and "2" in msg


def test_complex_input_rejected():
    with pytest.raises(ValueError, match="real"):
        get_problem("booth").f(np.zeros(2, dtype=complex))


# ----------------------------------------------------------------------------- scalar functions


@pytest.mark.parametrize("name", NAMES)
def test_scalar_functions_compile_with_numba_and_agree(name):
    numba = pytest.importorskip("numba")
    p = get_problem(name)
    f_scalar, grad_scalar = p.scalar_functions()
    jf, jg = numba.njit(f_scalar), numba.njit(grad_scalar)
    for point in random_points(p, 4, seed=5):
        args = [float(v) for v in point]
        value = jf(*args)
        grad = jg(*args)
        assert isinstance(value, float)
        assert isinstance(grad, tuple) and len(grad) == p.dim
        assert all(isinstance(g, float) for g in grad)
        assert value == pytest.approx(float(p.f(point)), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grad, p.grad(point), rtol=1e-12, atol=1e-12)
        assert f_scalar(*args) == pytest.approx(value, rel=1e-14, abs=1e-14)


def test_symbolic_expressions_available():
    import sympy

    p = get_problem("rosenbrock")
    x, y = sympy.symbols("x y", real=True)
    assert sympy.simplify(p.expr - ((1 - x) ** 2 + 100 * (y - x**2) ** 2)) == 0
    assert p.hessian_expr.shape == (2, 2)
    assert len(p.grad_expr) == 2


def test_import_does_not_load_sympy():
    code = "import sys, ravine, ravine.problems; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = (
        "import ravine.problems as p; p.list_problems(); p.get_problem('rosenbrock').title; "
        "import sys; print('sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
