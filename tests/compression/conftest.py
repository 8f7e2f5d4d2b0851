"""Shared fixtures of the compression tests."""

import pytest
import torch
from parsimony.compression.datafree import bn_layers
from parsimony.nn import build_model


@pytest.fixture
def bn_teacher():
    """A SmallCNN whose BN running statistics are exact averages over a structured input X."""
    model = build_model("cnn", {"input_shape": [8, 8], "channels": [4, 8]}, random_state=0)
    for _, bn in bn_layers(model):
        bn.momentum = None  # cumulative average
    g = torch.Generator().manual_seed(0)
    X = 0.5 + 2.0 * torch.randn(512, 1, 8, 8, generator=g).cumsum(-1) / 3
    model.train()
    with torch.no_grad():
        for i in range(0, 512, 128):
            model(X[i : i + 128])
    return model.eval(), X
