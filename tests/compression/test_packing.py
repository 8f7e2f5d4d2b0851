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
    model = _trained_bn(build_model(arch, config, random_state=1), x)
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
    model = build_model("mlp", in_features=12, hidden=[16, 8], random_state=0).eval()
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
    model = build_model("mlp", in_features=4, hidden=[4], random_state=0)
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


# ------------------------------------------------------------- every built-in type, fresh process
def _method_models():
    """One small compressed model per built-in tag, through compress_model."""
    from parsimony.compression import compress_model

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    base = build_model("mlp", in_features=16, n_classes=2, hidden=[16], random_state=0)
    calls = {
        "scalar": ("int8", {}),
        "pq": ("pq", {"block_size": 4, "n_centroids": 4, "max_iter": 2}),
        "smh": ("smh", {"fraction": 0.3, "epochs": 1}),
        "hashednets": ("hashednets", {"fraction": 0.3, "epochs": 1}),
        "epr": ("epr", {"lam": 1.0, "epochs": 1}),
        "uniform_coded": ("quantize_then_code", {"step": 0.05}),
        "lowrank": ("lowrank_svd", {"rank": {"layers.0": 2, "*": 1}}),
        "wa_scalar": ("wa", {"w_bits": 4, "a_bits": 4}),
        # pruning (issue 20)
        "sparse": ("prune", {"sparsity": 0.8, "fmt": "bitmask"}),
        "ham": ("ham", {"sparsity": 0.5, "n_clusters": 8, "sharing": "pws"}),
        "sham": ("sham", {"sparsity": 0.8, "n_clusters": 8}),
    }
    return {tag: compress_model(base, m, (X, y), **kw) for tag, (m, kw) in calls.items()}, X


_FRESH = """
import sys
import numpy as np, torch
import parsimony.compression as c
blob = open(sys.argv[1], "rb").read()
x = torch.from_numpy(np.load(sys.argv[2]))
expected = torch.from_numpy(np.load(sys.argv[3]))
model = c.unpack(blob)
assert {m.tag for m in model.modules() if c.is_compressed(m)} == {sys.argv[4]}
with torch.no_grad():
    out = model(x)
assert torch.equal(out, expected), (out - expected).abs().max()
"""


@pytest.fixture(scope="module")
def packed_methods(tmp_path_factory):
    models, X = _method_models()
    folder = tmp_path_factory.mktemp("blobs")
    x = X[:8]
    np.save(folder / "x.npy", x)
    for tag, model in models.items():
        with torch.no_grad():
            out = model.eval()(torch.from_numpy(x))
        (folder / f"{tag}.bin").write_bytes(pack(model))
        np.save(folder / f"{tag}.npy", out.numpy())
    return folder


def test_builtin_map_covers_every_builtin_type():
    import importlib

    from parsimony.compression import BUILTIN_LAYERS

    for tag, module in BUILTIN_LAYERS.items():
        importlib.import_module(module)
        assert tag in COMPRESSED_LAYERS, f"{module} does not register {tag!r}"
    for tag, cls in COMPRESSED_LAYERS.items():
        if cls.__module__.startswith("parsimony."):
            assert tag in BUILTIN_LAYERS, f"built-in type {tag!r} is missing from BUILTIN_LAYERS"


def test_packed_model_of_every_builtin_type_loads_in_a_fresh_process(packed_methods):
    import subprocess
    import sys

    from parsimony.compression import BUILTIN_LAYERS

    tags = sorted(p.stem for p in packed_methods.glob("*.bin"))
    assert tags == sorted(BUILTIN_LAYERS)
    for tag in tags:
        args = [str(packed_methods / f) for f in (f"{tag}.bin", "x.npy", f"{tag}.npy")]
        res = subprocess.run([sys.executable, "-c", _FRESH, *args, tag], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert res.returncode == 0, f"{tag}: {res.stderr[-2000:]}"


def test_unknown_tag_names_the_tag():
    from parsimony.compression import compressed_layer_class

    with pytest.raises(ValueError, match="'nope'"):
        compressed_layer_class("nope")
    with pytest.raises(TypeError, match="tag"):
        compressed_layer_class(3)
    assert compressed_layer_class("smh").__name__ == "SMHLayer"


def test_compress_model_reaches_every_method():
    from parsimony.compression import METHODS, compress_model

    assert set(METHODS) >= {"int8", "int4", "pq", "ipq", "smh", "hashednets", "epr",
                            "quantize_then_code", "lowrank_svd", "lowrank_l1", "wa"}  # fmt: skip
    assert all(callable(f) and not f.__name__.startswith("_") for f in METHODS.values())
    base = build_model("mlp", in_features=16, n_classes=2, hidden=[16], random_state=0)
    X = torch.randn(32, 16, generator=torch.Generator().manual_seed(0))
    y = (X[:, 0] > 0).long()
    before = [p.detach().clone() for p in base.parameters()]
    l1 = compress_model(base, "lowrank_l1", rank={"layers.0": 2, "*": 1})
    assert [type(m).__name__ for m in l1.layers][::2] == ["LowRankLayer", "LowRankLayer"]
    ipq = compress_model(base, "ipq", (X, y), block_size=4, n_centroids=4, max_iter=2)
    x = X[:4]
    for model in (l1, ipq, compress_model(base, "int4")):
        assert torch.equal(unpack(pack(model))(x), model.eval()(x))
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters(), strict=True))
    for method in ("ipq", "epr", "wa"):
        with pytest.raises(ValueError, match="train_data"):
            compress_model(base, method)
    with pytest.raises(TypeError, match="model"):
        compress_model("net", "int8")
