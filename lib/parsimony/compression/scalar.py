r"""Scalar (intN) weight quantization: calibration, fake quantization, quantized layers.

Fan et al., "Training with Quantization Noise for Extreme Model Compression", ICLR 2021
(arXiv:2004.07320), Section 3 (fixed-point scalar quantization). A weight is stored as a
``b``-bit unsigned code :math:`q` with a scale :math:`s` and an integer zero-point
:math:`z` (per tensor, or per output channel):

.. math::

    q(w) = \operatorname{clamp}(\operatorname{round}(w / s) + z,\ 0,\ 2^b - 1), \qquad
    \hat w = (q(w) - z)\, s .

* **asymmetric**: the clipping range :math:`[l, h] \ni 0` is mapped onto the whole grid,
  :math:`s = (h - l) / (2^b - 1)`, :math:`z = \operatorname{round}(-l / s)`;
* **symmetric**: :math:`z = 2^{b-1}` (signed codes :math:`-2^{b-1} .. 2^{b-1}-1`) and
  :math:`s = a / (2^{b-1} - 1)` for the clipping magnitude :math:`a`; nothing to store for
  :math:`z`.

The clipping range comes from a *calibration*: ``"minmax"`` (the extreme values),
``"percentile"`` (a percentile of the values, or of their magnitudes when symmetric) or
``"histogram"`` (the range minimizing the quantization MSE of a histogram of the values,
searched over shrunken min-max ranges). Everything runs on the weight's device.

Fake quantization for training uses the straight-through estimator (STE),
:math:`w + \operatorname{sg}(\hat w - w)`: the forward sees :math:`\hat w`, the gradient
flows to :math:`w` unchanged. The written-from-scratch quantizer takes the bit width as a
real argument (fairseq's clamps to 0..255 whatever the bits and hard-codes CUDA).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from parsimony._validation import check_choice, check_float, check_int, check_module, check_tensor
from parsimony.compression.container import pack_bits, unpack_bits
from parsimony.compression.layers import (
    CompressedLayer,
    layer_spec,
    select_layers,
    set_module,
    weight_shape,
)
from parsimony.compression.packing import register_compressed

SCHEMES = ("symmetric", "asymmetric")
GRANULARITIES = ("tensor", "channel")
CALIBRATIONS = ("minmax", "percentile", "histogram")


def _rows(w: torch.Tensor, granularity: str) -> torch.Tensor:
    return w.reshape(w.shape[0], -1) if granularity == "channel" else w.reshape(1, -1)


def _grid_error(values, counts, lo, hi, bits, symmetric):
    """Sum of counts * (v - q(v))^2 for every row and candidate range.

    values, counts: (rows, bins); lo, hi: (rows, cands). Returns (rows, cands).
    """
    s, z = _scale_zero(lo, hi, bits, symmetric)
    v = values[:, None, :]
    q = torch.clamp(torch.round(v / s[..., None]) + z[..., None], 0, 2**bits - 1)
    err = (v - (q - z[..., None]) * s[..., None]) ** 2
    return (err * counts[:, None, :]).sum(-1)


def _scale_zero(lo, hi, bits, symmetric):
    tiny = torch.finfo(torch.float32).tiny
    if symmetric:
        a = torch.maximum(hi.abs(), lo.abs())
        s = torch.clamp(a / (2 ** (bits - 1) - 1), min=tiny)
        z = torch.full_like(s, 2 ** (bits - 1))
    else:
        lo, hi = torch.clamp(lo, max=0), torch.clamp(hi, min=0)
        s = torch.clamp((hi - lo) / (2**bits - 1), min=tiny)
        z = torch.clamp(torch.round(-lo / s), 0, 2**bits - 1)
    return s, z


def _histogram_range(rows, bits, symmetric, n_bins, n_candidates):
    vals = rows.abs() if symmetric else rows
    lo = torch.zeros(rows.shape[0], device=rows.device) if symmetric else vals.min(1).values
    hi = vals.max(1).values
    width = torch.clamp((hi - lo) / n_bins, min=torch.finfo(torch.float32).tiny)
    idx = torch.clamp(((vals - lo[:, None]) / width[:, None]).long(), 0, n_bins - 1)
    counts = torch.zeros(rows.shape[0], n_bins, device=rows.device).scatter_add_(
        1, idx, torch.ones_like(vals)
    )
    centers = lo[:, None] + (torch.arange(n_bins, device=rows.device) + 0.5) * width[:, None]
    alpha = torch.linspace(1.0 / n_candidates, 1.0, n_candidates, device=rows.device)
    c_lo, c_hi = lo[:, None] * alpha, hi[:, None] * alpha
    if symmetric:
        c_lo = -c_hi
    err = _grid_error(centers, counts, c_lo, c_hi, bits, symmetric)
    best = err.argmin(1)
    pick = torch.arange(rows.shape[0], device=rows.device)
    return c_lo[pick, best], c_hi[pick, best]


def quant_params(
    weight: torch.Tensor,
    bits: int = 8,
    *,
    scheme: str = "symmetric",
    granularity: str = "tensor",
    calibration: str = "minmax",
    percentile: float = 99.9,
    n_bins: int = 256,
    n_candidates: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero-point of the ``bits``-bit quantizer calibrated on ``weight``.

    Parameters
    ----------
    weight : torch.Tensor
        Any shape; per-channel statistics are over ``weight[i]`` for each output ``i``.
    bits : int in [2, 8]
    scheme : {"symmetric", "asymmetric"}
    granularity : {"tensor", "channel"}
    calibration : {"minmax", "percentile", "histogram"}
    percentile : float in (0, 100]
        For ``"percentile"``: the clipping quantile of the values (of ``|w|`` if symmetric).
    n_bins, n_candidates : int
        For ``"histogram"``: bins of the histogram and number of shrunken ranges tried.

    Returns
    -------
    scale : torch.Tensor (float32)
        Shape () per tensor, (out, 1, ..., 1) per channel (broadcasts against ``weight``).
    zero_point : torch.Tensor (float32 holding integers in [0, 2**bits - 1]), same shape.

    Examples
    --------
    >>> s, z = quant_params(torch.tensor([-1.0, 0.5, 1.27]), 8)
    >>> round(float(s), 4), int(z)
    (0.01, 128)
    >>> s, z = quant_params(torch.tensor([-1.0, 0.0, 3.0]), 2, scheme="asymmetric")
    >>> float(s), int(z)
    (1.3333333730697632, 1)
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.numel() == 0 or not weight.is_floating_point():
        raise ValueError("weight must be a non-empty floating-point tensor")
    bits = check_int(bits, "bits", low=2, high=8)
    check_choice(scheme, "scheme", SCHEMES)
    check_choice(granularity, "granularity", GRANULARITIES)
    check_choice(calibration, "calibration", CALIBRATIONS)
    percentile = check_float(percentile, "percentile", low=0.0, high=100.0, low_inclusive=False)
    n_bins = check_int(n_bins, "n_bins", low=2)
    n_candidates = check_int(n_candidates, "n_candidates", low=1)
    symmetric = scheme == "symmetric"
    rows = _rows(weight.detach().float(), granularity)
    if not torch.isfinite(rows).all():
        raise ValueError("weight contains NaN or infinite values")
    if calibration == "minmax":
        lo, hi = rows.min(1).values, rows.max(1).values
    elif calibration == "percentile":
        q = percentile / 100
        if symmetric:
            hi = torch.quantile(rows.abs(), q, dim=1)
            lo = -hi
        else:
            lo, hi = torch.quantile(rows, 1 - q, dim=1), torch.quantile(rows, q, dim=1)
    else:
        lo, hi = _histogram_range(rows, bits, symmetric, n_bins, n_candidates)
    s, z = _scale_zero(lo, hi, bits, symmetric)
    shape = (weight.shape[0],) + (1,) * (weight.ndim - 1) if granularity == "channel" else ()
    return s.reshape(shape), z.reshape(shape)


def quantize(weight: torch.Tensor, scale, zero_point, bits: int) -> torch.Tensor:
    """Integer codes ``clamp(round(w / s) + z, 0, 2**bits - 1)`` (int64); ``bits`` in [1, 16]."""
    check_tensor(weight, "weight")
    bits = check_int(bits, "bits", low=1, high=16)
    q = torch.clamp(torch.round(weight / scale) + zero_point, 0, 2**bits - 1)
    return q.to(torch.int64)


def dequantize(codes: torch.Tensor, scale, zero_point) -> torch.Tensor:
    """``(codes - z) * s`` as float32."""
    check_tensor(codes, "codes", floating=False)
    return (codes.to(torch.float32) - zero_point) * scale


def fake_quantize(weight: torch.Tensor, scale, zero_point, bits: int) -> torch.Tensor:
    """Quantize-dequantize in the forward, identity gradient (straight-through estimator).

    Examples
    --------
    >>> w = torch.tensor([0.3, -0.7], requires_grad=True)
    >>> y = fake_quantize(w, torch.tensor(0.5), torch.tensor(2.0), 2)
    >>> y.tolist()
    [0.5, -0.5]
    >>> y.sum().backward(); w.grad.tolist()
    [1.0, 1.0]
    """
    check_tensor(weight, "weight")
    bits = check_int(bits, "bits", low=1, high=16)
    wq = dequantize(quantize(weight.detach(), scale, zero_point, bits), scale, zero_point)
    return weight + (wq.to(weight.dtype) - weight).detach()


class ScalarQuantizer(TransformerMixin, BaseEstimator):
    """A ``bits``-bit scalar quantizer, calibrated by :meth:`fit` (a scikit-learn transformer).

    Parameters are those of :func:`quant_params`, validated in :meth:`fit`.

    :meth:`fit` takes a weight tensor (any shape; per-channel statistics over its first
    axis) or an array-like ``X`` of shape (n_samples, n_features) (validated as scikit-learn
    does; per-channel statistics are then per row, so ``"channel"`` only transforms the
    ``X`` it was fitted on). :meth:`transform` returns the quantize-dequantize values
    :math:`\\hat w` (an array of ``X``'s dtype for array input); :meth:`quantize` and
    :meth:`dequantize` give and read the integer codes.

    Attributes
    ----------
    scale_, zero_point_ : torch.Tensor
        Set by :meth:`fit`; they broadcast against the fitted weight.
    n_features_in_ : int
        Columns of the fitted array (``weight[0].numel()`` for a tensor).

    Examples
    --------
    >>> w = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    >>> qz = ScalarQuantizer(4, granularity="channel").fit(w)
    >>> codes = qz.quantize(w)
    >>> int(codes.min()) >= 0 and int(codes.max()) <= 15
    True
    >>> bool((qz.dequantize(codes) - w).abs().max() <= qz.scale_.max() / 2 + 1e-6)
    True
    >>> X = np.array([[0.0, 1.0], [-1.0, 0.26]])
    >>> ScalarQuantizer(2).fit_transform(X).tolist()
    [[0.0, 1.0], [-1.0, 0.0]]
    """

    def __init__(
        self,
        bits: int = 8,
        scheme: str = "symmetric",
        granularity: str = "tensor",
        calibration: str = "minmax",
        percentile: float = 99.9,
        n_bins: int = 256,
        n_candidates: int = 64,
    ):
        self.bits = bits
        self.scheme = scheme
        self.granularity = granularity
        self.calibration = calibration
        self.percentile = percentile
        self.n_bins = n_bins
        self.n_candidates = n_candidates

    def _as_tensor(self, X, reset: bool):
        if isinstance(X, torch.Tensor):
            if reset:
                self.n_features_in_ = int(X[0].numel()) if X.ndim > 1 else 1
            return X, None
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        return torch.tensor(X), X.dtype

    def fit(self, X, y=None) -> ScalarQuantizer:
        """Calibrate the scale and zero-point on ``X`` (a weight tensor or a 2-D array)."""
        w, _ = self._as_tensor(X, reset=True)
        self.scale_, self.zero_point_ = quant_params(w, **self.get_params())
        return self

    def transform(self, X):
        """``dequantize(quantize(X))``: the values the quantized weight takes."""
        check_is_fitted(self)
        w, dtype = self._as_tensor(X, reset=False)
        out = dequantize(self.quantize(w), self.scale_, self.zero_point_)
        return out.to(w.dtype) if dtype is None else out.numpy().astype(dtype)

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        """Integer codes of ``weight`` (int64)."""
        check_is_fitted(self)
        return quantize(weight.float(), self.scale_, self.zero_point_, self.bits)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Float32 values of ``codes``."""
        check_is_fitted(self)
        return dequantize(codes, self.scale_, self.zero_point_)

    def fake_quantize(self, weight: torch.Tensor) -> torch.Tensor:
        """Straight-through quantization of ``weight`` (see :func:`fake_quantize`)."""
        check_is_fitted(self)
        return fake_quantize(weight, self.scale_, self.zero_point_, self.bits)


@register_compressed("scalar")
class ScalarQuantizedLayer(CompressedLayer):
    """A weight layer stored as ``bits``-bit codes with scale and zero-point.

    Stored bytes: ``ceil(numel * bits / 8)`` for the codes (kind ``"indices"``, int4 packs
    two per byte), one float32 scale per tensor or channel (kind ``"scale"``), the
    zero-points bit-packed at ``bits`` bits when asymmetric (kind ``"scale"``; a symmetric
    zero-point is implied), the bias in float32 (kind ``"float"``).

    Examples
    --------
    >>> lin = nn.Linear(8, 4)
    >>> q = ScalarQuantizedLayer.from_layer(lin, ScalarQuantizer(4))
    >>> arrays, kinds, meta = q.pack_state()
    >>> arrays["codes"].nbytes, kinds["codes"]
    (16, 'indices')
    >>> x = torch.randn(2, 8)
    >>> bool(torch.equal(ScalarQuantizedLayer.unpack_state(arrays, meta)(x), q(x)))
    True
    """

    def __init__(self, spec, codes, scale, zero_point, bits: int, scheme: str, bias=None):
        super().__init__(spec, bias)
        self.bits, self.scheme = int(bits), scheme
        self.register_buffer("codes", codes.to(torch.uint8))
        self.register_buffer("scale", scale.to(torch.float32))
        self.register_buffer("zero_point", zero_point.to(torch.float32))

    @classmethod
    def from_layer(cls, layer: nn.Module, quantizer: ScalarQuantizer, name: str = "layer"):
        """Quantize a weight layer with ``quantizer`` (fitted on its weight)."""
        spec = layer_spec(layer, name)
        w = layer.weight.detach()
        quantizer = copy.copy(quantizer).fit(w)
        codes = quantizer.quantize(w)
        return cls(spec, codes, quantizer.scale_, quantizer.zero_point_, quantizer.bits,
                   quantizer.scheme, getattr(layer, "bias", None))  # fmt: skip

    def dense_weight(self) -> torch.Tensor:
        return dequantize(self.codes, self.scale, self.zero_point)

    @property
    def granularity(self) -> str:
        return "channel" if self.scale.ndim else "tensor"

    def pack_state(self):
        arrays = {
            "codes": pack_bits(self.codes.flatten().cpu().numpy(), self.bits),
            "scale": self.scale.flatten().cpu().numpy().astype(np.float32),
        }
        kinds = {"codes": "indices", "scale": "scale"}
        if self.scheme == "asymmetric":
            zp = self.zero_point.flatten().cpu().numpy().astype(np.int64)
            arrays["zero_point"], kinds["zero_point"] = pack_bits(zp, self.bits), "scale"
        self._pack_bias(arrays, kinds)
        meta = {"spec": self.spec, "bits": self.bits, "scheme": self.scheme,
                "granularity": self.granularity}  # fmt: skip
        return arrays, kinds, meta

    @classmethod
    def unpack_state(cls, arrays, meta):
        shape = weight_shape(meta["spec"])
        bits = meta["bits"]
        codes = unpack_bits(arrays["codes"], bits, math.prod(shape)).reshape(shape)
        pshape = (shape[0],) + (1,) * (len(shape) - 1) if meta["granularity"] == "channel" else ()
        scale = torch.from_numpy(np.array(arrays["scale"], np.float32)).reshape(pshape)
        if meta["scheme"] == "asymmetric":
            n = int(np.prod(pshape)) if pshape else 1
            zp = torch.from_numpy(unpack_bits(arrays["zero_point"], bits, n)).float()
        else:
            zp = torch.full(pshape, 2.0 ** (bits - 1))
        return cls(meta["spec"], torch.from_numpy(codes), scale, zp.reshape(pshape), bits,
                   meta["scheme"], cls._unpack_bias(arrays))  # fmt: skip

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bits={self.bits}, {self.scheme}, per {self.granularity}"


def quantize_model(
    model: nn.Module,
    bits: int = 8,
    *,
    scheme: str = "symmetric",
    granularity: str = "channel",
    calibration: str = "minmax",
    percentile: float = 99.9,
    layers=None,
    exclude=None,
    inplace: bool = False,
) -> nn.Module:
    """Post-training scalar quantization of every selected weight layer.

    Parameters
    ----------
    model : torch.nn.Module
    bits, scheme, granularity, calibration, percentile
        See :func:`quant_params`.
    layers, exclude : patterns, optional
        See :func:`~parsimony.compression.layers.select_layers`.
    inplace : bool
        Modify ``model`` instead of a copy.

    Returns
    -------
    torch.nn.Module
        The model with :class:`ScalarQuantizedLayer` in place of the selected layers.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> from parsimony.compression import size_report
    >>> m = build_model("mlp", in_features=64, hidden=[64])
    >>> r = size_report(quantize_model(m, 4))
    >>> r.by_kind["indices"] == (64 * 64 + 64 * 10) // 2
    True
    """
    check_module(model)
    quantizer = ScalarQuantizer(bits, scheme, granularity, calibration, percentile)
    quant_params(torch.zeros(1, 1), **quantizer.get_params())  # validate once, early
    if not inplace:
        model = copy.deepcopy(model)
    for name, layer in select_layers(model, layers, exclude):
        set_module(model, name, ScalarQuantizedLayer.from_layer(layer, quantizer, name))
    return model
