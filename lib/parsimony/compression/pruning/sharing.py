"""1-D weight sharing of (pruned) layers: CWS and PWS (paper A of the pruning card).

Marinò et al., ICPR 2020 (arXiv:2007.07967), section III: the non-zero weights of a layer
are replaced by ``k`` shared values, so that a layer stores a codebook and one index per
weight (the HAM / sHAM formats of :mod:`~parsimony.compression.pruning.formats`).

* CWS (cluster-based weight sharing, Han et al. 2016): 1-D k-means on the non-zero
  weights, centroids initialised linearly between the smallest and largest weight; each
  weight takes its centroid's value.
* PWS (probabilistic weight sharing): the codebook is ``k`` evenly spaced quantiles of the
  non-zero weights; a weight between two consecutive codebook values ``c_i <= w <= c_{i+1}``
  becomes ``c_{i+1}`` with probability ``(w - c_i) / (c_{i+1} - c_i)`` and ``c_i``
  otherwise, an unbiased stochastic rounding (``E[shared w] = w``).

Zeros (pruned weights) stay zero in both.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice, check_int, check_module, check_random_state
from parsimony.compression.layers import select_layers
from parsimony.compression.pruning.masks import PRUNABLE_LAYERS

__all__ = ["SHARING", "cws", "pws", "share_weights"]


def _nonzero_values(weights) -> np.ndarray:
    w = np.asarray(weights, np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError("weights must be a non-empty array of finite values")
    return w


def cws(weights, n_clusters: int, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means (Lloyd, linear initialisation) of ``weights``.

    Returns ``(codebook, labels)``: the sorted centroids (float32, at most ``n_clusters``:
    empty clusters are dropped) and each weight's centroid index. Deterministic.

    Examples
    --------
    >>> codebook, labels = cws([0.1, 0.12, 0.5, 0.52], 2)
    >>> [round(float(c), 2) for c in codebook], labels.tolist()
    ([0.11, 0.51], [0, 0, 1, 1])
    """
    w = _nonzero_values(weights).reshape(-1)
    k = check_int(n_clusters, "n_clusters", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1)
    centroids = np.linspace(w.min(), w.max(), k)
    for _ in range(max_iter):
        edges = (centroids[1:] + centroids[:-1]) / 2
        labels = np.searchsorted(edges, w)
        sums = np.bincount(labels, w, minlength=len(centroids))
        counts = np.bincount(labels, minlength=len(centroids))
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.array_equal(new, centroids):
            break
        centroids = new
    used = np.unique(labels)
    remap = np.full(len(centroids), -1)
    remap[used] = np.arange(len(used))
    return centroids[used].astype(np.float32), remap[labels]


def pws(weights, n_clusters: int, random_state=0) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased stochastic rounding of ``weights`` to ``n_clusters`` quantiles.

    Returns ``(codebook, labels)`` as :func:`cws` (the distinct quantiles, sorted).
    """
    w = _nonzero_values(weights).reshape(-1)
    k = check_int(n_clusters, "n_clusters", low=1)
    rng = check_random_state(random_state)
    codebook = np.unique(np.quantile(w, np.linspace(0, 1, k)).astype(np.float32))
    cb = codebook.astype(np.float64)
    hi = np.clip(np.searchsorted(cb, w, side="left"), 0, len(cb) - 1)
    lo = np.clip(hi - 1, 0, len(cb) - 1)
    gap = cb[hi] - cb[lo]
    p_up = np.where(gap > 0, (w - cb[lo]) / np.where(gap > 0, gap, 1), 1.0)
    labels = np.where(rng.random(w.size) < p_up, hi, lo)
    return codebook, labels


#: sharing name -> function(weights, n_clusters, random_state) -> (codebook, labels)
SHARING = {"cws": lambda w, k, rs: cws(w, k), "pws": pws}


def share_weights(
    model: nn.Module, n_clusters, method: str = "cws", layers=None, exclude=None, random_state=0
) -> dict[str, np.ndarray]:
    """Replace the non-zero weights of every selected layer by shared values, in place.

    Parameters
    ----------
    model : torch.nn.Module
    n_clusters : int
        Codebook size per layer (zeros are kept apart and not counted).
    method : {"cws", "pws"}
    layers, exclude : str or sequence of str, optional
        fnmatch patterns on layer names.
    random_state : int
        Seed of PWS's rounding (CWS is deterministic).

    Returns
    -------
    dict of str to numpy.ndarray
        Layer name -> codebook (float32, sorted).
    """
    check_module(model)
    method = check_choice(method, "method", tuple(SHARING))
    rng = check_random_state(random_state)
    codebooks = {}
    for name, mod in select_layers(model, layers, exclude, types=PRUNABLE_LAYERS):
        w = mod.weight.detach()
        flat = w.reshape(-1).cpu().numpy()
        nz = np.nonzero(flat)[0]
        if nz.size == 0:
            codebooks[name] = np.zeros(0, np.float32)
            continue
        codebook, labels = SHARING[method](flat[nz], n_clusters, rng)
        new = np.zeros_like(flat)
        new[nz] = codebook[labels]
        with torch.no_grad():
            target = mod.weight_orig if hasattr(mod, "weight_orig") else mod.weight
            target.copy_(torch.from_numpy(new).reshape(w.shape).to(target.dtype))
            if hasattr(mod, "weight_orig"):
                mod.weight = mod.weight_orig * mod.weight_mask
        codebooks[name] = codebook
    return codebooks
