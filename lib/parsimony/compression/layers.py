"""Weight layers as compression methods see them: specs, blocks, selection, compressed layers.

Every method works on a model through its weight layers (``nn.Linear``, ``nn.Conv1d``,
``nn.Conv2d``, ``nn.Embedding``), never on one architecture:

* :func:`layer_spec` describes a layer by a JSON-able dict (type and hyper-parameters) and
  :func:`apply_layer` runs the layer's operation with any weight tensor, so a compressed
  layer only has to say how it rebuilds its weight;
* :func:`to_blocks` / :func:`from_blocks` cut a weight into the blocks of product
  quantization and Quant-Noise (Stock et al. 2020; Fan et al. 2020): the weight is seen as a
  matrix with one row per output unit (``W.reshape(out, -1)``: for a convolution, the input
  channels times the kernel; for an embedding, one row per token) and every row is cut into
  contiguous sub-vectors of ``block_size`` values. A 1x1 convolution's blocks run along the
  input channels; for a k x k convolution a block lies inside one kernel or holds whole
  kernels (``block_size = k*k`` is the paper's "one kernel per block");
* :func:`select_layers` picks the weight layers of a model by type and name pattern
  (normalisation layers are never selected);
* :func:`renamed_argument` keeps a renamed argument one release as a warning alias;
* :class:`CompressedLayer` is the base class of every compressed layer (see
  :mod:`parsimony.compression` for the packing protocol it implements).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from parsimony._validation import check_int, check_tensor

#: the module types a compression method may replace
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Embedding)


def layer_spec(module: nn.Module, name: str = "module") -> dict:
    """A JSON-able description of a weight layer, enough to run it with another weight.

    Examples
    --------
    >>> layer_spec(nn.Linear(3, 2))
    {'type': 'linear', 'in_features': 3, 'out_features': 2}
    >>> layer_spec(nn.Conv2d(2, 4, 3, padding=1))["padding"]
    [1, 1]
    """
    if isinstance(module, nn.Linear):
        return {
            "type": "linear",
            "in_features": module.in_features,
            "out_features": module.out_features,
        }
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise ValueError(f"layer {name!r}: only numeric zero padding is supported")
        return {
            "type": "conv1d" if isinstance(module, nn.Conv1d) else "conv2d",
            "in_channels": module.in_channels,
            "out_channels": module.out_channels,
            "kernel_size": list(module.kernel_size),
            "stride": list(module.stride),
            "padding": list(module.padding),
            "dilation": list(module.dilation),
            "groups": module.groups,
        }
    if isinstance(module, nn.Embedding):
        if module.max_norm is not None or module.sparse:
            raise ValueError(
                f"layer {name!r}: embeddings with max_norm or sparse are not supported"
            )
        return {
            "type": "embedding",
            "num_embeddings": module.num_embeddings,
            "embedding_dim": module.embedding_dim,
            "padding_idx": module.padding_idx,
        }
    raise TypeError(
        f"layer {name!r} must be one of {[t.__name__ for t in WEIGHT_LAYERS]}, "
        f"got {type(module).__name__}"
    )


def weight_shape(spec: Mapping) -> tuple[int, ...]:
    """The weight shape of a layer described by :func:`layer_spec`."""
    t = spec["type"]
    if t == "linear":
        return (spec["out_features"], spec["in_features"])
    if t in ("conv1d", "conv2d"):
        return (spec["out_channels"], spec["in_channels"] // spec["groups"], *spec["kernel_size"])
    if t == "embedding":
        return (spec["num_embeddings"], spec["embedding_dim"])
    raise ValueError(f"unknown layer type {t!r}")


def has_bias_slot(spec: Mapping) -> bool:
    return spec["type"] != "embedding"


def apply_layer(spec: Mapping, x: torch.Tensor, weight: torch.Tensor, bias=None) -> torch.Tensor:
    """Run the operation of the layer described by ``spec`` with ``weight`` and ``bias``.

    Examples
    --------
    >>> lin = nn.Linear(3, 2)
    >>> x = torch.randn(4, 3)
    >>> bool(torch.equal(apply_layer(layer_spec(lin), x, lin.weight, lin.bias), lin(x)))
    True
    """
    t = spec["type"]
    if t == "linear":
        return F.linear(x, weight, bias)
    if t == "conv1d":
        return F.conv1d(
            x, weight, bias, spec["stride"], spec["padding"], spec["dilation"], spec["groups"]
        )
    if t == "conv2d":
        return F.conv2d(
            x, weight, bias, spec["stride"], spec["padding"], spec["dilation"], spec["groups"]
        )
    if t == "embedding":
        return F.embedding(x, weight, spec["padding_idx"])
    raise ValueError(f"unknown layer type {t!r}")


def check_block_size(shape, block_size: int, name: str = "layer") -> int:
    """Validate ``block_size`` for a weight of ``shape``; raise ValueError naming the layer.

    A block must divide each row (``prod(shape[1:])``); for a kernel of ``kk > 1`` values a
    block must lie inside one kernel (``kk % block_size == 0``) or hold whole kernels
    (``block_size % kk == 0``).

    Examples
    --------
    >>> check_block_size((16, 40), 8, "fc1")
    8
    >>> check_block_size((16, 40), 16, "fc1")
    Traceback (most recent call last):
    ...
    ValueError: block_size=16 does not divide the rows of layer 'fc1' (weight shape (16, 40), rows of 40 values)
    """
    block_size = check_int(block_size, "block_size", low=1)
    shape = tuple(int(s) for s in shape)
    row = math.prod(shape[1:])
    if row % block_size:
        raise ValueError(
            f"block_size={block_size} does not divide the rows of layer {name!r} "
            f"(weight shape {shape}, rows of {row} values)"
        )
    kk = math.prod(shape[2:]) if len(shape) > 2 else 1
    if kk > 1 and kk % block_size and block_size % kk:
        raise ValueError(
            f"block_size={block_size} would straddle kernels of layer {name!r} (kernel of "
            f"{kk} values): use a divisor or a multiple of {kk}"
        )
    return block_size


def to_blocks(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """View ``weight`` as (n_blocks, block_size): rows cut into contiguous sub-vectors.

    Block ``j`` of row ``i`` is ``blocks[i * (row // block_size) + j]``. Call
    :func:`check_block_size` first (this function only reshapes).

    Examples
    --------
    >>> w = torch.arange(12.0).reshape(2, 6)
    >>> to_blocks(w, 3).tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]
    >>> bool(torch.equal(from_blocks(to_blocks(w, 3), w.shape), w))
    True
    """
    check_tensor(weight, "weight", finite=False, floating=False)
    block_size = check_int(block_size, "block_size", low=1)
    if weight.numel() % block_size:
        raise ValueError(f"block_size={block_size} does not divide the {weight.numel()} values")
    return weight.reshape(-1, block_size)


def from_blocks(blocks: torch.Tensor, shape) -> torch.Tensor:
    """Inverse of :func:`to_blocks`."""
    return blocks.reshape(tuple(shape))


def renamed_argument(new_value, old_value, new: str, old: str):
    """``new_value``, or ``old_value`` with a ``FutureWarning`` when the deprecated argument
    ``old`` (renamed ``new``; default None) is given. Kept one release.

    Examples
    --------
    >>> renamed_argument(20, None, "max_iter", "n_iter")
    20
    """
    if old_value is None:
        return new_value
    import warnings

    warnings.warn(f"{old!r} is deprecated and will be removed in the next release: use "
                  f"{new!r}", FutureWarning, stacklevel=3)  # fmt: skip
    return old_value


def per_layer(value, name: str, arg: str):
    """Resolve a per-layer setting: a scalar, or a mapping ``{fnmatch pattern: value}``.

    Patterns are tried in order; ``"*"`` is the usual default. Raises ValueError when no
    pattern matches ``name``.

    Examples
    --------
    >>> per_layer({"layers.0": 4, "*": 8}, "layers.0", "block_size")
    4
    >>> per_layer({"layers.0": 4, "*": 8}, "layers.2", "block_size")
    8
    """
    if isinstance(value, Mapping):
        for pattern, v in value.items():
            if fnmatch.fnmatchcase(name, pattern):
                return v
        raise ValueError(f"{arg} has no pattern matching layer {name!r} (patterns {list(value)})")
    return value


def select_layers(
    model: nn.Module, layers=None, exclude=None, types=WEIGHT_LAYERS
) -> list[tuple[str, nn.Module]]:
    """The weight layers of ``model`` to compress, in module order.

    Parameters
    ----------
    model : torch.nn.Module
    layers : str or sequence of str, optional
        fnmatch patterns on module names (``"blocks.*.fc1"``); default: all.
    exclude : str or sequence of str, optional
        Patterns to leave out.
    types : tuple of types
        Module types eligible (default :data:`WEIGHT_LAYERS`; never normalisation layers).

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    >>> [n for n, _ in select_layers(m)]
    ['0', '2']
    >>> [n for n, _ in select_layers(m, exclude="2")]
    ['0']
    """
    layers = [layers] if isinstance(layers, str) else layers
    exclude = [exclude] if isinstance(exclude, str) else (exclude or [])
    out = []
    for name, mod in model.named_modules():
        if not isinstance(mod, types) or not name:
            continue
        if layers is not None and not any(fnmatch.fnmatchcase(name, p) for p in layers):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in exclude):
            continue
        out.append((name, mod))
    if layers is not None and not out:
        raise ValueError(f"layers={layers!r} matches no weight layer of the model")
    return out


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule called ``name`` (dotted path) by ``new``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


class CompressedLayer(nn.Module):
    """Base class of a compressed weight layer: a compact code that rebuilds the weight.

    Subclasses set a unique ``tag``, register with
    :func:`parsimony.compression.register_compressed`, and implement:

    * ``dense_weight()``: the weight tensor, of shape ``weight_shape(self.spec)``;
    * ``pack_state()``: ``(arrays, kinds, meta)``, the arrays that store the layer
      (names relative to the layer), a kind per array (``"indices"``, ``"codebook"``,
      ``"scale"``, ``"float"``, ``"coded"``...) and a JSON-able ``meta``;
    * ``unpack_state(arrays, meta)`` (classmethod): the layer rebuilt from them, whose
      outputs equal the packed layer's outputs exactly.

    The base class provides ``forward`` (the original layer's operation with the rebuilt
    weight), the ``weight`` property, the bias (kept float32, stored by
    :meth:`_pack_bias`) and :meth:`dense_numel`.
    """

    tag = "abstract"

    def __init__(self, spec: Mapping, bias: torch.Tensor | None = None):
        super().__init__()
        self.spec = dict(spec)
        if bias is not None:
            self.bias = nn.Parameter(bias.detach().clone().to(torch.float32))
        else:
            self.register_parameter("bias", None)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return weight_shape(self.spec)

    def dense_weight(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def weight(self) -> torch.Tensor:
        """The rebuilt dense weight (differentiable with respect to the trainable code)."""
        return self.dense_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_layer(self.spec, x, self.dense_weight(), self.bias)

    def dense_numel(self) -> int:
        """Number of values of the uncompressed layer (weight and bias)."""
        n = math.prod(self.weight_shape)
        return n + (self.bias.numel() if self.bias is not None else 0)

    def _pack_bias(self, arrays: dict, kinds: dict) -> None:
        if self.bias is not None:
            arrays["bias"] = self.bias.detach().cpu().numpy().astype(np.float32)
            kinds["bias"] = "float"

    @staticmethod
    def _unpack_bias(arrays: Mapping) -> torch.Tensor | None:
        return torch.from_numpy(np.array(arrays["bias"], np.float32)) if "bias" in arrays else None

    def pack_state(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def unpack_state(cls, arrays, meta):  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.spec['type']}, weight_shape={self.weight_shape}"


#: the layer types of methods that rebuild a kernel from a code (SMH, HashedNets, EPR)
KERNEL_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def select_kernel_layers(
    model: nn.Module, layers=None, exclude=None, *, method: str
) -> list[tuple[str, nn.Module]]:
    """:func:`select_layers` for a method that handles only ``Linear`` / ``Conv1d`` / ``Conv2d``.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``, or a selected layer is of another type (the
        message names it and says to exclude it).
    ValueError
        No layer is selected.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> [n for n, _ in select_kernel_layers(m, method="smh")]
    ['0', '2']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    chosen = select_layers(model, layers, exclude)
    for name, mod in chosen:
        if not isinstance(mod, KERNEL_LAYERS):
            raise TypeError(
                f"{method} handles Linear and Conv1d/Conv2d layers; layer {name!r} is a "
                f"{type(mod).__name__} (exclude it)"
            )
    if not chosen:
        raise ValueError(f"model has no Linear or convolution layer for {method} to compress")
    return chosen
