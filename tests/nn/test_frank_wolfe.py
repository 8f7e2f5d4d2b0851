"""The card's exact tests of the Frank-Wolfe wrapper (Yue et al., ICPR 2020) and Lookahead."""

import copy

import pytest
import torch
from parsimony.nn.frank_wolfe import FrankWolfe, Lookahead
from parsimony.nn.recurrent import SequenceRNN
from parsimony.nn.training import train


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def _batches(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)) for _ in range(n)]


def _grad(model, batch):
    model.zero_grad()
    torch.nn.functional.mse_loss(model(batch[0]), batch[1]).backward()


def _adam(lr=1e-2):
    return lambda p: torch.optim.Adam(p, lr=lr)


def test_T1_is_adam_on_normalised_gradients_bit_for_bit():
    a, b = _model(), _model()
    fw = FrankWolfe(a.parameters(), outer=_adam(), inner_lr=1e-3, T=1)
    adam = torch.optim.Adam(b.parameters(), lr=1e-2)
    for batch in _batches(6):
        _grad(a, batch)
        fw.step()
        _grad(b, batch)
        for p in b.parameters():
            p.grad = p.grad / (torch.linalg.vector_norm(p.grad) + 1e-12)
        adam.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("variant", ["code", "fw"])
def test_pseudo_gradient_displacement_and_anchor(variant):
    T, eta = 4, 0.05
    model = _model()
    params = list(model.parameters())
    seen = {}

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen["p"] = [p.detach().clone() for p in params]
            seen["g"] = [p.grad.clone() for p in params]
            return super().step(closure)

    fw = FrankWolfe(params, outer=lambda p: Spy(p, lr=0.1), inner_lr=eta, T=T, variant=variant)
    anchor = [p.detach().clone() for p in params]
    normalised = []
    for t, batch in enumerate(_batches(T), start=1):
        _grad(model, batch)
        normalised.append([p.grad / (torch.linalg.vector_norm(p.grad) + 1e-12) for p in params])
        fw.step()
        if t < T:
            bound = eta * t if variant == "code" else eta
            for p, p0 in zip(params, anchor, strict=True):
                assert torch.linalg.vector_norm(p - p0) <= bound * (1 + 1e-5)
    for i, p0 in enumerate(anchor):  # weights at the anchor just before the outer step
        assert torch.equal(seen["p"][i], p0)
        mean = torch.stack([g[i] for g in normalised]).mean(0)
        torch.testing.assert_close(seen["g"][i], mean, rtol=1e-5, atol=1e-7)


def test_code_variant_moves_further_than_fw_variant():
    moved = {}
    for variant in ("code", "fw"):
        model = _model()
        fw = FrankWolfe(model.parameters(), outer=_adam(), inner_lr=0.05, T=5, variant=variant)
        p0 = [p.detach().clone() for p in model.parameters()]
        for batch in _batches(3):
            _grad(model, batch)
            fw.step()
        moved[variant] = sum(
            float((p.detach() - q).norm()) for p, q in zip(model.parameters(), p0, strict=True)
        )
    assert moved["code"] > moved["fw"] > 0


def test_zero_gradient_gives_no_nan():
    w = torch.nn.Parameter(torch.ones(3))
    fw = FrankWolfe([w], outer=_adam(), inner_lr=0.1, T=2)
    for _ in range(4):
        w.grad = torch.zeros(3)
        fw.step()
    assert torch.isfinite(w).all() and torch.equal(w, torch.ones(3))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: FrankWolfe(p, outer=_adam(), inner_lr=0.02, T=3, variant="fw"),
        lambda p: Lookahead(p, inner=_adam(), k=3, alpha=0.5),
    ],
)
def test_resume_mid_cycle_is_bit_identical(make):
    batches = _batches(7)
    a = _model()
    opt = make(a.parameters())
    for batch in batches:
        _grad(a, batch)
        opt.step()
    b = _model()
    opt_b = make(b.parameters())
    for batch in batches[:4]:  # stop mid-cycle, checkpoint, rebuild, resume
        _grad(b, batch)
        opt_b.step()
    saved = copy.deepcopy((b.state_dict(), opt_b.state_dict()))
    c = _model(seed=5)
    c.load_state_dict(saved[0])
    opt_c = make(c.parameters())
    opt_c.load_state_dict(saved[1])
    for batch in batches[4:]:
        _grad(c, batch)
        opt_c.step()
    for p, q in zip(a.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q)


def test_lookahead_interpolates_every_k_steps():
    w = torch.nn.Parameter(torch.ones(2))
    opt = Lookahead([w], inner=lambda p: torch.optim.SGD(p, lr=0.1), k=2, alpha=0.5)
    for _ in range(2):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    # fast: 1 -> 0.8 -> 0.64; slow: 1 + 0.5 (0.64 - 1) = 0.82
    torch.testing.assert_close(w.detach(), torch.full((2,), 0.82))


def test_train_accepts_factory_instance_and_clipping():
    torch.manual_seed(0)
    X, y = torch.randn(64, 5, 2), torch.randint(0, 3, (64,))
    hists = []
    for build in ("factory", "instance"):
        torch.manual_seed(0)
        model = SequenceRNN(2, 3, hidden=4)
        opt = lambda p: FrankWolfe(p, outer=_adam(), inner_lr=1e-2, T=2)  # noqa: E731
        opt = opt if build == "factory" else opt(model.parameters())
        hists.append(train(model, (X, y), epochs=2, batch_size=16, optimizer=opt,
                           grad_clip=1.0, progress=False, device="cpu"))  # fmt: skip
    assert hists[0] == hists[1]
    with pytest.raises(ValueError, match="schedule"):
        train(SequenceRNN(2, 3, hidden=4), (X, y), optimizer=opt, schedule="cosine",
              progress=False)  # fmt: skip


def test_train_checkpoint_resume_with_frank_wolfe(tmp_path):
    X, y = torch.randn(48, 4, 2), torch.randint(0, 2, (48,))
    make = lambda p: FrankWolfe(p, outer=_adam(), inner_lr=1e-2, T=5)  # noqa: E731
    torch.manual_seed(0)
    full = SequenceRNN(2, 2, hidden=4)
    state0 = copy.deepcopy(full.state_dict())
    train(full, (X, y), epochs=3, batch_size=16, optimizer=make, progress=False, device="cpu")
    part = SequenceRNN(2, 2, hidden=4)
    part.load_state_dict(state0)
    ck = tmp_path / "ck.pt"
    kw = {"batch_size": 16, "optimizer": make, "progress": False, "device": "cpu"}

    def stop(record):
        if record["epoch"] == 1:  # the checkpoint is written before the callback
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(part, (X, y), epochs=3, checkpoint=ck, callback=stop, **kw)
    resumed = SequenceRNN(2, 2, hidden=4)
    train(resumed, (X, y), epochs=3, checkpoint=ck, **kw)
    part = resumed
    for p, q in zip(full.parameters(), part.parameters(), strict=True):
        assert torch.equal(p, q)


def test_bad_arguments():
    w = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="T"):
        FrankWolfe([w], outer=_adam(), T=0)
    with pytest.raises(ValueError, match="variant"):
        FrankWolfe([w], outer=_adam(), variant="x")
    with pytest.raises(ValueError, match="inner_lr"):
        FrankWolfe([w], outer=_adam(), inner_lr=0.0)
    with pytest.raises(TypeError, match="outer"):
        FrankWolfe([w], outer=3)
    with pytest.raises(ValueError, match="every parameter"):
        FrankWolfe([w], outer=torch.optim.Adam([torch.nn.Parameter(torch.ones(1))]))
    with pytest.raises(ValueError, match="alpha"):
        Lookahead([w], inner=_adam(), alpha=1.5)
