r"""Compressed factorization: factorize compressively-sensed data, then recover sparse factors.

Sharan, Tai, Bailis & Valiant, "Compressed Factorization: Fast and Accurate Low-Rank
Factorization of Compressively-Sensed Data", ICML 2019, arXiv:1706.08146.

The data :math:`M = W H \in \mathbb R^{n \times m}` have :math:`k`-sparse factor columns
:math:`w_i`; only :math:`\tilde M = P M`, :math:`P \in \mathbb R^{d \times n}`, is seen. In
scikit-learn's convention (samples are rows) :math:`X = M^\top` and the compressed data are
:math:`\tilde X = X P^\top`, so a factorization :math:`\tilde X \approx C \tilde W^\top`
has compressed components :math:`\tilde w_i \approx P w_i`.

* **Factorize-Recover (F-R)**, the paper's method: factorize :math:`\tilde X` (NMF, sparse
  PCA, any scikit-learn factorizer with ``fit_transform`` and ``components_``), then decode
  each compressed component by sparse recovery, e.g. basis pursuit
  :math:`\min \|w\|_1` s.t. :math:`P w = \tilde w_i`: :math:`r` sparse-recovery problems.
* **Recover-Factorize (R-F)**, the baseline: decode every sample of :math:`\tilde X`
  (:math:`m` problems, each :math:`rk`-sparse), then factorize.

For a non-negative factorizer the decoded vectors are clipped at 0 after an unconstrained
basis pursuit (the public code's choice: a factor slightly outside :math:`P\,\mathbb R^n_+`
makes the non-negative LP infeasible).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import NMF
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from parsimony._validation import check_choice, check_int
from parsimony.sparse.basis_pursuit import basis_pursuit, measurement_matrix
from parsimony.sparse.omp import omp
from parsimony.sparse.operators import GaussianOperator, SparseExpanderOperator

__all__ = ["DECODERS", "ROUTES", "CompressedFactorization", "decode"]

ROUTES = ("fr", "rf")


def _bp(P, Y, **params):
    return basis_pursuit(P, Y, **params)


def _nnbp(P, Y, **params):
    return basis_pursuit(P, Y, nonnegative=True, **params)


def _omp(P, Y, **params):
    dense = P.toarray() if hasattr(P, "toarray") else P
    return np.vstack([omp(dense, y, **params)[0] for y in Y])


DECODERS = {"bp": _bp, "nnbp": _nnbp, "omp": _omp}


def decode(P, Y, decoder="bp", decoder_params=None):
    """Sparse-decode every row of ``Y`` (n_rhs, d) measured by ``P`` (d, n).

    Parameters
    ----------
    P : array, scipy.sparse matrix or LinearOperator (d, n)
    Y : array (n_rhs, d)
    decoder : {"bp", "nnbp", "omp"}
        Basis pursuit, non-negative basis pursuit (both HiGHS) or OMP.
    decoder_params : dict, optional
        Keyword arguments of the decoder (``batch_size``; ``n_nonzero_coefs`` for OMP).

    Returns
    -------
    array (n_rhs, n)
    """
    check_choice(decoder, "decoder", DECODERS)
    return DECODERS[decoder](measurement_matrix(P), Y, **(decoder_params or {}))


class CompressedFactorization(TransformerMixin, BaseEstimator):
    r"""Low-rank factorization of compressed data, with sparse recovery of the factors.

    Parameters
    ----------
    factorizer : estimator, default=None
        Any scikit-learn factorizer with ``fit_transform`` and ``components_`` (cloned);
        ``None``: ``sklearn.decomposition.NMF()``.
    n_measurements : int, default=None
        :math:`d`, rows of the measurement matrix drawn when ``fit`` gets no ``P``;
        ``None``: half the features (at least 1). Must not exceed the feature count.
    route : {"fr", "rf"}, default="fr"
        Factorize-then-recover (the paper's) or recover-then-factorize (the baseline).
    operator : {"expander", "gaussian"}, default="expander"
        Kind of the drawn measurement matrix: sparse binary with ``n_ones`` ones per
        column, or Gaussian.
    n_ones : int, default=5
        Ones per column of the expander (capped at ``n_measurements``).
    decoder : {"bp", "nnbp", "omp"}, default="bp"
    decoder_params : dict, default=None
    clip : bool, default=True
        Clip the decoded vectors at 0 (for non-negative factorizers such as NMF).
    random_state : None or int
        Draws the measurement matrix.

    Attributes
    ----------
    components_ : array (n_components, n_features)
        The recovered factors (rows of :math:`W^\top`), in the uncompressed space.
    compressed_components_ : array (n_components, n_measurements)
        The factors in the compressed space (F-R only; ``None`` for R-F).
    embedding_ : array (n_samples, n_components)
        The codes of the training samples.
    operator_ : array or scipy.sparse matrix (n_measurements, n_features)
        The measurement matrix used.
    factorizer_ : estimator
        The fitted factorizer.
    n_lps_ : int
        Sparse-recovery problems solved: the rank for F-R, the sample count for R-F.
    n_features_in_ : int
        Width of ``X`` given to ``fit`` (compressed when ``P`` is given).

    Examples
    --------
    >>> from parsimony.data.factorization import planted_factorization
    >>> X, clean, W, H = planted_factorization(60, 80, 2, 4, random_state=0)
    >>> est = CompressedFactorization(NMF(2, init="nndsvda", max_iter=1000), 30,
    ...                               random_state=0).fit(X)
    >>> est.components_.shape, est.n_lps_
    ((2, 80), 2)
    """

    def __init__(
        self,
        factorizer=None,
        n_measurements=None,
        *,
        route="fr",
        operator="expander",
        n_ones=5,
        decoder="bp",
        decoder_params=None,
        clip=True,
        random_state=None,
    ):
        self.factorizer = factorizer
        self.n_measurements = n_measurements
        self.route = route
        self.operator = operator
        self.n_ones = n_ones
        self.decoder = decoder
        self.decoder_params = decoder_params
        self.clip = clip
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.factorizer is None or isinstance(self.factorizer, NMF)
        return tags

    def _draw(self, n_features):
        d = n_features // 2 if self.n_measurements is None else self.n_measurements
        d = check_int(max(d, 1), "n_measurements", low=1, high=n_features)
        check_choice(self.operator, "operator", ("expander", "gaussian"))
        if self.operator == "gaussian":
            return GaussianOperator(d, n_features, random_state=self.random_state).matrix
        s = min(check_int(self.n_ones, "n_ones", low=1), d)
        return SparseExpanderOperator(d, n_features, s, random_state=self.random_state).matrix

    def _decode(self, Y):
        out = decode(self.operator_, Y, self.decoder, self.decoder_params)
        return np.maximum(out, 0.0) if self.clip else out

    def fit(self, X, y=None, P=None):
        """Fit on compressed data ``X`` measured by ``P``, or compress ``X`` first.

        Parameters
        ----------
        X : array (n_samples, d) if ``P`` is given, else (n_samples, n_features)
        y : ignored
        P : array, scipy.sparse matrix or LinearOperator (d, n_features), optional
            The measurement matrix of the compressed ``X``; ``None``: draw one
            (``operator``, ``n_measurements``, ``random_state``) and compress ``X``.

        Returns
        -------
        self
        """
        check_choice(self.route, "route", ROUTES)
        check_choice(self.decoder, "decoder", DECODERS)
        if not isinstance(self.clip, bool | np.bool_):
            raise TypeError(f"clip must be a bool, got {self.clip!r}")
        X = validate_data(self, X, dtype=np.float64)
        if self.__sklearn_tags__().input_tags.positive_only:
            check_non_negative(X, "CompressedFactorization with an NMF factorizer")
        if P is None:
            self.operator_ = self._draw(X.shape[1])
            Xc = np.asarray(X @ self.operator_.T)
        else:
            self.operator_ = measurement_matrix(P)
            if self.operator_.shape[0] != X.shape[1]:
                raise ValueError(
                    f"P must have {X.shape[1]} rows (the columns of X), got {self.operator_.shape}"
                )
            if self.operator_.shape[0] > self.operator_.shape[1]:
                raise ValueError(f"P must have no more rows than columns, got {P.shape}")
            Xc = X
        self.compressed_input_ = P is not None
        self.factorizer_ = clone(NMF() if self.factorizer is None else self.factorizer)
        if self.route == "fr":
            self.embedding_ = self.factorizer_.fit_transform(Xc)
            self.compressed_components_ = np.asarray(self.factorizer_.components_)
            self.components_ = self._decode(self.compressed_components_)
            self.n_lps_ = self.compressed_components_.shape[0]
        else:
            X_hat = self._decode(Xc)
            self.embedding_ = self.factorizer_.fit_transform(X_hat)
            self.compressed_components_ = None
            self.components_ = np.asarray(self.factorizer_.components_)
            self.n_lps_ = Xc.shape[0]
        return self

    def transform(self, X):
        """Codes of new samples (same kind of ``X`` as in ``fit``).

        Parameters
        ----------
        X : array (n_samples, n_features_in_)

        Returns
        -------
        array (n_samples, n_components)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Xc = X if self.compressed_input_ else np.asarray(X @ self.operator_.T)
        return self.factorizer_.transform(Xc if self.route == "fr" else self._decode(Xc))
