r"""Graphs for spectral clustering: stochastic block models, k-NN graphs, Laplacians.

Tremblay, Puy, Gribonval & Vandergheynst, "Compressive Spectral Clustering", ICML 2016
(arXiv:1602.02018), Section 5 and the CSCbox generator ``create_SBM.m``.

**Stochastic block model.** :math:`k` communities, average degree :math:`c`, difficulty
:math:`\epsilon = p_{out} / p_{in}`, with

.. math:: p_{in} = \frac{k c}{N - k + (k - 1) \epsilon N}, \qquad p_{out} = \epsilon\, p_{in},
          \qquad \epsilon_c = \frac{c - \sqrt c}{c + \sqrt c (k - 1)} ,

:math:`\epsilon_c` being the detectability threshold. :func:`sbm` draws, for every pair of
blocks, the number of edges from a binomial and then that many distinct node pairs
uniformly at random (no loop over nodes or node pairs: :math:`10^6` nodes take seconds).

**Normalised Laplacian.** :math:`L = I - D^{-1/2} W D^{-1/2}`, spectrum in :math:`[0, 2]`
(isolated nodes get :math:`D^{-1/2} = 0`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from parsimony._validation import (
    check_array,
    check_choice,
    check_elements,
    check_float,
    check_int,
    check_random_state,
)

__all__ = [
    "check_adjacency",
    "epsilon_critical",
    "knn_graph",
    "laplacian",
    "normalized_adjacency",
    "sbm",
    "sbm_probabilities",
]


# --------------------------------------------------------------------------------- inputs
def check_adjacency(W, name: str = "W", *, allow_isolated: bool = False) -> sp.csr_matrix:
    """Return ``W`` as a float64 CSR matrix after checking it is a valid weighted graph.

    Raises ``ValueError`` (naming ``name``) when ``W`` is not square, not symmetric, has
    negative or non-finite weights, or (unless ``allow_isolated``) has an isolated node;
    ``TypeError`` when it is not numeric.
    """
    if sp.issparse(W):
        if W.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {W.shape}")
        try:
            W = sp.csr_matrix(W, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric, got dtype {W.dtype}") from exc
    else:
        W = sp.csr_matrix(check_array(W, name, finite=False))
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"{name} must be square, got shape {W.shape}")
    if W.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 nodes, got shape {W.shape}")
    W.sum_duplicates()
    if not np.all(np.isfinite(W.data)):
        raise ValueError(f"{name} has NaN or infinite weights")
    if np.any(W.data < 0):
        raise ValueError(f"{name} has negative weights (min {W.data.min():.3g})")
    diff = abs(W - W.T)
    scale = float(W.data.max()) if W.nnz else 1.0
    if diff.nnz and diff.max() > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric, max |W - W^T| = {diff.max():.3g}")
    W.eliminate_zeros()
    if not allow_isolated:
        deg = np.asarray(W.sum(axis=1)).ravel()
        isolated = np.flatnonzero(deg <= 0)
        if isolated.size:
            raise ValueError(
                f"{name} has {isolated.size} isolated node(s) (zero degree), e.g. node "
                f"{int(isolated[0])}; remove them or add self-loops"
            )
    return W


# ------------------------------------------------------------------------ stochastic block
def epsilon_critical(avg_degree, n_clusters) -> float:
    r"""Detectability threshold :math:`\epsilon_c = (c - \sqrt c) / (c + \sqrt c (k - 1))`.

    Examples
    --------
    >>> round(epsilon_critical(16, 10), 4)
    0.2308
    """
    c = check_float(avg_degree, "avg_degree", low=0.0, low_inclusive=False)
    k = check_int(n_clusters, "n_clusters", low=2)
    return float((c - np.sqrt(c)) / (c + np.sqrt(c) * (k - 1)))


def sbm_probabilities(n_nodes, n_clusters, avg_degree, epsilon) -> tuple[float, float]:
    r""":math:`(p_{in}, p_{out})` of the SBM with average degree :math:`c` (``create_SBM.m``)."""
    N, k = n_nodes, n_clusters
    p_in = k * avg_degree / (N - k + (k - 1) * epsilon * N)
    return float(p_in), float(epsilon * p_in)


def _triangle_index(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position ``t`` in the strict upper triangle (column by column) -> ``(row, col)``."""
    c = np.floor((1.0 + np.sqrt(1.0 + 8.0 * t.astype(np.float64))) / 2.0).astype(np.int64)
    c -= (c * (c - 1) // 2) > t  # float rounding at exact squares
    c += ((c + 1) * c // 2) <= t
    return t - c * (c - 1) // 2, c


def sbm(n_nodes, n_clusters, avg_degree, epsilon, random_state=None, sizes=None):
    r"""Stochastic block model: an undirected graph with planted communities.

    Parameters
    ----------
    n_nodes : int
        Number of nodes :math:`N`.
    n_clusters : int
        Number of communities :math:`k` (equal sizes unless ``sizes`` is given).
    avg_degree : float
        Expected average degree :math:`c` (for equal sizes).
    epsilon : float
        :math:`p_{out} / p_{in}` in :math:`[0, 1]`; see :func:`epsilon_critical`.
    random_state : int, Generator or None
    sizes : sequence of int, optional
        Community sizes, summing to ``n_nodes``.

    Returns
    -------
    W : scipy.sparse.csr_matrix, shape (N, N)
        Symmetric 0/1 adjacency without self-loops.
    labels : ndarray of int, shape (N,)
        The planted community of each node.

    Notes
    -----
    For every pair of blocks :math:`(a \le b)` the number of edges is drawn from
    :math:`\mathrm{Bin}(\#\text{pairs}, p_{ab})`, then that many distinct pairs uniformly
    (all blocks at once: draws with replacement, duplicates redrawn, which is exact by
    symmetry).

    Examples
    --------
    >>> W, y = sbm(1000, 4, 10, 0.05, random_state=0)
    >>> W.shape, bool((W != W.T).nnz == 0), round(float(W.sum()) / 1000)
    ((1000, 1000), True, 10)
    """
    N = check_int(n_nodes, "n_nodes", low=2)
    k = check_int(n_clusters, "n_clusters", low=1, high=N)
    c = check_float(avg_degree, "avg_degree", low=0.0)
    eps = check_float(epsilon, "epsilon", low=0.0, high=1.0)
    check_elements(int(N * max(c, 1.0)), "n_nodes * avg_degree")
    if sizes is None:
        s = np.full(k, N // k, dtype=np.int64)
        s[: N % k] += 1
    else:
        s = np.asarray(sizes)
        if s.shape != (k,) or not np.issubdtype(s.dtype, np.integer) or np.any(s < 1):
            raise ValueError(f"sizes must be {k} positive integers, got {sizes!r}")
        if int(s.sum()) != N:
            raise ValueError(f"sizes must sum to n_nodes={N}, got {int(s.sum())}")
        s = s.astype(np.int64)
    p_in, p_out = sbm_probabilities(N, k, c, eps)
    if p_in > 1:
        raise ValueError(f"avg_degree={c} is too large for n_nodes={N}: p_in = {p_in:.3g} > 1")
    rng = check_random_state(random_state)
    offsets = np.concatenate([[0], np.cumsum(s)])
    a, b = np.triu_indices(k)
    n_pairs = np.where(a == b, s[a] * (s[a] - 1) // 2, s[a] * s[b])
    prob = np.where(a == b, p_in, p_out)
    m = rng.binomial(n_pairs, prob)

    def draw(block_pair_of_edge):
        t = np.floor(rng.random(block_pair_of_edge.size) * n_pairs[block_pair_of_edge])
        t = np.minimum(t.astype(np.int64), n_pairs[block_pair_of_edge] - 1)
        ba, bb = a[block_pair_of_edge], b[block_pair_of_edge]
        same = ba == bb
        r, q = np.empty_like(t), np.empty_like(t)
        r[same], q[same] = _triangle_index(t[same])
        r[~same], q[~same] = np.divmod(t[~same], s[bb[~same]])
        return r + offsets[ba], q + offsets[bb]

    pair_of_edge = np.repeat(np.arange(a.size), m)
    rows, cols = draw(pair_of_edge)
    while True:  # redraw duplicated pairs until all are distinct
        key = rows * N + cols
        _, first = np.unique(key, return_index=True)
        if first.size == key.size:
            break
        keep = np.zeros(key.size, dtype=bool)
        keep[first] = True
        redo = pair_of_edge[~keep]
        new_r, new_c = draw(redo)
        rows = np.concatenate([rows[keep], new_r])
        cols = np.concatenate([cols[keep], new_c])
        pair_of_edge = np.concatenate([pair_of_edge[keep], redo])
    data = np.ones(2 * rows.size)
    W = sp.csr_matrix(
        (data, (np.concatenate([rows, cols]), np.concatenate([cols, rows]))), shape=(N, N)
    )
    labels = np.repeat(np.arange(k), s)
    return W, labels


# --------------------------------------------------------------------------- point clouds
def knn_graph(X, n_neighbors=10, *, mode="connectivity"):
    r"""Symmetric k-nearest-neighbour graph of the rows of ``X``.

    :math:`W_{ij} = 1` (``mode="connectivity"``) or
    :math:`\exp(-\|x_i - x_j\|^2 / \sigma^2)` with :math:`\sigma` the median k-NN distance
    (``mode="gaussian"``) when :math:`j` is among the ``n_neighbors`` nearest neighbours of
    :math:`i` or :math:`i` among those of :math:`j`.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> W = knn_graph(X, 5)
    >>> bool((W != W.T).nnz == 0), bool(W.sum(axis=1).min() >= 5)
    (True, True)
    """
    from sklearn.neighbors import kneighbors_graph

    X = check_array(X, "X", min_rows=2)
    n_neighbors = check_int(n_neighbors, "n_neighbors", low=1, high=X.shape[0] - 1)
    check_choice(mode, "mode", {"connectivity", "gaussian"})
    D = kneighbors_graph(X, n_neighbors, mode="distance", include_self=False).tocsr()
    if mode == "gaussian":
        sigma = float(np.median(D.data)) or 1.0
        D.data = np.exp(-((D.data / sigma) ** 2))
    else:
        D.data = np.ones_like(D.data)
    W = D.maximum(D.T).tocsr()
    return W


# ------------------------------------------------------------------------------ Laplacians
def _inv_sqrt_degree(W) -> np.ndarray:
    deg = np.asarray(W.sum(axis=1)).ravel()
    out = np.zeros_like(deg, dtype=np.float64)
    pos = deg > 0
    out[pos] = 1.0 / np.sqrt(deg[pos])
    return out


def normalized_adjacency(W, dtype=np.float64) -> sp.csr_matrix:
    r""":math:`D^{-1/2} W D^{-1/2}` as CSR (rows of isolated nodes are zero).

    ``W`` must be square with finite non-negative weights (checked in O(nnz); symmetry,
    which costs a transpose, is checked by :func:`check_adjacency`).
    """
    W = W if sp.issparse(W) else sp.csr_matrix(check_array(W, "W", finite=False))
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {W.shape}")
    if not np.all(np.isfinite(W.data)):
        raise ValueError("W has NaN or infinite weights")
    if W.nnz and W.data.min() < 0:
        raise ValueError(f"W has negative weights (min {W.data.min():.3g})")
    d = _inv_sqrt_degree(W)
    A = sp.csr_matrix(sp.diags(d) @ W @ sp.diags(d))
    return A.astype(dtype)


def laplacian(W, kind="normalized"):
    r"""Graph Laplacian of a symmetric non-negative ``W``.

    ``kind="normalized"``: :math:`L = I - D^{-1/2} W D^{-1/2}` (spectrum in :math:`[0, 2]`;
    an isolated node gets a zero row and column). ``kind="combinatorial"``: :math:`D - W`.

    Examples
    --------
    >>> W = sp.csr_matrix(np.array([[0, 1.0], [1.0, 0]]))
    >>> laplacian(W).toarray()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    check_choice(kind, "kind", {"normalized", "combinatorial"})
    W = check_adjacency(W, allow_isolated=True)
    if kind == "combinatorial":
        deg = np.asarray(W.sum(axis=1)).ravel()
        return sp.csr_matrix(sp.diags(deg) - W)
    A = normalized_adjacency(W)
    has_edge = (np.asarray(W.sum(axis=1)).ravel() > 0).astype(np.float64)
    return sp.csr_matrix(sp.diags(has_edge) - A)
