r"""Learning a basis by minimising the :math:`\ell_1` criterion.

The criterion of Gribonval & Schnass (IEEE TIT 2010) for a basis with unit-norm atoms,

.. math:: f(D) = \|X D^{-1}\|_1 = \sum_k \|X w_k\|_1, \qquad W = D^{-1} = [w_1, \dots, w_K],

splits over the columns :math:`w_k` of the inverse ("analysis" vectors), each tied to its
atom by :math:`d_k^\top w_k = 1`. :class:`L1DictionaryLearning` minimises it in two phases:

1. **Candidates** (the ER-SpUD scheme of Spielman, Wang & Wright, COLT 2012): for random
   samples :math:`r`, solve the linear program :math:`\min_w \|X w\|_1` s.t.
   :math:`r^\top w = 1`; its solutions are (near) columns of :math:`D^{-1}`. Keep the
   :math:`K` sparsest (smallest :math:`\|Xw\|_1/\|Xw\|_2`) linearly independent ones.
2. **Block-coordinate refinement** (at most ``max_iter`` sweeps): for each atom, re-solve
   :math:`\min_w \|X w\|_1` s.t. :math:`d_k^\top w = 1` with the current atom, then set
   :math:`D = W^{-1}` with unit rows. The basis with the lowest criterion is kept.

Each LP is solved exactly with HiGHS. The planted basis is a strict local minimum of
:math:`f` with high probability once :math:`N \gtrsim C K \log K`
(:func:`parsimony.dictionary.l1_local_minimum`), which is the regime where the learner
recovers it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment, linprog
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from parsimony._validation import check_array, check_float, check_int, check_random_state


def _l1_lp(X: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """argmin ||X w||_1 s.t. r^T w = 1, through its dual.

    The dual, max t s.t. X^T y = t r, ||y||_inf <= 1, has only n_features equality rows
    and box bounds (about twice as fast with HiGHS as the primal); the primal ``w`` is the
    dual's equality marginals.
    """
    N, d = X.shape
    A_eq = sp.hstack([sp.csr_matrix(X.T), sp.csr_matrix(-r[:, None])], format="csr")
    c = np.zeros(N + 1)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * N + [(None, None)]
    res = linprog(c, A_eq=A_eq, b_eq=np.zeros(d), bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return np.asarray(res.eqlin.marginals, dtype=float)


def _basis_from_inverse(W: np.ndarray) -> np.ndarray:
    D = np.linalg.inv(W)
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def _criterion(X: np.ndarray, D: np.ndarray) -> float:
    return float(np.abs(np.linalg.solve(D.T, X.T)).sum())


class L1DictionaryLearning(TransformerMixin, BaseEstimator):
    r"""Learn a basis (n_components = n_features) by minimising :math:`\|X D^{-1}\|_1`.

    Swappable with :class:`sklearn.decomposition.DictionaryLearning` in a notebook: same
    ``fit(X)`` / ``transform(X)`` / ``inverse_transform(codes)`` / ``components_``
    (n_components, n_features) interface. Only the basis case of the paper is handled.

    Parameters
    ----------
    n_components : int or None
        Number of atoms; ``None`` gives n_features, and any other value must equal it
        (the algorithm learns a basis).
    max_iter : int
        Maximum refinement sweeps (one LP per atom each).
    n_candidates : int or None
        Candidate LPs in the first phase; ``None`` gives ``min(n_samples, 4 * n_components)``.
    tol : float
        Stop the sweeps when the relative decrease of the criterion falls below ``tol``.
    random_state : None, int or Generator
        Picks the samples of the candidate LPs.
    callback : callable or None
        ``callback(state)`` after each sweep, ``state`` a dict with ``iteration``,
        ``objective`` (the criterion) and ``components``.

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
        The learned basis, unit-norm rows.
    objective_ : list of float
        The criterion after the candidate phase (index 0) and after each sweep.
    n_iter_ : int
        Sweeps run.
    n_features_in_ : int

    Examples
    --------
    >>> from parsimony.dictionary import bernoulli_gaussian, random_basis, dictionary_recovery
    >>> D = random_basis(6, random_state=0)
    >>> X = bernoulli_gaussian(150, 6, 0.2, random_state=0) @ D
    >>> est = L1DictionaryLearning(random_state=0).fit(X)
    >>> dictionary_recovery(D, est.components_)
    1.0
    """

    def __init__(
        self,
        n_components=None,
        max_iter=10,
        n_candidates=None,
        tol=1e-9,
        random_state=None,
        callback=None,
    ):
        self.n_components = n_components
        self.max_iter = max_iter
        self.n_candidates = n_candidates
        self.tol = tol
        self.random_state = random_state
        self.callback = callback

    def _validate(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[1]
        K = n if self.n_components is None else check_int(self.n_components, "n_components", low=1)
        if K != n:
            raise ValueError(
                f"n_components must be None or equal n_features={n}: L1DictionaryLearning "
                f"learns a basis (the paper's basis case), got n_components={K}"
            )
        check_int(self.max_iter, "max_iter", low=0)
        check_float(self.tol, "tol", low=0.0)
        if self.n_candidates is not None:
            check_int(self.n_candidates, "n_candidates", low=K)
        if np.linalg.matrix_rank(X) < K:
            raise ValueError(f"X must have rank n_features={K} to determine a basis")
        return X, K

    def _candidates(self, X, K, rng):
        N = X.shape[0]
        n_cand = self.n_candidates or min(N, 4 * K)
        nonzero = np.flatnonzero(np.abs(X).sum(axis=1) > 0)
        rows = rng.choice(nonzero, size=min(n_cand, nonzero.size), replace=False)
        cands, codes, scores = [], [], []
        for i in rows:
            w = _l1_lp(X, X[i])
            if w is None:
                continue
            z = X @ w
            norm = np.linalg.norm(z)
            if norm == 0:
                continue
            cands.append(w / np.linalg.norm(w))
            codes.append(z / norm)
            scores.append(np.abs(z).sum() / norm)
        # Greedy: sparsest first; skip a candidate whose codes correlate with a kept one
        # (the same atom found twice) or that does not add a dimension.
        keep: list[int] = []
        for j in np.argsort(scores, kind="stable"):
            if keep and np.max(np.abs(np.array([codes[i] for i in keep]) @ codes[j])) > 0.5:
                continue
            trial = np.column_stack([cands[i] for i in [*keep, j]])
            if np.linalg.matrix_rank(trial, tol=1e-6) == trial.shape[1]:
                keep.append(j)
            if len(keep) == K:
                break
        W = np.column_stack([cands[i] for i in keep]) if keep else np.zeros((K, 0))
        if W.shape[1] < K:  # complete with directions orthogonal to the kept ones
            Q, _ = np.linalg.qr(np.column_stack([W, rng.standard_normal((K, K - W.shape[1]))]))
            W = np.column_stack([W, Q[:, W.shape[1] :]])
        return W

    def fit(self, X, y=None):
        """Learn ``components_`` from signals ``X`` (n_samples, n_features)."""
        X, K = self._validate(X)
        rng = check_random_state(self.random_state)
        W = self._candidates(X, K, rng)
        D = _basis_from_inverse(W)
        best_D, best_f = D, _criterion(X, D)
        self.objective_ = [best_f]
        self.n_iter_ = 0
        for it in range(self.max_iter):
            W = np.linalg.inv(D)
            for k in range(K):
                w = _l1_lp(X, D[k])
                if w is not None:
                    W[:, k] = w
            if np.linalg.cond(W) > 1e12:
                break
            D = _basis_from_inverse(W)
            f = _criterion(X, D)
            self.objective_.append(f)
            self.n_iter_ = it + 1
            if self.callback is not None:
                self.callback({"iteration": it + 1, "objective": f, "components": D})
            improved = f < best_f * (1 - self.tol)
            if f < best_f:
                best_D, best_f = D, f
            if not improved:
                break
        self.components_ = best_D
        return self

    def transform(self, X):
        """Codes ``X @ inv(components_)``: exact for a basis."""
        check_is_fitted(self, "components_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        codes = np.linalg.solve(self.components_.T, np.asarray(X, dtype=np.float64).T).T
        return codes.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Signals ``codes @ components_`` from codes (n_samples, n_components)."""
        check_is_fitted(self, "components_")
        X = check_array(X, "X", dtype=None)
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must be a real array, got dtype {X.dtype}")
        if X.shape[1] != self.components_.shape[0]:
            raise ValueError(f"X must have {self.components_.shape[0]} columns, got {X.shape[1]}")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return (X.astype(np.float64) @ self.components_).astype(dtype, copy=False)


def dictionary_recovery(D_true, D_est, threshold: float = 0.99) -> float:
    """Fraction of true atoms matched by an estimated atom up to sign and permutation.

    Atoms are matched one-to-one (Hungarian assignment on ``|<d_i, e_j>|`` after row
    normalisation); a true atom counts as recovered if its match has
    ``|<d_i, e_j>| >= threshold``.

    Examples
    --------
    >>> D = np.eye(3)
    >>> dictionary_recovery(D, -D[[2, 0, 1]])
    1.0
    """
    A = check_array(D_true, "D_true")
    B = check_array(D_est, "D_est")
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"D_true and D_est must have the same n_features, got {A.shape} and {B.shape}"
        )
    threshold = check_float(threshold, "threshold", low=0.0, high=1.0)
    for name, M in (("D_true", A), ("D_est", B)):
        if np.any(np.linalg.norm(M, axis=1) == 0):
            raise ValueError(f"{name} has a zero row")
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    G = np.abs(A @ B.T)
    rows, cols = linear_sum_assignment(-G)
    return float(np.sum(G[rows, cols] >= threshold) / A.shape[0])
