"""Blind pipeline: clustering init, permutation alignment, the separator estimator."""

import numpy as np
import pytest
from parsimony.separation import SpatialCovarianceSeparator
from parsimony.separation.init import cluster_init, normalized_directions
from parsimony.separation.oracle import oracle_parameters
from parsimony.separation.permutation import (
    align_permutations,
    apply_permutations,
    power_ratio_features,
)


def _planted(F=40, N=200, seed=0):
    """Sources with smooth activations shared across bins (as speech envelopes are)."""
    rng = np.random.default_rng(seed)
    env = np.abs(np.cumsum(rng.standard_normal((3, N)), axis=1)) + 0.1
    v = env[:, None, :] * rng.uniform(0.5, 2.0, (3, F, 1))
    H = rng.standard_normal((F, 2, 3)) + 1j * rng.standard_normal((F, 2, 3))
    z = rng.standard_normal((3, F, N)) + 1j * rng.standard_normal((3, F, N))
    C = np.einsum("faj,jfn->jfna", H, np.sqrt(v / 2) * z)
    return C, v


def test_permutation_solver_undoes_a_planted_permutation():
    C, _ = _planted()
    v, R = oracle_parameters(C, "full_rank")
    rng = np.random.default_rng(1)
    planted = np.array([rng.permutation(3) for _ in range(v.shape[1])])
    v_p, R_p = apply_permutations(planted, v, R)
    perm = align_permutations(power_ratio_features(v_p))
    v_a, R_a = apply_permutations(perm, v_p, R_p)
    # equal to the truth up to one global permutation
    glob = [
        int(np.argmax([np.corrcoef(v_a[k].ravel(), v[j].ravel())[0, 1] for j in range(3)]))
        for k in range(3)
    ]
    assert sorted(glob) == [0, 1, 2]
    np.testing.assert_allclose(v_a, v[glob])
    np.testing.assert_allclose(R_a, R[glob])


def test_apply_permutations_and_bad_features():
    a = np.arange(6.0).reshape(3, 2)  # (J, F)
    perm = np.array([[0, 1, 2], [2, 0, 1]])
    (out,) = apply_permutations(perm, a)
    np.testing.assert_array_equal(out[:, 1], a[[2, 0, 1], 1])
    with pytest.raises(ValueError, match="features"):
        align_permutations(np.zeros((3, 4)))


def test_cluster_init_shapes_and_directions():
    C, _ = _planted(F=4, N=60)
    X = C.sum(0)
    Z = normalized_directions(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=-1), 1.0)
    assert np.allclose(Z[..., 0].imag, 0.0)
    v, R = cluster_init(X, 3)
    assert v.shape == (3, 4, 60) and R.shape == (3, 4, 2, 2)
    assert np.all(np.linalg.eigvalsh(R) > 0)


@pytest.mark.parametrize("model", ["full_rank", "rank1"])
def test_separator_nll_non_increasing_and_deterministic(model):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 2)) * np.linspace(0.1, 1.0, 3000)[:, None]
    states = []
    sep = SpatialCovarianceSeparator(
        3, model=model, max_iter=8, n_fft=128, hop=64, callback=states.append
    )
    y = sep.fit(x).transform(x)
    assert y.shape == (3000, 3) and sep.n_iter_ == 8 and len(states) == 8
    obj = np.array(sep.objective_)
    assert np.all(np.diff(obj) <= 1e-6 * np.abs(obj[:-1]))
    y2 = SpatialCovarianceSeparator(3, model=model, max_iter=8, n_fft=128, hop=64).fit_transform(x)
    np.testing.assert_array_equal(y, y2)
    if model == "full_rank":
        np.testing.assert_allclose(sep.transform_images(x).sum(0), x, atol=1e-8)


def test_separator_three_mics():
    x = np.random.default_rng(0).standard_normal((2000, 3))
    images = SpatialCovarianceSeparator(4, max_iter=3, n_fft=128, hop=64).fit(x).transform_images(x)
    assert images.shape == (4, 2000, 3)


@pytest.mark.parametrize(
    ("kwargs", "x", "match"),
    [
        ({"n_components": 0}, np.zeros((500, 2)), "n_components"),
        ({"model": "nope"}, np.zeros((500, 2)), "model"),
        ({"max_iter": -1}, np.zeros((500, 2)), "max_iter"),
        ({}, np.zeros((500, 1)), "feature"),
        ({}, np.full((500, 2), np.nan), "NaN"),
    ],
)
def test_separator_bad_input(kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        SpatialCovarianceSeparator(**kwargs).fit(x)
