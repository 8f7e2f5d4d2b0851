"""Magnitude masks and physical shrinking (issue 20): schedules, nesting, equivalence."""

import pytest
import torch
from parsimony.compression.pruning.masks import (
    apply_masks,
    get_masks,
    magnitude_masks,
    prune_magnitude,
    remove_masks,
    sparsity,
)
from parsimony.compression.pruning.shrink import (
    count_parameters,
    mask_units,
    shrink_model,
    unit_keep_from_masks,
)
from parsimony.nn import build_model
from torch import nn


def _mlp(random_state=0):
    return build_model(
        "mlp", in_features=12, n_classes=4, hidden=[10, 8], random_state=random_state
    )


def _cnn(ndim=2):
    shape = [8, 8] if ndim == 2 else [16]
    return build_model("cnn", input_shape=shape, n_classes=3, channels=[4, 6], random_state=0)


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("target", [0.0, 0.5, 0.9])
def test_masks_hit_the_target_sparsity(scope, target):
    model = _mlp()
    masks = prune_magnitude(model, target, scope=scope)
    total = sum(m.numel() for m in masks.values())
    assert sparsity(model) == pytest.approx(round(target * total) / total, abs=1e-12)
    if scope == "layer":
        for name, m in masks.items():
            assert (~m).sum() == round(target * m.numel()), name


def test_global_mask_is_one_threshold():
    model = _mlp()
    weights = {
        n: m.weight.detach().abs() for n, m in model.named_modules() if isinstance(m, nn.Linear)
    }
    masks = magnitude_masks(model, 0.7)
    kept = torch.cat([weights[n][m] for n, m in masks.items()])
    dropped = torch.cat([weights[n][~m] for n, m in masks.items()])
    assert kept.min() >= dropped.max()


def test_masks_stay_zero_through_training():
    model = _mlp()
    masks = prune_magnitude(model, 0.8)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 12, generator=g), torch.randint(0, 4, (32,), generator=g)
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model(x)
    for name, mod in model.named_modules():
        if name in masks:
            assert torch.all(mod.weight[~masks[name]] == 0)
            assert torch.equal(get_masks(model)[name], masks[name])
    assert sparsity(model) == pytest.approx(0.8, abs=1e-2)


def test_rounds_are_nested_and_remove_keeps_zeros():
    model = _mlp()
    first = prune_magnitude(model, 0.5)
    with torch.no_grad():  # surviving weights change; pruned ones must stay pruned
        for _, mod in model.named_modules():
            if hasattr(mod, "weight_orig"):
                mod.weight_orig.mul_(-3.0)
    second = prune_magnitude(model, 0.8)
    for name in first:
        assert not torch.any(second[name] & ~first[name])
    remove_masks(model)
    assert not any(hasattr(m, "weight_mask") for m in model.modules())
    assert sparsity(model) == pytest.approx(0.8, abs=1e-2)


def test_per_layer_mapping_and_patterns():
    model = _mlp()
    masks = prune_magnitude(model, {"layers.0": 0.5}, scope="layer")
    assert (~masks["layers.0"]).float().mean() == pytest.approx(0.5)
    assert masks["layers.2"].all()
    masks = magnitude_masks(_mlp(), 0.5, exclude="layers.4")
    assert set(masks) == {"layers.0", "layers.2"}


def test_mask_bad_input():
    model = _mlp()
    with pytest.raises(ValueError, match="sparsity"):
        magnitude_masks(model, 1.0)
    with pytest.raises(ValueError, match="scope"):
        magnitude_masks(model, 0.5, scope="row")
    with pytest.raises(ValueError, match="scope='layer'"):
        magnitude_masks(model, {"layers.0": 0.5})
    with pytest.raises(ValueError, match="unknown"):
        magnitude_masks(model, {"nope": 0.5}, scope="layer")
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"layers.0": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="prunable"):
        apply_masks(model, {"layers.1": torch.ones(1)})
    with pytest.raises(TypeError, match="model"):
        magnitude_masks("model", 0.5)
    with pytest.raises(ValueError, match="prunable"):
        magnitude_masks(nn.Sequential(nn.ReLU()), 0.5)


def _keep(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    layers = [
        (n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))
    ]
    keep = {}
    for name, mod in layers[:-1]:
        k = torch.rand(mod.weight.shape[0], generator=g) < 0.6
        k[0] = True
        keep[name] = k
    return keep


@pytest.mark.parametrize("make", [_mlp, lambda: _cnn(2), lambda: _cnn(1)])
def test_shrunk_network_equals_masked_network(make):
    model = make().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    keep = _keep(model)
    small, masked = shrink_model(model, keep).eval(), mask_units(model, keep).eval()
    x = (
        torch.randn(7, 12)
        if "hidden" in model.config
        else torch.randn(7, *model.config["input_shape"])
    )
    torch.testing.assert_close(small(x), masked(x), rtol=1e-5, atol=1e-6)
    removed = sum(int((~k).sum()) for k in keep.values())
    assert count_parameters(small) < count_parameters(model) or removed == 0
    # the config is updated: the architecture rebuilds with the same shapes
    rebuilt = build_model(type(model).arch, small.config)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in small.parameters()]


def test_shrink_reads_masks_and_leaves_input_alone():
    model = _mlp()
    keep = {"layers.0": torch.arange(10) % 2 == 0}
    with torch.no_grad():
        model.layers[0].weight[~keep["layers.0"]] = 0
        model.layers[0].bias[~keep["layers.0"]] = 0
    assert torch.equal(unit_keep_from_masks(model)["layers.0"], keep["layers.0"])
    prune_magnitude(model, 0.3)
    small = shrink_model(model, keep)
    assert not any(hasattr(m, "weight_mask") for m in small.modules())
    x = torch.randn(5, 12)
    torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-6)
    assert model.layers[0].weight.shape == (10, 12)  # the input is not shrunk
    assert hasattr(model.layers[0], "weight_mask")
    assert count_parameters(model, nonzero=True) < count_parameters(model)


def test_shrink_bad_input():
    model = _mlp()
    with pytest.raises(ValueError, match="output layer"):
        shrink_model(model, {"layers.4": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="not a Linear"):
        shrink_model(model, {"layers.1": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="boolean"):
        shrink_model(model, {"layers.0": torch.ones(4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="every unit"):
        shrink_model(model, {"layers.0": torch.zeros(10, dtype=torch.bool)})
    with pytest.raises(TypeError, match="mapping"):
        shrink_model(model, [1, 2])
