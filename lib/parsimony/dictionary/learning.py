r"""Learning a basis by minimising the :math:`\ell_1` criterion.

The criterion of Gribonval & Schnass (IEEE TIT 2010) for a basis with unit-norm atoms,

.. math:: f(D) = \|X D^{-1}\|_1 = \sum_k \|X w_k\|_1, \qquad W = D^{-1} = [w_1, \dots, w_K],

splits over the columns :math:`w_k` of the inverse ("analysis" vectors), each tied to its
atom by :math:`d_k^\top w_k = 1`. :class:`L1DictionaryLearning` minimises it in two phases:

1. **Candidates** (the ER-SpUD scheme of Spielman, Wang & Wright, COLT 2012): for random
   samples :math:`r`, solve the linear program :math:`\min_w \|X w\|_1` s.t.
   :math:`r^\top w = 1`; its solutions are (near) columns of :math:`D^{-1}`. Keep the
   :math:`K` sparsest (smallest :math:`\|Xw\|_1/\|Xw\|_2`) linearly independent ones.
2. **Block-coordinate refinement** (``n_iter`` sweeps): for each atom, re-solve
   :math:`\min_w \|X w\|_1` s.t. :math:`d_k^\top w = 1` with the current atom, then set
   :math:`D = W^{-1}` with unit rows. The basis with the lowest criterion is kept.

Each LP is solved exactly with HiGHS. The planted basis is a strict local minimum of
:math:`f` with high probability once :math:`N \gtrsim C K \log K`
(:func:`parsimony.dictionary.l1_local_minimum`), which is the regime where the learner
recovers it.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment, linprog
from sklearn.base import BaseEstimator, TransformerMixin

from parsimony._validation import check_array, check_float, check_int, check_random_state
from parsimony.dictionary.identification import bernoulli_gaussian, random_basis


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
    r"""Learn a basis (n_atoms = n_features) by minimising :math:`\|X D^{-1}\|_1`.

    Swappable with :class:`sklearn.decomposition.DictionaryLearning` in a notebook: same
    ``fit(X)`` / ``transform(X)`` / ``components_`` (n_atoms, n_features) interface.

    Parameters
    ----------
    n_atoms : int
        Number of atoms; must equal ``n_features`` (the basis case of the paper).
    n_iter : int
        Refinement sweeps (one LP per atom each).
    n_candidates : int or None
        Candidate LPs in the first phase; ``None`` gives ``min(n_samples, 4 * n_atoms)``.
    tol : float
        Stop the sweeps when the relative decrease of the criterion falls below ``tol``.
    random_state : None, int or Generator
    callback : callable or None
        Called after each sweep as ``callback(iteration, objective, components)``.

    Attributes
    ----------
    components_ : ndarray (n_atoms, n_features)
        The learned basis, unit-norm rows.
    objective_ : list of float
        The criterion after the candidate phase (index 0) and after each sweep.
    n_iter_ : int
        Sweeps run.

    Examples
    --------
    >>> from parsimony.dictionary import bernoulli_gaussian, random_basis, dictionary_recovery
    >>> D = random_basis(6, random_state=0)
    >>> X = bernoulli_gaussian(150, 6, 0.2, random_state=0) @ D
    >>> est = L1DictionaryLearning(6, random_state=0).fit(X)
    >>> dictionary_recovery(D, est.components_)
    1.0
    """

    def __init__(
        self, n_atoms, n_iter=10, n_candidates=None, tol=1e-9, random_state=None, callback=None
    ):
        self.n_atoms = n_atoms
        self.n_iter = n_iter
        self.n_candidates = n_candidates
        self.tol = tol
        self.random_state = random_state
        self.callback = callback

    def _validate(self, X):
        X = check_array(X, "X", min_rows=2)
        K = check_int(self.n_atoms, "n_atoms", low=1)
        if K != X.shape[1]:
            raise ValueError(
                f"n_atoms must equal n_features={X.shape[1]} (the basis case), got {K}"
            )
        check_int(self.n_iter, "n_iter", low=0)
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
        for it in range(self.n_iter):
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
                self.callback(it, f, D)
            improved = f < best_f * (1 - self.tol)
            if f < best_f:
                best_D, best_f = D, f
            if not improved:
                break
        self.components_ = best_D
        return self

    def transform(self, X):
        """Codes ``X @ inv(components_)``: exact for a basis."""
        X = check_array(X, "X")
        if X.shape[1] != self.components_.shape[1]:
            raise ValueError(f"X must have {self.components_.shape[1]} features, got {X.shape[1]}")
        return np.linalg.solve(self.components_.T, X.T).T


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


def _sklearn_dictionary_learning(n_atoms, random_state=None):
    from sklearn.decomposition import DictionaryLearning

    return DictionaryLearning(
        n_components=n_atoms, alpha=0.1, max_iter=100, random_state=random_state
    )


#: learner name -> factory(n_atoms, random_state) returning an unfitted estimator
LEARNERS = {
    "l1": lambda n_atoms, random_state=None: L1DictionaryLearning(
        n_atoms, random_state=random_state
    ),
    "sklearn": _sklearn_dictionary_learning,
}


def compare_learners(n_atoms, ratios, p, n_trials, methods=("l1", "sklearn"), random_state=0):
    r"""Recovery of a planted random orthonormal basis from :math:`N = r K \ln K` samples.

    For each ratio and trial, draws a basis and Bernoulli-Gaussian codes (one seed per
    (ratio, trial), shared by all methods), fits each learner of :data:`LEARNERS` and
    records :func:`dictionary_recovery` and the fit time.

    Returns
    -------
    list of dict
        ``method, ratio, n_samples, trial, recovery, seconds`` (``seconds`` is wall clock:
        keep it out of ``metrics.json``).
    """
    K = check_int(n_atoms, "n_atoms", low=2)
    n_trials = check_int(n_trials, "n_trials", low=1)
    for m in methods:
        if m not in LEARNERS:
            raise ValueError(f"methods must be among {sorted(LEARNERS)}, got {m!r}")
    out = []
    for ratio in ratios:
        N = int(np.ceil(float(ratio) * K * np.log(K)))
        for trial in range(n_trials):
            rng = np.random.default_rng([random_state, K, N, trial])
            D = random_basis(K, random_state=rng)
            X = bernoulli_gaussian(N, K, p, random_state=rng) @ D
            for m in methods:
                est = LEARNERS[m](K, random_state=trial)
                t0 = time.perf_counter()
                est.fit(X)
                seconds = time.perf_counter() - t0
                out.append(
                    {
                        "method": m,
                        "ratio": float(ratio),
                        "n_samples": N,
                        "trial": trial,
                        "recovery": dictionary_recovery(D, est.components_),
                        "seconds": seconds,
                    }
                )
    return out
