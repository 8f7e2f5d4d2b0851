"""The sHAM paper's grid and claim statistics (issue 20)."""

import numpy as np
import pytest
import torch
from parsimony.compression.experiments.pruning import (
    accuracy_drop,
    best_ratio,
    product_gap,
    sham_grid,
    smaller_everywhere,
    zstd_bytes,
)
from parsimony.compression.pruning.formats import SHAMLayer
from parsimony.nn import build_model
from torch import nn

ROWS = [
    {"q": 0.0, "sharing": "none", "param": 0, "format": "dense", "bytes": 1000, "accuracy": 0.95},
    {"q": 0.9, "sharing": "cws", "param": 4, "format": "ham", "bytes": 100, "accuracy": 0.90},
    {"q": 0.9, "sharing": "cws", "param": 4, "format": "sham", "bytes": 80, "accuracy": 0.90},
    {"q": 0.5, "sharing": "cws", "param": 4, "format": "ham", "bytes": 300, "accuracy": 0.945},
    {"q": 0.5, "sharing": "cws", "param": 4, "format": "sham", "bytes": 400, "accuracy": 0.945},
]


def test_claim_statistics():
    assert smaller_everywhere(ROWS, "sham", "ham", q_min=0.9) == (True, 1)
    assert smaller_everywhere(ROWS, "sham", "ham") == (False, 2)
    assert smaller_everywhere(ROWS, "sham", "ham", q_min=0.99) == (False, 0)
    assert accuracy_drop(ROWS, 0.95, 0.9, "cws", 4) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="no configuration"):
        accuracy_drop(ROWS, 0.95, 0.7, "cws", 4)
    best = best_ratio(ROWS, 0.95, 1000, max_drop=0.01)
    assert (best["q"], best["format"], best["ratio"]) == (0.5, "ham", pytest.approx(1000 / 300))
    assert best_ratio(ROWS, 1.0, 1000, max_drop=0.01) is None


def test_zstd_and_product_gap():
    lin = nn.Linear(50, 20)
    with torch.no_grad():
        lin.weight.zero_()
    assert zstd_bytes(nn.Sequential(lin)) < 4 * 20 + 100  # zeros cost almost nothing
    lin = nn.Linear(6, 4)
    with torch.no_grad():
        lin.weight.copy_(torch.round(lin.weight * 4) / 4)
    assert product_gap(SHAMLayer.from_module(lin), torch.randn(3, 6)) < 1e-6


def test_sham_grid_small():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = build_model("mlp", in_features=8, n_classes=2, hidden=[12], random_state=0)
    before = [p.clone() for p in model.parameters()]
    rows = sham_grid(model, (X, y), (X, y), [0.0, 0.5], [4], [2], retrain_epochs=1)
    # per q: none -> dense, csr; cws and pws -> dense, csr, ham, sham
    assert len(rows) == 2 * (2 + 2 * 4)
    assert all(r["roundtrip"] for r in rows)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), before, strict=True))
    dense = {r["bytes"] for r in rows if r["format"] == "dense"}
    assert len(dense) == 1  # float32 packing does not see sparsity or sharing
