"""Head and tail approximations against brute force on small grids (HIS 2015 guarantees)."""

import itertools

import numpy as np
import pytest
from parsimony.sparse.graphs import adjacency, grid_graph, n_components
from parsimony.sparse.headtail import PROJECTIONS, _solve_flow_lp, lp_project, pcst_project

# HIS 2015 (Theorems 8 and 9) prove c_T = sqrt(7) and c_H = sqrt(1/14) on norms: squared here.
C_TAIL, C_HEAD = 7.0, 1.0 / 14.0
EDGES = grid_graph(3, 4)
N = 12
ADJ = adjacency(EDGES, N)


def _admissible(s, g):
    out = []
    for size in range(1, s + 1):
        for S in itertools.combinations(range(N), size):
            if n_components(S, ADJ) <= g:
                out.append(np.array(S))
    return out


ADMISSIBLE = {(s, g): _admissible(s, g) for s, g in [(3, 1), (4, 1), (4, 2), (5, 2)]}


def _opt(b, s, g):
    w = b**2
    return max(w[S].sum() for S in ADMISSIBLE[(s, g)])


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
@pytest.mark.parametrize(("s", "g"), sorted(ADMISSIBLE))
def test_head_and_tail_guarantees_brute_force(name, s, g):
    head = tail = PROJECTIONS[name]
    rng = np.random.default_rng(s * 10 + g)
    for trial in range(6):
        b = rng.standard_normal(N) * rng.exponential(size=N)
        w = b**2
        opt = _opt(b, s, g)
        for proj in (head, tail):
            S = proj(b, EDGES, s, g, adj=ADJ, random_state=trial)
            assert len(S) == len(np.unique(S))
            assert len(S) <= int(np.floor(1.1 * s)), (name, S)
            assert n_components(S, ADJ) <= g, (name, S)
            assert w[S].sum() >= C_HEAD * opt - 1e-12  # head
            assert w.sum() - w[S].sum() <= C_TAIL * (w.sum() - opt) + 1e-12  # tail


@pytest.mark.parametrize("name", ["lp", "lp_det"])
def test_lp_rounding_is_often_optimal_on_tiny_graphs(name):
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(20):
        b = rng.standard_normal(N)
        S = PROJECTIONS[name](b, EDGES, 4, 1, adj=ADJ, random_state=trial, n_roots=3)
        hits += np.isclose((b**2)[S].sum(), _opt(b, 4, 1))
    assert hits >= 15


def test_flow_lp_is_a_relaxation():
    """The LP optimum is at least the best connected support containing the root."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        w = rng.exponential(size=N)
        r = int(np.argmax(w))
        y, z = _solve_flow_lp(w, EDGES, 4, [r], 1)
        best = max(w[S].sum() for S in ADMISSIBLE[(4, 1)] if r in S)
        assert w @ y >= best - 1e-7
        assert y[r] == pytest.approx(1.0) and y.sum() <= 4 + 1e-7


def test_exact_on_an_obvious_blob():
    e = grid_graph(6)
    b = np.zeros(36)
    b[[7, 8, 9, 15]] = [3.0, 2.0, 2.5, 1.5]
    b[35] = 0.5
    for name, project in PROJECTIONS.items():
        assert project(b, e, 4, 1, random_state=0).tolist() == [7, 8, 9, 15], name


def test_lp_deterministic_given_seed():
    rng = np.random.default_rng(3)
    b = rng.standard_normal(36)
    e = grid_graph(6)
    a1 = lp_project(b, e, 6, 1, random_state=5)
    a2 = lp_project(b, e, 6, 1, random_state=5)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(pcst_project(b, e, 6), pcst_project(b, e, 6))


def test_bad_input():
    with pytest.raises(ValueError, match="s"):
        pcst_project(np.ones(12), EDGES, 13)
    with pytest.raises(ValueError, match="s"):
        lp_project(np.ones(12), EDGES, 0)
    with pytest.raises(ValueError, match="n_rounds"):
        lp_project(np.ones(12), EDGES, 3, n_rounds=0)
