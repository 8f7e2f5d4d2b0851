r"""Quant-Noise: train with the noise of the target quantizer on a random subset of blocks.

Fan, Stock, Graham, Grave, Gribonval, Jégou, Joulin, "Training with Quantization Noise for
Extreme Model Compression", ICLR 2021 (arXiv:2004.07320), Section 4, Eq. (3)-(4).

At every training forward each block :math:`b` of a weight (see
:func:`~parsimony.compression.layers.to_blocks`) is drawn into the noisy subset with
probability :math:`p` (mask :math:`M_b \sim \mathcal{B}(p)`), and the layer uses

* ``"proxy"`` (fairseq's shipped PQ noise, block dropout):
  :math:`W_\text{used} = W \odot (1 - M) / (1 - p)`, unbiased, :math:`E[W_\text{used}] = W`;
* ``"scalar"`` (exact intN noise, one block = one weight by default):
  :math:`W_\text{used} = W + \operatorname{sg}\big(M \odot (\varphi(W) - W)\big)` with
  :math:`\varphi` the ``bits``-bit quantizer of :mod:`~parsimony.compression.scalar`,
  recalibrated every ``update_every`` training forwards;
* ``"pq"`` (exact PQ noise): the same with :math:`\varphi(W)` the nearest centroid of each
  block, the centroids coming from k-means on :math:`W`, refreshed every ``update_every``
  training forwards.

:math:`\operatorname{sg}` is stop-gradient: the exact flavours pass gradients straight
through (STE), the proxy masks them. ``p = 1`` with an exact flavour is quantization-aware
training (QAT); ``p = 0`` is plain training. In eval mode the weight is used unchanged.

It is a :mod:`torch.nn.utils.parametrize` parametrization: the stored parameter (``
parametrizations.weight.original``) is what the optimizer updates and is **never written
by the noise** (fairseq's ``quant_noise`` hook assigns the noisy tensor to
``weight.data`` on every forward, so dropped blocks stay zero and survivors are rescaled
again and again). After training, :func:`remove_quant_noise` restores plain layers holding
the clean weights, which are then compressed by the target method (``quantize_model`` for
intN, ``IterativePQ`` for iPQ).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from parsimony._validation import check_choice, check_float, check_int, check_module
from parsimony.compression.kmeans import assign, kmeans
from parsimony.compression.layers import (
    check_block_size,
    from_blocks,
    per_layer,
    renamed_argument,
    select_layers,
    to_blocks,
)
from parsimony.compression.scalar import ScalarQuantizer, dequantize, quant_params, quantize

NOISE_METHODS = ("proxy", "scalar", "pq")


class QuantNoise(nn.Module):
    """The Quant-Noise parametrization of one weight; see the module docstring.

    Parameters
    ----------
    weight : torch.Tensor
        The weight it will parametrize (for shapes and the initial quantizer).
    method : {"proxy", "scalar", "pq"}
    p : float in [0, 1]
        Noise rate (``< 1`` for ``"proxy"``).
    block_size : int
        Noise unit (1 = individual weights).
    name : str
        Layer name, for error messages.
    bits, scheme, granularity, calibration
        The target scalar quantizer (``"scalar"``).
    n_centroids, max_iter
        The target PQ codebook (``"pq"``; the block size is ``block_size``).
    update_every : int
        Training forwards between two recalibrations of the exact quantizer.
    n_iter : int, optional
        Deprecated alias of ``max_iter`` (one release).

    Examples
    --------
    >>> w = torch.ones(4, 8)
    >>> qn = QuantNoise(w, "proxy", p=0.5, block_size=4)
    >>> bool(torch.equal(qn.eval()(w), w))  # no noise in eval
    True
    >>> set(qn.train()(w).flatten().tolist()) <= {0.0, 2.0}  # dropped, or kept / (1 - p)
    True
    """

    def __init__(
        self,
        weight: torch.Tensor,
        method: str = "proxy",
        p: float = 0.1,
        block_size: int = 8,
        name: str = "layer",
        *,
        bits: int = 8,
        scheme: str = "symmetric",
        granularity: str = "channel",
        calibration: str = "minmax",
        n_centroids: int = 256,
        max_iter: int = 10,
        update_every: int = 1,
        n_iter: int | None = None,
    ):
        super().__init__()
        check_choice(method, "method", NOISE_METHODS)
        p = check_float(p, "p", low=0.0, high=1.0)
        if method == "proxy" and p >= 1:
            raise ValueError(f"p must be < 1 for the proxy (block dropout) noise, got {p}")
        self.method, self.p, self.name = method, p, name
        self.shape = tuple(weight.shape)
        self.block_size = check_block_size(self.shape, block_size, name)
        self.n_blocks = weight.numel() // self.block_size
        self.update_every = check_int(update_every, "update_every", low=1)
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        w = weight.detach()
        if method == "scalar":
            self.quantizer = ScalarQuantizer(bits, scheme, granularity, calibration)
            s, z = quant_params(w, **self.quantizer.get_params())
            self.register_buffer("scale", s)
            self.register_buffer("zero_point", z)
        elif method == "pq":
            n_centroids = check_int(n_centroids, "n_centroids", low=1)
            if n_centroids > self.n_blocks:
                raise ValueError(
                    f"n_centroids={n_centroids} exceeds the {self.n_blocks} blocks of layer {name!r}"
                )
            max_iter = renamed_argument(max_iter, n_iter, "max_iter", "n_iter")
            self.n_centroids, self.max_iter = n_centroids, check_int(max_iter, "max_iter", low=1)
            self.register_buffer("centroids", self._fit_centroids(w, 0))

    def _fit_centroids(self, w: torch.Tensor, seed: int) -> torch.Tensor:
        blocks = to_blocks(w.float(), self.block_size)
        return kmeans(blocks, self.n_centroids, max_iter=self.max_iter, random_state=seed).centroids

    @torch.no_grad()
    def _refresh(self, w: torch.Tensor) -> None:
        if self.method == "scalar":
            s, z = quant_params(w, **self.quantizer.get_params())
            self.scale.copy_(s)
            self.zero_point.copy_(z)
        elif self.method == "pq":
            seed = int(torch.randint(2**31 - 1, (), device="cpu"))
            self.centroids.copy_(self._fit_centroids(w, seed))

    @torch.no_grad()
    def quantized(self, w: torch.Tensor) -> torch.Tensor:
        """The target quantizer applied to ``w`` (for the exact flavours)."""
        if self.method == "scalar":
            return dequantize(quantize(w, self.scale, self.zero_point, self.quantizer.bits),
                              self.scale, self.zero_point).to(w.dtype)  # fmt: skip
        blocks = to_blocks(w.float(), self.block_size)
        a, _ = assign(blocks, self.centroids)
        return from_blocks(self.centroids[a], w.shape).to(w.dtype)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return w
        mask = torch.rand(self.n_blocks, device=w.device) < self.p  # noisy blocks
        if self.method == "proxy":
            keep = (~mask).to(w.dtype)[:, None] / (1 - self.p)
            return from_blocks(to_blocks(w, self.block_size) * keep, w.shape)
        if int(self.step) % self.update_every == 0:
            self._refresh(w.detach())
        self.step += 1
        noise = self.quantized(w.detach()) - w.detach()
        noise = from_blocks(to_blocks(noise, self.block_size) * mask.to(w.dtype)[:, None], w.shape)
        return w + noise

    def extra_repr(self) -> str:
        extra = f", bits={self.quantizer.bits}" if self.method == "scalar" else ""
        if self.method == "pq":
            extra = f", K={self.n_centroids}"
        return f"{self.method}, p={self.p}, block_size={self.block_size}{extra}"


def add_quant_noise(
    model: nn.Module,
    method: str = "proxy",
    p: float = 0.1,
    *,
    block_size=None,
    bits: int = 8,
    scheme: str = "symmetric",
    granularity: str = "channel",
    calibration: str = "minmax",
    n_centroids=256,
    max_iter: int = 10,
    update_every: int | None = None,
    cap_centroids: bool = True,
    layers=None,
    exclude=None,
    inplace: bool = True,
    n_iter: int | None = None,
) -> nn.Module:
    """Register :class:`QuantNoise` on the weight of every selected layer.

    Parameters
    ----------
    model : torch.nn.Module
    method : {"proxy", "scalar", "pq"}
    p : float
        Noise rate; 1 with ``"scalar"`` or ``"pq"`` is QAT.
    block_size : int or mapping, optional
        Noise unit per layer (default 8 for ``"proxy"`` and ``"pq"``, 1 for ``"scalar"``).
    bits, scheme, granularity, calibration
        Target scalar quantizer.
    n_centroids, max_iter, cap_centroids
        Target PQ codebook (``n_centroids`` int or mapping; capped at the layer's number
        of blocks, rounded down to a power of two, with ``cap_centroids``).
    update_every : int, optional
        Training forwards between recalibrations (default 1 for ``"scalar"``, 100 for
        ``"pq"``).
    layers, exclude : patterns, optional
        See :func:`~parsimony.compression.layers.select_layers`.
    inplace : bool
        Modify ``model`` (default) or a copy.
    n_iter : int, optional
        Deprecated alias of ``max_iter`` (one release).

    Returns
    -------
    torch.nn.Module
        The model, whose selected weights are now parametrized.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> m = add_quant_noise(build_model("mlp", in_features=16, hidden=[16]), "proxy", 0.1)
    >>> type(m.layers[0].parametrizations.weight[0]).__name__
    'QuantNoise'
    >>> type(remove_quant_noise(m).layers[0].weight).__name__
    'Parameter'
    """
    check_module(model)
    check_choice(method, "method", NOISE_METHODS)
    max_iter = renamed_argument(max_iter, n_iter, "max_iter", "n_iter")
    if block_size is None:
        block_size = 1 if method == "scalar" else 8
    if update_every is None:
        update_every = 1 if method == "scalar" else 100
    if not inplace:
        model = copy.deepcopy(model)
    for name, layer in select_layers(model, layers, exclude):
        if parametrize.is_parametrized(layer, "weight"):
            raise ValueError(f"layer {name!r} already carries a parametrization of its weight")
        w = layer.weight.detach()
        bs = check_block_size(w.shape, per_layer(block_size, name, "block_size"), name)
        k = per_layer(n_centroids, name, "n_centroids")
        if method == "pq" and cap_centroids and k > w.numel() // bs:
            k = 1 << ((w.numel() // bs).bit_length() - 1)
        qn = QuantNoise(
            w, method, p, bs, name, bits=bits, scheme=scheme, granularity=granularity,
            calibration=calibration, n_centroids=k, max_iter=max_iter, update_every=update_every,
        )  # fmt: skip
        # register in eval mode: registration runs the parametrization once, which must
        # neither draw noise nor count as a training forward (it would refresh the target
        # quantizer with an unseeded draw)
        training = layer.training
        layer.eval()
        parametrize.register_parametrization(layer, "weight", qn.to(w.device))
        layer.train(training)
    return model


def remove_quant_noise(model: nn.Module) -> nn.Module:
    """Remove every :class:`QuantNoise` parametrization (in place), keeping clean weights."""
    for _, mod in model.named_modules():
        plist = getattr(mod, "parametrizations", None)
        if plist is not None and "weight" in plist:
            if any(isinstance(q, QuantNoise) for q in plist["weight"]):
                parametrize.remove_parametrizations(mod, "weight", leave_parametrized=False)
    return model
