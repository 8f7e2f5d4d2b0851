"""Sparse recovery: measurement operators, greedy and thresholding solvers, graph sparsity.

Yu, Cheng & Lu, "A Randomized Algorithm for Sparse Recovery", ICPR 2020 (randomized LP
head/tail), with the baselines CoSaMP (Needell & Tropp 2009), normalized IHT (Blumensath &
Davies 2010), OMP, and graph-CoSaMP / AM-IHT (Hegde, Indyk & Schmidt, ICML 2015).

Modules
-------
* :mod:`~parsimony.sparse.operators`: Gaussian, Bernoulli, partial DCT (fast) operators.
* :mod:`~parsimony.sparse.models`: k-sparse and graph-structured models, grid graphs,
  planted connected supports.
* :mod:`~parsimony.sparse.headtail`: head/tail approximations (PCST of HIS 2015; the
  randomized LP rounding), registry ``headtail.METHODS``.
* :mod:`~parsimony.sparse.solvers`: ``omp``, ``cosamp``, ``iht``, ``recover``.
* :mod:`~parsimony.sparse.experiments`: recovery trials and phase transitions;
  ``METHODS``, the recovery methods by name (solver + model projection).
"""

from parsimony.sparse.experiments import METHODS, make_model, phase_transition, recovery_trial
from parsimony.sparse.headtail import lp_project, pcst_project
from parsimony.sparse.models import (
    GraphSparse,
    KSparse,
    adjacency,
    grid_graph,
    n_components,
    planted_signal,
    random_connected_support,
)
from parsimony.sparse.operators import (
    OPERATORS,
    BernoulliOperator,
    GaussianOperator,
    MatrixOperator,
    PartialDCTOperator,
    make_operator,
)
from parsimony.sparse.solvers import SOLVERS, OrthogonalMatchingPursuit, cosamp, iht, omp, recover

__all__ = [
    "METHODS",
    "OPERATORS",
    "SOLVERS",
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
    "lp_project",
    "make_model",
    "make_operator",
    "n_components",
    "omp",
    "pcst_project",
    "phase_transition",
    "planted_signal",
    "random_connected_support",
    "recover",
    "recovery_trial",
]
