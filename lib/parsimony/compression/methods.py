"""``METHODS``: compression methods by name, so that a notebook parameter can be a string.

Every entry is called as ``fn(model, train_data=None, **kwargs) -> compressed model`` (a
copy; the input model is not modified). Methods that need no data ignore ``train_data``;
later methods register themselves with :func:`register_method`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from parsimony.compression.pq import IterativePQ, product_quantize_model
from parsimony.compression.scalar import quantize_model

METHODS: dict[str, Callable[..., nn.Module]] = {}


def register_method(name: str):
    """Decorator: register ``fn(model, train_data=None, **kwargs)`` under ``name``."""

    def deco(fn):
        if name in METHODS and METHODS[name] is not fn:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = fn
        return fn

    return deco


@register_method("int8")
def _int8(model, train_data=None, **kwargs):
    """Post-training int8 (per channel, symmetric, min-max by default)."""
    return quantize_model(model, 8, **kwargs)


@register_method("int4")
def _int4(model, train_data=None, **kwargs):
    """Post-training int4."""
    return quantize_model(model, 4, **kwargs)


@register_method("pq")
def _pq(model, train_data=None, **kwargs):
    """One-shot product quantization of every layer, no fine-tuning."""
    return product_quantize_model(model, **kwargs)


@register_method("ipq")
def _ipq(model, train_data=None, **kwargs):
    """Iterative PQ, fine-tuning on ``train_data`` between stages."""
    if train_data is None:
        raise ValueError("method 'ipq' needs train_data for its fine-tuning")
    return IterativePQ(**kwargs).fit(model, train_data).model_


@register_method("smh")
def _smh(model, train_data=None, fraction=0.1, *, epochs=0, lr=3e-3, batch_size=128, seed=0,
         **kwargs):  # fmt: skip
    """Structured Multi-Hashing at budget ``fraction``; trained on ``train_data`` if
    ``epochs > 0`` (SMH trains from scratch: the input model only gives the architecture)."""
    from parsimony.compression.hashing import smh_model

    out = smh_model(model, fraction, seed=seed, **kwargs)
    if epochs:
        if train_data is None:
            raise ValueError("method 'smh' with epochs > 0 needs train_data")
        from parsimony.nn import train

        train(out, train_data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
              progress=False)  # fmt: skip
    return out


@register_method("epr")
def _epr(model, train_data=None, lam=1.0, *, epochs=40, lr=3e-3, batch_size=128, seed=0,
         **kwargs):  # fmt: skip
    """Entropy Penalized Reparameterization of a (trained) model, fine-tuned on
    ``train_data`` with rate weight ``lam``; :func:`pack` entropy-codes it."""
    if train_data is None:
        raise ValueError("method 'epr' needs train_data for its training")
    from parsimony.compression.entropy import epr_model, epr_penalty
    from parsimony.nn import train

    out = epr_model(model, **kwargs)
    train(out, train_data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
          progress=False, penalty=epr_penalty(lam, out), schedule="cosine")  # fmt: skip
    return out


def compress_model(model: nn.Module, method: str, train_data=None, **kwargs) -> nn.Module:
    """Compress ``model`` with ``METHODS[method]``.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> from parsimony.compression import size_report
    >>> m = build_model("mlp", in_features=64, hidden=[64])
    >>> q = compress_model(m, "int4")
    >>> size_report(q).ratio_fp32 > 4  # < 8: scales, biases and the header count too
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method](model, train_data, **kwargs)
