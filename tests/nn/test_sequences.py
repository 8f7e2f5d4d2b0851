"""Sequence tasks (parsimony.data.sequences) and the recurrent model."""

import numpy as np
import pytest
import torch
from parsimony.data.sequences import (
    ADDING_BASELINE_MSE,
    adding_problem,
    digits_sequences,
    mnist1d_sequences,
    noise_pad,
)
from parsimony.nn.recurrent import SequenceRNN


def test_digits_rows_and_pixels_hold_the_same_images():
    rows = digits_sequences("rows", valid_fraction=0.2)
    pixels = digits_sequences("pixels", valid_fraction=0.2)
    assert rows["train"][0].shape[1:] == (8, 8) and pixels["train"][0].shape[1:] == (64, 1)
    np.testing.assert_array_equal(rows["test"][0].reshape(-1, 64), pixels["test"][0][..., 0])
    assert rows["train"][0].dtype == np.float32 and 0 <= rows["train"][0].min()
    assert rows["train"][0].max() <= 1


def test_mnist1d_sequences_shape():
    s = mnist1d_sequences(valid_fraction=0.1)
    assert s["train"][0].shape[1:] == (40, 1) and len(s["test"][0]) == 1000


def test_adding_problem_targets_and_baseline():
    X, y = adding_problem(20000, 50, random_state=3)
    assert (X[..., 1].sum(1) == 2).all()
    assert (X[:, :25, 1].sum(1) == 1).all()
    np.testing.assert_allclose((X[..., 0] * X[..., 1]).sum(1), y, rtol=1e-6)
    assert abs(float(np.mean((y - 1) ** 2)) - ADDING_BASELINE_MSE) < 0.01
    X2, y2 = adding_problem(20000, 50, random_state=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_noise_pad_is_deterministic_and_keeps_the_signal():
    split = {"train": (np.ones((5, 3, 2), np.float32), np.arange(5)), "valid": None,
             "test": (np.ones((4, 3, 2), np.float32), np.arange(4))}  # fmt: skip
    a, b = (
        noise_pad(split, 6, sigma=0.5, random_state=1),
        noise_pad(split, 6, sigma=0.5, random_state=1),
    )
    assert a["train"][0].shape == (5, 9, 2) and a["valid"] is None
    assert np.array_equal(a["train"][0], b["train"][0])
    assert (a["train"][0][:, :3] == 1).all()
    assert not np.array_equal(a["train"][0][:4, 3:], a["test"][0][:, 3:])


def test_bad_input():
    with pytest.raises(ValueError, match="mode"):
        digits_sequences("columns")
    with pytest.raises(ValueError, match="length"):
        adding_problem(3, 1)
    with pytest.raises(TypeError, match="split"):
        noise_pad([1, 2], 3)
    with pytest.raises(ValueError, match="cell"):
        SequenceRNN(1, 2, cell="lstm")
    with pytest.raises(ValueError, match="x must have shape"):
        SequenceRNN(3, 2)(torch.zeros(2, 5, 2))


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_sequence_rnn_stacked_shapes(cell):
    model = SequenceRNN(2, 1, hidden=6, n_layers=3, cell=cell)
    assert model(torch.zeros(4, 7, 2)).shape == (4, 1)
    assert model.rnn.num_layers == 3
