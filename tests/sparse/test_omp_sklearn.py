"""scikit-learn's OMP tests (``sklearn/linear_model/tests/test_omp.py``, 1.9), ported to ours.

Each scikit-learn test is rewritten against :class:`parsimony.sparse.OrthogonalMatchingPursuit`
(and the function :func:`parsimony.sparse.omp` where scikit-learn tests ``orthogonal_mp``),
on the same data (``make_sparse_coded_signal``, 25 samples, 35 features, 5 atoms, 3 targets,
scaled by 10), named ``test_<scikit-learn name>``.

Adapted, with the reason:

* ``*_gram`` variants and ``with_without_gram``: we have no ``orthogonal_mp_gram`` (Gram
  and ``Xy`` as input); ``precompute`` is accepted and must give the same results, so those
  tests compare ``precompute=True`` with ``precompute=False`` on the estimator.
* ``test_unreachable_accuracy``: scikit-learn compares ``tol=0`` with
  ``n_nonzero_coefs=n_features`` (35 atoms on 25 samples). We reject ``n_nonzero_coefs``
  above ``n_samples`` with a ValueError naming the parameter (more atoms than samples are
  linearly dependent), so ``tol=0`` is compared with ``n_nonzero_coefs=n_samples``.
* ``test_bad_input``: the ``(G, Xy)`` positional case has no counterpart; the
  ``n_features + 1`` case is kept, plus ``n_samples + 1`` (our added rule).
* ``test_orthogonal_mp_gram_readonly``: run on read-only ``X`` and ``y``.
* ``test_omp_path``: no ``return_path``; the path comes from ``omp``'s ``callback``.
* ``test_omp_gram_dtype_match`` / ``numerical_consistency``: on the estimator's
  ``coef_`` (float32 in, float32 out; float32 and float64 fits agree).

Not applicable:

* ``test_correct_shapes_gram``, ``test_omp_return_path_prop_with_gram``: Gram-matrix input
  and ``return_path`` with it (no ``orthogonal_mp_gram``).
* ``test_omp_cv``: no ``OrthogonalMatchingPursuitCV`` in parsimony (scikit-learn's
  ``GridSearchCV`` over ``n_nonzero_coefs`` works with our estimator: tested below).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_almost_equal, assert_array_equal
from parsimony.sparse import OrthogonalMatchingPursuit, omp
from sklearn.datasets import make_sparse_coded_signal
from sklearn.linear_model import LinearRegression
from sklearn.linear_model import OrthogonalMatchingPursuit as SklearnOMP
from sklearn.model_selection import GridSearchCV

n_samples, n_features, n_nonzero_coefs, n_targets = 25, 35, 5, 3
y, X, gamma = make_sparse_coded_signal(
    n_samples=n_targets,
    n_components=n_features,
    n_features=n_samples,
    n_nonzero_coefs=n_nonzero_coefs,
    random_state=0,
)
y, X, gamma = y.T * 10, X.T * 10, gamma.T
PREMATURE = "Orthogonal matching pursuit ended prematurely"


def fit(X=X, y=y, **params):
    return OrthogonalMatchingPursuit(fit_intercept=False, **params).fit(X, y)


def test_correct_shapes():
    assert omp(X, y[:, 0], n_nonzero_coefs=5)[0].shape == (n_features,)
    assert fit(y=y[:, 0], n_nonzero_coefs=5).coef_.shape == (n_features,)
    assert fit(n_nonzero_coefs=5).coef_.shape == (n_targets, n_features)


@pytest.mark.parametrize("precompute", [False, True, "auto"])
def test_n_nonzero_coefs(precompute):
    assert np.count_nonzero(omp(X, y[:, 0], n_nonzero_coefs=5)[0]) <= 5
    coef = fit(y=y[:, 0], n_nonzero_coefs=5, precompute=precompute).coef_
    assert np.count_nonzero(coef) <= 5


@pytest.mark.parametrize("precompute", [False, True])
def test_tol(precompute):
    tol = 0.5
    coef, _ = omp(X, y[:, 0], tol=tol)
    assert np.sum((y[:, 0] - X @ coef) ** 2) <= tol
    coef = fit(y=y[:, 0], tol=tol, precompute=precompute).coef_
    assert np.sum((y[:, 0] - X @ coef) ** 2) <= tol


def test_with_without_gram():
    assert_array_almost_equal(
        fit(n_nonzero_coefs=5, precompute=False).coef_,
        fit(n_nonzero_coefs=5, precompute=True).coef_,
    )


def test_with_without_gram_tol():
    assert_array_almost_equal(
        fit(tol=1.0, precompute=False).coef_, fit(tol=1.0, precompute=True).coef_
    )


def test_tol_wins_over_n_nonzero_coefs():
    """scikit-learn: when ``tol`` is set, ``n_nonzero_coefs`` is ignored."""
    a = fit(y=y[:, 0], n_nonzero_coefs=1, tol=0.5)
    b = fit(y=y[:, 0], tol=0.5)
    assert_array_equal(a.coef_, b.coef_)
    assert np.count_nonzero(a.coef_) > 1


def test_unreachable_accuracy():
    with pytest.warns(RuntimeWarning, match=PREMATURE):
        a = fit(tol=0).coef_
    with pytest.warns(RuntimeWarning, match=PREMATURE):  # 25 atoms on 25 samples
        b = fit(n_nonzero_coefs=n_samples).coef_
    assert_array_almost_equal(a, b)


@pytest.mark.parametrize("value", [n_features + 1, n_samples + 1])
def test_bad_input(value):
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        omp(X, y[:, 0], n_nonzero_coefs=value)
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        fit(n_nonzero_coefs=value)


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        fit(n_nonzero_coefs=0)
    with pytest.raises(TypeError, match="n_nonzero_coefs"):
        fit(n_nonzero_coefs=2.5)
    with pytest.raises(ValueError, match="tol"):
        fit(tol=-1.0)
    with pytest.raises(ValueError, match="precompute"):
        fit(precompute="yes")
    with pytest.raises(TypeError, match="fit_intercept"):
        OrthogonalMatchingPursuit(fit_intercept="no").fit(X, y)
    with pytest.raises(ValueError, match="Complex"):
        fit(X=X + 1j, n_nonzero_coefs=2)
    with pytest.raises(ValueError, match="y"):
        omp(X, np.r_[y[:-1, 0], np.nan], 2)


def test_perfect_signal_recovery():
    (idx,) = gamma[:, 0].nonzero()
    coef, _ = omp(X, y[:, 0], n_nonzero_coefs=5)
    est = fit(y=y[:, 0], n_nonzero_coefs=5).coef_
    assert_array_equal(idx, np.flatnonzero(coef))
    assert_array_equal(idx, np.flatnonzero(est))
    assert_array_almost_equal(gamma[:, 0], coef, decimal=2)
    assert_array_almost_equal(gamma[:, 0], est, decimal=2)


def test_orthogonal_mp_gram_readonly():
    (idx,) = gamma[:, 0].nonzero()
    X_ro, y_ro = X.copy(), y[:, 0].copy()
    X_ro.setflags(write=False)
    y_ro.setflags(write=False)
    coef = fit(X=X_ro, y=y_ro, n_nonzero_coefs=5).coef_
    assert_array_equal(idx, np.flatnonzero(coef))
    assert_array_almost_equal(gamma[:, 0], coef, decimal=2)


def test_estimator():
    est = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero_coefs)
    est.fit(X, y[:, 0])
    assert est.coef_.shape == (n_features,)
    assert est.intercept_.shape == ()
    assert np.count_nonzero(est.coef_) <= n_nonzero_coefs

    est.fit(X, y)
    assert est.coef_.shape == (n_targets, n_features)
    assert est.intercept_.shape == (n_targets,)
    assert np.count_nonzero(est.coef_) <= n_targets * n_nonzero_coefs

    coef_normalized = est.coef_[0].copy()
    est.set_params(fit_intercept=True)
    est.fit(X, y[:, 0])
    assert_array_almost_equal(coef_normalized, est.coef_)

    est.set_params(fit_intercept=False)
    est.fit(X, y[:, 0])
    assert np.count_nonzero(est.coef_) <= n_nonzero_coefs
    assert est.coef_.shape == (n_features,)
    assert est.intercept_ == 0

    est.fit(X, y)
    assert est.coef_.shape == (n_targets, n_features)
    assert est.intercept_ == 0
    assert np.count_nonzero(est.coef_) <= n_targets * n_nonzero_coefs


def test_estimator_n_nonzero_coefs():
    est = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero_coefs).fit(X, y[:, 0])
    assert est.n_nonzero_coefs_ == n_nonzero_coefs
    est = OrthogonalMatchingPursuit(n_nonzero_coefs=n_nonzero_coefs, tol=0.5).fit(X, y[:, 0])
    assert est.n_nonzero_coefs_ is None
    est = OrthogonalMatchingPursuit().fit(X, y[:, 0])
    assert est.n_nonzero_coefs_ == max(int(0.1 * n_features), 1)


def test_identical_regressors():
    newX = X.copy()
    newX[:, 1] = newX[:, 0]
    g = np.zeros(n_features)
    g[0] = g[1] = 1.0
    newy = newX @ g
    with pytest.warns(RuntimeWarning, match=PREMATURE):
        omp(newX, newy, n_nonzero_coefs=2)
    with pytest.warns(RuntimeWarning, match=PREMATURE):
        fit(X=newX, y=newy, n_nonzero_coefs=2)


def test_swapped_regressors():
    g = np.zeros(n_features)
    g[21] = 1.0
    g[0] = 0.5
    new_y = X @ g
    assert_array_equal(np.flatnonzero(omp(X, new_y, n_nonzero_coefs=2)[0]), [0, 21])
    assert_array_equal(np.flatnonzero(fit(y=new_y, n_nonzero_coefs=2).coef_), [0, 21])


def test_no_atoms():
    with pytest.warns(RuntimeWarning, match=PREMATURE):
        coef = fit(y=np.zeros_like(y), n_nonzero_coefs=1).coef_
    assert np.all(coef == 0)


def test_omp_path():
    path = []
    last, n_iter = omp(X, y[:, 0], n_nonzero_coefs=5, callback=lambda st: path.append(st["x"]))
    assert n_iter == 5 and len(path) == 5
    assert [np.count_nonzero(p) for p in path] == [1, 2, 3, 4, 5]
    assert_array_almost_equal(path[-1], last)


def test_omp_reaches_least_squares():
    rng = np.random.RandomState(0)
    Xs, Ys = rng.randn(10, 8), rng.randn(10, 3)
    est = OrthogonalMatchingPursuit(n_nonzero_coefs=8).fit(Xs, Ys)
    lstsq = LinearRegression().fit(Xs, Ys)
    assert_array_almost_equal(est.coef_, lstsq.coef_)
    assert_array_almost_equal(est.intercept_, lstsq.intercept_)


@pytest.mark.parametrize("data_type", [np.float32, np.float64])
def test_omp_gram_dtype_match(data_type):
    est = fit(X=X.astype(data_type), y=y.astype(data_type), n_nonzero_coefs=5)
    assert est.coef_.dtype == data_type
    assert est.predict(X.astype(data_type)).dtype == data_type


def test_omp_gram_numerical_consistency():
    c32 = fit(X=X.astype(np.float32), y=y.astype(np.float32), n_nonzero_coefs=5).coef_
    c64 = fit(n_nonzero_coefs=5).coef_
    assert_allclose(c32, c64, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "params",
    [
        {"n_nonzero_coefs": 5},
        {"tol": 0.5},
        {},
        {"n_nonzero_coefs": 3, "fit_intercept": False},
        {"tol": 1.0, "fit_intercept": False},
    ],
)
@pytest.mark.parametrize("target", [0, None])
def test_same_as_scikit_learn(params, target):
    """The drop-in: same coefficients, intercepts, n_iter_, n_nonzero_coefs_ and score."""
    yy = y if target is None else y[:, target] + 3.0  # an offset the intercept must absorb
    ours = OrthogonalMatchingPursuit(**params).fit(X, yy)
    ref = SklearnOMP(**params).fit(X, yy)
    assert_allclose(ours.coef_, ref.coef_, atol=1e-10)
    assert_allclose(ours.intercept_, ref.intercept_, atol=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.n_nonzero_coefs_ == ref.n_nonzero_coefs_
    assert ours.score(X, yy) == pytest.approx(ref.score(X, yy), abs=1e-12)


def test_uncentred_data_needs_the_intercept():
    """On data with an offset, centring changes the support exactly as in scikit-learn."""
    rng = np.random.default_rng(0)
    Xo = rng.standard_normal((40, 30)) + 5.0
    yo = Xo[:, [2, 7]] @ np.array([1.0, -2.0]) + 10.0
    for fi in (True, False):
        ours = OrthogonalMatchingPursuit(n_nonzero_coefs=2, fit_intercept=fi).fit(Xo, yo)
        ref = SklearnOMP(n_nonzero_coefs=2, fit_intercept=fi).fit(Xo, yo)
        assert_array_equal(np.flatnonzero(ours.coef_), np.flatnonzero(ref.coef_))
    centred = OrthogonalMatchingPursuit(n_nonzero_coefs=2).fit(Xo, yo)
    assert np.flatnonzero(centred.coef_).tolist() == [2, 7]
    assert centred.intercept_ == pytest.approx(10.0)


def test_grid_search_over_n_nonzero_coefs():
    search = GridSearchCV(
        OrthogonalMatchingPursuit(fit_intercept=False), {"n_nonzero_coefs": [1, 3, 5]}, cv=3
    ).fit(X, y[:, 0])
    assert search.best_params_["n_nonzero_coefs"] in (3, 5)
    assert search.best_estimator_.n_features_in_ == n_features
