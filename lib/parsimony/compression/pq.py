r"""Product quantization of weight layers and iterative PQ (iPQ).

Stock et al., "And the Bit Goes Down: Revisiting the Quantization of Neural Networks",
ICLR 2020; Fan et al., "Training with Quantization Noise for Extreme Model Compression",
ICLR 2021 (arXiv:2004.07320), Section 3.2 and Algorithm (iPQ).

A weight is cut into blocks of ``block_size`` values (see
:func:`~parsimony.compression.layers.to_blocks`); k-means (weight-space objective, fairseq's
choice, :func:`~parsimony.compression.kmeans.kmeans`) learns ``K`` centroids, and the layer
stores one index per block plus the codebook:

.. math:: \hat W = \operatorname{reshape}\big(C[a]\big), \qquad
          C \in \mathbb{R}^{K \times bs},\ a \in \{0..K-1\}^{n_\text{blocks}} .

Size (honest, as serialized): indices take ``ceil(n_blocks * ceil(log2 K) / 8)`` bytes
(bit-packed: one byte per block at K = 256), the codebook ``K * bs * 2`` bytes in float16,
the bias float32. The layer evaluates with the float16-rounded codebook, so the unpacked
layer reproduces it exactly.

:class:`PQLayer` keeps the centroids trainable and the assignments fixed. The gradient of a
centroid is the **mean** of the gradients of the blocks assigned to it (counts from
``bincount(minlength=K)``, clamped at 1 so an unused centroid gets a zero gradient); the
public code mixes mean (conv) and sum (linear, embedding) and crashes on unused centroids.

:class:`IterativePQ` quantizes a model in stages (by default one weight layer per stage, in
module order), fine-tuning the centroids and every still-float parameter with the task loss
(:func:`parsimony.nn.train`) after each stage.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from parsimony._validation import check_choice, check_int, check_module, check_tensor
from parsimony.compression.container import pack_bits, unpack_bits
from parsimony.compression.kmeans import assign, kmeans
from parsimony.compression.layers import (
    CompressedLayer,
    check_block_size,
    from_blocks,
    layer_spec,
    per_layer,
    renamed_argument,
    select_layers,
    set_module,
    to_blocks,
    weight_shape,
)
from parsimony.compression.packing import register_compressed

CENTROID_DTYPES = ("float16", "float32")


def index_bits(n_centroids: int) -> int:
    """Bits per stored index: ``max(1, ceil(log2 K))``.

    Examples
    --------
    >>> index_bits(256), index_bits(16), index_bits(100), index_bits(1)
    (8, 4, 7, 1)
    """
    n_centroids = check_int(n_centroids, "n_centroids", low=1)
    return max(1, math.ceil(math.log2(n_centroids)))


def _check_k(n_centroids, n_blocks, name):
    n_centroids = check_int(n_centroids, "n_centroids", low=1)
    if n_centroids > n_blocks:
        raise ValueError(
            f"n_centroids={n_centroids} exceeds the {n_blocks} blocks of layer {name!r}: "
            "lower it (or pass cap_centroids=True to IterativePQ)"
        )
    return n_centroids


def product_quantize(
    weight: torch.Tensor,
    block_size: int,
    n_centroids: int,
    *,
    max_iter: int = 20,
    random_state=None,
    name: str = "weight",
    n_iter: int | None = None,
):
    """Learn a PQ codebook of ``weight``: ``(centroids (K, bs), assignments (n_blocks,))``.

    ``max_iter`` k-means iterations (:func:`~parsimony.compression.kmeans.kmeans`);
    ``n_iter`` is its deprecated alias (one release).

    Examples
    --------
    >>> w = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    >>> C, a = product_quantize(w, 4, 8, random_state=0)
    >>> C.shape, a.shape, pq_decode(a, C, w.shape).shape
    (torch.Size([8, 4]), torch.Size([32]), torch.Size([16, 8]))
    """
    check_tensor(weight, "weight")
    block_size = check_block_size(weight.shape, block_size, name)
    blocks = to_blocks(weight.detach().float(), block_size)
    n_centroids = _check_k(n_centroids, blocks.shape[0], name)
    max_iter = renamed_argument(max_iter, n_iter, "max_iter", "n_iter")
    r = kmeans(blocks, n_centroids, max_iter=max_iter, random_state=random_state)
    return r.centroids, r.assignments


def pq_encode(weight: torch.Tensor, centroids: torch.Tensor, name: str = "weight") -> torch.Tensor:
    """Nearest-centroid index of every block of ``weight`` (block size = ``centroids.shape[1]``)."""
    check_tensor(weight, "weight")
    check_tensor(centroids, "centroids", ndim=2)
    block_size = check_block_size(weight.shape, centroids.shape[1], name)
    return assign(to_blocks(weight.detach().float(), block_size), centroids)[0]


def pq_decode(assignments: torch.Tensor, centroids: torch.Tensor, shape) -> torch.Tensor:
    """``centroids[assignments]`` reshaped to ``shape`` (the inverse of :func:`pq_encode`)."""
    check_tensor(centroids, "centroids", ndim=2)
    check_tensor(assignments, "assignments", ndim=1, floating=False)
    if assignments.is_floating_point() or assignments.dtype == torch.bool:
        raise TypeError(f"assignments must be an integer tensor, got dtype {assignments.dtype}")
    if assignments.numel() and (
        int(assignments.min()) < 0 or int(assignments.max()) >= centroids.shape[0]
    ):
        raise ValueError(f"assignments must lie in [0, {centroids.shape[0] - 1}]")
    n_values = assignments.numel() * centroids.shape[1]
    if math.prod(tuple(shape)) != n_values:
        raise ValueError(f"shape {tuple(shape)} does not hold the {n_values} decoded values")
    return from_blocks(centroids[assignments], shape)


class _GatherMean(torch.autograd.Function):
    """``C[a]`` whose backward averages (not sums) the gradients of each centroid's blocks."""

    @staticmethod
    def forward(ctx, C, a, counts):
        ctx.save_for_backward(a, counts)
        return C[a]

    @staticmethod
    def backward(ctx, grad):
        a, counts = ctx.saved_tensors
        n_c = counts.shape[0]
        g = torch.zeros(n_c, grad.shape[1], dtype=grad.dtype, device=grad.device)
        return g.index_add_(0, a, grad) / counts[:, None].to(grad.dtype), None, None


def round_ste(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` rounded to ``dtype`` in the forward, identity gradient."""
    r = x.detach().to(dtype).to(x.dtype)
    if not (torch.is_grad_enabled() and x.requires_grad):
        return r
    return x + (r - x.detach())  # exact: r - x is exact (Sterbenz) and so is the sum


@register_compressed("pq")
class PQLayer(CompressedLayer):
    """A product-quantized weight layer: trainable centroids, fixed assignments.

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layers.layer_spec` of the original layer.
    centroids : tensor (K, block_size)
    assignments : tensor (n_blocks,)
    bias : tensor, optional
    centroid_dtype : {"float16", "float32"}
        Storage (and evaluation) precision of the codebook.

    Examples
    --------
    >>> lin = nn.Linear(256, 256)
    >>> q = PQLayer.from_layer(lin, block_size=8, n_centroids=256, max_iter=2, random_state=0)
    >>> arrays, kinds, meta = q.pack_state()
    >>> arrays["assignments"].nbytes == lin.weight.numel() // 8, arrays["centroids"].nbytes
    (True, 4096)
    """

    def __init__(self, spec, centroids, assignments, bias=None, centroid_dtype="float16"):
        super().__init__(spec, bias)
        check_choice(centroid_dtype, "centroid_dtype", CENTROID_DTYPES)
        self.centroid_dtype = centroid_dtype
        c = centroids.detach().to(torch.float32)
        self.centroids = nn.Parameter(c.to(getattr(torch, centroid_dtype)).to(torch.float32))
        a = assignments.detach().to(torch.int64).flatten()
        n_blocks = math.prod(self.weight_shape) // c.shape[1]
        if a.numel() != n_blocks:
            raise ValueError(f"assignments must have {n_blocks} entries, got {a.numel()}")
        self.register_buffer("assignments", a)
        counts = torch.bincount(a, minlength=c.shape[0]).clamp(min=1)
        self.register_buffer("counts", counts, persistent=False)

    @property
    def n_centroids(self) -> int:
        return self.centroids.shape[0]

    @property
    def block_size(self) -> int:
        return self.centroids.shape[1]

    @classmethod
    def from_layer(
        cls,
        layer: nn.Module,
        block_size: int,
        n_centroids: int,
        *,
        max_iter: int = 20,
        random_state=None,
        centroid_dtype: str = "float16",
        name: str = "layer",
        n_iter: int | None = None,
    ):
        """Product-quantize a weight layer (k-means on its blocks; ``n_iter``: deprecated
        alias of ``max_iter``)."""
        spec = layer_spec(layer, name)
        C, a = product_quantize(
            layer.weight, block_size, n_centroids,
            max_iter=renamed_argument(max_iter, n_iter, "max_iter", "n_iter"),
            random_state=random_state, name=name,
        )  # fmt: skip
        return cls(spec, C, a, getattr(layer, "bias", None), centroid_dtype)

    def dense_weight(self) -> torch.Tensor:
        C = round_ste(self.centroids, getattr(torch, self.centroid_dtype))
        return from_blocks(_GatherMean.apply(C, self.assignments, self.counts), self.weight_shape)

    def pack_state(self):
        bits = index_bits(self.n_centroids)
        arrays = {
            "assignments": pack_bits(self.assignments.cpu().numpy(), bits),
            "centroids": self.centroids.detach().cpu().numpy().astype(self.centroid_dtype),
        }
        kinds = {"assignments": "indices", "centroids": "codebook"}
        self._pack_bias(arrays, kinds)
        meta = {"spec": self.spec, "n_centroids": self.n_centroids, "block_size": self.block_size}
        return arrays, kinds, meta

    @classmethod
    def unpack_state(cls, arrays, meta):
        k, bs = meta["n_centroids"], meta["block_size"]
        n_blocks = math.prod(weight_shape(meta["spec"])) // bs
        a = unpack_bits(arrays["assignments"], index_bits(k), n_blocks)
        C = np.array(arrays["centroids"])
        return cls(meta["spec"], torch.from_numpy(C.astype(np.float32)), torch.from_numpy(a),
                   cls._unpack_bias(arrays), C.dtype.name)  # fmt: skip

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, K={self.n_centroids}, block_size={self.block_size}"


def _largest_pow2_at_most(n: int) -> int:
    return 1 << (int(n).bit_length() - 1)


def _resolve(name, layer, block_size, n_centroids, cap):
    bs = per_layer(block_size, name, "block_size")
    bs = check_block_size(layer.weight.shape, bs, name)
    k = per_layer(n_centroids, name, "n_centroids")
    n_blocks = layer.weight.numel() // bs
    if cap and k > n_blocks:
        k = _largest_pow2_at_most(n_blocks)
    return bs, _check_k(k, n_blocks, name)


def product_quantize_model(
    model: nn.Module,
    block_size=8,
    n_centroids=256,
    *,
    max_iter: int = 20,
    layers=None,
    exclude=None,
    cap_centroids: bool = False,
    centroid_dtype: str = "float16",
    random_state=0,
    inplace: bool = False,
    n_iter: int | None = None,
) -> nn.Module:
    """Product-quantize every selected weight layer at once, without fine-tuning.

    ``block_size`` and ``n_centroids`` are ints or ``{pattern: value}`` mappings (see
    :func:`~parsimony.compression.layers.per_layer`). With ``cap_centroids``, a layer with
    fewer blocks than ``n_centroids`` gets the largest power of two that fits. ``max_iter``
    k-means iterations per layer (``n_iter``: its deprecated alias).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> m = product_quantize_model(build_model("mlp", in_features=16, hidden=[32]), 8, 16,
    ...                            max_iter=2, cap_centroids=True)
    >>> [(layer.n_centroids, layer.block_size) for layer in (m.layers[0], m.layers[2])]
    [(16, 8), (16, 8)]
    """
    check_module(model)
    max_iter = renamed_argument(max_iter, n_iter, "max_iter", "n_iter")
    rng = np.random.default_rng(random_state)
    if not inplace:
        model = copy.deepcopy(model)
    for name, layer in select_layers(model, layers, exclude):
        bs, k = _resolve(name, layer, block_size, n_centroids, cap_centroids)
        q = PQLayer.from_layer(layer, bs, k, max_iter=max_iter, random_state=rng,
                               centroid_dtype=centroid_dtype, name=name)  # fmt: skip
        set_module(model, name, q.to(layer.weight.device))
    return model


class IterativePQ(BaseEstimator):
    """Iterative product quantization (iPQ): quantize in stages, fine-tune in between.

    A scikit-learn ``BaseEstimator`` (``get_params``, ``set_params``, ``clone``) whose input
    is a torch model, not an array: it is fitted by :meth:`compress`, not ``fit``, and is
    therefore not a scikit-learn predictor or transformer.

    Parameters
    ----------
    block_size, n_centroids : int or mapping
        Per layer (see :func:`~parsimony.compression.layers.per_layer`).
    max_iter : int
        k-means iterations per layer.
    stages : list of (str or list of str), optional
        fnmatch patterns of the layers quantized at each stage, in order. Default: one
        selected weight layer per stage, in module order. ``[["*"]]`` is one-shot PQ.
    layers, exclude : patterns, optional
        Which weight layers are quantized at all (others stay float and count as float).
    finetune_epochs : int
        Epochs of :func:`parsimony.nn.train` after each stage (0: no fine-tuning).
    lr, batch_size : float, int
        Fine-tuning optimiser settings (Adam).
    cap_centroids : bool
        Lower ``K`` to the largest power of two <= the layer's number of blocks.
    centroid_dtype : {"float16", "float32"}
    random_state : int
        Seeds k-means and the fine-tuning.
    device, progress
        Passed to :func:`parsimony.nn.train`.
    callback : callable, optional
        ``callback(state)`` after each stage, with its ``history_`` record (keys
        ``iteration`` (the stage), ``objective`` (the stage's summed relative k-means
        error), ``layers``, ``kmeans_error``, ``finetune``).
    n_iter : int, optional
        Deprecated alias of ``max_iter`` (one release).

    Attributes
    ----------
    model_ : torch.nn.Module
        The compressed model (a copy; the input model is not modified).
    stages_ : list of list of str
        The layer names quantized at each stage.
    n_iter_ : int
        k-means iterations run per layer.
    history_ : list of dict
        Per stage: ``layers``, ``kmeans_error`` (relative squared error of each layer's
        weight) and ``finetune`` (the training history).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> X = torch.randn(64, 16); y = (X[:, 0] > 0).long()
    >>> m = build_model("mlp", in_features=16, n_classes=2, hidden=[16])
    >>> ipq = IterativePQ(block_size=4, n_centroids=8, max_iter=5).compress(m, (X, y))
    >>> ipq.stages_
    [['layers.0'], ['layers.2']]
    """

    def __init__(
        self,
        block_size=8,
        n_centroids=256,
        *,
        max_iter: int = 20,
        stages=None,
        layers=None,
        exclude=None,
        finetune_epochs: int = 1,
        lr: float = 1e-3,
        batch_size: int = 64,
        cap_centroids: bool = True,
        centroid_dtype: str = "float16",
        random_state: int = 0,
        device=None,
        progress: bool = False,
        callback=None,
        n_iter: int | None = None,
    ):
        self.block_size = block_size
        self.n_centroids = n_centroids
        self.max_iter = max_iter
        self.stages = stages
        self.layers = layers
        self.exclude = exclude
        self.finetune_epochs = finetune_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.cap_centroids = cap_centroids
        self.centroid_dtype = centroid_dtype
        self.random_state = random_state
        self.device = device
        self.progress = progress
        self.callback = callback
        self.n_iter = n_iter

    def _stages(self, model):
        names = [n for n, _ in select_layers(model, self.layers, self.exclude)]
        if self.stages is None:
            return [[n] for n in names]
        import fnmatch

        out, taken = [], set()
        for i, st in enumerate(self.stages):
            pats = [st] if isinstance(st, str) else list(st)
            group = [
                n for n in names if n not in taken and any(fnmatch.fnmatchcase(n, p) for p in pats)
            ]
            if not group:
                raise ValueError(f"stages[{i}]={st!r} matches no (remaining) weight layer")
            taken.update(group)
            out.append(group)
        return out

    def compress(self, model: nn.Module, train_data, valid_data=None) -> IterativePQ:
        """Quantize a copy of ``model`` stage by stage, fine-tuning on ``train_data``.

        Returns ``self``; the compressed model is ``self.model_``.
        """
        from parsimony.nn import train

        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        seed = check_int(self.random_state, "random_state", low=0)
        check_int(self.finetune_epochs, "finetune_epochs", low=0)
        max_iter = check_int(renamed_argument(self.max_iter, self.n_iter, "max_iter", "n_iter"),
                             "max_iter", low=0)  # fmt: skip
        check_choice(self.centroid_dtype, "centroid_dtype", CENTROID_DTYPES)
        model = copy.deepcopy(model)
        self.stages_ = self._stages(model)
        rng = np.random.default_rng(seed)
        self.history_ = []
        for i, group in enumerate(self.stages_):
            errors = {}
            for name in group:
                layer = model.get_submodule(name)
                bs, k = _resolve(name, layer, self.block_size, self.n_centroids,
                                 self.cap_centroids)  # fmt: skip
                q = PQLayer.from_layer(layer, bs, k, max_iter=max_iter, random_state=rng,
                                       centroid_dtype=self.centroid_dtype, name=name)  # fmt: skip
                w = layer.weight.detach()
                q = q.to(w.device)
                errors[name] = float(((q.weight.detach() - w) ** 2).sum() / (w**2).sum())
                set_module(model, name, q)
            record = {"iteration": i, "objective": float(sum(errors.values())), "stage": i,
                      "layers": group, "kmeans_error": errors, "finetune": []}  # fmt: skip
            if self.finetune_epochs > 0:
                record["finetune"] = train(
                    model, train_data, epochs=self.finetune_epochs, lr=self.lr,
                    batch_size=self.batch_size, random_state=seed + i, device=self.device,
                    progress=self.progress, valid_data=valid_data,
                )  # fmt: skip
            self.history_.append(record)
            if self.callback is not None:
                self.callback(record)
        self.n_iter_ = max_iter
        self.model_ = model.eval()
        return self


def ipq(model: nn.Module, train_data, **options) -> nn.Module:
    """``IterativePQ(**options).compress(model, train_data).model_``."""
    return IterativePQ(**options).compress(model, train_data).model_
