import inspect
import math

import numpy as np
import pytest
import torch
from parsimony.compression import pack, size_report, unpack
from parsimony.compression import scalar as scalar_mod
from parsimony.compression.scalar import (
    ScalarQuantizedLayer,
    ScalarQuantizer,
    dequantize,
    fake_quantize,
    quant_params,
    quantize,
    quantize_model,
)
from parsimony.nn import build_model, predict
from torch import nn

G = torch.Generator().manual_seed(0)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("scheme", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("granularity", ["tensor", "channel"])
def test_minmax_error_is_at_most_half_a_step(bits, scheme, granularity):
    w = torch.randn(6, 5, 3, generator=G) * torch.arange(1, 7).reshape(6, 1, 1)
    s, z = quant_params(w, bits, scheme=scheme, granularity=granularity)
    assert s.shape == ((6, 1, 1) if granularity == "channel" else ())
    codes = quantize(w, s, z, bits)
    assert codes.min() >= 0 and codes.max() <= 2**bits - 1
    err = (dequantize(codes, s, z) - w).abs()
    assert (err <= s / 2 * (1 + 1e-5)).all()
    if scheme == "symmetric":
        assert (z == 2 ** (bits - 1)).all()
    assert torch.equal(
        dequantize(quantize(torch.zeros(()), s, z, bits), s, z), torch.zeros_like(s)
    )  # zero is exactly representable


def test_matches_torch_fake_quantize():
    w = torch.randn(100, generator=G)
    s, z = quant_params(w, 4, scheme="asymmetric")
    ref = torch.fake_quantize_per_tensor_affine(w, float(s), int(z), 0, 15)
    assert torch.allclose(fake_quantize(w, s, z, 4), ref, atol=1e-6)


def test_ste_gradient_is_identity():
    w = torch.randn(4, 4, generator=G, requires_grad=True)
    s, z = quant_params(w, 4)
    y = fake_quantize(w, s, z, 4)
    assert torch.equal(y, dequantize(quantize(w.detach(), s, z, 4), s, z))
    (y * torch.arange(16.0).reshape(4, 4)).sum().backward()
    assert torch.equal(w.grad, torch.arange(16.0).reshape(4, 4))


def test_percentile_clips_at_the_quantile():
    torch.manual_seed(0)
    w = torch.distributions.StudentT(2.0).sample((8, 256))
    s, z = quant_params(w, 4, granularity="channel", calibration="percentile", percentile=99.0)
    clip = torch.quantile(w.abs(), 0.99, dim=1)
    assert torch.allclose(s.ravel(), clip / 7)
    codes = quantize(w, s, z, 4)
    inside = w.abs() <= clip[:, None]
    assert (
        (dequantize(codes, s, z) - w).abs()[inside] <= (s / 2 * 1.0001).expand_as(w)[inside]
    ).all()


def test_histogram_is_near_the_mse_optimal_range():
    torch.manual_seed(0)
    w = torch.distributions.StudentT(3.0).sample((4096,))

    def mse(s, z):
        return float(((dequantize(quantize(w, s, z, 4), s, z) - w) ** 2).mean())

    amax = float(w.abs().max())
    brute = min(  # independent reference: exact MSE over a fine grid of clipping ranges
        mse(a / 7, torch.tensor(8.0)) for a in torch.linspace(0.01, 1, 500) * amax
    )
    hist = mse(*quant_params(w, 4, calibration="histogram"))
    assert hist < 0.5 * mse(*quant_params(w, 4))  # clipping pays off on heavy tails
    assert hist <= 1.05 * brute


@pytest.mark.parametrize(
    ("layer", "x"),
    [
        (nn.Linear(16, 5), torch.randn(3, 16)),
        (nn.Conv2d(4, 6, 3, padding=1), torch.randn(2, 4, 5, 5)),
        (nn.Conv1d(3, 4, 1, bias=False), torch.randn(2, 3, 7)),
        (nn.Embedding(11, 8), torch.tensor([[1, 5, 10]])),
    ],
)
@pytest.mark.parametrize(
    ("bits", "scheme", "granularity"),
    [(8, "symmetric", "tensor"), (4, "asymmetric", "channel"), (3, "asymmetric", "tensor")],
)
def test_layer_round_trip_and_bytes(layer, x, bits, scheme, granularity):
    q = ScalarQuantizedLayer.from_layer(layer, ScalarQuantizer(bits, scheme, granularity))
    arrays, kinds, meta = q.pack_state()
    n = layer.weight.numel()
    n_scales = layer.weight.shape[0] if granularity == "channel" else 1
    assert arrays["codes"].nbytes == math.ceil(n * bits / 8)
    assert arrays["scale"].nbytes == 4 * n_scales
    if scheme == "asymmetric":
        assert arrays["zero_point"].nbytes == math.ceil(n_scales * bits / 8)
    else:
        assert "zero_point" not in arrays
    again = ScalarQuantizedLayer.unpack_state(arrays, meta)
    assert torch.equal(again(x), q(x))
    assert torch.equal(again.weight, q.weight)


def test_quantize_model_pack_round_trip_and_size():
    model = build_model("cnn", input_shape=[8, 8], channels=[16, 32], random_state=0).eval()
    q = quantize_model(model, 4, scheme="asymmetric", granularity="channel")
    assert isinstance(model.head, nn.Linear)  # not in place
    assert isinstance(q.head, ScalarQuantizedLayer)
    x = torch.randn(5, 64, generator=G)
    blob = pack(q)
    assert torch.equal(predict(unpack(blob), x), predict(q, x))
    r = size_report(q)
    n_w = sum(m.weight.numel() for m in [model.features[0], model.features[4], model.head])
    assert r.by_kind["indices"] == sum(
        math.ceil(m.weight.numel() * 4 / 8)
        for m in [model.features[0], model.features[4], model.head]
    )
    assert r.n_params == size_report(model).n_params
    assert r.total_bytes == len(blob) and r.ratio_fp32 > 1
    assert n_w > 0


def test_int8_is_close_to_float():
    model = build_model("mlp", in_features=32, hidden=[64], random_state=0).eval()
    x = torch.randn(50, 32, generator=G)
    ref = predict(model, x)
    q8 = predict(quantize_model(model, 8, granularity="channel"), x)
    q4 = predict(quantize_model(model, 4, granularity="channel"), x)
    assert (q8 - ref).abs().max() < (q4 - ref).abs().max() < 1
    assert (q8 - ref).abs().max() < 0.02


def test_device_agnostic_source():
    src = inspect.getsource(scalar_mod)
    assert ".cuda(" not in src and "torch.ao" not in src and "torch.quantization" not in src


def test_bad_input():
    w = torch.randn(3, 3)
    with pytest.raises(ValueError, match="bits"):
        quant_params(w, 1)
    with pytest.raises(ValueError, match="bits"):
        quant_params(w, 9)
    with pytest.raises(ValueError, match="scheme"):
        quant_params(w, 8, scheme="log")
    with pytest.raises(ValueError, match="calibration"):
        quant_params(w, 8, calibration="kl")
    with pytest.raises(TypeError, match="weight"):
        quant_params(w.numpy(), 8)
    with pytest.raises(ValueError, match="NaN"):
        quant_params(torch.tensor([float("nan")]), 8)
    with pytest.raises(ValueError, match="granularity"):
        quantize_model(build_model("mlp", in_features=4, hidden=[4]), 8, granularity="row")


def test_scalar_quantizer_is_a_transformer():
    from parsimony.compression import ScalarQuantizer
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    qz = ScalarQuantizer(4, granularity="channel")
    assert clone(qz).get_params(deep=True) == qz.get_params(deep=False)
    X = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    with pytest.raises(NotFittedError):
        qz.transform(X)
    out = qz.fit_transform(X)
    assert out.dtype == np.float32 and qz.n_features_in_ == 5
    w = torch.from_numpy(X)
    assert np.array_equal(out, qz.dequantize(qz.quantize(w)).numpy())
    # tensors in, tensors out, same values as the array path
    assert torch.equal(clone(qz).fit(w).transform(w), torch.from_numpy(out))
    with pytest.raises(ValueError, match="bits"):
        ScalarQuantizer(bits=9).fit(X)
    with pytest.raises(ValueError, match="features"):
        qz.transform(X[:, :3])
