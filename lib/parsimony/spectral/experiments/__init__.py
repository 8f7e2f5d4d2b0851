"""The sweeps, probes and claim statistics behind the spectral notebooks, one module per paper.

- :mod:`~parsimony.spectral.experiments.csc`: Tremblay, Puy, Gribonval & Vandergheynst,
  "Compressive Spectral Clustering", ICML 2016 (arXiv:1602.02018).
"""
