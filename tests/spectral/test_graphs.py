"""SBM, k-NN graph, Laplacians and the adjacency checks."""

import numpy as np
import pytest
import scipy.sparse as sp
from parsimony.spectral.graphs import (
    _triangle_index,
    check_adjacency,
    epsilon_critical,
    knn_graph,
    laplacian,
    sbm,
    sbm_probabilities,
)


def test_triangle_index_enumerates_the_upper_triangle():
    n = 57
    r, c = _triangle_index(np.arange(n * (n - 1) // 2))
    assert np.all(r < c) and c.max() == n - 1
    pairs = set(zip(r.tolist(), c.tolist(), strict=True))
    assert pairs == set(zip(*np.triu_indices(n, 1), strict=True))


def test_sbm_structure_and_degree():
    N, k, c, eps = 3000, 6, 12.0, 0.1
    W, y = sbm(N, k, c, eps, random_state=0)
    assert sp.isspmatrix_csr(W) and W.shape == (N, N)
    assert (W != W.T).nnz == 0 and W.diagonal().sum() == 0
    assert set(np.unique(W.data)) == {1.0}
    assert np.bincount(y).tolist() == [500] * 6
    assert abs(W.sum() / N - c) < 0.05 * c
    rows, cols = W.nonzero()
    within = np.mean(y[rows] == y[cols])
    p_in, p_out = sbm_probabilities(N, k, c, eps)
    expected = p_in * 500 * 499 / (p_in * 500 * 499 + p_out * 500 * 2500)
    assert abs(within - expected) < 0.02


def test_sbm_sizes_and_determinism():
    W1, y1 = sbm(100, 3, 5, 0.2, random_state=4, sizes=[20, 30, 50])
    W2, y2 = sbm(100, 3, 5, 0.2, random_state=4, sizes=[20, 30, 50])
    assert np.bincount(y1).tolist() == [20, 30, 50]
    assert (W1 != W2).nnz == 0 and np.array_equal(y1, y2)
    W3, _ = sbm(100, 3, 5, 0.2, random_state=5, sizes=[20, 30, 50])
    assert (W1 != W3).nnz > 0


def test_sbm_eps_zero_has_no_edges_between_blocks():
    W, y = sbm(400, 4, 10, 0.0, random_state=1)
    rows, cols = W.nonzero()
    assert np.all(y[rows] == y[cols])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sizes": [10, 10]}, "sizes"),
        ({"sizes": [10, 10, 10]}, "sum"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"avg_degree": 500.0}, "avg_degree"),
    ],
)
def test_sbm_bad_input(kwargs, match):
    args = {"n_nodes": 40, "n_clusters": 3, "avg_degree": 4.0, "epsilon": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        sbm(**args)


def test_epsilon_critical():
    c, k = 16.0, 10
    assert epsilon_critical(c, k) == pytest.approx((c - 4) / (c + 4 * 9))
    with pytest.raises(ValueError, match="n_clusters"):
        epsilon_critical(16, 1)


def test_knn_graph_symmetric_min_degree():
    X = np.random.default_rng(0).standard_normal((80, 4))
    for mode in ("connectivity", "gaussian"):
        W = knn_graph(X, 6, mode=mode)
        assert abs(W - W.T).max() == 0
        assert np.all((W > 0).sum(axis=1) >= 6) and W.diagonal().sum() == 0
    with pytest.raises(ValueError, match="n_neighbors"):
        knn_graph(X, 80)


def test_normalized_laplacian_spectrum_and_kernel():
    W, _ = sbm(200, 2, 8, 0.1, random_state=2)
    deg = np.asarray(W.sum(axis=1)).ravel()
    L = laplacian(W)
    lam = np.linalg.eigvalsh(L.toarray())
    assert lam.min() > -1e-10 and lam.max() < 2 + 1e-10
    np.testing.assert_allclose(L @ np.sqrt(deg), 0, atol=1e-10)
    Lc = laplacian(W, kind="combinatorial")
    np.testing.assert_allclose(np.asarray(Lc.sum(axis=1)).ravel(), 0, atol=1e-12)


def test_laplacian_guards_isolated_nodes():
    W = sp.csr_matrix(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]))
    L = laplacian(W).toarray()
    assert np.all(np.isfinite(L)) and np.all(L[2] == 0)


BAD = {
    "square": np.ones((3, 4)),
    "symmetric": np.array([[0, 1.0, 0], [2.0, 0, 1], [0, 1, 0]]),
    "negative": np.array([[0, -1.0, 1], [-1.0, 0, 1], [1, 1, 0]]),
    "NaN": np.array([[0, np.nan, 1], [np.nan, 0, 1], [1, 1, 0]]),
    "isolated": np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]),
}


@pytest.mark.parametrize("what", sorted(BAD))
@pytest.mark.parametrize("sparse", [False, True])
def test_check_adjacency_bad_input(what, sparse):
    W = sp.csr_matrix(BAD[what]) if sparse else BAD[what]
    with pytest.raises(ValueError, match=what):
        check_adjacency(W)


def test_sbm_scales_to_many_nodes():
    W, y = sbm(200_000, 50, 10, 0.05, random_state=0)  # vectorised: well under a second
    assert W.shape == (200_000, 200_000) and abs(W.nnz / 200_000 - 10) < 0.2
