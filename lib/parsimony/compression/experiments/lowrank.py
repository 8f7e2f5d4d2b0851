r"""Experiments of the robust low-rank paper: synthetic outliers, MiniLM, the digits MLP.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020 (journal version: Sensors 21(16):5599, 2021).

- Synthetic: :func:`planted_subspace` (points near a random :math:`k`-dimensional subspace
  of :math:`\mathbb{R}^d`, some rows replaced by far-away outliers) and
  :func:`outlier_sweep` (every solver against the outlier fraction), summarised by
  :func:`sweep_means`.
- Layers: :func:`fit_bases` (bases of several ranks, fitting as little as possible),
  :func:`rank_for_compression` and :func:`compression_fraction` (the size accounting
  :math:`(n+d)k` against :math:`nd`).
- The MiniLM word embedding: :func:`stdlib_sentences` (an offline text set),
  :class:`TopicProbe` (task heads trained before compression) and
  :func:`embedding_agreement`.
- Claim statistics: :func:`by_rank`, :func:`beats_reference`, :func:`non_decreasing`.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg as sl
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from parsimony._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_random_state,
)
from parsimony.compression.lowrank import SUBSPACE_SOLVERS, LpLowRank, break_even_rank
from parsimony.compression.lowrank.rounding import check_matrix
from parsimony.compression.lowrank.subspace import check_rank, residual_norms

__all__ = [
    "NESTED",
    "STDLIB_TOPICS",
    "TopicProbe",
    "beats_reference",
    "by_rank",
    "compression_fraction",
    "embedding_agreement",
    "fit_bases",
    "non_decreasing",
    "outlier_sweep",
    "planted_subspace",
    "rank_for_compression",
    "stdlib_sentences",
    "sweep_means",
]

#: Methods whose rank-k basis is the first k rows of any larger one (one ellipsoid or SVD).
NESTED = frozenset({"svd", "ellipsoid", "lewis"})


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
        Keys of :data:`~parsimony.compression.lowrank.SUBSPACE_SOLVERS`.
    options : dict, optional
        ``{method: {keyword: value}}``: ``max_iter`` and the solver's ``method_params``
        (see :class:`~parsimony.compression.lowrank.LpLowRank`).
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
    methods = [check_choice(m, "methods", SUBSPACE_SOLVERS) for m in methods]
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
                opts = dict(options.get(method, {}))
                max_iter = opts.pop("max_iter", None)
                est = LpLowRank(k, p=p, method=method, method_params=opts, max_iter=max_iter)
                est.fit(A)
                out["seconds"][i, j, s] = time.perf_counter() - t0
                V = est.components_.T
                out["cost"][i, j, s] = est.cost_
                out["angle"][i, j, s] = np.degrees(sl.subspace_angles(V, basis).max())
                out["inlier_residual"][i, j, s] = np.median(residual_norms(A[~is_out], V))
                out["converged"][i, j, s] = est.converged_
    return {"fractions": fractions, "methods": methods, **out}


def sweep_means(result: dict, reference: str = "svd") -> dict:
    """Means over seeds of an :func:`outlier_sweep` result, and the cost relative to ``reference``.

    Returns
    -------
    dict
        ``angle``, ``inlier_residual``, ``cost`` and ``cost_ratio`` (cost / the
        reference's cost on the same matrix, then averaged), each of shape
        (n_methods, n_fractions).

    Examples
    --------
    >>> r = {"methods": ["svd", "irls"], "cost": np.array([[[2.0, 4.0]], [[1.0, 1.0]]]),
    ...      "angle": np.ones((2, 1, 2)), "inlier_residual": np.ones((2, 1, 2))}
    >>> sweep_means(r)["cost_ratio"].tolist()
    [[1.0], [0.375]]
    """
    methods = list(result["methods"])
    ref = check_choice(reference, "reference", methods)
    cost = np.asarray(result["cost"], dtype=float)
    out = {
        key: np.asarray(result[key], dtype=float).mean(axis=-1)
        for key in ("angle", "inlier_residual")
    }
    out["cost"] = cost.mean(axis=-1)
    out["cost_ratio"] = (cost / cost[methods.index(ref)]).mean(axis=-1)
    return out


def beats_reference(values, methods, reference: str = "svd", columns=None) -> dict:
    """Whether each method's value is strictly smaller than the reference's in every column.

    Parameters
    ----------
    values : array (n_methods, n_columns)
        Lower is better (a cost, an angle, a residual, an accuracy drop).
    methods : sequence of str
        Row names.
    reference : str
        The row compared against (not in the output).
    columns : sequence of int, optional
        The columns compared (default all).

    Returns
    -------
    dict
        ``{method: bool}`` for every method but the reference.

    Examples
    --------
    >>> beats_reference([[2.0, 3.0], [1.0, 3.0], [1.0, 2.0]], ["svd", "a", "b"])
    {'a': False, 'b': True}
    """
    V = check_array(values, "values", finite=False)
    methods = list(methods)
    if V.shape[0] != len(methods):
        raise ValueError(f"values must have {len(methods)} rows (one per method), got {V.shape}")
    i = methods.index(check_choice(reference, "reference", methods))
    cols = list(range(V.shape[1])) if columns is None else list(columns)
    if not cols:
        raise ValueError("columns must select at least one column")
    return {m: bool(np.all(V[j, cols] < V[i, cols])) for j, m in enumerate(methods) if j != i}


def non_decreasing(values, tol: float = 0.0) -> bool:
    """Whether a sequence never decreases by more than ``tol`` from one entry to the next.

    >>> non_decreasing([0.5, 0.7, 0.7]), non_decreasing([0.5, 0.49]), non_decreasing([0.5, 0.49], 0.02)
    (True, False, True)
    """
    v = check_array(values, "values", ndim=1)
    tol = check_float(tol, "tol", low=0.0)
    return bool(np.all(np.diff(v) >= -tol))


def by_rank(rows, key: str, methods) -> dict:
    """``{method: values of key sorted by rank}`` from records with ``method``, ``rank`` and ``key``.

    >>> rows = [{"method": "svd", "rank": 8, "acc": 0.9}, {"method": "svd", "rank": 4, "acc": 0.8}]
    >>> by_rank(rows, "acc", ["svd"])
    {'svd': [0.8, 0.9]}
    """
    out = {}
    for m in methods:
        sel = sorted((r["rank"], r[key]) for r in rows if r["method"] == m)
        if not sel:
            raise ValueError(f"rows hold no record of method {m!r}")
        out[m] = [v for _, v in sel]
    return out


# --------------------------------------------------------------------------------------
# Bases and size accounting for layers
# --------------------------------------------------------------------------------------
def fit_bases(A, ranks, methods, p: float = 1.0, options: dict | None = None) -> dict:
    """Orthonormal bases of every rank in ``ranks`` for every method, fitting as little as possible.

    Nested methods (:data:`NESTED`) are fitted once at the largest rank and truncated;
    ``irls`` is fitted at each rank.

    Parameters
    ----------
    A : array (n, d)
    ranks : sequence of int
    methods : sequence of str
        Keys of :data:`~parsimony.compression.lowrank.SUBSPACE_SOLVERS`.
    p : float in [1, 2]
    options : dict, optional
        ``{method: {keyword: value}}``: ``max_iter`` and the solver's ``method_params``.

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
    A = check_matrix(A)
    ranks = sorted({check_rank(k, *A.shape) for k in ranks})
    options = dict(options or {})
    out = {}
    for m in methods:
        check_choice(m, "methods", SUBSPACE_SOLVERS)
        opts = dict(options.get(m, {}))
        max_iter = opts.pop("max_iter", None)

        def fit(k, m=m, opts=opts, max_iter=max_iter):
            est = LpLowRank(k, p=p, method=m, method_params=opts, max_iter=max_iter)
            return est.fit(A).components_

        if m in NESTED:
            C = fit(ranks[-1])
            out[m] = {k: C[:k] for k in ranks}
        else:
            out[m] = {k: fit(k) for k in ranks}
    return out


def rank_for_compression(n: int, d: int, fraction: float) -> int:
    """The rank that removes ``fraction`` of an (n, d) layer's parameters (rounded down).

    ``(n + d) k <= (1 - fraction) n d``.

    >>> rank_for_compression(30522, 384, 0.28)
    273
    """
    fraction = check_float(fraction, "fraction", low=0.0, high=1.0, high_inclusive=False)
    return max(1, int(np.floor((1.0 - fraction) * break_even_rank(n, d))))


def compression_fraction(n: int, d: int, rank: int) -> float:
    """The fraction of an (n, d) layer's weights that a rank-``rank`` factorization removes.

    :math:`1 - (n + d)k / (nd)` (negative above the break-even rank).

    >>> round(compression_fraction(30522, 384, 273), 3)
    0.28
    """
    rank = check_int(rank, "rank", low=1)
    return 1.0 - rank / break_even_rank(n, d)


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


class TopicProbe(BaseEstimator):
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
        self.n_features_in_ = X.shape[1]
        return self

    def score(self, X) -> float:
        """Accuracy over all sentences of ``X`` (n_samples, n_features), fold by fold."""
        check_is_fitted(self)
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
