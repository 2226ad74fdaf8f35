"""N-dimensional quadratics f(x) = ½ xᵀAx − bᵀx + c and random_quadratic."""

from __future__ import annotations

import numpy as np
import pytest

from ravine.problems import Minimum, Problem, Quadratic, get_problem, random_quadratic

A3 = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 2.0]])
B3 = np.array([1.0, -2.0, 0.5])


def test_values_gradient_hessian():
    q = Quadratic(A3, B3, c=1.5)
    assert isinstance(q, Problem)
    assert q.dim == 3 and q.variables == ("x1", "x2", "x3")
    x = np.random.default_rng(0).normal(size=(6, 3))
    expected = np.array([0.5 * v @ A3 @ v - B3 @ v + 1.5 for v in x])
    np.testing.assert_allclose(q.f(x), expected, rtol=1e-14)
    np.testing.assert_allclose(q.grad(x), x @ A3.T - B3, rtol=1e-14)
    np.testing.assert_array_equal(q.hessian(x), np.broadcast_to(A3, (6, 3, 3)))
    q.hessian(x)[0, 0, 0] = 99.0  # returned Hessians are independent copies
    assert q.A[0, 0] == 4.0


def test_minimizer_populated_when_positive_definite():
    q = Quadratic(A3, B3, c=1.5)
    x_star = np.linalg.solve(A3, B3)
    assert q.positive_definite
    ((point, value),) = q.minima
    np.testing.assert_allclose(point, x_star, rtol=1e-14)
    assert value == pytest.approx(1.5 - 0.5 * B3 @ x_star, rel=1e-14)
    assert float(q.f(point)) == pytest.approx(value, rel=1e-14)
    assert np.linalg.norm(q.grad(point)) < 1e-14
    assert q.critical_points == ()
    assert q.cond == pytest.approx(np.linalg.cond(A3))
    # window and start are placed around the minimizer
    for (lo, hi), m, s in zip(q.bounds, point, q.start):
        assert lo < m < hi and lo < s < hi


def test_indefinite_and_singular():
    q = Quadratic([[1.0, 0.0], [0.0, -2.0]], [1.0, 1.0])
    assert q.minima == ()
    assert q.critical_points == ((1.0, -0.5),)
    assert not q.positive_definite and q.cond == np.inf
    s = Quadratic([[1.0, 0.0], [0.0, 0.0]])
    assert s.minima == () and s.critical_points == ()


def test_defaults_b_zero_c_zero():
    q = Quadratic(np.eye(2))
    assert q.minima == (Minimum((0.0, 0.0), 0.0),)
    assert float(q.f([3.0, 4.0])) == 12.5


def test_matches_catalog_ellipse():
    q = Quadratic(np.diag([0.2, 4.0]))
    e = get_problem("ellipse")
    x = np.random.default_rng(1).uniform(-5, 5, size=(10, 2))
    np.testing.assert_allclose(q.f(x), e.f(x), rtol=1e-14)
    np.testing.assert_allclose(q.grad(x), e.grad(x), rtol=1e-14)
    np.testing.assert_allclose(q.hessian(x), e.hessian(x), rtol=1e-14)


def test_gradient_and_hessian_match_finite_differences():
    q = random_quadratic(5, cond=50.0, seed=3)
    x = np.random.default_rng(2).normal(size=(4, 5))
    h = 1e-6
    eye = np.eye(5)
    fd = np.stack([(q.f(x + h * e) - q.f(x - h * e)) / (2 * h) for e in eye], axis=-1)
    np.testing.assert_allclose(q.grad(x), fd, rtol=1e-5, atol=1e-7)
    fdh = np.stack([(q.grad(x + h * e) - q.grad(x - h * e)) / (2 * h) for e in eye], axis=-1)
    np.testing.assert_allclose(q.hessian(x), fdh, rtol=1e-5, atol=1e-7)


def test_small_asymmetry_is_symmetrized():
    A = A3.copy()
    A[0, 1] += 1e-13
    q = Quadratic(A)
    np.testing.assert_array_equal(q.A, q.A.T)


@pytest.mark.parametrize(
    "kwargs, param, fragment",
    [
        ({"A": [[1.0, 2.0], [0.0, 1.0]]}, "A", "symmetric"),
        ({"A": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}, "A", "square"),
        ({"A": [1.0, 2.0]}, "A", "square"),
        ({"A": np.zeros((2, 2, 2))}, "A", "square"),
        ({"A": np.zeros((0, 0))}, "A", "square"),
        ({"A": [[np.nan, 0.0], [0.0, 1.0]]}, "A", "non-finite"),
        ({"A": [[np.inf, 0.0], [0.0, 1.0]]}, "A", "non-finite"),
        ({"A": [["a", "b"], ["c", "d"]]}, "A", "numeric"),
        ({"A": np.eye(2), "b": [1.0, 2.0, 3.0]}, "b", "shape (2,)"),
        ({"A": np.eye(2), "b": [np.nan, 0.0]}, "b", "non-finite"),
        ({"A": np.eye(2), "c": np.inf}, "c", "finite"),
        ({"A": np.eye(2), "c": "zero"}, "c", "real number"),
    ],
)
def test_validation_names_the_parameter(kwargs, param, fragment):
    with pytest.raises(ValueError) as err:
        Quadratic(**kwargs)
    msg = str(err.value)
    assert msg.startswith(f"{param}: ") and fragment in msg


def test_float32_batches_lists_and_shape_errors():
    q = Quadratic(A3, B3)
    x32 = np.ones((2, 4, 3), dtype=np.float32)
    assert q.f(x32).dtype == np.float32 and q.f(x32).shape == (2, 4)
    assert q.grad(x32).dtype == np.float32 and q.grad(x32).shape == (2, 4, 3)
    assert q.hessian(x32).dtype == np.float32 and q.hessian(x32).shape == (2, 4, 3, 3)
    np.testing.assert_allclose(q.f(x32), q.f(x32.astype(np.float64)), rtol=1e-6)
    assert q.f([1, 2, 3]).dtype == np.float64
    assert q.f(np.ones(3)).shape == ()
    with pytest.raises(ValueError, match=r"'quadratic'.*\(\.\.\., 3\).*\(2,\)"):
        q.grad([1.0, 2.0])


def test_no_scalar_functions_but_an_expression():
    q = Quadratic(A3, B3, c=1.5)
    assert q.scalar_functions() is None
    expr = q.expr
    values = dict(zip(sorted(expr.free_symbols, key=str), [0.3, -0.2, 0.7]))
    assert float(expr.subs(values)) == pytest.approx(float(q.f([0.3, -0.2, 0.7])), rel=1e-12)


# ----------------------------------------------------------------------------- random_quadratic


@pytest.mark.parametrize("dim, cond", [(2, 1.0), (2, 10.0), (10, 100.0), (50, 1e4)])
def test_random_quadratic_condition_number(dim, cond):
    q = random_quadratic(dim, cond=cond, seed=7)
    eig = np.linalg.eigvalsh(q.A)
    assert eig.min() > 0
    assert eig.max() / eig.min() == pytest.approx(cond, rel=1e-8)
    assert eig.max() == pytest.approx(1.0, rel=1e-10)
    assert q.cond == pytest.approx(cond, rel=1e-8)
    ((point, value),) = q.minima
    assert np.linalg.norm(q.grad(point)) < 1e-8 * cond


def test_random_quadratic_is_reproducible():
    a, b = random_quadratic(4, 20.0, seed=1), random_quadratic(4, 20.0, seed=1)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.b, b.b)
    c = random_quadratic(4, 20.0, seed=2)
    assert not np.allclose(a.A, c.A)


def test_random_quadratic_options():
    q = random_quadratic(3, cond=5.0, seed=0, shift=False, lam_max=4.0)
    np.testing.assert_allclose(q.minima[0].point, 0.0, atol=1e-14)
    assert np.linalg.eigvalsh(q.A).max() == pytest.approx(4.0)
    assert random_quadratic(1, cond=1.0).dim == 1


@pytest.mark.parametrize(
    "args, fragment",
    [((0, 10.0), "dim"), ((2.5, 10.0), "dim"), ((3, 0.5), "cond"), ((3, np.inf), "cond"), ((1, 10.0), "cond")],
)
def test_random_quadratic_validation(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        random_quadratic(*args)
