"""One entry point to every compression method: :func:`compress_model` and ``METHODS``.

``METHODS`` maps a method's name to a public function ``fn(model, train_data=None,
**options) -> compressed model`` (a copy; the input model is not modified), so that a
notebook parameter can be a string. Every model these functions return is packed by
:func:`~parsimony.compression.pack` and unpacked in a fresh process by
:func:`~parsimony.compression.unpack`.

=================  ===========================================================  ==========
name               method (function called)                                     train_data
=================  ===========================================================  ==========
``int8``/``int4``  post-training scalar quantization (``quantize_model``)       unused
``pq``             one-shot product quantization (``product_quantize_model``)   unused
``ipq``            iterative PQ, fine-tuning between stages (``IterativePQ``)   required
``smh``            Structured Multi-Hashing (``hashing.smh_model``)             if epochs
``hashednets``     HashedNets (``hashing.hashednets_model``)                    if epochs
``epr``            Entropy Penalized Reparameterization (``entropy.epr_model``) required
``quantize_then_code``  rounding to a step, ANS-coded (``entropy.quantize_then_code``)  unused
``lowrank_svd``    truncated SVD of each Linear (``lowrank.low_rank_model``)    unused
``lowrank_l1``     l1 low rank of each Linear (``lowrank.low_rank_model``)      unused
``wa``             W/A quantization (``datafree.quantize_wa``, ``calibrate``,   required
                   ``freeze``), activations calibrated on the train inputs
=================  ===========================================================  ==========

Register a new method with :func:`register_method`. The methods of other modules are
imported when called, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from parsimony.compression.layers import per_layer, select_layers
from parsimony.compression.pq import IterativePQ, product_quantize_model
from parsimony.compression.scalar import quantize_model

#: name -> public function ``fn(model, train_data=None, **options)``
METHODS: dict[str, Callable[..., nn.Module]] = {}


def register_method(name: str):
    """Decorator: register a public ``fn(model, train_data=None, **options)`` under ``name``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")

    def deco(fn):
        if not callable(fn) or fn.__name__.startswith("_"):
            raise TypeError(f"a method must be a public function, got {fn!r}")
        if name in METHODS and METHODS[name] is not fn:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = fn
        return fn

    return deco


def _needs(train_data, method: str, why: str = "for its training"):
    if train_data is None:
        raise ValueError(f"method {method!r} needs train_data {why}")
    return train_data


def _fit(model, train_data, method, *, epochs, lr, batch_size, random_state, **kw):
    from parsimony.nn import train

    if epochs:
        _needs(train_data, method, "when epochs > 0")
        train(model, train_data, epochs=epochs, lr=lr, batch_size=batch_size,
              random_state=random_state, progress=False, **kw)  # fmt: skip
    return model


@register_method("int8")
def compress_int8(model: nn.Module, train_data=None, **options) -> nn.Module:
    """Post-training int8: :func:`~parsimony.compression.quantize_model` with ``bits=8``
    (per channel, symmetric, min-max by default; ``options`` are its keywords)."""
    return quantize_model(model, 8, **options)


@register_method("int4")
def compress_int4(model: nn.Module, train_data=None, **options) -> nn.Module:
    """Post-training int4: :func:`~parsimony.compression.quantize_model` with ``bits=4``."""
    return quantize_model(model, 4, **options)


@register_method("pq")
def compress_pq(model: nn.Module, train_data=None, **options) -> nn.Module:
    """One-shot product quantization of every layer, no fine-tuning
    (:func:`~parsimony.compression.product_quantize_model`)."""
    return product_quantize_model(model, **options)


@register_method("ipq")
def compress_ipq(model: nn.Module, train_data=None, **options) -> nn.Module:
    """Iterative PQ (:class:`~parsimony.compression.IterativePQ` with ``options``),
    fine-tuning on ``train_data`` between stages."""
    _needs(train_data, "ipq", "for its fine-tuning")
    return IterativePQ(**options).compress(model, train_data).model_


@register_method("smh")
def compress_smh(model: nn.Module, train_data=None, fraction: float = 0.1, *, epochs: int = 0,
                 lr: float = 3e-3, batch_size: int = 128, random_state: int = 0,
                 **options) -> nn.Module:  # fmt: skip
    """Structured Multi-Hashing at budget ``fraction`` (``hashing.smh_model``), trained on
    ``train_data`` for ``epochs`` (SMH trains from scratch: the model gives the architecture)."""
    from parsimony.compression.hashing import smh_model

    out = smh_model(model, fraction, random_state=random_state, **options)
    return _fit(out, train_data, "smh", epochs=epochs, lr=lr, batch_size=batch_size,
                random_state=random_state)  # fmt: skip


@register_method("hashednets")
def compress_hashednets(model: nn.Module, train_data=None, fraction: float = 0.1, *,
                        epochs: int = 0, lr: float = 3e-3, batch_size: int = 128,
                        random_state: int = 0, **options) -> nn.Module:  # fmt: skip
    """HashedNets with ``fraction`` of the weights as buckets (``hashing.hashednets_model``),
    trained on ``train_data`` for ``epochs``."""
    from parsimony.compression.hashing import hashednets_model

    out = hashednets_model(model, fraction, random_state=random_state, **options)
    return _fit(out, train_data, "hashednets", epochs=epochs, lr=lr, batch_size=batch_size,
                random_state=random_state)  # fmt: skip


@register_method("epr")
def compress_epr(model: nn.Module, train_data=None, lam: float = 1.0, *, epochs: int = 40,
                 lr: float = 3e-3, batch_size: int = 128, random_state: int = 0,
                 **options) -> nn.Module:  # fmt: skip
    """Entropy Penalized Reparameterization of a (trained) model (``entropy.epr_model``),
    fine-tuned on ``train_data`` with rate weight ``lam``; :func:`pack` entropy-codes it."""
    from parsimony.compression.entropy import epr_model, epr_penalty

    _needs(train_data, "epr")
    out = epr_model(model, **options)
    return _fit(out, train_data, "epr", epochs=epochs, lr=lr,
                batch_size=batch_size, random_state=random_state,
                penalty=epr_penalty(lam, out), schedule="cosine")  # fmt: skip


def _low_rank(model, rank, layers, exclude, p, method, options):
    from parsimony.compression.lowrank import low_rank_model

    names = [n for n, m in select_layers(model, layers, exclude) if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("model has no selected nn.Linear layer to factorize")
    for name in names:
        model = low_rank_model(model, name, per_layer(rank, name, "rank"), p, method, **options)
    return model


@register_method("quantize_then_code")
def compress_quantize_then_code(model: nn.Module, train_data=None, step: float = 0.02,
                                **options) -> nn.Module:  # fmt: skip
    """Every weight and bias rounded to multiples of ``step``, ANS-coded by :func:`pack`
    (``entropy.quantize_then_code``, the EPR paper's baseline)."""
    from parsimony.compression.entropy import quantize_then_code

    return quantize_then_code(model, step, **options)


@register_method("lowrank_svd")
def compress_lowrank_svd(model: nn.Module, train_data=None, rank=8, *, layers=None,
                         exclude=None, **options) -> nn.Module:  # fmt: skip
    """Truncated SVD of every selected ``nn.Linear`` at ``rank`` (int or ``{pattern: rank}``),
    each a ``LowRankLayer`` (``lowrank.low_rank_model`` with ``p=2``)."""
    return _low_rank(model, rank, layers, exclude, 2.0, "svd", options)


@register_method("lowrank_l1")
def compress_lowrank_l1(model: nn.Module, train_data=None, rank=8, *, layers=None,
                        exclude=None, method: str = "lewis", **options) -> nn.Module:  # fmt: skip
    """l1 low rank (Tukan et al.) of every selected ``nn.Linear`` at ``rank``
    (``lowrank.low_rank_model`` with ``p=1`` and ``method``)."""
    return _low_rank(model, rank, layers, exclude, 1.0, method, options)


@register_method("wa")
def compress_wa(model: nn.Module, train_data=None, w_bits: int = 4, a_bits: int = 4, *,
                calibration: str = "minmax", percentile: float = 99.9,
                **options) -> nn.Module:  # fmt: skip
    """Weight and activation quantization (``datafree.quantize_wa``), activation ranges
    calibrated on the inputs of ``train_data`` (``datafree.calibrate``; pass synthetic
    inputs for the data-free setting), frozen to stored codes (``datafree.freeze``)."""
    from parsimony.compression.datafree import calibrate, freeze, quantize_wa

    X = _needs(train_data, "wa", "(its inputs calibrate the activations)")[0]
    student = quantize_wa(model, w_bits, a_bits, **options)
    return freeze(calibrate(student, X, calibration, percentile))


def compress_model(model: nn.Module, method: str, train_data=None, **options) -> nn.Module:
    """Compress ``model`` with ``METHODS[method]``.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    method : str
        A key of ``METHODS``.
    train_data : pair (X, y), optional
        Training data of the methods that fine-tune or calibrate.
    **options
        Keywords of the method's function.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> from parsimony.compression import size_report
    >>> m = build_model("mlp", in_features=64, hidden=[64])
    >>> q = compress_model(m, "int4")
    >>> size_report(q).ratio_fp32 > 4  # < 8: scales, biases and the header count too
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method](model, train_data, **options)


# pruning (issue 20)
def _prune_share(model, train_data, method, sparsity, n_clusters, sharing, options):
    from parsimony.compression.pruning.masks import copy_model, prune_magnitude, remove_masks
    from parsimony.compression.pruning.sharing import share_weights

    fit = {k: options.pop(k) for k in ("epochs", "lr", "batch_size") if k in options}
    random_state = options.pop("random_state", 0)
    layers, exclude = options.pop("layers", None), options.pop("exclude", None)
    model = copy_model(model)
    if sparsity:
        prune_magnitude(model, sparsity, options.pop("scope", "global"), layers, exclude)
    if options:
        raise TypeError(f"method {method!r} got unexpected options {sorted(options)}")
    _fit(model, train_data, method, epochs=fit.get("epochs", 0), lr=fit.get("lr", 1e-3),
         batch_size=fit.get("batch_size", 128), random_state=random_state)  # fmt: skip
    remove_masks(model)
    if n_clusters:
        share_weights(model, n_clusters, sharing, layers, exclude, random_state)
    return model, layers, exclude


@register_method("prune")
def compress_prune(model: nn.Module, train_data=None, sparsity: float = 0.9, *,
                   fmt: str = "csr", **options) -> nn.Module:  # fmt: skip
    """Magnitude pruning (``pruning.masks``; ``scope``, ``layers``, ``exclude``), optional
    masked fine-tuning (``epochs``, ``lr``, ``batch_size``, ``random_state``), then every
    layer stored sparse (``fmt``: ``"csr"``, ``"csc"`` or ``"bitmask"``, ``pruning.formats``)."""
    from parsimony.compression.pruning.formats import format_model

    if fmt not in ("csr", "csc", "bitmask"):
        raise ValueError(f"fmt must be 'csr', 'csc' or 'bitmask', got {fmt!r}")
    out, layers, exclude = _prune_share(model, train_data, "prune", sparsity, 0, "cws", options)
    return format_model(out, fmt, layers, exclude)


@register_method("ham")
def compress_ham(model: nn.Module, train_data=None, sparsity: float = 0.0, n_clusters: int = 32,
                 *, sharing: str = "cws", **options) -> nn.Module:  # fmt: skip
    """Optional pruning (as ``prune``), weight sharing (``sharing``: ``"cws"`` or ``"pws"``,
    ``n_clusters`` values per layer), then HAM (Huffman-coded index matrix) per layer."""
    from parsimony.compression.pruning.formats import format_model

    out, layers, exclude = _prune_share(
        model, train_data, "ham", sparsity, n_clusters, sharing, options
    )
    return format_model(out, "ham", layers, exclude)


@register_method("sham")
def compress_sham(model: nn.Module, train_data=None, sparsity: float = 0.9, n_clusters: int = 32,
                  *, sharing: str = "cws", **options) -> nn.Module:  # fmt: skip
    """Pruning and weight sharing as ``ham``, then sHAM (CSC + Huffman-coded indices)."""
    from parsimony.compression.pruning.formats import format_model

    out, layers, exclude = _prune_share(
        model, train_data, "sham", sparsity, n_clusters, sharing, options
    )
    return format_model(out, "sham", layers, exclude)
