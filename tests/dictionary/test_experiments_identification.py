import numpy as np
import pytest
from parsimony.dictionary.experiments.identification import (
    compare_learners,
    identification_statistics,
    is_non_decreasing,
    phase_transition,
    transition_points,
)


def test_phase_transition_is_deterministic_and_cells_are_independent():
    r1 = phase_transition([4], [0.3], [1.0, 4.0], 3, random_state=1)
    assert r1 == phase_transition([4], [0.3], [1.0, 4.0], 3, random_state=1)
    r2 = phase_transition([4], [0.3], [4.0], 3, random_state=1)
    assert r2[0] == r1[1]


def test_phase_transition_and_points():
    rec = phase_transition([6], [0.3], [0.5, 2.0, 8.0], 4, extra_n_samples=["K-1"])
    assert [r["n_samples"] for r in rec] == [6, 22, 87, 5]
    assert rec[-1]["success"] == 0.0 and rec[2]["success"] == 1.0
    (pt,) = transition_points(rec)
    assert 6 <= pt["n_samples"] <= 87
    assert np.isclose(pt["per_k_log_k"], pt["n_samples"] / (6 * np.log(6)))


def test_is_non_decreasing():
    assert is_non_decreasing([0, 0, 1])
    assert not is_non_decreasing([0.5, 0.4])
    assert is_non_decreasing([0.5, 0.4], slack=0.1)
    assert is_non_decreasing([])


def _rec(K, p, cells):
    return [{"n_atoms": K, "p": p, "ratio": r, "n_samples": int(np.ceil(r * K * np.log(K))),
             "success": s} for r, s in cells]  # fmt: skip


def test_identification_statistics():
    rec = _rec(4, 0.2, [(1.0, 0.4), (2.0, 0.2), (4.0, 0.6), (8.0, 1.0)])
    rec += _rec(8, 0.2, [(1.0, 0.2), (2.0, 0.5), (4.0, 0.45), (8.0, 0.9)])
    rec += [{"n_atoms": 8, "p": 0.2, "ratio": 0.1, "n_samples": 7, "success": 0.5}]  # ignored
    s = identification_statistics(rec, 0.2, slack=0.0)
    assert not s["monotone"] and np.isclose(s["min_step"], -0.05)
    assert identification_statistics(rec, 0.2, slack=0.05)["monotone"]
    assert s["top_min"] == 0.9
    assert s["at_2"] == {4: 0.2, 8: 0.5} and s["ordered_in_k"]
    assert set(s["transition"]) == {"p=0.2/K=4", "p=0.2/K=8"}


def test_compare_learners_records():
    rec = compare_learners(4, [8.0], 0.3, 1, methods=("l1",))
    assert len(rec) == 1 and rec[0]["method"] == "l1" and rec[0]["recovery"] == 1.0
    assert rec[0]["n_iter"] >= 0
    with pytest.raises(ValueError, match="methods must be among"):
        compare_learners(4, [8.0], 0.3, 1, methods=("nope",))


def test_bad_input():
    with pytest.raises(ValueError, match="n_atoms must be >= 2"):
        phase_transition([1], [0.2], [1.0], 2)
    with pytest.raises(ValueError, match="slack"):
        is_non_decreasing([1], slack=-1)
