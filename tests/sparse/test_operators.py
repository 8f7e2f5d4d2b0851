"""Measurement operators: adjoint identity, fast DCT against its dense matrix, bad input."""

import numpy as np
import pytest
import scipy.fft
from parsimony.sparse.operators import (
    OPERATORS,
    MatrixOperator,
    PartialDCTOperator,
    as_operator,
    make_operator,
)


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_adjoint_identity(kind):
    A = make_operator(kind, 30, 128, random_state=0)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x, y = rng.standard_normal(128), rng.standard_normal(30)
        assert np.isclose(A.matvec(x) @ y, x @ A.rmatvec(y), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_columns_match_matvec(kind):
    A = make_operator(kind, 16, 64, random_state=3)
    D = np.column_stack([A.matvec(e) for e in np.eye(64)])
    np.testing.assert_allclose(A.columns([5, 0, 63]), D[:, [5, 0, 63]], atol=1e-12)
    np.testing.assert_allclose(A.to_dense(), D, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_columns_have_unit_norm_on_average(kind):
    A = make_operator(kind, 200, 400, random_state=0).to_dense()
    assert abs(np.mean(np.sum(A**2, axis=0)) - 1.0) < 0.05


def test_dct_rows_of_orthonormal_dct():
    n = 32
    A = PartialDCTOperator(n, n, random_state=0)  # all rows: an orthogonal matrix
    D = A.to_dense()
    np.testing.assert_allclose(D @ D.T, np.eye(n), atol=1e-12)
    full = scipy.fft.dct(np.eye(n), axis=0, norm="ortho")
    np.testing.assert_allclose(D, full[A.rows], atol=1e-12)


def test_dct_large_n_is_matrix_free():
    A = PartialDCTOperator(1000, 100_000, random_state=0)
    x = np.zeros(100_000)
    x[[7, 99_999]] = 1.0
    y = A.matvec(x)
    np.testing.assert_allclose(y, A.columns([7, 99_999]).sum(axis=1), atol=1e-12)
    assert A.rmatvec(y).shape == (100_000,)


@pytest.mark.parametrize("kind", sorted(OPERATORS))
def test_determinism(kind):
    a = make_operator(kind, 10, 40, random_state=7).to_dense()
    b = make_operator(kind, 10, 40, random_state=7).to_dense()
    c = make_operator(kind, 10, 40, random_state=8).to_dense()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_input():
    A = make_operator("gaussian", 10, 20, random_state=0)
    with pytest.raises(ValueError, match="x"):
        A.matvec(np.ones(19))
    with pytest.raises(ValueError, match="y"):
        A.rmatvec(np.ones(11))
    with pytest.raises(ValueError, match="kind"):
        make_operator("fourier", 10, 20)
    with pytest.raises(ValueError, match="n_measurements"):
        PartialDCTOperator(30, 20)
    with pytest.raises(ValueError, match="n_measurements"):
        make_operator("bernoulli", 0, 20)
    with pytest.raises(TypeError, match="n_features"):
        make_operator("gaussian", 10, 2.5)
    with pytest.raises(ValueError, match="A"):
        MatrixOperator(np.array([[1.0, np.nan]]))
    assert as_operator(A) is A
