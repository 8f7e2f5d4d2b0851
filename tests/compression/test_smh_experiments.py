"""The SMH budget comparison: measured counts, matched arms, statistics of the claims."""

import numpy as np
import pytest
import torch
from parsimony.compression import pack, unpack
from parsimony.compression.experiments.smh import (
    budget_check,
    budget_model,
    budget_run,
    code_values,
    gaps,
    kernel_count,
    low_rank_budget_model,
    matched_counts,
    mnist1d_samples,
    narrow_width,
    non_decreasing,
    stored_values,
    summarize,
)
from parsimony.compression.lowrank import LowRankLayer
from parsimony.nn import build_model
from torch import nn


def _base(hidden=128):
    return build_model("mlp", in_features=40, n_classes=10, hidden=[hidden, hidden],
                       random_state=0)  # fmt: skip


def test_counts_are_measured_on_the_parameters_and_within_the_budget():
    base = _base()
    n = 40 * 128 + 128 * 128 + 128 * 10
    assert kernel_count(base) == n
    for arm, f in [("smh", 0.1), ("smh_scalar", 0.1), ("smh_kron", 0.25)]:
        m = budget_model(base, arm, f)
        pool = [p for name, p in m.named_parameters() if not name.endswith("bias")]
        assert code_values(m) == sum(p.numel() for p in pool) <= f * n
        biases = 128 + 128 + 10
        assert stored_values(m) == code_values(m) + biases


def test_narrow_width_is_the_widest_within_the_budget():
    for budget in [500, 5000, 50000]:
        h = narrow_width(40, 10, 2, budget)
        count = lambda w: 40 * w + w + w * w + w + w * 10 + 10  # noqa: E731
        assert count(h) <= budget < count(h + 1)
    with pytest.raises(ValueError, match="budget"):
        narrow_width(40, 10, 2, 10)


def test_equal_budget_arms_match_smh_stored_values():
    base = _base()
    smh = stored_values(budget_model(base, "smh", 0.1))
    hashed = stored_values(budget_model(base, "hashednets", 0.1))
    narrow = stored_values(budget_model(base, "narrow", 0.1))
    assert hashed <= smh and smh - hashed < 10
    assert narrow <= smh and smh - narrow < 2 * 128
    with pytest.raises(ValueError, match="arm"):
        budget_model(base, "nope", 0.1)


def test_low_rank_baseline_keeps_the_head_dense_and_fits_the_budget():
    base = _base()
    kernels = 40 * 128 + 128 * 128 + 128 * 10
    low = low_rank_budget_model(base, 0.25)
    assert isinstance(low.layers[0], LowRankLayer) and isinstance(low.layers[4], nn.Linear)
    weights = sum(m.weight.numel() for m in (low.layers[0][0], low.layers[0][1], low.layers[2][0],
                                             low.layers[2][1], low.layers[4]))  # fmt: skip
    assert weights <= 0.25 * kernels
    x = torch.randn(3, 40)
    assert torch.equal(unpack(pack(low))(x), low.eval()(x))
    with pytest.raises(ValueError, match="fraction"):
        low_rank_budget_model(base, 0.0)


def _data(n=96, d=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, :10].argmax(1)).astype(np.int64)


def test_budget_run_measures_counts_and_bytes_and_is_deterministic():
    base, data = _base(32), _data()
    rows = [budget_run(base, "smh", 0.5, data, data, random_state=1, epochs=1) for _ in range(2)]
    assert rows[0] == rows[1]
    r = rows[0]
    assert r["N"] == kernel_count(base) and r["budget"] == 0.5 * r["N"]
    assert r["code_bytes"] == 4 * r["code_values"] and r["code_values"] <= r["budget"]
    assert r["accuracy"] == r["accuracy_unpacked"]
    wide = budget_run(base, "wide", None, data, data, epochs=1)
    assert wide["arm"] == "wide" and wide["stored_values"] == stored_values(base)
    check = budget_check(rows)
    assert check["within_budget"] and check["bytes_agree"] and check["n_models"] == 2
    assert 0 < check["min_use"] <= check["max_use"] <= 1


def test_budget_check_flags_an_over_budget_or_miscounted_model():
    row = {"arm": "smh", "code_values": 11, "budget": 10.0, "code_bytes": 44}
    assert not budget_check([row])["within_budget"]
    assert not budget_check([{**row, "code_values": 9}])["bytes_agree"]
    with pytest.raises(ValueError, match="arms"):
        budget_check([{**row, "arm": "narrow"}])


def test_summary_gaps_and_trend():
    rows = [
        {"arm": a, "fraction": f, "seed": s, "accuracy": acc + 0.01 * s, "stored_values": 10,
         "bytes": 40}
        for a, f, acc in [("smh", 0.1, 0.6), ("hashednets", 0.1, 0.65), ("wide", 1.0, 0.7),
                          ("smh", 0.25, 0.68)]
        for s in (0, 1, 2)
    ]  # fmt: skip
    summary = summarize(rows)
    by = {(s["arm"], s["fraction"]): s for s in summary}
    assert by["smh", 0.1]["accuracy"] == pytest.approx(0.61)
    assert by["smh", 0.1]["accuracy_std"] == pytest.approx(0.01)
    assert by["smh", 0.1]["n_seeds"] == 3
    g = gaps(summary, "smh", "hashednets", [0.1, 0.25])
    assert list(g) == [0.1] and g[0.1] == pytest.approx(-0.05)
    assert gaps(summary, "smh", "wide", [0.25])[0.25] == pytest.approx(-0.02)
    assert non_decreasing([0.61, 0.69]) and not non_decreasing([0.69, 0.61], 0.01)
    assert matched_counts([{"arm": "smh", "fraction": 0.1, "seed": 0, "stored_values": 100},
                           {"arm": "narrow", "fraction": 0.1, "seed": 0,
                            "stored_values": 90}]) == {"narrow": 0.9}  # fmt: skip


def test_mnist1d_samples_stored_and_generated():
    stored = mnist1d_samples(5000)
    assert len(stored["train"][0]) == 4000 and len(stored["test"][0]) == 1000
    small = mnist1d_samples(200)
    assert small["train"][0].shape == (160, 40) and small["train"][0].dtype == np.float32
    assert np.array_equal(small["train"][0], mnist1d_samples(200)["train"][0])
    with pytest.raises(ValueError, match="n_samples"):
        mnist1d_samples(0)
