"""Compressed factorization (Sharan et al., ICML 2019): expander, basis pursuit, F-R / R-F."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from parsimony.data.factorization import planted_factorization
from parsimony.sparse.basis_pursuit import basis_pursuit
from parsimony.sparse.experiments.compressed_factorization import (
    factor_correlation,
    median_of,
    monotone_drops,
    relative_error,
    run_routes,
)
from parsimony.sparse.factorization import CompressedFactorization, decode
from parsimony.sparse.operators import GaussianOperator, SparseExpanderOperator
from sklearn.decomposition import NMF, SparsePCA
from sklearn.exceptions import NotFittedError


def _sparse_rows(n_rows, n, k, rng, nonnegative=False):
    X = np.zeros((n_rows, n))
    for i in range(n_rows):
        vals = rng.random(k) + 0.5
        X[i, rng.choice(n, k, replace=False)] = (
            vals if nonnegative else vals * rng.choice([-1, 1], k)
        )
    return X


# --- expander -----------------------------------------------------------------------------


def test_expander_has_s_ones_per_column_at_distinct_rows():
    A = SparseExpanderOperator(40, 200, n_ones=5, random_state=0)
    D = A.to_dense()
    assert set(np.unique(D)) <= {0.0, 1.0}
    assert (D.sum(axis=0) == 5).all()  # binary and 5 per column: the 5 rows are distinct
    assert sp.issparse(A.matrix) and A.matrix.nnz == 1000
    x = np.random.default_rng(1).standard_normal(200)
    assert np.allclose(A @ x, D @ x)
    assert np.allclose(A.rmatvec(np.ones(40)), D.T @ np.ones(40))
    assert np.array_equal(A.columns([3, 7]), D[:, [3, 7]])


def test_expander_is_deterministic_and_validates():
    a = SparseExpanderOperator(10, 30, 3, random_state=4).to_dense()
    assert np.array_equal(a, SparseExpanderOperator(10, 30, 3, random_state=4).to_dense())
    with pytest.raises(ValueError, match="n_ones"):
        SparseExpanderOperator(4, 30, 5)
    with pytest.raises(TypeError, match="n_ones"):
        SparseExpanderOperator(10, 30, 2.5)


# --- basis pursuit ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "expander"])
def test_basis_pursuit_recovers_planted_sparse_vectors(kind):
    rng = np.random.default_rng(0)
    n, d, k = 120, 60, 5  # d well above k log(n/k) ~ 16
    if kind == "gaussian":
        A = GaussianOperator(d, n, random_state=1)
    else:
        A = SparseExpanderOperator(d, n, 5, random_state=1)
    X = _sparse_rows(6, n, k, rng)
    Y = X @ A.to_dense().T
    assert np.abs(basis_pursuit(A, Y) - X).max() < 1e-6
    assert np.abs(basis_pursuit(A, Y[2]) - X[2]).max() < 1e-6  # one right-hand side


def test_batched_equals_one_lp_per_row():
    rng = np.random.default_rng(2)
    A = GaussianOperator(25, 60, random_state=0)
    Y = _sparse_rows(5, 60, 3, rng) @ A.to_dense().T
    assert np.allclose(basis_pursuit(A, Y, batch_size=1), basis_pursuit(A, Y, batch_size=4))


def test_nonnegative_basis_pursuit():
    rng = np.random.default_rng(3)
    A = SparseExpanderOperator(40, 100, 5, random_state=0)
    X = _sparse_rows(3, 100, 4, rng, nonnegative=True)
    Xh = basis_pursuit(A, X @ A.to_dense().T, nonnegative=True)
    assert Xh.min() >= 0 and np.abs(Xh - X).max() < 1e-6
    with pytest.raises(RuntimeError, match="basis pursuit failed"):
        basis_pursuit(A, -np.ones((1, 40)), nonnegative=True)  # outside the cone of A


def test_basis_pursuit_zero_rows_and_inconsistent_rhs():
    # a zero row (an empty row of an expander) and a target outside range(A): projected
    A = np.vstack([GaussianOperator(10, 30, random_state=0).to_dense(), np.zeros((1, 30))])
    x = np.zeros(30)
    x[[2, 9]] = [1.0, -1.0]
    y = A @ x
    y[-1] = 0.3
    assert np.abs(basis_pursuit(A, y) - x).max() < 1e-6
    assert np.abs(basis_pursuit(sp.csr_array(A), y) - x).max() < 1e-6


def test_basis_pursuit_bad_input():
    A = np.eye(3)
    with pytest.raises(ValueError, match="Y must have 3 columns"):
        basis_pursuit(A, np.ones((2, 4)))
    with pytest.raises(ValueError, match="Y contains NaN"):
        basis_pursuit(A, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="A contains NaN"):
        basis_pursuit(np.array([[np.inf, 0.0]]), np.ones(1))
    with pytest.raises(TypeError, match="Y must be real"):
        basis_pursuit(A, np.ones(3) * 1j)
    with pytest.raises(TypeError, match="nonnegative"):
        basis_pursuit(A, np.ones(3), nonnegative="yes")
    with pytest.raises(ValueError, match="batch_size"):
        basis_pursuit(A, np.ones(3), batch_size=0)
    with pytest.raises(ValueError, match="decoder"):
        decode(A, np.ones((1, 3)), "lasso")


def test_omp_decoder_matches_bp_on_easy_case():
    rng = np.random.default_rng(5)
    A = GaussianOperator(30, 80, random_state=0)
    X = _sparse_rows(3, 80, 3, rng)
    Y = X @ A.to_dense().T
    assert np.allclose(decode(A, Y, "omp", {"n_nonzero_coefs": 3}), X, atol=1e-8)


# --- planted data and metrics -------------------------------------------------------------


def test_planted_factorization_structure_and_noise():
    X, clean, W, H = planted_factorization(50, 40, 3, 6, noise=0.1, random_state=0)
    assert (np.count_nonzero(W, axis=1) == 6).all() and W.min() >= 0 and H.min() >= 0
    assert np.allclose(np.linalg.norm(H, axis=0), 1.0)
    assert np.allclose(clean, H @ W)
    assert np.isclose(relative_error(clean, X), 0.1)
    with pytest.raises(ValueError, match="n_nonzero"):
        planted_factorization(5, 4, 2, 5)


def test_factor_correlation_matches_brute_force():
    rng = np.random.default_rng(0)
    true, est = rng.random((4, 30)), rng.random((4, 30))
    corr, match = factor_correlation(true, est)
    C = np.abs(np.corrcoef(true, est)[:4, 4:])
    best = max(np.mean(C[np.arange(4), list(p)]) for p in itertools.permutations(range(4)))
    assert np.isclose(corr, best)
    assert np.isclose(np.mean(C[np.arange(4), match]), best)
    perm = [2, 0, 3, 1]
    assert factor_correlation(true, -3 * true[perm])[0] == pytest.approx(1.0)


def test_monotone_drops_and_median():
    rows = [{"route": "fr", "trial": t, "d": d, "corr_W": c} for t in (0, 1)
            for d, c in [(1, 0.2), (2, 0.1 + 0.5 * t), (3, 0.9)]]  # fmt: skip
    assert monotone_drops(rows, "fr") == 1
    assert median_of(rows, "fr", 2, "corr_W") == pytest.approx(0.35)
    with pytest.raises(ValueError, match="no rows"):
        median_of(rows, "rf", 2, "corr_W")


# --- the estimator ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def problem():
    return planted_factorization(80, 100, 3, 5, random_state=0)


def test_lp_counts_r_for_fr_and_m_for_rf(problem):
    rows = run_routes(problem, 40, max_iter=500, random_state=0)
    counts = {r["route"]: r["n_lps"] for r in rows}
    assert counts == {"fr": 3, "rf": 80}


def test_fr_recovers_planted_factors(problem):
    X, clean, W, H = problem
    P = SparseExpanderOperator(50, 100, 5, random_state=0)
    nmf = NMF(3, solver="mu", init="nndsvda", max_iter=1000, tol=0.0, random_state=0)
    est = CompressedFactorization(nmf).fit(X @ P.matrix.T, P=P)
    assert factor_correlation(W, est.components_)[0] > 0.99
    assert est.compressed_components_.shape == (3, 50) and est.embedding_.shape == (80, 3)
    assert est.transform(X[:5] @ P.matrix.T).shape == (5, 3)


def test_estimator_is_deterministic_and_compresses_itself(problem):
    X = problem[0]
    nmf = NMF(3, init="nndsvda", max_iter=300, random_state=0)
    a = CompressedFactorization(nmf, 40, random_state=3).fit(X)
    b = CompressedFactorization(nmf, 40, random_state=3).fit(X)
    assert np.array_equal(a.components_, b.components_)
    assert a.operator_.shape == (40, 100) and a.n_features_in_ == 100
    spca = SparsePCA(3, alpha=0.1, max_iter=20, random_state=0)  # Gaussian data are signed
    g = CompressedFactorization(spca, 40, operator="gaussian", clip=False, random_state=0).fit(X)
    assert g.components_.shape == (3, 100)


def test_estimator_bad_input(problem):
    X = problem[0]
    P = SparseExpanderOperator(40, 100, 5, random_state=0)
    est = CompressedFactorization(NMF(2, max_iter=50))
    with pytest.raises(NotFittedError):
        est.transform(X)
    with pytest.raises(ValueError, match="P must have 30 rows"):
        est.fit(X[:, :30], P=P)
    with pytest.raises(ValueError, match="no more rows than columns"):
        est.fit(np.ones((5, 20)), P=np.ones((20, 10)))
    with pytest.raises(ValueError, match="n_measurements"):
        CompressedFactorization(n_measurements=101).fit(X)
    with pytest.raises(ValueError, match="route"):
        CompressedFactorization(route="xx").fit(X)
    with pytest.raises(ValueError, match="operator"):
        CompressedFactorization(operator="dct").fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(np.full((5, 40), np.nan), P=P)
