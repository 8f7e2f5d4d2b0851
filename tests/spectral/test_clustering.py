"""Spectral clustering and CSC: agreement, determinism, the block CG, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from parsimony.spectral import (
    METHODS,
    CompressiveSpectralClustering,
    SpectralClustering,
    block_cg,
    choose_assign_labels,
    csc_defaults,
    epsilon_critical,
    sbm,
    subspace_decode,
)
from sklearn.metrics import adjusted_rand_score

INTERP = "interpolate"  # the paper's steps 5-6 (the default "auto" skips them on these graphs)


@pytest.fixture(scope="module")
def easy():
    k = 5
    return (*sbm(1000, k, 16, epsilon_critical(16, k) / 8, random_state=0), k)


def test_registry():
    assert METHODS == {"sc": SpectralClustering, "csc": CompressiveSpectralClustering}


def test_sc_recovers_planted_partition_and_eigenvalues(easy):
    W, y, k = easy
    sc = SpectralClustering(k, random_state=0).fit(W)
    assert adjusted_rand_score(y, sc.labels_) > 0.98
    from parsimony.spectral import laplacian

    lam = np.linalg.eigvalsh(laplacian(W).toarray())[:k]
    np.testing.assert_allclose(sc.eigenvalues_, lam, atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(sc.embedding_, axis=1), 1.0)


@pytest.mark.parametrize("sampling", ["uniform", "variable_density"])
def test_csc_agrees_with_sc_up_to_permutation(easy, sampling):
    W, y, k = easy
    sc = SpectralClustering(k, random_state=0).fit_predict(W)
    csc = CompressiveSpectralClustering(
        k,
        assign_labels=INTERP,
        n_samples=round(4 * k * np.log(k)),
        sampling=sampling,
        random_state=0,
    )
    labels = csc.fit_predict(W)
    assert adjusted_rand_score(sc, labels) > 0.97
    assert set(csc.timings_) == {
        "graph", "lambda_k", "features", "sampling", "kmeans", "interpolation", "total"
    }  # fmt: skip
    assert csc.sample_.size == np.unique(csc.sample_).size == round(4 * k * np.log(k))
    assert 0 < csc.lambda_k_ < 2 and csc.n_iter_ >= 1


def test_csc_labels_agree_with_kmeans_on_the_sample(easy):
    W, _, k = easy
    csc = CompressiveSpectralClustering(k, assign_labels=INTERP, random_state=3).fit(W)
    assert adjusted_rand_score(csc.sample_labels_, csc.labels_[csc.sample_]) > 0.95


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
def test_determinism(easy, cls):
    W, _, k = easy
    a = cls(k, random_state=7).fit_predict(W)
    b = cls(k, random_state=7).fit_predict(W)
    assert np.array_equal(a, b)


def test_csc_defaults():
    n, d = csc_defaults(100)
    assert n == round(200 * np.log(100)) and d == round(4 * np.log(n))


def test_block_cg_matches_dense_solve():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((40, 40))
    A = G @ G.T + 0.1 * np.eye(40)
    B = rng.standard_normal((40, 5))
    d = np.diag(A)[:, None]
    X, it = block_cg(lambda V: A @ V, B, precond=lambda V: V / d, tol=1e-10, max_iter=500)
    np.testing.assert_allclose(X, np.linalg.solve(A, B), atol=1e-6)
    assert it <= 500


BAD = {
    "square": sp.csr_matrix(np.ones((3, 4))),
    "symmetric": sp.csr_matrix(np.array([[0, 1.0, 0], [2.0, 0, 1], [0, 1, 0]])),
    "negative": sp.csr_matrix(np.array([[0, -1.0, 1], [-1.0, 0, 1], [1, 1, 0]])),
    "NaN": sp.csr_matrix(np.array([[0, np.nan, 1], [np.nan, 0, 1], [1, 1, 0]])),
}


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
@pytest.mark.parametrize("what", sorted(BAD))
def test_bad_graph(cls, what):
    with pytest.raises(ValueError, match=what):
        cls(2).fit(BAD[what])
    with pytest.raises(ValueError, match=what):
        cls(2).fit(BAD[what].toarray())


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
def test_bad_graph_type(cls):
    W = np.ones((4, 4)) + 1j
    with pytest.raises(ValueError, match="[Cc]omplex"):
        cls(2).fit(W)
    with pytest.raises(ValueError, match="1 sample"):
        cls(1).fit(np.ones((1, 1)))


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
def test_isolated_nodes_are_accepted(easy, cls):
    W, y, k = easy
    W = sp.block_diag([W, sp.csr_matrix((3, 3))]).tocsr()  # three isolated nodes at the end
    est = cls(k, random_state=0).fit(W)
    assert est.labels_.shape == (W.shape[0],) and est.n_features_in_ == W.shape[0]
    assert adjusted_rand_score(y, est.labels_[:-3]) > 0.9


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
def test_dense_and_sparse_input_agree(easy, cls):
    W, _, k = easy
    a = cls(k, random_state=2).fit_predict(W)
    b = cls(k, random_state=2).fit_predict(W.toarray().astype(np.float32))
    assert adjusted_rand_score(a, b) > 0.99


def test_sklearn_contract_basics(easy):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    W, _, k = easy
    est = CompressiveSpectralClustering(k, assign_labels=INTERP, n_samples=30, random_state=0)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert clone(est).get_params() == est.get_params()
    assert est.__sklearn_tags__().input_tags.pairwise
    assert est.fit(W) is est


def test_csc_callback_protocol(easy):
    W, _, k = easy
    seen = []
    est = CompressiveSpectralClustering(
        k, assign_labels=INTERP, random_state=0, callback=seen.append
    ).fit(W)
    assert [s["iteration"] for s in seen] == list(range(1, est.n_iter_ + 1))
    assert all({"iteration", "residual"} <= set(s) for s in seen)
    assert seen[-1]["residual"] < seen[0]["residual"]
    with pytest.raises(TypeError, match="callback"):
        CompressiveSpectralClustering(k, assign_labels=INTERP, callback=3).fit(W)


@pytest.mark.parametrize("cls", [SpectralClustering, CompressiveSpectralClustering])
@pytest.mark.parametrize("k", [0, 40])
def test_bad_n_clusters(easy, cls, k):
    W = easy[0][:40, :40] + sp.identity(40)  # 40 nodes, self-loops: no isolated node
    with pytest.raises(ValueError, match="n_clusters"):
        cls(k).fit(W)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 2}, "n_samples"),
        ({"sampling": "random"}, "sampling"),
        ({"gamma": 0.0}, "gamma"),
        ({"poly_order": 0}, "poly_order"),
    ],
)
def test_csc_bad_hyperparameters(easy, kwargs, match):
    W, _, k = easy
    with pytest.raises(ValueError, match=match):
        CompressiveSpectralClustering(k, assign_labels=INTERP, **kwargs).fit(W)


def test_backends_agree(easy):
    W, _, k = easy
    a = CompressiveSpectralClustering(k, assign_labels=INTERP, backend="torch", random_state=1).fit(
        W
    )
    b = CompressiveSpectralClustering(k, assign_labels=INTERP, backend="scipy", random_state=1).fit(
        W
    )
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.99
    np.testing.assert_allclose(a.features_, b.features_, atol=1e-4)


def test_block_cg_callback_sees_decreasing_residuals():
    A = np.diag(np.linspace(1.0, 10.0, 30))
    seen = []
    block_cg(
        lambda V: A @ V, np.ones((30, 2)), tol=1e-8, callback=lambda s: seen.append(s["residual"])
    )
    assert len(seen) >= 2 and seen[-1] <= 1e-8 and seen[-1] < seen[0]


@pytest.mark.parametrize("interp_order", [20, 30])
def test_csc_lower_interp_order_agrees_with_sc(easy, interp_order):
    W, _, k = easy
    sc = SpectralClustering(k, random_state=0).fit_predict(W)
    csc = CompressiveSpectralClustering(
        k,
        assign_labels=INTERP,
        n_samples=round(4 * k * np.log(k)),
        interp_order=interp_order,
        random_state=0,
    )
    assert adjusted_rand_score(sc, csc.fit_predict(W)) > 0.97


def test_csc_interp_order_none_is_poly_order(easy):
    W, _, k = easy
    a = CompressiveSpectralClustering(k, assign_labels=INTERP, poly_order=30, random_state=1).fit(W)
    b = CompressiveSpectralClustering(
        k, assign_labels=INTERP, poly_order=30, interp_order=30, random_state=1
    ).fit(W)
    c = CompressiveSpectralClustering(
        k, assign_labels=INTERP, poly_order=30, interp_order=5, random_state=1
    ).fit(W)
    assert np.array_equal(a.labels_, b.labels_) and a.n_iter_ == b.n_iter_
    assert c.n_iter_ != a.n_iter_ or not np.array_equal(a.labels_, c.labels_)


def test_csc_laplacian_regularizer(easy):
    W, _, k = easy
    sc = SpectralClustering(k, random_state=0).fit_predict(W)
    csc = CompressiveSpectralClustering(
        k,
        assign_labels=INTERP,
        n_samples=round(4 * k * np.log(k)),
        regularizer="laplacian",
        random_state=0,
    ).fit(W)
    # measured 0.963 (13 CG iterations): g(L) = L separates the band less sharply
    assert adjusted_rand_score(sc, csc.labels_) > 0.9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interp_order": 0}, "interp_order"),
        ({"interp_order": 2.5}, "interp_order"),
        ({"regularizer": "l2"}, "regularizer"),
    ],
)
def test_csc_bad_interpolation_options(easy, kwargs, match):
    W, _, k = easy
    with pytest.raises((ValueError, TypeError), match=match):
        CompressiveSpectralClustering(k, assign_labels=INTERP, **kwargs).fit(W)


def test_csc_subspace_decoder_agrees_with_sc_and_cg(easy):
    W, y, k = easy
    n = round(4 * k * np.log(k))
    sc = SpectralClustering(k, random_state=0).fit_predict(W)
    cg = CompressiveSpectralClustering(k, assign_labels=INTERP, n_samples=n, random_state=0).fit(W)
    sub = CompressiveSpectralClustering(
        k, assign_labels=INTERP, n_samples=n, decoder="subspace", random_state=0
    ).fit(W)
    assert adjusted_rand_score(sc, sub.labels_) > 0.97
    assert adjusted_rand_score(cg.labels_, sub.labels_) > 0.97
    assert sub.n_iter_ == 0 and np.array_equal(sub.sample_labels_, cg.sample_labels_)
    again = CompressiveSpectralClustering(
        k, assign_labels=INTERP, n_samples=n, decoder="subspace", random_state=0
    )
    assert np.array_equal(again.fit_predict(W), sub.labels_)
    with pytest.raises(ValueError, match="decoder"):
        CompressiveSpectralClustering(k, assign_labels=INTERP, decoder="gmres").fit(W)


def test_subspace_decode_recovers_band_limited_indicators():
    from parsimony.spectral import jackson_chebyshev_coefficients, normalized_adjacency

    W, y = sbm(400, 4, 20, 0.0, random_state=1)  # 4 disconnected blocks: lambda_1..4 = 0
    c = jackson_chebyshev_coefficients((0.0, 0.3), 40)
    sample = np.arange(0, 400, 8)
    C = subspace_decode(-normalized_adjacency(W), c, sample, y[sample], 4, random_state=0)
    # the band is spanned by D^1/2 1_block: the least-squares fit is close to the indicators
    assert np.array_equal(C.argmax(1), y)
    assert np.abs(C[sample] - np.eye(4)[y[sample]]).mean() < 0.05
    with pytest.raises(ValueError, match="same length"):
        subspace_decode(-normalized_adjacency(W), c, sample, y[:3], 4)


@pytest.mark.parametrize("sampling", ["uniform", "variable_density"])
def test_csc_kmeans_on_all_nodes_agrees_with_sc(easy, sampling):
    W, _, k = easy
    sc = SpectralClustering(k, random_state=0).fit_predict(W)
    csc = CompressiveSpectralClustering(k, sampling=sampling, random_state=0).fit(W)
    assert csc.assign_labels_ == "kmeans" and 1 <= csc.n_iter_ <= csc.max_iter
    assert adjusted_rand_score(sc, csc.labels_) > 0.97
    forced = CompressiveSpectralClustering(k, sampling=sampling, assign_labels="kmeans")
    assert np.array_equal(forced.set_params(random_state=0).fit_predict(W), csc.labels_)


def test_kmeans_labels_are_a_lloyd_fixed_point(easy):
    W, _, k = easy
    csc = CompressiveSpectralClustering(k, assign_labels="kmeans", random_state=2).fit(W)
    F = csc.features_.astype(np.float64)
    centers = np.array([F[csc.labels_ == j].mean(0) for j in range(k)])
    nearest = ((F[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    assert adjusted_rand_score(nearest, csc.labels_) > 0.999


def test_choose_assign_labels_follows_the_cost_model():
    from parsimony.spectral.clustering import CG_ITERATIONS, LLOYD_ITERATIONS

    N, k, d, p = 10_000, 50, 24, 50
    # Lloyd: 30 N k d; interpolation: 10 k (2 E + N) p. Tie at 2 E + N = 3 N d / p.
    tie = (LLOYD_ITERATIONS * N * d) // (CG_ITERATIONS * p)
    assert choose_assign_labels(N, k, (tie - N) // 2 + 1, d, p) == "kmeans"
    assert choose_assign_labels(N, k, (tie - N) // 2 - 1, d, p) == "interpolate"
    with pytest.raises(ValueError, match="n_edges"):
        choose_assign_labels(N, k, -1, d, p)
    W = sbm(300, 3, 16, 0.0, random_state=0)[0]
    low = CompressiveSpectralClustering(3, poly_order=5, regularizer="laplacian", random_state=0)
    assert low.fit(W).assign_labels_ == "interpolate"  # p = 1 sparse product per CG iteration


def test_bad_assign_labels(easy):
    W, _, k = easy
    with pytest.raises(ValueError, match="assign_labels"):
        CompressiveSpectralClustering(k, assign_labels="discretize").fit(W)
