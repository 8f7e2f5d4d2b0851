"""Structured compression: projections onto structured balls, and compact students.

Modules
-------
* :mod:`~parsimony.compression.structured.projections`: Euclidean projections onto the
  l1, l1,1 (bi-level), l2,1 and nuclear-norm balls and the splitting projected-gradient
  training (Barlaud & Guyard, ICPR 2020).

The LMA and APL activations live in :mod:`parsimony.nn.activations` (Xu et al., AAAI 2020);
the papers' experiments in :mod:`parsimony.compression.experiments.structured`.
"""
