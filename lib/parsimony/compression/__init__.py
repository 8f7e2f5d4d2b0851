"""Model compression: one honest size accounting shared by every method.

``container`` is the byte format every method serializes to (sizes are ``len(bytes)``).
Quantization, hashing, low rank, entropy coding, pruning and data-free quantization build
on it (see the issues).
"""

from parsimony.compression.container import (
    pack_arrays,
    pack_bits,
    size_breakdown,
    unpack_arrays,
    unpack_bits,
)

__all__ = ["pack_arrays", "pack_bits", "size_breakdown", "unpack_arrays", "unpack_bits"]
