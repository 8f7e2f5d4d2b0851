r"""Planted sparse low-rank data for compressed factorization (Sharan et al., ICML 2019).

:math:`M = W H \in \mathbb R^{n \times m}` with :math:`W \ge 0` of rank :math:`r` and
:math:`k`-sparse columns, and :math:`H \ge 0` with unit-norm rows; noise :math:`N` scaled so
that :math:`\|N\|_F = \text{noise}\,\|M\|_F` (the public notebook's "noise 0.1").
Returned in scikit-learn's convention (samples are rows): ``X = M.T`` of shape
``(n_samples, n_features) = (m, n)``, ``components = W.T`` (r, n), ``codes = H.T`` (m, r).
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_float, check_int, check_random_state

__all__ = ["planted_factorization"]


def planted_factorization(
    n_samples, n_features, n_components, n_nonzero, *, noise=0.0, random_state=None
):
    """Draw a non-negative rank-``n_components`` matrix with ``n_nonzero``-sparse factors.

    Parameters
    ----------
    n_samples, n_features : int
        :math:`m` and :math:`n`.
    n_components : int
        Rank :math:`r`.
    n_nonzero : int
        Non-zeros :math:`k` per factor (row of ``components``), ``<= n_features``.
    noise : float, default=0.0
        Frobenius ratio of the additive Gaussian noise to the clean data.
    random_state : None, int or numpy Generator

    Returns
    -------
    X : array (n_samples, n_features)
        Observed data, clean plus noise.
    clean : array (n_samples, n_features)
        ``codes @ components``.
    components : array (n_components, n_features)
        Non-negative, ``n_nonzero`` non-zeros per row, entries uniform on [0.001, 1.001) there.
    codes : array (n_samples, n_components)
        Non-negative, uniform entries, unit-norm columns (rows of :math:`H`).

    Examples
    --------
    >>> X, clean, W, H = planted_factorization(20, 30, 3, 4, random_state=0)
    >>> X.shape, W.shape, H.shape, (W > 0).sum(axis=1).tolist()
    ((20, 30), (3, 30), (20, 3), [4, 4, 4])
    """
    m = check_int(n_samples, "n_samples", low=1)
    n = check_int(n_features, "n_features", low=1)
    r = check_int(n_components, "n_components", low=1)
    k = check_int(n_nonzero, "n_nonzero", low=1, high=n)
    noise = check_float(noise, "noise", low=0.0)
    rng = check_random_state(random_state)
    components = np.zeros((r, n))
    for i in range(r):
        components[i, rng.choice(n, size=k, replace=False)] = rng.random(k) + 1e-3
    codes = rng.random((m, r))
    codes /= np.linalg.norm(codes, axis=0)
    clean = codes @ components
    N = rng.standard_normal(clean.shape)
    X = clean + noise * np.linalg.norm(clean) / np.linalg.norm(N) * N
    return X, clean, components, codes
