"""Jackson-Chebyshev filters against the exact spectral projector; the eigencount."""

import numpy as np
import pytest
import scipy.sparse as sp
from parsimony.spectral.filters import (
    chebyshev_moments,
    eigencount,
    estimate_lambda_k,
    filter_response,
    jackson_chebyshev_coefficients,
    polynomial_filter,
    rescaled_operator,
)
from parsimony.spectral.graphs import laplacian, sbm


@pytest.fixture(scope="module")
def graph():
    W, y = sbm(300, 3, 12, 0.02, random_state=0)
    L = laplacian(W)
    lam, U = np.linalg.eigh(L.toarray())
    return L, lam, U


@pytest.mark.parametrize("band", [(0.0, 0.5), (0.3, 1.2), (1.0, 2.0)])
@pytest.mark.parametrize("order", [1, 7, 50])
def test_coefficients_match_pygsp(band, order):
    approx = pytest.importorskip("pygsp.filters.approximations")
    _, ref = approx.compute_jackson_cheby_coeff(list(band), [0.0, 2.0], order)
    np.testing.assert_allclose(jackson_chebyshev_coefficients(band, order), ref, atol=1e-12)


def test_recurrence_equals_dense_spectral_filter(graph):
    L, lam, U = graph
    c = jackson_chebyshev_coefficients((0.0, 0.4), 30)
    X = np.random.default_rng(1).standard_normal((L.shape[0], 4))
    exact = U @ (filter_response(c, lam)[:, None] * (U.T @ X))
    np.testing.assert_allclose(polynomial_filter(L, X, c), exact, atol=1e-10)
    Y32 = polynomial_filter(L, X.astype(np.float32), c)
    assert Y32.dtype == np.float32
    np.testing.assert_allclose(Y32, exact, atol=1e-4)


def test_lowpass_matches_exact_projector_away_from_transition(graph):
    L, lam, U = graph
    k = 3
    cut = (lam[k - 1] + lam[k]) / 2
    assert lam[k] - lam[k - 1] > 0.3  # a clear gap: no eigenvalue in the transition band
    c = jackson_chebyshev_coefficients((0.0, cut), 50)
    H = polynomial_filter(L, np.eye(L.shape[0]), c)
    P = U[:, :k] @ U[:, :k].T
    assert np.linalg.norm(H - P, 2) < 0.05
    grid = np.linspace(0, 2, 2001)
    resp = filter_response(c, grid)
    far = np.abs(grid - cut) > 0.15
    np.testing.assert_allclose(resp[far], (grid[far] <= cut).astype(float), atol=0.02)


def test_jackson_response_stays_in_unit_interval():
    grid = np.linspace(0, 2, 4001)
    for band in [(0.0, 0.1), (0.2, 0.9), (0.7, 2.0)]:
        resp = filter_response(jackson_chebyshev_coefficients(band, 50), grid)
        assert resp.min() > -1e-10 and resp.max() < 1 + 1e-10


def test_highpass_is_one_minus_lowpass():
    low = jackson_chebyshev_coefficients((0.0, 0.6), 20)
    high = jackson_chebyshev_coefficients((0.6, 2.0), 20)
    grid = np.linspace(0, 2, 101)
    np.testing.assert_allclose(filter_response(low, grid) + filter_response(high, grid), 1.0)


def test_eigencount_from_moments_equals_direct_filtering(graph):
    L, _, _ = graph
    S = np.random.default_rng(2).standard_normal((L.shape[0], 6)) / np.sqrt(6)
    mu = chebyshev_moments(rescaled_operator(L), S, 40)
    for cut in (0.1, 0.5, 1.3):
        c = jackson_chebyshev_coefficients((0.0, cut), 40)
        direct = np.linalg.norm(polynomial_filter(L, S, c)) ** 2
        assert eigencount(mu, c) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_lambda_k_estimate_lies_in_the_gap(seed):
    W, _ = sbm(500, 5, 14, 0.05, random_state=seed)
    L = laplacian(W)
    lam = np.linalg.eigvalsh(L.toarray())
    est = estimate_lambda_k(L, 5, random_state=seed)
    tol = 0.05
    assert lam[4] - tol <= est <= lam[5] + tol, (lam[4], est, lam[5])


@pytest.mark.parametrize(
    "band, match", [((0.5, 0.2), "band"), ((-0.1, 0.5), "band"), ((0.1, 2.5), "band")]
)
def test_bad_band(band, match):
    with pytest.raises(ValueError, match=match):
        jackson_chebyshev_coefficients(band, 10)
    with pytest.raises(TypeError, match="band"):
        jackson_chebyshev_coefficients(0.5, 10)


def test_polynomial_filter_bad_shapes():
    L = sp.identity(4, format="csr")
    c = jackson_chebyshev_coefficients((0.0, 1.0), 3)
    with pytest.raises(ValueError, match="X"):
        polynomial_filter(L, np.ones((3, 2)), c)
    with pytest.raises(ValueError, match="L"):
        polynomial_filter(sp.csr_matrix(np.ones((3, 4))), np.ones((3, 2)), c)
    with pytest.raises(ValueError, match="k"):
        estimate_lambda_k(L, 4)


def test_torch_operator_matches_scipy(graph):
    from parsimony.spectral.filters import TorchOperator, chebyshev_recurrence

    L, _, _ = graph
    Lt = rescaled_operator(L, dtype=np.float32)
    c = jackson_chebyshev_coefficients((0.0, 0.7), 20)
    X = np.random.default_rng(3).standard_normal((L.shape[0], 5)).astype(np.float32)
    np.testing.assert_allclose(
        chebyshev_recurrence(TorchOperator(Lt), X, c), chebyshev_recurrence(Lt, X, c), atol=1e-5
    )
