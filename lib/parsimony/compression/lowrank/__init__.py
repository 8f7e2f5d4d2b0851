r"""Robust :math:`\ell_p` low-rank approximation of layers, instead of the SVD.

Tukan, Maalouf, Weksler & Feldman, "Compressed Deep Networks: Goodbye SVD, Hello Robust
Low-Rank Approximation", arXiv:2009.05647, 2020; journal version "No Fine-Tuning, No Cry:
Robust SVD for Compressing Deep Networks", Sensors 21(16):5599, 2021.

A layer is a matrix :math:`A \in \mathbb{R}^{n \times d}` whose rows are points. For
:math:`p \in [1, 2]`, find a rank-:math:`k` orthonormal basis :math:`V_k` minimising

.. math:: \sum_i \|a_i (I - V_k V_k^\top)\|_2^p ,

then store :math:`A V_k` and :math:`V_k^\top`: :math:`(n + d)k` numbers instead of
:math:`nd`. :math:`p = 2` is the truncated SVD; :math:`p = 1` is robust to far-away rows.

Modules
-------
* :mod:`~parsimony.compression.lowrank.rounding`: ellipsoidal rounding of
  :math:`\{x : \|Ax\|_p \le 1\}`, the paper's shallow-cut ellipsoid method and the
  :math:`\ell_p` Lewis-weight ellipsoid (ours).
* :mod:`~parsimony.compression.lowrank.subspace`: the :math:`\ell_p` cost, the solvers
  (:data:`SUBSPACE_SOLVERS`: ``svd``, ``ellipsoid`` (the paper's), ``lewis`` and ``irls``
  (ours)), the estimator :class:`LpLowRank` and :func:`lp_low_rank`.
* :mod:`~parsimony.compression.lowrank.layers`: :class:`LowRankLayer` (registered as
  ``"lowrank"``), :func:`factorize_linear`, :func:`factorize_embedding`,
  :func:`low_rank_model`, :func:`break_even_rank`.

The paper's experiments (synthetic outliers, the MiniLM word embedding, the digits MLP)
live in :mod:`parsimony.compression.experiments.lowrank`; the MiniLM loader in
:mod:`parsimony.nn.pretrained`.
"""

from parsimony.compression.lowrank.layers import (
    LowRankLayer,
    break_even_rank,
    factorize_embedding,
    factorize_linear,
    low_rank_model,
)
from parsimony.compression.lowrank.rounding import (
    EllipsoidRounding,
    ellipsoid_rounding,
    lewis_rounding,
)
from parsimony.compression.lowrank.subspace import (
    SUBSPACE_SOLVERS,
    LpLowRank,
    ellipsoid_subspace,
    irls_subspace,
    lewis_subspace,
    lp_cost,
    lp_low_rank,
    svd_subspace,
)

__all__ = [
    "SUBSPACE_SOLVERS",
    "EllipsoidRounding",
    "LowRankLayer",
    "LpLowRank",
    "break_even_rank",
    "ellipsoid_rounding",
    "ellipsoid_subspace",
    "factorize_embedding",
    "factorize_linear",
    "irls_subspace",
    "lewis_rounding",
    "lewis_subspace",
    "low_rank_model",
    "lp_cost",
    "lp_low_rank",
    "svd_subspace",
]
