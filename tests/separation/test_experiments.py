"""Claim statistics of the separation experiments (parsimony.separation.experiments)."""

import numpy as np
import pandas as pd
from parsimony.separation.experiments.duong2010 import (
    blind_summary,
    gap_statistics,
    loading_table,
    max_relative_increase,
    oracle_summary,
)


def _oracle_frame():
    rows = []
    for rt, (full, rank1) in {0.1: (10.0, 9.0), 0.3: (8.0, 6.0), 0.5: (7.0, 4.5)}.items():
        for d in (0.05, 1.0):
            rows += [
                (0, d, rt, rt, "full_rank", 1e-6, full),
                (0, d, rt, rt, "full_rank", 1e-2, full - 1.0),
                (0, d, rt, rt, "rank1", 1e-6, rank1 - 5.0),
                (0, d, rt, rt, "rank1", 1e-2, rank1),
                (0, d, rt, rt, "binary_mask", np.nan, 5.0),
            ]
    cols = ["set", "spacing", "rt60", "rt60_measured", "method", "reg", "sdr"]
    return pd.DataFrame(rows, columns=cols)


def test_oracle_summary_keeps_the_best_loading_per_model():
    summary = oracle_summary(_oracle_frame())
    np.testing.assert_allclose(summary["full_rank"], [10.0, 8.0, 7.0])
    np.testing.assert_allclose(summary["rank1"], [9.0, 6.0, 4.5])
    np.testing.assert_allclose(summary["binary_mask"], 5.0)
    assert loading_table(_oracle_frame()).shape == (6, 2)


def test_gap_statistics():
    stats = gap_statistics(oracle_summary(_oracle_frame()))
    assert stats["gap"] == {"0.1": 1.0, "0.3": 2.0, "0.5": 2.5}
    assert stats["positive"] and stats["non_decreasing"]
    assert (stats["first"], stats["last"]) == (1.0, 2.5)
    summary = pd.DataFrame({"a": [1.0, 3.0, 2.0], "b": [0.0, 0.0, 0.0]}, index=[0.1, 0.2, 0.3])
    stats = gap_statistics(summary, "a", "b")
    assert stats["positive"] and not stats["non_decreasing"]
    assert not gap_statistics(summary, "b", "a")["positive"]


def test_blind_summary_and_cost_steps():
    df = pd.DataFrame(
        [
            (k, rt, m, 0.0, float(k), 0.0, 0.0)
            for k in range(2)
            for rt in (0.25, 0.5)
            for m in ("x", "y")
        ],
        columns=["set", "rt60", "method", "sdr", "sdri", "sir", "sar"],
    )
    np.testing.assert_allclose(blind_summary(df).to_numpy(), 0.5)
    assert max_relative_increase([10.0, 9.0, 9.0]) == 0.0
    assert max_relative_increase([10.0, 11.0]) == 0.1


def test_fastmnmf_peer_is_seeded_and_leaves_the_global_rng_alone():
    from parsimony.separation.experiments.duong2010 import fastmnmf_images

    x = np.random.default_rng(0).standard_normal((3000, 2))
    state = np.random.get_state()  # noqa: NPY002
    a = fastmnmf_images(x, 3, 2, 256, 128, random_state=1)
    b = fastmnmf_images(x, 3, 2, 256, 128, random_state=1)
    assert a.shape == (3000, 3)
    np.testing.assert_array_equal(a, b)
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(state[1], after[1])
