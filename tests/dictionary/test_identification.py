import itertools

import numpy as np
import pytest
from parsimony.dictionary import (
    bernoulli_gaussian,
    l1_criterion,
    l1_descent_direction,
    l1_local_minimum,
    l1_local_minimum_margins,
    necessary_condition,
    random_basis,
)


def perturbed_basis(D, E, eps):
    """Atoms of (I + eps E) D, renormalised: a point of the constraint set near D."""
    P = (np.eye(len(D)) + eps * E) @ D
    return P / np.linalg.norm(P, axis=1, keepdims=True)


def brute_force_min_ratio(codes, D, n_dirs=300, eps=1e-4, seed=0):
    """Smallest f(D') / f(D) over random small perturbations of the basis."""
    rng = np.random.default_rng(seed)
    X = codes @ D
    f0 = l1_criterion(X, D)
    best = np.inf
    for _ in range(n_dirs):
        E = rng.standard_normal(D.shape)
        np.fill_diagonal(E, 0)
        best = min(best, l1_criterion(X, perturbed_basis(D, E, eps)) / f0)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_local_minimum_agrees_with_brute_force(seed):
    K = 5
    D = random_basis(K, random_state=seed)
    for N in (12, 30, 200):
        codes = bernoulli_gaussian(N, K, 0.3, random_state=seed * 100 + N)
        rep = l1_local_minimum_margins(codes)
        assert rep.is_local_minimum == l1_local_minimum(codes)
        if rep.is_local_minimum:
            # no random small perturbation lowers the objective
            assert brute_force_min_ratio(codes, D, seed=seed) > 1.0
        else:
            k = int(np.argmin(rep.margins))
            e, deriv = l1_descent_direction(codes, k)
            if e is None:  # flat direction (rank deficiency with a ⟂ null space)
                assert not rep.rank_ok.all()
                continue
            assert deriv < 0
            # move atoms j != k towards atom k: d_j + eps e_j d_k; the objective drops
            E = np.zeros((K, K))
            E[:, k] = e
            X = codes @ D
            f0 = l1_criterion(X, D)
            eps = 1e-5
            f1 = l1_criterion(X, perturbed_basis(D, E, eps))
            assert f1 < f0
            assert np.isclose((f1 - f0) / eps, deriv, rtol=0.05, atol=1e-3)


def test_clear_cases():
    many = bernoulli_gaussian(2000, 6, 0.2, random_state=0)
    assert l1_local_minimum(many)
    assert l1_local_minimum_margins(many).margins.min() > 0.3
    # dense codes (p = 1) are never identifiable by l1 for K >= 3 at this N
    dense = bernoulli_gaussian(40, 6, 1.0, random_state=0)
    assert not l1_local_minimum(dense)


@pytest.mark.parametrize("K", [4, 8, 16])
def test_fails_deterministically_below_rank(K):
    for seed in range(3):
        codes = bernoulli_gaussian(K - 1, K, 0.9, random_state=seed)
        assert not l1_local_minimum(codes)
        assert not l1_local_minimum_margins(codes).rank_ok.any()


def test_rank_check_catches_a_silent_atom():
    codes = bernoulli_gaussian(500, 5, 0.3, random_state=1)
    codes[:, 2] = 0.0  # atom 2 never active: every other B_k loses rank
    rep = l1_local_minimum_margins(codes)
    assert not rep.is_local_minimum
    assert not rep.rank_ok[np.arange(5) != 2].any()


def test_necessary_condition_is_necessary():
    for seed in range(20):
        codes = bernoulli_gaussian(25, 5, 0.3, random_state=seed)
        if l1_local_minimum(codes):
            assert necessary_condition(codes).all()


def test_invariance_to_signs_and_permutations():
    codes = bernoulli_gaussian(60, 6, 0.3, random_state=3)
    rng = np.random.default_rng(0)
    perm = rng.permutation(6)
    signs = rng.choice([-1.0, 1.0], 6)
    t = l1_local_minimum_margins(codes).t_star
    t2 = l1_local_minimum_margins(codes[:, perm] * signs).t_star
    assert np.allclose(t2, t[perm], atol=1e-7)
    samples = rng.permutation(60)
    assert np.allclose(l1_local_minimum_margins(codes[samples]).t_star, t, atol=1e-7)
    assert np.allclose(l1_local_minimum_margins(3.0 * codes).t_star, t, atol=1e-7)


def test_determinism():
    a = bernoulli_gaussian(30, 4, 0.3, random_state=7)
    assert np.array_equal(a, bernoulli_gaussian(30, 4, 0.3, random_state=7))


def test_random_basis():
    D = random_basis(7, random_state=0)
    assert np.allclose(D @ D.T, np.eye(7))
    G = random_basis(7, orthonormal=False, random_state=0)
    assert np.allclose(np.linalg.norm(G, axis=1), 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bernoulli_gaussian(10, 3, 0.0), "p must lie in"),
        (lambda: bernoulli_gaussian(10, 3, 1.5), "p must lie in"),
        (lambda: bernoulli_gaussian(10, 0, 0.5), "n_atoms must be >= 1"),
        (lambda: bernoulli_gaussian(0, 3, 0.5), "n_samples must be >= 1"),
        (lambda: l1_local_minimum(np.full((5, 3), np.nan)), "codes contains NaN"),
        (lambda: l1_local_minimum(np.ones(5)), "codes must be 2-dimensional"),
        (lambda: l1_local_minimum(np.ones((5, 1))), "codes must have at least 2 column"),
        (lambda: l1_criterion(np.ones((4, 3)), np.ones((2, 3))), "dictionary must be a square"),
        (lambda: l1_criterion(np.ones((4, 2)), np.ones((2, 2))), "dictionary is singular"),
        (lambda: l1_descent_direction(np.ones((4, 3)), 5), "atom must be <= 2"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types():
    with pytest.raises(TypeError, match="n_atoms must be an integer"):
        bernoulli_gaussian(10, 2.5, 0.2)
    with pytest.raises(TypeError, match="random_state"):
        bernoulli_gaussian(10, 2, 0.2, random_state="seed")
    with pytest.raises(TypeError, match="codes must be a numeric array"):
        l1_local_minimum([["a", "b"]])


def test_exhaustive_sign_patterns_tiny():
    """K = 2: the test is |<x^2_{L1}, s_1>| < ||x^2_{L1^c}||_1 (and symmetric); check exactly."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        codes = rng.standard_normal((6, 2)) * (rng.random((6, 2)) < 0.6)
        expected = bool(necessary_condition(codes).all())
        if expected:  # rank 1 = K - 1 needs a nonzero entry off each support
            for k, j in itertools.permutations(range(2)):
                off = codes[codes[:, k] == 0, j]
                expected &= bool(np.any(off != 0))
        assert l1_local_minimum(codes) == expected
