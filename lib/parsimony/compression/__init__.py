"""Model compression: one honest size accounting shared by every method.

Sizes are bytes on disk: every compressed model is serialized by :func:`pack` into one
``bytes`` object (the :mod:`~parsimony.compression.container` format: a JSON header plus raw
arrays) whose length is the reported size; :func:`unpack` rebuilds the model, whose outputs
equal the compressed model's outputs exactly. :func:`size_report` says where the bytes go
(indices, codebooks, scales, uncompressed layers, header) and the ratio against the same
model in float32 and float16.

Adding a compression method (the protocol)
------------------------------------------
A method replaces weight layers (``nn.Linear``, ``nn.Conv1d/2d``, ``nn.Embedding``; see
:func:`select_layers`) by *compressed layers*. A compressed layer

1. subclasses :class:`CompressedLayer` (it keeps the layer's ``spec`` and float bias and
   runs the original operation with the rebuilt weight) and implements
   ``dense_weight()``;
2. implements ``pack_state() -> (arrays, kinds, meta)``: the numpy arrays that store it
   (names relative to the layer; bit-pack small integers with :func:`pack_bits`), a kind
   per array (``"indices"``, ``"codebook"``, ``"scale"``, ``"float"``, ``"coded"`` for
   entropy-coded streams, ...) and a JSON-able meta (include ``self.spec``);
3. implements the classmethod ``unpack_state(arrays, meta)`` returning an equal layer
   (evaluate with the values *as stored*, e.g. float16-rounded codebooks, so that the
   round trip is exact);
4. is registered with ``@register_compressed("a_unique_tag")``; a built-in type also gets
   an entry ``tag -> module`` in :data:`~parsimony.compression.packing.BUILTIN_LAYERS`, so
   that :func:`unpack` imports its module on demand in a fresh process.

:func:`pack` then stores it without any change to this package, and everything the
compressed layers do not own is stored as float (float32 or float16). Any ``nn.Module``
with the same ``tag`` / ``pack_state`` / ``unpack_state`` / ``dense_numel`` protocol works
too (e.g. a method that shares one codebook across layers may own a parent module).

Modules
-------
* :mod:`~parsimony.compression.container`: the byte format and bit packing.
* :mod:`~parsimony.compression.layers`: layer specs, blocks, selection, ``CompressedLayer``.
* :mod:`~parsimony.compression.packing`: ``pack``, ``unpack``, ``size_report``, the registry
  of compressed types (``BUILTIN_LAYERS``: tag -> module, imported on demand).
* :mod:`~parsimony.compression.scalar`: intN quantization (symmetric/asymmetric, per
  tensor/channel, min-max/percentile/histogram calibration), STE fake quantization,
  ``ScalarQuantizedLayer``, ``quantize_model``.
* :mod:`~parsimony.compression.kmeans`: vectorised k-means on weight blocks (empty-cluster
  splitting, non-increasing objective).
* :mod:`~parsimony.compression.pq`: product quantization (``PQLayer``: trainable centroids,
  stored assignments, mean centroid gradient), ``product_quantize_model``, iPQ
  (``IterativePQ``: staged, fine-tuning between stages).
* :mod:`~parsimony.compression.methods`: ``compress_model(model, method, train_data,
  **options)`` and ``METHODS`` (name -> public function: ``int8``, ``int4``, ``pq``, ``ipq``,
  ``smh``, ``hashednets``, ``epr``, ``lowrank_svd``, ``lowrank_l1``, ``wa``; register more
  with ``register_method``).
* :mod:`~parsimony.compression.experiments`: each paper's sweeps, probes and claim
  statistics, one module per paper (``quantnoise``, ``lowrank``, ``datafree``, ``smh``,
  ``epr``); imported by the notebooks, never by the algorithm modules.
* :mod:`~parsimony.compression.lowrank`: robust lp low-rank approximation of layers (Tukan
  et al.), a package: ``rounding`` (ellipsoid / Lewis-weight rounding), ``subspace`` (lp
  costs, the solvers, ``LpLowRank``), ``layers`` (``LowRankLayer``, ``low_rank_model``).
* :mod:`~parsimony.compression.datafree`: data-free quantization (Haroush et al. 2020):
  Gaussian / Inception / BN-statistics generators (``SyntheticGenerator.generate``), W/A
  fake quantization, activation calibration, ``kd_loss`` (distillation runs through
  ``parsimony.nn.train(loss=...)``), ``bns_similarity``.
* :mod:`~parsimony.compression.hashing`: Structured Multi-Hashing (Eban et al. 2020:
  ``smh_model``, ``SMHLayer`` slices of one ``U V`` or Kronecker pool) and HashedNets
  (``hashednets_model``).
* :mod:`~parsimony.compression.entropy`: Entropy Penalized Reparameterization (Oktay et al.
  2020: ``epr_model``, ``EPRLayer``, ``epr_penalty`` for ``parsimony.nn.train``), ANS coding
  with ``constriction``, and the quantize-then-code baseline (``quantize_then_code``).
* :mod:`~parsimony.compression.quant_noise`: Quant-Noise (``QuantNoise`` parametrization,
  proxy / exact scalar / exact PQ noise; ``add_quant_noise``, ``remove_quant_noise``).
"""

from parsimony.compression.container import (
    CorruptModelError,
    pack_arrays,
    pack_bits,
    size_breakdown,
    unpack_arrays,
    unpack_bits,
)
from parsimony.compression.datafree import (
    SyntheticGenerator,
    WAQuantizedLayer,
    bns_similarity,
    calibrate,
    quantize_wa,
)
from parsimony.compression.entropy import (
    EPRLayer,
    UniformCodedLayer,
    epr_model,
    epr_penalty,
    layer_steps,
    quantize_then_code,
    uniform_fake_quantize,
)
from parsimony.compression.hashing import (
    HashedLayer,
    SMHLayer,
    SMHPool,
    hashednets_model,
    pool_shape,
    smh_model,
)
from parsimony.compression.kmeans import KMeansResult, assign, kmeans
from parsimony.compression.layers import (
    WEIGHT_LAYERS,
    CompressedLayer,
    apply_layer,
    check_block_size,
    from_blocks,
    layer_spec,
    per_layer,
    renamed_argument,
    select_layers,
    set_module,
    to_blocks,
    weight_shape,
)
from parsimony.compression.lowrank import LowRankLayer, LpLowRank, low_rank_model, lp_low_rank
from parsimony.compression.methods import METHODS, compress_model, register_method
from parsimony.compression.packing import (
    BUILTIN_LAYERS,
    COMPRESSED_LAYERS,
    SizeReport,
    compressed_layer_class,
    is_compressed,
    model_bytes,
    pack,
    register_compressed,
    round_floats_,
    size_report,
    unpack,
)
from parsimony.compression.pq import (
    IterativePQ,
    PQLayer,
    index_bits,
    ipq,
    pq_decode,
    pq_encode,
    product_quantize,
    product_quantize_model,
)

# pruning (issue 20)
from parsimony.compression.pruning.formats import HAMLayer, SHAMLayer, SparseLayer, format_model
from parsimony.compression.pruning.masks import (
    apply_masks,
    magnitude_masks,
    prune_magnitude,
    remove_masks,
)
from parsimony.compression.pruning.sharing import share_weights
from parsimony.compression.pruning.shrink import shrink_model
from parsimony.compression.quant_noise import QuantNoise, add_quant_noise, remove_quant_noise
from parsimony.compression.scalar import (
    ScalarQuantizedLayer,
    ScalarQuantizer,
    dequantize,
    fake_quantize,
    quant_params,
    quantize,
    quantize_model,
)

__all__ = [
    "CorruptModelError",
    "BUILTIN_LAYERS",
    "COMPRESSED_LAYERS",
    "METHODS",
    "WEIGHT_LAYERS",
    "CompressedLayer",
    "IterativePQ",
    "KMeansResult",
    "LowRankLayer",
    "LpLowRank",
    "PQLayer",
    "ScalarQuantizedLayer",
    "ScalarQuantizer",
    "SyntheticGenerator",
    "WAQuantizedLayer",
    "QuantNoise",
    "SizeReport",
    "add_quant_noise",
    "apply_layer",
    "assign",
    "bns_similarity",
    "calibrate",
    "check_block_size",
    "compress_model",
    "compressed_layer_class",
    "dequantize",
    "fake_quantize",
    "from_blocks",
    "index_bits",
    "ipq",
    "is_compressed",
    "kmeans",
    "layer_spec",
    "low_rank_model",
    "lp_low_rank",
    "model_bytes",
    "pack",
    "pack_arrays",
    "pack_bits",
    "per_layer",
    "pq_decode",
    "pq_encode",
    "product_quantize",
    "product_quantize_model",
    "quant_params",
    "quantize",
    "quantize_model",
    "quantize_wa",
    "register_compressed",
    "register_method",
    "remove_quant_noise",
    "renamed_argument",
    "round_floats_",
    "select_layers",
    "set_module",
    "size_breakdown",
    "size_report",
    "to_blocks",
    "unpack",
    "unpack_arrays",
    "unpack_bits",
    "weight_shape",
    "EPRLayer",
    "UniformCodedLayer",
    "epr_model",
    "epr_penalty",
    "layer_steps",
    "quantize_then_code",
    "uniform_fake_quantize",
    "HashedLayer",
    "SMHLayer",
    "SMHPool",
    "hashednets_model",
    "pool_shape",
    "smh_model",
    # pruning (issue 20)
    "HAMLayer",
    "SHAMLayer",
    "SparseLayer",
    "apply_masks",
    "format_model",
    "magnitude_masks",
    "prune_magnitude",
    "remove_masks",
    "share_weights",
    "shrink_model",
]
