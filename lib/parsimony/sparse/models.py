r"""Sparsity models: plain :math:`k`-sparse and graph-structured (connected) supports.

A *model* :math:`\mathcal{M}` is a family of admissible supports. Model-based compressive
sensing (Baraniuk, Cevher, Duarte & Hegde, IEEE Trans. Inf. Theory 2010) replaces the
hard threshold of CoSaMP / IHT by projections onto :math:`\mathcal{M}`; Hegde, Indyk &
Schmidt (ICML 2015) showed that *approximate* projections suffice:

.. math::
   \text{head: } \|b_{H(b)}\|^2 \ge c_H \max_{S \in \mathcal{M}} \|b_S\|^2, \qquad
   \text{tail: } \|b - b_{T(b)}\|^2 \le c_T \min_{S \in \mathcal{M}} \|b - b_S\|^2 .

* :class:`KSparse`: all supports of size :math:`\le k`; head and tail are exact (top-:math:`k`).
* :class:`GraphSparse`: the weighted graph model of HIS 2015 at unit edge weights: supports
  of at most :math:`s` nodes that form at most :math:`g` connected components of a given
  graph (e.g. :func:`grid_graph`). Head and tail come from :mod:`parsimony.sparse.headtail`
  (``projection="pcst"``, HIS 2015; ``"lp"``, the randomized LP rounding of Yu, Cheng & Lu,
  ICPR 2020; ``"lp_det"``, its deterministic rounding).

Helpers: :func:`grid_graph`, :func:`n_components` (of an induced subgraph),
:func:`random_connected_support` (grown by random BFS, the card's planted signals) and
:func:`planted_signal`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from parsimony._validation import check_array, check_int, check_random_state

__all__ = [
    "GraphSparse",
    "KSparse",
    "adjacency",
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
    ids = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    horiz = np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])
    vert = np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()])
    return np.vstack([horiz, vert]).astype(np.int64)


def _check_edges(edges, n_nodes) -> np.ndarray:
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
    e = np.asarray(edges, dtype=np.int64)
    data = np.ones(2 * len(e))
    A = sp.coo_matrix(
        (data, (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n_nodes, n_nodes)
    ).tocsr()
    A.data[:] = 1.0
    return A


def n_components(support, adj: sp.spmatrix) -> int:
    """Number of connected components of the subgraph induced by ``support`` (0 if empty)."""
    support = np.unique(np.asarray(support, dtype=np.intp))
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


class KSparse:
    """All supports of at most ``k`` entries; head and tail are the exact top-``k``.

    Examples
    --------
    >>> KSparse(2).tail(np.array([0.1, -3.0, 2.0, 0.5])).tolist()
    [1, 2]
    """

    name = "ksparse"

    def __init__(self, k: int):
        self.k = check_int(k, "k", low=1)
        self.s = self.k
        self.g = 1

    def check(self, n_features: int) -> None:
        if self.k > n_features:
            raise ValueError(f"k must be <= n_features ({n_features}), got {self.k}")

    def head(self, b, s=None, g=None, random_state=None) -> np.ndarray:
        return top_k(b, self.k if s is None else s)

    def tail(self, b, s=None, g=None, random_state=None) -> np.ndarray:
        return top_k(b, self.k if s is None else s)

    def __repr__(self) -> str:
        return f"KSparse(k={self.k})"


class GraphSparse:
    r"""Supports of at most ``s`` nodes forming at most ``g`` connected components.

    Parameters
    ----------
    edges : array (E, 2) of int
        The undirected graph (e.g. :func:`grid_graph`).
    n_nodes : int
        Number of nodes, i.e. the signal length :math:`n`.
    s : int
        Sparsity.
    g : int
        Maximum number of connected components.
    projection : {"pcst", "lp", "lp_det"}
        Head/tail approximation, a key of :data:`parsimony.sparse.headtail.METHODS`.
    projection_params : dict, optional
        Keyword arguments of the projection (e.g. ``{"n_rounds": 10}`` for ``"lp"``).

    Examples
    --------
    >>> model = GraphSparse(grid_graph(3), 9, s=2)
    >>> model.tail(np.array([5.0, 0, 0, 0, 0, 0, 0, 0, 4.0])).size >= 2
    True
    """

    name = "graph"

    def __init__(self, edges, n_nodes, s, g=1, projection="pcst", projection_params=None):
        from parsimony.sparse.headtail import METHODS

        self.n_nodes = check_int(n_nodes, "n_nodes", low=1)
        self.edges = _check_edges(edges, self.n_nodes)
        self.s = check_int(s, "s", low=1)
        if self.s > self.n_nodes:
            raise ValueError(f"s must be <= n_nodes ({self.n_nodes}), got {self.s}")
        self.g = check_int(g, "g", low=1, high=self.s)
        if projection not in METHODS:
            raise ValueError(f"projection must be one of {sorted(METHODS)}, got {projection!r}")
        self.projection = projection
        self.projection_params = dict(projection_params or {})
        self.adj = adjacency(self.edges, self.n_nodes)
        self._head, self._tail = METHODS[projection]

    @property
    def k(self) -> int:
        return self.s

    def check(self, n_features: int) -> None:
        if n_features != self.n_nodes:
            raise ValueError(f"the model has {self.n_nodes} nodes but A has {n_features} columns")

    def is_admissible(self, support, slack: float = 0.0) -> bool:
        """``|S| <= (1 + slack) s`` and at most ``g`` connected components."""
        support = np.unique(np.asarray(support, dtype=np.intp))
        return support.size <= (1 + slack) * self.s and n_components(support, self.adj) <= self.g

    def head(self, b, s=None, g=None, random_state=None) -> np.ndarray:
        b = check_array(b, "b", ndim=1)
        return self._head(
            b,
            self.edges,
            self.s if s is None else s,
            self.g if g is None else g,
            adj=self.adj,
            random_state=random_state,
            **self.projection_params,
        )

    def tail(self, b, s=None, g=None, random_state=None) -> np.ndarray:
        b = check_array(b, "b", ndim=1)
        return self._tail(
            b,
            self.edges,
            self.s if s is None else s,
            self.g if g is None else g,
            adj=self.adj,
            random_state=random_state,
            **self.projection_params,
        )

    def __repr__(self) -> str:
        return f"GraphSparse(n_nodes={self.n_nodes}, s={self.s}, g={self.g}, projection={self.projection!r})"
