"""Majority-voting neuron pruning (issue 20, paper C): votes, removal, schedule."""

import numpy as np
import pytest
import torch
from parsimony.compression.pruning.shrink import count_parameters
from parsimony.compression.pruning.voting import (
    neuron_scores,
    remove_lowest,
    vote_counts,
    voting_prune,
)
from parsimony.nn import build_model


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 10)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _model():
    return build_model("mlp", in_features=10, n_classes=2, hidden=[20, 10], random_state=0)


def test_votes_count_top_q_per_sample():
    X, _ = _data()
    votes = vote_counts(_model(), X, q=0.25)
    assert votes["layers.0"].sum() == len(X) * 5 and votes["layers.2"].sum() == len(X) * 2
    model = _model()  # a unit with a huge bias is in every sample's top
    with torch.no_grad():
        model.layers[0].bias[3] = 100.0
    assert vote_counts(model, X)["layers.0"][3] == len(X)


def test_votes_on_a_cnn():
    model = build_model("cnn", input_shape=[8, 8], n_classes=3, channels=[4, 6], random_state=0)
    votes = vote_counts(model, np.random.default_rng(0).standard_normal((7, 64)).astype(np.float32))
    assert set(votes) == {"features.0", "features.4"} and votes["features.0"].sum() == 7


@pytest.mark.parametrize("method", ["voting", "l2", "random"])
def test_remove_lowest_shrinks_each_layer(method):
    X, _ = _data()
    model = _model()
    small = remove_lowest(model, neuron_scores(model, method, X), 0.5)
    assert small.config["hidden"] == [10, 5]
    assert count_parameters(small) < count_parameters(model)


def test_l2_removes_the_smallest_rows():
    model = _model()
    with torch.no_grad():
        model.layers[0].weight[7] = 0
        model.layers[0].bias[7] = 0
    scores = neuron_scores(model, "l2")
    assert np.argmin(scores["layers.0"]) == 7


def test_voting_prune_schedule():
    data = _data()
    net, hist = voting_prune(_model(), data, fraction=0.2, every=2, epochs=6)
    assert [h["epoch"] for h in hist] == [2, 4, 6]
    assert [h["widths"] for h in hist] == [[16, 8], [13, 7], [13, 7]]
    assert net.config["hidden"] == [13, 7]


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        neuron_scores(_model(), "taylor")
    with pytest.raises(ValueError, match="needs X"):
        neuron_scores(_model(), "voting")
    with pytest.raises(ValueError, match="q"):
        vote_counts(_model(), _data()[0], q=0.0)
    with pytest.raises(ValueError, match="fraction"):
        remove_lowest(_model(), neuron_scores(_model(), "l2"), 1.0)
