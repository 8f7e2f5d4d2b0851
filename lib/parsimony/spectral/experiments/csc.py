r"""The sweeps and claim statistics behind the CSC notebooks and ``benchmarks/bench_spectral.py``.

Tremblay, Puy, Gribonval & Vandergheynst, "Compressive Spectral Clustering", ICML 2016
(arXiv:1602.02018): recovery of SBM communities against :math:`\epsilon / \epsilon_c`
(Fig. 1), computation time against :math:`k` and :math:`N` (Fig. 2), and a point cloud
(sklearn digits through a k-NN graph) in place of the paper's real networks.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse.linalg import eigsh
from sklearn.metrics import adjusted_rand_score

from parsimony._validation import check_random_state
from parsimony.spectral.clustering import (
    METHODS,
    CompressiveSpectralClustering,
    SpectralClustering,
    csc_defaults,
)
from parsimony.spectral.graphs import epsilon_critical, normalized_adjacency, sbm

__all__ = [
    "SKLEARN_SOLVERS",
    "digits_sweep",
    "distance_correlation",
    "faster_within",
    "lambda_k_bounds",
    "non_increasing",
    "recovery_sweep",
    "run_method",
    "sklearn_spectral",
    "timing_sweep",
]

#: scikit-learn's eigen solvers, timed as peers.
SKLEARN_SOLVERS = ("arpack", "lobpcg", "amg")


def distance_correlation(embedding, features, n_pairs=300, random_state=None) -> float:
    r"""Pearson correlation of :math:`\|u_i - u_j\|` and :math:`\|\tilde f_i - \tilde f_j\|`
    over ``n_pairs`` random node pairs (SC embedding against CSC features).

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((100, 5))
    >>> round(distance_correlation(X, 2 * X, random_state=0), 6)
    1.0
    """
    rng = check_random_state(random_state)
    N = embedding.shape[0]
    i = rng.integers(0, N, n_pairs)
    j = (i + rng.integers(1, N, n_pairs)) % N  # j != i
    a = np.linalg.norm(embedding[i] - embedding[j], axis=1)
    b = np.linalg.norm(features[i] - features[j], axis=1)
    return float(np.corrcoef(a, b)[0, 1])


def recovery_sweep(
    n_nodes,
    n_clusters,
    avg_degree,
    eps_ratios,
    n_factors,
    n_seeds,
    *,
    poly_order=50,
    gamma=1e-3,
    n_pairs=300,
    n_init=20,
    random_state=0,
) -> dict:
    r"""ARI of SC and CSC (the paper's interpolation) on SBMs against :math:`\epsilon / \epsilon_c` and :math:`n / (k \ln k)`.

    Both methods run k-means with the same ``n_init`` restarts (CSCbox: 20).

    Returns arrays indexed ``[eps, seed]`` (``ari_sc``, ``seconds_sc``) and
    ``[eps, factor, seed]`` (``ari_csc``, ``corr``, ``seconds_csc``, ``lambda_k``), plus the
    reference :math:`\lambda_k` and :math:`\lambda_{k+1}` ``[eps, seed]`` (``eigsh``).
    """
    k = n_clusters
    ec = epsilon_critical(avg_degree, k)
    E, F, S = len(eps_ratios), len(n_factors), n_seeds
    out = {
        "epsilon_c": ec,
        "ari_sc": np.zeros((E, S)),
        "seconds_sc": np.zeros((E, S)),
        "lambda_k_true": np.zeros((E, S)),
        "lambda_k1_true": np.zeros((E, S)),
        "ari_csc": np.zeros((E, F, S)),
        "corr": np.zeros((E, F, S)),
        "seconds_csc": np.zeros((E, F, S)),
        "lambda_k": np.zeros((E, F, S)),
        "n_samples": [csc_defaults(k, round(f * k * np.log(k)))[0] for f in n_factors],
        "n_signals": [csc_defaults(k, round(f * k * np.log(k)))[1] for f in n_factors],
    }
    seeds = np.random.SeedSequence(random_state).generate_state(E * S).reshape(E, S)
    for e, ratio in enumerate(eps_ratios):
        for s in range(S):
            seed = int(seeds[e, s])
            W, y = sbm(n_nodes, k, avg_degree, ratio * ec, random_state=seed)
            sc = SpectralClustering(k, n_init=n_init, random_state=seed).fit(W)
            out["ari_sc"][e, s] = adjusted_rand_score(y, sc.labels_)
            out["seconds_sc"][e, s] = sc.timings_["total"]
            mu = eigsh(normalized_adjacency(W), k + 1, which="LA", return_eigenvectors=False)
            out["lambda_k_true"][e, s], out["lambda_k1_true"][e, s] = np.sort(1.0 - mu)[k - 1 :]
            for f, n in enumerate(out["n_samples"]):
                csc = CompressiveSpectralClustering(
                    k,
                    n_samples=n,
                    poly_order=poly_order,
                    gamma=gamma,
                    n_init=n_init,
                    random_state=seed,
                    assign_labels="interpolate",  # the paper's steps 5-6: the figure's n matters
                ).fit(W)
                out["ari_csc"][e, f, s] = adjusted_rand_score(y, csc.labels_)
                out["corr"][e, f, s] = distance_correlation(
                    sc.embedding_, csc.features_, n_pairs, random_state=seed
                )
                out["seconds_csc"][e, f, s] = csc.timings_["total"]
                out["lambda_k"][e, f, s] = csc.lambda_k_
    return out


def lambda_k_bounds(estimates, lambda_k, lambda_k1) -> dict:
    r"""How the eigencount estimates sit against :math:`[\lambda_k, \lambda_{k+1}]`.

    ``estimates`` has any shape that broadcasts with ``lambda_k`` and ``lambda_k1`` (the
    reference eigenvalues of the same graphs). Returns ``below`` (the largest
    :math:`\lambda_k - \hat\lambda_k`: positive when some estimate falls below
    :math:`\lambda_k`), ``above`` (the largest :math:`\hat\lambda_k - \lambda_{k+1}`),
    and ``n_below``, the number of estimates strictly below :math:`\lambda_k`.

    Examples
    --------
    >>> lambda_k_bounds(np.array([0.3, 0.5]), np.array([0.2, 0.6]), np.array([0.4, 0.7]))
    {'below': 0.1, 'above': -0.1, 'n_below': 1}
    """
    est = np.asarray(estimates, dtype=np.float64)
    low = np.broadcast_to(np.asarray(lambda_k, dtype=np.float64), est.shape)
    high = np.broadcast_to(np.asarray(lambda_k1, dtype=np.float64), est.shape)
    return {
        "below": round(float(np.max(low - est)), 12),
        "above": round(float(np.max(est - high)), 12),
        "n_below": int(np.sum(est < low)),
    }


def non_increasing(values, slack=0.0) -> bool:
    """Whether ``values`` (1-D) never rise by more than ``slack`` from one entry to the next.

    Examples
    --------
    >>> non_increasing([1.0, 1.0, 0.8]), non_increasing([1.0, 0.99, 0.995])
    (True, False)
    >>> non_increasing([1.0, 0.99, 0.995], slack=0.01)
    True
    """
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.diff(v) <= slack))


def faster_within(seconds, ari, graphs, *, ours="csc", reference="sc", tol=0.02) -> dict:
    """Per graph: is ``ours`` faster than ``reference`` with an ARI at most ``tol`` below it?

    ``seconds`` and ``ari`` map ``(n_nodes, n_clusters, method)`` to a number (e.g. built from
    :func:`timing_sweep`'s records); ``graphs`` lists the ``(n_nodes, n_clusters)`` judged.
    Returns ``{graph: {"faster": bool, "ari_gap": reference - ours, "ratio": time ratio}}``
    and ``"holds"``: every judged graph faster and within ``tol``.

    Examples
    --------
    >>> sec = {(10, 2, "csc"): 1.0, (10, 2, "sc"): 2.0}
    >>> ari = {(10, 2, "csc"): 0.97, (10, 2, "sc"): 0.98}
    >>> out = faster_within(sec, ari, [(10, 2)])
    >>> out["holds"], out[(10, 2)]["faster"], round(out[(10, 2)]["ari_gap"], 3)
    (True, True, 0.01)
    """
    out: dict = {}
    for g in graphs:
        t_ours, t_ref = seconds[(*g, ours)], seconds[(*g, reference)]
        gap = float(ari[(*g, reference)] - ari[(*g, ours)])
        out[tuple(g)] = {"faster": bool(t_ours < t_ref), "ari_gap": gap, "ratio": t_ours / t_ref}
    out["holds"] = bool(
        all(out[tuple(g)]["faster"] and out[tuple(g)]["ari_gap"] <= tol for g in graphs)
    )
    return out


def sklearn_spectral(W, n_clusters, eigen_solver="arpack", random_state=0, n_init=10):
    """scikit-learn's ``SpectralClustering(affinity="precomputed")`` with ``eigen_solver``."""
    from sklearn.cluster import SpectralClustering as SkSC

    return SkSC(
        n_clusters,
        affinity="precomputed",
        eigen_solver=eigen_solver,
        assign_labels="kmeans",
        n_init=n_init,
        random_state=random_state,
    ).fit_predict(W)


def digits_sweep(W, y, n_clusters, n_samples, seeds, *, n_init=20, solvers=SKLEARN_SOLVERS):
    """ARI against ``y`` of SC, CSC (the paper's interpolation; one row per entry of ``n_samples``) and scikit-learn's
    ``solvers``, every method over the same ``seeds`` and with the same k-means ``n_init``.

    Returns ``{"sc": (S,), "csc": (len(n_samples), S), "sklearn": {solver: (S,)},
    "seconds_sklearn": {solver: (S,)}}``.
    """
    k = n_clusters
    ari_sc = [
        adjusted_rand_score(y, SpectralClustering(k, n_init=n_init, random_state=s).fit_predict(W))
        for s in seeds
    ]
    ari_csc = [
        [
            adjusted_rand_score(
                y,
                CompressiveSpectralClustering(
                    k, n_samples=n, n_init=n_init, random_state=s, assign_labels="interpolate"
                ).fit_predict(W),
            )
            for s in seeds
        ]
        for n in n_samples
    ]
    peers, seconds = {}, {}
    for m in solvers:
        runs = [run_method(m, W, k, random_state=s, n_init=n_init) for s in seeds]
        peers[m] = np.array([adjusted_rand_score(y, lab) for lab, _, _ in runs])
        seconds[m] = np.array([sec for _, sec, _ in runs])
    return {
        "sc": np.array(ari_sc),
        "csc": np.array(ari_csc),
        "sklearn": peers,
        "seconds_sklearn": seconds,
    }


def _fit(name, W, n_clusters, random_state, options):
    if name == "csc" and options.get("backend", "torch") == "torch":
        import torch  # noqa: F401  (a first import takes seconds: not part of the fit)
    t0 = time.perf_counter()
    if name in SKLEARN_SOLVERS:
        labels = sklearn_spectral(W, n_clusters, name, random_state, **options)
        return labels, time.perf_counter() - t0, {}
    est = METHODS[name](n_clusters, random_state=random_state, **options).fit(W)
    return est.labels_, time.perf_counter() - t0, dict(est.timings_)


def _child(conn, args):
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # lobpcg's tolerance notes, in the worker only
    conn.send(_fit(*args))
    conn.close()


def run_method(name, W, n_clusters, random_state=0, timeout=None, **options):
    """Fit one method by name (``sc``, ``csc``, or an sklearn solver); return
    ``(labels, seconds, steps)`` with ``steps`` the per-step timings of ours.

    ``options`` go to the estimator (for scikit-learn's solvers: ``n_init`` only).

    With ``timeout`` (seconds) the fit runs in a fresh (spawned, not forked: a fork after
    OpenMP or BLAS threads started can hang) process that is killed when it runs longer;
    ``labels`` is then ``None`` and ``seconds`` is ``inf``.
    """
    if timeout is None:
        return _fit(name, W, n_clusters, random_state, options)
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, (name, W, n_clusters, random_state, options)))
    proc.start()
    send.close()
    try:
        if recv.poll(timeout):
            return recv.recv()
        return None, float("inf"), {}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()


def timing_sweep(
    configs, methods, *, avg_degree=16, eps_ratio=0.25, n_init=20, random_state=0, max_nodes=None
):
    """Time ``methods`` on an SBM per ``(n_nodes, n_clusters)`` in ``configs``.

    Every method runs k-means with the same ``n_init`` restarts.

    ``max_nodes`` maps a method to the largest ``N`` it is run on (scikit-learn's
    ``arpack`` uses shift-invert, whose sparse LU fills in on random graphs); skipped
    runs get NaN. Returns a list of records ``{n_nodes, n_clusters, method, seconds, ari,
    steps}``.
    """
    records = []
    max_nodes = max_nodes or {}
    for N, k in configs:
        W, y = sbm(N, k, avg_degree, eps_ratio * epsilon_critical(avg_degree, k), random_state)
        for m in methods:
            if N > max_nodes.get(m, N):
                records.append(
                    {
                        "n_nodes": N,
                        "n_clusters": k,
                        "method": m,
                        "seconds": np.nan,
                        "ari": np.nan,
                        "steps": {},
                    }
                )
                continue
            labels, sec, steps = run_method(m, W, k, random_state=random_state, n_init=n_init)
            records.append(
                {
                    "n_nodes": N,
                    "n_clusters": k,
                    "method": m,
                    "seconds": sec,
                    "ari": adjusted_rand_score(y, labels),
                    "steps": steps,
                }
            )
    return records
