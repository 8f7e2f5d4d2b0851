import math

import numpy as np
import pytest
import torch
from parsimony.compression import pack, unpack
from parsimony.compression.quant_noise import QuantNoise, add_quant_noise, remove_quant_noise
from parsimony.compression.scalar import fake_quantize, quant_params
from parsimony.nn import build_model, predict, train
from torch import nn


def _w(shape=(64, 64), seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_drop_rate_close_to_p():
    torch.manual_seed(0)
    w, p, bs = _w((128, 64)), 0.2, 8
    qn = QuantNoise(w, "proxy", p, bs).train()
    dropped = torch.stack([(to_b := qn(w).reshape(-1, bs)).abs().sum(1) == 0 for _ in range(20)])
    n = dropped.numel()
    assert abs(dropped.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)
    kept = to_b[to_b.abs().sum(1) > 0]
    ref = w.reshape(-1, bs)[to_b.abs().sum(1) > 0] / (1 - p)
    assert torch.allclose(kept, ref)  # survivors rescaled once, by 1 / (1 - p)


def test_proxy_is_unbiased():
    torch.manual_seed(1)
    w, p = _w((16, 16)), 0.3
    qn = QuantNoise(w, "proxy", p, 4).train()
    n = 4000
    mean = sum(qn(w) for _ in range(n)) / n
    # per-entry standard error: |w| sqrt(p / (1 - p) / n)
    se = w.abs() * math.sqrt(p / (1 - p) / n)
    assert ((mean - w).abs() <= 5 * se + 1e-6).all()


@pytest.mark.parametrize("method", ["proxy", "scalar", "pq"])
def test_no_noise_in_eval_and_parameter_never_written(method):
    torch.manual_seed(0)
    model = build_model("mlp", in_features=32, hidden=[32], random_state=0)
    add_quant_noise(model, method, 0.5, bits=4, n_centroids=16, block_size=4)
    layer = model.layers[0]
    original = layer.parametrizations.weight.original
    before = original.detach().clone()
    x = torch.randn(8, 32)
    model.train()
    out = model(x)
    out.sum().backward()
    assert torch.equal(original.detach(), before)  # bit-identical after a training forward
    assert not torch.equal(layer.weight, before)  # but the forward saw noise
    model.eval()
    assert torch.equal(layer.weight, before)
    ref = nn.functional.linear(x, before, layer.bias)
    assert torch.equal(model.layers[0](x), ref)


def test_exact_scalar_noise_p1_is_qat_and_p_half_hits_half():
    torch.manual_seed(0)
    w = _w()
    s, z = quant_params(w, 4, granularity="channel")
    qat = QuantNoise(w, "scalar", 1.0, 1, bits=4).train()
    assert torch.equal(qat(w), fake_quantize(w, s, z, 4))
    half = QuantNoise(w, "scalar", 0.5, 1, bits=4).train()
    hit = half(w) != w
    q = fake_quantize(w, s, z, 4)
    moved = q != w
    frac = (hit & moved).sum() / moved.sum()
    assert abs(frac.item() - 0.5) < 4 * math.sqrt(0.25 / moved.sum().item())


def test_exact_noise_gradient_is_straight_through():
    w = _w((8, 8)).requires_grad_()
    for qn in (QuantNoise(w, "scalar", 1.0, 1, bits=2), QuantNoise(w, "pq", 1.0, 4, n_centroids=4)):
        g = torch.randn(8, 8)
        w.grad = None
        (qn.train()(w) * g).sum().backward()
        assert torch.equal(w.grad, g)


def test_proxy_gradient_is_masked():
    torch.manual_seed(3)
    w = _w((8, 8)).requires_grad_()
    out = QuantNoise(w, "proxy", 0.5, 4).train()(w)
    out.sum().backward()
    dropped = (out.detach() == 0).reshape(-1, 4).all(1)
    grad = w.grad.reshape(-1, 4)
    assert torch.equal(grad[dropped], torch.zeros_like(grad[dropped]))
    assert torch.allclose(grad[~dropped], torch.full_like(grad[~dropped], 2.0))


def test_exact_pq_noise_snaps_blocks_to_centroids():
    torch.manual_seed(0)
    w = _w((32, 16))
    qn = QuantNoise(w, "pq", 1.0, 4, n_centroids=8, update_every=5).train()
    out = qn(w).reshape(-1, 4)
    d = torch.cdist(out, qn.centroids, compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.allclose(d.min(1).values, torch.zeros(out.shape[0]), atol=1e-5)
    assert int(qn.step) == 1


@pytest.mark.parametrize("method", ["scalar", "pq"])
def test_training_with_noise_is_deterministic_and_removable(tmp_path, method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    runs = []
    for _ in range(2):
        torch.manual_seed(len(runs))  # the caller's random state must not matter
        m = build_model("mlp", in_features=16, n_classes=2, hidden=[16], random_state=0)
        add_quant_noise(m, method, 0.5, bits=4, n_centroids=4, block_size=4, update_every=3)
        assert int(m.layers[0].parametrizations.weight[0].step) == 0  # registration is no step
        train(
            m,
            (X, y),
            epochs=2,
            batch_size=32,
            progress=False,
            checkpoint=tmp_path / f"r{len(runs)}.ckpt",
        )
        runs.append(remove_quant_noise(m))
    a, b = runs
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert isinstance(a.layers[0].weight, nn.Parameter)
    assert not hasattr(a.layers[0], "parametrizations")
    x = torch.as_tensor(X[:10])
    assert torch.equal(predict(unpack(pack(a)), x), predict(a, x))


def test_bad_input():
    model = build_model("mlp", in_features=40, hidden=[32], random_state=0)
    with pytest.raises(ValueError, match="'layers.0'"):
        add_quant_noise(model, "proxy", 0.1, block_size=16)
    with pytest.raises(ValueError, match="p must be < 1"):
        add_quant_noise(model, "proxy", 1.0)
    with pytest.raises(ValueError, match="p must lie"):
        add_quant_noise(model, "scalar", 1.5)
    with pytest.raises(ValueError, match="method"):
        add_quant_noise(model, "dropout", 0.1)
    with pytest.raises(ValueError, match="exceeds"):
        add_quant_noise(model, "pq", 0.1, n_centroids=1024, cap_centroids=False)
    add_quant_noise(model, "proxy", 0.1)
    with pytest.raises(ValueError, match="already"):
        add_quant_noise(model, "proxy", 0.1)
    with pytest.raises(ValueError, match="parametrizations"):
        pack(model)


def test_n_iter_is_a_deprecated_alias_in_quant_noise():
    model = build_model("mlp", in_features=16, hidden=[16], random_state=0)
    with pytest.warns(FutureWarning, match="max_iter"):
        add_quant_noise(model, "pq", 0.1, block_size=4, n_centroids=4, n_iter=2)
    assert model.layers[0].parametrizations.weight[0].max_iter == 2
