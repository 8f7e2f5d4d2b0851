r"""Greedy and thresholding solvers for :math:`y = A x` with a sparse or structured :math:`x`.

* :func:`~parsimony.sparse.omp.omp`: orthogonal matching pursuit (its own module).
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
``{"iteration", "x", "residual", "support"}``. Every solver checks its input with the
same :func:`~parsimony.sparse.omp.check_system` (finite ``y`` of ``A``'s row count) and
the same model and limit checks. :data:`METHODS` maps a solver name to its function.
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_float, check_int, check_random_state
from parsimony.sparse.graphs import top_k
from parsimony.sparse.models import KSparse
from parsimony.sparse.omp import check_system, omp

__all__ = ["METHODS", "cosamp", "iht", "recover"]


def _check_problem(A, y, model, max_iter, tol, callback):
    """The checks every model-based solver shares: :func:`check_system`, the model, limits."""
    A, y = check_system(A, y)
    if not hasattr(model, "head") or not hasattr(model, "tail"):
        raise TypeError(f"model must be a KSparse or GraphSparse model, got {type(model).__name__}")
    model.check(A.shape[1])
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable")
    return A, y, max_iter, tol


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
    A, y, max_iter, tol = _check_problem(A, y, model, max_iter, tol, callback)
    if lstsq not in ("cg", "exact"):
        raise ValueError(f"lstsq must be 'cg' or 'exact', got {lstsq!r}")
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
    A, y, max_iter, tol = _check_problem(A, y, model, max_iter, tol, callback)
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


#: solvers by name (``recover``'s ``method``): name -> public function.
METHODS = {"omp": omp, "cosamp": cosamp, "iht": iht}


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
        A key of :data:`METHODS`. ``"omp"`` selects ``model.k`` atoms (at most
        ``min(m, n)``), ignores the graph, ``max_iter`` and ``random_state``.
    callback : callable, optional
        Called after each iteration with ``{"iteration", "x", "residual", "support"}``.
    max_iter : int
    tol : float
        Relative-residual tolerance of the common stopping rule (for ``"omp"``, only
        whether ``history["converged"]``).
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
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    A, y, max_iter, tol = _check_problem(A, y, model, max_iter, tol, callback)
    if method == "omp":
        history = _history()

        def record(state):
            it, res = state["iteration"], state["residual"]
            _record(history, callback, it, state["x"], state["support"], res)

        x, _ = omp(A, y, model.k, callback=record)
        history["converged"] = bool(history["residual"]) and history["residual"][-1] <= tol
        return x, history
    return METHODS[method](
        A, y, model, max_iter=max_iter, tol=tol, random_state=random_state, callback=callback
    )
