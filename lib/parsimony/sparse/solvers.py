r"""Greedy and thresholding solvers for :math:`y = A x` with a sparse or structured :math:`x`.

* :func:`omp`: orthogonal matching pursuit (Pati, Rezaiifar & Krishnaprasad 1993; Tropp &
  Gilbert 2007), with the Cholesky factor of the Gram matrix of the selected columns updated
  by one row per step (as scikit-learn's ``orthogonal_mp``), so a step costs one adjoint plus
  :math:`O(mk + k^2)`. Same selections and coefficients as
  ``sklearn.linear_model.OrthogonalMatchingPursuit(fit_intercept=False)``.
* :func:`cosamp`: CoSaMP (Needell & Tropp 2009) and, with a graph model, model-based CoSaMP
  (Baraniuk et al. 2010; graph-CoSaMP of Hegde, Indyk & Schmidt 2015,
  ``cosamp_cluster.m``):

  .. math::
     \Gamma = \operatorname{supp}(x^t) \cup H\big(A^\top (y - A x^t); 2s, 2g\big), \quad
     b = \arg\min_{\operatorname{supp} b \subseteq \Gamma} \|y - A b\|_2, \quad
     x^{t+1} = b_{T(b; s, g)} .

  The least squares is solved as HIS do: conjugate gradients on the normal equations
  (tolerance :math:`\min(10^{-4}, \text{tol})`, at most 20 steps), warm-started from :math:`x^t` on
  :math:`\Gamma`; the truncated CG regularises the case :math:`m \le |\Gamma|` (the card's
  "underdetermined" pitfall), where an exact solve is ill-conditioned. ``lstsq="exact"``
  uses the minimum-norm solution (``numpy.linalg.lstsq``) instead.
* :func:`iht`: with a :class:`~parsimony.sparse.models.KSparse` model, normalized IHT
  (Blumensath & Davies 2010), :math:`x^{t+1} = H_s(x^t + \mu_t A^\top(y - A x^t))` with
  :math:`\mu_t = \|g_\Gamma\|^2 / \|A g_\Gamma\|^2` on :math:`\Gamma = \operatorname{supp}(x^t)`
  and the step-halving safeguard when the support changes; with a graph model,
  approximate model IHT (AM-IHT, HIS 2015), :math:`x^{t+1} = T(x^t + \mu_t\, g_\Gamma)`,
  :math:`\Gamma = H(g; 2s, 2g) \cup \operatorname{supp}(x^t)`, with the same normalized
  step on :math:`\Gamma` (plain :math:`\mu = 1` diverges for
  :math:`A_{ij} \sim \mathcal{N}(0, 1/m)`, whose norm is about :math:`1 + \sqrt{n/m}`).

One stopping rule for every iterative method (HIS's): stop when
:math:`\|A x - y\| / \|y\| \le` ``tol``, or when that relative residual changes by at most
``tol`` (relatively) between iterations, or after ``max_iter`` iterations.

:func:`recover` is the entry point, ``recover(A, y, model, method="cosamp")``; it returns
the estimate and the history (relative residual per iteration, iterations, whether the
tolerance was met). ``callback(state)`` is called after every iteration with a dict
``{"iteration", "x", "residual", "support"}``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl

from parsimony._validation import check_array, check_float, check_int, check_random_state
from parsimony.sparse.models import KSparse, top_k
from parsimony.sparse.operators import LinearOperator, as_operator

__all__ = ["SOLVERS", "OrthogonalMatchingPursuit", "cosamp", "iht", "omp", "recover"]


def _check_system(A, y):
    """``A`` as an operator and ``y`` as a vector of its row count, or a ValueError."""
    A = as_operator(A)
    y = check_array(y, "y", ndim=1)
    if y.shape[0] != A.shape[0]:
        raise ValueError(
            f"y must have {A.shape[0]} entries (A has shape {A.shape}), got {y.shape[0]}"
        )
    return A, y


def _history():
    return {"residual": [], "support_size": [], "n_iter": 0, "converged": False}


def _record(history, callback, t, x, support, res):
    history["residual"].append(float(res))
    history["support_size"].append(int(len(support)))
    history["n_iter"] = t
    if callback is not None:
        callback({"iteration": t, "x": x, "residual": float(res), "support": support})


def _stop(history, tol) -> bool:
    r = history["residual"]
    if r[-1] <= tol:
        history["converged"] = True
        return True
    return len(r) > 1 and abs(r[-1] - r[-2]) <= tol * r[-2]


def omp(A: LinearOperator, y: np.ndarray, k: int, *, tol=None, callback=None):
    r"""Orthogonal matching pursuit with an incremental Cholesky factor.

    At step :math:`t`, :math:`j_t = \arg\max_j |a_j^\top r|`, then
    :math:`x_S = (A_S^\top A_S)^{-1} A_S^\top y` with :math:`A_S^\top A_S = L L^\top` grown by
    one row: :math:`L_{t,:t} = L^{-1} A_S^\top a_j`,
    :math:`L_{tt} = (\|a_j\|^2 - \|L_{t,:t}\|^2)^{1/2}`.

    Parameters
    ----------
    A : LinearOperator
    y : array (m,)
    k : int
        Number of atoms.
    tol : float, optional
        Stop early when :math:`\|r\|^2 \le` ``tol`` (scikit-learn's meaning).
    callback : callable, optional

    Returns
    -------
    x : array (n,)
    history : dict

    Examples
    --------
    >>> from parsimony.sparse.operators import GaussianOperator
    >>> A = GaussianOperator(40, 100, random_state=0)
    >>> x0 = np.zeros(100); x0[[3, 50, 77]] = [1.0, -2.0, 0.5]
    >>> x, hist = omp(A, A @ x0, 3)
    >>> bool(np.allclose(x, x0))
    True
    """
    A, y = _check_system(A, y)
    m, n = A.shape
    k = check_int(k, "k", low=1, high=min(m, n))
    history = _history()
    alpha = A.rmatvec(y)
    ynorm = np.linalg.norm(y) or 1.0
    cols = np.empty((m, k), order="F")
    L = np.zeros((k, k))
    idx = []
    residual = y
    gamma = np.zeros(0)
    tiny = np.finfo(np.float64).tiny
    for t in range(k):
        lam = int(np.argmax(np.abs(A.rmatvec(residual))))
        if lam in idx or alpha[lam] ** 2 < tiny:
            break
        a = A.columns([lam])[:, 0]
        if t > 0:
            v = sl.solve_triangular(L[:t, :t], cols[:, :t].T @ a, lower=True, check_finite=False)
            Lkk = a @ a - v @ v
            if Lkk <= tiny:
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
        x = np.zeros(n)
        x[idx] = gamma
        _record(history, callback, t + 1, x, np.array(idx), np.sqrt(rn) / ynorm)
        if tol is not None and rn <= tol:
            history["converged"] = True
            break
    x = np.zeros(n)
    x[idx] = gamma
    return x, history


class OrthogonalMatchingPursuit:
    """scikit-learn-style wrapper of :func:`omp` (``fit_intercept=False``), for a drop-in swap.

    Parameters
    ----------
    n_nonzero_coefs : int
    tol : float, optional
        Squared residual norm at which to stop (scikit-learn's meaning).

    Attributes
    ----------
    coef_ : array (n_features,)
    n_iter_ : int

    Examples
    --------
    >>> X = np.eye(4)[:3]
    >>> OrthogonalMatchingPursuit(1).fit(X, np.array([0.0, 2.0, 0.0])).coef_.tolist()
    [0.0, 2.0, 0.0, 0.0]
    """

    def __init__(self, n_nonzero_coefs=None, tol=None):
        self.n_nonzero_coefs = n_nonzero_coefs
        self.tol = tol

    def fit(self, X, y):
        X = check_array(X, "X", ndim=2)
        k = self.n_nonzero_coefs
        if k is None:
            k = max(int(0.1 * X.shape[1]), 1) if self.tol is None else min(X.shape)
        self.coef_, hist = omp(X, y, k, tol=self.tol)
        self.n_iter_ = hist["n_iter"]
        return self

    def predict(self, X):
        return check_array(X, "X", ndim=2) @ self.coef_


def _cgls(M, y, x0, tol=1e-4, max_iter=20):
    """Conjugate gradients on the normal equations :math:`M^\top M b = M^\top y` from ``x0``."""
    x = x0.copy()
    r = y - M @ x
    s = M.T @ r
    p = s.copy()
    gamma = s @ s
    stop = tol * np.linalg.norm(M.T @ y)
    for _ in range(max_iter):
        if np.sqrt(gamma) <= stop:
            break
        q = M @ p
        alpha = gamma / max(q @ q, np.finfo(float).tiny)
        x += alpha * p
        r -= alpha * q
        s = M.T @ r
        gamma, gamma_old = s @ s, gamma
        p = s + (gamma / gamma_old) * p
    return x


def _lstsq(A, y, support, x, method="cg", tol=1e-4):
    cols = A.columns(support)
    if method == "exact":
        return np.linalg.lstsq(cols, y, rcond=None)[0], cols
    return _cgls(cols, y, x[support], tol=tol), cols


def cosamp(A, y, model, *, max_iter=50, tol=5e-3, random_state=None, callback=None, lstsq="cg"):
    r"""CoSaMP, model-based when ``model`` is a graph model (see the module docstring).

    Examples
    --------
    >>> from parsimony.sparse.operators import GaussianOperator
    >>> from parsimony.sparse.models import KSparse
    >>> A = GaussianOperator(60, 200, random_state=1)
    >>> x0 = np.zeros(200); x0[[5, 6, 100]] = [1.0, -1.0, 2.0]
    >>> x, hist = cosamp(A, A @ x0, KSparse(3), tol=1e-10)
    >>> bool(np.allclose(x, x0)), hist["converged"]
    (True, True)
    """
    rng = check_random_state(random_state)
    n = A.shape[1]
    s, g = model.s, model.g
    x = np.zeros(n)
    support = np.zeros(0, dtype=np.intp)
    r = y.copy()
    ynorm = np.linalg.norm(y) or 1.0
    history = _history()
    for t in range(1, max_iter + 1):
        proxy = A.rmatvec(r)
        omega = model.head(proxy, min(2 * s, n), 2 * g, random_state=rng)
        gamma = np.union1d(omega, support).astype(np.intp)
        coef, cols = _lstsq(A, y, gamma, x, lstsq, min(1e-4, tol))
        b = np.zeros(n)
        b[gamma] = coef
        support = np.asarray(model.tail(b, s, g, random_state=rng), dtype=np.intp)
        x = np.zeros(n)
        x[support] = b[support]
        keep = np.isin(gamma, support)
        r = y - cols[:, keep] @ coef[keep]
        _record(history, callback, t, x, support, np.linalg.norm(r) / ynorm)
        if _stop(history, tol):
            break
    return x, history


def iht(A, y, model, *, max_iter=50, tol=5e-3, random_state=None, callback=None, c=0.01, kappa=2.0):
    r"""Normalized IHT (k-sparse model) or AM-IHT with a normalized step (graph model).

    Examples
    --------
    >>> from parsimony.sparse.operators import GaussianOperator
    >>> from parsimony.sparse.models import KSparse
    >>> A = GaussianOperator(80, 200, random_state=2)
    >>> x0 = np.zeros(200); x0[[5, 6, 100]] = [1.0, -1.0, 2.0]
    >>> x, hist = iht(A, A @ x0, KSparse(3), max_iter=300, tol=1e-8)
    >>> bool(np.allclose(x, x0, atol=1e-6))
    True
    """
    rng = check_random_state(random_state)
    n = A.shape[1]
    s, g = model.s, model.g
    x = np.zeros(n)
    ynorm = np.linalg.norm(y) or 1.0
    r = y.copy()
    history = _history()
    plain = isinstance(model, KSparse)
    for t in range(1, max_iter + 1):
        grad = A.rmatvec(r)
        if plain:
            gam = np.flatnonzero(x) if t > 1 and np.any(x) else top_k(grad, s)
        else:
            gam = np.asarray(
                model.head(grad, min(2 * s, n), 2 * g, random_state=rng), dtype=np.intp
            )
        gs = np.zeros(n)
        gs[gam] = grad[gam]
        Ag = A.matvec(gs)
        mu = (gs @ gs) / max(Ag @ Ag, np.finfo(float).tiny)
        step = grad if plain else gs
        support = np.asarray(model.tail(x + mu * step, s, g, random_state=rng), dtype=np.intp)
        if plain and t > 1:
            # Blumensath & Davies (2010): shrink mu while the support change is too aggressive
            for _ in range(30):
                if np.array_equal(np.sort(support), np.sort(gam)):
                    break
                new = np.zeros(n)
                new[support] = (x + mu * step)[support]
                d = new - x
                Ad = A.matvec(d)
                omega = (1 - c) * (d @ d) / max(Ad @ Ad, np.finfo(float).tiny)
                if mu <= omega:
                    break
                mu /= kappa * (1 - c)
                support = top_k(x + mu * step, s)
        new = np.zeros(n)
        new[support] = (x + mu * step)[support]
        x = new
        r = y - A.matvec(x)
        _record(history, callback, t, x, support, np.linalg.norm(r) / ynorm)
        if _stop(history, tol):
            break
    return x, history


SOLVERS = {"omp": omp, "cosamp": cosamp, "iht": iht}


def recover(
    A,
    y,
    model,
    method: str = "cosamp",
    callback=None,
    *,
    max_iter: int = 50,
    tol: float = 5e-3,
    random_state=None,
):
    r"""Recover :math:`x` from :math:`y = A x` under a sparsity ``model``.

    Parameters
    ----------
    A : LinearOperator or array (m, n)
        The measurement operator (:mod:`parsimony.sparse.operators`).
    y : array (m,)
        Measurements, finite.
    model : KSparse or GraphSparse
        The sparsity model; a graph model brings its head/tail approximations.
    method : {"omp", "cosamp", "iht"}
        ``"omp"`` uses ``model.k`` atoms and ignores the graph.
    callback : callable, optional
        Called after each iteration with ``{"iteration", "x", "residual", "support"}``.
    max_iter : int
    tol : float
        Relative-residual tolerance of the common stopping rule (OMP: stops at
        :math:`\|r\|/\|y\| \le` ``tol`` too).
    random_state : None, int or Generator
        Drives randomized projections (``"lp"``).

    Returns
    -------
    x : array (n,)
    history : dict
        ``residual`` (relative, per iteration), ``support_size``, ``n_iter``, ``converged``.

    Examples
    --------
    >>> from parsimony.sparse import GaussianOperator, GraphSparse, grid_graph, planted_signal
    >>> model = GraphSparse(grid_graph(10), 100, s=8)
    >>> x0, _ = planted_signal(model.adj, 8, random_state=0)
    >>> A = GaussianOperator(40, 100, random_state=0)
    >>> x, hist = recover(A, A @ x0, model, method="cosamp", tol=1e-10)
    >>> bool(np.linalg.norm(x - x0) < 1e-6 * np.linalg.norm(x0))
    True
    """
    A, y = _check_system(A, y)
    m, n = A.shape
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {sorted(SOLVERS)}, got {method!r}")
    if not hasattr(model, "head") or not hasattr(model, "tail"):
        raise TypeError(f"model must be a KSparse or GraphSparse model, got {type(model).__name__}")
    model.check(n)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    if method == "omp":
        ynorm2 = float(y @ y)
        return omp(A, y, model.k, tol=tol**2 * ynorm2, callback=callback)
    return SOLVERS[method](
        A, y, model, max_iter=max_iter, tol=tol, random_state=random_state, callback=callback
    )
