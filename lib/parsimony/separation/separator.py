"""Blind separation with the local Gaussian spatial covariance model, as an estimator.

Duong, Vincent & Gribonval, IEEE TASLP 2010: STFT, hierarchical-clustering initialisation
(:mod:`~parsimony.separation.init`), EM for the full-rank unconstrained or rank-1
convolutive model (:mod:`~parsimony.separation.model`), permutation alignment
(:mod:`~parsimony.separation.permutation`), multichannel Wiener filtering and the inverse
STFT. Arrays follow scikit-learn: a signal is (n_samples, n_channels), like FastICA.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from parsimony.separation.init import cluster_init
from parsimony.separation.model import (
    em_step_full_rank,
    em_step_rank1,
    mixture_covariance,
    negative_log_likelihood,
    rank1_covariance,
    rank1_images,
    wiener,
)
from parsimony.separation.permutation import (
    align_permutations,
    apply_permutations,
    power_ratio_features,
)
from parsimony.separation.stft import istft, stft

MODELS = ("full_rank", "rank1")


class SpatialCovarianceSeparator(TransformerMixin, BaseEstimator):
    """Under-determined separation of ``n_components`` sources from a multichannel mixture.

    Parameters
    ----------
    n_components : int
        Number of sources J (may exceed the number of channels).
    model : {"full_rank", "rank1"}
        Spatial model: full-rank unconstrained :math:`R_j`, or rank-1 :math:`h_j h_j^H`
        with an additive diagonal sensor noise.
    max_iter : int
        EM iterations (run to the end: the likelihood has no tolerance test).
    n_fft, hop : int
        STFT window length and hop.
    reg : float
        Diagonal loading of :math:`R_j` (fraction of its mean eigenvalue) after each M-step.
    callback : callable or None
        Called after each iteration with ``{"iteration", "objective"}`` (the NLL).

    Attributes
    ----------
    objective_ : list of float
        Negative log-likelihood before the first and after each EM iteration.
    n_iter_, n_features_in_, v_ (J, F, N), R_ (J, F, I, I), permutation_ (F, J).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((4000, 2))
    >>> sep = SpatialCovarianceSeparator(3, max_iter=2, n_fft=256, hop=128).fit(x)
    >>> sep.transform(x).shape
    (4000, 3)
    """

    def __init__(
        self,
        n_components=3,
        model="full_rank",
        max_iter=20,
        n_fft=1024,
        hop=256,
        reg=1e-6,
        callback=None,
    ):
        self.n_components = n_components
        self.model = model
        self.max_iter = max_iter
        self.n_fft = n_fft
        self.hop = hop
        self.reg = reg
        self.callback = callback

    def _validate(self):
        if not isinstance(self.n_components, int | np.integer) or self.n_components < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {self.n_components}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if not isinstance(self.max_iter, int | np.integer) or self.max_iter < 0:
            raise ValueError(f"max_iter must be an integer >= 0, got {self.max_iter}")
        if not 0 <= self.reg < 1:
            raise ValueError(f"reg must be in [0, 1), got {self.reg}")

    def fit(self, X, y=None):
        """Estimate the model parameters from the mixture X (n_samples, n_channels)."""
        self._validate()
        x = validate_data(self, X, dtype=np.float64, ensure_min_samples=2, ensure_min_features=2)
        if x.shape[0] < self.n_fft // 2 + 1:
            raise ValueError(f"X needs at least n_fft // 2 + 1 = {self.n_fft // 2 + 1} samples")
        S = np.moveaxis(stft(x.T, self.n_fft, self.hop), 0, -1)  # (F, N, I)
        v, R = cluster_init(S, self.n_components)
        if self.model == "rank1":
            w, U = np.linalg.eigh(R)
            H = np.moveaxis(U[..., -1] * np.sqrt(w[..., -1:]), 0, -1)  # (F, I, J)
            noise = np.repeat(np.mean(w[..., 0], axis=0)[:, None], S.shape[-1], axis=1)
            Rx = rank1_covariance(v, H, noise)
        else:
            Rx = mixture_covariance(v, R)
        self.objective_ = [negative_log_likelihood(S, Rx)]
        for it in range(self.max_iter):
            if self.model == "full_rank":
                v, R = em_step_full_rank(S, v, R, self.reg)
                Rx = mixture_covariance(v, R)
            else:
                v, H, noise = em_step_rank1(S, v, H, noise, self.reg)
                Rx = rank1_covariance(v, H, noise)
            self.objective_.append(negative_log_likelihood(S, Rx))
            if self.callback is not None:
                self.callback({"iteration": it + 1, "objective": self.objective_[-1]})
        self.permutation_ = align_permutations(power_ratio_features(v))
        if self.model == "rank1":
            R = np.moveaxis(H, -1, 0)  # (J, F, I): the steering vectors, aligned below
            v, R = apply_permutations(self.permutation_, v, R)
            self.H_, self.noise_ = np.moveaxis(R, 0, -1), noise
            self.R_ = np.einsum("jfa,jfb->jfab", R, R.conj())
        else:
            v, self.R_ = apply_permutations(self.permutation_, v, R)
        self.v_, self.n_iter_ = v, self.max_iter
        return self

    def transform_images(self, X):
        """Source images (n_components, n_samples, n_channels) of the fitted mixture X."""
        check_is_fitted(self, "v_")
        x = validate_data(self, X, dtype=np.float64, reset=False)
        S = np.moveaxis(stft(x.T, self.n_fft, self.hop), 0, -1)
        if S.shape[1] != self.v_.shape[2]:
            raise ValueError("X must be the mixture the separator was fitted on (same length)")
        if self.model == "rank1":
            C = rank1_images(S, self.v_, self.H_, self.noise_)
        else:
            C = wiener(S, self.v_, self.R_)
        c = istft(np.moveaxis(C, -1, 1), x.shape[0], self.n_fft, self.hop)  # (J, I, n)
        return np.swapaxes(c, 1, 2)

    def transform(self, X):
        """Source images at the first channel, (n_samples, n_components)."""
        return self.transform_images(X)[:, :, 0].T
