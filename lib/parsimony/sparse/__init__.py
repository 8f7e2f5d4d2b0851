"""Sparse recovery: measurement operators, greedy and thresholding solvers, graph sparsity.

Yu, Cheng & Lu, "A Randomized Algorithm for Sparse Recovery", ICPR 2020 (randomized LP
head/tail), with the baselines CoSaMP (Needell & Tropp 2009), normalized IHT (Blumensath &
Davies 2010), OMP, and graph-CoSaMP / AM-IHT (Hegde, Indyk & Schmidt, ICML 2015).

Modules
-------
* :mod:`~parsimony.sparse.operators`: Gaussian, Bernoulli, partial DCT (fast) operators.
* :mod:`~parsimony.sparse.graphs`: grid graphs, adjacency, planted connected supports.
* :mod:`~parsimony.sparse.headtail`: head/tail approximations (PCST of HIS 2015; the
  randomized LP rounding), registry ``PROJECTIONS``.
* :mod:`~parsimony.sparse.models`: the k-sparse and graph-structured models.
* :mod:`~parsimony.sparse.omp`: ``omp`` and the scikit-learn drop-in
  ``OrthogonalMatchingPursuit``.
* :mod:`~parsimony.sparse.solvers`: ``cosamp``, ``iht``, ``recover``; ``METHODS``, the
  solvers by name.
* :mod:`~parsimony.sparse.experiments.graph_recovery`: the ICPR 2020 experiments (recovery
  trials, phase transitions, image recovery) and their statistics; imported on its own.
"""

from parsimony.sparse.graphs import (
    adjacency,
    grid_graph,
    n_components,
    planted_signal,
    random_connected_support,
)
from parsimony.sparse.headtail import PROJECTIONS, lp_det_project, lp_project, pcst_project
from parsimony.sparse.models import GraphSparse, KSparse
from parsimony.sparse.omp import OrthogonalMatchingPursuit, omp
from parsimony.sparse.operators import (
    OPERATORS,
    BernoulliOperator,
    GaussianOperator,
    MatrixOperator,
    PartialDCTOperator,
    make_operator,
)
from parsimony.sparse.solvers import METHODS, cosamp, iht, recover

__all__ = [
    "METHODS",
    "OPERATORS",
    "PROJECTIONS",
    "BernoulliOperator",
    "GaussianOperator",
    "GraphSparse",
    "KSparse",
    "MatrixOperator",
    "OrthogonalMatchingPursuit",
    "PartialDCTOperator",
    "adjacency",
    "cosamp",
    "grid_graph",
    "iht",
    "lp_det_project",
    "lp_project",
    "make_operator",
    "n_components",
    "omp",
    "pcst_project",
    "planted_signal",
    "random_connected_support",
    "recover",
]
