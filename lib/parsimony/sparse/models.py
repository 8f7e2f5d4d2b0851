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
  graph (e.g. :func:`~parsimony.sparse.graphs.grid_graph`). Head and tail come from :mod:`parsimony.sparse.headtail`
  (``projection="pcst"``, HIS 2015; ``"lp"``, the randomized LP rounding of Yu, Cheng & Lu,
  ICPR 2020; ``"lp_det"``, its deterministic rounding).

Graphs and planted signals live in :mod:`parsimony.sparse.graphs`.
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_array, check_int
from parsimony.sparse.graphs import adjacency, check_edges, n_components, top_k
from parsimony.sparse.headtail import PROJECTIONS

__all__ = ["GraphSparse", "KSparse"]


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
        The undirected graph (e.g. :func:`~parsimony.sparse.graphs.grid_graph`).
    n_nodes : int
        Number of nodes, i.e. the signal length :math:`n`.
    s : int
        Sparsity.
    g : int
        Maximum number of connected components.
    projection : {"pcst", "lp", "lp_det"}
        Head/tail approximation, a key of :data:`parsimony.sparse.headtail.PROJECTIONS`.
    projection_params : dict, optional
        Keyword arguments of the projection (e.g. ``{"n_rounds": 10}`` for ``"lp"``).

    Examples
    --------
    >>> from parsimony.sparse.graphs import grid_graph
    >>> model = GraphSparse(grid_graph(3), 9, s=2)
    >>> model.tail(np.array([5.0, 0, 0, 0, 0, 0, 0, 0, 4.0])).size >= 2
    True
    """

    name = "graph"

    def __init__(self, edges, n_nodes, s, g=1, projection="pcst", projection_params=None):
        self.n_nodes = check_int(n_nodes, "n_nodes", low=1)
        self.edges = check_edges(edges, self.n_nodes)
        self.s = check_int(s, "s", low=1)
        if self.s > self.n_nodes:
            raise ValueError(f"s must be <= n_nodes ({self.n_nodes}), got {self.s}")
        self.g = check_int(g, "g", low=1, high=self.s)
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {sorted(PROJECTIONS)}, got {projection!r}")
        self.projection = projection
        self.projection_params = dict(projection_params or {})
        self.adj = adjacency(self.edges, self.n_nodes)
        self._project = PROJECTIONS[projection]

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
        return self._project(
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
        return self._project(
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
