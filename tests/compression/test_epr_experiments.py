"""The EPR sweep against quantize-then-code: same budget, matched-size rule, statistics."""

import numpy as np
import pytest
from parsimony.compression.experiments.epr import (
    baseline_run,
    best_at_most,
    coding_margin,
    epr_run,
    matched_gaps,
    mean_curve,
    non_increasing,
    rate_sweep,
    threshold_point,
)
from parsimony.nn import build_model, train


def _data(n=256, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, :3].argmax(1)).astype(np.int64)


def _float_model():
    net = build_model("mlp", in_features=12, n_classes=3, hidden=[32], random_state=0)
    train(net, _data(), epochs=3, lr=1e-2, batch_size=64, random_state=0, progress=False)
    return net


def test_best_at_most_never_interpolates_or_extrapolates():
    sizes, accs = [1000, 2000, 4000], [0.3, 0.9, 0.8]
    assert best_at_most(sizes, accs, 1999) == 0.3  # not 0.9 * something in between
    assert best_at_most(sizes, accs, 5000) == 0.9  # the best point at or below
    assert best_at_most(sizes, accs, 2000) == 0.9
    assert np.isnan(best_at_most(sizes, accs, 999))
    with pytest.raises(ValueError, match="same length"):
        best_at_most([1, 2], [0.5], 3)


def test_matched_gaps_compare_each_epr_point_with_the_best_smaller_baseline():
    base = [{"bytes": 1000, "accuracy": 0.5}, {"bytes": 3000, "accuracy": 0.9}]
    epr = [{"lam": 1.0, "bytes": 2900, "accuracy": 0.8},
           {"lam": 2.0, "bytes": 3100, "accuracy": 0.85},
           {"lam": 8.0, "bytes": 900, "accuracy": 0.4}]  # fmt: skip
    g = matched_gaps(epr, base)
    assert set(g) == {1.0, 2.0}  # nothing to compare below the smallest baseline point
    assert g[1.0] == pytest.approx(0.3) and g[2.0] == pytest.approx(-0.05)


def test_mean_curve_and_threshold_point():
    rows = [{"lam": lam, "seed": s, "bytes": b + s, "ratio_fp32": r, "accuracy": a}
            for lam, b, r, a in [(1.0, 100, 10.0, 0.9), (4.0, 50, 35.0, 0.88)]
            for s in (0, 2)]  # fmt: skip
    curve = mean_curve(rows, "lam")
    assert [p["lam"] for p in curve] == [1.0, 4.0]
    assert curve[0]["bytes"] == 101 and curve[0]["n_seeds"] == 2
    p = threshold_point(curve, 0.9, 30)
    assert p["lam"] == 4.0 and p["drop"] == pytest.approx(0.02)
    assert threshold_point(curve, 0.9, 100) is None


def test_coding_margin():
    streams = [
        {"coded_bytes": 100, "estimate_bytes": 50.0},
        {"coded_bytes": 8, "estimate_bytes": 8.0},
    ]
    assert coding_margin(streams) == pytest.approx(100 - (50.5 + 64))
    with pytest.raises(ValueError, match="streams"):
        coding_margin([])


def test_runs_share_the_fine_tuning_budget_and_measure_the_rebuilt_network():
    net, data = _float_model(), _data()
    e = epr_run(net, 1.0, data, data, random_state=1, epochs=2)
    b = baseline_run(net, 0.5, data, data, random_state=1, epochs=2)
    p = baseline_run(net, 0.5, data, data, epochs=0)
    assert e["method"] == "epr" and b["method"] == "quantize_then_code"
    assert p["method"] == "quantize_then_code_ptq"
    for r in (e, b, p):
        assert r["accuracy"] == r["accuracy_unpacked"] and r["outputs_equal"]
        assert r["bytes"] > 0 and r["ratio_fp32"] > 1
    assert b == baseline_run(net, 0.5, data, data, random_state=1, epochs=2)  # deterministic
    assert coding_margin(e["streams"]) <= 0
    with pytest.raises(ValueError, match="lam"):
        epr_run(net, -1.0, data, data)


def test_rate_sweep_gives_every_arm_the_same_fine_tuning_per_seed():
    data = _data()
    rows, floats = rate_sweep(
        lambda rs: build_model("mlp", in_features=12, n_classes=3, hidden=[16], random_state=rs),
        data, data, lams=[1.0], relative_steps=[1.0], seeds=[0, 1],
        float_fit={"epochs": 1, "lr": 1e-2, "batch_size": 64},
        fine_tune={"epochs": 1, "lr": 3e-3, "batch_size": 64}, ptq=True,
    )  # fmt: skip
    assert [f["seed"] for f in floats] == [0, 1]
    assert [(r["method"], r["seed"]) for r in rows] == [
        (m, s) for s in (0, 1) for m in ("epr", "quantize_then_code", "quantize_then_code_ptq")
    ]
    assert non_increasing([3, 2, 2.5], 0.5) and not non_increasing([3, 4])
