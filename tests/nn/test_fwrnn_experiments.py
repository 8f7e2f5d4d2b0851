"""Claim statistics of the Frank-Wolfe RNN experiments (parsimony.nn.experiments.fwrnn)."""

import math

import pytest
from parsimony.data.sequences import digits_sequences
from parsimony.nn.experiments.fwrnn import (
    fit_one,
    gradients_to,
    mean_gap,
    median_gradients_to,
    summary,
    sweep,
)


def _run(acc, test):
    return {"gradients": [10, 20, 30], "valid_accuracy": acc, "test_accuracy": test}


RESULT = {
    "adam": {"lr": 0.01, "runs": [_run([0.5, 0.9, 0.95], 0.9), _run([0.5, 0.6, 0.7], 0.8)]},
    "fw_T1": {"lr": 0.03, "runs": [_run([0.9, 0.9, 0.9], 0.95), _run([0.95, 1, 1], 0.85)]},
}


def test_gradients_to_threshold_and_medians():
    assert gradients_to(RESULT["adam"]["runs"][0], 0.9) == 20
    assert math.isinf(gradients_to(RESULT["adam"]["runs"][1], 0.9))
    assert median_gradients_to(RESULT, "fw_T1", 0.9) == 10
    assert math.isinf(median_gradients_to(RESULT, "adam", 0.9))


def test_mean_gap_is_paired_and_summary_is_json_safe():
    assert mean_gap(RESULT, "fw_T1", "adam") == pytest.approx(0.05)
    s = summary(RESULT, 0.9, "clean/")
    assert s["clean/median_gradients_to_0.9/adam"] is None
    assert s["clean/test_accuracy_per_seed/fw_T1"] == [0.95, 0.85]
    assert s["clean/lr/fw_T1"] == 0.03


def test_sweep_is_deterministic_and_picks_from_the_grid():
    split = digits_sequences("rows", valid_fraction=0.2)
    kw = {"n_seeds": 2, "hidden": 4, "epochs": 1, "batch_size": 256}
    a = sweep(split, ["fw_code_T5"], [0.01, 0.03], **kw)
    b = sweep(split, ["fw_code_T5"], [0.01, 0.03], **kw)
    assert a == b and a["fw_code_T5"]["lr"] in (0.01, 0.03)
    assert a["fw_code_T5"]["runs"][0]["gradients"] == [4]  # ceil(1005 / 256) gradients/epoch


def test_bad_input():
    split = digits_sequences("rows")
    with pytest.raises(ValueError, match="valid"):
        sweep(split, ["adam"], [0.01], n_seeds=1, hidden=4, epochs=1, batch_size=64)
    with pytest.raises(ValueError, match="method"):
        fit_one(split, "lbfgs", 0.01, hidden=4, epochs=1, batch_size=64, random_state=0)
