"""Every public entry point refuses bad input with a ValueError/TypeError naming the argument.

The test walks the ``__all__`` of each subpackage listed in :data:`FAMILIES`. Every
callable there must appear in :data:`CALLS` (a valid call, and the arguments to corrupt)
or in :data:`NO_INPUT` (with the reason it takes nothing to corrupt), so a new public
function cannot be added without its bad-input row. Each corrupted argument gets every bad
value of its kind (:data:`BAD`): NaN, infinity, complex, strings, wrong dimensions, empty
arrays for arrays; negatives, zero, fractions, booleans and absurd sizes for counts. The call
must raise ``ValueError`` or ``TypeError`` whose message names the argument; a silent
result, or any other exception (an IndexError from inside NumPy, a torch RuntimeError),
fails.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
import torch
from torch import nn


def _rng(seed=0):
    return np.random.default_rng(seed)


def _omega():
    from parsimony.dictionary import random_untf

    return random_untf(8, 4, random_state=0)


def _X(n=4, m=20, seed=0):
    return _rng(seed).standard_normal((n, m))


def _codes():
    from parsimony.dictionary import bernoulli_gaussian

    return bernoulli_gaussian(30, 3, 0.3, random_state=0)


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def _w():
    torch.manual_seed(0)
    return torch.randn(16, 8)


#: kind -> bad values (callables of the valid value, so shapes follow the valid call)
BAD = {
    "array": [
        ("nan", lambda v: _with(v, np.nan)),
        ("inf", lambda v: _with(v, np.inf)),
        ("complex", lambda v: np.asarray(v) + 1j),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
        ("3-d", lambda v: np.asarray(v)[None, None]),
        ("empty", lambda v: np.zeros((0,) * np.asarray(v).ndim)),
    ],
    # a tensor of any shape (elementwise functions, weights of any layer)
    # an array where an empty one is meaningful (no step at all)
    "array0": [
        ("nan", lambda v: _with(v, np.nan)),
        ("inf", lambda v: _with(v, np.inf)),
        ("complex", lambda v: np.asarray(v) + 1j),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
        ("2-d", lambda v: np.asarray(v)[None]),
    ],
    "tensor": [
        ("nan", lambda v: _with(v, float("nan"))),
        ("inf", lambda v: _with(v, float("inf"))),
        ("complex", lambda v: v.to(torch.complex64)),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
    ],
    # a 2-D tensor (points, centroids)
    "matrix": [
        ("nan", lambda v: _with(v, float("nan"))),
        ("inf", lambda v: _with(v, float("inf"))),
        ("complex", lambda v: v.to(torch.complex64)),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
        ("3-d", lambda v: v[None, None]),
    ],
    # a tensor reshaped, not computed with: only its type matters
    "any-tensor": [
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
        ("array", lambda v: np.zeros(3)),
    ],
    # a count that sizes an allocation: absurd sizes are refused before allocating
    "size": [
        ("negative", lambda v: -1),
        ("zero", lambda v: 0),
        ("fraction", lambda v: 2.5),
        ("bool", lambda v: True),
        ("string", lambda v: "3"),
        ("huge", lambda v: 10**12),
    ],
    # a count of iterations, components, ...: large values are slow, not wrong
    "count": [
        ("negative", lambda v: -1),
        ("zero", lambda v: 0),
        ("fraction", lambda v: 2.5),
        ("bool", lambda v: True),
        ("string", lambda v: "3"),
    ],
    # a count where zero is documented as meaningful (no iteration, no value)
    "count0": [
        ("negative", lambda v: -1),
        ("fraction", lambda v: 2.5),
        ("bool", lambda v: True),
        ("string", lambda v: "3"),
    ],
    "size0": [
        ("negative", lambda v: -1),
        ("fraction", lambda v: 2.5),
        ("string", lambda v: "3"),
        ("huge", lambda v: 10**12),
    ],
    "integers": [
        ("nan", lambda v: _with(v, np.nan)),
        ("fraction", lambda v: np.asarray(v) + 0.5),
        ("complex", lambda v: np.asarray(v) + 1j),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
    ],
    "vector": [
        ("nan", lambda v: _with(v, np.nan)),
        ("inf", lambda v: _with(v, np.inf)),
        ("complex", lambda v: np.asarray(v) + 1j),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
        ("2-d", lambda v: np.asarray(v)[None, None]),
    ],
    # values of any shape (evaluation points)
    "values": [
        ("nan", lambda v: _with(v, np.nan)),
        ("inf", lambda v: _with(v, np.inf)),
        ("complex", lambda v: np.asarray(v) + 1j),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
    ],
    # logits: any rank (a language model's are 3-D); NaN logits give a NaN loss, visibly
    "logits": [
        ("complex", lambda v: v.to(torch.complex64)),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
    ],
    # node ids: integers in range
    "ids": [
        ("negative", lambda v: np.array([-1, 0])),
        ("out-of-range", lambda v: np.array([0, 10**6])),
        ("fraction", lambda v: np.array([0.5, 1.0])),
        ("string", lambda v: "abc"),
    ],
    # an edge list (n_edges, 2) of node ids
    "edges": [
        ("negative", lambda v: np.array([[-1, 0]])),
        ("out-of-range", lambda v: np.array([[0, 10**6]])),
        ("fraction", lambda v: np.array([[0.5, 1.0]])),
        ("1-d", lambda v: np.array([0, 1])),
        ("string", lambda v: "abc"),
    ],
    # a (X, y) pair of a training set
    "pair": [
        ("nan", lambda v: (_with(v[0], np.nan), v[1])),
        ("inf", lambda v: (_with(v[0], np.inf), v[1])),
        ("negative-label", lambda v: (v[0], np.where(np.arange(len(v[1])) == 0, -1, v[1]))),
        ("length-mismatch", lambda v: (v[0], v[1][:-1])),
        ("string", lambda v: "abc"),
        ("none", lambda v: None),
    ],
    "positive": [
        ("negative", lambda v: -1.0),
        ("nan", lambda v: float("nan")),
        ("string", lambda v: "1"),
    ],
    "probability": [
        ("negative", lambda v: -0.1),
        ("above-one", lambda v: 1.5),
        ("nan", lambda v: float("nan")),
        ("string", lambda v: "0.5"),
    ],
    "bits": [
        ("zero", lambda v: 0),
        ("huge", lambda v: 10**12),
        ("fraction", lambda v: 4.5),
        ("string", lambda v: "8"),
    ],
    "module": [
        ("array", lambda v: np.zeros((3, 3))),
        ("none", lambda v: None),
        ("string", lambda v: "mlp"),
    ],
}


def _with(value, bad):
    """``value`` (array or tensor) with its first entry replaced by ``bad``."""
    if isinstance(value, torch.Tensor):
        out = value.detach().float().contiguous().clone()
        out.view(-1)[0] = bad
    else:
        out = np.array(value, dtype=float)
        out.flat[0] = bad
    return out


def _dictionary_calls():
    import parsimony.dictionary as d

    X, om = _X(20, 4), _omega()
    return {
        "analysis_denoise": (
            d.analysis_denoise,
            dict(X=X, omega=om, lam=0.1, max_iter=5),
            {"X": "array", "omega": "array", "lam": "positive", "max_iter": "count"},
        ),
        "analysis_objective": (
            d.analysis_objective,
            dict(X=X, omega=om),
            {"X": "array", "omega": "array"},
        ),
        "bernoulli_gaussian": (
            d.bernoulli_gaussian,
            dict(n_samples=10, n_atoms=3, p=0.3),
            {"n_samples": "size", "n_atoms": "size", "p": "probability"},
        ),
        "constraint_residuals": (d.constraint_residuals, dict(omega=om), {"omega": "array"}),
        "cosparse_signals": (
            d.cosparse_signals,
            dict(omega=om, n_samples=5, cosparsity=2),
            {"omega": "array", "n_samples": "size", "cosparsity": "count"},
        ),
        "dictionary_recovery": (
            d.dictionary_recovery,
            dict(D_true=np.eye(3), D_est=np.eye(3)),
            {"D_true": "array", "D_est": "array"},
        ),
        "finite_difference_operator": (
            d.finite_difference_operator,
            dict(patch_size=3),
            {"patch_size": "size"},
        ),
        "l1_criterion": (
            d.l1_criterion,
            dict(X=_X(10, 3), dictionary=np.eye(3)),
            {"X": "array", "dictionary": "array"},
        ),
        "l1_descent_direction": (
            d.l1_descent_direction,
            dict(codes=_codes(), atom=0),
            {"codes": "array"},
        ),
        "l1_local_minimum": (d.l1_local_minimum, dict(codes=_codes()), {"codes": "array"}),
        "l1_local_minimum_margins": (
            d.l1_local_minimum_margins,
            dict(codes=_codes()),
            {"codes": "array"},
        ),
        "necessary_condition": (d.necessary_condition, dict(codes=_codes()), {"codes": "array"}),
        "operator_recovery": (
            d.operator_recovery,
            dict(omega_true=om, omega_est=om),
            {"omega_true": "array", "omega_est": "array"},
        ),
        "projected_subgradient": (
            d.projected_subgradient,
            dict(X=X, omega=om, steps=np.full(3, 0.01)),
            {"X": "array", "omega": "array", "steps": "array0"},
        ),
        "random_basis": (d.random_basis, dict(n_atoms=3), {"n_atoms": "size"}),
        "random_untf": (
            d.random_untf,
            dict(n_components=8, n_features=4),
            {"n_components": "size", "n_features": "size"},
        ),
        "step_sizes": (
            d.step_sizes,
            dict(step=0.1, n_iter=5),
            {"step": "positive", "n_iter": "size0"},
        ),
        "tight_frame_projection": (d.tight_frame_projection, dict(omega=om), {"omega": "array"}),
        "unit_norm_projection": (d.unit_norm_projection, dict(omega=om), {"omega": "array"}),
        "untf_projection": (
            d.untf_projection,
            dict(omega=om, n_rounds=5),
            {"omega": "array", "n_rounds": "count0"},
        ),
        "untf_round": (d.untf_round, dict(omega=om), {"omega": "array"}),
    }


def _lowrank_calls():
    import parsimony.compression.lowrank as lr

    A = _X(12, 6)
    lin = nn.Linear(6, 12)
    emb = nn.Embedding(12, 6)
    return {
        "break_even_rank": (lr.break_even_rank, dict(n=12, d=6), {"n": "count", "d": "count"}),
        "ellipsoid_rounding": (lr.ellipsoid_rounding, dict(A=A, max_iter=5), {"A": "array"}),
        "ellipsoid_subspace": (
            lr.ellipsoid_subspace,
            dict(A=A, k=2, max_iter=5),
            {"A": "array", "k": "count"},
        ),
        "factorize_embedding": (
            lr.factorize_embedding,
            dict(embedding=emb, rank=2, method="svd"),
            {"embedding": "module", "rank": "count"},
        ),
        "factorize_linear": (
            lr.factorize_linear,
            dict(layer=lin, rank=2, method="svd"),
            {"layer": "module", "rank": "count"},
        ),
        "irls_subspace": (
            lr.irls_subspace,
            dict(A=A, k=2, max_iter=3),
            {"A": "array", "k": "count"},
        ),
        "lewis_rounding": (lr.lewis_rounding, dict(A=A, max_iter=3), {"A": "array"}),
        "lewis_subspace": (
            lr.lewis_subspace,
            dict(A=A, k=2, max_iter=3),
            {"A": "array", "k": "count"},
        ),
        "low_rank_model": (
            lr.low_rank_model,
            dict(model=_mlp(), path="0", rank=2, method="svd"),
            {"model": "module", "rank": "count"},
        ),
        "lp_cost": (
            lr.lp_cost,
            dict(A=A, components=np.linalg.qr(_X(6, 2))[0].T),
            {"A": "array", "components": "array"},
        ),
        "lp_low_rank": (
            lr.lp_low_rank,
            dict(A=A, rank=2, method="svd"),
            {"A": "array", "rank": "count"},
        ),
        "svd_subspace": (lr.svd_subspace, dict(A=A, k=2), {"A": "array", "k": "count"}),
    }


def _compression_calls():
    import parsimony.compression as c

    w = _w()
    cent = torch.randn(4, 8)
    return {
        "add_quant_noise": (
            c.add_quant_noise,
            dict(model=_mlp(), p=0.1, inplace=False),
            {"model": "module", "p": "probability"},
        ),
        "assign": (
            c.assign,
            dict(X=torch.randn(10, 4), centroids=torch.randn(3, 4)),
            {"X": "matrix", "centroids": "matrix"},
        ),
        "check_block_size": (
            c.check_block_size,
            dict(shape=(16, 8), block_size=4),
            {"block_size": "count"},
        ),
        "dequantize": (
            c.dequantize,
            dict(codes=torch.zeros(4, 4), scale=torch.tensor(0.1), zero_point=torch.tensor(0.0)),
            {"codes": "tensor"},
        ),
        "fake_quantize": (
            c.fake_quantize,
            dict(weight=w, scale=torch.tensor(0.1), zero_point=torch.tensor(0.0), bits=8),
            {"weight": "tensor", "bits": "bits"},
        ),
        "index_bits": (c.index_bits, dict(n_centroids=16), {"n_centroids": "count"}),
        "kmeans": (
            c.kmeans,
            dict(X=torch.randn(20, 4), n_clusters=3, max_iter=3, random_state=0),
            {"X": "matrix", "n_clusters": "count", "max_iter": "count0"},
        ),
        "lp_low_rank": (
            c.lp_low_rank,
            dict(A=_X(12, 6), rank=2, method="svd"),
            {"A": "array", "rank": "count"},
        ),
        "model_bytes": (c.model_bytes, dict(model=_mlp()), {"model": "module"}),
        "pack": (c.pack, dict(model=_mlp()), {"model": "module"}),
        "pack_bits": (
            c.pack_bits,
            dict(values=np.arange(8) % 4, n_bits=2),
            {"values": "integers", "n_bits": "bits"},
        ),
        "pq_decode": (
            c.pq_decode,
            dict(assignments=torch.zeros(16, dtype=torch.long), centroids=cent, shape=(16, 8)),
            {"centroids": "matrix"},
        ),
        "pq_encode": (
            c.pq_encode,
            dict(weight=w, centroids=cent),
            {"weight": "tensor", "centroids": "matrix"},
        ),
        "product_quantize": (
            c.product_quantize,
            dict(weight=w, block_size=4, n_centroids=4, max_iter=2, random_state=0),
            {
                "weight": "tensor",
                "block_size": "count",
                "n_centroids": "count",
                "max_iter": "count0",
            },
        ),
        "product_quantize_model": (
            c.product_quantize_model,
            dict(model=_mlp(), block_size=4, n_centroids=4, max_iter=2),
            {"model": "module", "n_centroids": "count", "max_iter": "count0"},
        ),
        "quant_params": (
            c.quant_params,
            dict(weight=w, bits=8),
            {"weight": "tensor", "bits": "bits"},
        ),
        "quantize": (
            c.quantize,
            dict(weight=w, scale=torch.tensor(0.1), zero_point=torch.tensor(0.0), bits=8),
            {"weight": "tensor", "bits": "bits"},
        ),
        "quantize_model": (
            c.quantize_model,
            dict(model=_mlp(), bits=8),
            {"model": "module", "bits": "bits"},
        ),
        "quantize_wa": (
            c.quantize_wa,
            dict(model=_mlp(), w_bits=4, a_bits=4),
            {"model": "module", "w_bits": "bits", "a_bits": "bits"},
        ),
        "size_report": (c.size_report, dict(model=_mlp()), {"model": "module"}),
        "to_blocks": (
            c.to_blocks,
            dict(weight=w, block_size=4),
            {"weight": "any-tensor", "block_size": "count"},
        ),
        "unpack_bits": (
            c.unpack_bits,
            dict(packed=np.zeros(2, np.uint8), n_bits=2, count=8),
            {"n_bits": "bits", "count": "size0"},
        ),
        "epr_model": (c.epr_model, dict(model=_mlp()), {"model": "module"}),
        "epr_penalty": (c.epr_penalty, dict(lam=0.1), {"lam": "positive"}),
        "layer_steps": (
            c.layer_steps,
            dict(model=_mlp(), relative_step=0.1),
            {"model": "module", "relative_step": "positive"},
        ),
        "quantize_then_code": (
            c.quantize_then_code,
            dict(model=_mlp(), step=0.05),
            {"model": "module", "step": "positive"},
        ),
        "uniform_fake_quantize": (
            c.uniform_fake_quantize,
            dict(model=_mlp(), step=0.05),
            {"model": "module", "step": "positive"},
        ),
        "hashednets_model": (
            c.hashednets_model,
            dict(model=_mlp(), fraction=0.5),
            {"model": "module", "fraction": "probability"},
        ),
        "pool_shape": (
            c.pool_shape,
            dict(n_virtual=128, fraction=0.25),
            {"n_virtual": "count", "fraction": "probability"},
        ),
        "apply_masks": (c.apply_masks, dict(model=_mlp(), masks={}), {"model": "module"}),
        "format_model": (c.format_model, dict(model=_mlp(), fmt="csr"), {"model": "module"}),
        "magnitude_masks": (
            c.magnitude_masks,
            dict(model=_mlp(), sparsity=0.5),
            {"model": "module", "sparsity": "probability"},
        ),
        "prune_magnitude": (
            c.prune_magnitude,
            dict(model=_mlp(), sparsity=0.5),
            {"model": "module", "sparsity": "probability"},
        ),
        "remove_masks": (c.remove_masks, dict(model=_mlp()), {"model": "module"}),
        "share_weights": (
            c.share_weights,
            dict(model=_mlp(), n_clusters=4),
            {"model": "module", "n_clusters": "count"},
        ),
        "shrink_model": (c.shrink_model, dict(model=_mlp(), keep={}), {"model": "module"}),
        "smh_model": (
            c.smh_model,
            dict(model=_mlp(), fraction=0.5),
            {"model": "module", "fraction": "probability"},
        ),
    }


#: public callables with nothing to corrupt here, and why
NO_INPUT = {
    # classes: estimators go through scikit-learn's checks (tests/test_estimator_checks.py),
    # compressed layers through the container fuzz test (tests/compression/test_fuzz.py),
    # result records are plain dataclasses
    "classes": "see tests/test_estimator_checks.py and tests/compression/test_fuzz.py",
    "compression.compress_model": "method registry: tests/compression/test_packing.py",
    "compression.ipq": "a compress_model method: tests/compression/test_quant_noise.py",
    "compression.compressed_layer_class": "registry lookup by tag: test_packing.py",
    "compression.register_compressed": "decorator: test_packing.py",
    "compression.register_method": "decorator: test_packing.py",
    "compression.renamed_argument": "deprecation helper: test_scalar.py",
    "compression.per_layer": "option helper: test_quant_noise.py",
    "compression.select_layers": "layer filter: test_quant_noise.py",
    "compression.set_module": "module surgery helper: test_layers.py",
    "compression.is_compressed": "predicate over any module",
    "compression.layer_spec": "module description: test_layers.py",
    "compression.weight_shape": "spec helper: test_layers.py",
    "compression.apply_layer": "spec helper: test_layers.py",
    "compression.from_blocks": "inverse of to_blocks: test_pq.py",
    "compression.remove_quant_noise": "undoes add_quant_noise: test_quant_noise.py",
    "compression.round_floats_": "dtype rounding: test_packing.py",
    "compression.unpack": "untrusted blobs: tests/compression/test_fuzz.py",
    "compression.unpack_arrays": "untrusted blobs: tests/compression/test_container.py",
    "compression.pack_arrays": "container writer: tests/compression/test_container.py",
    "compression.size_breakdown": "untrusted blobs: tests/compression/test_container.py",
    "compression.bns_similarity": "data-free: tests/compression/test_datafree.py",
    "compression.calibrate": "data-free: tests/compression/test_datafree.py",
    "spectral.block_cg": "takes a callable operator: tests/spectral/test_filters.py",
    "spectral.subspace_decode": "CompressiveSpectralClustering's decoder: estimator checks",
    "nn.build_model": "architecture registry lookup: tests/nn/test_models.py",
    "nn.default_device": "takes nothing",
    "nn.model_device": "reads a module's parameters: tests/nn/test_training.py",
    "nn.model_spec": "reads a module's recorded config: tests/nn/test_models.py",
    "compression.low_rank_model": "same function as lowrank.low_rank_model, tested there",
}


def _sparse_calls():
    import parsimony.sparse as sp_

    edges = sp_.grid_graph(4)
    adj = sp_.adjacency(edges, 16)
    A = _rng(1).standard_normal((12, 16))
    x = np.zeros(16)
    x[[0, 1, 4]] = 1.0
    y = A @ x
    model = sp_.KSparse(3)
    b = _rng(2).standard_normal(16)
    return {
        "adjacency": (
            sp_.adjacency,
            dict(edges=edges, n_nodes=16),
            {"edges": "edges", "n_nodes": "count"},
        ),
        "cosamp": (
            sp_.cosamp,
            dict(A=A, y=y, model=model, max_iter=3),
            {"A": "array", "y": "vector", "max_iter": "count"},
        ),
        "grid_graph": (sp_.grid_graph, dict(n_rows=4), {"n_rows": "size"}),
        "iht": (
            sp_.iht,
            dict(A=A, y=y, model=model, max_iter=3),
            {"A": "array", "y": "vector", "max_iter": "count"},
        ),
        "lp_det_project": (
            sp_.lp_det_project,
            dict(b=b, edges=edges, s=3),
            {"b": "vector", "s": "count"},
        ),
        "lp_project": (
            sp_.lp_project,
            dict(b=b, edges=edges, s=3, random_state=0),
            {"b": "vector", "s": "count"},
        ),
        "make_operator": (
            sp_.make_operator,
            dict(kind="gaussian", n_measurements=4, n_features=8, random_state=0),
            {"n_measurements": "size", "n_features": "size"},
        ),
        "n_components": (
            sp_.n_components,
            dict(support=np.array([0, 1]), adj=adj),
            {"support": "ids"},
        ),
        "omp": (
            sp_.omp,
            dict(A=A, y=y, n_nonzero_coefs=3),
            {"A": "array", "y": "vector", "n_nonzero_coefs": "count"},
        ),
        "pcst_project": (
            sp_.pcst_project,
            dict(b=b, edges=edges, s=3, random_state=0),
            {"b": "vector", "s": "count"},
        ),
        "planted_signal": (sp_.planted_signal, dict(adj=adj, s=3, random_state=0), {"s": "count"}),
        "random_connected_support": (
            sp_.random_connected_support,
            dict(adj=adj, s=3, random_state=0),
            {"s": "count"},
        ),
        "recover": (
            sp_.recover,
            dict(A=A, y=y, model=model, max_iter=3),
            {"A": "array", "y": "vector", "max_iter": "count"},
        ),
    }


def _spectral_calls():
    import parsimony.spectral as sc

    W, _ = sc.sbm(60, 2, 8.0, 0.05, random_state=0)
    L = sc.laplacian(W)
    X = _rng(3).standard_normal((60, 3))
    coeffs = sc.jackson_chebyshev_coefficients((0.0, 0.5), order=10)
    return {
        "check_adjacency": (sc.check_adjacency, dict(W=W.toarray()), {"W": "array"}),
        "choose_assign_labels": (
            sc.choose_assign_labels,
            dict(n_nodes=60, n_clusters=2, n_edges=240, n_signals=4, interp_order=10),
            {"n_nodes": "count", "n_clusters": "count"},
        ),
        "chebyshev_moments": (
            sc.chebyshev_moments,
            dict(Lt=L, S=X, order=5),
            {"S": "array", "order": "count"},
        ),
        "csc_defaults": (sc.csc_defaults, dict(n_clusters=2), {"n_clusters": "count"}),
        "epsilon_critical": (
            sc.epsilon_critical,
            dict(avg_degree=8.0, n_clusters=2),
            {"avg_degree": "positive", "n_clusters": "count"},
        ),
        "estimate_lambda_k": (
            sc.estimate_lambda_k,
            dict(L=L, k=2, order=10, random_state=0),
            {"k": "count", "order": "count"},
        ),
        "jackson_chebyshev_coefficients": (
            sc.jackson_chebyshev_coefficients,
            dict(band=(0.0, 0.5), order=10),
            {"order": "count0"},
        ),
        "knn_graph": (
            sc.knn_graph,
            dict(X=X, n_neighbors=3),
            {"X": "array", "n_neighbors": "count"},
        ),
        "laplacian": (sc.laplacian, dict(W=W.toarray()), {"W": "array"}),
        "normalized_adjacency": (sc.normalized_adjacency, dict(W=W.toarray()), {"W": "array"}),
        "polynomial_filter": (
            sc.polynomial_filter,
            dict(L=L, X=X, coeffs=coeffs),
            {"X": "array", "coeffs": "vector"},
        ),
        "eigencount": (
            sc.eigencount,
            dict(moments=np.ones(21), coeffs=coeffs),
            {"moments": "vector", "coeffs": "vector"},
        ),
        "filter_response": (
            sc.filter_response,
            dict(coeffs=coeffs, lam=np.linspace(0, 2, 5)),
            {"coeffs": "vector", "lam": "values"},
        ),
        "sbm": (
            sc.sbm,
            dict(n_nodes=60, n_clusters=2, avg_degree=8.0, epsilon=0.05, random_state=0),
            {"n_nodes": "size", "n_clusters": "count", "avg_degree": "positive"},
        ),
    }


def _nn_calls():
    import parsimony.nn as n

    X = _rng(4).standard_normal((20, 8)).astype(np.float32)
    y = np.arange(20) % 3
    logits = torch.randn(5, 3)
    return {
        "as_tensors": (n.as_tensors, dict(data=(X, y)), {"data": "pair"}),
        "cross_entropy": (
            n.cross_entropy,
            dict(logits=logits, y=torch.arange(5) % 3),
            {"logits": "logits"},
        ),
        "evaluate": (
            n.evaluate,
            dict(model=_mlp(), data=(X, y)),
            {"model": "module", "data": "pair"},
        ),
        "lm_windows": (
            n.lm_windows,
            dict(tokens=np.arange(40) % 7, context=8),
            {"context": "count"},
        ),
        "predict": (n.predict, dict(model=_mlp(), X=X), {"model": "module", "X": "values"}),
        "split_text": (
            n.split_text,
            dict(tokens=np.arange(40) % 7, test_fraction=0.1),
            {"test_fraction": "probability"},
        ),
        "train": (
            n.train,
            dict(
                model=_mlp(), train_data=(X, y), epochs=1, lr=1e-3, progress=False, random_state=0
            ),
            {"model": "module", "train_data": "pair", "epochs": "count0", "lr": "positive"},
        ),
    }


#: family -> (module, rows)
FAMILIES = {
    "dictionary": ("parsimony.dictionary", _dictionary_calls),
    "lowrank": ("parsimony.compression.lowrank", _lowrank_calls),
    "compression": ("parsimony.compression", _compression_calls),
    "sparse": ("parsimony.sparse", _sparse_calls),
    "spectral": ("parsimony.spectral", _spectral_calls),
    "nn": ("parsimony.nn", _nn_calls),
}


#: rows known to fail today, each a strict xfail (it fails the suite once it passes, so the
#: entry must then be deleted); none at present
KNOWN_GAPS: set[str] = set()


def _table():
    rows = {}
    for prefix, (_, calls) in FAMILIES.items():
        for name, (func, kwargs, args) in calls().items():
            for arg, kind in args.items():
                for bad_name, make in BAD[kind]:
                    rows[f"{prefix}.{name}[{arg}={bad_name}]"] = (func, kwargs, arg, make)
    return rows


TABLE = _table()


@pytest.mark.parametrize("row", sorted(TABLE))
def test_bad_input_is_refused_naming_the_argument(row, request):
    if row in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason="known gap, see KNOWN_GAPS"))
    func, kwargs, arg, make = TABLE[row]
    bad = dict(kwargs)
    bad[arg] = make(kwargs.get(arg))
    with pytest.raises((ValueError, TypeError)) as info:
        func(**bad)
    assert arg in str(info.value), f"the message does not name {arg!r}: {info.value}"


@pytest.mark.parametrize("prefix", sorted(FAMILIES))
def test_valid_calls_run(prefix):
    """The valid call of every row runs, so a refusal above is about the corrupted argument."""
    for name, (func, kwargs, _) in FAMILIES[prefix][1]().items():
        try:
            func(**kwargs)
        except Exception as err:  # name the row whose valid call broke
            raise AssertionError(f"{prefix}.{name}: the valid call fails") from err


@pytest.mark.parametrize("prefix", sorted(FAMILIES))
def test_every_public_function_has_a_row(prefix):
    module_name, calls = FAMILIES[prefix]
    rows = calls()
    module = importlib.import_module(module_name)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or not callable(obj):
            continue
        if name not in rows and f"{prefix}.{name}" not in NO_INPUT:
            missing.append(f"{prefix}.{name}")
    assert not missing, f"public functions without a bad-input row: {missing}"
