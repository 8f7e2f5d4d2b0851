r"""Ellipsoidal rounding of :math:`L = \{x : \|Ax\|_p \le 1\}`: the paper's and Lewis weights.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020 (journal version: Sensors 21(16):5599, 2021).

For a matrix :math:`A \in \mathbb{R}^{n \times d}` of full column rank and
:math:`p \in [1, 2]`, :math:`L` is a symmetric convex body. An ellipsoid
:math:`E = \{x : \|G_{out} x\|_2 \le 1\}` *rounds* it with factor :math:`\kappa` when

.. math:: \|G_{out} x\|_2 \le \|A x\|_p \le \kappa \|G_{out} x\|_2
          \quad (E / \kappa \subseteq L \subseteq E).

The top :math:`k` right singular vectors of :math:`G_{out}` then span the paper's
:math:`\ell_p` subspace (:mod:`parsimony.compression.lowrank.subspace`).

- :func:`ellipsoid_rounding`: **the paper's** shallow-cut ellipsoid method (Grötschel,
  Lovász & Schrijver 1988), as in the reference code (muradtuk/LzModelCompression,
  ``MVEEApprox.py``) with an analytic separation oracle, an enlarged starting ball and the
  reference's rescale heuristic (which makes the loop stop, but voids :math:`L \subseteq E`);
  :math:`\kappa = \sqrt{d(d+1)}` when its stopping test passed.
- :func:`lewis_rounding`: **ours**, the :math:`\ell_p` Lewis weights (Lewis 1978; the
  fixed-point iteration of Cohen & Peng, STOC 2015),
  :math:`w_i = (a_i^\top (A^\top W^{1-2/p} A)^{-1} a_i)^{p/2}` and
  :math:`\|G_{out} x\|_2 = \|W^{1/2 - 1/p} A x\|_2`, certified with
  :math:`\kappa \to d^{1/p - 1/2}` (:math:`\sqrt d` for :math:`p = 1`, the Löwner-John
  factor); :math:`O(nd^2)` per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sl

from parsimony._validation import check_array, check_float, check_int

__all__ = [
    "RANK_TOL",
    "EllipsoidRounding",
    "check_matrix",
    "check_p",
    "ellipsoid_rounding",
    "lewis_rounding",
    "lp_dual",
    "lp_norms",
]

#: Singular values below ``RANK_TOL * s_max`` count as zero (the row space is used).
RANK_TOL = 1e-10


def check_p(p) -> float:
    """Validate the exponent ``p`` of the :math:`\\ell_p` cost: a float in [1, 2]."""
    return check_float(p, "p", low=1.0, high=2.0)


def check_matrix(A, name: str = "A") -> np.ndarray:
    """Validate a layer matrix: real, finite, 2-D, at least 2 x 2; returned as float64."""
    if np.iscomplexobj(A):
        raise TypeError(f"{name} must be real, got a complex array")
    return check_array(A, name, min_rows=2, min_cols=2)


def lp_norms(U: np.ndarray, p: float) -> np.ndarray:
    """Column-wise :math:`\\|u\\|_p` of ``U`` (n, m).

    >>> lp_norms(np.array([[3.0], [-4.0]]), 2.0)
    array([5.])
    """
    if p == 1.0:
        return np.abs(U).sum(axis=0)
    if p == 2.0:
        return np.sqrt((U * U).sum(axis=0))
    return (np.abs(U) ** p).sum(axis=0) ** (1.0 / p)


def lp_dual(U: np.ndarray, p: float) -> np.ndarray:
    """Gradient of :math:`\\|\\cdot\\|_p` at each column (unit dual norm, ``g^T u = ||u||_p``).

    >>> lp_dual(np.array([[2.0], [-1.0]]), 1.0)
    array([[ 1.],
           [-1.]])
    """
    if p == 1.0:
        return np.sign(U)
    f = lp_norms(U, p)
    f = np.where(f > 0, f, 1.0)
    return np.sign(U) * np.abs(U) ** (p - 1.0) / f ** (p - 1.0)


def _smallest_singular_value(A: np.ndarray) -> float:
    r""":math:`\sigma_{\min}(A)`; raises unless A has full column rank (L is then bounded).

    Through the QR factorization and the SVD of the small ``R``, the route
    :class:`~parsimony.compression.lowrank.LpLowRank` takes: the ellipsoid method's start
    depends on :math:`\sigma_{\min}`, and its many cuts amplify last-bit differences.
    """
    R = sl.qr(A, mode="r")[0][: A.shape[1]] if A.shape[0] > A.shape[1] else A
    s = sl.svd(R, full_matrices=False, lapack_driver="gesdd")[1]
    if s[-1] <= RANK_TOL * s[0]:
        raise ValueError("A must have full column rank (the body {x : ||Ax||_p <= 1} is unbounded)")
    return float(s[-1])


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
    max_iter: int = 5000,
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
    max_iter : int
        Cap on the rounds (checks of the axis points).
    max_cuts : int
        Cap on the cuts of either kind.
    rescale_every : int
        The reference's ``maxIter``.
    batch_cuts : bool
        Cut at every failing axis point of a round (ours) instead of the worst one only.
    callback : callable, optional
        ``callback(state)`` after each round, ``state`` a dict with ``iteration`` (the
        round), ``objective`` (the worst axis point's cost; the test passes at <= 1),
        ``n_cuts`` and ``n_rescales``.

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
    A = check_matrix(A)
    p = check_p(p)
    max_iter = check_int(max_iter, "max_iter", low=1)
    max_cuts = check_int(max_cuts, "max_cuts", low=1)
    rescale_every = check_int(rescale_every, "rescale_every", low=1)
    s_min = _smallest_singular_value(A)
    return _ellipsoid(A, p, s_min, max_iter, max_cuts, rescale_every, batch_cuts, callback)


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
            if lp_norms(u[:, None], p)[0] <= 1.0:
                break
            h = A.T @ lp_dual(u[:, None], p)[:, 0]
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
        costs = lp_norms(Z, p)
        worst = float(costs.max())
        if callback is not None:
            callback(
                {
                    "iteration": rounds,
                    "objective": worst,
                    "n_cuts": n_cuts,
                    "n_rescales": n_rescales,
                }
            )
        if worst <= 1.0:
            converged = True
            break
        failing = np.flatnonzero(costs > 1.0)
        order = failing[np.argsort(-costs[failing], kind="stable")]
        if not batch_cuts:
            order = order[:1]
        H = A.T @ lp_dual(Z[:, order], p)
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
        ``callback(state)`` after each iteration, ``state`` a dict with ``iteration`` and
        ``residual`` (:math:`\max_i |\log(w_i^{new}/w_i)|`).

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((300, 6))
    >>> E = lewis_rounding(A, p=1.0)
    >>> E.contains, bool(E.rounding <= np.sqrt(6) * (1 + 1e-6))
    (True, True)
    """
    A = check_matrix(A)
    p = check_p(p)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    _smallest_singular_value(A)
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
            callback({"iteration": it, "residual": change})
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
