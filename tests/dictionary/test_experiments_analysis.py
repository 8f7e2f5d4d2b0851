import numpy as np
import pytest
from parsimony.dictionary import (
    AnalysisOperatorLearning,
    cosparse_signals,
    finite_difference_operator,
    operator_recovery,
    random_untf,
)
from parsimony.dictionary.experiments.analysis import (
    ablation_statistics,
    analysis_sparsity,
    choose_on_validation,
    learn_with_checkpoints,
    omp_denoiser,
    operator_diagnostics,
    patch_denoising_psnr,
    planted_recovery,
    random_untf_sparsity,
    recovery_trends,
    row_localisation,
    tune_synthesis_peer,
)


def test_planted_recovery_cells_are_independent_of_the_grid():
    r1, c1 = planted_recovery(12, 8, [6], [150], n_trials=2, max_iter=300, record_every=100)
    r2, _ = planted_recovery(12, 8, [4, 6], [60, 150], n_trials=2, max_iter=300, record_every=100)
    cell = next(r for r in r2 if r["cosparsity"] == 6 and r["n_samples"] == 150)
    assert cell == r1[0]
    assert [c["iteration"] for c in c1] == [0, 100, 200, 300]
    assert c1[0]["recovered"] < c1[-1]["recovered"]


def test_planted_recovery_matches_the_estimator():
    """The batched sweep and the estimator run the same iteration."""
    rec, _ = planted_recovery(12, 8, [6], [100], n_trials=1, max_iter=200)
    rngs = [np.random.default_rng([0, 6, 100, 0, k]) for k in range(3)]
    omega0 = random_untf(12, 8, rngs[0])
    X = cosparse_signals(omega0, 100, 6, random_state=rngs[1])
    init = random_untf(12, 8, rngs[2])
    est = AnalysisOperatorLearning(12, max_iter=200, init=init).fit(X)
    assert rec[0]["recovered"] == operator_recovery(omega0, est.operator_)


def test_operator_recovery_and_diagnostics():
    omega = random_untf(12, 8, random_state=0)
    perm = -omega[np.random.default_rng(0).permutation(12)]
    assert operator_recovery(omega, perm) == 1.0
    assert operator_recovery(omega, omega[:6]) == 0.5
    d = operator_diagnostics(omega)
    assert d["n_zero_rows"] == 0 and d["n_duplicate_pairs"] == 0
    assert np.allclose(d["frame_bounds"], 1.0)
    bad = np.vstack([omega[:10], omega[0], np.zeros(8)])
    d = operator_diagnostics(bad)
    assert d["n_zero_rows"] == 1 and d["n_duplicate_pairs"] == 1 and d["coherence"] > 0.999


def test_patch_denoising_psnr_identity():
    clean = np.random.default_rng(0).random((20, 16))
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.shape)
    psnr = patch_denoising_psnr(lambda X, s: X, [0], noisy, clean)
    assert np.isclose(psnr[0], 10 * np.log10(1 / np.mean((noisy - clean) ** 2)))


def _cells(table):
    return [{"cosparsity": e, "n_samples": L, "recovered": r}
            for e, row in table.items() for L, r in zip([10, 20, 40], row, strict=True)]  # fmt: skip


def test_recovery_trends():
    t = recovery_trends(_cells({4: [0.0, 0.2, 0.5], 6: [0.0, 0.5, 1.0], 8: [0.1, 0.9, 1.0]}), 0.0)
    assert t["grows_with_n_samples"] and t["grows_with_cosparsity"]
    assert t["increases_with_cosparsity"]  # 0 -> 0 and 1 -> 1 are saturated, not ties
    t = recovery_trends(_cells({4: [0.0, 0.5, 0.45], 6: [0.0, 0.5, 1.0]}), 0.0)
    assert not t["grows_with_n_samples"] and not t["increases_with_cosparsity"]
    assert t["grows_with_cosparsity"]
    assert recovery_trends(_cells({4: [0.0, 0.5, 0.45], 6: [0.0, 0.5, 1.0]}), 0.1)[
        "grows_with_n_samples"
    ]
    assert t["table"] == {4: [0.0, 0.5, 0.45], 6: [0.0, 0.5, 1.0]}


def test_ablation_statistics():
    base = {"objective_ratio": 1.0, "n_zero_rows": 0, "n_duplicate_pairs": 0}
    rec = [
        {**base, "constraint": "untf", "recovered": 1.0, "frame_bounds": [1.0, 1.0]},
        {**base, "constraint": "untf", "recovered": 0.5, "objective_ratio": 1.2,
         "frame_bounds": [1.0, 1.0]},
        {**base, "constraint": "unit_norm", "recovered": 0.1, "n_duplicate_pairs": 3,
         "objective_ratio": 0.8, "frame_bounds": [1e-6, 3.0]},
    ]  # fmt: skip
    s = ablation_statistics(rec)
    assert list(s) == ["untf", "unit_norm"]
    assert s["untf"]["recovered_mean"] == 0.75 and s["untf"]["n_fully_recovered"] == 1
    assert s["untf"]["full_objective_ratio_max"] == 1.0 and s["untf"]["objective_ratio_max"] == 1.2
    assert s["unit_norm"]["duplicate_pairs"] == [3] and s["unit_norm"]["frame_lower_max"] == 1e-6


def test_sparsity_probes():
    omega = random_untf(12, 8, random_state=0)
    X = cosparse_signals(omega, 50, 6, random_state=0)
    own = analysis_sparsity(X, omega, zero_tol=1e-8)
    assert np.isclose(own["zero_fraction"], 6 / 12)
    bar = random_untf_sparsity(X, 12, 3, zero_tol=1e-8)
    assert bar["zero_fraction"] < own["zero_fraction"] and bar["objective"] > own["objective"]
    assert bar == random_untf_sparsity(X, 12, 3, zero_tol=1e-8)


def test_row_localisation():
    loc = row_localisation(finite_difference_operator(5), 5, window=2)
    assert np.allclose(loc, 1.0)
    flat = np.ones((1, 25))
    assert np.isclose(row_localisation(flat, 5, window=3)[0], 9 / 25)
    with pytest.raises(ValueError, match="patch_size"):
        row_localisation(flat, 4)


def test_learn_with_checkpoints():
    omega = random_untf(12, 8, random_state=0)
    X = cosparse_signals(omega, 100, 6, random_state=0)
    est = AnalysisOperatorLearning(12, max_iter=40, random_state=0)
    kept = learn_with_checkpoints(est, X, [10, 40])
    assert sorted(kept) == [10, 40] and kept[40] is est.operator_
    short = AnalysisOperatorLearning(12, max_iter=40, random_state=0)
    assert est.callback is None
    with pytest.raises(ValueError, match="max_iter"):
        learn_with_checkpoints(short, X, [10, 20])


def test_choose_on_validation_and_omp():
    rng = np.random.default_rng(0)
    D = np.eye(6)
    clean = np.zeros((30, 6))
    clean[np.arange(30), rng.integers(0, 6, 30)] = 1.0
    clean -= clean.mean(axis=1, keepdims=True)
    noisy = clean + 0.05 * rng.standard_normal(clean.shape)
    f = omp_denoiser(D, "atoms", 6, 0.05, 6)
    assert np.allclose(f(noisy), noisy)
    best, psnr = choose_on_validation(lambda X, k: omp_denoiser(D, "atoms", k, 0.05, 6)(X),
                                      [1, 2, 6], noisy, clean)  # fmt: skip
    assert len(psnr) == 3 and best in (1, 2, 6) and psnr.max() == psnr[[1, 2, 6].index(best)]


def test_tune_synthesis_peer_is_deterministic():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((60, 9))
    val_c = rng.standard_normal((10, 9))
    val_n = val_c + 0.1 * rng.standard_normal(val_c.shape)
    grid = [("atoms", 1), ("residual", 1.0)]
    best, rec = tune_synthesis_peer(train, val_n, val_c, 9, [0.1, 1.0], [1, 2], grid, 0.1)
    assert len(rec) == 8 and best["psnr"] == max(r["psnr"] for r in rec)
    again, _ = tune_synthesis_peer(train, val_n, val_c, 9, [0.1, 1.0], [1, 2], grid, 0.1)
    assert np.array_equal(best["dictionary"], again["dictionary"])
    with pytest.raises(ValueError, match="rule"):
        omp_denoiser(np.eye(3), "nope", 1, 0.1, 3)
