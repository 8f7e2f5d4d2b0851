r"""Recovery experiments: one trial, phase transitions over m, summaries.

The protocol follows the HIS 2015 public script at reduced scale (paper card, section 3):
a grid graph, a support of :math:`s` nodes in :math:`g` connected blobs grown by random BFS
with Gaussian amplitudes, :math:`m = \rho s` measurements, success when
:math:`\|x - \hat x\|^2 / \|x\|^2 < 0.05`. Every method sees the same signals and operators
(paired trials). *Iterations to success* count the iterations until the success criterion
is first met (not until the loop exits), as the card asks.

:data:`VARIANTS` names the methods compared: ``name -> (solver, projection)``, a key of
:data:`parsimony.sparse.solvers.METHODS` and a key of
:data:`parsimony.sparse.headtail.PROJECTIONS` (``None``: the plain k-sparse model).

The statistics the claims rest on are functions here, tested in ``tests/sparse``:
:func:`m_at` (:math:`m_{90}`, the smallest :math:`m/s` with success :math:`\ge 0.9`),
:func:`success_at`, :func:`max_success_gap`, :func:`mean_success`, :func:`paired_medians`
(median iterations to success over the paired trials both methods recover),
:func:`convergence_rate` (per-iteration error factor), and, for the image experiment,
:func:`image_summary` and :func:`smallest_ratio`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from parsimony._validation import check_float, check_int
from parsimony.sparse.graphs import adjacency, grid_graph, planted_signal
from parsimony.sparse.models import GraphSparse, KSparse
from parsimony.sparse.operators import OPERATORS, make_operator
from parsimony.sparse.solvers import recover

__all__ = [
    "VARIANTS",
    "convergence_rate",
    "image_blobs",
    "image_recovery",
    "image_summary",
    "m_at",
    "make_model",
    "max_success_gap",
    "mean_success",
    "paired_iterations",
    "paired_medians",
    "phase_transition",
    "recovery_trial",
    "smallest_ratio",
    "success_at",
    "summarize",
]

#: the compared methods: ``name -> (solver, projection or None)``.
VARIANTS = {
    "omp": ("omp", None),
    "iht": ("iht", None),
    "cosamp": ("cosamp", None),
    "graph_iht": ("iht", "pcst"),
    "graph_cosamp": ("cosamp", "pcst"),
    "lp_cosamp": ("cosamp", "lp"),
    "lp_det_cosamp": ("cosamp", "lp_det"),
}


def make_model(method, edges, n_nodes, s, g=1, projection_params=None):
    """The model a method of :data:`VARIANTS` runs with: ``KSparse(s)`` or ``GraphSparse``."""
    if method not in VARIANTS:
        raise ValueError(f"method must be one of {sorted(VARIANTS)}, got {method!r}")
    projection = VARIANTS[method][1]
    if projection is None:
        return KSparse(s)
    return GraphSparse(edges, n_nodes, s, g, projection, projection_params)


def recovery_trial(
    A,
    x_true,
    model,
    solver="cosamp",
    *,
    noise=0.0,
    success_tol=0.05,
    max_iter=50,
    tol=5e-3,
    random_state=None,
    return_estimate=False,
):
    r"""Recover ``x_true`` from :math:`y = A x + \sigma \varepsilon` and score it.

    Returns a dict: ``success`` (:math:`\|x - \hat x\|^2/\|x\|^2 <` ``success_tol``),
    ``rel_error``, ``n_iter``, ``iters_to_success`` (first iteration meeting the criterion,
    NaN if never), ``seconds`` and ``errors`` (the relative squared error per iteration).
    """
    rng = np.random.default_rng(random_state)
    y = A.matvec(x_true)
    if noise:
        y = y + noise * rng.standard_normal(y.shape)
    norm2 = float(x_true @ x_true)
    errors = []

    def track(state):
        d = state["x"] - x_true
        errors.append(float(d @ d) / norm2)

    t0 = time.perf_counter()
    x, hist = recover(
        A, y, model, method=solver, callback=track, max_iter=max_iter, tol=tol, random_state=rng
    )
    seconds = time.perf_counter() - t0
    err = float((x - x_true) @ (x - x_true)) / norm2
    hits = np.flatnonzero(np.asarray(errors) < success_tol)
    return {
        "success": bool(err < success_tol),
        "rel_error": err,
        "n_iter": int(hist["n_iter"]),
        "iters_to_success": float(hits[0] + 1) if hits.size else float("nan"),
        "seconds": seconds,
        "errors": errors,
        **({"estimate": x} if return_estimate else {}),
    }


def phase_transition(
    grid=10,
    s=8,
    g=1,
    ratios=(2.0, 3.0, 4.0),
    operators=("gaussian",),
    methods=("cosamp", "iht", "graph_cosamp", "lp_cosamp"),
    n_trials=10,
    *,
    projection_params=None,
    noise=0.0,
    success_tol=0.05,
    max_iter=50,
    tol=5e-3,
    random_state=0,
) -> pd.DataFrame:
    """Probability of recovery vs :math:`m/s`, for each operator and method, over trials.

    Parameters
    ----------
    grid : int
        Side of the square grid graph (:math:`n = \\text{grid}^2`).
    s, g : int
        Sparsity and number of connected blobs of the planted signal (and the model).
    ratios : sequence of float
        :math:`m / s` values (:math:`m = \\lceil \\rho s \\rceil`).
    operators : sequence of str
        Keys of :data:`parsimony.sparse.operators.OPERATORS`.
    methods : sequence of str
        Keys of :data:`VARIANTS`.
    n_trials : int or dict
        Trials per point; a dict gives a count per method (e.g. fewer for the LP), the
        method then runs on the first trials of the shared sequence.
    projection_params : dict, optional
        ``method -> kwargs`` of its projection.
    random_state : int
        Seeds every trial from ``(random_state, operator, m, trial)``: two calls with
        different method, ratio or operator lists see the same signals and operators.

    Returns
    -------
    pandas.DataFrame
        One row per (operator, ratio, trial, method).
    """
    grid = check_int(grid, "grid", low=2)
    n = grid * grid
    s = check_int(s, "s", low=1, high=n)
    success_tol = check_float(success_tol, "success_tol", low=0.0)
    for op in operators:
        if op not in OPERATORS:
            raise ValueError(f"operators must be among {sorted(OPERATORS)}, got {op!r}")
    for meth in methods:
        if meth not in VARIANTS:
            raise ValueError(f"methods must be among {sorted(VARIANTS)}, got {meth!r}")
    trials = {m: n_trials[m] if isinstance(n_trials, dict) else n_trials for m in methods}
    projection_params = projection_params or {}
    edges = grid_graph(grid)
    adj = adjacency(edges, n)
    models = {m: make_model(m, edges, n, s, g, projection_params.get(m)) for m in methods}
    rows = []
    for op in operators:
        i_op = sorted(OPERATORS).index(op)
        for ratio in ratios:
            n_meas = int(np.ceil(ratio * s))
            for trial in range(max(trials.values())):
                # seeded by the values, so that calls with other lists stay paired
                seed = np.random.SeedSequence([random_state, i_op, n_meas, trial])
                sig_seed, op_seed, run_seed = seed.spawn(3)
                x_true, _ = planted_signal(adj, s, g, random_state=np.random.default_rng(sig_seed))
                A = make_operator(op, n_meas, n, random_state=np.random.default_rng(op_seed))
                for meth in methods:
                    if trial >= trials[meth]:
                        continue
                    out = recovery_trial(
                        A,
                        x_true,
                        models[meth],
                        VARIANTS[meth][0],
                        noise=noise,
                        success_tol=success_tol,
                        max_iter=max_iter,
                        tol=tol,
                        random_state=np.random.default_rng(run_seed),
                    )
                    out.pop("errors")
                    rows.append(
                        {
                            "operator": op,
                            "method": meth,
                            "ratio": float(ratio),
                            "m": n_meas,
                            "trial": trial,
                            **out,
                        }
                    )
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Success probability, median iterations to success, mean seconds per point."""
    grouped = df.groupby(["operator", "method", "ratio"], sort=True)
    return grouped.agg(
        success=("success", "mean"),
        iters_to_success=("iters_to_success", "median"),
        n_iter=("n_iter", "median"),
        seconds=("seconds", "mean"),
        n_trials=("success", "size"),
    ).reset_index()


def m_at(summary: pd.DataFrame, operator: str, method: str, level: float = 0.9) -> float:
    """Smallest :math:`m/s` with success >= ``level`` (``inf`` if none)."""
    rows = summary[(summary.operator == operator) & (summary.method == method)]
    ok = rows[rows.success >= level].ratio
    return float(ok.min()) if len(ok) else float("inf")


def success_at(summary: pd.DataFrame, operator: str, method: str, ratio: float) -> float:
    """Success probability of ``method`` at ``m/s = ratio`` (NaN if not run)."""
    row = summary[
        (summary.operator == operator) & (summary.method == method) & (summary.ratio == ratio)
    ]
    return float(row.success.iloc[0]) if len(row) else float("nan")


def max_success_gap(df: pd.DataFrame, a: str, b: str) -> float:
    """Largest ``|success(a) - success(b)|`` over (operator, ratio), on the paired trials.

    At each point both methods ran, the success rates are taken over the trials both ran
    (the same signals and operators), so a method run on fewer trials is compared with the
    other on those trials only.
    """
    key = ["operator", "ratio", "trial"]
    sa = df[df.method == a].set_index(key).success
    sb = df[df.method == b].set_index(key).success
    both = sa.index.intersection(sb.index)
    if not len(both):
        raise ValueError(f"methods {a!r} and {b!r} share no paired trial")
    diff = (sa[both].astype(float) - sb[both].astype(float)).groupby(level=[0, 1]).mean()
    return float(diff.abs().max())


def mean_success(df: pd.DataFrame, a: str, b: str) -> tuple[float, float, int]:
    """Mean success of ``a`` and ``b`` over the paired trials both ran, and their count."""
    key = ["operator", "ratio", "trial"]
    sa = df[df.method == a].set_index(key).success
    sb = df[df.method == b].set_index(key).success
    both = sa.index.intersection(sb.index)
    if not len(both):
        return float("nan"), float("nan"), 0
    return float(sa[both].mean()), float(sb[both].mean()), int(len(both))


def paired_medians(df: pd.DataFrame, a: str, b: str) -> tuple[float, float, int]:
    """Median iterations to success of ``a`` and ``b`` over the trials both recover, and n."""
    ia, ib = paired_iterations(df, a, b)
    if not ia.size:
        return float("nan"), float("nan"), 0
    return float(np.median(ia)), float(np.median(ib)), int(ia.size)


def convergence_rate(errors, floor: float = 1e-20) -> float:
    r"""Per-iteration error factor :math:`\rho` of a least-squares fit :math:`\log e_t \approx c + t \log \rho`.

    Uses the errors above ``floor`` (before the numerical plateau); NaN if fewer than two.
    :math:`\rho < 1` is geometric convergence.
    """
    e = np.asarray(errors, dtype=np.float64)
    keep = e > floor
    if keep.sum() < 2:
        return float("nan")
    t = np.flatnonzero(keep)
    return float(np.exp(np.polyfit(t, np.log(e[keep]), 1)[0]))


def paired_iterations(df: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Iterations to success of methods ``a`` and ``b`` on the trials both recover."""
    key = ["operator", "ratio", "trial"]
    ka = df[(df.method == a) & df.success].set_index(key).iters_to_success
    kb = df[(df.method == b) & df.success].set_index(key).iters_to_success
    both = ka.index.intersection(kb.index).sort_values()
    return ka[both].to_numpy(), kb[both].to_numpy()


def image_blobs(image, size=24, quantile=0.9, g=2):
    r"""A structured image: ``image`` resized to ``size x size``, thresholded, ``g`` largest blobs.

    The pixels above the ``quantile`` of the resized grey image are split into connected
    components (4-connectivity, the grid graph's); the ``g`` largest are kept with their
    grey values, the rest is zero.

    Returns
    -------
    x : array (size * size,)
        The signal (row-major pixels).
    edges : array (E, 2)
        The grid graph of the pixels.
    """
    from scipy import ndimage
    from skimage.transform import resize

    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3].mean(axis=-1)
    if img.ndim != 2:
        raise ValueError(f"image must be a 2-D (or RGB) array, got shape {np.shape(image)}")
    size = check_int(size, "size", low=2)
    g = check_int(g, "g", low=1)
    small = resize(img, (size, size), anti_aliasing=True)
    mask = small > np.quantile(small, check_float(quantile, "quantile", low=0.0, high=1.0))
    labels, n_blobs = ndimage.label(mask)
    counts = np.bincount(labels.ravel())[1:]
    keep = 1 + np.argsort(-counts, kind="stable")[:g]
    x = np.where(np.isin(labels, keep), small, 0.0).ravel()
    return x, grid_graph(size)


def image_recovery(
    x_true,
    edges,
    g,
    ratios,
    methods,
    *,
    operator="dct",
    n_trials=3,
    projection_params=None,
    max_iter=30,
    tol=5e-3,
    success_tol=0.05,
    random_state=0,
):
    """Recover a structured image with each method at each :math:`m/s`, over ``n_trials`` operators.

    Returns ``(df, estimates)``: one row per (ratio, trial, method), and the estimates of
    trial 0 keyed by ``(method, ratio)``. Trials are paired (same operator for all methods).
    """
    n = x_true.size
    s = int(np.count_nonzero(x_true))
    projection_params = projection_params or {}
    models = {m: make_model(m, edges, n, s, g, projection_params.get(m)) for m in methods}
    rows, estimates = [], {}
    for ratio in ratios:
        n_meas = int(np.ceil(ratio * s))
        for trial in range(n_trials):
            seed = np.random.SeedSequence([random_state, n_meas, trial])
            op_seed, run_seed = seed.spawn(2)
            A = make_operator(operator, n_meas, n, random_state=np.random.default_rng(op_seed))
            for meth in methods:
                out = recovery_trial(
                    A,
                    x_true,
                    models[meth],
                    VARIANTS[meth][0],
                    success_tol=success_tol,
                    max_iter=max_iter,
                    tol=tol,
                    random_state=np.random.default_rng(run_seed),
                    return_estimate=trial == 0,
                )
                out.pop("errors")
                if trial == 0:
                    estimates[(meth, float(ratio))] = out.pop("estimate")
                rows.append(
                    {"method": meth, "ratio": float(ratio), "m": n_meas, "trial": trial, **out}
                )
    return pd.DataFrame(rows), estimates


def image_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median relative error and success rate per (method, ratio) of :func:`image_recovery`."""
    return (
        df.groupby(["method", "ratio"], sort=True)
        .agg(rel_error=("rel_error", "median"), success=("success", "mean"))
        .reset_index()
    )


def smallest_ratio(summary: pd.DataFrame, method: str, success_tol: float = 0.05) -> float:
    """Smallest :math:`m/s` where the median error of ``method`` is below ``success_tol``."""
    ok = summary[(summary.method == method) & (summary.rel_error < success_tol)].ratio
    return float(ok.min()) if len(ok) else float("inf")
