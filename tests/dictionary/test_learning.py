import numpy as np
import pytest
from parsimony.dictionary import (
    L1DictionaryLearning,
    bernoulli_gaussian,
    dictionary_recovery,
    l1_criterion,
    random_basis,
)
from sklearn.decomposition import DictionaryLearning


@pytest.mark.parametrize("orthonormal", [True, False])
def test_recovers_planted_basis(orthonormal):
    K = 8
    D = random_basis(K, orthonormal=orthonormal, random_state=1)
    X = bernoulli_gaussian(200, K, 0.2, random_state=2) @ D
    seen = []
    est = L1DictionaryLearning(K, random_state=0, callback=seen.append).fit(X)
    assert est.components_.shape == (K, K)
    assert dictionary_recovery(D, est.components_) == 1.0
    # the criterion at the estimate equals the planted basis's (same atoms up to sign)
    assert np.isclose(l1_criterion(X, est.components_), l1_criterion(X, D), rtol=1e-6)
    assert [s["iteration"] for s in seen] == list(range(1, est.n_iter_ + 1))
    assert [s["objective"] for s in seen] == est.objective_[1:]
    codes = est.transform(X)
    assert np.allclose(codes @ est.components_, X)
    assert np.allclose(est.inverse_transform(codes), X)
    assert est.n_features_in_ == K


def test_determinism_and_swap_with_sklearn():
    D = random_basis(6, random_state=0)
    X = bernoulli_gaussian(120, 6, 0.25, random_state=0) @ D
    a = L1DictionaryLearning(6, random_state=3).fit(X).components_
    b = L1DictionaryLearning(6, random_state=3).fit(X).components_
    assert np.array_equal(a, b)
    for est in (L1DictionaryLearning(6, random_state=0), DictionaryLearning(6, random_state=0)):
        assert est.fit(X).components_.shape == (6, 6)


def test_recovery_metric():
    D = random_basis(5, random_state=0)
    perm = [3, 1, 4, 0, 2]
    assert dictionary_recovery(D, -2 * D[perm]) == 1.0
    E = D.copy()
    E[0] = D[1]  # two estimates of atom 1: one-to-one matching misses atom 0
    assert dictionary_recovery(D, E) == 0.8
    assert dictionary_recovery(D, D + 0.3, threshold=0.0) == 1.0


def test_default_construction_and_float32():
    D = random_basis(5, random_state=0)
    X = (bernoulli_gaussian(100, 5, 0.3, random_state=0) @ D).astype(np.float32)
    est = L1DictionaryLearning().fit(X)
    assert est.components_.shape == (5, 5)
    assert est.transform(X).dtype == np.float32
    assert est.inverse_transform(est.transform(X)).dtype == np.float32


def test_not_fitted_and_complex():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        L1DictionaryLearning().transform(np.eye(3))
    with pytest.raises(ValueError, match="[Cc]omplex"):
        L1DictionaryLearning().fit(np.eye(3) + 1j)


@pytest.mark.parametrize(
    "kwargs, X, match",
    [
        ({"n_components": 3}, np.eye(4), "n_components must be None or equal n_features"),
        ({"n_components": 0}, np.eye(4), "n_components must be >= 1"),
        ({"max_iter": -1}, np.eye(4), "max_iter must be >= 0"),
        ({}, np.ones((5, 2)), "X must have rank"),
        ({}, np.array([[1.0, np.inf], [0.0, 1.0]]), "infinity"),
    ],
)
def test_bad_input(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        L1DictionaryLearning(**kwargs).fit(X)


def test_recovery_bad_input():
    with pytest.raises(ValueError, match="same n_features"):
        dictionary_recovery(np.eye(3), np.eye(4))
    with pytest.raises(ValueError, match="threshold must lie in"):
        dictionary_recovery(np.eye(3), np.eye(3), threshold=2)
    with pytest.raises(ValueError, match="D_est has a zero row"):
        dictionary_recovery(np.eye(2), np.zeros((2, 2)))
