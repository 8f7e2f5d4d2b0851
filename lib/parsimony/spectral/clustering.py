r"""Spectral clustering and compressive spectral clustering (CSC).

Tremblay, Puy, Gribonval & Vandergheynst, "Compressive Spectral Clustering", ICML 2016
(arXiv:1602.02018), Algorithm 1; defaults of CSCbox's ``CSC.m``.

**Spectral clustering** (:class:`SpectralClustering`, Ng-Jordan-Weiss): the :math:`k`
eigenvectors :math:`U_k` of the smallest eigenvalues of :math:`L = I - D^{-1/2} W D^{-1/2}`
(``eigsh`` on :math:`D^{-1/2} W D^{-1/2}`), rows normalised to unit norm, k-means.

**CSC** (:class:`CompressiveSpectralClustering`):

1. :math:`\hat\lambda_k` by eigencount dichotomy (:func:`~parsimony.spectral.filters.estimate_lambda_k`);
2. features :math:`\tilde f_i = (h_{\hat\lambda_k}(L) R)^\top \delta_i`, rows normalised, with
   :math:`R \in \mathbb R^{N \times d}` i.i.d. :math:`\mathcal N(0, 1/d)`, :math:`h` the
   Jackson-Chebyshev low-pass on :math:`[0, \hat\lambda_k]`, :math:`d = \mathrm{round}(4 \ln n)`;
3. :math:`n = \mathrm{round}(2 k \ln k)` nodes sampled without replacement (uniformly, or
   with probability :math:`\propto \|U_k^\top \delta_i\|^2`, estimated by
   :math:`\|(h(L) R)^\top \delta_i\|^2`);
4. k-means on the :math:`n` sampled features only: reduced indicators :math:`c^r_j`;
5. interpolation of all :math:`k` indicators at once,

   .. math:: (M^\top M + \gamma\, g(L))\, \tilde c_j = M^\top c^r_j ,

   :math:`M` the sampling matrix and :math:`g = 1 - h` the Jackson-Chebyshev high-pass on
   :math:`[\hat\lambda_k, 2]` (symmetric PSD), solved matrix-free by block preconditioned
   conjugate gradients (every column its own CG, all columns in one sparse x dense
   product per polynomial term; preconditioner :math:`\mathrm{diag}(M^\top M) + \gamma I`);
6. :math:`\tilde c_j \leftarrow \tilde c_j / \|\tilde c_j\|`, label :math:`= \arg\max_j \tilde c_j(i)`.

**Skipping steps 5-6** (``assign_labels="kmeans"``, **ours**): Lloyd iterations of k-means on
the features of *all* :math:`N` nodes, started from the centroids of step 4, replace the
interpolation. A Lloyd iteration costs :math:`O(N k d)`; a CG iteration of step 5 costs
:math:`O(k\,|E|\,p)`, i.e. :math:`c\,p/d` times more on a graph of average degree
:math:`c` (about 30x at :math:`c = 16, p = 50, d \approx 25`), and the sampled k-means
already gives centroids close to the final ones (a few Lloyd iterations). ``"auto"``
(default) chooses by this cost model, :func:`choose_assign_labels`.

Differences from CSCbox, all named: CG instead of GMRES (the operator is SPD, so the
solution is the same); the polynomial filters run in float32 by default (``dtype``), with
``torch``'s sparse kernel (``backend``);
the eigencount uses Chebyshev moments (same count, fewer mat-vecs); the variable-density
decoder is not re-weighted. An optional decoder of ours (``decoder="subspace"``,
:func:`subspace_decode`) replaces the CG solve of step 5 by least squares within a
randomised estimate of the band-limited space.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import validate_data

from parsimony._validation import check_choice, check_float, check_int, check_random_state
from parsimony.spectral.filters import (
    TorchOperator,
    chebyshev_recurrence,
    estimate_lambda_k,
    jackson_chebyshev_coefficients,
)
from parsimony.spectral.graphs import check_adjacency, normalized_adjacency

__all__ = [
    "METHODS",
    "CompressiveSpectralClustering",
    "SpectralClustering",
    "block_cg",
    "choose_assign_labels",
    "csc_defaults",
    "subspace_decode",
]


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _check_k(n_clusters, n_nodes) -> int:
    k = check_int(n_clusters, "n_clusters", low=1)
    if k >= n_nodes:
        raise ValueError(f"n_clusters must be < the number of nodes ({n_nodes}), got {k}")
    return k


def _row_normalize(X):
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


class _GraphClusteringMixin:
    """Input checks and tags shared by the two graph estimators (this module only)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = True  # fit(W): an (N, N) affinity, like affinity="precomputed"
        tags.input_tags.positive_only = True  # edge weights are >= 0
        tags.input_tags.sparse = True
        return tags

    def _check_graph(self, W) -> sp.csr_matrix:
        """``W`` as CSR float64: square, symmetric, finite, non-negative.

        Isolated nodes are accepted: their :math:`D^{-1/2}` is 0, their embedding or feature
        row is 0 (not normalised), so their label is arbitrary.
        """
        W = validate_data(
            self,
            W,
            accept_sparse=("csr", "csc", "coo"),
            dtype=(np.float64, np.float32),
            ensure_min_samples=2,
            ensure_min_features=2,
            reset=True,
        )
        if W.shape[0] != W.shape[1]:
            raise ValueError(f"W must be a square (N, N) adjacency matrix, got shape {W.shape}")
        values = W.data if sp.issparse(W) else W
        if values.size and np.nanmin(values) < 0:
            raise ValueError(
                "Negative values in data passed to W: no negative weight allowed "
                f"(min {np.nanmin(values):.3g})"
            )
        return check_adjacency(W, allow_isolated=True)


def csc_defaults(n_clusters, n_samples=None, n_signals=None) -> tuple[int, int]:
    r"""CSCbox defaults: :math:`n = \mathrm{round}(2 k \ln k)`, :math:`d = \mathrm{round}(4 \ln n)`.

    Examples
    --------
    >>> csc_defaults(10)
    (46, 15)
    """
    k = check_int(n_clusters, "n_clusters", low=1)
    n = round(2 * k * np.log(k)) if n_samples is None else n_samples
    n = max(int(n), k)
    d = round(4 * np.log(n)) if n_signals is None else n_signals
    return n, max(int(d), 1)


class SpectralClustering(_GraphClusteringMixin, ClusterMixin, BaseEstimator):
    r"""Exact spectral clustering on a precomputed affinity graph (Ng, Jordan & Weiss 2002).

    Modelled on scikit-learn's ``SpectralClustering(affinity="precomputed")``: ``fit(W)``
    takes the (N, N) adjacency (sparse or dense, square, symmetric, non-negative, finite;
    ``ValueError`` otherwise; an isolated node gets an arbitrary label). Unlike scikit-learn's, the embedding is the row-normalised :math:`U_k`
    (Ng-Jordan-Weiss), not :math:`D^{-1/2} U_k`, and ``eigsh`` is not shift-inverted.

    Parameters
    ----------
    n_clusters : int
        :math:`k`.
    n_init : int
        k-means restarts.
    eigen_tol : float
        ARPACK tolerance (0: machine precision).
    random_state : int, Generator or None
        Seeds the ARPACK start vector and k-means.

    Attributes
    ----------
    labels_ : ndarray (N,)
    n_features_in_ : int
        :math:`N`, the number of nodes.
    embedding_ : ndarray (N, k)
        Row-normalised :math:`U_k`.
    eigenvalues_ : ndarray (k,)
        The :math:`k` smallest eigenvalues of the normalised Laplacian, ascending.
    timings_ : dict
        Seconds per step (``eigs``, ``kmeans``, ``total``).

    Examples
    --------
    >>> from parsimony.spectral.graphs import sbm
    >>> from sklearn.metrics import adjusted_rand_score
    >>> W, y = sbm(600, 3, 15, 0.02, random_state=0)
    >>> sc = SpectralClustering(3, random_state=0).fit(W)
    >>> adjusted_rand_score(y, sc.labels_) > 0.95
    True
    """

    def __init__(self, n_clusters=8, *, n_init=10, eigen_tol=0.0, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.eigen_tol = eigen_tol
        self.random_state = random_state

    def fit(self, W, y=None):
        """Cluster the nodes of the graph ``W`` (N, N); ``y`` is ignored. Returns ``self``."""
        t0 = time.perf_counter()
        W = self._check_graph(W)
        N = W.shape[0]
        k = _check_k(self.n_clusters, N)
        n_init = check_int(self.n_init, "n_init", low=1)
        tol = check_float(self.eigen_tol, "eigen_tol", low=0.0)
        rng = check_random_state(self.random_state)
        A = normalized_adjacency(W)
        t1 = time.perf_counter()
        v0 = rng.uniform(-1.0, 1.0, N)
        mu, U = eigsh(A, k=k, which="LA", v0=v0, tol=tol)
        order = np.argsort(-mu)
        self.eigenvalues_ = 1.0 - mu[order]
        self.embedding_ = _row_normalize(U[:, order])
        t2 = time.perf_counter()
        km = KMeans(k, n_init=n_init, random_state=_seed(rng)).fit(self.embedding_)
        self.labels_ = km.labels_
        t3 = time.perf_counter()
        self.timings_ = {"graph": t1 - t0, "eigs": t2 - t1, "kmeans": t3 - t2, "total": t3 - t0}
        return self


#: Cost model of :func:`choose_assign_labels`: Lloyd iterations budgeted for k-means on all
#: nodes (measured: 4-10 on SBMs, N = 2e4, k = 50) and CG iterations of the interpolation
#: (measured: 10-15 at tol 1e-6).
LLOYD_ITERATIONS = 30
CG_ITERATIONS = 10


def choose_assign_labels(n_nodes, n_clusters, n_edges, n_signals, interp_order) -> str:
    r"""``"kmeans"`` or ``"interpolate"``: the cheaper way to label every node (ours).

    Compares the multiply-adds of :data:`LLOYD_ITERATIONS` Lloyd iterations of k-means on
    all nodes, :math:`N k d`, with those of :data:`CG_ITERATIONS` iterations of the
    interpolation's block CG, :math:`k\,(2|E| + N)\,p` (``n_edges`` counts each
    undirected edge once; one filter of order :math:`p` is :math:`p` sparse products).
    Both grow as :math:`N k`, so the choice is ``"kmeans"`` unless the graph is very sparse,
    the filter order very low, or :math:`d` very large.

    Examples
    --------
    >>> choose_assign_labels(50_000, 100, 400_000, 24, 50)
    'kmeans'
    >>> choose_assign_labels(50_000, 100, 25_000, 500, 1)
    'interpolate'
    """
    N = check_int(n_nodes, "n_nodes", low=1)
    k = check_int(n_clusters, "n_clusters", low=1)
    nnz = 2 * check_int(n_edges, "n_edges", low=0) + N
    d = check_int(n_signals, "n_signals", low=1)
    p = check_int(interp_order, "interp_order", low=1)
    kmeans = LLOYD_ITERATIONS * N * k * d
    interpolate = CG_ITERATIONS * k * nnz * p
    return "kmeans" if kmeans <= interpolate else "interpolate"


def block_cg(apply_A, B, *, precond=None, tol=1e-6, max_iter=100, X0=None, callback=None):
    r"""Conjugate gradients on every column of ``B`` at once (matrix-free, SPD ``A``).

    ``apply_A`` maps an (N, m) block to :math:`A` times it; each column runs its own CG
    (its own step sizes), converged columns leave the block so that later products are
    narrower. Stops a column when :math:`\|r_j\| \le` ``tol`` :math:`\|b_j\|`.
    ``callback(it, X, rel_res)`` is called after every iteration with the relative residual
    of every column (0 for converged ones).

    Returns
    -------
    X : ndarray (N, m)
    n_iter : int
        Iterations of the slowest column.

    Examples
    --------
    >>> M = np.diag([1.0, 2.0, 4.0])
    >>> X, it = block_cg(lambda V: M @ V, np.eye(3))
    >>> np.allclose(X, np.linalg.inv(M))
    True
    """
    B = np.asarray(B)
    X = np.zeros_like(B) if X0 is None else np.array(X0, dtype=B.dtype)
    pre = (lambda V: V) if precond is None else precond
    R = B - apply_A(X) if X0 is not None else B.copy()
    bnorm = np.linalg.norm(B, axis=0)
    bnorm[bnorm == 0] = 1.0
    active = np.flatnonzero(np.linalg.norm(R, axis=0) > tol * bnorm)
    Z = pre(R[:, active])
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R[:, active], Z)
    it = 0
    while active.size and it < max_iter:
        it += 1
        AP = apply_A(P)
        alpha = rz / np.einsum("ij,ij->j", P, AP)
        X[:, active] += P * alpha
        Ra = R[:, active] - AP * alpha
        R[:, active] = Ra
        rel = np.linalg.norm(Ra, axis=0) / bnorm[active]
        done = rel <= tol
        if callback is not None:
            full = np.zeros(B.shape[1])
            full[active] = rel
            callback({"iteration": it, "residual": float(full.max()), "residuals": full, "X": X})
        if done.all():
            break
        keep = ~done
        active, Ra, P = active[keep], Ra[:, keep], P[:, keep]
        Z = pre(Ra)
        rz_new = np.einsum("ij,ij->j", Ra, Z)
        P = Z + P * (rz_new / rz[keep])
        rz = rz_new
    return X, it


def subspace_decode(
    Lt, coeffs, sample, sample_labels, n_clusters, *, oversampling=10, random_state=None
):
    r"""Interpolate cluster indicators from sampled nodes within an estimated band-limited space.

    The decoder of Puy, Tremblay, Gribonval & Vandergheynst ("Random sampling of bandlimited
    signals on graphs", ACHA 2018, eq. 6 with :math:`U_k` known),
    :math:`\tilde C = U (M U)^{+} C_r`, with the basis :math:`U` of the first :math:`k`
    eigenvectors replaced by a randomised range finder (Halko, Martinsson & Tropp 2011) of
    the low-pass :math:`h(L)`: :math:`U = \mathrm{orth}(h(L)\,\Omega)`, :math:`\Omega`
    Gaussian with :math:`k` + ``oversampling`` columns. **Ours**, not the paper's decoder:
    one filtering of an :math:`N \times (k + q)` block (``len(coeffs) - 1`` sparse products)
    instead of (CG iterations) x :math:`p` products of an :math:`N \times k` block.

    Parameters
    ----------
    Lt : sparse matrix or TorchOperator
        The rescaled operator :math:`\tilde L` (see
        :func:`~parsimony.spectral.filters.rescaled_operator`).
    coeffs : array
        Jackson-Chebyshev coefficients of the low-pass :math:`h` on :math:`[0, \hat\lambda_k]`.
    sample : int array (n,)
        Sampled nodes; ``sample_labels`` (n,) their labels in ``[0, n_clusters)``.

    Returns
    -------
    ndarray (N, n_clusters)
        The interpolated indicators (columns not normalised).

    Examples
    --------
    >>> from parsimony.spectral.graphs import sbm, normalized_adjacency
    >>> from parsimony.spectral.filters import jackson_chebyshev_coefficients
    >>> W, y = sbm(300, 2, 20, 0.0, random_state=0)
    >>> c = jackson_chebyshev_coefficients((0.0, 0.5), 30)
    >>> C = subspace_decode(-normalized_adjacency(W), c, np.arange(0, 300, 10), y[::10], 2,
    ...                     random_state=0)
    >>> bool(np.all(C.argmax(1) == y))
    True
    """
    rng = check_random_state(random_state)
    k = check_int(n_clusters, "n_clusters", low=1)
    q = check_int(oversampling, "oversampling", low=0)
    sample = np.asarray(sample)
    labels = np.asarray(sample_labels)
    if sample.shape != labels.shape or sample.ndim != 1:
        raise ValueError("sample and sample_labels must be 1-D and of the same length")
    dtype = getattr(Lt, "dtype", np.float64)
    omega = rng.standard_normal((Lt.shape[0], k + q)).astype(dtype)
    U = np.linalg.qr(chebyshev_recurrence(Lt, omega, coeffs))[0]
    B = np.zeros((sample.size, k), dtype=U.dtype)
    B[np.arange(sample.size), labels] = 1.0
    theta = np.linalg.lstsq(U[sample], B, rcond=None)[0]
    return U @ theta


class CompressiveSpectralClustering(_GraphClusteringMixin, ClusterMixin, BaseEstimator):
    r"""Compressive spectral clustering (Tremblay et al., ICML 2016).

    ``fit(W)`` takes the (N, N) adjacency, as :class:`SpectralClustering` does.

    Parameters
    ----------
    n_clusters : int
        :math:`k`.
    n_samples : int, optional
        :math:`n` nodes sampled for k-means (default :math:`\mathrm{round}(2 k \ln k)`).
    n_signals : int, optional
        :math:`d` random signals (default :math:`\mathrm{round}(4 \ln n)`).
    poly_order : int
        Order :math:`p` of the Jackson-Chebyshev filters.
    gamma : float
        Regularisation :math:`\gamma` of the interpolation.
    sampling : {"uniform", "variable_density"}
    n_init : int
        k-means restarts on the sampled features (CSCbox: 20).
    tol, max_iter : float, int
        Stopping rule of the block CG of the interpolation (``max_iter`` also bounds the
        Lloyd iterations of ``assign_labels="kmeans"``).
    lambda_k : float, optional
        Skip the eigencount and use this cut-off.
    dtype : numpy dtype
        Precision of the polynomial filtering (float32: twice the sparse throughput).
    backend : {"torch", "scipy"}
        Library of the sparse x dense products of the filters (same products; ``torch``'s
        CSR kernel is faster and follows ``torch.set_num_threads``).
    random_state : int, Generator or None
    callback : callable, optional
        ``callback(state)`` after every CG iteration of the interpolation, with the dict of
        :func:`block_cg` (``iteration``, ``residual``, ...).
    interp_order : int, optional
        Order of the Jackson-Chebyshev high-pass :math:`g` of the interpolation (default
        ``None``: ``poly_order``, as in CSCbox). About 90% of the fit is the interpolation,
        whose cost is (CG iterations) x ``interp_order`` sparse products of an
        :math:`N \times k` block; a lower order trades a softer cut at
        :math:`\hat\lambda_k` for proportionally fewer products. Only with
        ``regularizer="highpass"``.
    regularizer : {"highpass", "laplacian"}
        :math:`g(L)` of the interpolation. ``"highpass"`` (default): :math:`g = 1 - h`, the
        paper's decoder. ``"laplacian"``: :math:`g(L) = L`, the decoder of Puy et al.
        ("Random sampling of bandlimited signals on graphs", 2016) with :math:`r = 1`, which
        CSC builds on: one sparse product per CG iteration instead of ``interp_order``, at
        the price of more iterations (:math:`L` does not separate the band as sharply).
        The stopping rule is ``tol``: labels are an argmax of the interpolated indicators,
        so a looser ``tol`` (e.g. 1e-3) usually gives the same labels with fewer
        iterations.
    decoder : {"cg", "subspace"}
        Step 5. ``"cg"`` (default): the paper's regularised interpolation by block CG.
        ``"subspace"`` (**ours**): :func:`subspace_decode`, least squares on the sampled
        nodes within :math:`\mathrm{orth}(h(L)\Omega)`, :math:`k + 10` random columns: one
        filtering instead of a CG solve (the interpolation is ~90% of the default fit);
        ``gamma``, ``tol``, ``max_iter``, ``interp_order``, ``regularizer`` and
        ``callback`` are then unused and ``n_iter_`` is 0.
    assign_labels : {"auto", "interpolate", "kmeans"}
        How every node gets its label. ``"interpolate"``: the paper's steps 5-6 (with
        ``decoder``). ``"kmeans"`` (**ours**): Lloyd iterations of k-means on the features
        of all :math:`N` nodes, started from the centroids of the sampled k-means (step 4),
        at most ``max_iter`` of them, no interpolation (``decoder``, ``gamma``, ``tol``,
        ``interp_order``, ``regularizer`` and ``callback`` unused).
        ``"auto"`` (default): :func:`choose_assign_labels` from :math:`N`, :math:`k`, the
        number of edges, :math:`d` and the interpolation order; the choice is stored in
        ``assign_labels_``.

    Attributes
    ----------
    labels_ : ndarray (N,)
    n_features_in_ : int
        :math:`N`, the number of nodes.
    lambda_k_ : float
    features_ : ndarray (N, d)
        Row-normalised filtered random signals.
    sample_ : ndarray (n,)
        Sampled nodes; ``sample_labels_`` their k-means labels.
    n_iter_ : int
        Iterations of the labelling of all nodes: CG iterations of the interpolation, or
        Lloyd iterations with ``assign_labels_ = "kmeans"`` (both at most ``max_iter``).
    assign_labels_ : str
        ``"interpolate"`` or ``"kmeans"``: the labelling used.
    timings_ : dict
        Seconds per step: ``graph``, ``lambda_k``, ``features``, ``sampling``, ``kmeans``,
        ``interpolation`` (the labelling of all nodes: interpolation, or the Lloyd iterations
        of ``assign_labels_ = "kmeans"``), ``total``.

    Examples
    --------
    >>> from parsimony.spectral.graphs import sbm
    >>> from sklearn.metrics import adjusted_rand_score
    >>> W, y = sbm(600, 3, 15, 0.02, random_state=0)
    >>> csc = CompressiveSpectralClustering(3, n_samples=30, random_state=0).fit(W)
    >>> adjusted_rand_score(y, csc.labels_) > 0.9
    True
    """

    def __init__(
        self,
        n_clusters=8,
        n_samples=None,
        n_signals=None,
        poly_order=50,
        gamma=1e-3,
        sampling="uniform",
        *,
        n_init=20,
        tol=1e-6,
        max_iter=100,
        lambda_k=None,
        dtype=np.float32,
        backend="torch",
        random_state=None,
        interp_order=None,
        regularizer="highpass",
        callback=None,
        decoder="cg",
        assign_labels="auto",
    ):
        self.n_clusters = n_clusters
        self.n_samples = n_samples
        self.n_signals = n_signals
        self.poly_order = poly_order
        self.gamma = gamma
        self.sampling = sampling
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.lambda_k = lambda_k
        self.dtype = dtype
        self.backend = backend
        self.random_state = random_state
        self.interp_order = interp_order
        self.regularizer = regularizer
        self.callback = callback
        self.decoder = decoder
        self.assign_labels = assign_labels

    def _validate(self, N):
        k = _check_k(self.n_clusters, N)
        if self.n_samples is not None:
            check_int(self.n_samples, "n_samples", low=k, high=N)
        if self.n_signals is not None:
            check_int(self.n_signals, "n_signals", low=1)
        n, d = csc_defaults(k, self.n_samples, self.n_signals)
        n = min(n, N)
        p = check_int(self.poly_order, "poly_order", low=1)
        gamma = check_float(self.gamma, "gamma", low=0.0, low_inclusive=False)
        check_choice(self.sampling, "sampling", {"uniform", "variable_density"})
        check_int(self.n_init, "n_init", low=1)
        check_float(self.tol, "tol", low=0.0, low_inclusive=False)
        check_int(self.max_iter, "max_iter", low=1)
        if self.lambda_k is not None:
            check_float(self.lambda_k, "lambda_k", low=0.0, high=2.0, low_inclusive=False)
        check_choice(self.backend, "backend", {"torch", "scipy"})
        if self.interp_order is not None:
            check_int(self.interp_order, "interp_order", low=1)
        check_choice(self.regularizer, "regularizer", {"highpass", "laplacian"})
        check_choice(self.decoder, "decoder", {"cg", "subspace"})
        check_choice(self.assign_labels, "assign_labels", {"auto", "interpolate", "kmeans"})
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {self.callback!r}")
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        return k, n, d, p, gamma, dtype

    def fit(self, W, y=None):
        """Cluster the nodes of the graph ``W`` (N, N); ``y`` is ignored. Returns ``self``."""
        if self.backend == "torch":
            import torch  # noqa: F401  (imported before the clock starts)
        t = {}
        t0 = time.perf_counter()
        W = self._check_graph(W)
        N = W.shape[0]
        k, n, d, p, gamma, dtype = self._validate(N)
        rng = check_random_state(self.random_state)
        Lt = -normalized_adjacency(W, dtype=dtype)  # (L - I) / 1: L rescaled from [0, 2]
        if self.backend == "torch":
            Lt = TorchOperator(Lt)
        clock = time.perf_counter()
        t["graph"] = clock - t0

        def tick(name):
            nonlocal clock
            now = time.perf_counter()
            t[name] = now - clock
            clock = now

        # 1. lambda_k by eigencount
        if self.lambda_k is None:
            L = sp.identity(N, format="csr") - normalized_adjacency(W)
            lam = estimate_lambda_k(L, k, order=p, random_state=rng)
        else:
            lam = float(self.lambda_k)
        lam = min(max(lam, 1e-6), 2.0 - 1e-6)
        self.lambda_k_ = lam
        tick("lambda_k")
        # 2. features: low-pass filtered random signals
        low = jackson_chebyshev_coefficients((0.0, lam), p)
        R = (rng.standard_normal((N, d)) / np.sqrt(d)).astype(dtype)
        X = chebyshev_recurrence(Lt, R, low)
        sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        self.features_ = _row_normalize(X)
        tick("features")
        # 3. sampling without replacement
        if self.sampling == "uniform":
            sample = rng.choice(N, n, replace=False)
        else:
            prob = np.maximum(sq, 0) / np.maximum(sq, 0).sum()
            sample = rng.choice(N, n, replace=False, p=prob)
        self.sample_ = np.sort(sample)
        tick("sampling")
        # 4. k-means on the sampled features only
        km = KMeans(k, n_init=self.n_init, random_state=_seed(rng))
        self.sample_labels_ = km.fit_predict(self.features_[self.sample_].astype(np.float64))
        tick("kmeans")
        assign = self.assign_labels
        if assign == "auto":
            q = p if self.interp_order is None else int(self.interp_order)
            q = 1 if self.regularizer == "laplacian" else q
            assign = choose_assign_labels(N, k, W.nnz // 2, d, q)
        self.assign_labels_ = assign
        if assign == "kmeans":  # ours: Lloyd on all nodes from the sample's centroids
            full = KMeans(k, init=km.cluster_centers_, n_init=1, max_iter=self.max_iter)
            full.fit(self.features_.astype(np.float64))
            self.labels_ = full.labels_
            self.n_iter_ = int(full.n_iter_)
            tick("interpolation")
            t["total"] = clock - t0
            self.timings_ = t
            return self
        # 5. interpolation of the k indicators
        if self.decoder == "subspace":
            C = subspace_decode(Lt, low, self.sample_, self.sample_labels_, k, random_state=rng)
            self.n_iter_ = 0
        else:  # the paper's: (M^T M + gamma g(L)) C = M^T C_r by block CG
            C, self.n_iter_ = self._decode_cg(Lt, lam, p, gamma, N, k, dtype)
        # 6. normalise the columns, argmax
        norms = np.linalg.norm(C, axis=0)
        norms[norms == 0] = 1.0
        self.labels_ = np.argmax(C / norms, axis=1)
        tick("interpolation")
        t["total"] = clock - t0
        self.timings_ = t
        return self

    def _decode_cg(self, Lt, lam, p, gamma, N, k, dtype):
        if self.regularizer == "laplacian":
            high = np.array([2.0, 1.0])  # c0 / 2 + c1 (L - I) = L on the rescaled operator
        else:
            q = p if self.interp_order is None else int(self.interp_order)
            high = jackson_chebyshev_coefficients((lam, 2.0), q)
        mask = np.zeros(N, dtype=dtype)
        mask[self.sample_] = 1.0
        B = np.zeros((N, k), dtype=dtype)
        B[self.sample_, self.sample_labels_] = 1.0
        diag = (mask + gamma)[:, None]

        def apply_A(V):
            out = chebyshev_recurrence(Lt, V, high)
            out *= gamma
            out += mask[:, None] * V
            return out

        return block_cg(
            apply_A,
            B,
            precond=lambda V: V / diag,
            tol=self.tol,
            max_iter=self.max_iter,
            callback=self.callback,
        )


#: Registry: notebook parameters name methods by these keys.
METHODS = {"sc": SpectralClustering, "csc": CompressiveSpectralClustering}
