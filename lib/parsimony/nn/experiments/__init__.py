"""Per-paper sweeps and claim statistics of the ``parsimony.nn`` family."""
