"""Projections onto the l1, l1,1, l2,1 and nuclear-norm balls (Barlaud & Guyard, ICPR 2020)."""

import numpy as np
import pytest
import torch
from parsimony.compression.structured.projections import (
    PROJECTIONS,
    constraint_value,
    project,
    project_l1,
    project_l1_rows,
    project_l11,
    train_projected,
    zero_columns,
)
from parsimony.nn import MLP

KINDS = sorted(PROJECTIONS)


def bisection_l1(v, eta, n_iter=200):
    """Independent reference: bisection on the soft threshold theta."""
    a = np.abs(v).ravel()
    if a.sum() <= eta:
        return v.copy()
    lo, hi = 0.0, a.max()
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        if np.maximum(a - mid, 0).sum() > eta:
            lo = mid
        else:
            hi = mid
    return np.sign(v) * np.maximum(np.abs(v) - hi, 0)


@pytest.mark.parametrize("seed", range(5))
def test_l1_matches_bisection(seed):
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((4, 7))
    eta = float(rng.uniform(0.1, 5))
    np.testing.assert_allclose(project_l1(v, eta), bisection_l1(v, eta), atol=1e-9)


def test_rows_match_single_projections():
    rng = np.random.default_rng(1)
    V, r = rng.standard_normal((6, 9)), rng.uniform(0, 4, 6)
    r[0] = 0.0
    P = project_l1_rows(V, r)
    for i in range(6):
        np.testing.assert_allclose(P[i], bisection_l1(V[i], r[i]), atol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_feasible_idempotent_identity_inside(kind, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((8, 5))
    eta = 0.3 * constraint_value(W, kind)
    P = project(W, kind, eta)
    assert constraint_value(P, kind) <= eta * (1 + 1e-6)
    np.testing.assert_allclose(project(P, kind, eta), P, atol=1e-9)
    big = 2 * constraint_value(W, kind)
    np.testing.assert_allclose(project(W, kind, big), W, atol=1e-12)


@pytest.mark.parametrize("kind", ["l1", "l21", "nuclear"])
def test_exact_projections_beat_feasible_points(kind):
    """Euclidean projection: no random feasible point is closer to W."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((6, 4))
    eta = 0.4 * constraint_value(W, kind)
    P = project(W, kind, eta)
    d = np.linalg.norm(W - P)
    for _ in range(200):
        Q = project(P + 0.3 * rng.standard_normal(W.shape), kind, eta)
        assert np.linalg.norm(W - Q) >= d - 1e-9


def test_l11_removes_whole_columns():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((20, 10)) * np.arange(1, 11)
    P = project_l11(W, 0.1 * np.abs(W).sum())
    z = zero_columns(P)
    assert z.any() and not z.all()
    assert zero_columns(project_l1(W, 0.1 * np.abs(W).sum())).sum() <= z.sum()


def test_dtype_kept_and_eta_zero():
    W = np.ones((3, 2), np.float32)
    for kind in KINDS:
        P = project(W, kind, 0.0)
        assert P.dtype == np.float32 and not P.any()


@pytest.mark.parametrize(
    "W, eta, err",
    [
        (np.ones((2, 2)), -1.0, ValueError),
        (np.array([[1.0, np.nan]]), 1.0, ValueError),
        (np.ones((2, 2), complex), 1.0, TypeError),
        (np.ones(3), 1.0, ValueError),
    ],
)
def test_bad_input(W, eta, err):
    with pytest.raises(err):
        project(W, "l11", eta)


def test_bad_kind():
    with pytest.raises(ValueError, match="kind"):
        project(np.ones((2, 2)), "l3", 1.0)


def _data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 6, generator=g)
    return X, (X[:, 0] > 0).long()


@pytest.mark.parametrize("kind", KINDS)
def test_train_projected_feasible_and_deterministic(kind):
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        model = MLP(6, 2, hidden=(8,))
        train_projected(model, _data(), {"layers.0.weight": (kind, 1.0)}, epochs=2,
                        batch_size=16, random_state=3)  # fmt: skip
        W = model.layers[0].weight.detach().double().numpy()
        assert constraint_value(W, kind) <= 1.0 + 1e-5
        out.append(W)
    np.testing.assert_array_equal(out[0], out[1])


def test_train_projected_masks_keep_zeros():
    torch.manual_seed(0)
    model = MLP(6, 2, hidden=(8,))
    mask = torch.ones(8, 6, dtype=torch.bool)
    mask[:, :3] = False
    train_projected(model, _data(), {}, masks={"layers.0.weight": mask}, epochs=2)
    assert not model.layers[0].weight[:, :3].any()


def test_train_projected_bad_input():
    model = MLP(6, 2, hidden=(8,))
    with pytest.raises(ValueError, match="no parameter"):
        train_projected(model, _data(), {"nope": ("l1", 1.0)})
    with pytest.raises(ValueError, match="kind"):
        train_projected(model, _data(), {"layers.0.weight": ("l7", 1.0)})
    with pytest.raises(TypeError):
        train_projected("model", _data(), {})
