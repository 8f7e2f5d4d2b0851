"""Experiments of the sparse family, one module per paper.

* :mod:`~parsimony.sparse.experiments.graph_recovery`: Yu, Cheng & Lu, "A Randomized
  Algorithm for Sparse Recovery", ICPR 2020, against CoSaMP, normalized IHT and the
  graph-CoSaMP / AM-IHT of Hegde, Indyk & Schmidt, ICML 2015: recovery trials, phase
  transitions, structured images, and the statistics the claims rest on.
"""
