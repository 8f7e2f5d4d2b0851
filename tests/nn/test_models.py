import numpy as np
import pytest
import torch
from parsimony.nn import (
    MLP,
    MODELS,
    CharTransformer,
    CharVocab,
    SmallCNN,
    build_model,
    lm_windows,
    model_spec,
    split_text,
)


@pytest.mark.parametrize(
    ("arch", "config", "x"),
    [
        ("mlp", {"in_features": 40, "hidden": [16, 16]}, torch.randn(3, 40)),
        ("cnn", {"input_shape": [40], "channels": [4, 8]}, torch.randn(3, 40)),
        ("cnn", {"input_shape": [8, 8], "channels": [4]}, torch.randn(3, 1, 8, 8)),
        (
            "char_transformer",
            {"vocab_size": 11, "context": 8, "d_model": 16, "n_heads": 2},
            torch.randint(0, 11, (3, 8)),
        ),
    ],
)
def test_build_spec_round_trip(arch, config, x):
    model = build_model(arch, config, random_state=3)
    spec = model_spec(model)
    assert spec["arch"] == arch
    again = build_model(spec["arch"], spec["config"], random_state=3)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    model.eval()
    out = model(x)
    assert out.shape[0] == 3 and out.shape[-1] == (11 if arch == "char_transformer" else 10)
    assert torch.isfinite(out).all()


def test_seed_does_not_touch_global_state():
    torch.manual_seed(0)
    a = torch.rand(1)
    torch.manual_seed(0)
    build_model("mlp", in_features=4, random_state=5)
    assert torch.equal(torch.rand(1), a)
    m1, m2 = (
        build_model("mlp", in_features=4, random_state=1),
        build_model("mlp", in_features=4, random_state=2),
    )
    assert not torch.equal(m1.layers[0].weight, m2.layers[0].weight)


def test_cnn_has_batchnorm_and_conv_without_bias():
    m = SmallCNN((40,), channels=(4, 8))
    kinds = [type(x).__name__ for x in m.features]
    assert kinds.count("Conv1d") == 2 and kinds.count("BatchNorm1d") == 2
    assert all(c.bias is None for c in m.features if isinstance(c, torch.nn.Conv1d))


def test_transformer_is_causal():
    lm = CharTransformer(7, context=6, d_model=8, n_heads=2, n_layers=2).eval()
    x = torch.randint(0, 7, (1, 6))
    y = x.clone()
    y[0, 4:] = (y[0, 4:] + 1) % 7
    assert torch.allclose(lm(x)[0, :4], lm(y)[0, :4])
    with pytest.raises(ValueError, match="context"):
        lm(torch.zeros(1, 7, dtype=torch.long))


def test_registry():
    assert set(MODELS) == {"mlp", "cnn", "char_transformer"}
    assert model_spec(torch.nn.Linear(2, 2)) is None


def test_bad_input():
    with pytest.raises(ValueError, match="arch"):
        build_model("resnet")
    with pytest.raises(ValueError, match="n_heads"):
        CharTransformer(5, d_model=10, n_heads=3)
    with pytest.raises(TypeError, match="hidden"):
        MLP(4, hidden=8)
    with pytest.raises(ValueError, match="kernel_size"):
        SmallCNN(kernel_size=4)
    with pytest.raises(ValueError, match="too small"):
        SmallCNN((4,), channels=(2, 2, 2))


def test_text_helpers():
    v = CharVocab(b"hello world")
    ids = v.encode(b"hello")
    assert v.decode(ids) == b"hello" and v.size == len(set(b"hello world"))
    with pytest.raises(ValueError, match="vocabulary"):
        v.encode(b"z")
    with pytest.raises(TypeError, match="str"):
        v.encode("hello")
    X, Y = lm_windows(np.arange(20), context=5, stride=3)
    assert X.shape == Y.shape == (5, 5)
    assert np.array_equal(X[:, 1:], Y[:, :-1])
    a, b = split_text(np.arange(100), 0.1)
    assert a.size == 90 and b[0] == 90
