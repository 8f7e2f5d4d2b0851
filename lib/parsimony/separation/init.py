"""Hierarchical-clustering initialisation of the spatial covariances (Duong et al. 2010).

Duong, Vincent & Gribonval, IEEE TASLP 2010, Section V-A (after Winter et al. 2007): in
each frequency bin, the mixture vectors are phase-normalised to the first channel and
scaled to unit norm, clustered by average-linkage agglomerative clustering
(``scipy.cluster.hierarchy``) into ``n_clusters`` clusters, and the ``n_sources`` largest
clusters give :math:`R_j(f)`: the mean of :math:`x x^H` over the cluster (not
normalised), with :math:`v_j = 1`. ``n_clusters = 10 J`` follows Kitamura's code.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from parsimony.separation.model import regularize


def normalized_directions(X: np.ndarray) -> np.ndarray:
    """Mixture vectors (F, N, I) phase-normalised to channel 1 and scaled to unit norm."""
    phase = np.exp(-1j * np.angle(X[..., :1]))
    Z = X * phase
    return Z / np.maximum(np.linalg.norm(Z, axis=-1, keepdims=True), 1e-300)


def cluster_init(X: np.ndarray, n_sources: int, n_clusters: int | None = None):
    """Initial ``(v, R)`` from per-bin average-linkage clustering of X (F, N, I).

    Returns v (J, F, N) of ones and R (J, F, I, I) (with a diagonal loading of 1e-3 of
    its mean eigenvalue, so it is invertible).
    """
    n_bins, n_frames, n_mics = X.shape
    k = 10 * n_sources if n_clusters is None else n_clusters
    k = min(k, n_frames)
    Z = normalized_directions(X)
    R = np.zeros((n_sources, n_bins, n_mics, n_mics), dtype=complex)
    for f in range(n_bins):
        feats = np.concatenate([Z[f].real, Z[f].imag], axis=1)
        labels = fcluster(linkage(feats, method="average"), k, criterion="maxclust")
        counts = np.bincount(labels)
        order = np.argsort(-counts, kind="stable")[:n_sources]
        for j, lab in enumerate(order):
            if counts[lab] == 0:  # fewer clusters than sources: spread the rest evenly
                R[j, f] = np.eye(n_mics)
                continue
            x = X[f, labels == lab]
            R[j, f] = x.T @ x.conj() / len(x)
    R = regularize(R, 1e-3) + 1e-12 * np.eye(n_mics)
    return np.ones((n_sources, n_bins, n_frames)), R
