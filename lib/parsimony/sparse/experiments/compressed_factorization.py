r"""Experiments of Sharan, Tai, Bailis & Valiant, "Compressed Factorization", ICML 2019.

arXiv:1706.08146. The synthetic study: planted :math:`M = WH` with :math:`k`-sparse
non-negative factors (:func:`parsimony.data.factorization.planted_factorization`), sparse
expander measurements :math:`P` (:math:`s` ones per column), NMF in the compressed domain
then basis pursuit (F-R) against basis pursuit of every sample then NMF (R-F).

Metrics follow the public ``metrics.py``: factors are matched to the planted ones by a
maximum-weight bipartite matching on the absolute Pearson correlation (here
``scipy.optimize.linear_sum_assignment`` instead of the public cvxpy LP), and the mean
absolute correlation of matched pairs is reported, with the relative Frobenius error of the
reconstruction against the clean data.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import NMF

from parsimony.data.factorization import planted_factorization
from parsimony.sparse.factorization import CompressedFactorization
from parsimony.sparse.operators import SparseExpanderOperator

__all__ = [
    "factor_correlation",
    "median_of",
    "monotone_drops",
    "relative_error",
    "run_routes",
    "sweep",
]


def _corr(A, B):
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    na = np.linalg.norm(A, axis=1)[:, None]
    nb = np.linalg.norm(B, axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        C = (A @ B.T) / (na * nb)
    return np.nan_to_num(np.abs(C))


def factor_correlation(true, est):
    """Mean |Pearson correlation| of the best one-to-one matching of factor rows.

    Parameters
    ----------
    true, est : array (r, n)
        Factors as rows (a constant row has correlation 0 with everything).

    Returns
    -------
    corr : float
        Mean absolute correlation over the ``r`` matched pairs.
    match : array (r,)
        ``est[match[i]]`` is matched to ``true[i]``.

    Examples
    --------
    >>> W = np.array([[1.0, 0, 2, 0], [0, 3, 0, 1]])
    >>> factor_correlation(W, 5 * W[::-1])
    (1.0, array([1, 0]))
    """
    C = _corr(np.asarray(true, float), np.asarray(est, float))
    rows, cols = linear_sum_assignment(C, maximize=True)
    match = np.empty(C.shape[0], dtype=int)
    match[rows] = cols
    return float(C[rows, cols].sum() / C.shape[0]), match


def relative_error(reference, approx):
    r""":math:`\|R - A\|_F / \|R\|_F`."""
    reference = np.asarray(reference, float)
    return float(np.linalg.norm(reference - approx) / np.linalg.norm(reference))


def _nmf(n_components, solver, max_iter, random_state):
    return NMF(
        n_components, solver=solver, init="nndsvda", max_iter=max_iter, tol=0.0,
        random_state=random_state,
    )  # fmt: skip


def run_routes(
    data,
    n_measurements,
    *,
    routes=("fr", "rf"),
    n_ones=5,
    solver="cd",
    max_iter=1000,
    random_state=0,
):
    """Run F-R and/or R-F on one planted problem with one expander; the same NMF for both.

    The compressed data are clipped at 0 (a no-op without noise): scikit-learn's NMF
    rejects negative input, and both routes see the same clipped data.

    Parameters
    ----------
    data : tuple
        The output of ``planted_factorization``: ``(X, clean, components, codes)``.
    n_measurements : int
        :math:`d`.
    routes : tuple of {"fr", "rf"}
    n_ones : int
        Ones per column of the expander.
    solver : {"cd", "mu"}
        scikit-learn NMF solver (coordinate descent or multiplicative updates), both routes.
    max_iter : int
        NMF iterations (``tol=0``: all of them run), both routes.
    random_state : int
        Seeds the expander and NMF.

    Returns
    -------
    list of dict
        Per route: ``route``, ``d``, ``corr_W``, ``corr_H``, ``rel_error``, ``n_lps``,
        ``seconds`` (wall clock: for ``save_timings`` only).
    """
    X, clean, components, codes = data
    P = SparseExpanderOperator(n_measurements, X.shape[1], n_ones, random_state=random_state)
    Xc = np.maximum(X @ P.matrix.T, 0.0)  # noisy data: sklearn's NMF rejects negatives
    rows = []
    for route in routes:
        est = CompressedFactorization(
            _nmf(components.shape[0], solver, max_iter, random_state), route=route
        )
        t0 = time.perf_counter()
        est.fit(Xc, P=P)
        seconds = time.perf_counter() - t0
        corr_w, match = factor_correlation(components, est.components_)
        corr_h = float(
            np.mean(_corr(codes.T, est.embedding_.T[match])[np.diag_indices(len(match))])
        )
        rows.append(
            {
                "route": route,
                "d": int(n_measurements),
                "corr_W": corr_w,
                "corr_H": corr_h,
                "rel_error": relative_error(clean, est.embedding_ @ est.components_),
                "n_lps": int(est.n_lps_),
                "seconds": seconds,
            }
        )
    return rows


def sweep(
    measurements,
    *,
    n_trials,
    n_samples,
    n_features,
    n_components,
    n_nonzero,
    noise=0.0,
    n_ones=5,
    solver="cd",
    max_iter=1000,
    random_state=0,
):
    """F-R and R-F over a grid of :math:`d`, one planted problem and expander per trial.

    Trial ``t`` draws its data with seed ``(random_state, t)`` and shares it across every
    ``d`` (so the curves are paired); the expander and NMF use ``random_state + t``.

    Returns
    -------
    list of dict
        The rows of :func:`run_routes` with a ``trial`` key.
    """
    rows = []
    for t in range(n_trials):
        rng = np.random.default_rng([random_state, t])
        data = planted_factorization(
            n_samples, n_features, n_components, n_nonzero, noise=noise, random_state=rng
        )
        for d in measurements:
            for row in run_routes(
                data,
                d,
                n_ones=n_ones,
                solver=solver,
                max_iter=max_iter,
                random_state=random_state + t,
            ):
                rows.append({**row, "trial": t})
    return rows


def median_of(rows, route, d, key):
    """Median of ``key`` over the trials of ``route`` at ``d``."""
    vals = [r[key] for r in rows if r["route"] == route and r["d"] == d]
    if not vals:
        raise ValueError(f"no rows for route={route!r}, d={d}")
    return float(np.median(vals))


def monotone_drops(rows, route, key="corr_W", tol=0.0):
    """Count, over trials, the steps of increasing ``d`` where ``key`` drops by more than ``tol``.

    Examples
    --------
    >>> rows = [{"route": "fr", "trial": 0, "d": d, "corr_W": c}
    ...         for d, c in [(10, 0.5), (20, 0.9), (30, 0.8)]]
    >>> monotone_drops(rows, "fr"), monotone_drops(rows, "fr", tol=0.2)
    (1, 0)
    """
    drops = 0
    for t in sorted({r["trial"] for r in rows}):
        sel = sorted((r["d"], r[key]) for r in rows if r["route"] == route and r["trial"] == t)
        vals = np.array([v for _, v in sel])
        drops += int(np.sum(np.diff(vals) < -tol))
    return drops
