r"""The experiments of Yaghoobi, Nam, Gribonval & Davies (IEEE TSP 2013, arXiv:1205.4133).

Sweeps (recovery of planted UNTF operators, the constraint ablation), probes (diagnostics
of degenerate operators, sparsity and localisation of learned rows), the denoising
protocol of the image experiment (every denoiser's parameters chosen on validation
patches, the synthesis peer tuned by the same rule) and the statistics the notebooks'
claims rest on. The algorithms live in :mod:`parsimony.dictionary.analysis` and
:mod:`parsimony.dictionary.untf`.
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_array, check_choice, check_float, check_int
from parsimony.dictionary.analysis import (
    AnalysisOperatorLearning,
    analysis_objective,
    cosparse_signals,
    operator_recovery,
    projected_subgradient,
    step_sizes,
)
from parsimony.dictionary.experiments.identification import is_non_decreasing
from parsimony.dictionary.untf import (
    CONSTRAINTS,
    constraint_residuals,
    random_untf,
    untf_projection,
)

_TINY = 1e-300


def _objectives(X, omega):
    """(1/L) ||X Omega^T||_1 for stacks X (B, L, n), omega (B, m, n)."""
    return np.abs(X @ np.swapaxes(omega, -1, -2)).sum(axis=(-1, -2)) / X.shape[-2]


def operator_diagnostics(omega, zero_tol: float = 0.1, duplicate_tol: float = 0.99) -> dict:
    r"""Symptoms of the degenerate operators that weak constraints admit.

    Parameters
    ----------
    omega : array (n_components, n_features)
    zero_tol : float
        A row counts as (near) zero when its norm is below ``zero_tol`` times the UNTF
        norm :math:`\sqrt{n/m}`.
    duplicate_tol : float
        Two nonzero rows are duplicates when :math:`|\cos| >` ``duplicate_tol``.

    Returns
    -------
    dict
        ``row_norm_min``, ``row_norm_max``, ``n_zero_rows``, ``coherence`` (largest
        :math:`|\cos|` between two distinct nonzero rows), ``n_duplicate_pairs``,
        ``frame_bounds`` (smallest and largest eigenvalue of :math:`\Omega^\top\Omega`),
        ``tight_frame_residual`` and ``unit_norm_residual`` (:func:`constraint_residuals`).

    Examples
    --------
    >>> d = operator_diagnostics(np.vstack([np.eye(2), np.eye(2), np.zeros((1, 2))]))
    >>> d["n_zero_rows"], d["n_duplicate_pairs"], np.round(d["frame_bounds"], 9).tolist()
    (1, 2, [2.0, 2.0])
    """
    omega = check_array(omega, "omega")
    zero_tol = check_float(zero_tol, "zero_tol", low=0.0)
    duplicate_tol = check_float(duplicate_tol, "duplicate_tol", low=0.0, high=1.0)
    m, n = omega.shape
    norms = np.linalg.norm(omega, axis=1)
    nonzero = norms >= zero_tol * np.sqrt(n / m)
    U = omega[nonzero] / norms[nonzero, None]
    G = np.abs(U @ U.T)
    iu = np.triu_indices(len(U), k=1)
    s = np.linalg.svd(omega, compute_uv=False)
    tf, un = constraint_residuals(omega)
    return {
        "row_norm_min": float(norms.min()),
        "row_norm_max": float(norms.max()),
        "n_zero_rows": int(np.sum(~nonzero)),
        "coherence": float(G[iu].max()) if len(iu[0]) else 0.0,
        "n_duplicate_pairs": int(np.sum(G[iu] > duplicate_tol)),
        "frame_bounds": [float(s.min() ** 2), float(s.max() ** 2)],
        "tight_frame_residual": tf,
        "unit_norm_residual": un,
    }


def _recovery_stack(true, est, threshold):
    A = true / np.linalg.norm(true, axis=-1, keepdims=True)
    B = est / np.maximum(np.linalg.norm(est, axis=-1, keepdims=True), _TINY)
    cos = np.abs(A @ np.swapaxes(B, -1, -2))
    return np.mean(cos.max(axis=-1) > threshold, axis=-1)


def planted_recovery(
    n_components: int,
    n_features: int,
    cosparsities,
    n_samples_list,
    n_trials: int,
    max_iter: int = 2000,
    step: float = 0.1,
    step_rule: str = "polish",
    record_every: int = 50,
    threshold: float = 0.99,
    random_state: int = 0,
):
    r"""Recovery of planted random UNTF operators from clean cosparse signals.

    For every cosparsity :math:`\ell`, training-set size :math:`L` and trial, draws a planted
    operator (:func:`random_untf`), :math:`L` signals (:func:`cosparse_signals`) and a
    random UNTF initialisation, runs the projected subgradient method of
    :class:`AnalysisOperatorLearning` and measures :func:`operator_recovery`. All
    :math:`(\ell, \text{trial})` problems of one :math:`L` run as one batched iteration
    (stacked matrix products and SVDs). Each (:math:`\ell`, :math:`L`, trial) draws from its
    own seed, so a cell does not depend on the rest of the grid.

    Returns
    -------
    records : list of dict
        One per :math:`(\ell, L)`: ``cosparsity, n_samples, n_trials, recovered`` (mean
        fraction), ``recovered_trials``, ``objective_ratio`` (mean over trials of
        :math:`f(\hat\Omega) / f(\Omega_0)` on the training set), ``objective_ratio_max``,
        ``untf_residual`` (largest constraint residual of the outputs).
    curves : list of dict
        One per :math:`(\ell, L)` and recorded iteration: ``cosparsity, n_samples,
        iteration, recovered, objective_ratio`` (means over trials; the last point is the
        final, projected operator).

    Examples
    --------
    >>> rec, _ = planted_recovery(12, 8, [6], [200], n_trials=2, max_iter=500)
    >>> rec[0]["recovered"]
    1.0
    """
    m = check_int(n_components, "n_components", low=1)
    n = check_int(n_features, "n_features", low=1)
    if m < n:
        raise ValueError(f"n_components must be >= n_features={n}, got {m}")
    ells = [check_int(ell, "cosparsity", low=1, high=n - 1) for ell in cosparsities]
    Ls = [check_int(L, "n_samples", low=1) for L in n_samples_list]
    n_trials = check_int(n_trials, "n_trials", low=1)
    record_every = check_int(record_every, "record_every", low=1)
    threshold = check_float(threshold, "threshold", low=0.0, high=1.0)
    steps = step_sizes(step, max_iter, step_rule)
    seed = check_int(random_state, "random_state", low=0)
    records, curves = [], []
    for L in Ls:
        keys = [(ell, t) for ell in ells for t in range(n_trials)]
        rngs = [[np.random.default_rng([seed, ell, L, t, k]) for k in range(3)] for ell, t in keys]
        O0 = np.stack([random_untf(m, n, r[0]) for r in rngs])
        X = np.stack(
            [
                cosparse_signals(o, L, k[0], random_state=r[1])
                for o, k, r in zip(O0, keys, rngs, strict=True)
            ]
        )
        init = np.stack([random_untf(m, n, r[2]) for r in rngs])
        f0 = _objectives(X, O0)
        trace = []

        trace.append((0, _recovery_stack(O0, init, threshold), _objectives(X, init) / f0))
        n_steps = len(steps)

        def monitor(state, trace=trace, O0=O0, f0=f0, T=n_steps):
            t = state["iteration"]
            if t % record_every == 0 and t < T:
                trace.append((t, _recovery_stack(O0, state["operator"], threshold),
                              state["objective"] / f0))  # fmt: skip

        omega, _ = projected_subgradient(X, init, steps, "untf", monitor)
        omega = np.stack([untf_projection(o) for o in omega])
        f = _objectives(X, omega)
        trace.append((len(steps), _recovery_stack(O0, omega, threshold), f / f0))
        rec = _recovery_stack(O0, omega, threshold)
        for ell in ells:
            sel = np.array([k[0] == ell for k in keys])
            records.append(
                {
                    "cosparsity": ell,
                    "n_samples": L,
                    "n_trials": n_trials,
                    "recovered": float(rec[sel].mean()),
                    "recovered_trials": rec[sel].tolist(),
                    "objective_ratio": float((f / f0)[sel].mean()),
                    "objective_ratio_max": float((f / f0)[sel].max()),
                }
            )
            curves += [
                {
                    "cosparsity": ell,
                    "n_samples": L,
                    "iteration": t,
                    "recovered": float(r[sel].mean()),
                    "objective_ratio": float(q[sel].mean()),
                }
                for t, r, q in trace
            ]
    return records, curves


def patch_denoising_psnr(denoise, grid, noisy, clean, data_range: float = 1.0) -> np.ndarray:
    r"""PSNR of a patch denoiser for every value of its parameter.

    Each noisy patch is centred, denoised by ``denoise(centred, value)`` and its mean is
    added back (the mean is estimated from the noisy patch, as for every method compared).
    The PSNR is computed over all patches at once.

    Parameters
    ----------
    denoise : callable ``(X, value) -> X_hat``
    grid : sequence
        Parameter values to try.
    noisy, clean : arrays (n_patches, n_pixels)
    data_range : float
        Peak value of the clean signal.

    Returns
    -------
    psnr : ndarray (len(grid),) in dB

    Examples
    --------
    >>> clean = np.zeros((4, 4)); noisy = clean + 0.1
    >>> patch_denoising_psnr(lambda X, s: s * X, [1.0], noisy, clean).round(1).tolist()
    [20.0]
    """
    noisy = check_array(noisy, "noisy")
    clean = check_array(clean, "clean")
    if noisy.shape != clean.shape:
        raise ValueError(
            f"noisy and clean must have the same shape, got {noisy.shape} and {clean.shape}"
        )
    data_range = check_float(data_range, "data_range", low=0.0, low_inclusive=False)
    mu = noisy.mean(axis=1, keepdims=True)
    out = []
    for value in grid:
        mse = np.mean((denoise(noisy - mu, value) + mu - clean) ** 2)
        out.append(10 * np.log10(data_range**2 / max(mse, _TINY)))
    return np.array(out)


def constraint_ablation(
    n_components: int,
    n_features: int,
    cosparsity: int,
    n_samples: int,
    n_trials: int,
    constraints=tuple(CONSTRAINTS),
    max_iter: int = 2000,
    step: float = 0.1,
    step_rule: str = "polish",
    random_state: int = 0,
):
    r"""Learn from the same planted problems under each constraint and diagnose the output.

    For each trial, draws a planted UNTF, clean cosparse signals and one random UNTF
    initialisation shared by every constraint, then runs :class:`AnalysisOperatorLearning`.

    Returns
    -------
    records : list of dict
        One per (trial, constraint): ``trial, constraint, recovered`` (:func:`operator_recovery`),
        ``objective_ratio`` (:math:`f(\hat\Omega)/f(\Omega_0)` on the training set) and the
        entries of :func:`operator_diagnostics`.
    operators : dict
        ``{"planted": Omega_0, constraint: learned operator}`` for the first trial.

    Examples
    --------
    >>> rec, ops = constraint_ablation(12, 8, 6, 200, n_trials=1, max_iter=300)
    >>> [r["constraint"] for r in rec], sorted(ops)
    (['untf', 'tight_frame', 'unit_norm'], ['planted', 'tight_frame', 'unit_norm', 'untf'])
    """
    m = check_int(n_components, "n_components", low=1)
    n = check_int(n_features, "n_features", low=1)
    n_trials = check_int(n_trials, "n_trials", low=1)
    seed = check_int(random_state, "random_state", low=0)
    for c in constraints:
        check_choice(c, "constraints", CONSTRAINTS)
    records, operators = [], {}
    for trial in range(n_trials):
        rngs = [np.random.default_rng([seed, trial, k]) for k in range(3)]
        omega0 = random_untf(m, n, rngs[0])
        X = cosparse_signals(omega0, n_samples, cosparsity, random_state=rngs[1])
        init = random_untf(m, n, rngs[2])
        f0 = analysis_objective(X, omega0)
        if trial == 0:
            operators["planted"] = omega0
        for c in constraints:
            est = AnalysisOperatorLearning(
                m, constraint=c, max_iter=max_iter, step=step, step_rule=step_rule, init=init
            ).fit(X)
            records.append(
                {
                    "trial": trial,
                    "constraint": c,
                    "recovered": operator_recovery(omega0, est.operator_),
                    "objective_ratio": est.objective_[-1] / f0,
                    **operator_diagnostics(est.operator_),
                }
            )
            if trial == 0:
                operators[c] = est.operator_
    return records, operators


# ----------------------------------------------------------------------------- claim statistics
def recovery_trends(records, slack: float) -> dict:
    r"""Trends of the recovered fraction over the (cosparsity, L) grid of :func:`planted_recovery`.

    Returns
    -------
    dict
        ``grows_with_n_samples``: non-decreasing in L for every :math:`\ell`, up to ``slack``;
        ``grows_with_cosparsity``: non-decreasing in :math:`\ell` at every L, up to ``slack``;
        ``increases_with_cosparsity``: at every L, each larger :math:`\ell` recovers strictly
        more, except between two cells both at 0 or both at 1 (nothing left to show);
        ``table``: ``{cosparsity: [recovered per L]}`` and ``n_samples``: the L grid.

    Examples
    --------
    >>> rec = [{"cosparsity": c, "n_samples": L, "recovered": r}
    ...        for c, L, r in [(4, 10, 0.0), (4, 20, 0.5), (6, 10, 0.2), (6, 20, 1.0)]]
    >>> t = recovery_trends(rec, slack=0.0)
    >>> t["grows_with_n_samples"], t["increases_with_cosparsity"]
    (True, True)
    """
    slack = check_float(slack, "slack", low=0.0)
    ells = sorted({r["cosparsity"] for r in records})
    Ls = sorted({r["n_samples"] for r in records})
    val = {(r["cosparsity"], r["n_samples"]): r["recovered"] for r in records}
    T = np.array([[val.get((e, L), np.nan) for L in Ls] for e in ells])
    by_L = all(is_non_decreasing(row[~np.isnan(row)], slack) for row in T)
    by_ell = all(is_non_decreasing(col[~np.isnan(col)], slack) for col in T.T)
    strict = True
    for col in T.T:
        col = col[~np.isnan(col)]
        for a, b in zip(col[:-1], col[1:], strict=True):
            saturated = (a == b == 0.0) or (a == b == 1.0)
            strict &= bool(b > a or saturated)
    return {
        "grows_with_n_samples": bool(by_L),
        "grows_with_cosparsity": bool(by_ell),
        "increases_with_cosparsity": bool(strict),
        "table": {int(e): T[i].tolist() for i, e in enumerate(ells)},
        "n_samples": [int(L) for L in Ls],
    }


def ablation_statistics(records) -> dict:
    """Per constraint, the numbers the ablation's claims rest on (records of
    :func:`constraint_ablation`).

    Returns
    -------
    dict
        constraint -> ``recovered_mean``, ``recovered_min``, ``n_trials``,
        ``n_fully_recovered``, ``full_objective_ratio_max`` (worst objective ratio among
        fully recovered trials, NaN if none), ``objective_ratio_max``, ``zero_rows`` and
        ``duplicate_pairs`` (per trial), ``frame_lower_max`` (largest lower frame bound).

    Examples
    --------
    >>> s = ablation_statistics([{"constraint": "untf", "recovered": 1.0,
    ...     "objective_ratio": 1.0, "n_zero_rows": 0, "n_duplicate_pairs": 0,
    ...     "frame_bounds": [1.0, 1.0]}])
    >>> s["untf"]["n_fully_recovered"], s["untf"]["frame_lower_max"]
    (1, 1.0)
    """
    out = {}
    for c in dict.fromkeys(r["constraint"] for r in records):
        rs = [r for r in records if r["constraint"] == c]
        rec = np.array([r["recovered"] for r in rs])
        ratio = np.array([r["objective_ratio"] for r in rs])
        full = ratio[rec == 1.0]
        out[c] = {
            "recovered_mean": float(rec.mean()),
            "recovered_min": float(rec.min()),
            "n_trials": len(rs),
            "n_fully_recovered": int(full.size),
            "full_objective_ratio_max": float(full.max()) if full.size else float("nan"),
            "objective_ratio_max": float(ratio.max()),
            "zero_rows": [int(r["n_zero_rows"]) for r in rs],
            "duplicate_pairs": [int(r["n_duplicate_pairs"]) for r in rs],
            "frame_lower_max": float(max(r["frame_bounds"][0] for r in rs)),
        }
    return out


# ----------------------------------------------------------------------------- image probes
def analysis_sparsity(X, omega, zero_tol: float) -> dict:
    r"""How sparse the analysis coefficients of (clean) signals are under ``omega``.

    Returns
    -------
    dict
        ``objective``: :math:`\frac1L\|X\Omega^\top\|_1` divided by the mean signal norm;
        ``zero_fraction``: the fraction of coefficients with :math:`|\omega_i^\top x| <`
        ``zero_tol``.

    Examples
    --------
    >>> analysis_sparsity(np.eye(2), np.eye(2), zero_tol=0.5)
    {'objective': 1.0, 'zero_fraction': 0.5}
    """
    X = check_array(X, "X")
    zero_tol = check_float(zero_tol, "zero_tol", low=0.0)
    norm = float(np.linalg.norm(X, axis=1).mean())
    C = X @ check_array(omega, "omega").T
    return {
        "objective": analysis_objective(X, omega) / max(norm, _TINY),
        "zero_fraction": float(np.mean(np.abs(C) < zero_tol)),
    }


def random_untf_sparsity(X, n_components: int, n_draws: int, zero_tol: float, random_state=0):
    """The sparsest of ``n_draws`` independent random UNTFs on ``X``: the best ``objective``
    and the best ``zero_fraction`` of :func:`analysis_sparsity` over the draws (each best
    taken separately, so the bar is at least as hard as any single draw).

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((20, 4))
    >>> sorted(random_untf_sparsity(X, 6, 3, 0.1))
    ['objective', 'zero_fraction']
    """
    X = check_array(X, "X")
    n_draws = check_int(n_draws, "n_draws", low=1)
    seed = check_int(random_state, "random_state", low=0)
    draws = [
        analysis_sparsity(
            X,
            random_untf(n_components, X.shape[1], np.random.default_rng([seed, 7919, k])),
            zero_tol,
        )
        for k in range(n_draws)
    ]
    return {
        "objective": min(d["objective"] for d in draws),
        "zero_fraction": max(d["zero_fraction"] for d in draws),
    }


def row_localisation(omega, patch_size: int, window: int = 3) -> np.ndarray:
    """Per row, the largest fraction of its energy inside one ``window`` x ``window`` block
    of the patch (1 for a finite difference, about ``window**2 / patch_size**2`` for a
    spread-out row).

    Examples
    --------
    >>> from parsimony.dictionary.analysis import finite_difference_operator
    >>> float(row_localisation(finite_difference_operator(4), 4, window=2).min())
    1.0
    """
    omega = check_array(omega, "omega")
    p = check_int(patch_size, "patch_size", low=1)
    w = check_int(window, "window", low=1, high=p)
    if omega.shape[1] != p * p:
        raise ValueError(f"omega must have patch_size**2={p * p} columns, got {omega.shape[1]}")
    E = (omega**2).reshape(-1, p, p)
    total = np.maximum(E.sum(axis=(1, 2)), _TINY)
    S = np.lib.stride_tricks.sliding_window_view(E, (w, w), axis=(1, 2)).sum(axis=(-1, -2))
    return S.max(axis=(1, 2)) / total


def learn_with_checkpoints(estimator, X, checkpoints) -> dict:
    """Fit ``estimator`` (an :class:`AnalysisOperatorLearning`) once and keep its operator at
    the given iterations, each projected onto the UNTF set (:func:`untf_projection`): the
    iteration count becomes a parameter chosen on validation data at no extra cost.

    Returns
    -------
    dict
        iteration -> operator; the last checkpoint must be ``estimator.max_iter`` and maps
        to ``estimator.operator_``.
    """
    checkpoints = sorted(check_int(c, "checkpoints", low=1) for c in checkpoints)
    if not checkpoints or checkpoints[-1] != estimator.max_iter:
        raise ValueError(f"checkpoints must end at max_iter={estimator.max_iter}")
    kept: dict = {}

    def keep(state):
        if state["iteration"] in checkpoints[:-1]:
            kept[state["iteration"]] = untf_projection(state["operator"])

    estimator.set_params(callback=keep).fit(X)
    estimator.set_params(callback=None)
    kept[checkpoints[-1]] = estimator.operator_
    return kept


def choose_on_validation(denoise, grid, noisy, clean):
    """The grid value with the best validation PSNR (:func:`patch_denoising_psnr`; the first
    best on ties) and the PSNR of every value.

    Examples
    --------
    >>> clean = np.tile([0.0, 1.0], (4, 2)); noisy = 1.5 * clean
    >>> choose_on_validation(lambda X, s: s * X, [1.0, 0.5, 0.25], noisy, clean)[0]
    0.5
    """
    grid = list(grid)
    psnr = patch_denoising_psnr(denoise, grid, noisy, clean)
    return grid[int(np.argmax(psnr))], psnr


def omp_denoiser(dictionary, rule: str, value, sigma: float, n_features: int):
    """A synthesis denoiser: OMP codes on ``dictionary`` (n_components, n_features), then
    ``codes @ dictionary``; ``rule="atoms"`` keeps ``value`` atoms per patch, ``"residual"``
    stops at a residual of ``(value * sigma)**2 * n_features`` (the noise energy)."""
    from sklearn.linear_model import orthogonal_mp

    check_choice(rule, "rule", ("atoms", "residual"))
    D = check_array(dictionary, "dictionary")
    if rule == "atoms":
        return lambda X: orthogonal_mp(D.T, X.T, n_nonzero_coefs=int(value)).T @ D
    return lambda X: orthogonal_mp(D.T, X.T, tol=(value * sigma) ** 2 * n_features).T @ D


def tune_synthesis_peer(
    train, val_noisy, val_clean, n_components, alphas, epochs, sparsity_grid, sigma,
    batch_size=256, fit_algorithm="cd", random_state=0,
):  # fmt: skip
    """Tune scikit-learn's ``MiniBatchDictionaryLearning`` + OMP on validation patches.

    Every (alpha, epochs) pair is fitted on ``train``; every sparsity rule of
    ``sparsity_grid`` (``("atoms", k)`` or ``("residual", c)``, see :func:`omp_denoiser`)
    is scored by :func:`patch_denoising_psnr` on the validation patches. The same rule as
    ours: the best validation PSNR wins (first on ties). ``fit_algorithm`` is scikit-learn's
    (``"cd"``: coordinate descent, much faster than ``"lars"`` at small ``alpha``); its
    convergence warnings are silenced (the budget is the number of epochs).

    Returns
    -------
    best : dict
        ``alpha, epochs, rule, value, psnr`` and ``dictionary`` (the chosen atoms).
    records : list of dict
        ``alpha, epochs, rule, value, psnr`` for every combination.
    """
    import warnings

    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.exceptions import ConvergenceWarning

    n = check_array(train, "train").shape[1]
    records, best = [], None
    for alpha in alphas:
        for ep in epochs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                D = MiniBatchDictionaryLearning(
                    n_components=n_components, alpha=float(alpha), max_iter=int(ep),
                    batch_size=batch_size, fit_algorithm=fit_algorithm, random_state=random_state,
                ).fit(train).components_  # fmt: skip
            for rule, value in sparsity_grid:
                f = omp_denoiser(D, rule, value, sigma, n)
                psnr = float(
                    patch_denoising_psnr(lambda X, _, f=f: f(X), [0], val_noisy, val_clean)[0]
                )
                rec = {"alpha": float(alpha), "epochs": int(ep), "rule": rule,
                       "value": float(value), "psnr": psnr}  # fmt: skip
                records.append(rec)
                if best is None or psnr > best["psnr"]:
                    best = {**rec, "dictionary": D}
    return best, records
