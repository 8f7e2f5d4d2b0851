"""EM of the local Gaussian spatial covariance model (Duong, Vincent & Gribonval 2010)."""

import numpy as np
import pytest
from parsimony.separation.model import (
    em_step_full_rank,
    em_step_rank1,
    mixture_covariance,
    negative_log_likelihood,
    rank1_covariance,
    rank1_images,
    wiener,
    wiener_filters,
)


def _random_psd(rng, shape, n):
    A = rng.standard_normal(shape + (n, n)) + 1j * rng.standard_normal(shape + (n, n))
    return A @ np.conj(np.swapaxes(A, -1, -2)) + 0.1 * np.eye(n)


def _problem(n_mics, n_src=3, F=4, N=30, seed=0):
    rng = np.random.default_rng(seed)
    R = _random_psd(rng, (n_src, F), n_mics)
    v = rng.gamma(0.5, 1.0, (n_src, F, N))
    L = np.linalg.cholesky(R)  # (J, F, I, I)
    z = rng.standard_normal((n_src, F, N, n_mics)) + 1j * rng.standard_normal((n_src, F, N, n_mics))
    C = np.sqrt(v / 2)[..., None] * np.einsum("jfab,jfnb->jfna", L, z)
    return C.sum(0), C, v, R


@pytest.mark.parametrize("n_mics", [2, 3])
def test_wiener_filters_sum_to_identity(n_mics):
    X, _, v, R = _problem(n_mics)
    W = wiener_filters(v, R)
    np.testing.assert_allclose(W.sum(0), np.broadcast_to(np.eye(n_mics), W.shape[1:]), atol=1e-9)
    np.testing.assert_allclose(wiener(X, v, R).sum(0), X, atol=1e-9)


@pytest.mark.parametrize("n_mics", [2, 3])
def test_full_rank_em_nll_non_increasing(n_mics):
    X, _, _, _ = _problem(n_mics)
    rng = np.random.default_rng(1)
    v = np.ones((3,) + X.shape[:2])
    R = _random_psd(rng, (3, X.shape[0]), n_mics)
    nll = [negative_log_likelihood(X, mixture_covariance(v, R))]
    for _ in range(30):
        v, R = em_step_full_rank(X, v, R, reg=0.0)
        nll.append(negative_log_likelihood(X, mixture_covariance(v, R)))
    steps = np.diff(nll) / np.abs(nll[:-1])
    assert np.all(steps <= 1e-6), steps.max()
    assert nll[-1] < nll[0]


@pytest.mark.parametrize("n_mics", [2, 3])
def test_rank1_em_nll_non_increasing(n_mics):
    X, _, _, _ = _problem(n_mics)
    rng = np.random.default_rng(2)
    F = X.shape[0]
    H = rng.standard_normal((F, n_mics, 3)) + 1j * rng.standard_normal((F, n_mics, 3))
    v, noise = np.ones((3,) + X.shape[:2]), np.ones((F, n_mics))
    nll = [negative_log_likelihood(X, rank1_covariance(v, H, noise))]
    for _ in range(30):
        v, H, noise = em_step_rank1(X, v, H, noise, reg=0.0)
        nll.append(negative_log_likelihood(X, rank1_covariance(v, H, noise)))
    steps = np.diff(nll) / np.abs(nll[:-1])
    assert np.all(steps <= 1e-6), steps.max()
    assert nll[-1] < nll[0]


def _full_rank_step_loop(X, v, R):
    """The card's per-bin updates, one (f, n) at a time (independent reference)."""
    J, F, N = v.shape
    n_mics = X.shape[-1]
    v_new, R_new = np.zeros_like(v), np.zeros_like(R)
    Rc = np.zeros((J, F, N, n_mics, n_mics), dtype=complex)
    for f in range(F):
        for n in range(N):
            Rx = sum(v[j, f, n] * R[j, f] for j in range(J))
            for j in range(J):
                W = v[j, f, n] * R[j, f] @ np.linalg.inv(Rx)
                c = W @ X[f, n]
                Rc[j, f, n] = np.outer(c, c.conj()) + (np.eye(n_mics) - W) @ (v[j, f, n] * R[j, f])
                v_new[j, f, n] = max(
                    np.trace(np.linalg.inv(R[j, f]) @ Rc[j, f, n]).real / n_mics, 1e-12
                )
        for j in range(J):
            R_new[j, f] = sum(Rc[j, f, n] / v_new[j, f, n] for n in range(N)) / N
    return v_new, R_new


@pytest.mark.parametrize("n_mics", [2, 3])
def test_batched_em_matches_per_bin_loop(n_mics):
    X, _, v, R = _problem(n_mics, F=3, N=5)
    v_b, R_b = em_step_full_rank(X, v, R, reg=0.0)
    v_l, R_l = _full_rank_step_loop(X, v, R)
    np.testing.assert_allclose(v_b, v_l, rtol=1e-8)
    np.testing.assert_allclose(R_b, R_l, rtol=1e-8, atol=1e-10)


def test_rank1_images_noise_free_sum_to_mixture():
    rng = np.random.default_rng(3)
    F, N, n_mics = 3, 8, 2
    H = rng.standard_normal((F, n_mics, 2)) + 1j * rng.standard_normal((F, n_mics, 2))
    S = rng.standard_normal((2, F, N)) + 1j * rng.standard_normal((2, F, N))
    X = np.einsum("faj,jfn->fna", H, S)
    C = rank1_images(X, np.ones((2, F, N)) * 1e6, H, np.full((F, n_mics), 1e-9))
    np.testing.assert_allclose(C, np.einsum("faj,jfn->jfna", H, S), rtol=1e-5, atol=1e-6)
