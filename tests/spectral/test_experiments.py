"""Claim statistics of the CSC experiments: each one checked on hand-made cases."""

import numpy as np
import pytest
from parsimony.spectral import epsilon_critical, sbm
from parsimony.spectral.experiments.csc import (
    digits_sweep,
    faster_within,
    lambda_k_bounds,
    non_increasing,
)


def test_lambda_k_bounds_strict_lower_side():
    lam_k, lam_k1 = np.array([0.2, 0.2]), np.array([0.4, 0.4])
    inside = lambda_k_bounds(np.array([0.2, 0.3]), lam_k, lam_k1)
    assert inside == {"below": 0.0, "above": -0.1, "n_below": 0}
    below = lambda_k_bounds(np.array([0.2 - 1e-9, 0.3]), lam_k, lam_k1)
    assert below["n_below"] == 1 and below["below"] > 0
    # broadcasting: estimates (eps, factor, seed) against references (eps, 1, seed)
    est = np.full((2, 3, 4), 0.3)
    out = lambda_k_bounds(est, np.full((2, 1, 4), 0.25), np.full((2, 1, 4), 0.5))
    assert out["n_below"] == 0 and out["above"] == pytest.approx(-0.2)


def test_non_increasing():
    assert non_increasing([0.9, 0.9, 0.5])
    assert not non_increasing([0.9, 0.91, 0.5])
    assert non_increasing([0.9, 0.91, 0.5], slack=0.01 + 1e-12)
    assert non_increasing([1.0])


def test_faster_within_needs_speed_and_accuracy_on_every_graph():
    sec = {(10, 2, "csc"): 1.0, (10, 2, "sc"): 2.0, (20, 2, "csc"): 3.0, (20, 2, "sc"): 2.0}
    ari = {(10, 2, "csc"): 0.90, (10, 2, "sc"): 0.95, (20, 2, "csc"): 1.0, (20, 2, "sc"): 1.0}
    one = faster_within(sec, ari, [(10, 2)])
    assert one[(10, 2)]["faster"] and not one["holds"]  # faster, but 0.05 ARI behind
    assert faster_within(sec, ari, [(10, 2)], tol=0.06)["holds"]
    both = faster_within(sec, ari, [(10, 2), (20, 2)], tol=0.06)
    assert not both[(20, 2)]["faster"] and not both["holds"]
    assert both[(20, 2)]["ratio"] == pytest.approx(1.5)


def test_digits_sweep_runs_every_method_over_the_same_seeds():
    k = 3
    W, y = sbm(300, k, 12, epsilon_critical(12, k) / 8, random_state=0)
    out = digits_sweep(W, y, k, [10, 20], [0, 1], n_init=2, solvers=("lobpcg",))
    assert out["sc"].shape == (2,) and out["csc"].shape == (2, 2)
    assert out["sklearn"]["lobpcg"].shape == (2,)
    assert out["sc"].min() > 0.9 and out["sklearn"]["lobpcg"].min() > 0.9
