r"""Measurement operators for compressive sensing: :math:`y = A x`, :math:`A \in \mathbb{R}^{m \times n}`.

Every operator has one interface: ``shape == (m, n)``, ``matvec(x)`` (:math:`A x`),
``rmatvec(y)`` (the adjoint :math:`A^\top y`), ``columns(idx)`` (the dense
:math:`m \times |idx|` block :math:`A_{:, idx}`, what least squares on a support needs) and
``to_dense()`` (for tests and small problems only). ``A @ x`` calls ``matvec``.

* :class:`GaussianOperator`: i.i.d. :math:`\mathcal{N}(0, 1/m)` entries (RIP with high
  probability when :math:`m \gtrsim s \log(n/s)`); columns have unit norm in expectation.
* :class:`BernoulliOperator`: i.i.d. :math:`\pm 1/\sqrt{m}` entries (RIP as well).
* :class:`PartialDCTOperator`: :math:`m` rows of the orthonormal DCT-II matrix chosen at
  random, scaled by :math:`\sqrt{n/m}`; applied with ``scipy.fft.dct`` / ``idct`` in
  :math:`O(n \log n)`, never stored, so :math:`n = 10^5` works.
* :class:`MatrixOperator`: wraps any dense array (used to compare with scikit-learn).
* :class:`SparseExpanderOperator`: binary, ``n_ones`` ones per column at distinct random
  rows, stored as a ``scipy.sparse`` matrix: the adjacency of a random left-regular
  bipartite graph, an expander with high probability (Berinde, Gilbert, Indyk, Karloff &
  Strauss, "Combining geometry and combinatorics", Allerton 2008); the measurement matrix of
  Sharan, Tai, Bailis & Valiant, "Compressed Factorization", ICML 2019.

References: Candès & Tao, "Near-optimal signal recovery from random projections", IEEE
Trans. Inf. Theory 2006; Rudelson & Vershynin, "On sparse reconstruction from Fourier and
Gaussian measurements", CPAM 2008.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse as sp

from parsimony._validation import check_array, check_elements, check_int, check_random_state

__all__ = [
    "BernoulliOperator",
    "GaussianOperator",
    "LinearOperator",
    "MatrixOperator",
    "OPERATORS",
    "PartialDCTOperator",
    "SparseExpanderOperator",
    "as_operator",
    "make_operator",
]


class LinearOperator:
    """Base class: a linear map :math:`\\mathbb{R}^n \\to \\mathbb{R}^m` and its adjoint."""

    shape: tuple[int, int]

    def matvec(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def rmatvec(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def columns(self, idx) -> np.ndarray:
        """Dense block :math:`A_{:, idx}` of shape ``(m, len(idx))``."""
        idx = np.asarray(idx, dtype=np.intp)
        E = np.zeros((self.shape[1], idx.size))
        E[idx, np.arange(idx.size)] = 1.0
        return np.column_stack([self.matvec(e) for e in E.T]) if idx.size else E[: self.shape[0]]

    def to_dense(self) -> np.ndarray:
        """The full :math:`m \\times n` matrix (small problems and tests only)."""
        return self.columns(np.arange(self.shape[1]))

    def __matmul__(self, x):
        return self.matvec(x)

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.shape[1],):
            raise ValueError(f"x must have shape ({self.shape[1]},), got {x.shape}")
        return x

    def _check_y(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (self.shape[0],):
            raise ValueError(f"y must have shape ({self.shape[0]},), got {y.shape}")
        return y

    def __repr__(self) -> str:
        return f"{type(self).__name__}(m={self.shape[0]}, n={self.shape[1]})"


class MatrixOperator(LinearOperator):
    """A dense matrix ``A`` (m, n) seen as an operator.

    Examples
    --------
    >>> A = MatrixOperator(np.eye(3)[:2])
    >>> A.matvec(np.array([1.0, 2.0, 3.0]))
    array([1., 2.])
    """

    def __init__(self, A):
        self.matrix = check_array(A, "A", ndim=2)
        self.shape = self.matrix.shape

    def matvec(self, x):
        return self.matrix @ self._check_x(x)

    def rmatvec(self, y):
        return self.matrix.T @ self._check_y(y)

    def columns(self, idx):
        return self.matrix[:, np.asarray(idx, dtype=np.intp)]

    def to_dense(self):
        return self.matrix.copy()


def _dims(n_measurements, n_features):
    n = check_int(n_features, "n_features", low=1)
    m = check_int(n_measurements, "n_measurements", low=1)
    return m, n


class GaussianOperator(MatrixOperator):
    r"""Gaussian measurements, :math:`A_{ij} \sim \mathcal{N}(0, 1/m)` i.i.d.

    Parameters
    ----------
    n_measurements, n_features : int
        :math:`m` and :math:`n`.
    random_state : None, int or numpy Generator

    Examples
    --------
    >>> A = GaussianOperator(64, 256, random_state=0)
    >>> A.shape
    (64, 256)
    >>> bool(abs(np.linalg.norm(A.to_dense(), axis=0).mean() - 1) < 0.1)
    True
    """

    def __init__(self, n_measurements, n_features, random_state=None):
        m, n = _dims(n_measurements, n_features)
        check_elements(m * n, "n_measurements * n_features")
        rng = check_random_state(random_state)
        super().__init__(rng.standard_normal((m, n)) / np.sqrt(m))


class BernoulliOperator(MatrixOperator):
    r"""Rademacher measurements, :math:`A_{ij} = \pm 1/\sqrt{m}` with probability 1/2 each.

    Examples
    --------
    >>> A = BernoulliOperator(4, 8, random_state=0)
    >>> np.unique(A.to_dense() * 2).tolist()
    [-1.0, 1.0]
    """

    def __init__(self, n_measurements, n_features, random_state=None):
        m, n = _dims(n_measurements, n_features)
        check_elements(m * n, "n_measurements * n_features")
        rng = check_random_state(random_state)
        signs = rng.integers(0, 2, size=(m, n)) * 2.0 - 1.0
        super().__init__(signs / np.sqrt(m))


class PartialDCTOperator(LinearOperator):
    r"""Random rows of the orthonormal DCT-II, applied by fast transform.

    .. math:: A x = \sqrt{n/m}\, (D x)_\Omega, \qquad
              D_{kj} = c_k \sqrt{2/n} \cos\!\Big(\frac{\pi (2j + 1) k}{2n}\Big),

    with :math:`c_0 = 1/\sqrt 2`, :math:`c_k = 1` otherwise, and :math:`\Omega` a uniformly
    random set of :math:`m` rows (sorted). The adjoint zero-fills and applies the inverse
    transform. Nothing of size :math:`m \times n` is ever stored.

    Examples
    --------
    >>> A = PartialDCTOperator(1000, 100_000, random_state=0)
    >>> A.matvec(np.ones(100_000)).shape
    (1000,)
    """

    def __init__(self, n_measurements, n_features, random_state=None):
        m, n = _dims(n_measurements, n_features)
        if m > n:
            raise ValueError(f"n_measurements must be <= n_features ({n}), got {m}")
        rng = check_random_state(random_state)
        self.rows = np.sort(rng.choice(n, size=m, replace=False))
        self.scale = np.sqrt(n / m)
        self.shape = (m, n)

    def matvec(self, x):
        x = self._check_x(x)
        return scipy.fft.dct(x, type=2, norm="ortho")[self.rows] * self.scale

    def rmatvec(self, y):
        y = self._check_y(y)
        z = np.zeros(self.shape[1])
        z[self.rows] = y * self.scale
        return scipy.fft.idct(z, type=2, norm="ortho")

    def columns(self, idx):
        idx = np.asarray(idx, dtype=np.intp)
        n = self.shape[1]
        k = self.rows[:, None].astype(np.float64)
        block = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * idx[None, :] + 1) * k / (2 * n))
        block[self.rows == 0] /= np.sqrt(2.0)
        return block * self.scale


class SparseExpanderOperator(LinearOperator):
    r"""Sparse binary measurements: ``n_ones`` ones per column, at distinct random rows.

    .. math:: A_{ij} \in \{0, 1\}, \qquad \sum_i A_{ij} = s \quad \text{for every } j,

    with the :math:`s` rows of column :math:`j` drawn uniformly without replacement,
    independently across columns (Sharan et al. 2019, section 5; the public notebook uses
    :math:`s = 5`). Entries are not rescaled: the columns have norm :math:`\sqrt{s}`.
    Rows may be empty when :math:`n s` is small against :math:`m`; decoders must allow a
    rank-deficient :math:`A` (see :func:`parsimony.sparse.basis_pursuit.basis_pursuit`).

    Parameters
    ----------
    n_measurements, n_features : int
        :math:`m` and :math:`n`.
    n_ones : int, default=5
        :math:`s`, ones per column, ``1 <= n_ones <= n_measurements``.
    random_state : None, int or numpy Generator

    Attributes
    ----------
    matrix : scipy.sparse.csr_array
        The :math:`m \times n` binary matrix.

    Examples
    --------
    >>> A = SparseExpanderOperator(20, 50, n_ones=3, random_state=0)
    >>> A.to_dense().sum(axis=0).tolist() == [3.0] * 50
    True
    """

    def __init__(self, n_measurements, n_features, n_ones=5, random_state=None):
        m, n = _dims(n_measurements, n_features)
        s = check_int(n_ones, "n_ones", low=1, high=m)
        rng = check_random_state(random_state)
        rows = np.argsort(rng.random((n, m)), axis=1)[:, :s]
        cols = np.repeat(np.arange(n), s)
        data = np.ones(n * s)
        self.matrix = sp.csr_array((data, (rows.ravel(), cols)), shape=(m, n))
        self.n_ones = s
        self.shape = (m, n)

    def matvec(self, x):
        return self.matrix @ self._check_x(x)

    def rmatvec(self, y):
        return self.matrix.T @ self._check_y(y)

    def columns(self, idx):
        return self.matrix[:, np.asarray(idx, dtype=np.intp)].toarray()

    def to_dense(self):
        return self.matrix.toarray()


OPERATORS = {
    "gaussian": GaussianOperator,
    "bernoulli": BernoulliOperator,
    "dct": PartialDCTOperator,
}


def make_operator(kind: str, n_measurements, n_features, random_state=None) -> LinearOperator:
    """Build an operator by name: ``"gaussian"``, ``"bernoulli"`` or ``"dct"``."""
    if kind not in OPERATORS:
        raise ValueError(f"kind must be one of {sorted(OPERATORS)}, got {kind!r}")
    return OPERATORS[kind](n_measurements, n_features, random_state=random_state)


def as_operator(A) -> LinearOperator:
    """Return ``A`` if it is a :class:`LinearOperator`, else wrap a dense matrix."""
    if isinstance(A, LinearOperator):
        return A
    if hasattr(A, "matvec") and hasattr(A, "rmatvec") and hasattr(A, "shape"):
        raise TypeError("A must be a parsimony.sparse LinearOperator or a dense 2-D array")
    return MatrixOperator(A)
