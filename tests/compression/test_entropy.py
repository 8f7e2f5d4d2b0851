"""EPR: lossless coding, coded length against the estimate, rate trend, baseline, errors."""

import numpy as np
import pytest
import torch
from parsimony.compression import pack, size_report, unpack
from parsimony.compression.entropy import (
    EPRLayer,
    LogisticMixtureDensity,
    UniformCodedLayer,
    coding_report,
    decode_symbols,
    encode_symbols,
    epr_model,
    epr_penalty,
    kernel_basis,
    layer_steps,
    logistic_mixture_pmf,
    quantize_then_code,
    uniform_fake_quantize,
)
from parsimony.nn import build_model, train
from torch import nn


def _data(n=256, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, :3].argmax(1)).astype(np.int64)
    return X, y


def _mlp():
    return build_model("mlp", in_features=12, n_classes=3, hidden=[32], random_state=0)


def _perturb(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g) * p.detach().abs().mean())
    return model


@pytest.mark.parametrize("n_symbols", [1, 2, 17])
def test_ans_round_trip_and_length_near_the_ideal(n_symbols):
    rng = np.random.default_rng(n_symbols)
    p = rng.dirichlet(np.ones(n_symbols))
    s = rng.choice(n_symbols, size=5000, p=p)
    words = encode_symbols(s, p)
    assert np.array_equal(decode_symbols(words, p, s.size), s)
    ideal_bytes = -np.log2(p[s]).sum() / 8
    assert words.nbytes <= ideal_bytes * 1.01 + 64


def test_pmf_table_matches_the_density_and_sums_to_one():
    d = LogisticMixtureDensity(3, 2.0)
    with torch.no_grad():
        d.raw.add_(0.05 * torch.randn(d.raw.shape, generator=torch.Generator().manual_seed(0)))
    d.set_params_(d.params_array().astype(np.float32))  # the stored (float16) values
    lo, hi = -60, 60
    table = logistic_mixture_pmf(d.params_array(), lo, hi)
    torch_p = d.likelihood(torch.arange(lo, hi + 1).float()).detach().numpy()
    assert table.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(table, torch_p / torch_p.sum(), rtol=1e-4, atol=1e-7)
    far = d.log_likelihood(torch.tensor([300.0, -300.0, 1e4]))  # stable tails: finite logs
    assert torch.all(torch.isfinite(far)) and torch.all(far < -20)


def test_dct_kernel_basis_is_orthonormal():
    b = kernel_basis((3, 3))
    np.testing.assert_allclose(b @ b.T, np.eye(9), atol=1e-12)


@pytest.mark.parametrize(
    "arch,kwargs,x",
    [
        ("mlp", {"in_features": 12, "n_classes": 3, "hidden": [32]}, torch.randn(5, 12)),
        ("cnn", {"input_shape": [8, 8], "channels": [4, 8]}, torch.randn(5, 64)),
        ("cnn", {"input_shape": [40], "channels": [4]}, torch.randn(5, 40)),
    ],
)
def test_pack_is_lossless_and_rebuilds_the_rounded_network(arch, kwargs, x):
    model = _perturb(epr_model(build_model(arch, kwargs, random_state=0)))
    blob = pack(model)
    rebuilt = unpack(blob)
    assert torch.equal(rebuilt(x), model.eval()(x))
    for (_, a), (_, b) in zip(
        [(n, m) for n, m in model.named_modules() if isinstance(m, EPRLayer)],
        [(n, m) for n, m in rebuilt.named_modules() if isinstance(m, EPRLayer)],
        strict=True,
    ):
        for k in a.groups_:
            assert np.array_equal(a.groups_[k].ints(), b.groups_[k].ints())
    assert pack(rebuilt) == blob


def test_trained_latents_code_within_one_percent_of_the_estimate():
    X, y = _data()
    model = epr_model(_mlp())
    train(model, (X, y), epochs=5, lr=3e-3, batch_size=64, progress=False,
          penalty=epr_penalty(1.0, model))  # fmt: skip
    for row in coding_report(model):
        assert row["coded_bytes"] <= row["estimate_bytes"] * 1.01 + 64, row


def test_size_decreases_as_lambda_grows_and_training_is_deterministic():
    X, y = _data()
    sizes = []
    for lam in (0.0, 2.0, 20.0):
        model = epr_model(_mlp())
        train(model, (X, y), epochs=8, lr=3e-3, batch_size=64, random_state=1, progress=False,
              penalty=epr_penalty(lam, model))  # fmt: skip
        sizes.append(len(pack(model)))
    assert sizes[0] > sizes[1] > sizes[2]
    again = epr_model(_mlp())
    train(again, (X, y), epochs=8, lr=3e-3, batch_size=64, random_state=1, progress=False,
          penalty=epr_penalty(20.0, again))  # fmt: skip
    assert len(pack(again)) == sizes[2]


def test_side_information_is_counted():
    model = _perturb(epr_model(_mlp()))
    kinds = size_report(model).by_kind
    assert kinds["density"] == 2 * 2 * 3 * 3 * 2  # 2 layers x 2 tensors x (3, K=3) float16
    assert kinds["decoder"] == 2 * 2 * 2 * 4  # (log a, b) float32 per tensor
    assert sum(kinds.values()) == len(pack(model))


def test_negative_lambda_and_bad_modules_raise():
    with pytest.raises(ValueError, match="lam"):
        epr_penalty(-1.0)
    with pytest.raises(TypeError, match="Embedding"):
        epr_model(nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 2)))
    with pytest.raises(TypeError, match="model"):
        epr_model("not a model")
    with pytest.raises(ValueError, match="EPRLayer"):
        epr_penalty(1.0)(_mlp())


def test_quantize_then_code_is_uniform_rounding_and_lossless():
    model = _mlp()
    q = quantize_then_code(model, 0.05)
    layer = q.layers[0]
    assert isinstance(layer, UniformCodedLayer)
    expected = torch.round(model.layers[0].weight.detach() / 0.05) * np.float32(0.05)
    assert torch.allclose(layer.weight, expected)
    x = torch.randn(4, 12)
    assert torch.equal(unpack(pack(q))(x), q(x))
    with pytest.raises(ValueError, match="step"):
        quantize_then_code(model, 0.0)


def test_per_layer_steps_and_fake_quantization_store_exactly_the_rounded_values():
    model = _mlp()
    steps = layer_steps(model, 0.5)
    assert sorted(steps) == ["layers.0", "layers.2"]
    for name, step in steps.items():
        w = model.get_submodule(name).weight.detach()
        assert step == pytest.approx(0.5 * float(w.std()))
    q = quantize_then_code(model, steps)
    assert q.layers[0].step == pytest.approx(steps["layers.0"])
    assert q.layers[2].step == pytest.approx(steps["layers.2"])
    fake = uniform_fake_quantize(model, steps)
    x = torch.randn(5, 12)
    assert torch.allclose(fake(x), q(x), atol=1e-6)
    w = fake.layers[0].weight  # rounded forward, identity gradient
    assert torch.allclose(w / steps["layers.0"], torch.round(w / steps["layers.0"]), atol=1e-4)
    X, y = _data()
    train(fake, (X, y), epochs=2, lr=1e-2, batch_size=64, random_state=0, progress=False)
    moved = fake.layers[0].parametrizations.weight.original
    assert not torch.equal(moved, model.layers[0].weight)  # the float weights were trained
    q2 = quantize_then_code(fake, steps)
    assert torch.allclose(unpack(pack(q2))(x), fake(x), atol=1e-5)
    with pytest.raises(ValueError, match="layers"):
        quantize_then_code(model, {"layers.0": 0.1})
    with pytest.raises(ValueError, match="relative_step"):
        layer_steps(model, -1.0)


def test_registered_as_method_epr_and_packed_by_the_core():
    from parsimony.compression import METHODS, compress_model

    assert "epr" in METHODS
    X, y = _data()
    with pytest.raises(ValueError, match="train_data"):
        compress_model(_mlp(), "epr")
    small = compress_model(_mlp(), "epr", (X, y), lam=1.0, epochs=1)
    x = torch.as_tensor(X[:8])
    assert torch.equal(unpack(pack(small))(x), small(x))
