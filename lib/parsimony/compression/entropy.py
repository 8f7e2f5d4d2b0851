r"""Entropy Penalized Reparameterization (EPR) and entropy coding of integer latents.

Oktay, Ballé, Singh, Shrivastava, "Scalable Model Compression by Entropy Penalized
Reparameterization", ICLR 2020 (arXiv 1906.06624).

**Reparameterization.** Every parameter tensor :math:`\theta_k` of a selected layer (weight
*and* bias) is decoded from an integer latent tensor :math:`\tilde\varphi_k` by a tiny
per-tensor decoder:

.. math::

    \theta_k = a_k \tilde\varphi_k + b_k \quad\text{(dense kernels, biases)},\qquad
    \theta_{k,c} = M_k \tilde\varphi_{k,c} + b_k \quad\text{(each kernel } c
    \text{ of a convolution)},

with :math:`M_k \in \mathbb{R}^{hw \times hw}` initialised to a scaled orthonormal DCT
basis (so the latents start as DCT coefficients of the kernels).

**Probability model.** Each tensor (group) has its own learned density
:math:`q_k`: a mixture of ``n_components`` logistics, whose discretization is the pmf
:math:`P_k(n) = c_k(n + \tfrac12) - c_k(n - \tfrac12)` (:math:`c_k` the mixture's CDF),
i.e. the density of :math:`\varphi + \mathcal{U}(-\tfrac12, \tfrac12)`.

**Loss** (one stage, from scratch; :func:`epr_penalty` plugs into
:func:`parsimony.nn.train`):

.. math::

    L = \mathrm{CE}\bigl(y, f(x; \theta(\lfloor\varphi\rceil))\bigr)
        + \frac{\lambda}{n} \sum_k \sum_i -\log_2 q_k(\varphi_{ki} + u_{ki}),
    \qquad u \sim \mathcal{U}(-\tfrac12, \tfrac12),

with straight-through rounding in the classification term, the noise relaxation in the
rate term, and :math:`n` the number of parameters (so one :math:`\lambda` grid fits
models of any size). The densities receive the gradient of the same rate with the latents
held fixed (so they fit the latents at any :math:`\lambda`, including 0); the latents the
gradient of :math:`\lambda` times the rate.

**Coding.** :func:`parsimony.compression.pack` codes every group with an ANS coder
(``constriction``) under the pmf tabulated from the *stored* (float16) density parameters
on the support ``[min, max]`` of its latents; the stored bytes are the coded words, the
density parameters, the decoders and the header (shapes, support bounds). The decoded
network is :math:`\theta(\mathrm{decode}(\text{bytes}))`, equal to the trained network
with rounded latents. :func:`quantize_then_code` is the baseline: float training, uniform
scalar quantization with step :math:`\Delta`, the same coder with an empirical pmf (stored
as counts), with one step per layer (:func:`layer_steps`) and optional quantization-aware
fine-tuning (:func:`uniform_fake_quantize`).

The rate/accuracy sweep, the fine-tuning protocol shared by EPR and the baseline and the
claim statistics live in :mod:`parsimony.compression.experiments.epr`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from parsimony._validation import check_float, check_int
from parsimony.compression.layers import (
    CompressedLayer,
    apply_layer,
    layer_spec,
    select_kernel_layers,
    set_module,
    weight_shape,
)
from parsimony.compression.packing import register_compressed


# --------------------------------------------------------------------------- coding
def _categorical(probs: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(np.asarray(probs, np.float64), perfect=False)


def encode_symbols(symbols, probs) -> np.ndarray:
    """ANS-code integers ``symbols`` in ``[0, len(probs))`` under ``probs``; uint32 words.

    Examples
    --------
    >>> p = np.array([0.7, 0.2, 0.1]); s = np.array([0, 0, 1, 2, 0])
    >>> words = encode_symbols(s, p)
    >>> decode_symbols(words, p, 5).tolist()
    [0, 0, 1, 2, 0]
    """
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    symbols = np.ascontiguousarray(symbols, dtype=np.int32).ravel()
    if len(probs) == 1:  # one symbol: nothing to code
        return np.zeros(0, np.uint32)
    if symbols.size:
        coder.encode_reverse(symbols, _categorical(probs))
    return np.asarray(coder.get_compressed(), dtype=np.uint32)


def decode_symbols(words, probs, count: int) -> np.ndarray:
    """Inverse of :func:`encode_symbols`: ``count`` int64 symbols."""
    import constriction

    if count == 0 or len(probs) == 1:
        return np.zeros(int(count), np.int64)
    coder = constriction.stream.stack.AnsCoder(np.ascontiguousarray(words, dtype=np.uint32))
    return np.asarray(coder.decode(_categorical(probs), int(count)), dtype=np.int64)


def logistic_mixture_pmf(params, lo: int, hi: int) -> np.ndarray:
    """The discretized logistic mixture on the integers ``lo..hi``, renormalised (float64).

    ``params`` is (3, K): locations, log-scales, logits. Computed in NumPy float64 from the
    stored values, identically at encoding and decoding.
    """
    loc, log_scale, logits = (np.asarray(p, np.float64) for p in np.asarray(params, np.float64))
    w = np.exp(logits - logits.max())
    w /= w.sum()
    n = np.arange(lo, hi + 1, dtype=np.float64)[:, None]
    inv = np.exp(-log_scale)
    z, h = (n - loc) * inv, 0.5 * inv
    # sigma(z + h) - sigma(z - h) = sigma(z + h) sigma(h - z) (1 - exp(-2h)): no cancellation
    log_sig = lambda t: -np.logaddexp(0.0, -t)  # noqa: E731
    lp = log_sig(z + h) + log_sig(h - z) + np.log(-np.expm1(-2 * h)) + np.log(w)
    m = lp.max(axis=1, keepdims=True)
    p = np.exp(m[:, 0]) * np.exp(lp - m).sum(axis=1)
    p = np.maximum(p, 1e-12)
    return p / p.sum()


class LogisticMixtureDensity(nn.Module):
    """A learned factorized density: ``n_components`` logistics (location, scale, weight).

    ``likelihood(x)`` is the mass of ``[x - 1/2, x + 1/2]`` (the density of the
    noise-relaxed latent, and the pmf at integers).
    """

    #: the raw parameters are the values divided by this, so that one optimizer (Adam, one
    #: learning rate) moves the density this many times faster than the latents
    SPEED = 20.0

    def __init__(self, n_components: int = 3, scale: float = 4.0):
        super().__init__()
        k = check_int(n_components, "n_components", low=1)
        spread = torch.linspace(-1.0, 1.0, k) if k > 1 else torch.zeros(1)
        self.raw = nn.Parameter(
            torch.stack([torch.zeros(k), math.log(scale) + spread, torch.zeros(k)]) / self.SPEED
        )

    @property
    def loc(self):
        return self.raw[0] * self.SPEED

    @property
    def log_scale(self):
        return self.raw[1] * self.SPEED

    @property
    def logits(self):
        return self.raw[2] * self.SPEED

    def set_params_(self, params) -> None:
        """Set (loc, log_scale, logits) from a (3, K) array."""
        with torch.no_grad():
            self.raw.copy_(torch.as_tensor(np.asarray(params, np.float32)) / self.SPEED)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        r"""Natural log of the mass of ``[x - 1/2, x + 1/2]``, stable in both tails:
        :math:`\sigma(z + h) - \sigma(z - h) = \sigma(z + h)\,\sigma(h - z)\,(1 - e^{-2h})`
        with :math:`z = (x - \mu)/s`, :math:`h = 1/(2s)`."""
        inv = (-self.log_scale).exp()
        z = (x.reshape(-1, 1) - self.loc) * inv
        h = 0.5 * inv
        lp = F.logsigmoid(z + h) + F.logsigmoid(h - z) + torch.log(-torch.expm1(-2 * h))
        return torch.logsumexp(lp + torch.log_softmax(self.logits, 0), 1)

    def likelihood(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_likelihood(x).exp()

    def bits(self, x: torch.Tensor) -> torch.Tensor:
        """``sum -log2 likelihood(x)``."""
        return -self.log_likelihood(x).sum() / math.log(2.0)

    def params_array(self) -> np.ndarray:
        """(3, K) float16: what is stored."""
        return (
            torch.stack([self.loc, self.log_scale, self.logits])
            .detach()
            .cpu()
            .numpy()
            .astype(np.float16)
        )


def dct_basis(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (rows are basis vectors), (n, n)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def kernel_basis(kernel_size) -> np.ndarray:
    """Separable orthonormal DCT basis of a kernel (prod(k) x prod(k))."""
    out = np.ones((1, 1))
    for k in kernel_size:
        out = np.kron(out, dct_basis(int(k)))
    return out


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


class _Group(nn.Module):
    """One parameter tensor: continuous latent, decoder, density.

    The trained variable is ``latent`` in weight units (DCT coefficients for a kernel) and
    the latent of the paper is ``phi = latent / a`` (``a = exp(log_a)``, learned), so that
    raising ``a`` coarsens every latent at once (as in the official tutorial); the integer
    latent is ``round(phi)`` and the decoder ``theta = a round(phi) [M^T] + b``.
    """

    def __init__(self, value: torch.Tensor, step: float, kernel=None, n_components=3,
                 latent_std=4.0):  # fmt: skip
        super().__init__()
        value = value.detach().to(torch.float32)
        self.shape = tuple(value.shape)
        self.decoded = False  # True once rebuilt from bytes: latent holds the integers
        self.log_a = nn.Parameter(torch.tensor(math.log(step)))
        if kernel is None:
            self.basis = None
            latent = value
        else:
            kk = math.prod(kernel)
            basis = torch.as_tensor(kernel_basis(kernel), dtype=torch.float32)
            self.basis = nn.Parameter(basis.T.contiguous())  # theta = M coefficients
            latent = value.reshape(-1, kk) @ basis.T  # DCT coefficients
        self.offset = nn.Parameter(torch.zeros(()))
        self.latent = nn.Parameter(latent.reshape(-1).clone())
        self.density = LogisticMixtureDensity(n_components, latent_std)

    def phi(self) -> torch.Tensor:
        return self.latent if self.decoded else self.latent / self.log_a.exp()

    def decode(self, ints: torch.Tensor) -> torch.Tensor:
        theta = self.log_a.exp() * ints
        if self.basis is not None:
            theta = theta.reshape(-1, self.basis.shape[0]) @ self.basis.T
        return (theta + self.offset).reshape(self.shape)

    def value(self) -> torch.Tensor:
        return self.decode(_round_ste(self.phi()))

    def ints(self) -> np.ndarray:
        return torch.round(self.phi()).detach().cpu().numpy().astype(np.int64)

    def rate_terms(self, lam: float) -> torch.Tensor:
        """``bits(phi + u)``, whose gradient is ``lam`` times the rate's for the latents and
        the rate's for the density (one pass: the latents' gradient is scaled)."""
        phi = self.phi()
        u = torch.rand_like(phi) - 0.5
        scaled = phi.detach() + lam * (phi - phi.detach())  # value phi, gradient x lam
        return self.density.bits(scaled + u)

    def decoder_arrays(self) -> dict:
        out = {"affine": torch.stack([self.log_a, self.offset])}  # a = exp(log_a) at decoding
        if self.basis is not None:
            out["basis"] = self.basis
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in out.items()}


@register_compressed("epr")
class EPRLayer(CompressedLayer):
    """A weight layer (and its bias) reparameterized by integer latents and decoders.

    In training mode the latents are continuous parameters (rounded with a straight-through
    gradient); :func:`pack` entropy-codes their rounded values. A layer rebuilt by
    :func:`unpack` holds the decoded integers (``decoded=True``) and computes the same
    weights.

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layer_spec` of a Linear, Conv1d or Conv2d layer.
    weight, bias : tensor
        Initial values (bias may be None).
    latent_std : float
        Initial step: ``std(weight) / latent_std`` (latents start with that std).
    n_components : int
        Logistics per density.
    conv_basis : bool
        For convolutions, decode each kernel with a learned linear map initialised to a DCT
        basis (else the scalar affine decoder).
    """

    def __init__(self, spec, weight, bias=None, *, latent_std=4.0, n_components=3,
                 conv_basis=True):  # fmt: skip
        nn.Module.__init__(self)  # the bias is decoded, not a float parameter
        self.spec = dict(spec)
        std = float(weight.detach().std()) if weight.numel() > 1 else 1.0
        step = max(std, 1e-3) / latent_std
        kernel = None
        if spec["type"] in ("conv1d", "conv2d") and conv_basis:
            kernel = tuple(spec["kernel_size"])
        self.groups_ = nn.ModuleDict(
            {"weight": _Group(weight, step, kernel, n_components, latent_std)}
        )
        if bias is not None:
            self.groups_["bias"] = _Group(bias, step, None, n_components, latent_std)

    @property
    def bias(self):
        g = self.groups_["bias"] if "bias" in self.groups_ else None
        return g.value() if g is not None else None

    def dense_weight(self) -> torch.Tensor:
        return self.groups_["weight"].value()

    def forward(self, x):
        return apply_layer(self.spec, x, self.dense_weight(), self.bias)

    def dense_numel(self) -> int:
        return sum(math.prod(g.shape) for g in self.groups_.values())

    def rate_terms(self, lam: float) -> torch.Tensor:
        return sum(g.rate_terms(lam) for g in self.groups_.values())

    def estimate_bits(self) -> dict:
        """Per group: ``-sum log2 q(round(phi))`` under the learned density (float)."""
        with torch.no_grad():
            return {k: float(g.density.bits(torch.round(g.phi()))) for k, g in self.groups_.items()}

    def pack_state(self):
        """Per layer three arrays (the header costs ~80 bytes per array): the coded words
        of all its tensors, their density parameters (float16) and their decoders."""
        words, dens, decs, groups = [], [], [], {}
        for k, g in self.groups_.items():
            ints = g.ints()
            lo, hi = int(ints.min()), int(ints.max())
            dparams = g.density.params_array()
            code = encode_symbols(ints - lo, logistic_mixture_pmf(dparams, lo, hi))
            words.append(code)
            dens.append(dparams)
            decs.append(np.concatenate([a.ravel() for a in g.decoder_arrays().values()]))
            groups[k] = [lo, hi, int(ints.size), int(code.size)]
        arrays = {
            "coded": np.concatenate(words).astype(np.uint32),
            "density": np.stack(dens),
            "decoder": np.concatenate(decs).astype(np.float32),
        }
        kinds = {"coded": "coded", "density": "density", "decoder": "decoder"}
        return arrays, kinds, {"spec": self.spec, "groups": groups}

    @classmethod
    def unpack_state(cls, arrays, meta):
        spec, groups = meta["spec"], meta["groups"]
        wshape = weight_shape(spec)
        dens_all = np.array(arrays["density"])
        n_dec = 2 * len(groups) if spec["type"] == "linear" else None
        conv_basis = n_dec is None and arrays["decoder"].size > 2 * len(groups)
        layer = cls(
            spec,
            torch.zeros(wshape),
            torch.zeros(wshape[0]) if "bias" in groups else None,
            n_components=dens_all.shape[2],
            conv_basis=conv_basis,
        )
        words = np.array(arrays["coded"], np.uint32)
        dec = np.array(arrays["decoder"], np.float32)
        w0 = d0 = 0
        with torch.no_grad():
            for i, (k, g) in enumerate(layer.groups_.items()):
                lo, hi, n, n_words = groups[k]
                probs = logistic_mixture_pmf(dens_all[i], lo, hi)
                ints = decode_symbols(words[w0 : w0 + n_words], probs, n) + lo
                w0 += n_words
                g.decoded = True
                g.latent.copy_(torch.from_numpy(ints.astype(np.float32)))
                g.density.set_params_(dens_all[i].astype(np.float32))
                g.log_a.fill_(float(dec[d0]))
                g.offset.fill_(float(dec[d0 + 1]))
                d0 += 2
                if g.basis is not None:
                    kk = g.basis.shape[0]
                    g.basis.copy_(torch.from_numpy(dec[d0 : d0 + kk * kk].reshape(kk, kk)))
                    d0 += kk * kk
        return layer


def _check_lambda(lam) -> float:
    return check_float(lam, "lam", low=0.0)


def epr_model(model: nn.Module, *, layers=None, exclude=None, latent_std: float = 4.0,
              n_components: int = 3, conv_basis: bool = True) -> nn.Module:  # fmt: skip
    """A copy of ``model`` whose Linear / Conv1d / Conv2d layers are :class:`EPRLayer`.

    Normalisation layers stay float (stored by :func:`pack` at float32).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> from parsimony.compression import pack, unpack
    >>> net = epr_model(build_model("mlp", in_features=8, n_classes=3, hidden=[16]))
    >>> x = torch.randn(4, 8)
    >>> bool(torch.equal(unpack(pack(net))(x), net.eval()(x)))
    True
    """
    latent_std = check_float(latent_std, "latent_std", low=0.0, low_inclusive=False)
    chosen = select_kernel_layers(model, layers, exclude, method="epr")
    out = copy.deepcopy(model).cpu()
    for name, mod in chosen:
        set_module(
            out,
            name,
            EPRLayer(
                layer_spec(mod, name),
                mod.weight,
                mod.bias,
                latent_std=latent_std,
                n_components=n_components,
                conv_basis=conv_basis,
            ),  # fmt: skip
        )
    return out


def epr_layers(model: nn.Module) -> list[tuple[str, EPRLayer]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, EPRLayer)]


def n_parameters(model: nn.Module) -> int:
    """Values of the uncompressed model (the EPR layers' dense size plus other parameters)."""
    owned = [n for n, _ in epr_layers(model)]
    other = sum(
        p.numel()
        for k, p in model.named_parameters()
        if not any(k.startswith(o + ".") for o in owned)
    )
    return sum(m.dense_numel() for _, m in epr_layers(model)) + other


def epr_penalty(lam: float, model: nn.Module | None = None):
    """The rate term for :func:`parsimony.nn.train`: ``penalty(model)``.

    ``(lam * bits(latents; densities fixed) + bits(latents fixed; densities)) / n`` with
    ``n`` the model's parameter count (fixed at the first call, or from ``model``).

    Raises
    ------
    ValueError
        ``lam < 0``.
    """
    lam = _check_lambda(lam)
    cache = {}
    if model is not None:
        cache["n"] = n_parameters(model)

    def penalty(net):
        if "n" not in cache:
            cache["n"] = n_parameters(net)
        layers = epr_layers(net)
        if not layers:
            raise ValueError("the model has no EPRLayer: wrap it with epr_model first")
        return sum(m.rate_terms(lam) for _, m in layers) / cache["n"]

    return penalty


def coding_report(model: nn.Module) -> list[dict]:
    """Per coded stream: ``module``, ``group``, ``n``, ``estimate_bytes`` (learned density,
    ``-sum log2 q / 8``), ``coded_bytes`` (4 x ANS words actually written)."""
    rows = []
    for name, m in epr_layers(model):
        est = m.estimate_bits()
        arrays, _, meta = m.pack_state()
        for k in m.groups_:
            lo, hi, n, n_words = meta["groups"][k]
            rows.append(
                {
                    "module": name,
                    "group": k,
                    "n": n,
                    "support": hi - lo + 1,
                    "estimate_bytes": est[k] / 8.0,
                    "coded_bytes": 4 * n_words,
                }
            )
    return rows


# ----------------------------------------------------------------- the baseline
@register_compressed("uniform_coded")
class UniformCodedLayer(CompressedLayer):
    """Uniform scalar quantization ``theta = step * n`` entropy-coded with an empirical pmf.

    The weight and the bias are quantized with the same step; each is coded with the ANS
    coder under its own histogram, stored as uint32 counts on its support.
    """

    def __init__(self, spec, weight_ints, bias_ints, step: float):
        nn.Module.__init__(self)
        self.spec = dict(spec)
        self.step = float(np.float32(step))
        self.register_buffer("w_ints", torch.as_tensor(weight_ints, dtype=torch.float32))
        self.register_buffer(
            "b_ints",
            torch.as_tensor(bias_ints, dtype=torch.float32) if bias_ints is not None else None,
        )

    @property
    def bias(self):
        return None if self.b_ints is None else self.b_ints * self.step

    def dense_weight(self):
        return (self.w_ints * self.step).reshape(weight_shape(self.spec))

    def forward(self, x):
        return apply_layer(self.spec, x, self.dense_weight(), self.bias)

    def dense_numel(self):
        return self.w_ints.numel() + (0 if self.b_ints is None else self.b_ints.numel())

    def pack_state(self):
        words, tables, groups = [], [], {}
        for k, t in (("weight", self.w_ints), ("bias", self.b_ints)):
            if t is None:
                continue
            ints = t.cpu().numpy().astype(np.int64).ravel()
            lo, hi = int(ints.min()), int(ints.max())
            counts = np.bincount(ints - lo, minlength=hi - lo + 1)
            code = encode_symbols(ints - lo, counts / counts.sum())
            words.append(code)
            tables.append(counts)
            groups[k] = [lo, hi, int(ints.size), int(code.size)]
        table = np.concatenate(tables)
        dtype = np.uint16 if table.max() < 2**16 else np.uint32
        arrays = {
            "coded": np.concatenate(words).astype(np.uint32),
            "counts": table.astype(dtype),
            "step": np.array([self.step], np.float32),
        }
        kinds = {"coded": "coded", "counts": "table", "step": "decoder"}
        return arrays, kinds, {"spec": self.spec, "groups": groups}

    @classmethod
    def unpack_state(cls, arrays, meta):
        out, w0, c0 = {}, 0, 0
        words = np.array(arrays["coded"], np.uint32)
        table = np.array(arrays["counts"], np.float64)
        wshape = weight_shape(meta["spec"])
        for k in ("weight", "bias"):  # the packing order (the JSON header sorts keys)
            if k not in meta["groups"]:
                continue
            lo, hi, n, n_words = meta["groups"][k]
            counts = table[c0 : c0 + hi - lo + 1]
            ints = decode_symbols(words[w0 : w0 + n_words], counts / counts.sum(), n) + lo
            w0, c0 = w0 + n_words, c0 + hi - lo + 1
            out[k] = ints.reshape(wshape if k == "weight" else (wshape[0],))
        step = float(np.array(arrays["step"])[0])
        return cls(meta["spec"], out["weight"], out.get("bias"), step)


def layer_steps(model: nn.Module, relative_step: float, *, layers=None, exclude=None) -> dict:
    """Per-layer quantization steps: ``relative_step * std(W_l)`` for each selected layer.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> sorted(layer_steps(net, 0.5))
    ['0', '2']
    """
    relative_step = check_float(relative_step, "relative_step", low=0.0, low_inclusive=False)
    chosen = select_kernel_layers(model, layers, exclude, method="quantize_then_code")
    out = {}
    for name, mod in chosen:
        w = mod.weight.detach().to(torch.float32)
        std = float(w.std()) if w.numel() > 1 else float(w.abs().max())
        out[name] = relative_step * max(std, 1e-8)
    return out


def _steps_for(chosen, step) -> dict:
    if isinstance(step, dict):
        missing = sorted({n for n, _ in chosen} - set(step))
        if missing:
            raise ValueError(f"step has no value for the layers {missing}")
        steps = {n: step[n] for n, _ in chosen}
    else:
        steps = {n: step for n, _ in chosen}
    return {n: check_float(v, "step", low=0.0, low_inclusive=False) for n, v in steps.items()}


class RoundToStep(nn.Module):
    """Parametrization ``w -> step * round(w / step)`` with a straight-through gradient."""

    def __init__(self, step: float):
        super().__init__()
        self.step = float(np.float32(check_float(step, "step", low=0.0, low_inclusive=False)))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + (torch.round(w / self.step) * self.step - w).detach()


def uniform_fake_quantize(model: nn.Module, step, *, layers=None, exclude=None) -> nn.Module:
    """A copy of ``model`` whose selected weights and biases are rounded to multiples of their
    layer's step in every forward (straight-through gradient): quantization-aware
    fine-tuning of the quantize-then-code baseline.

    ``step`` is a float or ``{layer name: step}`` (e.g. :func:`layer_steps`). The copy stays
    an ordinary module (``torch.nn.utils.parametrize``); after training,
    :func:`quantize_then_code` with the same steps stores exactly the rounded values.
    """
    from torch.nn.utils import parametrize

    chosen = select_kernel_layers(model, layers, exclude, method="quantize_then_code")
    steps = _steps_for(chosen, step)
    out = copy.deepcopy(model).cpu()
    for name, _ in chosen:
        mod = out.get_submodule(name)
        for attr in ("weight", "bias"):
            if getattr(mod, attr) is not None:
                parametrize.register_parametrization(mod, attr, RoundToStep(steps[name]))
    return out


def quantize_then_code(model: nn.Module, step, *, layers=None, exclude=None) -> nn.Module:
    """Baseline: every weight and bias of the selected layers rounded to multiples of ``step``.

    ``step`` is one float for every layer or ``{layer name: step}`` (per-layer steps, e.g.
    :func:`layer_steps`). Packs (with :func:`pack`) into ANS-coded integers under an
    empirical pmf per tensor.

    Raises
    ------
    ValueError
        A step that is not positive, or a layer without a step.
    """
    chosen = select_kernel_layers(model, layers, exclude, method="quantize_then_code")
    steps = _steps_for(chosen, step)
    out = copy.deepcopy(model).cpu()
    for name, mod in chosen:
        s = np.float32(steps[name])
        w = torch.round(mod.weight.detach().cpu() / s)
        b = torch.round(mod.bias.detach().cpu() / s) if mod.bias is not None else None
        set_module(out, name, UniformCodedLayer(layer_spec(mod, name), w, b, float(s)))
    return out
