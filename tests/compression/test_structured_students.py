"""LMA / APL activations (Xu et al., AAAI 2020) and the structured experiment helpers."""

import numpy as np
import pytest
import torch
from parsimony.compression.experiments.structured import (
    accuracy_at_half_zero,
    activation_overhead,
    distill,
    fake_int8,
    make_student,
    shrink_first_layer,
    shrunk_bytes,
    student_bytes,
    student_sweep,
    zero_column_gap,
)
from parsimony.nn import MLP
from parsimony.nn.activations import APL, LMA


def reference_lma(x, slopes, cuts):
    """Independent reference: slope a_j on (c_j, c_{j+1}), continuous, f(c_1) = a_0 c_1."""
    x, out = np.asarray(x, float), np.empty(len(x))
    for i, v in enumerate(x):
        f, prev = slopes[0] * min(v, cuts[0]), cuts[0]
        if v > cuts[0]:
            for j, c_next in enumerate(list(cuts[1:]) + [np.inf], start=1):
                f += slopes[j] * (min(v, c_next) - prev)
                if v <= c_next:
                    break
                prev = c_next
        out[i] = f
    return out


@pytest.mark.parametrize("k", [1, 4, 8])
def test_lma_equals_reference_and_is_piecewise_linear(k):
    act = LMA(k).eval()
    with torch.no_grad():
        act.slopes.copy_(torch.randn(k + 1, generator=torch.Generator().manual_seed(k)))
    x = torch.linspace(-4, 4, 8001, dtype=torch.float64)
    y = act.double()(x).detach().numpy()
    cuts = act.cuts().numpy()
    np.testing.assert_allclose(y, reference_lma(x.numpy(), act.slopes.detach().numpy(), cuts),
                               atol=1e-9)  # fmt: skip
    d2 = np.abs(np.diff(y, 2))
    kinks = x.numpy()[1:-1][d2 > 1e-9]
    assert all(np.min(np.abs(cuts - t)) <= 2e-3 for t in kinks)  # kinks only near the c_j
    assert np.max(np.abs(np.diff(y))) < 1e-2  # continuous on the grid


def test_lma_statistics_update_only_in_train_mode():
    act = LMA(4)
    x = 3 + 2 * torch.randn(1000, generator=torch.Generator().manual_seed(0))
    act.eval()
    act(x)
    assert float(act.running_mean) == 0.0 and float(act.running_std) == 1.0
    act.train()
    for _ in range(100):
        act(x)
    assert abs(float(act.running_mean) - 3) < 0.1 and abs(float(act.running_std) - 2) < 0.1


def test_apl_shape_and_hinges():
    act = APL(3, n_hinges=1)
    with torch.no_grad():
        act.a.fill_(2.0)
        act.b.fill_(1.0)
    y = act(torch.tensor([[-1.0, 0.5, 2.0]]))
    np.testing.assert_allclose(y.detach().numpy(), [[4.0, 1.5, 2.0]])


@pytest.mark.parametrize("bad", [dict(n_cuts=0), dict(momentum=2.0), dict(span=0.0)])
def test_lma_bad_input(bad):
    with pytest.raises(ValueError):
        LMA(**bad)


def test_student_overhead_and_bytes():
    s = make_student(40, 32, 10, "lma", n_cuts=8)
    assert activation_overhead(s) < 0.01
    dense = 4 * sum(p.numel() for p in s.parameters()) + 2 * 8
    assert student_bytes(s) == dense
    assert student_bytes(s, 8) < student_bytes(s) / 3
    with pytest.raises(ValueError):
        make_student(40, 32, 10, "gelu")


def test_distill_and_int8_are_deterministic():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(96, 5, generator=g)
    y = (X[:, 0] > 0).long()
    t = torch.stack([-X[:, 0], X[:, 0]], 1) * 3
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        s = distill(make_student(5, 8, 2, "lma"), (X, y), t, epochs=2, random_state=1)
        outs.append(fake_int8(s)(X).detach())
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    w = s[0].weight.detach()
    assert len(torch.unique(w[0])) <= 256


def test_shrunk_first_layer_equals_masked():
    torch.manual_seed(0)
    model = MLP(10, 3, hidden=(6,)).eval()
    with torch.no_grad():
        model.layers[0].weight[:, [1, 4, 7]] = 0
    small, keep = shrink_first_layer(model)
    X = torch.randn(20, 10)
    torch.testing.assert_close(small(X[:, torch.as_tensor(keep)]), model(X))
    assert list(keep) == [0, 2, 3, 5, 6, 8, 9]
    assert shrunk_bytes(model) == 4 * (6 * 7 + 6 + 6 * 3 + 3) + 7


def test_claim_statistics():
    recs = [
        {"constraint": "none", "eta": None, "accuracy": 0.95, "zero_columns": 0.0},
        {"constraint": "l1", "eta": 5.0, "accuracy": 0.90, "zero_columns": 0.2},
        {"constraint": "l11", "eta": 5.0, "accuracy": 0.93, "zero_columns": 0.6},
        {"constraint": "l11", "eta": 9.0, "accuracy": 0.94, "zero_columns": 0.4},
    ]
    assert zero_column_gap(recs) == pytest.approx({5.0: 0.4})
    r = accuracy_at_half_zero(recs)
    assert r["eta"] == 5.0 and r["drop"] == pytest.approx(2.0)
    assert accuracy_at_half_zero(recs[:2], "l1") is None
    with pytest.raises(ValueError):
        accuracy_at_half_zero(recs[1:])


def test_student_sweep_records():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 5, generator=g).numpy()
    y = (X[:, 0] > 0).astype(np.int64)
    t = np.stack([-X[:, 0], X[:, 0]], 1)
    split = {"train": (X, y), "test": (X, y)}
    recs = student_sweep(split, t, [4], ["relu", "lma2"], [0], epochs=1)
    assert [r["activation"] for r in recs] == ["relu", "lma2"]
    assert recs[1]["bytes"] == recs[0]["bytes"] + 2 * 4 * (3 + 2)
    assert all(r["bytes_int8"] < r["bytes"] for r in recs)
