r"""Data-free quantization from the statistics a trained model keeps in its BatchNorm layers.

Haroush, Hubara, Hoffer, Soudry, "The Knowledge Within: Methods for Data-Free Model
Compression", CVPR 2020 (arXiv:1912.01274). A trained teacher with BatchNorm stores, for
every BN layer :math:`\ell` and channel :math:`c`, running statistics
:math:`\hat\mu_{\ell c}, \hat\sigma^2_{\ell c}` of its *input*. Three generators make
synthetic inputs from the model alone:

* ``"gaussian"``: :math:`x \sim \mathcal N(0, I)` in the model's normalised input space;
* ``"inception"``: from Gaussian noise, minimise the cross-entropy of the teacher's logits
  to random target labels plus image priors (an :math:`\ell_2` penalty and the total
  variation, with random jitter), DeepDream style;
* ``"bns"``: minimise over a batch :math:`X` the BN-statistics loss

  .. math::

      L_{BNS}(X) = \sum_\ell \sum_c \mathrm{KL}\big(\mathcal N(\hat\mu, \hat\sigma^2)
      \,\|\, \mathcal N(\tilde\mu(X), \tilde\sigma^2(X))\big)
      = \sum_\ell \sum_c \Big[\log\frac{\tilde\sigma}{\hat\sigma} - \frac12
      + \frac{\hat\sigma^2 + (\hat\mu - \tilde\mu)^2}{2\tilde\sigma^2}\Big],

  with :math:`\tilde\mu, \tilde\sigma^2` the mean and biased variance of the BN input over
  the batch and spatial positions (read by forward *pre*-hooks), the BN's ``eps`` added to
  both variances, Adam on :math:`X` and the teacher in **eval mode** (its running
  statistics are never touched).

Uses of a sample set (synthetic or real, the code does not know which):

* :func:`calibrate`: activation ranges of a W/A fake-quantized copy (:func:`quantize_wa`:
  per-channel symmetric weights, per-tensor asymmetric activations at every weight layer's
  input) by min/max or a percentile, i.e. post-training quantization;
* knowledge-distillation fine-tuning of the quantized student (straight-through
  estimator) is :func:`parsimony.nn.train` with the loss :func:`kd_loss`,
  :math:`\tau^2\,\mathrm{KL}(\mathrm{softmax}(T(x)/\tau) \,\|\,
  \mathrm{softmax}(S(x)/\tau))`, on the teacher's logits (no labels), with BatchNorm
  frozen (``frozen_bn=True`` and :func:`freeze_bn_` for the affine parameters): required
  for Gaussian samples, whose batches would overwrite the running statistics, and used in
  every arm for a fair comparison;
* :func:`bns_similarity`: the mean :math:`L_{BNS}` over batches of a data set, low when the
  data look like the teacher's training distribution.

:func:`freeze` turns a fake-quantized student into :class:`WAQuantizedLayer` s (registered
for :func:`~parsimony.compression.pack`), so that the reported size is the serialized one:
weights bit-packed, per-channel float32 scales, float32 biases, activation scale and
zero-point, BatchNorm parameters (not folded) in float32.

The experiment protocol of the paper's tables (sample sets per source, PTQ and KD-QAT
accuracies, the similarity sets) is in :mod:`parsimony.compression.experiments.datafree`.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from parsimony._validation import check_choice, check_float, check_int
from parsimony.compression.container import pack_bits, unpack_bits
from parsimony.compression.layers import apply_layer, layer_spec, select_layers, set_module
from parsimony.compression.packing import register_compressed
from parsimony.compression.scalar import (
    ScalarQuantizedLayer,
    dequantize,
    fake_quantize,
    quant_params,
    quantize,
)

GENERATORS = ("gaussian", "inception", "bns")
ACT_CALIBRATIONS = ("minmax", "percentile")
_MAX_QUANTILE = 2**24 - 1  # torch.quantile's input limit


# --------------------------------------------------------------------------- BN statistics
def bn_layers(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """The BatchNorm layers of ``model`` that hold running statistics, in module order."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None
    ]


def _check_model(model) -> list:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layers = bn_layers(model)
    if not layers:
        raise ValueError(
            "model has no BatchNorm layer with running statistics: the BN-statistics loss "
            "needs a model trained with BatchNorm (track_running_stats=True)"
        )
    return layers


def gaussian_kl(mu_hat, var_hat, mu, var) -> torch.Tensor:
    r"""Elementwise :math:`\mathrm{KL}(\mathcal N(\hat\mu, \hat\sigma^2) \| \mathcal N(\mu, \sigma^2))`.

    Examples
    --------
    >>> float(gaussian_kl(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(0.0), torch.tensor(1.0)))
    0.0
    """
    return 0.5 * torch.log(var / var_hat) - 0.5 + (var_hat + (mu_hat - mu) ** 2) / (2 * var)


class BNStatistics:
    """Context manager: forward pre-hooks that read the batch statistics of every BN input.

    Inside the ``with`` block each forward of ``model`` fills :attr:`stats` with one
    ``(mean, var)`` pair per BN layer (biased variance over the batch and spatial
    positions). With ``n_groups > 1`` the batch is split into that many consecutive equal
    groups and the statistics are per group, shape (n_groups, channels).

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)).eval()
    >>> with BNStatistics(net) as bs:
    ...     _ = net(torch.randn(8, 1, 10))
    >>> [tuple(m.shape) for m, v in bs.stats]
    [(1, 2)]
    """

    def __init__(self, model: nn.Module, n_groups: int = 1):
        self.layers = [m for _, m in _check_model(model)]
        self.n_groups = n_groups
        self.stats: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._handles = []

    def _hook(self, module, args):
        x = args[0]
        g = self.n_groups
        x = x.reshape(g, x.shape[0] // g, x.shape[1], -1)  # (groups, batch, C, spatial)
        mean = x.mean(dim=(1, 3))
        var = ((x - mean[:, None, :, None]) ** 2).mean(dim=(1, 3))
        self.stats.append((mean, var))

    def __enter__(self):
        self.stats = []
        self._handles = [m.register_forward_pre_hook(self._hook) for m in self.layers]
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []

    def loss(self) -> torch.Tensor:
        """:math:`L_{BNS}` of the last forward, one value per group (shape (n_groups,))."""
        total = 0.0
        for bn, (mu, var) in zip(self.layers, self.stats, strict=True):
            eps = bn.eps
            total = total + gaussian_kl(bn.running_mean, bn.running_var + eps, mu, var + eps).sum(
                -1
            )
        return total


def bns_loss(model: nn.Module, X: torch.Tensor, n_groups: int = 1) -> torch.Tensor:
    """:math:`L_{BNS}` of the batch ``X`` under ``model`` (eval mode), per group.

    Differentiable with respect to ``X``. ``X`` is given in the shape the model accepts.
    """
    n_groups = check_int(n_groups, "n_groups", low=1)
    if X.shape[0] % n_groups:
        raise ValueError(f"n_groups={n_groups} must divide the batch size {X.shape[0]}")
    was = model.training
    model.eval()
    try:
        with BNStatistics(model, n_groups) as bs:
            model(X)
        return bs.loss()
    finally:
        model.train(was)


@torch.no_grad()
def bns_similarity(model: nn.Module, data, batch_size: int = 256) -> float:
    """BN-statistics score of a data set: the mean :math:`L_{BNS}` over its batches.

    Low when ``data`` resembles the teacher's training distribution. Only full batches
    are scored (a data set smaller than ``batch_size`` is one batch).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).eval()
    >>> bns_similarity(net, torch.zeros(8, 4)) > bns_similarity(net, torch.randn(8, 4))
    True
    """
    _check_model(model)
    batch_size = check_int(batch_size, "batch_size", low=2)
    X = _as_float_tensor(data, "data")
    if X.shape[0] < 2:
        raise ValueError(f"data must have at least 2 samples, got {X.shape[0]}")
    X = X.to(_device_of(model))
    n = max(X.shape[0] // batch_size, 1)
    b = min(batch_size, X.shape[0])
    return float(bns_loss(model, X[: n * b], n_groups=n).mean())


# --------------------------------------------------------------------------- generators
def _as_float_tensor(X, name: str) -> torch.Tensor:
    if isinstance(X, tuple | list) and len(X) == 2:
        raise TypeError(f"{name} must be an array of inputs, not a pair (X, y)")
    t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if not t.is_floating_point():
        raise TypeError(f"{name} must hold floating-point inputs, got {t.dtype}")
    if t.ndim < 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_samples, ...), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t.to(torch.float32)


def _device_of(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _tv(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbours along every spatial axis of (n, C, *spatial)."""
    out = x.new_zeros(())
    for ax in range(2, x.ndim):
        out = out + (x.diff(dim=ax) ** 2).mean()
    return out


class SyntheticGenerator:
    """Synthetic inputs from a trained model: Gaussian, Inception or BN-statistics.

    Not a scikit-learn estimator: it learns nothing from data, it reads a trained torch
    model. :meth:`generate` makes the samples (its input is the model, never an array).

    Parameters
    ----------
    method : {"gaussian", "inception", "bns"}
    n_samples : int
        Size of the synthetic set.
    input_shape : sequence of int
        Shape of one input, channels first (``(1, 8, 8)`` for digits, ``(1, 40)`` for
        mnist1d).
    max_iter : int
        Adam steps (ignored by ``"gaussian"``).
    lr : float
        Adam learning rate on the inputs.
    batch_size : int
        Samples per batch whose statistics are matched (``"bns"``); must divide
        ``n_samples``. All batches are optimised at once (independent losses, summed).
    l2, tv : float
        ``"inception"`` priors: weight of the mean squared input and of the total
        variation.
    jitter : int
        ``"inception"``: random circular shift of up to ``jitter`` positions along every
        spatial axis at each step.
    random_state : int
        Seeds the initial noise, the target labels and the jitter.
    n_iter : int, optional
        Deprecated alias of ``max_iter``, kept for one release.

    Attributes
    ----------
    samples_ : torch.Tensor (n_samples, *input_shape), on the CPU
    labels_ : torch.Tensor or None
        Target labels of ``"inception"``.
    n_iter_ : int
        Adam steps run (``max_iter``; 0 for ``"gaussian"``).
    loss_history_ : list of float
        Objective per step (mean over batches).
    bns_history_ : list of float
        :math:`L_{BNS}` per batch (mean over batches) before every step and after the last
        one (``n_iter_ + 1`` values).
    seconds_ : float
        Generation time.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)).eval()
    >>> g = SyntheticGenerator("bns", 8, (1, 10), max_iter=20, batch_size=8).generate(net)
    >>> tuple(g.samples_.shape), g.bns_history_[-1] < g.bns_history_[0]
    ((8, 1, 10), True)
    """

    def __init__(
        self,
        method: str = "bns",
        n_samples: int = 256,
        input_shape=(1, 8, 8),
        max_iter: int = 200,
        lr: float = 0.1,
        batch_size: int = 256,
        l2: float = 1e-2,
        tv: float = 1e-1,
        jitter: int = 1,
        random_state: int = 0,
        n_iter: int | None = None,
    ):
        self.method = method
        self.n_samples = n_samples
        self.input_shape = input_shape
        self.max_iter = max_iter
        self.lr = lr
        self.batch_size = batch_size
        self.l2 = l2
        self.tv = tv
        self.jitter = jitter
        self.random_state = random_state
        self.n_iter = n_iter

    def _validate(self):
        check_choice(self.method, "method", GENERATORS)
        n = check_int(self.n_samples, "n_samples", low=2)
        shape = tuple(check_int(s, "input_shape", low=1) for s in self.input_shape)
        if len(shape) < 1:
            raise ValueError("input_shape must have at least one entry")
        max_iter = self.max_iter
        if self.n_iter is not None:
            warnings.warn(
                "SyntheticGenerator(n_iter=) is deprecated: use max_iter=", FutureWarning,
                stacklevel=3,
            )  # fmt: skip
            max_iter = self.n_iter
        max_iter = check_int(max_iter, "max_iter", low=0)
        check_float(self.lr, "lr", low=0.0, low_inclusive=False)
        b = check_int(self.batch_size, "batch_size", low=2)
        b = min(b, n)
        if n % b:
            raise ValueError(f"batch_size={b} must divide n_samples={n}")
        check_float(self.l2, "l2", low=0.0)
        check_float(self.tv, "tv", low=0.0)
        check_int(self.jitter, "jitter", low=0)
        check_int(self.random_state, "random_state", low=0)
        return n, shape, b, max_iter

    def generate(self, model: nn.Module, callback=None) -> SyntheticGenerator:
        """Generate :attr:`samples_` from ``model`` (left unchanged, mode restored).

        ``callback(state)`` is called after every optimisation step with a dict holding
        ``iteration`` (1-based), ``objective`` (the step's objective, mean over batches)
        and ``bns`` (its :math:`L_{BNS}`, mean over batches). Returns ``self``.
        """
        n, shape, b, max_iter = self._validate()
        _check_model(model)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        device = _device_of(model)
        gen = torch.Generator().manual_seed(int(self.random_state))
        t0 = time.perf_counter()
        x0 = torch.randn((n, *shape), generator=gen)
        self.labels_ = None
        was = model.training
        model.eval()
        req = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            with BNStatistics(model, n // b) as bs:
                if self.method == "inception":
                    with torch.no_grad():
                        n_classes = model(x0[:2].to(device)).shape[-1]
                    self.labels_ = torch.randint(n_classes, (n,), generator=gen)
                X = x0.to(device).requires_grad_(self.method != "gaussian")
                y = self.labels_.to(device) if self.labels_ is not None else None
                self.loss_history_, self.bns_history_ = [], []
                steps = 0 if self.method == "gaussian" else max_iter
                opt = torch.optim.Adam([X], lr=self.lr) if steps else None
                for step in range(steps + 1):
                    xin = X
                    if (
                        self.method == "inception"
                        and self.jitter
                        and len(shape) > 1
                        and step < steps
                    ):
                        shifts = torch.randint(
                            -self.jitter, self.jitter + 1, (len(shape) - 1,), generator=gen
                        ).tolist()
                        xin = torch.roll(X, shifts, dims=tuple(range(2, X.ndim)))
                    bs.stats = []
                    logits = model(xin)
                    l_bns = bs.loss()
                    self.bns_history_.append(float(l_bns.detach().mean()))
                    if step == steps:
                        break
                    if self.method == "bns":
                        loss = l_bns.sum()
                        self.loss_history_.append(self.bns_history_[-1])
                    else:
                        loss = (
                            F.cross_entropy(logits, y) + self.l2 * (X**2).mean() + self.tv * _tv(X)
                        )
                        self.loss_history_.append(float(loss.detach()))
                    opt.zero_grad(set_to_none=True)
                    (X.grad,) = torch.autograd.grad(loss, [X])
                    opt.step()
                    if callback is not None:
                        callback({"iteration": step + 1, "objective": self.loss_history_[-1],
                                  "bns": self.bns_history_[-1]})  # fmt: skip
        finally:
            for p, r in zip(model.parameters(), req, strict=True):
                p.requires_grad_(r)
            model.train(was)
        self.samples_ = X.detach().cpu()
        self.n_iter_ = steps
        self.seconds_ = time.perf_counter() - t0
        return self


def generate(model: nn.Module, method: str = "bns", **kwargs) -> torch.Tensor:
    """``SyntheticGenerator(method, **kwargs).generate(model).samples_``."""
    return SyntheticGenerator(method, **kwargs).generate(model).samples_


# --------------------------------------------------------------------------- quantization
class FakeQuantLayer(nn.Module):
    """A weight layer with fake-quantized weights and input activations (STE).

    Weights: ``w_bits``, symmetric, per output channel, min-max range recomputed from the
    current weight at every forward. Input activations: ``a_bits`` (None: float),
    asymmetric per tensor, range set by :func:`calibrate`. Both use the straight-through
    estimator :math:`x + \\mathrm{sg}(q(x) - x)`.
    """

    def __init__(self, layer: nn.Module, w_bits: int, a_bits: int | None, name: str = "layer"):
        super().__init__()
        self.spec = layer_spec(layer, name)
        self.w_bits, self.a_bits = int(w_bits), None if a_bits is None else int(a_bits)
        self.weight = nn.Parameter(layer.weight.detach().clone())
        b = getattr(layer, "bias", None)
        self.bias = nn.Parameter(b.detach().clone()) if b is not None else None
        self.register_buffer("act_scale", torch.tensor(float("nan")))
        self.register_buffer("act_zero", torch.tensor(0.0))
        self.observing = False
        self.observed: list[torch.Tensor] = []

    def weight_params(self):
        return quant_params(self.weight, self.w_bits, granularity="channel")

    def quantized_weight(self) -> torch.Tensor:
        s, z = self.weight_params()
        return fake_quantize(self.weight, s, z, self.w_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self.observed.append(x.detach().reshape(-1))
        elif self.a_bits is not None:
            if torch.isnan(self.act_scale):
                raise RuntimeError(f"layer {self.spec!r}: activations not calibrated")
            x = fake_quantize(x, self.act_scale, self.act_zero, self.a_bits)
        return apply_layer(self.spec, x, self.quantized_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.spec['type']}, W{self.w_bits}A{self.a_bits}"


@register_compressed("wa_scalar")
class WAQuantizedLayer(ScalarQuantizedLayer):
    """A :class:`ScalarQuantizedLayer` that also quantizes its input activations.

    Stores, on top of the weight codes, per-channel scales and float32 bias, the
    activation scale (float32) and zero-point (bit-packed at ``a_bits``).
    """

    def __init__(self, spec, codes, scale, zero_point, bits, scheme, bias=None,
                 a_bits=None, act_scale=None, act_zero=None):  # fmt: skip
        super().__init__(spec, codes, scale, zero_point, bits, scheme, bias)
        self.a_bits = None if a_bits is None else int(a_bits)
        self.register_buffer("act_scale", torch.as_tensor(act_scale if act_scale is not None
                                                          else float("nan"), dtype=torch.float32))  # fmt: skip
        self.register_buffer("act_zero", torch.as_tensor(act_zero if act_zero is not None
                                                         else 0.0, dtype=torch.float32))  # fmt: skip

    @classmethod
    def from_fake(cls, layer: FakeQuantLayer) -> WAQuantizedLayer:
        s, z = layer.weight_params()
        codes = quantize(layer.weight.detach(), s, z, layer.w_bits)
        return cls(layer.spec, codes, s, z, layer.w_bits, "symmetric", layer.bias, layer.a_bits,
                   layer.act_scale.detach().clone(), layer.act_zero.detach().clone())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.a_bits is not None:
            x = dequantize(quantize(x, self.act_scale, self.act_zero, self.a_bits),
                           self.act_scale, self.act_zero)  # fmt: skip
        return apply_layer(self.spec, x, self.dense_weight(), self.bias)

    def pack_state(self):
        arrays, kinds, meta = super().pack_state()
        meta["a_bits"] = self.a_bits
        if self.a_bits is not None:
            arrays["act_scale"] = self.act_scale.reshape(1).cpu().numpy().astype(np.float32)
            arrays["act_zero"] = pack_bits(np.array([int(self.act_zero)]), self.a_bits)
            kinds["act_scale"] = kinds["act_zero"] = "scale"
        return arrays, kinds, meta

    @classmethod
    def unpack_state(cls, arrays, meta):
        base = ScalarQuantizedLayer.unpack_state(arrays, meta)
        a_bits = meta.get("a_bits")
        act_scale = act_zero = None
        if a_bits is not None:
            act_scale = float(np.asarray(arrays["act_scale"])[0])
            act_zero = float(unpack_bits(arrays["act_zero"], a_bits, 1)[0])
        return cls(meta["spec"], base.codes, base.scale, base.zero_point, base.bits,
                   base.scheme, base.bias, a_bits, act_scale, act_zero)  # fmt: skip


def quantize_wa(
    model: nn.Module,
    w_bits: int = 4,
    a_bits: int | None = 4,
    *,
    first_bits: int | None = 8,
    last_bits: int | None = 8,
    first_input_bits: int | None = 8,
) -> nn.Module:
    """A copy of ``model`` with every weight layer fake-quantized (:class:`FakeQuantLayer`).

    Parameters
    ----------
    model : torch.nn.Module
    w_bits, a_bits : int
        Bits of the weights and of the input activations of the inner layers.
    first_bits, last_bits : int or None
        Weight bits of the first and last weight layers (None: ``w_bits``).
    first_input_bits : int or None
        Bits of the network input (the first layer's input activations; None: float).

    BatchNorm layers are kept (not folded), as float32 modules; the last layer's input is
    quantized at ``a_bits``. :func:`quantization_summary` records the result.
    """
    w_bits = check_int(w_bits, "w_bits", low=2, high=8)
    if a_bits is not None:
        a_bits = check_int(a_bits, "a_bits", low=2, high=8)
    for v, nm in ((first_bits, "first_bits"), (last_bits, "last_bits"),
                  (first_input_bits, "first_input_bits")):  # fmt: skip
        if v is not None:
            check_int(v, nm, low=2, high=8)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    student = copy.deepcopy(model)
    layers = select_layers(student)
    if not layers:
        raise ValueError("model has no weight layer to quantize")
    for i, (name, layer) in enumerate(layers):
        wb, ab = w_bits, a_bits
        if i == 0:
            wb, ab = first_bits or w_bits, first_input_bits
        if i == len(layers) - 1 and last_bits:
            wb = last_bits
        set_module(student, name, FakeQuantLayer(layer, wb, ab, name))
    return student


def _quant_layers(model: nn.Module):
    return [
        (n, m) for n, m in model.named_modules() if isinstance(m, FakeQuantLayer | WAQuantizedLayer)
    ]


def quantization_summary(model: nn.Module) -> dict:
    """Exactly what is quantized: per layer weight/activation bits, and global choices."""
    layers = {
        n: {"type": m.spec["type"], "weight_bits": m.w_bits if isinstance(m, FakeQuantLayer) else m.bits,
            "input_activation_bits": m.a_bits, "bias": "float32" if m.bias is not None else None}
        for n, m in _quant_layers(model)
    }  # fmt: skip
    return {
        "layers": layers,
        "weights": "symmetric, per output channel, min-max range",
        "activations": "input of every weight layer, asymmetric per tensor, calibrated range",
        "batchnorm": f"not folded, float32, {len(bn_layers(model))} layers (eval statistics)",
        "biases": "float32",
        "not_quantized": "BatchNorm outputs, ReLU/max-pool outputs between a BN and the next "
        "weight layer (quantized at that layer's input), logits",
    }


@torch.no_grad()
def calibrate(
    student: nn.Module,
    X,
    method: str = "minmax",
    percentile: float = 99.9,
    batch_size: int = 512,
) -> nn.Module:
    """Set the activation ranges of a :func:`quantize_wa` student from the samples ``X``.

    For every quantized input, the range is :math:`[\\min, \\max]` (``"minmax"``) or the
    ``(100 - p, p)`` percentiles (``"percentile"``) of its values over ``X`` (weights
    already quantized upstream, activations not), then mapped to the asymmetric grid
    (range widened to contain 0). Returns ``student`` (modified in place).
    """
    check_choice(method, "method", ACT_CALIBRATIONS)
    percentile = check_float(percentile, "percentile", low=50.0, high=100.0)
    batch_size = check_int(batch_size, "batch_size", low=1)
    X = _as_float_tensor(X, "X")
    layers = [m for _, m in _quant_layers(student) if isinstance(m, FakeQuantLayer)]
    if not layers:
        raise ValueError("student has no FakeQuantLayer: build it with quantize_wa")
    was = student.training
    student.eval()
    device = _device_of(student)
    for m in layers:
        m.observing, m.observed = True, []
    try:
        for i in range(0, len(X), batch_size):
            student(X[i : i + batch_size].to(device))
    finally:
        for m in layers:
            m.observing = False
        student.train(was)
    for m in layers:
        vals = torch.cat(m.observed)
        m.observed = []
        if m.a_bits is None:
            continue
        if vals.numel() > _MAX_QUANTILE:
            vals = vals[:: math.ceil(vals.numel() / _MAX_QUANTILE)]
        s, z = quant_params(vals, m.a_bits, scheme="asymmetric", granularity="tensor",
                            calibration=method, percentile=percentile)  # fmt: skip
        m.act_scale.copy_(s)
        m.act_zero.copy_(z)
    return student


def freeze(student: nn.Module) -> nn.Module:
    """A copy with every :class:`FakeQuantLayer` replaced by a :class:`WAQuantizedLayer`.

    Its outputs equal the fake-quantized student's; ``len(pack(freeze(student)))`` is the
    deployed size.
    """
    out = copy.deepcopy(student)
    for name, m in _quant_layers(out):
        if isinstance(m, FakeQuantLayer):
            set_module(out, name, WAQuantizedLayer.from_fake(m))
    return out


# --------------------------------------------------------------------------- distillation
def kd_loss(student_logits, teacher_logits, temperature: float = 1.0) -> torch.Tensor:
    r""":math:`\tau^2\, \mathrm{KL}(\mathrm{softmax}(t/\tau) \| \mathrm{softmax}(s/\tau))`, batch mean.

    Examples
    --------
    >>> z = torch.randn(4, 10)
    >>> float(kd_loss(z, z))
    0.0
    """
    t = F.log_softmax(teacher_logits / temperature, -1)
    s = F.log_softmax(student_logits / temperature, -1)
    return (temperature**2) * F.kl_div(s, t, reduction="batchmean", log_target=True)


def freeze_bn_(model: nn.Module) -> nn.Module:
    """Put every BatchNorm in eval mode and stop gradients to its affine parameters."""
    for _, bn in bn_layers(model):
        bn.eval()
        for p in bn.parameters():
            p.requires_grad_(False)
    return model
