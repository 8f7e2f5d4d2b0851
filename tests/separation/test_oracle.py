"""Oracle parameters, binary masking, STFT and metrics of the separation family."""

import numpy as np
import pytest
from parsimony.separation.metrics import bss_eval, image_sdr
from parsimony.separation.oracle import binary_mask, oracle_parameters
from parsimony.separation.stft import istft, stft


def _images(n_mics=2, F=3, N=400, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((2, F, n_mics, n_mics)) + 1j * rng.standard_normal(
        (2, F, n_mics, n_mics)
    )
    R = A @ np.conj(np.swapaxes(A, -1, -2))
    R = n_mics * R / np.trace(R, axis1=-2, axis2=-1).real[..., None, None]
    v = rng.gamma(1.0, 1.0, (2, F, N))
    z = rng.standard_normal((2, F, N, n_mics)) + 1j * rng.standard_normal((2, F, N, n_mics))
    C = np.sqrt(v / 2)[..., None] * np.einsum("jfab,jfnb->jfna", np.linalg.cholesky(R), z)
    return C, R


@pytest.mark.parametrize("n_mics", [2, 3])
def test_oracle_full_rank_recovers_planted_covariance(n_mics):
    C, R = _images(n_mics, N=4000)
    _, R_hat = oracle_parameters(C, "full_rank")
    np.testing.assert_allclose(R_hat, R, atol=0.15)


def test_oracle_rank1_is_rank_one_plus_regularisation():
    C, _ = _images(2)
    _, R_hat = oracle_parameters(C, "rank1", reg=0.0)
    w = np.linalg.eigvalsh(R_hat)
    assert np.all(w[..., 0] < 1e-8 * w[..., -1])


def test_oracle_rejects_bad_input():
    C, _ = _images(2, N=10)
    with pytest.raises(ValueError, match="model"):
        oracle_parameters(C, "nope")
    with pytest.raises(ValueError, match="C must"):
        oracle_parameters(C[0], "full_rank")


def test_binary_mask_partitions_the_mixture():
    C, _ = _images(2, N=50)
    X = C.sum(0)
    est = binary_mask(X, C)
    np.testing.assert_allclose(est.sum(0), X)
    assert np.all((np.abs(est) > 0).sum(0) <= 1)


@pytest.mark.parametrize("shape", [(1000,), (2, 3, 1000)])
def test_stft_perfect_reconstruction(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    X = stft(x, 256, 64)
    assert X.shape[-2] == 129
    np.testing.assert_allclose(istft(X, shape[-1], 256, 64), x, atol=1e-10)


def test_stft_rejects_bad_input():
    with pytest.raises(ValueError, match="finite"):
        stft(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="hop"):
        stft(np.zeros(100), 64, 128)


def test_image_sdr_and_bss_eval():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 4000))
    assert np.all(image_sdr(ref, ref + 0.1 * rng.standard_normal(ref.shape)) > 15)
    np.testing.assert_allclose(image_sdr(ref, 0.5 * ref), 10 * np.log10(4.0))
    out = bss_eval(ref, ref[::-1] + 0.01 * rng.standard_normal(ref.shape), filter_length=16)
    assert list(out["permutation"]) == [1, 0]
    assert np.all(out["sdr"] > 20)
    with pytest.raises(ValueError, match="shapes"):
        image_sdr(ref, ref[:1])
