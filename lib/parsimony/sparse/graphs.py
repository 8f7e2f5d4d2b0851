r"""Graphs and planted graph-structured signals for the sparsity models.

* :func:`grid_graph`: the 4-connected grid (pixels), :func:`adjacency` (CSR), edge checks.
* :func:`n_components`: connected components of the subgraph a support induces.
* :func:`random_connected_support` and :func:`planted_signal`: ``g`` connected blobs of
  ``s`` nodes in total grown by random breadth-first growth, with Gaussian amplitudes (the
  planted signals of the graph-sparsity experiments of Hegde, Indyk & Schmidt, ICML 2015).
* :func:`top_k`: the ``k`` largest magnitudes (the exact k-sparse projection).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from parsimony._validation import check_elements, check_int, check_random_state

__all__ = [
    "adjacency",
    "check_edges",
    "grid_graph",
    "n_components",
    "planted_signal",
    "random_connected_support",
    "top_k",
]


def top_k(b: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``|b_i|``, sorted (ties: lowest index first)."""
    b = np.abs(np.asarray(b))
    k = min(int(k), b.size)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k >= b.size:
        return np.arange(b.size)
    idx = np.argsort(-b, kind="stable")[:k]
    return np.sort(idx)


def grid_graph(n_rows: int, n_cols: int | None = None) -> np.ndarray:
    """Edges of the 4-connected ``n_rows x n_cols`` grid, node ``i * n_cols + j``.

    Returns an ``(E, 2)`` int64 array, ``E = n_rows (n_cols - 1) + n_cols (n_rows - 1)``.

    Examples
    --------
    >>> grid_graph(2, 3).tolist()
    [[0, 1], [1, 2], [3, 4], [4, 5], [0, 3], [1, 4], [2, 5]]
    """
    n_rows = check_int(n_rows, "n_rows", low=1)
    n_cols = n_rows if n_cols is None else check_int(n_cols, "n_cols", low=1)
    check_elements(2 * n_rows * n_cols, "2 * n_rows * n_cols")
    ids = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    horiz = np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])
    vert = np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()])
    return np.vstack([horiz, vert]).astype(np.int64)


def check_edges(edges, n_nodes) -> np.ndarray:
    """``edges`` as an ``(E, 2)`` int64 array of node indices in ``[0, n_nodes)``."""
    if edges is None or isinstance(edges, str | bytes):
        raise TypeError(f"edges must be an (E, 2) array of node ids, got {type(edges).__name__}")
    edges = np.asarray(edges)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must have shape (E, 2), got {edges.shape}")
    if not np.issubdtype(edges.dtype, np.integer):
        raise TypeError(f"edges must hold integers, got {edges.dtype}")
    if edges.size and (edges.min() < 0 or edges.max() >= n_nodes):
        raise ValueError(
            f"edges must index nodes in [0, {n_nodes}), got {edges.min()}..{edges.max()}"
        )
    return edges.astype(np.int64)


def adjacency(edges: np.ndarray, n_nodes: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency matrix (CSR) of an undirected edge list."""
    n_nodes = check_int(n_nodes, "n_nodes", low=1)
    e = check_edges(edges, n_nodes)
    data = np.ones(2 * len(e))
    A = sp.coo_matrix(
        (data, (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n_nodes, n_nodes)
    ).tocsr()
    A.data[:] = 1.0
    return A


def n_components(support, adj: sp.spmatrix) -> int:
    """Number of connected components of the subgraph induced by ``support`` (0 if empty)."""
    adj = sp.csr_matrix(adj)
    if support is None or isinstance(support, str | bytes):
        raise TypeError(f"support must be an array of node ids, got {type(support).__name__}")
    support = np.asarray(support)
    if support.size and not np.issubdtype(support.dtype, np.integer):
        raise TypeError(f"support must hold integer node ids, got dtype {support.dtype}")
    if support.size and (support.min() < 0 or support.max() >= adj.shape[0]):
        raise ValueError(f"support must index nodes in [0, {adj.shape[0]})")
    support = np.unique(support.astype(np.intp))
    if support.size == 0:
        return 0
    sub = adj[support][:, support]
    return int(connected_components(sub, directed=False)[0])


def random_connected_support(adj: sp.spmatrix, s: int, g: int = 1, random_state=None) -> np.ndarray:
    """``g`` disjoint connected node sets of ``s`` nodes in total, grown by random BFS.

    Each component starts at a uniformly random free node and repeatedly adds a uniformly
    random free neighbour of the nodes grown so far (a random breadth-first growth), so the
    union is connected per component; components are kept apart (no shared edges).
    """
    adj = sp.csr_matrix(adj)
    n = adj.shape[0]
    s = check_int(s, "s", low=1, high=n)
    g = check_int(g, "g", low=1, high=s)
    rng = check_random_state(random_state)
    sizes = np.full(g, s // g)
    sizes[: s % g] += 1
    taken = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)  # taken nodes and their neighbours
    for size in sizes:
        for _ in range(100):
            free = np.flatnonzero(~blocked)
            if free.size == 0:
                break
            comp = [int(rng.choice(free))]
            inside = np.zeros(n, dtype=bool)
            inside[comp[0]] = True
            while len(comp) < size:
                frontier = np.unique(adj[comp].indices)
                frontier = frontier[~inside[frontier] & ~blocked[frontier]]
                if frontier.size == 0:
                    break
                v = int(rng.choice(frontier))
                comp.append(v)
                inside[v] = True
            if len(comp) == size:
                taken[comp] = True
                blocked[comp] = True
                blocked[np.unique(adj[comp].indices)] = True
                break
        else:
            raise ValueError(f"cannot place {g} separate components of sizes {sizes.tolist()}")
    return np.flatnonzero(taken)


def planted_signal(
    adj: sp.spmatrix, s: int, g: int = 1, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """A signal with Gaussian amplitudes on a random connected support (see above).

    Returns ``(x, support)``.
    """
    rng = check_random_state(random_state)
    support = random_connected_support(adj, s, g, rng)
    x = np.zeros(adj.shape[0])
    x[support] = rng.standard_normal(support.size)
    return x, support
