"""Parsimony: algorithms for compact models and signals, one module per paper.

Subpackages
-----------
dictionary   dictionary identification and learning, analysis-operator learning
spectral     graphs, graph filters, (compressive) spectral clustering
sparse       sparse recovery with structured sparsity models
compression  quantization, hashing, low rank, entropy coding, size accounting
nn           the small models and the training loop shared by the experiments
data         offline datasets and the ``python -m parsimony.data build`` step
"""

__version__ = "0.1.0"
