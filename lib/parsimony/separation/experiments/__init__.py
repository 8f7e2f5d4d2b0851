"""Experiments of the separation family, one module per paper.

* :mod:`~parsimony.separation.experiments.duong2010`: Duong, Vincent & Gribonval, IEEE
  TASLP 2010: oracle ("potential performance") SDR of the full-rank and rank-1 spatial
  models and of binary masking against RT60, and the statistics the claims rest on.
"""
