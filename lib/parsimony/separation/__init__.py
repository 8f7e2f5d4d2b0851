"""Audio source separation with local Gaussian spatial covariance models.

* :mod:`~parsimony.separation.model`: the model, its likelihood, the EM of the full-rank
  unconstrained and rank-1 convolutive models, multichannel Wiener filtering (Duong,
  Vincent & Gribonval, IEEE TASLP 2010).
* :mod:`~parsimony.separation.oracle`: oracle parameters and binary masking.
* :mod:`~parsimony.separation.stft`: multichannel STFT and its inverse.
* :mod:`~parsimony.separation.metrics`: image SDR and ``fast_bss_eval`` metrics.
* :mod:`~parsimony.separation.init`, :mod:`~parsimony.separation.permutation`: the
  hierarchical-clustering initialisation and the permutation alignment.
* :mod:`~parsimony.separation.separator`: :class:`SpatialCovarianceSeparator`, the blind
  pipeline as a scikit-learn transformer; ``MODELS`` names its spatial models.
"""

from parsimony.separation.separator import MODELS, SpatialCovarianceSeparator

__all__ = ["MODELS", "SpatialCovarianceSeparator"]
