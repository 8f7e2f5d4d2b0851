r"""Basis pursuit as a linear program, solved by HiGHS, batched over right-hand sides.

Basis pursuit (Chen, Donoho & Saunders, "Atomic decomposition by basis pursuit", SIAM J. Sci.
Comput. 1998) decodes a sparse :math:`x` from :math:`y = A x`:

.. math:: \min_x \|x\|_1 \quad \text{s.t.}\quad A x = y,

written as the LP :math:`\min \mathbf 1^\top (u + v)` s.t. :math:`[A, -A][u; v] = y`,
:math:`u, v \ge 0`, :math:`x = u - v`. The non-negative variant drops :math:`v`:
:math:`\min \mathbf 1^\top x` s.t. :math:`A x = y`, :math:`x \ge 0`; it is infeasible when
:math:`y \notin A\,\mathbb R^n_+`, which is why the compressed-factorization pipeline of
Sharan, Tai, Bailis & Valiant (ICML 2019) solves the unconstrained problem and clips.

Two steps of the public compressed-factorization code are kept: zero rows of :math:`A`
(empty rows of a sparse expander) are dropped, and :math:`y` is first projected onto
:math:`\operatorname{range}(A)`, so the equality is feasible even for a noisy :math:`y`
(the public code uses ``lsqr``; we use an SVD of the reduced :math:`A`, exact for the
rank-deficient case). Ours: ``batch_size`` right-hand sides are solved in one LP with the
block-diagonal constraint :math:`I_b \otimes [A, -A]`, which removes the per-call overhead
of ``scipy.optimize.linprog`` when the LPs are small (measured by
``benchmarks/bench_compressed_factorization.py``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from parsimony._validation import check_array, check_int
from parsimony.sparse.operators import LinearOperator

__all__ = ["basis_pursuit", "measurement_matrix"]


def measurement_matrix(A):
    """``A`` (operator, dense or ``scipy.sparse``) as a finite float matrix (dense or CSR).

    Parameters
    ----------
    A : LinearOperator, array (m, n) or scipy.sparse matrix

    Returns
    -------
    ndarray or scipy.sparse.csr_array
    """
    if isinstance(A, LinearOperator):
        A = A.matrix if hasattr(A, "matrix") else A.to_dense()
    if sp.issparse(A):
        A = sp.csr_array(A, dtype=np.float64)
        if A.ndim != 2:
            raise ValueError(f"A must be 2-dimensional, got shape {A.shape}")
        if not np.all(np.isfinite(A.data)):
            raise ValueError("A contains NaN or infinite values")
        return A
    if np.iscomplexobj(A):
        raise TypeError("A must be real, got a complex array")
    return check_array(A, "A", ndim=2)


def _reduce(A, Y):
    """Drop the zero rows of ``A`` and project the rows of ``Y`` onto range(A)."""
    dense = A.toarray() if sp.issparse(A) else A
    keep = np.flatnonzero(np.abs(dense).sum(axis=1) > 0)
    dense = dense[keep]
    U, s, _ = np.linalg.svd(dense, full_matrices=False)
    U = U[:, s > s[0] * max(dense.shape) * np.finfo(float).eps] if s.size else U
    Yr = Y[:, keep]
    Yp = (Yr @ U) @ U.T
    Ar = A[keep] if sp.issparse(A) else sp.csr_array(dense)
    return sp.csr_array(Ar), Yp


def basis_pursuit(A, Y, *, nonnegative=False, batch_size=4):
    r"""Solve :math:`\min \|x\|_1` s.t. :math:`A x = y` for every row ``y`` of ``Y``.

    Parameters
    ----------
    A : LinearOperator, array (m, n) or scipy.sparse matrix
        The measurement matrix (operators use their stored matrix or ``to_dense()``).
    Y : array (n_rhs, m) or (m,)
        Finite measurements, one right-hand side per row (scikit-learn's convention).
    nonnegative : bool, default=False
        Solve :math:`\min \mathbf 1^\top x` s.t. :math:`Ax = y, x \ge 0` instead.
    batch_size : int, default=4
        Right-hand sides per LP (block-diagonal constraints); 1 is one LP per row.

    Returns
    -------
    X : array (n_rhs, n) or (n,)
        The minimizers, same leading shape as ``Y``.

    Raises
    ------
    RuntimeError
        When HiGHS fails, e.g. a non-negative problem is infeasible.

    Examples
    --------
    >>> from parsimony.sparse.operators import GaussianOperator
    >>> A = GaussianOperator(30, 60, random_state=0)
    >>> x0 = np.zeros(60); x0[[4, 20, 41]] = [1.0, -2.0, 0.5]
    >>> bool(np.allclose(basis_pursuit(A, A @ x0), x0, atol=1e-6))
    True
    """
    A = measurement_matrix(A)
    if not isinstance(nonnegative, bool | np.bool_):
        raise TypeError(f"nonnegative must be a bool, got {nonnegative!r}")
    batch_size = check_int(batch_size, "batch_size", low=1)
    if np.iscomplexobj(Y):
        raise TypeError("Y must be real, got a complex array")
    single = np.ndim(Y) == 1
    Y = check_array(np.atleast_2d(Y), "Y", ndim=2)
    m, n = A.shape
    if Y.shape[1] != m:
        raise ValueError(f"Y must have {m} columns (A has shape {A.shape}), got {Y.shape[1]}")
    Ar, Yp = _reduce(A, Y)
    block = Ar if nonnegative else sp.hstack([Ar, -Ar], format="csr")
    width = block.shape[1]
    X = np.empty((Y.shape[0], n))
    for start in range(0, Y.shape[0], batch_size):
        rhs = Yp[start : start + batch_size]
        b = rhs.shape[0]
        res = linprog(
            np.ones(b * width),
            A_eq=sp.kron(sp.eye_array(b), block, format="csr"),
            b_eq=rhs.ravel(),
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            raise RuntimeError(
                f"basis pursuit failed on rows {start}..{start + b - 1} of Y: {res.message}"
            )
        z = res.x.reshape(b, width)
        X[start : start + b] = z if nonnegative else z[:, :n] - z[:, n:]
    return X[0] if single else X
