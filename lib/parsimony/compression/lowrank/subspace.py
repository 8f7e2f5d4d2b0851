r"""The :math:`\ell_p` subspace of a layer: costs, solvers and the :class:`LpLowRank` estimator.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020 (journal version: Sensors 21(16):5599, 2021).

A layer is a matrix :math:`A \in \mathbb{R}^{n \times d}` whose rows :math:`a_i` are points.
For :math:`p \in [1, 2]` we look for a :math:`k`-dimensional subspace with orthonormal basis
:math:`V_k \in \mathbb{R}^{d \times k}` of small

.. math:: \operatorname{cost}_p(A, V_k) = \sum_i \operatorname{dist}(a_i, \operatorname{span} V_k)^p
          = \sum_i \|a_i (I - V_k V_k^\top)\|_2^p .

:math:`p = 2` is the truncated SVD; :math:`p = 1` is robust to far-away rows. Solvers
(:data:`SUBSPACE_SOLVERS`, each a public function returning ``(V, info)``):

- :func:`svd_subspace`: the peer, the top :math:`k` right singular vectors;
- :func:`ellipsoid_subspace`: **the paper's** pipeline, the top :math:`k` right singular
  vectors of the matrix :math:`G_{out}` of an ellipsoid rounding
  :math:`\{x : \|Ax\|_p \le 1\}` (:func:`~parsimony.compression.lowrank.rounding.ellipsoid_rounding`),
  with the reference code's pitfall fixed (the rows of ``Vh`` are the right singular
  vectors, and the basis is orthonormal);
- :func:`lewis_subspace`: **ours**, the same pipeline with the Lewis-weight ellipsoid;
- :func:`irls_subspace`: **ours**, iteratively re-weighted least squares on the smoothed
  objective :math:`\sum_i (r_i^2 + \varepsilon^2)^{p/2}`, a majorise-minimise scheme
  (monotone for :math:`p \le 2`), started from the SVD.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg as sl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from parsimony._validation import check_array, check_choice, check_float, check_int
from parsimony.compression.lowrank.rounding import (
    RANK_TOL,
    EllipsoidRounding,
    check_matrix,
    check_p,
    ellipsoid_rounding,
    lewis_rounding,
)

__all__ = [
    "SUBSPACE_SOLVERS",
    "LpLowRank",
    "check_rank",
    "ellipsoid_subspace",
    "irls_subspace",
    "lewis_subspace",
    "lp_cost",
    "lp_low_rank",
    "residual_norms",
    "svd_subspace",
]


def check_rank(rank, n: int, d: int, name: str = "rank") -> int:
    """Validate a rank for an (n, d) matrix: an int with ``1 <= rank < min(n, d)``."""
    rank = check_int(rank, name, low=1)
    if rank >= min(n, d):
        raise ValueError(f"{name} must be < min(n, d) = {min(n, d)} for shape {(n, d)}, got {rank}")
    return rank


def residual_norms(A: np.ndarray, V: np.ndarray) -> np.ndarray:
    """:math:`\\|a_i - a_i V V^\\top\\|_2` for every row of ``A`` (``V`` (d, k) orthonormal).

    >>> residual_norms(np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([[1.0], [0.0]]))
    array([2., 0.])
    """
    R = A - (A @ V) @ V.T
    return np.sqrt(np.einsum("ij,ij->i", R, R))


def lp_cost(A, components, p: float = 1.0) -> float:
    r"""Sum over rows of the distance to the span of ``components``, to the power ``p``.

    .. math:: \sum_i \|a_i - a_i V V^\top\|_2^p , \qquad V^\top = \text{components}

    Parameters
    ----------
    A : array of shape (n, d)
    components : array of shape (k, d)
        Orthonormal rows.
    p : float in [1, 2]

    Examples
    --------
    >>> A = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    >>> lp_cost(A, np.array([[1.0, 0.0]]), p=1.0)
    2.0
    """
    A = check_matrix(A)
    C = check_array(components, "components", min_rows=1, min_cols=1)
    if C.shape[1] != A.shape[1]:
        raise ValueError(f"components must have {A.shape[1]} columns, got shape {C.shape}")
    p = check_p(p)
    return float(np.sum(residual_norms(A, C.T) ** p))


def _flip(V: np.ndarray) -> np.ndarray:
    """Deterministic signs: the largest-magnitude entry of each column is positive."""
    idx = np.argmax(np.abs(V), axis=0)
    signs = np.sign(V[idx, np.arange(V.shape[1])])
    signs[signs == 0] = 1.0
    return V * signs


def _row_space(A: np.ndarray):
    """``(s, Vt, r)``: singular values, right singular vectors and numerical rank of A.

    Through the QR factorization (``A = QR``, then the SVD of the small ``R``): the right
    singular vectors without forming the n x d left ones.
    """
    R = sl.qr(A, mode="r")[0][: min(A.shape)] if A.shape[0] > A.shape[1] else A
    _, s, Vt = sl.svd(R, full_matrices=False, lapack_driver="gesdd")
    r = int(np.sum(s > RANK_TOL * s[0])) if s[0] > 0 else 0
    return s, Vt, r


def _checked(A, k, p):
    A = check_matrix(A)
    return A, check_rank(k, *A.shape, name="k"), check_p(p)


def _top_from_rounding(E: EllipsoidRounding, k: int) -> np.ndarray:
    # the paper's step 2 with its pitfall fixed: the rows of Vh are the right singular vectors
    Vt = sl.svd(E.G_out, full_matrices=False)[2]
    return Vt[:k].T


def svd_subspace(A, k: int, p: float = 2.0) -> tuple[np.ndarray, dict]:
    """The truncated SVD's basis: the top ``k`` right singular vectors of ``A`` (the peer).

    ``p`` is accepted for a uniform signature and ignored. Returns ``(V (d, k), info)``.

    >>> V, info = svd_subspace(np.diag([3.0, 2.0, 1.0]), 2)
    >>> np.abs(V).round(3).tolist(), info["converged"]
    ([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], True)
    """
    A, k, _ = _checked(A, k, p)
    return _row_space(A)[1][:k].T, {"n_iter": 1, "converged": True}


def ellipsoid_subspace(
    A,
    k: int,
    p: float = 1.0,
    *,
    max_iter: int = 5000,
    max_cuts: int = 1_000_000,
    rescale_every: int = 100,
    batch_cuts: bool = True,
    callback: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """The paper's :math:`\\ell_p` basis: top ``k`` right singular vectors of the ellipsoid's matrix.

    ``A`` must have full column rank (:class:`LpLowRank` reduces to the row space first).
    Keywords as in :func:`~parsimony.compression.lowrank.rounding.ellipsoid_rounding`.
    Returns ``(V (d, k), info)`` with ``info["rounding"]`` the :class:`EllipsoidRounding`.

    >>> A = np.random.default_rng(0).standard_normal((100, 4))
    >>> V, info = ellipsoid_subspace(A, 2)
    >>> V.shape, info["converged"]
    ((4, 2), True)
    """
    A, k, p = _checked(A, k, p)
    E = ellipsoid_rounding(
        A,
        p,
        max_iter=max_iter,
        max_cuts=max_cuts,
        rescale_every=rescale_every,
        batch_cuts=batch_cuts,
        callback=callback,
    )
    return _top_from_rounding(E, k), {"n_iter": E.n_iter, "converged": E.converged, "rounding": E}


def lewis_subspace(
    A,
    k: int,
    p: float = 1.0,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
    callback: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Ours: the paper's pipeline with the Lewis-weight ellipsoid (certified rounding).

    ``A`` must have full column rank. Keywords as in
    :func:`~parsimony.compression.lowrank.rounding.lewis_rounding`. Returns
    ``(V (d, k), info)`` with ``info["rounding"]`` the :class:`EllipsoidRounding`.

    >>> A = np.random.default_rng(0).standard_normal((100, 4))
    >>> V, info = lewis_subspace(A, 2)
    >>> V.shape, info["rounding"].contains
    ((4, 2), True)
    """
    A, k, p = _checked(A, k, p)
    E = lewis_rounding(A, p, max_iter=max_iter, tol=tol, callback=callback)
    return _top_from_rounding(E, k), {"n_iter": E.n_iter, "converged": E.converged, "rounding": E}


def irls_subspace(
    A,
    k: int,
    p: float = 1.0,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
    eps: float = 1e-6,
    callback: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, dict]:
    r"""Ours: IRLS for the smoothed :math:`\ell_p` objective, started from the SVD.

    With :math:`r_i` the residual norms and :math:`\varepsilon^2 = ` ``eps**2`` times the
    mean squared row norm, each iteration takes the top ``k`` eigenvectors of
    :math:`A^\top W A`, :math:`W = \operatorname{diag}((r_i^2 + \varepsilon^2)^{(p-2)/2})`:
    a majorise-minimise step of :math:`\sum_i (r_i^2 + \varepsilon^2)^{p/2}`, which never
    increases (a step that would, by round-off, ends the loop).

    Parameters
    ----------
    A : array (n, d)
    k : int
    p : float in [1, 2]
    max_iter : int
    tol : float
        Stop when the relative decrease of the objective is at most ``tol``.
    eps : float > 0
    callback : callable, optional
        ``callback(state)`` after each iteration, ``state`` a dict with ``iteration`` and
        ``objective``.

    Returns
    -------
    V : ndarray (d, k)
    info : dict
        ``n_iter``, ``converged`` and ``objective`` (the smoothed objective, from the SVD
        start on: non-increasing).

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((100, 4))
    >>> V, info = irls_subspace(A, 2, max_iter=5)
    >>> V.shape, bool(np.all(np.diff(info["objective"]) <= 0))
    ((4, 2), True)
    """
    A, k, p = _checked(A, k, p)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    eps = check_float(eps, "eps", low=0.0, low_inclusive=False)
    sq = np.einsum("ij,ij->i", A, A)
    e2 = (eps**2) * sq.mean()
    V = _row_space(A)[1][:k].T

    def objective(V):
        AV = A @ V
        r2 = np.maximum(sq - np.einsum("ij,ij->i", AV, AV), 0.0)
        return r2, float(np.sum((r2 + e2) ** (p / 2.0)))

    r2, obj = objective(V)
    history = [obj]
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        w = (r2 + e2) ** ((p - 2.0) / 2.0)
        C = (A.T * w) @ A
        V_new = np.linalg.eigh(0.5 * (C + C.T))[1][:, ::-1][:, :k]
        r2_new, obj_new = objective(V_new)
        if obj_new > obj:  # guard against round-off: MM never increases the objective
            break
        V, r2 = V_new, r2_new
        decrease = obj - obj_new
        obj = obj_new
        history.append(obj)
        if callback is not None:
            callback({"iteration": it, "objective": obj})
        if decrease <= tol * obj:
            converged = True
            break
    return V, {"n_iter": it, "converged": converged, "objective": history}


#: Solver name -> public function ``(A, k, p, **params) -> (V (d, k), info)``. ``svd`` is
#: the peer, ``ellipsoid`` the paper's, ``lewis`` and ``irls`` are ours.
SUBSPACE_SOLVERS: dict[str, Callable] = {
    "svd": svd_subspace,
    "ellipsoid": ellipsoid_subspace,
    "lewis": lewis_subspace,
    "irls": irls_subspace,
}


class LpLowRank(TransformerMixin, BaseEstimator):
    r"""A :math:`k`-dimensional subspace of small :math:`\sum_i \operatorname{dist}(a_i, S)^p`.

    Mirrors :class:`sklearn.decomposition.TruncatedSVD` (``n_components``,
    ``components_``, ``transform``, ``inverse_transform``; no centring) so that one can
    replace the other. ``p = 2`` (any method) returns the truncated SVD exactly. Every
    method is deterministic (no random draw), hence no ``random_state``.

    Parameters
    ----------
    n_components : int
        The rank :math:`k`, ``1 <= k < min(n_samples, n_features)``.
    p : float in [1, 2]
    method : {"ellipsoid", "lewis", "irls", "svd"}
        A key of :data:`SUBSPACE_SOLVERS`: ``"ellipsoid"`` is the paper's; ``"lewis"`` and
        ``"irls"`` are ours; ``"svd"`` ignores ``p``.
    method_params : dict, optional
        Keywords of the solver: ``max_cuts``, ``rescale_every``, ``batch_cuts``
        (ellipsoid); ``tol`` (lewis); ``tol``, ``eps`` (irls). An unknown key raises
        ``TypeError``.
    max_iter : int, optional
        Rounds (ellipsoid) or iterations (lewis, irls); ``None`` keeps the solver's default.
    callback : callable, optional
        ``callback(state: dict)`` after each iteration of the solver (keys ``iteration``
        and ``objective`` or ``residual``).

    Attributes
    ----------
    components_ : ndarray (k, n_features)
        Orthonormal rows :math:`V_k^\top` (in the input's float dtype).
    cost_ : float
        :math:`\sum_i \operatorname{dist}(a_i, S)^p` on the training matrix.
    n_iter_ : int
    converged_ : bool
        Whether the solver's stopping test passed (always True for the SVD).
    rounding_ : EllipsoidRounding or None
        The ellipsoid (methods ``ellipsoid`` and ``lewis``).
    objective_ : list of float or None
        IRLS objective per iteration (non-increasing).
    singular_values_ : ndarray
        Singular values of the training matrix.
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = np.vstack([rng.standard_normal((200, 2)) @ np.eye(2, 6), 50 * np.eye(6)[2:3]])
    >>> est = LpLowRank(2, p=1.0, method="irls").fit(A)
    >>> est.components_.shape
    (2, 6)
    >>> bool(est.cost_ < LpLowRank(2, p=1.0, method="svd").fit(A).cost_)
    True
    """

    def __init__(
        self,
        n_components=2,
        *,
        p=1.0,
        method="ellipsoid",
        method_params=None,
        max_iter=None,
        callback=None,
    ):
        self.n_components = n_components
        self.p = p
        self.method = method
        self.method_params = method_params
        self.max_iter = max_iter
        self.callback = callback

    def _solver_params(self) -> dict:
        if not isinstance(self.method_params, dict | type(None)):
            raise TypeError(f"method_params must be a dict or None, got {self.method_params!r}")
        params = dict(self.method_params or {})
        if self.max_iter is not None:
            if "max_iter" in params:
                raise TypeError("give max_iter as the parameter or in method_params, not both")
            params["max_iter"] = check_int(self.max_iter, "max_iter", low=1)
        if self.callback is not None:
            if not callable(self.callback):
                raise TypeError(f"callback must be callable, got {self.callback!r}")
            params["callback"] = self.callback
        return params

    def fit(self, X, y=None):
        """Fit the subspace to the rows of ``X`` (n_samples, n_features); returns ``self``."""
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=2, ensure_min_features=2
        )
        A = X.astype(np.float64)
        n, d = A.shape
        k = check_rank(self.n_components, n, d, name="n_components")
        p = check_p(self.p)
        method = check_choice(self.method, "method", SUBSPACE_SOLVERS)
        params = self._solver_params()
        s, Vt_all, r = _row_space(A)
        info: dict = {"n_iter": 1, "converged": True}
        if p == 2.0 or method == "svd" or r <= k:
            # p = 2 is the SVD exactly; a matrix of rank <= k is fitted exactly by its row space
            V = Vt_all[:k].T
        elif r == d:
            V, info = SUBSPACE_SOLVERS[method](A, k, p, **params)
        else:  # work in the row space: the rounding needs a bounded body
            Q = Vt_all[:r].T
            Vr, info = SUBSPACE_SOLVERS[method](A @ Q, k, p, **params)
            V = Q @ Vr
        V = _flip(np.linalg.qr(V)[0])
        self.components_ = V.T.astype(X.dtype)
        self.n_iter_ = int(info["n_iter"])
        self.converged_ = bool(info["converged"])
        self.rounding_ = info.get("rounding")
        self.objective_ = info.get("objective")
        self.cost_ = float(np.sum(residual_norms(A, V) ** p))
        self.singular_values_ = s
        return self

    def transform(self, X):
        """Coordinates in the subspace: ``X @ components_.T`` (n_samples, k)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X @ self.components_.T.astype(X.dtype)

    def inverse_transform(self, X):
        """Back to the input space: ``X @ components_`` (n_samples, n_features)."""
        check_is_fitted(self)
        X = check_array(X, "X", dtype=None)
        if np.iscomplexobj(X) or X.dtype.kind not in "fiu":
            raise TypeError(f"X must be a real numeric array, got dtype {X.dtype}")
        if X.shape[1] != self.components_.shape[0]:
            raise ValueError(
                f"X must have {self.components_.shape[0]} columns (n_components), "
                f"got shape {X.shape}"
            )
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        return X.astype(dtype) @ self.components_.astype(dtype)


def lp_low_rank(A, rank: int, p: float = 1.0, method: str = "ellipsoid", **options):
    r"""Factor :math:`A \approx B V_k^\top` with :math:`V_k` an :math:`\ell_p` subspace basis.

    Parameters
    ----------
    A : array of shape (n, d), finite
    rank : int
        ``1 <= rank < min(n, d)``.
    p : float in [1, 2]
        ``p = 2`` returns the truncated SVD exactly (for every method).
    method : {"ellipsoid", "lewis", "irls", "svd"}
        See :class:`LpLowRank`; ``"ellipsoid"`` is the paper's.
    **options
        Keywords of the solver (``max_iter`` and its ``method_params``, see
        :class:`LpLowRank`).

    Returns
    -------
    left : ndarray (n, rank)
        :math:`B = A V_k`.
    right : ndarray (rank, d)
        :math:`V_k^\top`, orthonormal rows.

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((50, 5))
    >>> B, Vt = lp_low_rank(A, 2, p=2.0)
    >>> U, s, Wt = np.linalg.svd(A)
    >>> bool(np.allclose(B @ Vt, (U[:, :2] * s[:2]) @ Wt[:2]))
    True
    """
    A = check_matrix(A)
    rank = check_rank(rank, *A.shape)
    est = LpLowRank(rank, p=p, method=method, method_params=options).fit(A)
    return A @ est.components_.T, est.components_
