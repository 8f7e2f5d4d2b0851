r"""The experiments of Gribonval & Schnass (IEEE TIT 2010, arXiv:0904.4774).

The phase transition of local identifiability (:func:`phase_transition`, the paper's
simulated probability that a basis is a local minimum against N), where it sits
(:func:`transition_points`), the planted-basis learning comparison
(:func:`compare_learners`) and the statistics the notebook's claims rest on
(:func:`identification_statistics`). The test itself is
:func:`parsimony.dictionary.identification.l1_local_minimum`.
"""

from __future__ import annotations

import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.decomposition import DictionaryLearning

from parsimony._validation import check_float, check_int
from parsimony.dictionary.identification import (
    bernoulli_gaussian,
    l1_local_minimum,
    random_basis,
)
from parsimony.dictionary.learning import L1DictionaryLearning, dictionary_recovery

#: learner name -> estimator class (see :func:`compare_learners` for their settings)
METHODS = {"l1": L1DictionaryLearning, "sklearn": DictionaryLearning}

#: the settings :func:`compare_learners` gives each learner besides n_components, random_state
METHOD_PARAMS = {"l1": {}, "sklearn": {"alpha": 0.1, "max_iter": 100}}


def is_non_decreasing(values, slack: float = 0.0) -> bool:
    """Whether every step of ``values`` is at least ``-slack``.

    Examples
    --------
    >>> is_non_decreasing([0.0, 0.5, 0.45, 1.0], slack=0.05), is_non_decreasing([1, 0])
    (True, False)
    """
    slack = check_float(slack, "slack", low=0.0)
    v = np.asarray(values, dtype=float)
    return bool(np.all(np.diff(v) >= -slack - 1e-12))


def _cell_successes(K: int, p: float, N: int, n_trials: int, random_state: int) -> int:
    wins = 0
    for trial in range(n_trials):
        rng = np.random.default_rng([random_state, K, int(round(p * 1e6)), N, trial])
        wins += l1_local_minimum(bernoulli_gaussian(N, K, p, random_state=rng))
    return wins


def phase_transition(
    n_atoms_list,
    p_list,
    ratios,
    n_trials: int,
    random_state: int = 0,
    extra_n_samples=(),
    n_jobs: int | None = None,
):
    r"""Empirical probability that a random orthonormal basis is a local minimum.

    For each K in ``n_atoms_list``, p in ``p_list`` and ratio r in ``ratios``, draws
    ``n_trials`` Bernoulli-Gaussian code matrices with :math:`N = \lceil r K \ln K \rceil`
    samples and runs :func:`l1_local_minimum`. ``extra_n_samples`` adds cells with an
    absolute N (``"K-1"`` gives the rank-deficient N = K - 1). Each (K, p, N, trial) cell
    draws from its own seed, so a cell's result does not depend on the rest of the grid
    nor on ``n_jobs`` (cells run in parallel with joblib when ``n_jobs`` > 1).

    Returns
    -------
    list of dict
        One record per (K, p, N): ``n_atoms, p, ratio, n_samples, n_success, n_trials,
        success``.
    """
    n_trials = check_int(n_trials, "n_trials", low=1)
    cells = []
    for K in n_atoms_list:
        K = check_int(K, "n_atoms", low=2)
        grid = [(float(r), int(np.ceil(float(r) * K * np.log(K)))) for r in ratios]
        for extra in extra_n_samples:
            n = K - 1 if extra == "K-1" else check_int(extra, "extra_n_samples", low=1)
            grid.append((float(n / (K * np.log(K))), n))
        for p in p_list:
            p = check_float(p, "p", low=0.0, high=1.0, low_inclusive=False)
            cells += [(K, p, ratio, N) for ratio, N in grid]
    wins = Parallel(n_jobs=n_jobs)(
        delayed(_cell_successes)(K, p, N, n_trials, random_state) for K, p, _, N in cells
    )
    records = [
        {"n_atoms": K, "p": p, "ratio": ratio, "n_samples": N, "n_success": w,
         "n_trials": n_trials, "success": w / n_trials}
        for (K, p, ratio, N), w in zip(cells, wins, strict=True)
    ]  # fmt: skip
    return records


def transition_points(records, level: float = 0.5):
    """Per (n_atoms, p): the smallest N where the success rate reaches ``level``.

    Interpolates linearly in log N between the two grid points around the crossing
    (cells with N <= K - 1 are ignored). Returns a list of dicts with ``n_atoms, p,
    n_samples, per_k`` (N / K) and ``per_k_log_k`` (N / (K ln K)); ``n_samples`` is NaN
    if the level is never reached.
    """
    level = check_float(level, "level", low=0.0, high=1.0)
    groups: dict = {}
    for r in records:
        if r["n_samples"] > r["n_atoms"] - 1:
            groups.setdefault((r["n_atoms"], r["p"]), []).append((r["n_samples"], r["success"]))
    out = []
    for (K, p), cells in sorted(groups.items()):
        cells.sort()
        n_star = np.nan
        for i, (n, s) in enumerate(cells):
            if s >= level:
                if i == 0:
                    n_star = float(n)
                else:
                    (n0, s0) = cells[i - 1]
                    frac = (level - s0) / (s - s0) if s > s0 else 1.0
                    n_star = float(np.exp(np.log(n0) + frac * (np.log(n) - np.log(n0))))
                break
        out.append(
            {"n_atoms": K, "p": p, "n_samples": n_star, "per_k": n_star / K,
             "per_k_log_k": n_star / (K * np.log(K))}
        )  # fmt: skip
    return out


def identification_statistics(records, check_p: float, slack: float) -> dict:
    r"""The numbers the identification claims rest on (records of :func:`phase_transition`).

    Cells with N <= K - 1 are left out (the rank check fails there by construction).

    Returns
    -------
    dict
        ``monotone``: success non-decreasing in N (up to ``slack``) on N >= 2 K ln K for every
        (K, p), and ``min_step`` its smallest step; ``top_min``: the smallest success at the
        largest ratio; ``at_2``: success at N = 2 K ln K and p = ``check_p`` per K (ascending
        K) and ``ordered_in_k`` whether it is non-decreasing in K; ``transition``: N/(K ln K)
        at the 50 % transition per (p, K) and ``transition_not_growing`` whether it is
        non-increasing in K for every p (False if a transition is missing).

    Examples
    --------
    >>> rec = [{"n_atoms": 4, "p": 0.2, "ratio": r, "n_samples": n, "success": s}
    ...        for r, n, s in [(2.0, 12, 0.5), (4.0, 23, 1.0)]]
    >>> identification_statistics(rec, 0.2, 0.0)["monotone"]
    True
    """
    slack = check_float(slack, "slack", low=0.0)
    main = [r for r in records if r["n_samples"] > r["n_atoms"] - 1]
    groups: dict = {}
    for r in main:
        groups.setdefault((r["n_atoms"], r["p"]), []).append(r)
    steps = []
    for cells in groups.values():
        cells = sorted((r for r in cells if r["ratio"] >= 2.0), key=lambda r: r["n_samples"])
        steps += np.diff([r["success"] for r in cells]).tolist()
    top = max(r["ratio"] for r in main)
    at2 = sorted((r["n_atoms"], r["success"]) for r in main
                 if r["ratio"] == 2.0 and r["p"] == check_p)  # fmt: skip
    points = transition_points(records, level=0.5)
    not_growing = all(np.isfinite(q["per_k_log_k"]) for q in points)
    for p in {q["p"] for q in points}:
        seq = [q["per_k_log_k"] for q in sorted(points, key=lambda q: q["n_atoms"]) if q["p"] == p]
        not_growing &= bool(np.all(np.diff(seq) <= 0))
    return {
        "monotone": bool(min(steps, default=0.0) >= -slack - 1e-12),
        "min_step": float(min(steps, default=0.0)),
        "top_min": float(min(r["success"] for r in main if r["ratio"] == top)),
        "at_2": {int(k): float(s) for k, s in at2},
        "ordered_in_k": is_non_decreasing([s for _, s in at2]),
        "transition": {f"p={q['p']:g}/K={q['n_atoms']}": q["per_k_log_k"] for q in points},
        "transition_not_growing": bool(not_growing),
    }


def compare_learners(
    n_atoms, ratios, p, n_trials, methods=("l1", "sklearn"), method_params=None, random_state=0
):
    r"""Recovery of a planted random orthonormal basis from :math:`N = r K \ln K` samples.

    For each ratio and trial, draws a basis and Bernoulli-Gaussian codes (one seed per
    (ratio, trial), shared by all methods), fits each learner of :data:`METHODS` with
    ``n_components=K`` and :data:`METHOD_PARAMS` (updated by ``method_params``), and
    records :func:`dictionary_recovery`, the iterations run and the fit time.

    Returns
    -------
    list of dict
        ``method, ratio, n_samples, trial, recovery, n_iter, seconds`` (``seconds`` is
        wall clock: keep it out of ``metrics.json`` and plots).
    """
    K = check_int(n_atoms, "n_atoms", low=2)
    n_trials = check_int(n_trials, "n_trials", low=1)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods must be among {sorted(METHODS)}, got {m!r}")
    params = {m: {**METHOD_PARAMS[m], **(method_params or {}).get(m, {})} for m in methods}
    out = []
    for ratio in ratios:
        N = int(np.ceil(float(ratio) * K * np.log(K)))
        for trial in range(n_trials):
            rng = np.random.default_rng([random_state, K, N, trial])
            D = random_basis(K, random_state=rng)
            X = bernoulli_gaussian(N, K, p, random_state=rng) @ D
            for m in methods:
                est = METHODS[m](n_components=K, random_state=trial, **params[m])
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
                        "n_iter": int(est.n_iter_),
                        "seconds": seconds,
                    }
                )
    return out
