"""Compressive spectral clustering (Tremblay, Puy, Gribonval & Vandergheynst, ICML 2016).

- :mod:`~parsimony.spectral.graphs`: stochastic block models, k-NN graphs, Laplacians;
- :mod:`~parsimony.spectral.filters`: Jackson-Chebyshev filters, eigencount estimate of
  :math:`\\lambda_k`;
- :mod:`~parsimony.spectral.clustering`: :class:`SpectralClustering` and
  :class:`CompressiveSpectralClustering`, and the ``METHODS`` registry (``"sc"``, ``"csc"``);
- :mod:`~parsimony.spectral.experiments`: the sweeps and claim statistics behind the
  notebooks (one module per paper).
"""

from parsimony.spectral.clustering import (
    METHODS,
    CompressiveSpectralClustering,
    SpectralClustering,
    block_cg,
    choose_assign_labels,
    csc_defaults,
    subspace_decode,
)
from parsimony.spectral.filters import (
    chebyshev_moments,
    eigencount,
    estimate_lambda_k,
    filter_response,
    jackson_chebyshev_coefficients,
    polynomial_filter,
)
from parsimony.spectral.graphs import (
    check_adjacency,
    epsilon_critical,
    knn_graph,
    laplacian,
    normalized_adjacency,
    sbm,
)

__all__ = [
    "METHODS",
    "CompressiveSpectralClustering",
    "SpectralClustering",
    "block_cg",
    "choose_assign_labels",
    "chebyshev_moments",
    "check_adjacency",
    "csc_defaults",
    "eigencount",
    "epsilon_critical",
    "estimate_lambda_k",
    "filter_response",
    "jackson_chebyshev_coefficients",
    "knn_graph",
    "laplacian",
    "normalized_adjacency",
    "polynomial_filter",
    "sbm",
    "subspace_decode",
]
