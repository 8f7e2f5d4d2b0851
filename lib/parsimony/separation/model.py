"""Local Gaussian spatial covariance model of a multichannel mixture and its EM algorithms.

Duong, Vincent & Gribonval, "Under-determined reverberant audio source separation using a
full-rank spatial covariance model", IEEE TASLP 18(7):1830-1840, 2010 (HAL inria-00541865).

In the STFT domain the mixture :math:`x(n,f) \\in \\mathbb{C}^I` is the sum of the source
images :math:`c_j(n,f) \\sim \\mathcal{N}_c(0, v_j(n,f) R_j(f))`, so
:math:`R_x = \\sum_j v_j R_j`. The negative log-likelihood is

.. math:: \\mathcal{L} = \\sum_{n,f} \\log\\det(\\pi R_x(n,f)) + x^H R_x^{-1} x.

*Full-rank unconstrained* (the paper's Eqs. 32-36), per frequency, with the old parameters:
E-step :math:`W_j = v_j R_j R_x^{-1}`, :math:`\\hat c_j = W_j x`,
:math:`\\hat R_{c_j} = \\hat c_j \\hat c_j^H + (I - W_j) v_j R_j`; M-step
:math:`v_j = \\operatorname{tr}(R_j^{-1} \\hat R_{c_j}) / I`, then
:math:`R_j = \\frac1N \\sum_n \\hat R_{c_j} / v_j`.

*Rank-1 convolutive* (:math:`R_j = h_j h_j^H`), the paper's EM for the rank-1 model with
the sources :math:`s_j \\sim \\mathcal{N}_c(0, v_j)` and an additive sensor noise
:math:`b \\sim \\mathcal{N}_c(0, \\Sigma_b)`, :math:`\\Sigma_b` diagonal, as hidden data
(after Ozerov & Fevotte 2010): :math:`x = H s + b`,
E-step :math:`G = V H^H R_x^{-1}`, :math:`\\hat s = G x`,
:math:`\\hat R_{ss} = \\hat s \\hat s^H + V - G H V`; M-step :math:`v_j = (\\hat R_{ss})_{jj}`,
:math:`H = \\bar R_{xs} \\bar R_{ss}^{-1}`, :math:`\\Sigma_b = \\operatorname{diag}(\\bar R_{xx}
- H \\bar R_{xs}^H - \\bar R_{xs} H^H + H \\bar R_{ss} H^H)` (bars: means over frames).

Everything is vectorised over (frequency, frame) with batched ``numpy.linalg`` and works for
any number of microphones I. Ours: ``v`` is floored at ``eps`` (the paper: machine
epsilon) and :math:`R_j` is regularised by ``reg * tr(R_j) / I * Id`` after each M-step so
it stays invertible; the noise variances are floored at ``reg`` times the mean mixture power
of the bin.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def mixture_covariance(v: np.ndarray, R: np.ndarray) -> np.ndarray:
    """:math:`R_x(f, n) = \\sum_j v_j(f, n) R_j(f)`, shape (F, N, I, I).

    ``v`` is (J, F, N) and ``R`` is (J, F, I, I) (or (J, F, N, I, I) for time-varying R).
    """
    if R.ndim == 4:
        return np.einsum("jfn,jfab->fnab", v, R)
    return np.einsum("jfn,jfnab->fnab", v, R)


def negative_log_likelihood(X: np.ndarray, Rx: np.ndarray) -> float:
    """:math:`\\sum_{n,f} \\log\\det(\\pi R_x) + x^H R_x^{-1} x` for X (F, N, I)."""
    sign, logdet = np.linalg.slogdet(np.pi * Rx)
    quad = np.einsum("fna,fna->fn", X.conj(), np.linalg.solve(Rx, X[..., None])[..., 0])
    return float(np.sum(logdet) + np.sum(quad.real))


def wiener_filters(v: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Multichannel Wiener filters :math:`W_j = v_j R_j R_x^{-1}`, shape (J, F, N, I, I).

    They sum to the identity over j, so the estimated images sum to the mixture.
    """
    Rx_inv = np.linalg.inv(mixture_covariance(v, R))
    vR = v[..., None, None] * (R[:, :, None] if R.ndim == 4 else R)
    return vR @ Rx_inv[None]


def wiener(X: np.ndarray, v: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Source images :math:`\\hat c_j = W_j x`, shape (J, F, N, I)."""
    return np.einsum("jfnab,fnb->jfna", wiener_filters(v, R), X)


def regularize(R: np.ndarray, reg: float) -> np.ndarray:
    """``R + reg * tr(R) / I * Id`` on the last two axes (keeps R_j invertible)."""
    n = R.shape[-1]
    tr = np.trace(R, axis1=-2, axis2=-1).real / n
    return R + reg * tr[..., None, None] * np.eye(n)


def em_step_full_rank(X, v, R, reg=1e-6):
    """One EM iteration of the full-rank unconstrained model; returns ``(v, R)``.

    X (F, N, I), v (J, F, N), R (J, F, I, I).
    """
    n_mics = X.shape[-1]
    vR = v[..., None, None] * R[:, :, None]  # (J, F, N, I, I)
    W = vR @ np.linalg.inv(mixture_covariance(v, R))[None]  # Wiener filters
    C = np.einsum("jfnab,fnb->jfna", W, X)
    Rc = C[..., :, None] * C.conj()[..., None, :] + vR - W @ vR
    v_new = np.einsum("jfab,jfnba->jfn", np.linalg.inv(R), Rc).real / n_mics
    v_new = np.maximum(v_new, EPS)
    R_new = np.mean(Rc / v_new[..., None, None], axis=2)
    R_new = 0.5 * (R_new + np.conj(np.swapaxes(R_new, -1, -2)))
    return v_new, regularize(R_new, reg)


def rank1_covariance(v, H, noise):
    """:math:`R_x = H V H^H + \\Sigma_b`, with H (F, I, J), noise (F, I): (F, N, I, I)."""
    Rx = np.einsum("faj,jfn,fbj->fnab", H, v, H.conj())
    n_mics = H.shape[1]
    return Rx + noise[:, None, :, None] * np.eye(n_mics)


def em_step_rank1(X, v, H, noise, reg=1e-6):
    """One EM iteration of the rank-1 convolutive model; returns ``(v, H, noise)``.

    X (F, N, I), v (J, F, N), H (F, I, J) mixing vectors, noise (F, I) variances.
    """
    n_src = v.shape[0]
    Rx = rank1_covariance(v, H, noise)
    V = np.einsum("jfn,jk->fnjk", v, np.eye(n_src))  # (F, N, J, J)
    G = V @ np.conj(np.swapaxes(H, -1, -2))[:, None] @ np.linalg.inv(Rx)  # (F, N, J, I)
    S = np.einsum("fnja,fna->fnj", G, X)
    Rss = np.einsum("fnj,fnk->fnjk", S, S.conj()) + V - G @ H[:, None] @ V
    v_new = np.maximum(np.einsum("fnjj->jfn", Rss).real, EPS)
    Rxs = np.einsum("fna,fnj->faj", X, S.conj()) / X.shape[1]
    Rss_bar = Rss.mean(axis=1)
    Rss_bar = 0.5 * (Rss_bar + np.conj(np.swapaxes(Rss_bar, -1, -2)))
    H_new = np.linalg.solve(np.swapaxes(Rss_bar, -1, -2), np.swapaxes(Rxs, -1, -2))
    H_new = np.swapaxes(H_new, -1, -2)
    Rxx = np.einsum("fna,fna->fa", X, X.conj()).real / X.shape[1]
    HRxs = np.einsum("faj,faj->fa", H_new, Rxs.conj()).real
    HRH = np.einsum("faj,fjk,fak->fa", H_new, Rss_bar, H_new.conj()).real
    floor = reg * Rxx.mean(axis=1, keepdims=True) + EPS
    noise_new = np.maximum(Rxx - 2 * HRxs + HRH, floor)
    return v_new, H_new, noise_new


def rank1_spatial(H: np.ndarray) -> np.ndarray:
    """Spatial covariances :math:`R_j = h_j h_j^H`, shape (J, F, I, I), from H (F, I, J)."""
    return np.einsum("faj,fbj->jfab", H, H.conj())


def rank1_images(X, v, H, noise):
    """Posterior-mean images :math:`\\hat c_j = h_j \\hat s_j` of the rank-1 model, (J, F, N, I)."""
    Rx = rank1_covariance(v, H, noise)
    Hx = np.einsum("fbj,fnb->jfn", H.conj(), np.linalg.solve(Rx, X[..., None])[..., 0])
    return np.einsum("faj,jfn->jfna", H, v * Hx)
