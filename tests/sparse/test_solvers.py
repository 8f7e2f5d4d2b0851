"""Solvers: OMP against scikit-learn, exact recovery by every method, determinism, bad input."""

import numpy as np
import pytest
from parsimony.sparse import (
    GaussianOperator,
    KSparse,
    MatrixOperator,
    PartialDCTOperator,
    adjacency,
    cosamp,
    grid_graph,
    iht,
    omp,
    planted_signal,
    recover,
)
from parsimony.sparse.experiments.graph_recovery import VARIANTS, make_model
from sklearn.linear_model import OrthogonalMatchingPursuit


@pytest.mark.parametrize(("noise", "seed"), [(0.0, 0), (0.05, 1), (0.01, 2)])
def test_omp_matches_sklearn(noise, seed):
    rng = np.random.default_rng(seed)
    m, n, k = 64, 256, 10
    X = rng.standard_normal((m, n)) / np.sqrt(m)
    x0 = np.zeros(n)
    x0[rng.choice(n, k, replace=False)] = rng.standard_normal(k)
    y = X @ x0 + noise * rng.standard_normal(m)
    ref = OrthogonalMatchingPursuit(n_nonzero_coefs=k, fit_intercept=False).fit(X, y).coef_
    ours, n_iter = omp(MatrixOperator(X), y, k)
    np.testing.assert_array_equal(np.flatnonzero(ours), np.flatnonzero(ref))
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    assert n_iter == k
    if noise == 0:
        np.testing.assert_allclose(ours, x0, atol=1e-10)


def test_omp_tol_matches_sklearn():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 120))
    y = X[:, [3, 7, 40]] @ np.array([2.0, -1.0, 0.5]) + 0.01 * rng.standard_normal(50)
    ref = OrthogonalMatchingPursuit(tol=0.1, fit_intercept=False).fit(X, y).coef_
    ours, _ = omp(X, y, 50, tol=0.1)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize("method", sorted(VARIANTS))
def test_every_method_recovers_a_planted_graph_signal(method):
    e = grid_graph(10)
    adj = adjacency(e, 100)
    s = 6
    model = make_model(method, e, 100, s, 1)
    solver = VARIANTS[method][0]
    for seed in range(3):
        x0, _ = planted_signal(adj, s, 1, random_state=seed)
        A = GaussianOperator(80, 100, random_state=seed)
        x, hist = recover(A, A @ x0, model, solver, max_iter=300, tol=1e-9, random_state=seed)
        np.testing.assert_allclose(x, x0, atol=1e-6, err_msg=method)
        assert hist["converged"]


def test_cosamp_recovers_with_partial_dct_large_n():
    n, s = 2**14, 20
    rng = np.random.default_rng(0)
    x0 = np.zeros(n)
    x0[rng.choice(n, s, replace=False)] = rng.standard_normal(s)
    A = PartialDCTOperator(200, n, random_state=1)
    x, _ = recover(A, A @ x0, KSparse(s), "cosamp", tol=1e-9)
    np.testing.assert_allclose(x, x0, atol=1e-8)


def test_underdetermined_least_squares_regime():
    """m < 3s: CoSaMP's least squares on |Gamma| <= 3s columns is underdetermined."""
    e = grid_graph(10)
    adj = adjacency(e, 100)
    x0, _ = planted_signal(adj, 10, 1, random_state=0)
    A = GaussianOperator(15, 100, random_state=0)
    for method in ("cosamp", "graph_cosamp", "lp_cosamp"):
        model = make_model(method, e, 100, 10)
        x, hist = recover(A, A @ x0, model, "cosamp", max_iter=8, random_state=0)
        assert np.all(np.isfinite(x)) and np.count_nonzero(x) <= 11
        assert len(hist["residual"]) == hist["n_iter"]


def test_callback_and_history():
    A = GaussianOperator(40, 100, random_state=0)
    x0 = np.zeros(100)
    x0[[1, 2, 3]] = 1.0
    seen = []
    x, hist = recover(A, A @ x0, KSparse(3), "iht", callback=seen.append, max_iter=20)
    assert [st["iteration"] for st in seen] == list(range(1, hist["n_iter"] + 1))
    assert seen[-1]["residual"] == hist["residual"][-1]


@pytest.mark.parametrize("method", ["lp_cosamp", "graph_iht", "iht"])
def test_determinism(method):
    e = grid_graph(8)
    adj = adjacency(e, 64)
    x0, _ = planted_signal(adj, 6, random_state=1)
    A = GaussianOperator(14, 64, random_state=1)
    model = make_model(method, e, 64, 6)
    a, ha = recover(A, A @ x0, model, VARIANTS[method][0], max_iter=5, random_state=3)
    b, hb = recover(A, A @ x0, model, VARIANTS[method][0], max_iter=5, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert ha == hb


def test_bad_input():
    A = GaussianOperator(10, 20, random_state=0)
    y = np.ones(10)
    with pytest.raises(ValueError, match="y"):
        recover(A, np.ones(11), KSparse(2))
    with pytest.raises(ValueError, match="y"):
        recover(A, np.r_[np.ones(9), np.nan], KSparse(2))
    with pytest.raises(ValueError, match="k"):
        recover(A, y, KSparse(21))
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        omp(A, y, 11)
    with pytest.raises(ValueError, match="method"):
        recover(A, y, KSparse(2), method="lasso")
    with pytest.raises(TypeError, match="model"):
        recover(A, y, 3)
    with pytest.raises(ValueError, match="y"):
        recover(A, np.ones((10, 1)), KSparse(2))
    with pytest.raises(ValueError, match="A"):
        recover(np.ones((10, 20)) * np.inf, y, KSparse(2))


@pytest.mark.parametrize("solver", [cosamp, iht])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_every_solver_rejects_non_finite_y(solver, bad):
    """cosamp and iht share recover's and omp's check of (A, y): the same message."""
    A = GaussianOperator(10, 20, random_state=0)
    y = np.r_[np.ones(9), bad]
    with pytest.raises(ValueError, match="y") as direct:
        solver(A, y, KSparse(2))
    with pytest.raises(ValueError, match="y") as via_recover:
        recover(A, y, KSparse(2), solver.__name__)
    with pytest.raises(ValueError, match="y") as via_omp:
        omp(A, y, 2)
    assert str(direct.value) == str(via_recover.value) == str(via_omp.value)
    with pytest.raises(ValueError, match="y"):
        solver(A, np.ones(11), KSparse(2))
    with pytest.raises(ValueError, match="max_iter"):
        solver(A, np.ones(10), KSparse(2), max_iter=0)
    with pytest.raises(TypeError, match="model"):
        solver(A, np.ones(10), 2)
