import math

import numpy as np
import pytest
import torch
from parsimony.compression import (
    COMPRESSED_LAYERS,
    CompressedLayer,
    layer_spec,
    pack,
    pack_bits,
    register_compressed,
    round_floats_,
    set_module,
    size_report,
    unpack,
    unpack_bits,
)
from parsimony.nn import build_model, predict
from torch import nn


@register_compressed("test_sign")
class SignLayer(CompressedLayer):
    """1-bit toy: W = scale * sign(W0), one float32 scale."""

    def __init__(self, spec, signs, scale, bias=None):
        super().__init__(spec, bias)
        self.register_buffer("signs", signs.to(torch.bool))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    @classmethod
    def from_layer(cls, layer):
        w = layer.weight.detach()
        return cls(layer_spec(layer), w >= 0, w.abs().mean(), getattr(layer, "bias", None))

    def dense_weight(self):
        return (self.signs.float() * 2 - 1) * self.scale

    def pack_state(self):
        arrays = {
            "signs": pack_bits(self.signs.flatten().numpy().astype(np.int64), 1),
            "scale": self.scale.numpy().reshape(1),
        }
        kinds = {"signs": "indices", "scale": "scale"}
        self._pack_bias(arrays, kinds)
        return arrays, kinds, {"spec": self.spec}

    @classmethod
    def unpack_state(cls, arrays, meta):
        from parsimony.compression import weight_shape

        shape = weight_shape(meta["spec"])
        signs = unpack_bits(arrays["signs"], 1, math.prod(shape)).reshape(shape)
        return cls(
            meta["spec"],
            torch.from_numpy(signs),
            float(arrays["scale"][0]),
            cls._unpack_bias(arrays),
        )


MODELS = [
    ("mlp", {"in_features": 12, "hidden": [16, 8]}, torch.randn(5, 12)),
    ("cnn", {"input_shape": [8, 8], "channels": [4, 8]}, torch.randn(5, 64)),
    (
        "char_transformer",
        {"vocab_size": 9, "context": 6, "d_model": 8, "n_heads": 2},
        torch.randint(0, 9, (5, 6)),
    ),
]


def _trained_bn(model, x):
    model.train()
    model(x)  # move BatchNorm statistics away from their init
    return model.eval()


@pytest.mark.parametrize(("arch", "config", "x"), MODELS)
def test_float_round_trip_is_exact(arch, config, x):
    model = _trained_bn(build_model(arch, config, seed=1), x)
    blob = pack(model)
    again = unpack(blob)
    assert torch.equal(predict(again, x), predict(model, x))
    r = size_report(model)
    n = sum(t.numel() for t in model.state_dict().values() if t.is_floating_point())
    assert r.n_params == n and r.by_kind["float"] == 4 * n
    assert r.total_bytes == len(blob) == sum(r.by_kind.values())
    assert r.ratio_fp32 < 1  # the header costs a little
    assert r.ratio_fp16 == pytest.approx(r.ratio_fp32 / 2)
    # float16 storage: exact after rounding the in-memory model
    round_floats_(model, "float16")
    blob16 = pack(model, float_dtype="float16")
    assert torch.equal(predict(unpack(blob16), x), predict(model, x))
    assert size_report(model, float_dtype="float16").by_kind["float"] == 2 * n
    assert pack(model, float_dtype="float16") == blob16  # deterministic bytes


def test_compressed_layer_plugs_in():
    assert COMPRESSED_LAYERS["test_sign"] is SignLayer
    x = torch.randn(7, 12)
    model = build_model("mlp", in_features=12, hidden=[16, 8], seed=0).eval()
    ref = size_report(model)
    set_module(model, "layers.2", SignLayer.from_layer(model.layers[2]))
    blob = pack(model)
    again = unpack(blob)
    assert isinstance(again.layers[2], SignLayer)
    assert torch.equal(predict(again, x), predict(model, x))
    r = size_report(model)
    assert r.n_params == ref.n_params  # the float32 reference is the uncompressed model
    assert r.by_kind["indices"] == math.ceil(16 * 8 / 8)
    assert r.by_kind["scale"] == 4
    mods = r.by_module()
    assert mods["layers.2"] == {"indices": 16, "scale": 4, "float": 32}
    assert r.total_bytes < ref.total_bytes and r.ratio_fp32 > ref.ratio_fp32
    assert "layers.2" in str(r) and len(r.to_frame()) == len(r.rows)


def test_unregistered_architecture_needs_a_skeleton():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).eval()
    set_module(model, "2", SignLayer.from_layer(model[2]))
    blob = pack(model)
    with pytest.raises(ValueError, match="model="):
        unpack(blob)
    skeleton = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    again = unpack(blob, model=skeleton)
    assert isinstance(skeleton[2], nn.Linear)  # the skeleton is not modified
    x = torch.randn(5, 4)
    assert torch.equal(again(x), model(x))


def test_bad_input():
    model = build_model("mlp", in_features=4, hidden=[4], seed=0)
    with pytest.raises(ValueError, match="float_dtype"):
        pack(model, float_dtype="int8")
    with pytest.raises(TypeError, match="model"):
        pack("model")
    nn.utils.parametrize.register_parametrization(model.layers[0], "weight", nn.Identity())
    with pytest.raises(ValueError, match="parametrizations"):
        pack(model)
    with pytest.raises(ValueError, match="disagree"):
        unpack(
            pack(build_model("mlp", in_features=4, hidden=[4])),
            model=build_model("mlp", in_features=4, hidden=[4, 4]),
        )
    with pytest.raises(TypeError, match="pack_state"):
        register_compressed("test_bad")(type("Bad", (nn.Module,), {}))
