r"""Low-rank layers: a ``Linear`` or ``Embedding`` replaced by two thin ones.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020.

With an orthonormal basis :math:`V_k` (d x k) of the layer matrix :math:`A` (n x d, rows
are points), store :math:`B = A V_k` (n x k) and :math:`V_k^\top` (k x d):

- ``Linear(d -> n)``: ``Linear(d -> k, weight=V_k^T, no bias)`` then
  ``Linear(k -> n, weight=B, bias=original)``, computing :math:`x \mapsto A V_k V_k^\top x + b`;
- ``Embedding(n, d)``: ``Embedding(n, k)`` with table :math:`B`, then
  ``Linear(k -> d, no bias)`` with weight :math:`V_k`.

:math:`(n + d)k` values instead of :math:`nd`: smaller iff :math:`k < k^* = nd/(n+d)`
(:func:`break_even_rank`). :class:`LowRankLayer` is registered with
:mod:`parsimony.compression` under the tag ``"lowrank"``.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_array, check_int
from parsimony.compression.layers import layer_spec, set_module, weight_shape
from parsimony.compression.lowrank.subspace import check_rank, lp_low_rank
from parsimony.compression.packing import register_compressed

__all__ = [
    "LowRankLayer",
    "break_even_rank",
    "factorize_embedding",
    "factorize_linear",
    "low_rank_model",
]


def break_even_rank(n: int, d: int) -> float:
    """:math:`k^* = nd/(n+d)`: a rank-k factorization is smaller than the layer iff k < k*.

    >>> round(break_even_rank(30522, 384), 1)
    379.2
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=1)
    return n * d / (n + d)


def _warn_break_even(n, d, rank):
    if rank >= break_even_rank(n, d):
        warnings.warn(
            f"rank {rank} >= break-even rank {break_even_rank(n, d):.1f} for a {n} x {d} "
            "layer: the factorization is not smaller than the layer",
            UserWarning,
            stacklevel=3,
        )


@register_compressed("lowrank")
class LowRankLayer(nn.Sequential):
    r"""A weight layer replaced by two thin ones, :math:`W \approx` ``left @ right``.

    * ``Linear(in, out)``: ``Linear(in, k, bias=False)`` with weight ``right`` (k x in),
      then ``Linear(k, out)`` with weight ``left`` (out x k) and the original bias;
    * ``Embedding(n, d)``: ``Embedding(n, k)`` with table ``left`` (n x k), then
      ``Linear(k, d, bias=False)`` with weight ``right.T``.

    A registered compressed layer of :mod:`parsimony.compression`: :func:`~parsimony.compression.pack`
    stores its two factors (kind ``"factor"``, float32) and the bias, and
    :func:`~parsimony.compression.unpack` rebuilds it exactly.

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layer_spec` of the replaced layer.
    left, right : array or tensor
        (n, k) and (k, d) with ``(n, d)`` the weight's shape (out x in for a ``Linear``).
    bias : tensor, optional

    Examples
    --------
    >>> from parsimony.compression import layer_spec
    >>> lin = nn.Linear(6, 4)
    >>> W = lin.weight.detach().double().numpy()
    >>> V = np.linalg.svd(W)[2][:2]
    >>> low = LowRankLayer(layer_spec(lin), W @ V.T, V, lin.bias)
    >>> [tuple(m.weight.shape) for m in low], low.rank
    ([(2, 6), (4, 2)], 2)
    >>> bool(torch.allclose(low.weight, torch.as_tensor(W @ V.T @ V, dtype=torch.float32)))
    True
    """

    def __init__(self, spec, left, right, bias=None):
        spec = dict(spec)
        if spec.get("type") not in ("linear", "embedding"):
            raise ValueError(
                f"spec must describe a linear or embedding layer, got {spec.get('type')!r}"
            )
        left = torch.as_tensor(np.asarray(left), dtype=torch.float32)
        right = torch.as_tensor(np.asarray(right), dtype=torch.float32)
        n, k = left.shape
        if right.shape[0] != k or (n, right.shape[1]) != weight_shape(spec):
            raise ValueError(
                f"left {tuple(left.shape)} @ right {tuple(right.shape)} does not give the "
                f"weight shape {weight_shape(spec)}"
            )
        if spec["type"] == "linear":
            first = nn.Linear(right.shape[1], k, bias=False)
            second = nn.Linear(k, n, bias=bias is not None)
            weights = (right, left)
        else:
            first = nn.Embedding(n, k, padding_idx=spec["padding_idx"])
            second = nn.Linear(k, right.shape[1], bias=False)
            weights = (left, right.T)
        with torch.no_grad():
            first.weight.copy_(weights[0])
            second.weight.copy_(weights[1])
            if bias is not None:
                second.bias.copy_(torch.as_tensor(bias).detach().to(torch.float32))
        super().__init__(first, second)
        self.spec = spec

    @property
    def rank(self) -> int:
        return int(self[0].weight.shape[0 if self.spec["type"] == "linear" else 1])

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(left, right)`` with ``left @ right`` the dense weight."""
        if self.spec["type"] == "linear":
            return self[1].weight, self[0].weight
        return self[0].weight, self[1].weight.T

    def dense_weight(self) -> torch.Tensor:
        left, right = self.factors()
        return left @ right

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight ``left @ right`` (for code that reads ``layer.weight``)."""
        return self.dense_weight()

    @property
    def bias(self):
        return self[1].bias if self.spec["type"] == "linear" else None

    def dense_numel(self) -> int:
        """Values of the replaced layer (weight and bias)."""
        n, d = weight_shape(self.spec)
        return n * d + (self.bias.numel() if self.bias is not None else 0)

    def pack_state(self):
        left, right = (t.detach().cpu().numpy().astype(np.float32) for t in self.factors())
        arrays = {"left": left, "right": right}
        kinds = {"left": "factor", "right": "factor"}
        if self.bias is not None:
            arrays["bias"] = self.bias.detach().cpu().numpy().astype(np.float32)
            kinds["bias"] = "float"
        return arrays, kinds, {"spec": self.spec, "rank": self.rank}

    @classmethod
    def unpack_state(cls, arrays, meta):
        bias = torch.from_numpy(np.array(arrays["bias"])) if "bias" in arrays else None
        return cls(meta["spec"], arrays["left"], arrays["right"], bias).eval()


def _factors(W, rank, p, method, components, options):
    if components is None:
        return lp_low_rank(W, rank, p=p, method=method, **options)
    C = check_array(components, "components", min_rows=rank)
    if C.shape[1] != W.shape[1]:
        raise ValueError(f"components must have {W.shape[1]} columns, got shape {C.shape}")
    C = C[:rank]
    if not np.allclose(C @ C.T, np.eye(rank), atol=1e-6):
        raise ValueError("components must have orthonormal rows")
    return W @ C.T, C


def _factorize(layer, kind, rank, p, method, components, options):
    W = layer.weight.detach().cpu().double().numpy()
    n, d = W.shape
    rank = check_rank(rank, n, d)
    _warn_break_even(n, d, rank)
    left, right = _factors(W, rank, p, method, components, options)
    bias = getattr(layer, "bias", None) if kind == "linear" else None
    return LowRankLayer(layer_spec(layer), left, right, bias).to(layer.weight.device)


def factorize_linear(
    layer, rank: int, p: float = 1.0, method: str = "ellipsoid", components=None, **options
) -> LowRankLayer:
    r"""Replace ``Linear(in, out)`` by ``Linear(in, rank, bias=False)`` then ``Linear(rank, out)``.

    The weight :math:`A` (out x in) has the output neurons as rows (points in
    :math:`\mathbb{R}^{in}`); the first factor is :math:`V_k^\top`, the second
    :math:`B = A V_k` with the original bias, so the result computes
    :math:`x \mapsto A V_k V_k^\top x + b`.

    Parameters
    ----------
    layer : torch.nn.Linear
    rank, p, method, **options
        As in :func:`lp_low_rank`. A rank at or above the break-even rank
        :math:`k^* = nd/(n+d)` warns (no saving).
    components : array (>= rank, d), optional
        A basis already fitted (e.g. ``LpLowRank(...).fit(W).components_`` at a larger
        rank: for ``svd``, ``ellipsoid`` and ``lewis`` the rank-k basis is the first k
        rows of any larger one); its first ``rank`` rows are used and nothing is fitted.

    Returns
    -------
    LowRankLayer
        An ``nn.Sequential`` of the two thin layers (float32, on the layer's device),
        registered for :func:`~parsimony.compression.pack`.

    Examples
    --------
    >>> lin = torch.nn.Linear(8, 6)
    >>> thin = factorize_linear(lin, 2, p=2.0)
    >>> [tuple(m.weight.shape) for m in thin]
    [(2, 8), (6, 2)]
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be a torch.nn.Linear, got {type(layer).__name__}")
    return _factorize(layer, "linear", rank, p, method, components, options)


def factorize_embedding(
    embedding, rank: int, p: float = 1.0, method: str = "ellipsoid", components=None, **options
) -> LowRankLayer:
    r"""Replace ``Embedding(n, d)`` by ``Embedding(n, rank)`` then ``Linear(rank, d, bias=False)``.

    Rows of the table :math:`A` (n x d) are the points: the thin table is
    :math:`B = A V_k` and the linear map :math:`V_k^\top`, so token :math:`i` maps to
    :math:`a_i V_k V_k^\top`. ``padding_idx`` is kept.

    Parameters
    ----------
    embedding : torch.nn.Embedding
    rank, p, method, components, **options
        As in :func:`factorize_linear`. A rank at or above the break-even rank warns.

    Returns
    -------
    LowRankLayer

    Examples
    --------
    >>> emb = torch.nn.Embedding(20, 6)
    >>> thin = factorize_embedding(emb, 3, p=2.0)
    >>> tuple(thin(torch.tensor([1, 2])).shape)
    (2, 6)
    """
    if not isinstance(embedding, nn.Embedding):
        raise TypeError(f"embedding must be a torch.nn.Embedding, got {type(embedding).__name__}")
    return _factorize(embedding, "embedding", rank, p, method, components, options)


def low_rank_model(
    model,
    path: str,
    rank: int,
    p: float = 1.0,
    method: str = "ellipsoid",
    components=None,
    **options,
):
    """A copy of ``model`` with the ``Linear`` or ``Embedding`` at ``path`` factorized.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    path : str
        Dotted name of the layer (``"layers.0"``).
    rank, p, method, components, **options
        As in :func:`factorize_linear`.

    Returns
    -------
    torch.nn.Module
        The copy, with a :class:`LowRankLayer` at ``path`` (in eval mode).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> net = build_model("mlp", in_features=8, n_classes=3, hidden=[16])
    >>> small = low_rank_model(net, "layers.0", 2, p=2.0)
    >>> type(small.layers[0]).__name__, type(net.layers[0]).__name__
    ('LowRankLayer', 'Linear')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        layer = model.get_submodule(path)
    except AttributeError as exc:
        raise ValueError(f"model has no module {path!r}") from exc
    if isinstance(layer, nn.Embedding):
        new = factorize_embedding(layer, rank, p, method, components, **options)
    elif isinstance(layer, nn.Linear):
        new = factorize_linear(layer, rank, p, method, components, **options)
    else:
        raise TypeError(
            f"model.{path} must be a Linear or an Embedding, got {type(layer).__name__}"
        )
    out = copy.deepcopy(model)
    set_module(out, path, new)
    return out.eval()
