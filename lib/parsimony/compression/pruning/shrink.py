"""Physical removal of neurons and filters: a smaller dense model.

Neuron-level pruning (paper C of the pruning card, Alqahtani et al. 2020, and the filter
pruning of paper D) removes whole output units: a hidden neuron of an ``nn.Linear`` (a
row of its weight and its bias entry) or a filter of a convolution (an output channel),
together with the matching channel of the BatchNorm that follows and the matching inputs
of the next weight layer. The result is a dense model with fewer parameters whose outputs
equal those of the model with the removed units *masked* (:func:`mask_units`), up to
float summation order.

The model must be a feed-forward chain in module order (``parsimony.nn.MLP`` and
``parsimony.nn.SmallCNN``, or an ``nn.Sequential`` of such layers): the weight layer after
a pruned layer consumes its outputs (directly, or flattened channel-major after a
convolution). A model with a ``config`` (``MLP.hidden``, ``SmallCNN.channels``) gets its
config updated so that :func:`~parsimony.compression.packing.pack` can rebuild it.

Examples
--------
>>> import torch
>>> from parsimony.nn import MLP
>>> model = MLP(6, 3, hidden=(5, 4))
>>> keep = {"layers.0": torch.tensor([True, False, True, True, False])}
>>> small = shrink_model(model, keep)
>>> small.config["hidden"], small.layers[2].in_features
([3, 4], 3)
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from parsimony._validation import check_module
from parsimony.compression.pruning.masks import PRUNABLE_LAYERS, copy_model, remove_masks

__all__ = ["count_parameters", "mask_units", "shrink_model", "unit_keep_from_masks"]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(n, m) for n, m in model.named_modules() if n and isinstance(m, PRUNABLE_LAYERS + _BN)]


def _check_keep(model, keep) -> dict[str, tuple[nn.Module, torch.Tensor, nn.Module, list]]:
    """Validate ``keep``; layer name -> (layer, kept indices, next weight layer, BNs between)."""
    if not isinstance(keep, Mapping):
        raise TypeError(f"keep must be a mapping of layer name to mask, got {type(keep)}")
    chain = _chain(model)
    weights = [i for i, (_, m) in enumerate(chain) if isinstance(m, PRUNABLE_LAYERS)]
    index = {chain[i][0]: pos for pos, i in enumerate(weights)}
    out = {}
    for name, k in keep.items():
        if name not in index:
            raise ValueError(f"keep names {name!r}, not a Linear/Conv layer of the model")
        pos = index[name]
        if pos == len(weights) - 1:
            raise ValueError(f"keep names {name!r}, the output layer: its units are outputs")
        mod = chain[weights[pos]][1]
        n_out = mod.weight.shape[0]
        k = torch.as_tensor(k)
        if k.dtype != torch.bool or k.shape != (n_out,):
            raise ValueError(f"keep[{name!r}] must be a boolean tensor of shape ({n_out},)")
        if not bool(k.any()):
            raise ValueError(f"keep[{name!r}] removes every unit of the layer")
        bns = [m for _, m in chain[weights[pos] + 1 : weights[pos + 1]]]
        out[name] = (mod, torch.nonzero(k).reshape(-1), chain[weights[pos + 1]][1], bns)
    return out


def _param(t: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(t.detach().clone())


def _slice_out(mod: nn.Module, idx: torch.Tensor) -> None:
    mod.weight = _param(mod.weight[idx])
    if mod.bias is not None:
        mod.bias = _param(mod.bias[idx])
    if isinstance(mod, nn.Linear):
        mod.out_features = len(idx)
    else:
        mod.out_channels = len(idx)


def _slice_in(mod: nn.Module, idx: torch.Tensor, n_prev: int) -> None:
    w = mod.weight.detach()
    if isinstance(mod, nn.Linear):
        per_unit = w.shape[1] // n_prev  # channel-major flatten of a conv output
        cols = (idx[:, None] * per_unit + torch.arange(per_unit)[None, :]).reshape(-1)
        mod.weight = _param(w[:, cols])
        mod.in_features = len(cols)
    else:
        mod.weight = _param(w[:, idx])
        mod.in_channels = len(idx)


def _slice_bn(bn: nn.Module, idx: torch.Tensor) -> None:
    for attr in ("weight", "bias"):
        if getattr(bn, attr) is not None:
            setattr(bn, attr, _param(getattr(bn, attr)[idx]))
    for attr in ("running_mean", "running_var"):
        if getattr(bn, attr) is not None:
            setattr(bn, attr, getattr(bn, attr)[idx].clone())
    bn.num_features = len(idx)


def shrink_model(model: nn.Module, keep: Mapping[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` with the units not kept physically removed.

    Parameters
    ----------
    model : torch.nn.Module
        A feed-forward chain (see the module docstring). Masked layers
        (:mod:`~parsimony.compression.pruning.masks`) are read with their masks applied and
        come back unmasked.
    keep : mapping of str to torch.Tensor
        Weight-layer name -> boolean tensor over its output units (True = kept). The output
        layer cannot be shrunk.

    Returns
    -------
    torch.nn.Module
        A new model (the input is not modified) with dense, smaller layers.
    """
    check_module(model)
    model = remove_masks(copy_model(model))
    plan = _check_keep(model, keep)
    for mod, idx, nxt, bns in plan.values():
        n_prev = mod.weight.shape[0]
        _slice_out(mod, idx)
        for bn in bns:
            _slice_bn(bn, idx)
        _slice_in(nxt, idx, n_prev)
    _update_config(model)
    return model


def _update_config(model: nn.Module) -> None:
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        return
    widths = [m.weight.shape[0] for _, m in _chain(model) if isinstance(m, PRUNABLE_LAYERS)]
    if "hidden" in config:
        config["hidden"] = widths[:-1]
    elif "channels" in config:
        config["channels"] = widths[:-1]


def mask_units(model: nn.Module, keep: Mapping[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` whose removed units output exactly zero (same shapes).

    The unit's weight row and bias are zeroed, and so are the weight and bias of the
    following BatchNorm channel (a BatchNorm would otherwise turn a zero input into its
    shift). A zero unit is unchanged by ReLU and max-pooling, so the model computes the
    same function as :func:`shrink_model` with the same ``keep``.
    """
    model = copy_model(model)
    plan = _check_keep(model, keep)
    with torch.no_grad():
        for name, (mod, _idx, _, bns) in plan.items():
            drop = ~torch.as_tensor(keep[name])
            target = mod.weight_orig if hasattr(mod, "weight_mask") else mod.weight
            target[drop] = 0
            if hasattr(mod, "weight_mask"):
                mod.weight = mod.weight_orig * mod.weight_mask
            if mod.bias is not None:
                mod.bias[drop] = 0
            for bn in bns:
                if bn.weight is not None:
                    bn.weight[drop] = 0
                    bn.bias[drop] = 0
    return model


def unit_keep_from_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Units whose whole weight row is masked (and bias zero) are dropped; the rest kept.

    Returns the ``keep`` mapping for every hidden weight layer (the output layer is left
    out), read from the current weights (masks applied).
    """
    chain = [(n, m) for n, m in _chain(model) if isinstance(m, PRUNABLE_LAYERS)]
    out = {}
    for name, mod in chain[:-1]:
        w = mod.weight.detach().reshape(mod.weight.shape[0], -1)
        alive = (w != 0).any(dim=1)
        if mod.bias is not None:
            alive |= mod.bias.detach() != 0
        if not bool(alive.any()):
            alive[0] = True
        out[name] = alive
    return out


def count_parameters(model: nn.Module, nonzero: bool = False) -> int:
    """Number of parameters of ``model`` (masked layers count their effective weight).

    With ``nonzero=True`` only the non-zero entries are counted.
    """
    total = 0
    for name, p in model.named_parameters():
        if name.endswith("weight_orig"):
            mod = model.get_submodule(name.rpartition(".")[0])
            p = mod.weight
        total += int((p != 0).sum()) if nonzero else p.numel()
    return total
