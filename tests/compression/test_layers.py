import pytest
import torch
from parsimony.compression import (
    apply_layer,
    check_block_size,
    from_blocks,
    layer_spec,
    per_layer,
    select_layers,
    set_module,
    to_blocks,
    weight_shape,
)
from parsimony.nn import build_model
from torch import nn

LAYERS = [
    (nn.Linear(6, 4), torch.randn(3, 6)),
    (nn.Linear(6, 4, bias=False), torch.randn(3, 6)),
    (nn.Conv1d(2, 4, 3, padding=1, stride=2), torch.randn(3, 2, 9)),
    (nn.Conv2d(4, 6, 3, padding=1, groups=2), torch.randn(2, 4, 5, 5)),
    (nn.Conv2d(4, 6, 1), torch.randn(2, 4, 5, 5)),
    (nn.Embedding(10, 4, padding_idx=0), torch.tensor([[0, 3, 9]])),
]


@pytest.mark.parametrize(("layer", "x"), LAYERS)
def test_apply_layer_matches_module(layer, x):
    spec = layer_spec(layer)
    assert weight_shape(spec) == tuple(layer.weight.shape)
    bias = getattr(layer, "bias", None)
    assert torch.equal(apply_layer(spec, x, layer.weight, bias), layer(x))


def test_blocks_round_trip_and_layout():
    w = torch.randn(6, 4, 3, 3)
    b = to_blocks(w, 9)
    assert b.shape == (24, 9) and torch.equal(b[5], w[1, 1].reshape(-1))  # one kernel per block
    assert torch.equal(from_blocks(b, w.shape), w)
    w = torch.randn(5, 16)
    assert torch.equal(to_blocks(w, 8)[3], w[1, 8:])


def test_check_block_size_names_the_layer():
    assert check_block_size((8, 4, 3, 3), 9, "conv") == 9
    assert check_block_size((8, 4, 3, 3), 18, "conv") == 18
    with pytest.raises(ValueError, match="'fc1'"):
        check_block_size((4, 40), 16, "fc1")
    with pytest.raises(ValueError, match="straddle.*'conv'"):
        check_block_size((8, 4, 3, 3), 4, "conv")
    with pytest.raises(ValueError, match="block_size"):
        check_block_size((4, 4), 0, "x")


def test_select_layers_and_set_module():
    cnn = build_model("cnn", input_shape=[8, 8], channels=[4, 8], random_state=0)
    names = [n for n, _ in select_layers(cnn)]
    assert names == ["features.0", "features.4", "head"]  # BatchNorm never selected
    assert [n for n, _ in select_layers(cnn, layers="features.*")] == names[:2]
    assert [n for n, _ in select_layers(cnn, exclude=["head"])] == names[:2]
    with pytest.raises(ValueError, match="matches no"):
        select_layers(cnn, layers="nope")
    set_module(cnn, "head", nn.Identity())
    assert isinstance(cnn.head, nn.Identity)


def test_per_layer():
    assert per_layer(8, "x", "bs") == 8
    with pytest.raises(ValueError, match="no pattern"):
        per_layer({"a": 1}, "b", "bs")


def test_unsupported_layers():
    with pytest.raises(TypeError, match="'bn'"):
        layer_spec(nn.BatchNorm1d(3), "bn")
    with pytest.raises(ValueError, match="padding"):
        layer_spec(nn.Conv1d(1, 1, 3, padding="same"), "c")
