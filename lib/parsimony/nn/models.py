"""The small models every compression experiment shares.

Three architectures, each rebuilt from a JSON-able ``config`` (so that a packed model can
record its architecture and :func:`build_model` can rebuild it from bytes alone):

* :class:`MLP`: fully connected ReLU network (``nn.Linear`` layers).
* :class:`SmallCNN`: a few conv-BatchNorm-ReLU-maxpool blocks and a linear head, in 1-D
  (mnist1d signals) or 2-D (8x8 digits), selected by ``input_shape``.
* :class:`CharTransformer`: a small causal character-level Transformer language model
  (pre-LayerNorm, learned positions). Its attention and feed-forward projections are plain
  ``nn.Linear`` layers and its embeddings ``nn.Embedding`` layers, so that every weight
  matrix is reachable by the module-level compression methods (``nn.MultiheadAttention``
  would hide them in one fused parameter).

``MODELS`` maps an architecture name to its class; :func:`model_spec` and
:func:`build_model` go between a model and ``{"arch": name, "config": {...}}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from parsimony._validation import check_float, check_int


def _int_tuple(values, name: str, low: int = 1) -> tuple[int, ...]:
    if isinstance(values, int | bool) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of integers, got {values!r}")
    return tuple(check_int(v, f"{name}[{i}]", low=low) for i, v in enumerate(values))


class MLP(nn.Module):
    """Fully connected ReLU network: ``in_features -> hidden... -> n_classes``.

    Parameters
    ----------
    in_features : int
        Input dimension (inputs of shape (n_samples, in_features), or any shape that
        flattens to it).
    n_classes : int
        Number of outputs (logits).
    hidden : sequence of int
        Widths of the hidden layers.
    dropout : float
        Dropout rate after each hidden activation (0 disables it).

    Examples
    --------
    >>> model = MLP(40, 10, hidden=(32,))
    >>> model(torch.zeros(5, 40)).shape
    torch.Size([5, 10])
    >>> model.config
    {'in_features': 40, 'n_classes': 10, 'hidden': [32], 'dropout': 0.0}
    """

    arch = "mlp"

    def __init__(self, in_features: int, n_classes: int = 10, hidden=(256, 256), dropout=0.0):
        super().__init__()
        in_features = check_int(in_features, "in_features", low=1)
        n_classes = check_int(n_classes, "n_classes", low=1)
        hidden = _int_tuple(hidden, "hidden")
        dropout = check_float(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        self.config = {
            "in_features": in_features,
            "n_classes": n_classes,
            "hidden": list(hidden),
            "dropout": dropout,
        }
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.reshape(x.shape[0], -1))


class SmallCNN(nn.Module):
    """Conv-BatchNorm-ReLU-maxpool blocks and a linear head, 1-D or 2-D.

    Parameters
    ----------
    input_shape : sequence of int
        Spatial shape of one input channel: ``(40,)`` for mnist1d (1-D convolutions),
        ``(8, 8)`` for digits (2-D). Inputs may be given flat, (n_samples, prod(shape)).
    n_classes : int
        Number of outputs (logits).
    in_channels : int
        Input channels.
    channels : sequence of int
        Output channels of each block; each block halves the spatial size (``pool``).
    kernel_size : int
        Convolution kernel size (odd; "same" padding). Convolutions have no bias (the
        BatchNorm that follows has one).
    pool : int
        Max-pooling factor after each block (1 disables it).

    Examples
    --------
    >>> model = SmallCNN((8, 8), channels=(4, 8))
    >>> model(torch.zeros(3, 64)).shape
    torch.Size([3, 10])
    >>> [type(m).__name__ for m in model.features[:3]]
    ['Conv2d', 'BatchNorm2d', 'ReLU']
    """

    arch = "cnn"

    def __init__(
        self,
        input_shape=(40,),
        n_classes: int = 10,
        in_channels: int = 1,
        channels=(16, 32),
        kernel_size: int = 3,
        pool: int = 2,
    ):
        super().__init__()
        input_shape = _int_tuple(input_shape, "input_shape")
        if len(input_shape) not in (1, 2):
            raise ValueError(f"input_shape must have 1 or 2 entries, got {input_shape}")
        n_classes = check_int(n_classes, "n_classes", low=1)
        in_channels = check_int(in_channels, "in_channels", low=1)
        channels = _int_tuple(channels, "channels")
        kernel_size = check_int(kernel_size, "kernel_size", low=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        pool = check_int(pool, "pool", low=1)
        self.config = {
            "input_shape": list(input_shape),
            "n_classes": n_classes,
            "in_channels": in_channels,
            "channels": list(channels),
            "kernel_size": kernel_size,
            "pool": pool,
        }
        ndim = len(input_shape)
        conv, bn, mp = (
            (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)
            if ndim == 1
            else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        )
        layers: list[nn.Module] = []
        c_in, spatial = in_channels, list(input_shape)
        for c in channels:
            layers += [conv(c_in, c, kernel_size, padding=kernel_size // 2, bias=False), bn(c)]
            layers.append(nn.ReLU())
            if pool > 1:
                layers.append(mp(pool))
                spatial = [s // pool for s in spatial]
            if min(spatial) < 1:
                raise ValueError(
                    f"input_shape {input_shape} is too small for {len(channels)} pools"
                )
            c_in = c
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * math.prod(spatial), n_classes)
        self._in_shape = (in_channels, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self._in_shape)
        return self.head(self.features(x).flatten(1))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with separate ``nn.Linear`` projections."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.n_heads, d // self.n_heads).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            is_causal=True,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.proj(y.transpose(1, 2).reshape(n, t, d))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + attn(ln(x))``, then ``x + ffn(ln(x))`` (GELU)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))


class CharTransformer(nn.Module):
    """A small causal character-level Transformer language model.

    Token and learned position embeddings, ``n_layers`` pre-LayerNorm blocks, a final
    LayerNorm and an untied linear head. Input: token ids (n, t) with ``t <= context``;
    output: next-token logits (n, t, vocab_size).

    Parameters
    ----------
    vocab_size : int
        Number of distinct tokens.
    context : int
        Maximum sequence length (size of the position table).
    d_model, n_heads, n_layers : int
        Width, attention heads (must divide ``d_model``) and depth.
    d_ff : int, optional
        Feed-forward width (default ``4 * d_model``).
    dropout : float
        Dropout on attention weights and residual branches.

    Examples
    --------
    >>> lm = CharTransformer(20, context=16, d_model=32, n_heads=2, n_layers=1)
    >>> lm(torch.zeros(2, 16, dtype=torch.long)).shape
    torch.Size([2, 16, 20])
    """

    arch = "char_transformer"

    def __init__(
        self,
        vocab_size: int,
        context: int = 64,
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        d_ff: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        vocab_size = check_int(vocab_size, "vocab_size", low=2)
        context = check_int(context, "context", low=1)
        d_model = check_int(d_model, "d_model", low=1)
        n_heads = check_int(n_heads, "n_heads", low=1)
        n_layers = check_int(n_layers, "n_layers", low=1)
        d_ff = 4 * d_model if d_ff is None else check_int(d_ff, "d_ff", low=1)
        dropout = check_float(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        self.config = {
            "vocab_size": vocab_size,
            "context": context,
            "d_model": d_model,
            "n_heads": n_heads,
            "n_layers": n_layers,
            "d_ff": d_ff,
            "dropout": dropout,
        }
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, dropout) for _ in range(n_layers)
        )
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.drop = nn.Dropout(dropout)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        if t > self.config["context"]:
            raise ValueError(f"sequence length {t} exceeds context {self.config['context']}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok(idx) + self.pos(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


#: architecture name -> class; ``build_model`` rebuilds a model from its spec.
MODELS: dict[str, type[nn.Module]] = {
    MLP.arch: MLP,
    SmallCNN.arch: SmallCNN,
    CharTransformer.arch: CharTransformer,
}


def model_spec(model: nn.Module) -> dict | None:
    """``{"arch": name, "config": {...}}`` for a model of a registered class, else None.

    Examples
    --------
    >>> model_spec(MLP(4, 2, hidden=(3,)))
    {'arch': 'mlp', 'config': {'in_features': 4, 'n_classes': 2, 'hidden': [3], 'dropout': 0.0}}
    """
    arch = getattr(type(model), "arch", None)
    if arch in MODELS and MODELS[arch] is type(model) and hasattr(model, "config"):
        return {"arch": arch, "config": dict(model.config)}
    return None


_UNSET = object()


def build_model(
    arch: str, config: dict | None = None, random_state: int | None = 0, *, seed=_UNSET, **kwargs
) -> nn.Module:
    """Build a registered model; initialisation is deterministic given ``random_state``.

    The global torch random state is left untouched (the draw happens in a forked state).

    Parameters
    ----------
    arch : str
        A key of :data:`MODELS`.
    config : dict, optional
        Constructor arguments (as in ``model.config``); ``kwargs`` are merged over it.
    random_state : int or None
        Seed of the initialisation (None: the current global state is used and advanced).
    seed : int or None
        Deprecated alias of ``random_state``, kept for one release.

    Examples
    --------
    >>> a = build_model("mlp", in_features=8, n_classes=3, hidden=[4], random_state=1)
    >>> b = build_model("mlp", a.config, random_state=1)
    >>> bool(torch.equal(a.layers[0].weight, b.layers[0].weight))
    True
    """
    if arch not in MODELS:
        raise ValueError(f"arch must be one of {sorted(MODELS)}, got {arch!r}")
    if seed is not _UNSET:
        import warnings

        warnings.warn(
            "build_model(seed=) is deprecated: use random_state=", FutureWarning, stacklevel=2
        )
        random_state = seed
    params = {**(config or {}), **kwargs}
    if random_state is None:
        return MODELS[arch](**params)
    seed = check_int(random_state, "random_state", low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[arch](**params)
