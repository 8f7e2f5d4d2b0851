r"""Orthogonal matching pursuit, as a function and as a scikit-learn drop-in estimator.

Orthogonal matching pursuit (Pati, Rezaiifar & Krishnaprasad 1993; Tropp & Gilbert 2007)
greedily grows a support :math:`S`: at step :math:`t` it selects
:math:`j_t = \arg\max_j |a_j^\top r_{t-1}|` and refits
:math:`x_S = (A_S^\top A_S)^{-1} A_S^\top y`, :math:`r_t = y - A_S x_S`. The Cholesky factor
of :math:`A_S^\top A_S = L L^\top` grows by one row per step (as scikit-learn's
``orthogonal_mp``): :math:`L_{t,:t} = L^{-1} A_S^\top a_j`,
:math:`L_{tt} = (\|a_j\|^2 - \|L_{t,:t}\|^2)^{1/2}`, so a step costs one adjoint
:math:`A^\top r` plus :math:`O(mk + k^2)`; :math:`A` may be any
:class:`~parsimony.sparse.operators.LinearOperator` (matrix-free partial DCT included).

* :func:`omp`: the function, with scikit-learn's stopping semantics: ``n_nonzero_coefs``
  atoms, or, when ``tol`` is given, until :math:`\|r\|^2 \le` ``tol`` (``tol`` wins).
* :class:`OrthogonalMatchingPursuit`: the estimator, with the parameters, attributes and
  semantics of ``sklearn.linear_model.OrthogonalMatchingPursuit`` (``fit_intercept``
  centring, multi-target ``y``, ``n_nonzero_coefs_``, ``n_iter_``, ``score``).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.linalg as sl
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from parsimony._validation import check_array
from parsimony.sparse.operators import MatrixOperator, as_operator

__all__ = ["OrthogonalMatchingPursuit", "check_system", "omp"]

PREMATURE = (
    "Orthogonal matching pursuit ended prematurely due to linear dependence in the "
    "dictionary. The requested precision might not have been met."
)


def check_system(A, y):
    """``A`` as an operator and ``y`` as a finite vector of its row count, or a ValueError.

    The one check of :math:`(A, y)` shared by every solver (``omp``, ``cosamp``, ``iht``,
    ``recover``).
    """
    A = as_operator(A)
    y = check_array(y, "y", ndim=1)
    if y.shape[0] != A.shape[0]:
        raise ValueError(
            f"y must have {A.shape[0]} entries (A has shape {A.shape}), got {y.shape[0]}"
        )
    return A, y


def _check_n_nonzero_coefs(value, n_samples, n_features):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"n_nonzero_coefs must be an integer or None, got {value!r}")
    if value < 1:
        raise ValueError(f"n_nonzero_coefs must be >= 1 (the number of atoms), got {value}")
    if value > n_features:
        raise ValueError(
            f"n_nonzero_coefs must be <= n_features = {n_features}: the number of atoms "
            f"cannot be more than the number of features, got {value}"
        )
    if value > n_samples:
        raise ValueError(
            f"n_nonzero_coefs must be <= n_samples = {n_samples}: more atoms than samples "
            f"are linearly dependent, got {value}"
        )
    return int(value)


def _check_tol(tol):
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a real number or None, got {tol!r}")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0 (a squared residual norm), got {tol}")
    return float(tol)


def _omp_path(A, y, max_atoms, tol, callback):
    """OMP core: at most ``max_atoms`` atoms, or until ``||r||^2 <= tol`` (``tol`` not None)."""
    m, n = A.shape
    alpha = A.rmatvec(y)
    ynorm = np.linalg.norm(y) or 1.0
    cols = np.empty((m, max_atoms), order="F")
    L = np.zeros((max_atoms, max_atoms))
    idx = []
    residual = y
    gamma = np.zeros(0)
    tiny = np.finfo(np.float64).tiny
    for t in range(max_atoms):
        lam = int(np.argmax(np.abs(A.rmatvec(residual))))
        if lam in idx or alpha[lam] ** 2 < tiny:
            warnings.warn(PREMATURE, RuntimeWarning, stacklevel=3)
            break
        a = A.columns([lam])[:, 0]
        if t > 0:
            v = sl.solve_triangular(L[:t, :t], cols[:, :t].T @ a, lower=True, check_finite=False)
            Lkk = a @ a - v @ v
            if Lkk <= tiny:
                warnings.warn(PREMATURE, RuntimeWarning, stacklevel=3)
                break
            L[t, :t] = v
            L[t, t] = np.sqrt(Lkk)
        else:
            L[0, 0] = np.linalg.norm(a)
        cols[:, t] = a
        idx.append(lam)
        gamma = sl.cho_solve((L[: t + 1, : t + 1], True), alpha[idx], check_finite=False)
        residual = y - cols[:, : t + 1] @ gamma
        rn = residual @ residual
        if callback is not None:
            x = np.zeros(n)
            x[idx] = gamma
            callback(
                {
                    "iteration": t + 1,
                    "x": x,
                    "residual": float(np.sqrt(rn) / ynorm),
                    "support": np.array(idx),
                }
            )
        if tol is not None and rn <= tol:
            break
    x = np.zeros(n)
    x[idx] = gamma
    return x, len(idx)


def omp(A, y, n_nonzero_coefs=None, *, tol=None, callback=None):
    r"""Orthogonal matching pursuit with an incremental Cholesky factor.

    Parameters
    ----------
    A : LinearOperator or array (m, n)
    y : array (m,)
        Finite measurements.
    n_nonzero_coefs : int, optional
        Number of atoms, at most ``min(m, n)``; ``None``: 10% of ``n`` (at least 1), as
        scikit-learn. Ignored when ``tol`` is given.
    tol : float, optional
        Stop when :math:`\|r\|^2 \le` ``tol`` (scikit-learn's meaning; it overrides
        ``n_nonzero_coefs``), after at most ``min(m, n)`` atoms.
    callback : callable, optional
        ``callback(state)`` after each atom, ``state`` a dict with ``iteration``, ``x``,
        ``residual`` (:math:`\|r\|/\|y\|`) and ``support``.

    Returns
    -------
    x : array (n,)
    n_iter : int
        Atoms selected.

    Warns
    -----
    RuntimeWarning
        When a selected atom is linearly dependent on the previous ones (scikit-learn's
        "ended prematurely" warning).

    Examples
    --------
    >>> from parsimony.sparse.operators import GaussianOperator
    >>> A = GaussianOperator(40, 100, random_state=0)
    >>> x0 = np.zeros(100); x0[[3, 50, 77]] = [1.0, -2.0, 0.5]
    >>> x, n_iter = omp(A, A @ x0, 3)
    >>> bool(np.allclose(x, x0)), n_iter
    (True, 3)
    """
    A, y = check_system(A, y)
    m, n = A.shape
    tol = _check_tol(tol)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    if tol is not None:
        max_atoms = min(m, n)
    elif n_nonzero_coefs is None:
        max_atoms = min(max(int(0.1 * n), 1), m)
    else:
        max_atoms = _check_n_nonzero_coefs(n_nonzero_coefs, m, n)
    return _omp_path(A, y, max_atoms, tol, callback)


class OrthogonalMatchingPursuit(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Orthogonal matching pursuit, a drop-in for scikit-learn's estimator of the same name.

    Same parameters, attributes and results as
    ``sklearn.linear_model.OrthogonalMatchingPursuit`` (1.9), computed by :func:`omp`.

    Parameters
    ----------
    n_nonzero_coefs : int, optional
        Atoms per target; ``None``: 10% of the features (at least 1). At most
        ``n_features`` and ``n_samples`` (a ValueError names the parameter otherwise).
    tol : float, optional
        Squared residual norm at which to stop; when set it overrides
        ``n_nonzero_coefs`` (as in scikit-learn).
    fit_intercept : bool
        Centre ``X`` and ``y`` (column means) before the pursuit; the intercept is
        ``mean(y) - mean(X) @ coef_``.
    precompute : {"auto", True, False}
        Accepted for compatibility. scikit-learn switches to a Gram-matrix formulation of
        the same algorithm; we always run the column formulation (same supports and
        coefficients up to rounding).

    Attributes
    ----------
    coef_ : array (n_features,) or (n_targets, n_features)
    intercept_ : float or array (n_targets,)
    n_iter_ : int or list of int
        Atoms selected, per target.
    n_nonzero_coefs_ : int or None
        The number of atoms asked for (``None`` when ``tol`` is set).
    n_features_in_ : int

    Examples
    --------
    >>> X = np.eye(4)[:3]
    >>> est = OrthogonalMatchingPursuit(n_nonzero_coefs=1, fit_intercept=False)
    >>> est.fit(X, np.array([0.0, 2.0, 0.0])).coef_.tolist()
    [0.0, 2.0, 0.0, 0.0]
    """

    def __init__(self, *, n_nonzero_coefs=None, tol=None, fit_intercept=True, precompute="auto"):
        self.n_nonzero_coefs = n_nonzero_coefs
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.precompute = precompute

    def fit(self, X, y):
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self
        """
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise TypeError(f"fit_intercept must be a bool, got {self.fit_intercept!r}")
        if not (self.precompute == "auto" or isinstance(self.precompute, bool | np.bool_)):
            raise ValueError(f"precompute must be 'auto', True or False, got {self.precompute!r}")
        tol = _check_tol(self.tol)
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=[np.float64, np.float32]
        )
        n_samples, n_features = X.shape
        if tol is not None:
            self.n_nonzero_coefs_ = None
            n_atoms = None
        elif self.n_nonzero_coefs is None:
            self.n_nonzero_coefs_ = max(int(0.1 * n_features), 1)
            n_atoms = min(self.n_nonzero_coefs_, n_samples)
        else:
            n_atoms = _check_n_nonzero_coefs(self.n_nonzero_coefs, n_samples, n_features)
            self.n_nonzero_coefs_ = n_atoms
        X64 = X.astype(np.float64)
        Y = y.astype(np.float64).reshape(n_samples, -1)
        if self.fit_intercept:
            X_offset, y_offset = X64.mean(axis=0), Y.mean(axis=0)
            X64, Y = X64 - X_offset, Y - y_offset
        A = MatrixOperator(X64)  # checked once for every target
        max_atoms = min(n_samples, n_features) if n_atoms is None else n_atoms
        coef = np.zeros((Y.shape[1], n_features))
        n_iter = []
        for j in range(Y.shape[1]):
            coef[j], it = _omp_path(A, Y[:, j], max_atoms, tol, None)
            n_iter.append(it)
        self.n_iter_ = n_iter[0] if len(n_iter) == 1 else n_iter
        self.coef_ = (coef[0] if coef.shape[0] == 1 else coef).astype(X.dtype, copy=False)
        if self.fit_intercept:
            y_offset = y_offset if y.ndim > 1 else y_offset[0]
            self.intercept_ = (y_offset - X_offset @ self.coef_.T.astype(np.float64)).astype(
                X.dtype
            )
            if y.ndim == 1:
                self.intercept_ = X.dtype.type(self.intercept_)
        else:
            self.intercept_ = 0.0
        return self

    def predict(self, X):
        """Linear prediction ``X @ coef_.T + intercept_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.coef_.T + self.intercept_
