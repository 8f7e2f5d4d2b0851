"""Analysis operator learning (Yaghoobi, Nam, Gribonval & Davies, IEEE TSP 2013)."""

import numpy as np
import pytest
import scipy.linalg
from parsimony.data.patches import extract_patches, image_to_float, tile_patches
from parsimony.dictionary import (
    CONSTRAINTS,
    AnalysisOperatorLearning,
    analysis_denoise,
    analysis_objective,
    constraint_residuals,
    cosparse_signals,
    finite_difference_operator,
    operator_recovery,
    projected_subgradient,
    random_untf,
    step_sizes,
    tight_frame_projection,
    unit_norm_projection,
    untf_projection,
)


@pytest.fixture(scope="module")
def planted():
    omega = random_untf(12, 8, random_state=0)
    X = cosparse_signals(omega, 200, 6, random_state=1)
    return omega, X


# ----------------------------------------------------------------------------- projections
@pytest.mark.parametrize("shape", [(6, 3), (24, 16), (5, 5)])
def test_tight_frame_projection_is_the_polar_factor(shape):
    A = np.random.default_rng(0).standard_normal(shape)
    P = tight_frame_projection(A)
    assert np.abs(P.T @ P - np.eye(shape[1])).max() < 1e-10
    U, _ = scipy.linalg.polar(A)  # independent: the nearest matrix with orthonormal columns
    assert np.allclose(P, U, atol=1e-10)
    assert np.allclose(tight_frame_projection(P), P, atol=1e-12)


def test_unit_norm_projection_lands_on_the_sphere_and_is_idempotent():
    A = np.random.default_rng(1).standard_normal((10, 4))
    P = unit_norm_projection(A)
    assert np.allclose(np.linalg.norm(P, axis=1), np.sqrt(4 / 10), atol=1e-14)
    assert np.allclose(
        P / np.linalg.norm(P, axis=1, keepdims=True), A / np.linalg.norm(A, axis=1, keepdims=True)
    )
    assert np.array_equal(unit_norm_projection(P), P) or np.allclose(
        unit_norm_projection(P), P, atol=1e-15
    )
    Z = unit_norm_projection(np.zeros((3, 2)))  # a zero row has no direction: a fixed one
    assert np.allclose(np.linalg.norm(Z, axis=1), np.sqrt(2 / 3))


@pytest.mark.parametrize("shape", [(24, 16), (12, 8), (128, 64), (7, 7)])
def test_untf_projection_lands_on_both_sets_and_is_idempotent(shape):
    A = np.random.default_rng(2).standard_normal(shape)
    P = untf_projection(A)
    tf, un = constraint_residuals(P)
    assert tf < 1e-10 and un < 1e-10
    assert np.allclose(np.linalg.norm(P, axis=1), np.sqrt(shape[1] / shape[0]), atol=1e-10)
    assert np.allclose(untf_projection(P), P, atol=1e-10)


def test_one_round_constraints_end_on_their_sets():
    A = np.random.default_rng(3).standard_normal((9, 5))
    assert constraint_residuals(CONSTRAINTS["untf"](A))[0] < 1e-12  # ends on P_TF
    assert constraint_residuals(CONSTRAINTS["tight_frame"](A))[0] < 1e-12
    assert constraint_residuals(CONSTRAINTS["unit_norm"](A))[1] < 1e-12


@pytest.mark.parametrize("eps", [1e-3, 0.05, 1.0])
def test_fast_polar_step_equals_the_svd_projection(eps):
    rng = np.random.default_rng(4)
    A = random_untf(24, 16, random_state=0) + eps * rng.standard_normal((24, 16))
    expected = tight_frame_projection(unit_norm_projection(A))
    assert np.allclose(CONSTRAINTS["untf"](A), expected, atol=1e-12)
    assert np.allclose(CONSTRAINTS["untf"](np.stack([A, A])), expected, atol=1e-12)


def test_random_untf_is_deterministic_and_on_the_set():
    a, b, c = (random_untf(24, 16, random_state=s) for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert max(constraint_residuals(a)) < 1e-10


# ----------------------------------------------------------------------------- signals
def test_cosparse_signals_lie_in_the_null_space_of_their_cosupport():
    omega = random_untf(24, 16, random_state=0)
    X, cos = cosparse_signals(omega, 300, 14, random_state=1, return_cosupport=True)
    C = X @ omega.T
    assert np.all(cos.sum(axis=1) == 14)
    assert np.abs(C[cos]).max() < 1e-12
    assert np.abs(C[~cos]).min() > 1e-8  # generic: no extra zeros
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    again = cosparse_signals(omega, 300, 14, random_state=1)
    assert np.array_equal(X, again)
    noisy = cosparse_signals(omega, 300, 14, noise=0.1, random_state=1)
    assert abs(np.std(noisy - X) - 0.1) < 0.01


def test_cosparse_signals_use_every_row_evenly():
    omega = random_untf(12, 8, random_state=0)
    _, cos = cosparse_signals(omega, 6000, 4, random_state=2, return_cosupport=True)
    assert np.allclose(cos.mean(axis=0), 4 / 12, atol=0.03)


# ----------------------------------------------------------------------------- learning
def test_planted_operator_is_recovered_and_objective_matches(planted):
    omega, X = planted
    est = AnalysisOperatorLearning(12, max_iter=1000, random_state=0).fit(X)
    assert operator_recovery(omega, est.operator_) == 1.0
    assert est.objective_[-1] <= 1.01 * analysis_objective(X, omega)
    assert max(constraint_residuals(est.operator_)) < 1e-10
    assert est.objective_.shape == (1001,) and est.n_iter_ == 1000
    assert np.allclose(est.transform(X), X @ est.operator_.T)


@pytest.mark.parametrize(
    ("step_rule", "step"), [("polish", 0.1), ("constant", 0.1), ("inv_sqrt", 0.5)]
)
def test_objective_decreases(planted, step_rule, step):
    _, X = planted
    est = AnalysisOperatorLearning(12, max_iter=300, step=step, step_rule=step_rule, random_state=1)
    est.fit(X)
    obj = est.objective_
    assert obj[-1] < 0.9 * obj[0]
    assert np.mean(obj[-50:]) < np.mean(obj[:50])


def test_noisy_variant_recovers_and_decreases_its_objective(planted):
    omega, X = planted
    Y = X + 0.02 * np.random.default_rng(4).standard_normal(X.shape)
    est = AnalysisOperatorLearning(12, max_iter=600, lam=50.0, random_state=0).fit(Y)
    assert operator_recovery(omega, est.operator_, threshold=0.95) == 1.0
    assert est.objective_[-1] < est.objective_[0]
    assert est.X_denoised_.shape == Y.shape
    Xh = est.denoise(Y)
    assert np.linalg.norm(Xh @ est.operator_.T, 1) < np.linalg.norm(Y @ est.operator_.T, 1)


def test_determinism_and_callback(planted):
    _, X = planted
    seen = []
    a = AnalysisOperatorLearning(12, max_iter=50, random_state=3, callback=seen.append).fit(X)
    b = AnalysisOperatorLearning(12, max_iter=50, random_state=3).fit(X)
    assert np.array_equal(a.operator_, b.operator_)
    assert [s["iteration"] for s in seen] == list(range(1, 51))
    assert np.allclose([s["objective"] for s in seen[:-1]], a.objective_[1:-1])
    assert seen[-1]["operator"].shape == (12, 8)
    # the callback reports the objective of the operator it is given
    assert np.isclose(seen[10]["objective"], analysis_objective(X, seen[10]["operator"]))


def test_contract_defaults_float32_and_inverse(planted):
    from sklearn.exceptions import NotFittedError

    _, X = planted
    with pytest.raises(NotFittedError):
        AnalysisOperatorLearning().transform(X)
    est = AnalysisOperatorLearning(max_iter=20, random_state=0).fit(X.astype(np.float32))
    assert est.operator_.shape == (8, 8) and est.n_features_in_ == 8
    C = est.transform(X.astype(np.float32))
    assert C.dtype == np.float32
    assert np.allclose(est.inverse_transform(C), X, atol=1e-5)
    with pytest.raises(ValueError, match="[Cc]omplex"):
        AnalysisOperatorLearning().fit(X + 1j)


def test_projected_subgradient_stack_equals_single(planted):
    _, X = planted
    init = random_untf(12, 8, random_state=2)
    steps = step_sizes(0.1, 30)
    one, obj1 = projected_subgradient(X, init, steps)
    two, obj2 = projected_subgradient(np.stack([X, X]), np.stack([init, init]), steps)
    assert np.allclose(two[1], one) and np.allclose(obj2[:, 1], obj1[:, 0])
    assert obj1.shape == (31, 1)


@pytest.mark.parametrize("constraint", ["tight_frame", "unit_norm"])
def test_weaker_constraints_stay_on_their_sets(planted, constraint):
    _, X = planted
    est = AnalysisOperatorLearning(12, constraint=constraint, max_iter=300, random_state=0).fit(X)
    tf, un = constraint_residuals(est.operator_)
    assert (tf if constraint == "tight_frame" else un) < 1e-12


def test_init_is_used(planted):
    _, X = planted
    init = random_untf(12, 8, random_state=9)
    est = AnalysisOperatorLearning(12, max_iter=0, init=init).fit(X)
    assert np.allclose(est.operator_, init, atol=1e-10)


def test_step_sizes():
    s = step_sizes(0.2, 100)
    assert np.all(np.diff(s) <= 0) and s[0] == 0.2 and np.isclose(s[-1], 0.002)
    assert np.allclose(step_sizes(0.2, 5, "constant"), 0.2)


# ----------------------------------------------------------------------------- denoising
def test_denoiser_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(0)
    for omega in (random_untf(10, 6, random_state=0), finite_difference_operator(3)):
        n = omega.shape[1]
        Y = rng.standard_normal((3, n))
        lam = 2.0
        ours = analysis_denoise(Y, omega, lam, max_iter=5000, tol=1e-12)
        for y, x_ours in zip(Y, ours, strict=True):
            x = cp.Variable(n)
            obj = cp.norm1(omega @ x) + lam / 2 * cp.sum_squares(y - x)
            cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
            assert np.allclose(x_ours, x.value, atol=1e-6)


def test_denoiser_closed_form_for_an_orthonormal_basis():
    Q = random_untf(5, 5, random_state=1)  # m = n: an orthonormal basis
    Y = np.random.default_rng(1).standard_normal((4, 5))
    lam = 1.5
    C = Y @ Q.T
    expected = (np.sign(C) * np.maximum(np.abs(C) - 1 / lam, 0)) @ Q
    assert np.allclose(analysis_denoise(Y, Q, lam, tol=1e-13), expected, atol=1e-9)


def test_finite_difference_operator():
    D = finite_difference_operator(4)
    img = np.random.default_rng(0).standard_normal((4, 4))
    expected = np.r_[np.diff(img, axis=1).ravel(), np.diff(img, axis=0).ravel()]
    assert D.shape == (24, 16) and np.allclose(D @ img.ravel(), expected)


# ----------------------------------------------------------------------------- patches
def test_extract_patches_matches_sklearn():
    from sklearn.feature_extraction.image import extract_patches_2d

    img = np.random.default_rng(0).random((12, 10))
    ours = extract_patches(img, 4)
    ref = extract_patches_2d(img, (4, 4)).reshape(-1, 16)
    assert np.array_equal(ours, ref)
    sub = extract_patches(img, 4, n_patches=10, random_state=0)
    assert np.array_equal(sub, extract_patches(img, 4, n_patches=10, random_state=0))
    assert all(any(np.array_equal(s, r) for r in ref) for s in sub)
    assert len({s.tobytes() for s in sub}) == 10


def test_image_to_float_and_tiles():
    rgb = np.full((2, 2, 3), 255, dtype=np.uint8)
    assert np.allclose(image_to_float(rgb), 1.0)
    mosaic = tile_patches(np.ones((5, 9)), 3, n_cols=4, pad=1)
    assert mosaic.shape == (7, 15) and np.isnan(mosaic).sum() == mosaic.size - 45


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda X: AnalysisOperatorLearning(6).fit(X), "n_components"),
        (lambda X: AnalysisOperatorLearning(12, constraint="none").fit(X), "constraint"),
        (lambda X: AnalysisOperatorLearning(12, step=-1.0).fit(X), "step"),
        (lambda X: AnalysisOperatorLearning(12, step_rule="adam").fit(X), "step_rule"),
        (lambda X: AnalysisOperatorLearning(12, lam=0.0).fit(X), "lam"),
        (lambda X: AnalysisOperatorLearning(12, init=np.eye(3)).fit(X), "init"),
        (lambda X: AnalysisOperatorLearning(12).fit(np.where(X > 0.5, np.nan, X)), "NaN"),
        (lambda X: AnalysisOperatorLearning(12).fit(np.where(X > 0.5, np.inf, X)), "infinity"),
        (lambda X: AnalysisOperatorLearning(12, max_iter=-1).fit(X), "max_iter"),
        (lambda X: projected_subgradient(X, np.eye(8), [0.1], constraint="x"), "constraint"),
        (lambda X: random_untf(4, 8), "n_components"),
        (lambda X: untf_projection(np.ones((3, 5))), "omega"),
        (lambda X: cosparse_signals(random_untf(12, 8), 10, 8), "cosparsity"),
        (lambda X: cosparse_signals(random_untf(12, 8), 10, 0), "cosparsity"),
        (lambda X: cosparse_signals(random_untf(12, 8), 10, 3, noise=-1.0), "noise"),
        (lambda X: cosparse_signals(np.full((12, 8), np.nan), 10, 3), "omega"),
        (lambda X: analysis_denoise(X, np.eye(8), lam=-1.0), "lam"),
        (lambda X: analysis_denoise(X, np.eye(5), lam=1.0), "omega"),
        (lambda X: operator_recovery(np.eye(3), np.eye(4)), "n_features"),
        (lambda X: extract_patches(np.ones((4, 4)), 5), "patch_size"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(planted, call, name):
    _, X = planted
    with pytest.raises(ValueError, match=name):
        call(X)
