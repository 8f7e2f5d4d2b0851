r"""Projections onto the uniformly normalised tight frames (UNTF) and random UNTFs.

Yaghoobi, Nam, Gribonval & Davies, "Constrained Overcomplete Analysis Operator Learning
for Cosparse Signal Modelling", IEEE Trans. Signal Processing 61(9), 2013
(arXiv:1205.4133), Section on the UNTF constraint.

An operator :math:`\Omega` of shape (n_components, n_features) = (m, n), m >= n, is a UNTF
when

.. math:: \Omega^\top\Omega = I_n \quad\text{and}\quad \|\omega_i\|_2 = \sqrt{n/m}\ \forall i.

The set is the intersection of the tight frames (TF) and the operators with equal row
norms (UN). Both projections are exact:

* :math:`P_{\mathrm{TF}}(\Omega) = UV^\top` from the thin SVD :math:`\Omega = U\Sigma V^\top`
  (the polar factor, :func:`tight_frame_projection`); near a tight frame the same factor
  is computed by a few Newton-Schulz steps :math:`X \leftarrow X(3I - X^\top X)/2`, cheaper
  than an SVD (``warm_start=True``, ours);
* :math:`P_{\mathrm{UN}}` rescales every row to :math:`\sqrt{n/m}`
  (:func:`unit_norm_projection`).

The UNTF set is not convex; :func:`untf_projection` alternates the two (Tropp, Dhillon,
Heath & Strohmer 2005), ending on :math:`P_{\mathrm{TF}}`. Every function here accepts one
operator or a stack of operators (shape (..., m, n)) so that batched learners can use it.
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import (
    check_array,
    check_elements,
    check_float,
    check_int,
    check_random_state,
)

_TINY = 1e-300


def _check_operator(omega, name: str = "omega", stack: bool = False) -> np.ndarray:
    if stack and np.ndim(omega) == 3:
        omega = check_array(omega, name, ndim=3)
    else:
        omega = check_array(omega, name, min_rows=1, min_cols=1)
    m, n = omega.shape[-2:]
    if m < n:
        raise ValueError(
            f"{name} must have n_components >= n_features (an overcomplete or square "
            f"operator), got shape {omega.shape}"
        )
    return omega


def constraint_residuals(omega) -> tuple[float, float]:
    r"""How far ``omega`` is from the UNTF set.

    Returns
    -------
    tight_frame : float
        :math:`\max_{ij} |(\Omega^\top\Omega - I)_{ij}|`.
    unit_norm : float
        :math:`\max_i |\|\omega_i\|_2 - \sqrt{n/m}|`.

    Examples
    --------
    >>> constraint_residuals(np.eye(3))
    (0.0, 0.0)
    """
    omega = check_array(omega, "omega")
    m, n = omega.shape
    tf = float(np.abs(omega.T @ omega - np.eye(n)).max())
    un = float(np.abs(np.linalg.norm(omega, axis=1) - np.sqrt(n / m)).max())
    return tf, un


def _polar(omega: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(omega, full_matrices=False)
    return U @ Vt


def _polar_near(omega: np.ndarray, tol: float = 1e-14, max_iter: int = 12) -> np.ndarray:
    """Newton-Schulz polar factor; falls back to the SVD when the start is too far
    (``||X^T X - I||_inf >= 0.9``, a bound on the spectral norm of the residual) or
    ``max_iter`` steps do not reach ``tol``."""
    eye = np.eye(omega.shape[-1])
    X = omega
    for k in range(max_iter):
        E = np.swapaxes(X, -1, -2) @ X - eye
        if k == 0 and np.abs(E).sum(axis=-1).max() >= 0.9:
            break
        if np.abs(E).max() <= tol:
            return X
        X = X @ (eye - 0.5 * E)
    return _polar(omega)


def tight_frame_projection(omega, warm_start: bool = False) -> np.ndarray:
    r"""Nearest tight frame in Frobenius norm: :math:`P_{\mathrm{TF}}(\Omega) = UV^\top`.

    Parameters
    ----------
    omega : array (..., n_components, n_features), n_components >= n_features
    warm_start : bool
        Compute the polar factor by Newton-Schulz steps when ``omega`` is already near a
        tight frame (falls back to the SVD otherwise); the result is the same to 1e-12.

    Examples
    --------
    >>> P = tight_frame_projection(np.random.default_rng(0).standard_normal((6, 3)))
    >>> bool(np.allclose(P.T @ P, np.eye(3)))
    True
    """
    omega = _check_operator(omega, stack=True)
    return _polar_near(omega) if warm_start else _polar(omega)


def unit_norm_projection(omega) -> np.ndarray:
    r"""Rescale every row to the UNTF norm :math:`\sqrt{n/m}` (zero rows become
    :math:`\sqrt{n/m}\,e_1`, a fixed direction).

    Examples
    --------
    >>> P = unit_norm_projection(np.ones((4, 2)))
    >>> np.linalg.norm(P, axis=1).round(6).tolist()
    [0.707107, 0.707107, 0.707107, 0.707107]
    """
    omega = _check_operator(omega, stack=True)
    m, n = omega.shape[-2:]
    norms = np.linalg.norm(omega, axis=-1, keepdims=True)
    zero = norms <= _TINY
    if np.any(zero):
        omega = np.where(zero, np.eye(1, n), omega)
        norms = np.where(zero, 1.0, norms)
    return omega * (np.sqrt(n / m) / norms)


def untf_round(omega) -> np.ndarray:
    r"""One round of alternating projections, :math:`P_{\mathrm{TF}}(P_{\mathrm{UN}}(\Omega))`,
    with the warm-started polar factor: the projection used at every learning step.

    Examples
    --------
    >>> P = untf_round(np.random.default_rng(0).standard_normal((6, 4)))
    >>> constraint_residuals(P)[0] < 1e-12
    True
    """
    return tight_frame_projection(unit_norm_projection(omega), warm_start=True)


def untf_projection(omega, n_rounds: int = 500, tol: float = 1e-12) -> np.ndarray:
    r"""Approximate projection onto the UNTF set by alternating projections.

    Alternates :math:`P_{\mathrm{UN}}` and :math:`P_{\mathrm{TF}}`, ending on
    :math:`P_{\mathrm{TF}}` (so :math:`\Omega^\top\Omega = I` holds to machine precision),
    until both :func:`constraint_residuals` are below ``tol`` or ``n_rounds`` rounds have
    run. It converges quickly from generic starting points.

    Parameters
    ----------
    omega : array (n_components, n_features), n_components >= n_features
    n_rounds : int
        Maximum number of (unit-norm, tight-frame) rounds; 0 returns a copy.
    tol : float
        Stop when both residuals are at most ``tol``.

    Examples
    --------
    >>> P = untf_projection(np.random.default_rng(0).standard_normal((6, 4)))
    >>> max(constraint_residuals(P)) < 1e-10
    True
    """
    omega = _check_operator(omega)
    n_rounds = check_int(n_rounds, "n_rounds", low=0)
    tol = check_float(tol, "tol", low=0.0)
    out = omega.copy()
    for _ in range(n_rounds):
        if max(constraint_residuals(out)) <= tol:
            break
        out = _polar(unit_norm_projection(out))
    return out


#: constraint name -> the projection applied after every learning step (one round)
CONSTRAINTS = {
    "untf": untf_round,
    "tight_frame": tight_frame_projection,
    "unit_norm": unit_norm_projection,
}


def random_untf(n_components: int, n_features: int, random_state=None) -> np.ndarray:
    """A random UNTF: a Gaussian matrix followed by alternating projections.

    Parameters
    ----------
    n_components, n_features : int
        Shape (m, n) of the operator, m >= n.
    random_state : None, int or numpy Generator

    Returns
    -------
    omega : ndarray (n_components, n_features)
        Both UNTF constraints hold to about 1e-12.

    Examples
    --------
    >>> omega = random_untf(24, 16, random_state=0)
    >>> max(constraint_residuals(omega)) < 1e-10
    True
    """
    m = check_int(n_components, "n_components", low=1)
    n = check_int(n_features, "n_features", low=1)
    check_elements(m * n, "n_components * n_features")
    if m < n:
        raise ValueError(f"n_components must be >= n_features={n} for a tight frame, got {m}")
    rng = check_random_state(random_state)
    return untf_projection(rng.standard_normal((m, n)), n_rounds=2000)
