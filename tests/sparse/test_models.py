"""Sparsity models: grid graphs, planted connected supports, admissibility, bad input."""

import numpy as np
import pytest
from parsimony.sparse.graphs import (
    adjacency,
    grid_graph,
    n_components,
    planted_signal,
    random_connected_support,
    top_k,
)
from parsimony.sparse.models import GraphSparse, KSparse


def test_grid_graph():
    e = grid_graph(4, 5)
    assert e.shape == (4 * 4 + 5 * 3, 2) and e.dtype == np.int64
    A = adjacency(e, 20).toarray()
    np.testing.assert_array_equal(A, A.T)
    assert A.sum(axis=1).min() == 2 and A.sum(axis=1).max() == 4  # corners and interior


@pytest.mark.parametrize(("s", "g"), [(1, 1), (8, 1), (12, 3), (20, 2)])
def test_random_connected_support(s, g):
    adj = adjacency(grid_graph(10), 100)
    for seed in range(5):
        S = random_connected_support(adj, s, g, random_state=seed)
        assert S.size == s
        assert n_components(S, adj) == g


def test_planted_signal_deterministic():
    adj = adjacency(grid_graph(6), 36)
    x1, s1 = planted_signal(adj, 5, random_state=4)
    x2, s2 = planted_signal(adj, 5, random_state=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(np.flatnonzero(x1), s1)


def test_top_k_and_ksparse():
    b = np.array([0.1, -3.0, 2.0, 0.5, -2.0])
    assert top_k(b, 2).tolist() == [1, 2]
    assert top_k(b, 9).tolist() == [0, 1, 2, 3, 4]
    m = KSparse(3)
    assert m.head(b).tolist() == [1, 2, 4]
    with pytest.raises(ValueError, match="k"):
        m.check(2)


def test_graph_model_admissible_and_bad_input():
    e = grid_graph(3)
    model = GraphSparse(e, 9, s=3, g=1)
    assert model.is_admissible([0, 1, 2])
    assert not model.is_admissible([0, 2])
    assert not model.is_admissible([0, 1, 2, 5])
    with pytest.raises(ValueError, match="s"):
        GraphSparse(e, 9, s=10)
    with pytest.raises(ValueError, match="projection"):
        GraphSparse(e, 9, s=3, projection="exact")
    with pytest.raises(ValueError, match="edges"):
        GraphSparse(np.array([[0, 9]]), 9, s=3)
    with pytest.raises(ValueError, match="edges"):
        GraphSparse(np.array([0, 1]), 9, s=3)
    with pytest.raises(ValueError, match="b"):
        model.tail(np.array([np.inf] * 9))
    with pytest.raises(ValueError, match="nodes"):
        model.check(10)
