import copy

import pytest
import torch
from parsimony.compression import pack, size_report, unpack
from parsimony.compression.datafree import (
    BNStatistics,
    FakeQuantLayer,
    SyntheticGenerator,
    WAQuantizedLayer,
    bns_loss,
    bns_similarity,
    calibrate,
    freeze,
    gaussian_kl,
    generate,
    kd_loss,
    quantization_summary,
    quantize_wa,
)
from parsimony.nn import SmallCNN
from torch import nn


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_h, mu = torch.randn(5, generator=g), torch.randn(5, generator=g)
    v_h, v = torch.rand(5, generator=g) + 0.1, torch.rand(5, generator=g) + 0.1
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu_h, v_h.sqrt()), torch.distributions.Normal(mu, v.sqrt())
    )
    torch.testing.assert_close(gaussian_kl(mu_h, v_h, mu, v), ref)


def test_bns_loss_is_sum_of_kl_at_bn_inputs(bn_teacher):
    model, X = bn_teacher
    x = X[:64]
    # BN inputs computed by hand: conv0(x), and conv1(pool(relu(bn0(conv0(x)))))
    f = model.features
    h0 = f[0](x)
    h1 = f[4](f[3](f[2](f[1](h0))))
    ref = 0.0
    with BNStatistics(model) as bs:
        model(x)
    for (mu, var), h, bn in zip(bs.stats, (h0, h1), (f[1], f[5]), strict=True):
        m = h.mean(dim=(0, 2, 3))
        v = h.var(dim=(0, 2, 3), unbiased=False)
        torch.testing.assert_close(mu[0], m)
        torch.testing.assert_close(var[0], v)
        p = torch.distributions.Normal(bn.running_mean, (bn.running_var + bn.eps).sqrt())
        q = torch.distributions.Normal(m, (v + bn.eps).sqrt())
        ref = ref + torch.distributions.kl_divergence(p, q).sum()
    torch.testing.assert_close(bns_loss(model, x)[0], ref.detach())


def test_grouped_statistics_equal_separate_batches(bn_teacher):
    model, X = bn_teacher
    both = bns_loss(model, X[:128], n_groups=2)
    sep = torch.stack([bns_loss(model, X[:64])[0], bns_loss(model, X[64:128])[0]])
    torch.testing.assert_close(both, sep)


@pytest.mark.parametrize("method", ["bns", "inception"])
def test_generation_leaves_teacher_unchanged(method, bn_teacher):
    model, _ = bn_teacher
    model.train()  # mode must be restored, and generation must still run in eval mode
    before = copy.deepcopy(model.state_dict())
    grads = [p.requires_grad for p in model.parameters()]
    SyntheticGenerator(method, 32, (1, 8, 8), max_iter=5, batch_size=32).generate(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == grads


def test_bns_samples_match_running_statistics(bn_teacher):
    model, _ = bn_teacher
    g = SyntheticGenerator("bns", 128, (1, 8, 8), max_iter=300, lr=0.1, batch_size=128).generate(
        model
    )
    assert g.bns_history_[0] / g.bns_history_[-1] >= 10
    assert len(g.bns_history_) == 301 and len(g.loss_history_) == 300
    with BNStatistics(model) as bs:
        model(g.samples_)
    for bn, (mu, var) in zip(BNStatistics(model).layers, bs.stats, strict=True):
        sd = (bn.running_var + bn.eps).sqrt()
        assert ((mu[0] - bn.running_mean).abs() / sd).max() < 0.1
        assert (((var[0] + bn.eps).sqrt() - sd).abs() / sd).max() < 0.1
    # the score ranks the BNS samples below Gaussian noise and near the real data
    assert bns_similarity(model, g.samples_) < bns_similarity(model, torch.randn(128, 1, 8, 8))


def test_similarity_orders_real_below_noise(bn_teacher):
    model, X = bn_teacher
    real = bns_similarity(model, X, batch_size=128)
    noise = bns_similarity(model, torch.randn_like(X), batch_size=128)
    assert real < noise


def test_generators_are_deterministic_and_shaped(bn_teacher):
    model, _ = bn_teacher
    for method in ("gaussian", "inception", "bns"):
        a = generate(model, method, n_samples=16, input_shape=(1, 8, 8), max_iter=3, batch_size=8,
                     random_state=3)  # fmt: skip
        b = generate(model, method, n_samples=16, input_shape=(1, 8, 8), max_iter=3, batch_size=8,
                     random_state=3)  # fmt: skip
        assert a.shape == (16, 1, 8, 8)
        assert torch.equal(a, b)
    c = generate(model, "bns", n_samples=16, input_shape=(1, 8, 8), max_iter=3, random_state=4)
    assert not torch.equal(a, c)


def test_gaussian_is_standard_normal(bn_teacher):
    model, _ = bn_teacher
    x = generate(model, "gaussian", n_samples=4096, input_shape=(1, 8, 8))
    assert abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01


def test_bad_inputs(bn_teacher):
    no_bn = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(ValueError, match="BatchNorm"):
        SyntheticGenerator("bns", 8, (1, 8, 8), max_iter=1).generate(no_bn)
    with pytest.raises(ValueError, match="BatchNorm"):
        bns_similarity(no_bn, torch.randn(8, 64))
    model, _ = bn_teacher
    with pytest.raises(ValueError, match="method"):
        SyntheticGenerator("dream", 8, (1, 8, 8)).generate(model)
    with pytest.raises(ValueError, match="batch_size"):
        SyntheticGenerator("bns", 10, (1, 8, 8), batch_size=4).generate(model)
    with pytest.raises(TypeError, match="model"):
        SyntheticGenerator("bns", 8, (1, 8, 8)).generate("model")
    with pytest.raises(ValueError, match="w_bits"):
        quantize_wa(model, 1, 4)
    with pytest.raises(ValueError, match="method"):
        calibrate(quantize_wa(model), torch.randn(4, 64), method="kl")
    with pytest.raises(ValueError, match="data"):
        bns_similarity(model, torch.full((8, 64), float("nan")))
    with pytest.raises(ValueError, match="n_groups"):
        bns_loss(model, torch.randn(10, 64), n_groups=3)
    with pytest.raises(RuntimeError, match="calibrated"):
        quantize_wa(model)(torch.randn(2, 64))


def test_calibration_ranges_on_known_input():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    net[2].weight.data.fill_(1.0)
    X = torch.tensor([[-2.0, 0.0, 1.0, 3.0], [0.5, 1.0, 6.0, -1.0]])
    s = quantize_wa(net, 4, 4, first_bits=None, last_bits=None, first_input_bits=8)
    calibrate(s, X, "minmax")
    first, last = s[0], s[2]
    assert float(first.act_scale) == pytest.approx(8.0 / 255)
    assert float(first.act_zero) == round(2.0 / (8.0 / 255))
    h = torch.relu(nn.functional.linear(X, first.quantized_weight(), net[0].bias))
    lo, hi = min(float(h.detach().min()), 0.0), max(float(h.detach().max()), 0.0)
    assert float(last.act_scale) == pytest.approx((hi - lo) / 15)
    calibrate(s, X, "percentile", percentile=90.0)
    q_lo, q_hi = torch.quantile(X.flatten(), 0.1), torch.quantile(X.flatten(), 0.9)
    assert float(first.act_scale) == pytest.approx(float(q_hi - q_lo) / 255, rel=1e-5)


def test_first_last_bits_and_summary(bn_teacher):
    model, X = bn_teacher
    s = quantize_wa(model, 2, 4)
    layers = [m for m in s.modules() if isinstance(m, FakeQuantLayer)]
    assert [(m.w_bits, m.a_bits) for m in layers] == [(8, 8), (2, 4), (8, 4)]
    summ = quantization_summary(s)
    assert summ["layers"]["head"]["weight_bits"] == 8
    assert "not folded" in summ["batchnorm"]
    s2 = quantize_wa(model, 3, 3, first_bits=None, last_bits=None, first_input_bits=None)
    assert [(m.w_bits, m.a_bits) for m in s2.modules() if isinstance(m, FakeQuantLayer)] == [
        (3, None), (3, 3), (3, 3)
    ]  # fmt: skip


def test_freeze_pack_round_trip_and_codes(bn_teacher):
    model, X = bn_teacher
    s = calibrate(quantize_wa(model, 4, 4), X[:64])
    frozen = freeze(s)
    x = X[64:96]
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), s.eval()(x), rtol=0, atol=1e-5)
        blob = pack(frozen)
        back = unpack(blob)
        assert torch.equal(back(x), frozen(x))
    for m in frozen.modules():
        if isinstance(m, WAQuantizedLayer):
            assert int(m.codes.min()) >= 0 and int(m.codes.max()) <= 2**m.bits - 1
            w = m.dense_weight()
            assert torch.allclose(w / m.scale, torch.round(w / m.scale), atol=1e-4)
    # weight codes bit-packed: 8-bit first (36 w) and last (320 w) layers, 4-bit middle (288 w)
    assert size_report(frozen).by_kind["indices"] == 36 + 288 // 2 + 320
    assert len(blob) < len(pack(model))


def test_symmetric_per_channel_scalar_layer_round_trip():
    # ScalarQuantizedLayer (symmetric, per channel) unpacks to an equal layer
    from parsimony.compression import ScalarQuantizedLayer, ScalarQuantizer

    lin = nn.Linear(8, 4)
    q = ScalarQuantizedLayer.from_layer(lin, ScalarQuantizer(4, granularity="channel"))
    arrays, _, meta = q.pack_state()
    x = torch.randn(3, 8)
    assert torch.equal(ScalarQuantizedLayer.unpack_state(arrays, meta)(x), q(x))


def test_works_for_1d_models():
    model = SmallCNN((40,), channels=(4, 8), kernel_size=5).eval()
    g = SyntheticGenerator("inception", 16, (1, 40), max_iter=2, batch_size=8).generate(model)
    assert g.samples_.shape == (16, 1, 40) and g.labels_.shape == (16,)
    g = SyntheticGenerator("bns", 16, (1, 40), max_iter=20, batch_size=8).generate(model)
    assert g.bns_history_[-1] < g.bns_history_[0]


def test_callback_protocol_and_n_iter(bn_teacher):
    model, _ = bn_teacher
    states = []
    g = SyntheticGenerator("bns", 16, (1, 8, 8), max_iter=4, batch_size=16)
    g.generate(model, callback=states.append)
    assert [s["iteration"] for s in states] == [1, 2, 3, 4]
    assert [s["objective"] for s in states] == g.loss_history_
    assert g.n_iter_ == 4 and len(g.bns_history_) == 5
    assert SyntheticGenerator("gaussian", 16, (1, 8, 8)).generate(model).n_iter_ == 0
    with pytest.raises(TypeError, match="callback"):
        g.generate(model, callback=3)


def test_n_iter_is_a_deprecated_alias_of_max_iter(bn_teacher):
    model, _ = bn_teacher
    a = SyntheticGenerator("bns", 16, (1, 8, 8), max_iter=3, batch_size=16).generate(model)
    with pytest.warns(FutureWarning, match="max_iter"):
        b = SyntheticGenerator("bns", 16, (1, 8, 8), n_iter=3, batch_size=16).generate(model)
    assert torch.equal(a.samples_, b.samples_) and b.n_iter_ == 3


def test_generator_is_no_estimator():
    # it reads a torch model, not an array: no fit, so sklearn's contract does not apply
    assert not hasattr(SyntheticGenerator(), "fit")
    g = SyntheticGenerator("bns", 8)
    assert g.max_iter == 200 and g.random_state == 0  # parameters stored unmodified


def test_kd_loss_properties(bn_teacher):
    model, X = bn_teacher
    with torch.no_grad():
        z = model(X[:32])
    assert float(kd_loss(z, z)) == 0.0
    assert float(kd_loss(z, z, temperature=4.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(kd_loss(z + torch.randn_like(z), z)) > 0
    # an independent reference: tau^2 KL(p_t || p_s), batch mean
    s = torch.randn_like(z)
    p_t, p_s = torch.softmax(z / 2, -1), torch.softmax(s / 2, -1)
    ref = 4 * (p_t * (p_t.log() - p_s.log())).sum(-1).mean()
    torch.testing.assert_close(kd_loss(s, z, temperature=2.0), ref)
