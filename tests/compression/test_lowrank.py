"""Robust lp low-rank approximation: guarantees, exact references, layers, bad input."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg as sl
import torch
from parsimony.compression import pack, set_module, size_report, unpack
from parsimony.compression.experiments.lowrank import planted_subspace, rank_for_compression
from parsimony.compression.lowrank import (
    SUBSPACE_SOLVERS,
    LowRankLayer,
    LpLowRank,
    break_even_rank,
    ellipsoid_rounding,
    factorize_embedding,
    factorize_linear,
    lewis_rounding,
    low_rank_model,
    lp_cost,
    lp_low_rank,
)

ALL = sorted(SUBSPACE_SOLVERS)
ROBUST = ["ellipsoid", "lewis", "irls"]


def _angle(V, W):
    return float(np.degrees(sl.subspace_angles(V, W).max()))


@pytest.fixture(scope="module")
def outliers():
    return planted_subspace(400, 8, 2, outlier_fraction=0.1, random_state=3)[:2]


# ---------------------------------------------------------------------------- p = 2 is SVD
@pytest.mark.parametrize("method", ALL)
def test_p2_equals_truncated_svd(method):
    A = np.random.default_rng(0).standard_normal((60, 7)) @ np.diag(np.arange(7, 0, -1.0))
    B, Vt = lp_low_rank(A, 3, p=2.0, method=method)
    U, s, Wt = np.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(B @ Vt, (U[:, :3] * s[:3]) @ Wt[:3], atol=1e-10)
    assert _angle(Vt.T, Wt[:3].T) < 1e-6


def test_lewis_rounding_at_p2_is_exact():
    A = np.random.default_rng(1).standard_normal((40, 5))
    E = lewis_rounding(A, p=2.0)
    x = np.random.default_rng(2).standard_normal((5, 50))
    np.testing.assert_allclose(np.linalg.norm(E.G_out @ x, axis=0), np.linalg.norm(A @ x, axis=0))
    assert E.rounding == pytest.approx(1.0)


def test_p_near_2_approaches_svd(outliers):
    A, _ = outliers
    Vs = LpLowRank(2, p=2.0).fit(A).components_.T
    for method in ROBUST:
        V = LpLowRank(2, p=1.999, method=method).fit(A).components_.T
        assert _angle(V, Vs) < 2.0, method


# ------------------------------------------------------------ rounding guarantees, exactly
def _l1_vertex_ratios(A, G_out):
    """||G_out v|| / ||A v||_1 at every vertex of L = {||Ax||_1 <= 1} (d = 3: the rays
    a_i x a_j of the hyperplane arrangement): L is in E iff all are <= 1."""
    V = np.array([np.cross(A[i], A[j]) for i, j in itertools.combinations(range(len(A)), 2)])
    return np.linalg.norm(V @ G_out.T, axis=1) / np.abs(V @ A.T).sum(axis=1)


def _l1_max_over_ellipsoid(A, G_out):
    """max of ||Ax||_1 over E = {||G_out x|| <= 1}: max over sign vectors s of
    ||G_out^{-T} A^T s|| (exact: ||Ax||_1 = max_s s^T A x)."""
    S = np.array(list(itertools.product([-1.0, 1.0], repeat=len(A))))
    Y = np.linalg.solve(G_out.T, A.T @ S.T)
    return np.linalg.norm(Y, axis=0).max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lewis_ellipsoid_sandwich_exact_small(seed):
    """L in E and E/sqrt(d) in L, checked at every vertex / sign pattern (d = 3, n = 9)."""
    A = np.random.default_rng(seed).standard_normal((9, 3)) * [1.0, 3.0, 0.2]
    E = lewis_rounding(A, p=1.0, tol=1e-12)
    assert E.contains and E.converged
    assert E.rounding <= np.sqrt(3) * (1 + 1e-8)
    assert _l1_vertex_ratios(A, E.G_out).max() <= 1 + 1e-9
    assert _l1_max_over_ellipsoid(A, E.G_out) <= E.rounding * (1 + 1e-9)


@pytest.mark.parametrize("p", [1.0, 1.3, 1.7])
def test_lewis_sandwich_sampled(p):
    rng = np.random.default_rng(4)
    A = rng.standard_normal((200, 6)) * rng.uniform(0.1, 3, 6)
    A[:5] *= 30  # a few far-away rows
    E = lewis_rounding(A, p=p)
    assert E.rounding <= 6 ** (1 / p - 0.5) * (1 + 1e-6)
    x = rng.standard_normal((6, 2000))
    r = (np.abs(A @ x) ** p).sum(0) ** (1 / p) / np.linalg.norm(E.G_out @ x, axis=0)
    assert r.min() >= 1 - 1e-9 and r.max() <= E.rounding * (1 + 1e-9)


@pytest.mark.parametrize("batch_cuts", [True, False])
def test_ellipsoid_method_inner_guarantee_exact_small(batch_cuts):
    """When the stopping test passed, E / sqrt(d(d+1)) lies in L (all sign patterns)."""
    A = np.random.default_rng(5).standard_normal((9, 3)) * [1.0, 3.0, 0.2]
    E = ellipsoid_rounding(A, p=1.0, batch_cuts=batch_cuts)
    assert E.converged and E.rounding == pytest.approx(np.sqrt(12))
    assert _l1_max_over_ellipsoid(A, E.G_out) <= E.rounding * (1 + 1e-9)
    # the outer half is not guaranteed (shallow cuts, rescale); it is close in practice
    assert _l1_vertex_ratios(A, E.G_out).max() < 2.0
    # the final centre (moved to 0 by symmetry) was inside the half-shortest semi-axis
    assert E.info["center_norm"] < 0.5 / np.linalg.norm(E.G_out, 2)


def test_ellipsoid_method_sandwich_sampled_p15():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((150, 5))
    E = ellipsoid_rounding(A, p=1.5)
    x = rng.standard_normal((5, 2000))
    r = (np.abs(A @ x) ** 1.5).sum(0) ** (1 / 1.5) / np.linalg.norm(E.G_out @ x, axis=0)
    assert E.converged and r.max() <= E.rounding


def test_ellipsoid_callback_and_caps():
    A = np.random.default_rng(7).standard_normal((100, 4))
    seen = []
    E = ellipsoid_rounding(A, max_iter=3, callback=seen.append)
    assert E.n_iter <= 3 and len(seen) == E.n_iter
    assert [s["iteration"] for s in seen] == list(range(1, E.n_iter + 1))
    assert {"objective", "n_cuts"} <= set(seen[0])
    if not E.converged:
        assert E.rounding == np.inf


# ------------------------------------------------------------------ exact l1 references
def test_irls_matches_brute_force_l1_plane():
    """The l1-optimal plane in R^3 passes through two data points (the cost is concave on
    each cell of the arrangement): brute force over all pairs is exact."""
    A, _, _ = planted_subspace(40, 3, 2, outlier_fraction=0.15, noise=0.05, random_state=8)
    N = np.array([np.cross(A[i], A[j]) for i, j in itertools.combinations(range(len(A)), 2)])
    N /= np.linalg.norm(N, axis=1, keepdims=True)
    best = np.abs(N @ A.T).sum(axis=1).min()
    est = LpLowRank(
        2, p=1.0, method="irls", method_params={"eps": 1e-9, "tol": 1e-12}, max_iter=500
    ).fit(A)
    assert best <= est.cost_ <= best * (1 + 1e-3)
    svd_cost = LpLowRank(2, p=1.0, method="svd").fit(A).cost_
    for method in ["ellipsoid", "lewis"]:
        cost = LpLowRank(2, p=1.0, method=method).fit(A).cost_
        assert best <= cost < svd_cost, method


def test_lp_cost_matches_definition():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((30, 5))
    V = np.linalg.qr(rng.standard_normal((5, 2)))[0]
    P = np.eye(5) - V @ V.T
    expected = np.sum(np.linalg.norm(A @ P, axis=1) ** 1.4)
    assert lp_cost(A, V.T, p=1.4) == pytest.approx(expected)


# -------------------------------------------------------------------- robustness claims
@pytest.mark.parametrize("method", ROBUST)
def test_l1_beats_svd_on_outliers(outliers, method):
    A, basis = outliers
    svd = LpLowRank(2, p=1.0, method="svd").fit(A)
    est = LpLowRank(2, p=1.0, method=method).fit(A)
    assert est.cost_ < svd.cost_
    assert _angle(est.components_.T, basis) < _angle(svd.components_.T, basis)
    assert _angle(est.components_.T, basis) < 15.0


@pytest.mark.parametrize("method", ALL)
def test_no_outliers_all_agree(method):
    A, basis, _ = planted_subspace(300, 6, 2, random_state=10)
    assert _angle(LpLowRank(2, p=1.0, method=method).fit(A).components_.T, basis) < 5.0


def test_irls_objective_non_increasing(outliers):
    A, _ = outliers
    seen = []
    est = LpLowRank(2, p=1.0, method="irls", callback=seen.append).fit(A)
    obj = np.array(est.objective_)
    assert len(obj) >= 2 and np.all(np.diff(obj) <= 1e-9 * obj[1:])
    assert [s["objective"] for s in seen] == est.objective_[1:]


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("p", [1.0, 1.5])
def test_basis_orthonormal_and_transform(outliers, method, p):
    A, _ = outliers
    est = LpLowRank(3, p=p, method=method).fit(A)
    C = est.components_
    np.testing.assert_allclose(C @ C.T, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(est.inverse_transform(est.transform(A)), A @ C.T @ C)
    assert est.cost_ == pytest.approx(lp_cost(A, C, p))


@pytest.mark.parametrize("method", ALL)
def test_deterministic(outliers, method):
    A, _ = outliers
    a = lp_low_rank(A, 2, p=1.0, method=method)
    b = lp_low_rank(A.copy(), 2, p=1.0, method=method)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_rank_deficient_matrix():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((50, 2)) @ rng.standard_normal((2, 6))  # rank 2
    for method in ROBUST:
        est = LpLowRank(2, p=1.0, method=method).fit(A)
        assert est.cost_ < 1e-8 * np.abs(A).sum()
    A3 = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 6))  # rank 3 > k
    est = LpLowRank(2, p=1.0, method="lewis").fit(A3)
    assert est.components_.shape == (2, 6)
    with pytest.raises(ValueError, match="full column rank"):
        lewis_rounding(A3)
    with pytest.raises(ValueError, match="full column rank"):
        ellipsoid_rounding(A3)


# ------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("method", ["svd", "lewis"])
def test_factorized_linear_equals_product_of_factors(method):
    torch.manual_seed(0)
    lin = torch.nn.Linear(12, 9)
    thin = factorize_linear(lin, 3, p=1.0, method=method)
    first, second = thin
    assert first.bias is None and tuple(first.weight.shape) == (3, 12)
    x = torch.randn(5, 12)
    W = lin.weight.detach().double().numpy()
    Vt = first.weight.detach().double().numpy()
    B = second.weight.detach().double().numpy()
    np.testing.assert_allclose(B, W @ Vt.T, atol=1e-6)  # B = A V
    with torch.no_grad():
        y = thin(x).double().numpy()
    expected = x.double().numpy() @ (W @ Vt.T @ Vt).T + lin.bias.detach().double().numpy()
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_factorized_embedding_equals_product_of_factors():
    torch.manual_seed(1)
    emb = torch.nn.Embedding(40, 10, padding_idx=0)
    thin = factorize_embedding(emb, 4, p=1.0, method="lewis")
    table, up = thin
    assert table.padding_idx == 0 and tuple(table.weight.shape) == (40, 4)
    ids = torch.tensor([[0, 3, 39], [5, 5, 1]])
    A = emb.weight.detach().double().numpy()
    V = up.weight.detach().double().numpy()  # (d, k)
    with torch.no_grad():
        out = thin(ids).double().numpy()
    np.testing.assert_allclose(out, (A @ V @ V.T)[ids.numpy()], atol=1e-5)
    np.testing.assert_allclose(out[0, 0], 0.0, atol=1e-7)  # the padding row stays zero


def test_pack_counts_factors_and_unpack_is_exact():
    from parsimony.nn import build_model

    model = build_model("mlp", in_features=64, n_classes=10, hidden=[256], random_state=0)
    before = size_report(model)
    set_module(model, "layers.0", factorize_linear(model.layers[0], 8, p=1.0, method="lewis"))
    report = size_report(model)
    assert report.n_params == before.n_params  # counted against the uncompressed layer
    mod = report.by_module()["layers.0"]
    assert mod == {"factor": 4 * (64 + 256) * 8, "float": 4 * 256}
    assert report.total_bytes == len(pack(model)) < before.total_bytes
    x = torch.randn(7, 64)
    back = unpack(pack(model))
    assert isinstance(back.layers[0], LowRankLayer)
    assert torch.equal(back(x), model.eval()(x))


def test_embedding_layer_round_trip_in_skeleton():
    emb = torch.nn.Embedding(50, 12, padding_idx=1)
    holder = torch.nn.Sequential(emb)
    set_module(holder, "0", factorize_embedding(emb, 3, p=1.0, method="irls"))
    back = unpack(
        pack(holder), model=torch.nn.Sequential(torch.nn.Embedding(50, 12, padding_idx=1))
    )
    ids = torch.tensor([[1, 4, 49]])
    assert torch.equal(back(ids), holder(ids))
    assert back[0].rank == 3 and back[0].dense_numel() == 600


def test_break_even_rank_and_compression_rank():
    assert break_even_rank(256, 64) == pytest.approx(256 * 64 / 320)
    k = rank_for_compression(30522, 384, 0.5)
    assert (30522 + 384) * k <= 0.5 * 30522 * 384 < (30522 + 384) * (k + 1)
    with pytest.warns(UserWarning, match="break-even"):
        factorize_linear(torch.nn.Linear(16, 8), 6, p=2.0)  # k* = 5.33
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        factorize_linear(torch.nn.Linear(16, 8), 5, p=2.0)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("rank", [5, 6, 100])
def test_rank_too_large(rank):
    A = np.ones((20, 5))
    with pytest.raises(ValueError, match="rank"):
        lp_low_rank(A, rank)


def test_bad_inputs():
    A = np.random.default_rng(12).standard_normal((20, 5))
    with pytest.raises(ValueError, match="rank"):
        lp_low_rank(A, 0)
    with pytest.raises(TypeError, match="rank"):
        lp_low_rank(A, 2.0)
    for p in [0.5, 2.5, float("nan")]:
        with pytest.raises(ValueError, match="p"):
            lp_low_rank(A, 2, p=p)
    bad = A.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="A contains NaN"):
        lp_low_rank(bad, 2)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="A contains NaN or infinite"):
        lp_low_rank(bad, 2)
    with pytest.raises(ValueError, match="A must be 2-dimensional"):
        lp_low_rank(np.ones(5), 1)
    with pytest.raises(ValueError, match="method"):
        lp_low_rank(A, 2, method="nuclear")
    with pytest.raises(TypeError, match="max_rounds"):
        lp_low_rank(A, 2, method="lewis", max_rounds=3)
    with pytest.raises(TypeError, match="layer"):
        factorize_linear(torch.nn.Conv1d(2, 2, 1), 1)
    with pytest.raises(TypeError, match="embedding"):
        factorize_embedding(torch.nn.Linear(4, 4), 1)
    with pytest.raises(ValueError, match="rank"):
        factorize_embedding(torch.nn.Embedding(10, 4), 4)
    with pytest.raises(ValueError, match="components"):
        lp_cost(A, np.ones((1, 4)))


def test_factorize_with_given_components():
    torch.manual_seed(2)
    lin = torch.nn.Linear(10, 7)
    W = lin.weight.detach().double().numpy()
    C = LpLowRank(4, p=1.0, method="lewis").fit(W).components_
    thin = factorize_linear(lin, 3, components=C)
    np.testing.assert_allclose(thin[0].weight.detach().numpy(), C[:3], atol=1e-6)
    with pytest.raises(ValueError, match="orthonormal"):
        factorize_linear(lin, 2, components=2 * C)
    with pytest.raises(ValueError, match="components"):
        factorize_linear(lin, 2, components=C[:, :5])


def test_low_rank_model_copies_and_replaces():
    from parsimony.nn import build_model

    net = build_model("mlp", in_features=12, n_classes=3, hidden=[20], random_state=1)
    small = low_rank_model(net, "layers.0", 4, p=1.0, method="irls")
    assert isinstance(small.layers[0], LowRankLayer) and isinstance(net.layers[0], torch.nn.Linear)
    x = torch.randn(5, 12)
    W = net.layers[0].weight.detach()
    expected = net.layers[2](torch.relu(x @ small.layers[0].weight.T + net.layers[0].bias))
    torch.testing.assert_close(small(x), expected)
    assert torch.allclose(small.layers[0].weight, W, atol=2.0)  # a rank-4 approximation
    with pytest.raises(ValueError, match="no module"):
        low_rank_model(net, "layers.9", 2)
    with pytest.raises(TypeError, match="Linear or an Embedding"):
        low_rank_model(net, "layers.1", 2)


def test_low_rank_layer_rejects_bad_shapes():
    spec = {"type": "linear", "in_features": 5, "out_features": 4}
    with pytest.raises(ValueError, match="weight shape"):
        LowRankLayer(spec, np.zeros((4, 2)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="linear or embedding"):
        LowRankLayer(
            {
                "type": "conv1d",
                "out_channels": 4,
                "in_channels": 5,
                "groups": 1,
                "kernel_size": [1],
            },
            np.zeros((4, 2)),
            np.zeros((2, 5)),
        )


def test_subspace_solvers_registry_holds_public_functions():
    import parsimony.compression.lowrank as lowrank

    for name, fn in SUBSPACE_SOLVERS.items():
        assert callable(fn) and not fn.__name__.startswith("_"), name
        assert getattr(lowrank, fn.__name__) is fn and fn.__name__ in lowrank.__all__


@pytest.mark.parametrize("name", sorted(SUBSPACE_SOLVERS))
def test_solvers_validate_their_input(name):
    fn = SUBSPACE_SOLVERS[name]
    A = np.random.default_rng(14).standard_normal((30, 4))
    with pytest.raises(ValueError, match="k must be"):
        fn(A, 4)
    with pytest.raises(TypeError, match="A must be real"):
        fn(A + 1j, 2)
    with pytest.raises(ValueError, match="p"):
        fn(A, 2, 0.5)
    V, info = fn(A, 2)
    np.testing.assert_allclose(V.T @ V, np.eye(2), atol=1e-10)
    assert info["converged"] in (True, False) and info["n_iter"] >= 1
