"""Magnitude pruning masks that stay applied through training.

Unstructured magnitude pruning (Han et al. 2015; the mask of Frankle & Carbin 2019 and of
Zullich et al. 2020, paper B of the pruning card) keeps the weights of largest absolute
value. With ``scope="global"`` one threshold is shared by every selected layer (the
sparsity is the fraction of *all* selected weights set to zero); with ``scope="layer"``
each layer is pruned to the same (or its own) sparsity.

The masks are attached with :func:`torch.nn.utils.prune.custom_from_mask`, the mechanism a
PyTorch user knows: the layer keeps ``weight_orig`` (trainable) and a ``weight_mask``
buffer, and a forward pre-hook recomputes ``weight = weight_orig * weight_mask`` before
every forward pass, so pruned weights stay zero while the model trains (their gradients
are zero as well). Pruning again ranks the surviving weights only: already-pruned weights
are pruned first, so masks are nested across rounds (what IMP needs).

Examples
--------
>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
>>> masks = prune_magnitude(model, 0.8)
>>> round(sparsity(model), 2)
0.8
>>> sorted(masks)
['0', '2']
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import prune

from parsimony._validation import check_choice, check_float, check_module
from parsimony.compression.layers import select_layers

__all__ = [
    "PRUNABLE_LAYERS",
    "apply_masks",
    "copy_model",
    "get_masks",
    "magnitude_masks",
    "prune_magnitude",
    "remove_masks",
    "sparsity",
]

#: layer types whose ``weight`` can be masked
PRUNABLE_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _layers(model, layers, exclude):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    out = select_layers(model, layers, exclude, types=PRUNABLE_LAYERS)
    if not out:
        raise ValueError("model has no prunable layer (nn.Linear, nn.Conv1d, nn.Conv2d)")
    return out


def _current(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight before masking, current mask) of one layer."""
    if prune.is_pruned(module) and hasattr(module, "weight_mask"):
        return module.weight_orig.detach(), module.weight_mask.detach().bool()
    w = module.weight.detach()
    return w, torch.ones_like(w, dtype=torch.bool)


def _keep_largest(scores: torch.Tensor, n_prune: int) -> torch.Tensor:
    """Boolean mask keeping all but the ``n_prune`` smallest scores (ties: first index)."""
    flat = scores.reshape(-1)
    order = torch.sort(flat, stable=True).indices
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[order[:n_prune]] = False
    return keep.reshape(scores.shape)


def magnitude_masks(
    model: nn.Module, sparsity, scope: str = "global", layers=None, exclude=None
) -> dict[str, torch.Tensor]:
    """Masks keeping the largest-magnitude weights; nested in the masks already applied.

    Parameters
    ----------
    model : torch.nn.Module
    sparsity : float or mapping of str to float
        Target fraction of zero weights in [0, 1): of all selected weights (``"global"``)
        or of each layer (``"layer"``; a mapping gives one value per layer name).
    scope : {"global", "layer"}
    layers, exclude : str or sequence of str, optional
        fnmatch patterns on layer names (see :func:`~parsimony.compression.layers.select_layers`).

    Returns
    -------
    dict of str to torch.Tensor
        Layer name -> boolean mask of the weight's shape (True = kept). A weight already
        masked out stays masked out (it scores below every surviving weight).
    """
    scope = check_choice(scope, "scope", ("global", "layer"))
    selected = _layers(model, layers, exclude)
    if isinstance(sparsity, Mapping):
        if scope != "layer":
            raise ValueError("a per-layer sparsity mapping needs scope='layer'")
        unknown = set(sparsity) - {n for n, _ in selected}
        if unknown:
            raise ValueError(f"sparsity names unknown layers: {sorted(unknown)}")
        targets = {n: sparsity.get(n, 0.0) for n, _ in selected}
    else:
        targets = {n: sparsity for n, _ in selected}
    targets = {
        n: check_float(s, "sparsity", low=0.0, high=1.0, high_inclusive=False)
        for n, s in targets.items()
    }
    scores = {}
    for name, mod in selected:
        w, m = _current(mod)
        # pruned weights score -1: below every surviving |w| >= 0, so they go first
        scores[name] = torch.where(m, w.abs().float(), torch.full_like(w, -1.0, dtype=torch.float))
    if scope == "layer":
        return {n: _keep_largest(s, int(round(targets[n] * s.numel()))) for n, s in scores.items()}
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    s0 = next(iter(targets.values()))
    keep = _keep_largest(flat, int(round(s0 * flat.numel())))
    out, start = {}, 0
    for n, s in scores.items():
        out[n] = keep[start : start + s.numel()].reshape(s.shape)
        start += s.numel()
    return out


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Attach (or replace) the masks of the named layers, in place; returns ``model``.

    A layer not yet pruned gets :func:`torch.nn.utils.prune.custom_from_mask`; a pruned
    layer gets its ``weight_mask`` buffer overwritten (the new mask should be nested in
    the old one, as :func:`magnitude_masks` makes it). ``weight`` is updated at once.
    """
    check_module(model)
    if not isinstance(masks, Mapping):
        raise TypeError(f"masks must be a mapping of layer name to tensor, got {type(masks)}")
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        if name not in modules or not isinstance(modules[name], PRUNABLE_LAYERS):
            raise ValueError(f"masks names {name!r}, not a prunable layer of the model")
        mod = modules[name]
        mask = torch.as_tensor(mask)
        shape = _current(mod)[0].shape
        if mask.shape != shape:
            raise ValueError(f"mask of {name!r} has shape {tuple(mask.shape)}, weight {shape}")
        w = _current(mod)[0]
        mask = mask.to(dtype=w.dtype, device=w.device)
        if prune.is_pruned(mod):
            mod.weight_mask.copy_(mask)
            mod.weight = mod.weight_orig * mod.weight_mask
        else:
            prune.custom_from_mask(mod, "weight", mask)
    return model


def prune_magnitude(
    model: nn.Module, sparsity, scope: str = "global", layers=None, exclude=None
) -> dict[str, torch.Tensor]:
    """Compute :func:`magnitude_masks` and apply them in place; returns the masks."""
    masks = magnitude_masks(model, sparsity, scope, layers, exclude)
    apply_masks(model, masks)
    return masks


def get_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Layer name -> boolean mask of every masked layer of ``model``."""
    return {
        n: m.weight_mask.detach().bool().clone()
        for n, m in model.named_modules()
        if isinstance(m, PRUNABLE_LAYERS) and hasattr(m, "weight_mask")
    }


def remove_masks(model: nn.Module) -> nn.Module:
    """Make the masks permanent (zeros in a plain ``weight`` parameter), in place."""
    check_module(model)
    for _, mod in model.named_modules():
        if isinstance(mod, PRUNABLE_LAYERS) and prune.is_pruned(mod):
            prune.remove(mod, "weight")
    return model


def sparsity(model: nn.Module, layers=None, exclude=None) -> float:
    """Fraction of exactly-zero weights over the selected prunable layers."""
    selected = _layers(model, layers, exclude)
    zeros = sum(int((m.weight == 0).sum()) for _, m in selected)
    total = sum(m.weight.numel() for _, m in selected)
    return zeros / total


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` that also works while masks are attached.

    (``copy.deepcopy`` refuses a masked layer: its ``weight`` is a non-leaf tensor, the
    product ``weight_orig * weight_mask``; it is detached for the copy and recomputed.)
    """
    import copy

    masked = [m for m in model.modules() if isinstance(m, PRUNABLE_LAYERS) and prune.is_pruned(m)]
    saved = [m.weight for m in masked]
    try:
        for m in masked:
            m.weight = m.weight.detach()
        new = copy.deepcopy(model)
    finally:
        for m, w in zip(masked, saved, strict=True):
            m.weight = w
    for m in new.modules():
        if isinstance(m, PRUNABLE_LAYERS) and prune.is_pruned(m):
            m.weight = m.weight_orig * m.weight_mask
    return new
