"""IMP with rewinding and AIMP (issue 20, paper B): schedules, nesting, zeros, rewinding."""

import numpy as np
import pytest
import torch
from parsimony.compression.pruning.imp import aimp, imp, round_epochs
from parsimony.compression.pruning.masks import get_masks
from parsimony.nn import build_model, evaluate


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 10)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def _model():
    return build_model("mlp", in_features=10, n_classes=2, hidden=[16], random_state=0)


def test_round_epochs():
    assert round_epochs(10, 3) == [10, 10, 10]
    assert round_epochs(10, 3, 0.4) == [4, 4, 10]
    assert round_epochs(2, 2, 0.1) == [1, 2]
    with pytest.raises(ValueError, match="fraction"):
        round_epochs(10, 3, 0.0)
    with pytest.raises(ValueError, match="n_rounds"):
        round_epochs(10, 0)


def test_imp_hits_the_schedule_and_keeps_zeros():
    data = _data()
    model = _model()
    before = [p.clone() for p in model.parameters()]
    net, hist = imp(model, data, rate=0.3, n_rounds=3, epochs=2,
                    evaluate=lambda m: evaluate(m, data)["accuracy"])  # fmt: skip
    total = 10 * 16 + 16 * 2
    for h in hist:
        expected = round((1 - 0.7 ** h["round"]) * total) / total if h["round"] else 0.0
        assert h["sparsity"] == pytest.approx(expected, abs=1e-12)  # zeros survive training
        assert 0.0 <= h["score"] <= 1.0
    assert [h["total_epochs"] for h in hist] == [2, 4, 6, 8]
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before, strict=True))
    assert set(get_masks(net)) == {"layers.0", "layers.2"}


def test_aimp_spends_fewer_epochs_and_reaches_the_same_sparsity():
    data = _data()
    _, h_imp = imp(_model(), data, rate=0.5, n_rounds=3, epochs=5)
    _, h_aimp = aimp(_model(), data, rate=0.5, n_rounds=3, epochs=5)
    assert h_aimp[-1]["total_epochs"] == 5 + 2 + 2 + 5 < h_imp[-1]["total_epochs"] == 20
    assert h_aimp[-1]["sparsity"] == h_imp[-1]["sparsity"]


def test_rewind_to_init_restores_surviving_weights():
    data = _data()
    model = _model()
    init = model.layers[0].weight.detach().clone()
    net, _ = imp(model, data, rate=0.5, n_rounds=1, epochs=1, rewind="init", lr=0.0)
    mask = get_masks(net)["layers.0"]
    # lr = 0: training moves nothing, so the rewound weights are the initial ones, masked
    torch.testing.assert_close(net.layers[0].weight, init * mask)


def test_imp_is_deterministic_and_rejects_bad_input():
    data = _data()
    a, _ = imp(_model(), data, rate=0.5, n_rounds=1, epochs=1)
    b, _ = imp(_model(), data, rate=0.5, n_rounds=1, epochs=1)
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    with pytest.raises(ValueError, match="rate"):
        imp(_model(), data, rate=1.0)
    with pytest.raises(ValueError, match="rewind"):
        imp(_model(), data, rewind="weights")
