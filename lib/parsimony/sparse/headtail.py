r"""Head and tail approximations for the graph-structured sparsity model.

Given :math:`b \in \mathbb{R}^n` on a graph :math:`G = (V, E)`, both look for a support
:math:`S` of (about) :math:`s` nodes forming at most :math:`g` connected components that
captures much of the energy :math:`\|b_S\|^2` (head) or leaves little residual
:math:`\|b - b_S\|^2` (tail); see :mod:`parsimony.sparse.models` for the guarantees.

Two families, each one routine serving as head and tail, in :data:`PROJECTIONS`:

``"pcst"``: Hegde, Indyk & Schmidt, "A Nearly-Linear Time Framework for Graph-Structured
Sparsity", ICML 2015 (HIS 2015). Prize-collecting Steiner forest with prizes
:math:`\pi_i = b_i^2`, a uniform edge cost :math:`\lambda`, :math:`g` trees and
Goemans-Williamson pruning, solved by ``pcst_fast`` (PyPI ``pcst-fast2``, the
``fraenkel-lab/pcst_fast`` code), with a binary search on :math:`\lambda \in [0, \max\pi]`
until :math:`|S| \in [s, (1 + \gamma) s]`, as in the public experiment code
(``cluster_k_approx.m``; :math:`\gamma = 0.1`, 10 steps by default). When the search misses
the window (GW's output size jumps with :math:`\lambda` on small graphs), ``pcst_project.misses``
counts it and, **ours**, the smallest support found above the window is pruned (lowest-prize
leaves of a spanning forest) and the largest below it grown (best neighbour) to the window,
and the one of larger energy is returned; both keep at most :math:`g` components. Head and tail
are the same routine, called with :math:`(2s, 2g)` and :math:`(s, g)` by graph-CoSaMP, as
in ``cosamp_cluster.m``.

``"lp"``: Yu, Cheng & Lu, "A Randomized Algorithm for Sparse Recovery", ICPR 2020. The
abstract states: the projection is posed as a constrained graph optimisation, relaxed to a
linear program, and rounded by a randomized algorithm to an integral support that is
optimal in expectation. The formulation and rounding below are **our reconstruction**
(the paper's details are not public; the design follows the paper card):

* *Rooted flow LP* (:math:`g = 1`), for each of the ``n_roots`` largest :math:`|b_r|`,
  solved with ``scipy.optimize.linprog(method="highs")``:

  .. math::
     \max_{y, f}\ \sum_v b_v^2 y_v \quad\text{s.t.}\quad
     \sum_v y_v \le s,\ y_r = 1,\ 0 \le y \le 1,\
     \sum_{u} f_{uv} - \sum_{u} f_{vu} = y_v\ (v \ne r),\
     0 \le f_{uv} \le (s - 1) \min(y_u, y_v),

  where :math:`f` lives on both directions of every edge. An integral solution is exactly a
  connected support of at most :math:`s` nodes containing :math:`r` (the root ships one
  unit of flow to each chosen node along the tree), so the LP is a relaxation of the
  model projection.
* *Randomized rounding*: keep node :math:`v` with probability
  :math:`\min(1, \alpha y_v)` (and the root); reconnect the kept nodes to the root by
  shortest (breadth-first) paths inside the LP's support :math:`\{v : y_v > 0\}`; prune the
  leaves with the smallest :math:`b_v^2` until :math:`s` nodes remain (pruning leaves keeps
  the tree connected), or grow by the best neighbour if fewer; repeat ``n_rounds`` times and
  keep the support of largest energy, over all roots.
* :math:`g > 1` (ours): the same LP with :math:`g` roots fixed in the support (a virtual
  source feeds each root, at most :math:`s` units), the roots chosen greedily: one of the
  ``n_roots`` largest nodes, then the largest nodes not adjacent to a chosen root; the
  rounding reconnects each kept node to its nearest root, keeps at most :math:`g` trees.
* Head and tail are the same routine (the tail at budget :math:`s` returns exactly
  :math:`s` nodes when the graph allows it, so :math:`|S| \ge s` as the card asks).

``"lp_det"`` is the deterministic counterpart used in the ablation: the same LP, rounded
once by thresholding :math:`y_v \ge 1/2`, then the same reconnection and pruning.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import breadth_first_order

from parsimony._validation import check_array, check_float, check_int, check_random_state
from parsimony.sparse.graphs import adjacency, top_k

__all__ = ["PROJECTIONS", "lp_det_project", "lp_project", "pcst_project"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pcst (HIS 2015)
def pcst_project(
    b, edges, s, g=1, *, adj=None, random_state=None, gamma=0.1, max_steps=10, pruning="gw"
) -> np.ndarray:
    r"""HIS 2015 head/tail: PCSF-GW with a binary search on the edge cost.

    Parameters
    ----------
    b : array (n,)
        The vector to project (prizes are :math:`b_i^2`).
    edges : array (E, 2) of int
    s, g : int
        Target sparsity and number of trees.
    gamma : float
        Accepted relative excess: :math:`s \le |S| \le (1 + \gamma) s`.
    max_steps : int
        Binary-search steps on :math:`\lambda \in [0, \max_i b_i^2]`.
    pruning : {"gw", "strong"}
        ``pcst_fast``'s pruning.
    adj, random_state
        Unused (deterministic; accepted for a common signature).

    Returns
    -------
    array of int
        The sorted support.

    Examples
    --------
    >>> from parsimony.sparse.graphs import grid_graph
    >>> b = np.zeros(16); b[[0, 1, 2, 15]] = [3.0, 2.0, 2.5, 1.0]
    >>> pcst_project(b, grid_graph(4), 3).tolist()
    [0, 1, 2]
    """
    import pcst_fast

    b = check_array(b, "b", ndim=1)
    n = b.size
    s = check_int(s, "s", low=1, high=n)
    g = check_int(g, "g", low=1)
    gamma = check_float(gamma, "gamma", low=0.0)
    edges = np.ascontiguousarray(edges, dtype=np.int64)
    prizes = b**2
    top = prizes.max()
    if top <= 0:
        return np.arange(s)
    prizes = prizes / top
    hi_size = int(np.floor((1 + gamma) * s))

    def run(lam):
        costs = np.full(len(edges), lam, dtype=np.float64)
        nodes, _ = pcst_fast.pcst_fast(edges, prizes, costs, -1, g, pruning, 0)
        return np.sort(nodes.astype(np.intp))

    lo, hi = 0.0, 1.0  # prizes are scaled to max 1
    best_over, best_under = None, None
    for _ in range(max_steps):
        lam = 0.5 * (lo + hi)
        S = run(lam)
        if s <= S.size <= hi_size:
            return S
        if S.size > hi_size:
            lo = lam
            if best_over is None or S.size < best_over.size:
                best_over = S
        else:
            hi = lam
            if best_under is None or S.size > best_under.size:
                best_under = S
    pcst_project.misses += 1
    log.debug("pcst binary search missed [%d, %d] for s = %d", s, hi_size, s)
    if best_over is None:
        S = run(0.0)
        best_over = S if S.size >= s else None
    adj = adjacency(edges, n) if adj is None else sp.csr_matrix(adj)
    fits = [_fit_size(S, prizes, adj, s, hi_size) for S in (best_over, best_under) if S is not None]
    return max(fits, key=lambda S: (prizes[S].sum(), -S.size))


def _fit_size(S, w, adj, s, hi):
    """Ours: prune the lowest-prize leaves of ``S`` down to ``hi`` nodes, or grow it to ``s``.

    Leaves are taken in a breadth-first spanning forest of the subgraph induced by ``S``,
    unrooted (a node whose remaining tree degree is at most 1); removing one keeps the
    number of components, and so does adding the best neighbour when growing.
    """
    n = w.size
    if S.size > hi:
        sub = adj[S][:, S]
        pred = np.full(S.size, -1)
        seen = np.zeros(S.size, dtype=bool)
        for start in range(S.size):  # a BFS forest of the induced subgraph
            if seen[start]:
                continue
            order, p = breadth_first_order(sub, start, directed=False, return_predecessors=True)
            seen[order] = True
            pred[order[1:]] = p[order[1:]]
        child = np.flatnonzero(pred >= 0)
        nbrs = [[] for _ in range(S.size)]
        for c in child:
            nbrs[c].append(pred[c])
            nbrs[pred[c]].append(c)
        degree = np.array([len(v) for v in nbrs])
        alive = np.ones(S.size, dtype=bool)
        for _ in range(S.size - hi):
            leaves = np.flatnonzero(alive & (degree <= 1))
            v = leaves[np.argmin(w[S[leaves]])]
            alive[v] = False
            for u in nbrs[v]:
                degree[u] -= 1
        return S[alive]
    inside = np.zeros(n, dtype=bool)
    inside[S] = True
    while inside.sum() < s:
        frontier = np.flatnonzero((adj @ inside.astype(np.float64) > 0) & ~inside)
        if frontier.size == 0:
            break
        inside[frontier[np.argmax(w[frontier])]] = True
    return np.flatnonzero(inside)


pcst_project.misses = 0


# --------------------------------------------------------------------- LP (Yu, Cheng, Lu 2020)
def _arcs(edges):
    """Both directions of every edge: tails, heads (2E each)."""
    e = np.asarray(edges, dtype=np.int64)
    return np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]]


def _solve_flow_lp(w, edges, s, roots, g, fixed=True):
    r"""Solve the flow LP; ``fixed``: every root is in the support (:math:`y_r = z_r = 1`).

    Variables ``[y (n), z (|R|), f (2E), f0 (|R|)]``. Returns ``(y, z)``.
    """
    n = w.size
    tail, head = _arcs(edges)
    n_arcs = tail.size
    R = np.asarray(roots, dtype=np.intp)
    nr = R.size
    n_var = n + nr + n_arcs + nr
    iy, iz, i_f, i0 = 0, n, n + nr, n + nr + n_arcs
    c = np.zeros(n_var)
    c[:n] = -w
    cap = max(s - 1, 1)
    arc = np.arange(n_arcs)
    rows, cols, vals = [], [], []
    # sum y <= s
    rows.append(np.zeros(n, dtype=np.intp)), cols.append(np.arange(n)), vals.append(np.ones(n))
    # f_uv - cap y_u <= 0 ; f_uv - cap y_v <= 0
    r1 = 1 + arc
    r2 = 1 + n_arcs + arc
    rows += [r1, r1, r2, r2]
    cols += [i_f + arc, iy + tail, i_f + arc, iy + head]
    vals += [np.ones(n_arcs), -cap * np.ones(n_arcs), np.ones(n_arcs), -cap * np.ones(n_arcs)]
    n_ub = 1 + 2 * n_arcs
    # f0_r - s z_r <= 0 ; z_r - y_r <= 0 ; sum z <= g
    rr = n_ub + np.arange(nr)
    rows += [rr, rr]
    cols += [i0 + np.arange(nr), iz + np.arange(nr)]
    vals += [np.ones(nr), -float(s) * np.ones(nr)]
    rz = n_ub + nr + np.arange(nr)
    rows += [rz, rz]
    cols += [iz + np.arange(nr), iy + R]
    vals += [np.ones(nr), -np.ones(nr)]
    (
        rows.append(np.full(nr, n_ub + 2 * nr)),
        cols.append(iz + np.arange(nr)),
        vals.append(np.ones(nr)),
    )
    n_ub += 2 * nr + 1
    A_ub = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_ub, n_var)
    )
    b_ub = np.zeros(n_ub)
    b_ub[0] = s
    b_ub[-1] = g
    # conservation: inflow + f0 - outflow - y = 0 at every node
    eq_rows = [head, tail, R, np.arange(n)]
    eq_cols = [i_f + arc, i_f + arc, i0 + np.arange(nr), iy + np.arange(n)]
    eq_vals = [np.ones(n_arcs), -np.ones(n_arcs), np.ones(nr), -np.ones(n)]
    A_eq = sp.csr_matrix(
        (np.concatenate(eq_vals), (np.concatenate(eq_rows), np.concatenate(eq_cols))),
        shape=(n, n_var),
    )
    bounds = np.zeros((n_var, 2))
    bounds[:, 1] = np.inf
    bounds[: n + nr, 1] = 1.0
    if fixed:
        bounds[iy + R, 0] = 1.0
        bounds[iz : iz + nr, 0] = 1.0
    res = linprog(
        c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=np.zeros(n), bounds=bounds, method="highs"
    )
    if res.status != 0:  # pragma: no cover - the LP is always feasible (y = e_r)
        raise RuntimeError(f"flow LP failed: {res.message}")
    return np.clip(res.x[:n], 0, 1), np.clip(res.x[iz : iz + nr], 0, 1)


def _round(w, y, roots, keep, adj_h, adj, s, g):
    """Reconnect ``keep`` to ``roots`` inside ``adj_h``, keep g trees, prune/grow to s."""
    n = w.size
    # BFS from a virtual source n linked to the roots, inside the LP support
    aug = sp.bmat(
        [
            [
                adj_h,
                sp.csr_matrix(
                    (np.ones(len(roots)), (roots, np.zeros(len(roots), int))), shape=(n, 1)
                ),
            ],
            [None, sp.csr_matrix((1, 1))],
        ],
        format="csr",
    )
    aug = (aug + aug.T).tocsr()
    _, pred = breadth_first_order(aug, n, directed=False, return_predecessors=True)
    pred = pred[:n]
    in_tree = np.zeros(n, dtype=bool)
    for v in np.flatnonzero(keep & (pred >= 0)):
        while v != n and v >= 0 and not in_tree[v]:
            in_tree[v] = True
            v = pred[v]
    # trees: label each node by its root
    nodes = np.flatnonzero(in_tree)
    label = np.full(n, -1)
    for v in nodes:
        u = v
        while pred[u] != n:
            u = pred[u]
        label[v] = u
    if g < len(roots):
        energy = {r: w[label == r].sum() for r in np.unique(label[nodes])}
        best = sorted(energy, key=lambda r: (-energy[r], r))[:g]
        in_tree &= np.isin(label, best)
    # prune the lowest-energy leaves (unrooted) to s nodes, or grow by the best neighbour
    return _fit_size(np.flatnonzero(in_tree), w, adj, s, s)


def _spread_roots(w, adj, first, g):
    """``first``, then greedily the largest ``w`` not adjacent to a chosen root (g roots)."""
    roots = [int(first)]
    blocked = np.zeros(w.size, dtype=bool)
    order = np.argsort(-w, kind="stable")
    while len(roots) < g:
        blocked[roots[-1]] = True
        blocked[adj[roots[-1]].indices] = True
        free = order[~blocked[order]]
        if free.size == 0:
            break
        roots.append(int(free[0]))
    return roots


def lp_project(
    b,
    edges,
    s,
    g=1,
    *,
    adj=None,
    random_state=None,
    n_roots=2,
    n_rounds=10,
    alpha=1.0,
    randomized=True,
    tol=1e-7,
) -> np.ndarray:
    r"""Randomized LP-rounding head/tail (Yu, Cheng & Lu, ICPR 2020; our reconstruction).

    Parameters
    ----------
    b : array (n,)
    edges : array (E, 2) of int
    s, g : int
        Sparsity budget and number of components.
    adj : sparse matrix, optional
        Adjacency of ``edges`` (computed if missing).
    random_state : None, int or Generator
        Drives the rounding.
    n_roots : int
        Roots tried (the ``n_roots`` largest :math:`|b_r|`); one LP each when ``g == 1``.
    n_rounds : int
        Randomized roundings per LP; the best energy is kept.
    alpha : float
        Keep probability :math:`\min(1, \alpha y_v)`.
    randomized : bool
        ``False``: one deterministic rounding (:math:`y_v \ge 1/2`), the ``"lp_det"`` variant.
    tol : float
        :math:`y_v > tol` defines the LP support.

    Returns
    -------
    array of int
        The sorted support (connected, at most ``g`` components, ``s`` nodes when possible).

    Examples
    --------
    >>> from parsimony.sparse.graphs import grid_graph
    >>> b = np.zeros(16); b[[0, 1, 2, 15]] = [3.0, 2.0, 2.5, 1.0]
    >>> lp_project(b, grid_graph(4), 3, random_state=0).tolist()
    [0, 1, 2]
    """
    b = check_array(b, "b", ndim=1)
    n = b.size
    s = check_int(s, "s", low=1, high=n)
    g = check_int(g, "g", low=1)
    n_roots = check_int(n_roots, "n_roots", low=1)
    n_rounds = check_int(n_rounds, "n_rounds", low=1)
    rng = check_random_state(random_state)
    adj = adjacency(edges, n) if adj is None else sp.csr_matrix(adj)
    w = b**2
    scale = w.max()
    if scale <= 0:
        return np.arange(s)
    w = w / scale
    cand = top_k(b, n_roots)
    cand = cand[np.argsort(-w[cand], kind="stable")]
    problems = [_spread_roots(w, adj, first, g) for first in cand]
    best, best_energy = None, -np.inf
    for roots in problems:
        roots = np.asarray(roots, dtype=np.intp)
        y, z = _solve_flow_lp(w, edges, s, roots, g)
        support = y > tol
        live_roots = roots[(z > tol) | (g == 1)]
        support[live_roots] = True
        mask = sp.diags(support.astype(np.float64))
        adj_h = (mask @ adj @ mask).tocsr()
        adj_h.eliminate_zeros()
        rounds = n_rounds if randomized else 1
        for _ in range(rounds):
            if randomized:
                keep = support & (rng.random(n) < np.minimum(1.0, alpha * y))
            else:
                keep = support & (y >= 0.5)
            keep[live_roots] = True
            S = _round(w, y, live_roots, keep, adj_h, adj, s, g)
            energy = w[S].sum()
            if energy > best_energy + 1e-12:
                best, best_energy = S, energy
    return best


def lp_det_project(b, edges, s, g=1, **params) -> np.ndarray:
    """:func:`lp_project` with its deterministic rounding (``randomized=False``), ``"lp_det"``.

    Examples
    --------
    >>> from parsimony.sparse.graphs import grid_graph
    >>> b = np.zeros(16); b[[0, 1, 2, 15]] = [3.0, 2.0, 2.5, 1.0]
    >>> lp_det_project(b, grid_graph(4), 3).tolist()
    [0, 1, 2]
    """
    return lp_project(b, edges, s, g, **{**params, "randomized": False})


#: head/tail approximations by name: ``name -> function`` (head and tail are the same
#: routine, called at ``(2s, 2g)`` for the head and ``(s, g)`` for the tail).
PROJECTIONS = {"pcst": pcst_project, "lp": lp_project, "lp_det": lp_det_project}
