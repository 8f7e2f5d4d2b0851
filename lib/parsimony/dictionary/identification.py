r"""Local identifiability of a basis by :math:`\ell_1` minimisation.

Gribonval & Schnass, "Dictionary Identification: Sparse Matrix-Factorisation via
:math:`\ell_1`-Minimisation", IEEE Trans. Inf. Theory 56(7), 2010 (arXiv:0904.4774).

Convention (scikit-learn's): signals are rows, ``X = codes @ basis`` with ``codes``
(n_samples, n_atoms) and ``basis`` (n_atoms, n_features), unit-norm rows. The paper
writes the transpose, :math:`Y = \Phi X`.

For a basis the criterion is :math:`f(\Phi) = \|\Phi^{-1} Y\|_1` over bases with unit-norm
atoms. For an orthonormal basis the first-order test depends on the codes only (take
:math:`\Phi = I`). Write :math:`x^k` for the coefficients of atom :math:`k` over the
samples, :math:`\Lambda_k` its support, :math:`s_k` its signs there,
:math:`a_k = X_{-k,\Lambda_k} s_k` and :math:`B_k = X_{-k,\Lambda_k^c}`. The basis is a
sharp (hence strict) local minimum iff for every atom :math:`k` and every :math:`e \neq 0`

.. math:: |e^\top a_k| < \|B_k^\top e\|_1 ,

which, by linear-programming duality, holds iff :math:`\operatorname{rank} B_k = K - 1` and

.. math:: t_k^\star = \min\{\|w\|_\infty : B_k w = a_k\} < 1 .

We solve the equivalent box-constrained LP :math:`s^\star = \max\{s : B_k w = s\,a_k,
\|w\|_\infty \le 1\}`, so :math:`t_k^\star = 1/s^\star` (HiGHS, sparse constraints). The
derivation of this exact test for orthonormal bases is ours (see the paper card); it
agrees with the paper's characterisation for bases. The per-atom *margin*
:math:`1 - t_k^\star` is positive iff atom :math:`k` passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from parsimony._validation import (
    check_array,
    check_elements,
    check_float,
    check_int,
    check_random_state,
)

#: HiGHS is accurate to about 1e-7: a t* within this of 1 counts as a failure.
LP_TOL = 1e-6


def bernoulli_gaussian(n_samples: int, n_atoms: int, p: float, random_state=None) -> np.ndarray:
    r"""Bernoulli-Gaussian codes :math:`x = \xi g`, :math:`\xi \sim B(p)`, :math:`g \sim N(0,1)`.

    Parameters
    ----------
    n_samples, n_atoms : int
        Shape of the codes, (n_samples, n_atoms).
    p : float in (0, 1]
        Probability that a coefficient is active.
    random_state : None, int or numpy Generator

    Returns
    -------
    codes : ndarray of shape (n_samples, n_atoms)

    Examples
    --------
    >>> codes = bernoulli_gaussian(1000, 8, 0.25, random_state=0)
    >>> codes.shape, bool(abs((codes != 0).mean() - 0.25) < 0.03)
    ((1000, 8), True)
    """
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_atoms = check_int(n_atoms, "n_atoms", low=1)
    check_elements(n_samples * n_atoms, "n_samples * n_atoms")
    p = check_float(p, "p", low=0.0, high=1.0, low_inclusive=False)
    rng = check_random_state(random_state)
    active = rng.random((n_samples, n_atoms)) < p
    return np.where(active, rng.standard_normal((n_samples, n_atoms)), 0.0)


def random_basis(n_atoms: int, orthonormal: bool = True, random_state=None) -> np.ndarray:
    """A random basis with unit-norm rows: orthonormal (Haar) or Gaussian.

    Examples
    --------
    >>> B = random_basis(4, random_state=0)
    >>> bool(np.allclose(B @ B.T, np.eye(4)))
    True
    """
    n_atoms = check_int(n_atoms, "n_atoms", low=1)
    check_elements(n_atoms * n_atoms, "n_atoms ** 2")
    rng = check_random_state(random_state)
    G = rng.standard_normal((n_atoms, n_atoms))
    if orthonormal:
        Q, R = np.linalg.qr(G)
        return (Q * np.sign(np.diag(R))).T  # sign fix makes the draw Haar-distributed
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def _check_codes(codes) -> np.ndarray:
    codes = check_array(codes, "codes", min_rows=1, min_cols=2)
    return codes


def _support(codes: np.ndarray, tol: float) -> np.ndarray:
    scale = np.abs(codes).max()
    return np.abs(codes) > tol * scale if scale > 0 else np.zeros(codes.shape, bool)


def necessary_condition(codes, tol: float = 1e-9) -> np.ndarray:
    r"""Per-atom cheap necessary condition (the test along :math:`e = e_j`).

    Atom :math:`k` passes iff :math:`|\langle x^j_{\Lambda_k}, s_k\rangle| <
    \|x^j_{\Lambda_k^c}\|_1` for every :math:`j \ne k`. Vectorised over all pairs.

    Returns
    -------
    ok : ndarray of bool, shape (n_atoms,)
    """
    codes = _check_codes(codes)
    tol = check_float(tol, "tol", low=0.0)
    mask = _support(codes, tol)
    signs = np.sign(codes) * mask
    A = codes.T @ signs  # A[j, k] = <x^j on supp k, s_k>
    C = np.abs(codes).T @ (~mask)  # C[j, k] = ||x^j off supp k||_1
    ok = np.abs(A) < C
    np.fill_diagonal(ok, True)
    return ok.all(axis=0)


def _atom_blocks(codes: np.ndarray, mask: np.ndarray, k: int):
    others = np.r_[0:k, k + 1 : codes.shape[1]]
    on = mask[:, k]
    a = codes[on][:, others].T @ np.sign(codes[on, k])
    B = codes[~on][:, others].T  # (K - 1, m)
    return a, B


def _rank_ok(B: np.ndarray) -> bool:
    K1, m = B.shape
    return m >= K1 and np.linalg.matrix_rank(B) == K1


def _atom_t_star(a: np.ndarray, B: np.ndarray) -> float:
    """min ||w||_inf s.t. B w = a, via max s s.t. B w = s a, |w| <= 1; inf if rank fails."""
    K1, m = B.shape
    if not _rank_ok(B):
        return np.inf
    if not np.any(a):
        return 0.0
    A_eq = sp.hstack([sp.csr_matrix(B), sp.csr_matrix(-a[:, None])], format="csr")
    c = np.zeros(m + 1)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * m + [(0.0, None)]
    res = linprog(c, A_eq=A_eq, b_eq=np.zeros(K1), bounds=bounds, method="highs")
    if res.status == 3:  # unbounded: only when a = 0, handled above; be safe
        return 0.0
    if res.status != 0:
        return np.inf
    s = -res.fun
    return 1.0 / s if s > 0 else np.inf


@dataclass
class IdentifiabilityReport:
    """Per-atom outcome of the first-order test.

    Attributes
    ----------
    t_star : ndarray (n_atoms,)
        :math:`t_k^\\star` (``inf`` where the rank check fails). Atom k passes iff < 1.
    margins : ndarray (n_atoms,)
        :math:`1 - t_k^\\star`; ``-inf`` where the rank check fails.
    rank_ok : ndarray of bool (n_atoms,)
    is_local_minimum : bool
        Every margin exceeds the LP tolerance.
    """

    t_star: np.ndarray
    margins: np.ndarray
    rank_ok: np.ndarray
    is_local_minimum: bool


def l1_local_minimum_margins(
    codes, tol: float = 1e-9, lp_tol: float = LP_TOL
) -> IdentifiabilityReport:
    """The detailed variant of :func:`l1_local_minimum`: every atom's LP value and margin.

    Parameters
    ----------
    codes : array (n_samples, n_atoms)
        Coefficients of the signals on the orthonormal basis, ``X = codes @ basis``.
    tol : float
        Entries with ``|x| <= tol * max|codes|`` count as zero (the support).
    lp_tol : float
        A margin must exceed this (HiGHS solves to about 1e-7).
    """
    codes = _check_codes(codes)
    tol = check_float(tol, "tol", low=0.0)
    lp_tol = check_float(lp_tol, "lp_tol", low=0.0)
    mask = _support(codes, tol)
    K = codes.shape[1]
    t = np.empty(K)
    rank_ok = np.empty(K, bool)
    for k in range(K):
        a, B = _atom_blocks(codes, mask, k)
        rank_ok[k] = _rank_ok(B)
        t[k] = _atom_t_star(a, B) if rank_ok[k] else np.inf
    margins = 1.0 - t
    return IdentifiabilityReport(t, margins, rank_ok, bool(np.all(margins > lp_tol)))


def l1_local_minimum(codes, tol: float = 1e-9, lp_tol: float = LP_TOL) -> bool:
    r"""Whether an orthonormal basis is a strict local minimum of the :math:`\ell_1` criterion.

    For signals ``X = codes @ basis`` with ``basis`` orthonormal, returns True iff
    ``basis`` is a sharp local minimum of :math:`D \mapsto \|X D^{-1}\|_1` over bases with
    unit-norm atoms. The answer depends on ``codes`` only. Each atom needs a rank check
    and one linear program (HiGHS); a vectorised necessary condition
    (:func:`necessary_condition`) rejects most failing cases first, and the loop stops at
    the first failing atom.

    Parameters
    ----------
    codes : array (n_samples, n_atoms)
    tol : float
        Relative threshold under which a coefficient counts as zero.
    lp_tol : float
        Required margin :math:`1 - t_k^\star`.

    Examples
    --------
    >>> codes = bernoulli_gaussian(400, 6, 0.2, random_state=1)
    >>> l1_local_minimum(codes)
    True
    >>> l1_local_minimum(codes[:5])  # N <= K - 1: the rank check must fail
    False
    """
    codes = _check_codes(codes)
    tol = check_float(tol, "tol", low=0.0)
    lp_tol = check_float(lp_tol, "lp_tol", low=0.0)
    if codes.shape[0] < codes.shape[1] - 1 or not necessary_condition(codes, tol).all():
        return False
    mask = _support(codes, tol)
    for k in range(codes.shape[1]):
        if not 1.0 - _atom_t_star(*_atom_blocks(codes, mask, k)) > lp_tol:
            return False
    return True


def l1_criterion(X, dictionary) -> float:
    r""":math:`\|X D^{-1}\|_1` for a basis ``D`` (rows are atoms, normalised here).

    Examples
    --------
    >>> D = random_basis(3, random_state=0)
    >>> codes = bernoulli_gaussian(50, 3, 0.5, random_state=0)
    >>> bool(np.isclose(l1_criterion(codes @ D, D), np.abs(codes).sum()))
    True
    """
    X = check_array(X, "X")
    D = check_array(dictionary, "dictionary")
    if D.shape[0] != D.shape[1] or D.shape[1] != X.shape[1]:
        raise ValueError(
            f"dictionary must be a square basis of size n_features={X.shape[1]}, got {D.shape}"
        )
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("dictionary has a zero row; atoms must be nonzero")
    Dn = D / norms
    if np.linalg.cond(Dn) > 1e12:
        raise ValueError("dictionary is singular; the l1 criterion needs a basis")
    return float(np.abs(np.linalg.solve(Dn.T, X.T)).sum())


def l1_descent_direction(codes, atom: int, tol: float = 1e-9):
    r"""A first-order descent direction at the basis for ``atom``, if one exists.

    Solves :math:`\min \|B_k^\top e\|_1` subject to :math:`a_k^\top e = 1`; the
    directional derivative of the criterion along :math:`e` is
    :math:`\|B_k^\top e\|_1 - 1`.

    Returns
    -------
    e : ndarray (n_atoms,) or None
        ``e[atom] = 0``. Moving atom ``j`` to ``d_j + eps * e[j] * d_atom`` changes the
        codes of ``atom`` by ``-eps * codes[:, others] @ e[others]``. None if no
        direction has a negative derivative.
    derivative : float
        The directional derivative (negative for a descent direction).
    """
    codes = _check_codes(codes)
    K = codes.shape[1]
    atom = check_int(atom, "atom", low=0, high=K - 1)
    mask = _support(codes, tol)
    a, B = _atom_blocks(codes, mask, atom)
    m = B.shape[1]
    if not np.any(a):
        return None, 0.0
    # variables [e (K-1, free), u (m, >= 0)]: min sum u, |B^T e| <= u, a^T e = 1
    Bt = sp.csr_matrix(B.T)
    eye = sp.identity(m, format="csr")
    A_ub = sp.vstack([sp.hstack([Bt, -eye]), sp.hstack([-Bt, -eye])], format="csr")
    A_eq = sp.csr_matrix(np.r_[a, np.zeros(m)][None, :])
    c = np.r_[np.zeros(K - 1), np.ones(m)]
    bounds = [(None, None)] * (K - 1) + [(0, None)] * m
    res = linprog(
        c, A_ub=A_ub, b_ub=np.zeros(2 * m), A_eq=A_eq, b_eq=[1.0], bounds=bounds, method="highs"
    )
    if res.status != 0:
        return None, 0.0
    derivative = res.fun - 1.0
    if derivative >= 0:
        return None, derivative
    e = np.zeros(K)
    e[np.r_[0:atom, atom + 1 : K]] = res.x[: K - 1]
    return e, derivative
