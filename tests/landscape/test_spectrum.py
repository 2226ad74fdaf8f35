"""Spectral algorithms against dense linear algebra (float64)."""

import numpy as np
import pytest
import torch

from ravine.landscape import DenseOperator, hutchinson_trace, lanczos, power_iteration, problem_hessian, slq_density


def _sym(rng, n, spread=1.0):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([[12.0, 7.0, 5.0], rng.uniform(-1, 2, n - 3) * spread])
    return (Q * lam) @ Q.T, np.sort(lam)[::-1]


def test_lanczos_top_k_against_eigh(rng):
    A, _ = _sym(rng, 80)
    ref = np.linalg.eigh(A)
    r = lanczos(DenseOperator(A), 3, tol=1e-8)
    assert r.converged and r.n_products < 80
    np.testing.assert_allclose(r.eigenvalues, ref.eigenvalues[::-1][:3], rtol=1e-10)
    # eigenvectors up to sign, and H y = θ y within the reported residual
    for i in range(3):
        y = r.eigenvectors[:, i].numpy()
        assert abs(abs(y @ ref.eigenvectors[:, -1 - i]) - 1) < 1e-8
        assert np.linalg.norm(A @ y - r.eigenvalues[i] * y) <= r.residuals[i] + 1e-10
    assert np.all(r.residuals <= 1e-8 * np.abs(r.eigenvalues))


def test_lanczos_tolerance_is_what_it_states(rng):
    A, lam = _sym(rng, 200)
    r = lanczos(DenseOperator(A), 1, tol=1e-3)
    assert r.converged
    assert abs(r.lambda_max - lam[0]) / lam[0] <= 1e-3
    # a cap too small to converge is reported as not converged, with the products it used
    r2 = lanczos(DenseOperator(A), 3, tol=1e-12, max_iter=4)
    assert not r2.converged and r2.n_products == 4


def test_power_iteration_against_eigh(rng):
    A, lam = _sym(rng, 50)
    r = power_iteration(DenseOperator(A), tol=1e-9, max_iter=5000)
    assert r.converged and r.method == "power"
    assert abs(r.lambda_max - lam[0]) < 1e-9 * lam[0] * 10
    assert 1 < r.n_products < 5000


def test_hutchinson_within_its_error(rng):
    A, _ = _sym(rng, 100, spread=3.0)
    est = hutchinson_trace(DenseOperator(A), 400, seed=3)
    assert est.n_products == 400
    assert est.stderr > 0
    assert abs(est.trace - np.trace(A)) <= 3 * est.stderr
    # the stated error is honest: it matches the spread over independent repetitions
    reps = [hutchinson_trace(DenseOperator(A), 50, seed=s).trace for s in range(40)]
    se50 = hutchinson_trace(DenseOperator(A), 50, seed=0).stderr
    assert 0.5 < np.std(reps) / se50 < 2.0


def test_slq_density_integrates_to_one_and_matches_histogram(rng):
    n = 60
    A, _ = _sym(rng, n)
    lam = np.linalg.eigvalsh(A)
    sigma = 0.3
    grid = np.linspace(lam.min() - 3, lam.max() + 3, 2000)
    d = slq_density(DenseOperator(A), n_probes=100, n_steps=n, sigma=sigma, grid=grid, seed=1)
    assert abs(np.trapezoid(d.density, grid) - 1) < 1e-6
    assert np.allclose(d.weights.sum(1), 1)
    exact = np.exp(-0.5 * ((grid[:, None] - lam[None]) / sigma) ** 2).sum(1) / (n * sigma * np.sqrt(2 * np.pi))
    l1 = np.trapezoid(np.abs(d.density - exact), grid)
    assert l1 < 0.15, l1
    # the first moment is tr(A)/n (quadrature is exact for polynomials of low degree)
    assert abs(np.trapezoid(grid * d.density, grid) - np.trace(A) / n) < 0.3
    # nodes with m = n steps are the eigenvalues themselves
    assert np.allclose(np.sort(d.nodes[0]), lam, atol=1e-8)


def test_against_analytic_problem_hessian():
    from ravine.problems import get_problem, random_quadratic

    p = get_problem("rosenbrock")
    H = problem_hessian(p, [0.5, -0.3])
    ref = np.linalg.eigvalsh(np.asarray(p.hessian(np.array([0.5, -0.3]))))
    r = lanczos(H, 2, tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues, ref[::-1], rtol=1e-12)
    q = random_quadratic(30, cond=100.0, seed=4)
    Hq = problem_hessian(q, np.zeros(30))
    r = lanczos(Hq, 1, tol=1e-10)
    assert abs(r.lambda_max - q.eigenvalues[-1]) < 1e-9 * q.eigenvalues[-1]
    t = hutchinson_trace(Hq, 300)
    assert abs(t.trace - q.eigenvalues.sum()) <= 4 * t.stderr


def test_bad_input_one_line_errors(rng):
    A, _ = _sym(rng, 5)
    op = DenseOperator(A)
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, 5\] \(the operator has dim = 5\), got 6$"):
        lanczos(op, 6)
    with pytest.raises(ValueError, match="^tol must be a number in"):
        lanczos(op, 1, tol=0)
    with pytest.raises(ValueError, match="^n_probes must be an integer ≥ 2, got 1$"):
        hutchinson_trace(op, 1)
    with pytest.raises(ValueError, match="^op must be a ravine.landscape Operator"):
        lanczos(A, 1)
    with pytest.raises(ValueError, match="^A must be symmetric"):
        DenseOperator(np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match=r"^x must have shape \(2,\) for problem 'rosenbrock'"):
        problem_hessian("rosenbrock", [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="^sigma must be a positive number"):
        slq_density(op, sigma=-1.0)


def test_scaled_operator_has_the_eigenvalues_of_the_preconditioned_matrix(rng):
    from ravine.landscape import ScaledOperator

    A, _ = _sym(rng, 30)
    d = rng.uniform(0.1, 3.0, 30)
    ref = np.sort(np.linalg.eigvals(A / d[:, None]).real)[::-1]  # eigenvalues of D⁻¹A
    r = lanczos(ScaledOperator(DenseOperator(A), torch.as_tensor(d)), 2, tol=1e-10)
    np.testing.assert_allclose(r.eigenvalues, ref[:2], rtol=1e-9)
    with pytest.raises(ValueError, match="^diag must be positive and finite$"):
        ScaledOperator(DenseOperator(A), torch.zeros(30))
