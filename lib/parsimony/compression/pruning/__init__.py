"""Pruning: magnitude masks, physical shrinking of neurons and filters.

* :mod:`~parsimony.compression.pruning.masks`: global and per-layer magnitude masks built
  on :mod:`torch.nn.utils.prune` (they stay applied while the model trains).
* :mod:`~parsimony.compression.pruning.shrink`: removal of whole neurons / filters from a
  feed-forward chain (``MLP``, ``SmallCNN``) into a smaller dense model, and the unit masks
  that are exactly equivalent to it.
* :mod:`~parsimony.compression.pruning.sharing`: CWS and PWS 1-D weight sharing.
* :mod:`~parsimony.compression.pruning.formats`: CSR / CSC / bitmask, HAM and sHAM packable
  layers with compressed-domain products.
* :mod:`~parsimony.compression.pruning.imp`: IMP with rewinding and accelerated IMP (AIMP).
* :mod:`~parsimony.compression.pruning.voting`: majority-voting neuron removal (and the
  L2-norm and random baselines).
"""
