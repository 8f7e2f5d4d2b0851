import numpy as np
import pytest
import torch
from parsimony.nn import MLP, build_model, evaluate, predict, train


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _params(model):
    return [p.detach().clone() for p in model.state_dict().values()]


KW = {"epochs": 4, "lr": 1e-2, "batch_size": 16, "seed": 7, "progress": False}


def test_deterministic_and_learns():
    data = _data()
    m1 = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.1, random_state=0)
    m2 = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.1, random_state=0)
    h1 = train(m1, data, **KW)
    h2 = train(m2, data, **KW)
    assert h1 == h2
    for a, b in zip(_params(m1), _params(m2), strict=True):
        assert torch.equal(a, b)
    assert h1[-1]["loss"] < h1[0]["loss"]
    assert evaluate(m1, data)["accuracy"] > 0.8
    assert not m1.training


def test_training_leaves_global_rng_alone():
    torch.manual_seed(1)
    ref = torch.rand(3)
    torch.manual_seed(1)
    train(build_model("mlp", in_features=6, n_classes=2, hidden=[4]), _data(), **KW)
    assert torch.equal(torch.rand(3), ref)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_after_interruption_is_bit_identical(tmp_path, schedule):
    data, valid = _data(), _data(32, seed=1)
    kw = dict(KW, schedule=schedule, valid_data=valid)
    ref = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.2, random_state=0)
    h_ref = train(ref, data, **kw)

    class Stop(Exception):
        pass

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Stop

    ckpt = tmp_path / "run.ckpt"
    m = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.2, random_state=0)
    with pytest.raises(Stop):
        train(m, data, checkpoint=ckpt, callback=stop_after_two, **kw)
    assert ckpt.exists()
    m = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.2, random_state=0)
    seen = []
    h = train(m, data, checkpoint=ckpt, callback=seen.append, **kw)
    assert [r["epoch"] for r in seen] == [3, 4]
    assert h == h_ref
    for a, b in zip(_params(m), _params(ref), strict=True):
        assert torch.equal(a, b)
    # a finished run reloads instantly
    m3 = build_model("mlp", in_features=6, n_classes=2, hidden=[16], dropout=0.2, random_state=9)
    assert train(m3, data, checkpoint=ckpt, **kw) == h_ref
    with pytest.raises(ValueError, match="other arguments"):
        train(m3, data, checkpoint=ckpt, **dict(kw, lr=0.5))


def test_language_model_and_eval():
    torch.manual_seed(0)
    X = torch.randint(0, 5, (32, 8))
    Y = (X + 1) % 5  # next token is a deterministic function of the current one
    lm = build_model(
        "char_transformer", vocab_size=5, context=8, d_model=16, n_heads=2, n_layers=1, seed=0
    )
    train(lm, (X, Y), epochs=30, lr=1e-2, batch_size=8, progress=False)
    r = evaluate(lm, (X, Y))
    assert r["n"] == 32 * 8 and r["accuracy"] > 0.9
    assert r["perplexity"] == pytest.approx(np.exp(r["loss"]))
    assert predict(lm, X[:3]).shape == (3, 8, 5)


def test_bad_input():
    m = build_model("mlp", in_features=6, n_classes=2, hidden=[4])
    X, y = _data()
    with pytest.raises(ValueError, match="same positive number"):
        train(m, (X, y[:-1]), progress=False)
    with pytest.raises(TypeError, match="integer labels"):
        train(m, (X, y.astype(float)), progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        train(m, (X, y), optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train(m, (X, y), epochs=-1, progress=False)
    with pytest.raises(TypeError, match="pair"):
        train(m, X, progress=False)


def test_penalty_is_added_to_the_loss():
    from parsimony.nn import MLP, train

    X = torch.randn(64, 4)
    y = (X[:, 0] > 0).long()
    kwargs = {"epochs": 2, "lr": 1e-2, "batch_size": 16, "progress": False}
    plain, shrunk = MLP(4, 2, hidden=(8,)), MLP(4, 2, hidden=(8,))
    shrunk.load_state_dict(plain.state_dict())
    h0 = train(plain, (X, y), **kwargs)
    h1 = train(
        shrunk,
        (X, y),
        penalty=lambda m: 10.0 * sum(p.pow(2).sum() for p in m.parameters()),
        **kwargs,
    )
    assert h1[0]["loss"] > h0[0]["loss"] + 1.0  # the recorded loss includes the penalty
    norm = lambda m: float(sum(p.detach().pow(2).sum() for p in m.parameters()))  # noqa: E731
    assert norm(shrunk) < norm(plain)


def test_custom_loss_takes_float_targets_and_frozen_bn_keeps_statistics():
    from parsimony.nn import SmallCNN

    torch.manual_seed(0)
    X = torch.randn(32, 1, 8, 8)
    teacher_logits = torch.randn(32, 10)
    model = SmallCNN(input_shape=(8, 8), n_classes=10, channels=(4,))
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    hist = train(model, (X, teacher_logits), loss=lambda out, t: ((out - t) ** 2).mean(),
                 frozen_bn=True, epochs=2, progress=False)  # fmt: skip
    assert torch.equal(bn.running_mean, before) and len(hist) == 2
    with pytest.raises(TypeError, match="integer labels"):
        train(model, (X, teacher_logits), epochs=1, progress=False)
    with pytest.raises(TypeError, match="loss must be callable"):
        train(model, (X, teacher_logits), loss="mse", epochs=1, progress=False)


def test_bad_training_data_is_refused():
    model = MLP(4, 2, hidden=(8,))
    X = torch.randn(8, 4)
    with pytest.raises(ValueError, match="NaN"):
        train(model, (X.masked_fill(X > 1, float("nan")), torch.zeros(8).long()), progress=False)
    with pytest.raises(ValueError, match="negative labels"):
        train(model, (X, -torch.ones(8).long()), progress=False)
    with pytest.raises(TypeError, match="deprecated alias"):
        train(model, (X, torch.zeros(8).long()), seed=1, random_state=1, progress=False)


def test_checkpoint_of_other_data_or_truncated_is_refused(tmp_path):
    X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    ckpt = tmp_path / "c.ckpt"
    train(MLP(4, 2, hidden=(8,)), (X, y), epochs=1, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="other arguments.*data"):
        train(MLP(4, 2, hidden=(8,)), (X + 1, y), epochs=2, checkpoint=ckpt, progress=False)
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated"):
        train(MLP(4, 2, hidden=(8,)), (X, y), epochs=2, checkpoint=ckpt, progress=False)
