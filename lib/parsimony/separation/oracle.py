"""Oracle ("potential performance") parameters and the binary-masking baseline.

Duong, Vincent & Gribonval (IEEE TASLP 2010), Section VI-A: the parameters of each spatial
model estimated from the true source images, then the multichannel Wiener filter of
:mod:`~parsimony.separation.model` applied to the mixture; binary masking (Yilmaz &
Rickard 2004) assigns each time-frequency bin to one source.

Oracle fit (ours): with the images :math:`c_j(n,f)` known, the maximum-likelihood
:math:`v_j, R_j` of :math:`\\mathcal{N}_c(0, v_j R_j)` solve the fixed point
:math:`v_j = \\operatorname{tr}(R_j^{-1} c_j c_j^H)/I`,
:math:`R_j = \\frac1N \\sum_n c_j c_j^H / v_j` (``n_iter`` alternations, from the
identity); the rank-1 model keeps the principal eigenpair of that :math:`R_j`.
"""

from __future__ import annotations

import numpy as np

from parsimony.separation.model import EPS, regularize


def oracle_parameters(C: np.ndarray, model: str = "full_rank", n_iter: int = 10, reg=1e-6):
    """Oracle ``(v, R)`` from true images C (J, F, N, I) for ``model`` in MODELS.

    Returns v (J, F, N) and R (J, F, I, I), with tr(R_j(f)) = I.
    """
    if model not in ("full_rank", "rank1"):
        raise ValueError(f"model must be 'full_rank' or 'rank1', got {model!r}")
    C = np.asarray(C)
    if C.ndim != 4:
        raise ValueError(f"C must be (J, F, N, I), got shape {C.shape}")
    n_mics = C.shape[-1]
    outer = np.einsum("jfna,jfnb->jfnab", C, C.conj())
    R = np.broadcast_to(np.eye(n_mics, dtype=complex), C.shape[:2] + (n_mics, n_mics))
    for _ in range(n_iter):
        R_inv = np.linalg.inv(regularize(R, reg))
        v = np.maximum(np.einsum("jfab,jfnba->jfn", R_inv, outer).real / n_mics, EPS)
        R = np.mean(outer / v[..., None, None], axis=2)
        R = n_mics * R / np.trace(R, axis1=-2, axis2=-1).real[..., None, None]
    if model == "rank1":
        w, U = np.linalg.eigh(R)
        h = U[..., -1] * np.sqrt(w[..., -1])[..., None]
        R = np.einsum("jfa,jfb->jfab", h, h.conj())
        n = np.trace(R, axis1=-2, axis2=-1).real[..., None, None]
        R = n_mics * R / np.maximum(n, EPS)
        v = np.maximum(np.einsum("jfna,jfnb,jfab->jfn", C.conj(), C, R).real / n_mics**2, EPS)
    return v, regularize(R, reg)


def binary_mask(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Oracle binary masking: bin (f, n) goes to the source with the largest image power.

    X (F, N, I), C (J, F, N, I); returns the images (J, F, N, I), which sum to X.
    """
    power = np.sum(np.abs(C) ** 2, axis=-1)
    mask = power == power.max(axis=0, keepdims=True)
    mask &= np.cumsum(mask, axis=0) == 1  # ties: the first source
    return mask[..., None] * X[None]
