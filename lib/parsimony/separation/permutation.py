"""Permutation alignment across frequency bins (Sawada, Araki & Makino 2007, 2011).

Per-bin separation (Duong, Vincent & Gribonval, IEEE TASLP 2010, Section V-B) returns the
sources in an arbitrary order in each frequency bin. Each bin f gives one feature vector per
source, :math:`\\phi_j(f) \\in \\mathbb{R}^D`; :func:`align_permutations` runs k-means over
permutations: with centroids :math:`c_k`, each bin takes the permutation
:math:`\\pi_f = \\arg\\max_\\pi \\sum_k \\langle \\phi_{\\pi(k)}(f), c_k \\rangle`, and the
centroids are re-estimated as the mean of the permuted features (Sawada et al. 2007 use DOA
features, 2011 the sources' power ratios). :func:`power_ratio_features` gives the 2011
features (the paper's DOA-based alignment is replaced by them: ours, they need no array
geometry and are not affected by spatial aliasing).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np


def power_ratio_features(v: np.ndarray) -> np.ndarray:
    """Centred, unit-norm power ratios :math:`v_j / \\sum_k v_k` over frames, (J, F, N)."""
    r = v / np.maximum(v.sum(axis=0, keepdims=True), 1e-300)
    r = r - r.mean(axis=-1, keepdims=True)
    return r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-300)


def align_permutations(features: np.ndarray, max_iter: int = 10) -> np.ndarray:
    """Per-bin permutations (F, J) that align ``features`` (J, F, D) across bins.

    ``features[perm[f, k], f]`` is source k in bin f. The result is defined up to one
    global permutation; it starts from the identity and is deterministic.
    """
    features = np.asarray(features, dtype=float)
    if features.ndim != 3:
        raise ValueError(f"features must be (J, F, D), got shape {features.shape}")
    n_src, n_bins = features.shape[:2]
    perms = np.array(list(permutations(range(n_src))))  # (P, J)
    choice = np.zeros(n_bins, dtype=int)
    for _ in range(max_iter):
        aligned = features[perms[choice], np.arange(n_bins)[:, None]]  # (F, J, D)
        centroids = aligned.mean(axis=0)  # (J, D)
        # score of permutation p in bin f: sum_k <phi_{p(k)}(f), c_k>
        sim = np.einsum("fjd,kd->fjk", features.transpose(1, 0, 2), centroids)
        total = sim[:, perms, np.arange(n_src)].sum(axis=-1)  # (F, P)
        new = np.argmax(total, axis=1)
        if np.array_equal(new, choice):
            break
        choice = new
    return perms[choice]


def apply_permutations(perm: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Reorder arrays shaped (J, F, ...) so that source k of bin f is ``perm[f, k]``."""
    n_bins = perm.shape[0]
    return tuple(a[perm.T, np.arange(n_bins)[None, :]] for a in arrays)
