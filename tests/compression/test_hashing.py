"""Structured Multi-Hashing and HashedNets: budget, tiling, gradients, init, packing."""

import math

import numpy as np
import pytest
import torch
from parsimony.compression import pack, size_report, unpack
from parsimony.compression.hashing import (
    HashedLayer,
    SMHLayer,
    SMHPool,
    fanout_scale,
    hash_indices,
    hashednets_model,
    pool_shape,
    smh_model,
    split_budget,
)
from parsimony.nn import build_model
from torch import nn


def _mlp(seed=0, hidden=(64, 64)):
    return build_model("mlp", in_features=20, n_classes=5, hidden=list(hidden), random_state=seed)


def _smh_layers(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, SMHLayer)]


@pytest.mark.parametrize("pool", ["matmul", "kron"])
@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.5, 1.0])
def test_trainable_count_is_2mr_and_within_budget(pool, fraction):
    net = _mlp()
    small = smh_model(net, fraction, pool=pool, scalar=True)
    info = small.smh_info_
    n = 20 * 64 + 64 * 64 + 64 * 5
    assert info["N"] == n
    side = info["m"] if pool == "kron" else info["m"]
    pool_params = sum(p.numel() for p in _smh_layers(small)[0][1].pool.parameters())
    assert pool_params == 2 * side * info["r"] <= fraction * n
    scalars = sum(1 for _, m in _smh_layers(small) if m.scalar is not None)
    assert info["n_trainable"] == pool_params + scalars == pool_params + 3
    biases = 64 + 64 + 5
    assert sum(p.numel() for p in small.parameters()) == info["n_trainable"] + biases


def test_slices_tile_the_virtual_vector_and_are_stable_across_rebuilds():
    a, b = smh_model(_mlp(0), 0.2, random_state=3), smh_model(_mlp(1), 0.2, random_state=3)
    offsets = sorted(a.smh_info_["offsets"].values())
    pos = 0
    for start, numel in offsets:
        assert start == pos
        pos += numel
    assert pos == a.smh_info_["N"]
    assert a.smh_info_["offsets"] == b.smh_info_["offsets"]
    for (_, la), (_, lb) in zip(_smh_layers(a), _smh_layers(b), strict=True):
        assert torch.equal(la.weight, lb.weight)  # same seed, same pool, same slices


def test_weights_are_slices_of_vec_uv():
    small = smh_model(_mlp(), 0.3)
    pool = _smh_layers(small)[0][1].pool
    flat = (pool.U @ pool.V).reshape(-1)
    for _, layer in _smh_layers(small):
        o, n = layer.offset, layer.numel
        expected = flat[o : o + n].view(layer.weight_shape) * layer.fanout
        assert torch.allclose(layer.weight, expected, atol=1e-6)


def test_kron_pool_is_a_sum_of_kronecker_products():
    small = smh_model(_mlp(), 0.3, pool="kron")
    pool = _smh_layers(small)[0][1].pool
    explicit = sum(torch.kron(pool.A[i], pool.B[i]) for i in range(pool.r))
    assert torch.allclose(pool.matrix(), explicit, atol=1e-5)
    assert torch.allclose(pool.rows(5, 9), explicit[5:9], atol=1e-5)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_fraction_outside_unit_interval_raises(fraction):
    with pytest.raises(ValueError, match="fraction"):
        smh_model(_mlp(), fraction)


def test_zero_replicas_raises_naming_fraction_and_smallest_feasible():
    with pytest.raises(ValueError, match=r"fraction=0.001.*r = 0.*smallest feasible"):
        pool_shape(10000, 0.001)
    assert pool_shape(10000, 0.02)["r"] == 1  # the smallest feasible fraction, 2m/N


def test_unsupported_module_type_raises():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(TypeError, match="Embedding"):
        smh_model(model, 0.5)
    with pytest.raises(TypeError, match="Embedding"):
        hashednets_model(model, 0.5)


def test_gradient_of_u_matches_finite_differences():
    torch.manual_seed(0)
    net = build_model("mlp", in_features=6, n_classes=3, hidden=[8], random_state=0)
    small = smh_model(net, 0.5).double()
    pool = _smh_layers(small)[0][1].pool
    x = torch.randn(5, 6, dtype=torch.float64)

    def loss():
        return small(x).pow(2).sum()

    loss().backward()
    grad = pool.U.grad.clone()
    eps = 1e-6
    for idx in [(0, 0), (2, 0), (pool.m - 1, pool.r - 1)]:
        with torch.no_grad():
            pool.U[idx] += eps
            up = loss().item()
            pool.U[idx] -= 2 * eps
            down = loss().item()
            pool.U[idx] += eps
        assert abs((up - down) / (2 * eps) - grad[idx].item()) < 1e-5 * max(1, abs(grad[idx]))


def test_initial_std_matches_fanout_target():
    net = build_model("mlp", in_features=40, n_classes=10, hidden=[256, 256], random_state=0)
    for pool in ("matmul", "kron"):
        small = smh_model(net, 0.1, pool=pool, random_state=1)
        for name, layer in _smh_layers(small):
            target = fanout_scale(layer.spec)
            std = float(layer.weight.detach().std())
            assert abs(std / target - 1) < 0.2, (pool, name, std, target)
    conv = build_model("cnn", input_shape=[8, 8], channels=[16, 32], random_state=0)
    small = smh_model(conv, 0.2)
    layer = dict(_smh_layers(small))["features.4"]
    assert math.isclose(fanout_scale(layer.spec), math.sqrt(2 / (9 * 32)))
    assert abs(float(layer.weight.detach().std()) / fanout_scale(layer.spec) - 1) < 0.2


@pytest.mark.parametrize(
    "kwargs", [{}, {"pool": "kron"}, {"scalar": True}]
)  # fmt: skip
def test_pack_round_trip_is_exact_and_counts_pool_scalars_and_biases(kwargs):
    small = smh_model(_mlp(), 0.2, **kwargs)
    with torch.no_grad():  # move away from the initialisation
        for p in small.parameters():
            p.add_(0.01 * torch.randn_like(p))
    blob = pack(small)
    rebuilt = unpack(blob)
    x = torch.randn(7, 20)
    assert torch.equal(rebuilt(x), small.eval()(x))
    report = size_report(small)
    assert report.by_kind["pool"] == 4 * (
        small.smh_info_["n_trainable"] - 3 * bool(kwargs.get("scalar"))
    )
    assert report.by_kind["float"] == 4 * (64 + 64 + 5)
    assert pack(rebuilt) == blob


def test_smh_on_a_conv_net_packs_and_keeps_batchnorm_float():
    conv = build_model("cnn", input_shape=[8, 8], channels=[4, 8], random_state=0)
    small = smh_model(conv, 0.3)
    blob = pack(small)
    x = torch.randn(3, 64)
    assert torch.equal(unpack(blob)(x), small.eval()(x))
    assert any(isinstance(m, nn.BatchNorm2d) for m in unpack(blob).modules())


def test_hashednets_is_a_seeded_random_hash_with_signs():
    idx, sign = hash_indices(10000, 50, 1, 2)
    counts = np.bincount(idx.numpy(), minlength=50)
    assert counts.min() > 100 and counts.max() < 300  # uniform, not a cyclic tiling
    assert not torch.equal(idx[:50], torch.arange(50))
    assert abs(float(sign.mean())) < 0.05 and set(sign.tolist()) == {-1.0, 1.0}
    idx2, sign2 = hash_indices(10000, 50, 1, 2)
    assert torch.equal(idx, idx2) and torch.equal(sign, sign2)


def test_hashednets_budget_pack_and_weights():
    net = _mlp()
    h = hashednets_model(net, budget=500, random_state=4)
    layers = [m for m in h.modules() if isinstance(m, HashedLayer)]
    assert sum(m.buckets.numel() for m in layers) <= 500
    lay = layers[1]
    assert torch.equal(lay.weight.reshape(-1), lay.buckets[lay.idx] * lay.sign)
    blob = pack(h)
    x = torch.randn(4, 20)
    assert torch.equal(unpack(blob)(x), h.eval()(x))
    assert size_report(h).by_kind["seed"] == 8 * len(layers)


def test_split_budget_is_proportional_and_within_budget():
    assert sum(split_budget([10, 1000, 5], 100)) <= 100
    assert min(split_budget([10, 1000, 5], 100)) >= 1
    assert split_budget([100, 300], 40) == [10, 30]
    with pytest.raises(ValueError, match="budget"):
        split_budget([10, 20, 30], 2)


def test_seed_is_a_deprecated_alias_of_random_state():
    net = _mlp()
    with pytest.warns(FutureWarning, match="random_state"):
        old = smh_model(net, 0.2, seed=5)
    assert pack(old) == pack(smh_model(net, 0.2, random_state=5))
    with pytest.warns(FutureWarning, match="random_state"):
        old = hashednets_model(net, 0.2, seed=5)
    assert pack(old) == pack(hashednets_model(net, 0.2, random_state=5))
    with pytest.warns(FutureWarning, match="random_state"):
        pool = SMHPool("matmul", 8, 2, seed=3)
    assert torch.equal(pool.U, SMHPool("matmul", 8, 2, random_state=3).U)
    with pytest.raises(ValueError, match="random_state"):
        smh_model(net, 0.2, random_state=-1)


def test_smh_model_is_deterministic_and_leaves_the_input_alone():
    net = _mlp()
    before = [p.clone() for p in net.parameters()]
    a, b = smh_model(net, 0.2, random_state=5), smh_model(net, 0.2, random_state=5)
    assert pack(a) == pack(b)
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))


def test_registered_as_method_smh_and_packed_by_the_core():
    from parsimony.compression import METHODS, compress_model

    assert "smh" in METHODS
    X = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    small = compress_model(_mlp(), "smh", (X, y), fraction=0.2, epochs=1)
    assert torch.equal(unpack(pack(small))(torch.as_tensor(X)), small(torch.as_tensor(X)))
