"""LpLowRank under scikit-learn's contract: parameters, fitted state, dtypes, bad input."""

import numpy as np
import pytest
from parsimony.compression.experiments.lowrank import planted_subspace
from parsimony.compression.lowrank import SUBSPACE_SOLVERS, LpLowRank, irls_subspace
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="module")
def data():
    return planted_subspace(200, 6, 2, outlier_fraction=0.1, random_state=0)[0]


def test_params_stored_unmodified_and_clone():
    params = {"tol": 1e-9}
    est = LpLowRank(3, p=1.5, method="irls", method_params=params, max_iter=7)
    assert est.get_params()["method_params"] is params
    c = clone(est)
    assert c.get_params()["max_iter"] == 7 and c.method_params == params


def test_not_fitted():
    with pytest.raises(NotFittedError):
        LpLowRank().transform(np.ones((3, 4)))
    with pytest.raises(NotFittedError):
        LpLowRank().inverse_transform(np.ones((3, 2)))


@pytest.mark.parametrize("method", sorted(SUBSPACE_SOLVERS))
def test_float32_preserved(data, method):
    X = data.astype(np.float32)
    est = LpLowRank(2, method=method).fit(X)
    Z = est.transform(X)
    assert est.components_.dtype == np.float32 and Z.dtype == np.float32
    assert est.inverse_transform(Z).dtype == np.float32
    ref = LpLowRank(2, method=method).fit(data)
    assert est.n_features_in_ == 6 and ref.components_.dtype == np.float64
    np.testing.assert_allclose(np.abs(est.components_ @ ref.components_.T), np.eye(2), atol=1e-3)


def test_transform_inverse_transform_projects(data):
    est = LpLowRank(2, method="lewis").fit(data)
    P = est.components_.T @ est.components_
    np.testing.assert_allclose(est.inverse_transform(est.transform(data)), data @ P, atol=1e-12)
    np.testing.assert_allclose(est.fit_transform(data), est.transform(data))


def test_callback_and_max_iter(data):
    seen = []
    est = LpLowRank(2, method="irls", max_iter=3, callback=seen.append).fit(data)
    assert est.n_iter_ <= 3 and [s["iteration"] for s in seen] == list(range(1, len(seen) + 1))
    assert [s["objective"] for s in seen] == est.objective_[1:]
    V, info = irls_subspace(data, 2, max_iter=3)
    np.testing.assert_allclose(np.abs(V.T @ est.components_.T), np.eye(2), atol=1e-10)


def test_in_a_pipeline(data):
    pipe = make_pipeline(StandardScaler(), LpLowRank(2, method="lewis")).fit(data)
    assert pipe.transform(data).shape == (200, 2)


def test_bad_input(data):
    with pytest.raises(ValueError, match="[Cc]omplex"):  # scikit-learn's error
        LpLowRank(2).fit(data + 1j)
    with pytest.raises(ValueError, match="n_components"):
        LpLowRank(6).fit(data)
    with pytest.raises(TypeError, match="n_components"):
        LpLowRank(2.5).fit(data)
    with pytest.raises(ValueError, match="p"):
        LpLowRank(2, p=3.0).fit(data)
    with pytest.raises(ValueError, match="method"):
        LpLowRank(2, method="nuclear").fit(data)
    with pytest.raises(TypeError, match="nope"):
        LpLowRank(2, method="irls", method_params={"nope": 1}).fit(data)
    with pytest.raises(TypeError, match="method_params"):
        LpLowRank(2, method_params=[("tol", 1)]).fit(data)
    with pytest.raises(TypeError, match="max_iter"):
        LpLowRank(2, method="irls", method_params={"max_iter": 3}, max_iter=3).fit(data)
    with pytest.raises(TypeError, match="callback"):
        LpLowRank(2, method="irls", callback=3).fit(data)
    est = LpLowRank(2, method="svd").fit(data)
    with pytest.raises(ValueError, match="features"):
        est.transform(data[:, :5])
    with pytest.raises(ValueError, match="n_components"):
        est.inverse_transform(np.ones((3, 3)))
