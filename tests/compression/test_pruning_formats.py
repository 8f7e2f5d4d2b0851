"""Sparse and Huffman-coded formats, weight sharing (issue 20, paper A)."""

import heapq

import numpy as np
import pytest
import torch
from parsimony.compression import compress_model, pack, size_report, unpack
from parsimony.compression.pruning.formats import (
    HAMLayer,
    SHAMLayer,
    SparseLayer,
    format_model,
    huffman_decode,
    huffman_encode,
    index_dtype,
)
from parsimony.compression.pruning.masks import prune_magnitude
from parsimony.compression.pruning.sharing import cws, pws, share_weights
from parsimony.nn import build_model
from torch import nn

FORMATS = ["csr", "csc", "bitmask", "ham", "sham"]


def _pruned_shared(make=lambda: nn.Linear(30, 9), sparsity=0.7, k=6, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(make())
    prune_magnitude(model, sparsity)
    share_weights(model, k)
    return model


def _huffman_lengths(counts):
    """Code lengths of an optimal prefix code, an independent heapq implementation."""
    heap = [(c, i, [i]) for i, c in enumerate(counts) if c > 0]
    lengths = np.zeros(len(counts), int)
    heapq.heapify(heap)
    tie = len(counts)
    while len(heap) > 1:
        c1, _, a = heapq.heappop(heap)
        c2, _, b = heapq.heappop(heap)
        lengths[a + b] += 1
        heapq.heappush(heap, (c1 + c2, tie, a + b))
        tie += 1
    return lengths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_huffman_is_optimal_and_lossless(seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(7) * 0.5)
    symbols = rng.choice(7, size=2000, p=probs)
    counts = np.bincount(symbols, minlength=7)
    words, n_bits = huffman_encode(symbols, counts)
    assert n_bits == int((counts * _huffman_lengths(counts)).sum())
    assert 32 * len(words) >= n_bits
    np.testing.assert_array_equal(huffman_decode(words, counts, len(symbols)), symbols)


def test_huffman_single_symbol():
    words, n_bits = huffman_encode(np.zeros(5, int), [5])
    assert n_bits == 0 and huffman_decode(words, [5], 5).tolist() == [0] * 5


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "make", [lambda: nn.Linear(30, 9), lambda: nn.Conv2d(3, 5, 3, bias=False)], ids=["lin", "conv"]
)
def test_round_trip_is_exact(fmt, make):
    model = _pruned_shared(make)
    packed = format_model(model, fmt)
    x = torch.randn(4, 30) if isinstance(model[0], nn.Linear) else torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(packed(x), model(x))  # the same dense weight
        skeleton = nn.Sequential(make())
        assert torch.equal(unpack(pack(packed), skeleton)(x), packed(x))


@pytest.mark.parametrize("fmt", FORMATS)
def test_compressed_dot_product_equals_dense(fmt):
    model = _pruned_shared()
    layer = format_model(model, fmt)[0]
    x = torch.randn(5, 30)
    with torch.no_grad():
        dense = model(x)
    torch.testing.assert_close(layer.matvec(x), dense, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        layer.matvec(torch.randn(5, 29))


def test_index_width_is_the_smallest():
    for n_in, dtype in ((200, np.uint8), (300, np.uint16)):
        lin = nn.Linear(n_in, 2)
        arrays, _, _ = SparseLayer.from_module(lin, "csr").pack_state()
        assert arrays["indices"].dtype == dtype
        assert arrays["ptr"].dtype == index_dtype(2 * n_in)
    assert index_dtype(2**32 - 1) == np.uint32
    with pytest.raises(ValueError):
        index_dtype(2**32)


def test_sizes_follow_the_formats():
    model = _pruned_shared(lambda: nn.Linear(256, 64), sparsity=0.9, k=16)
    size = {f: size_report(format_model(model, f)).total_bytes for f in FORMATS}
    dense = size_report(model).total_bytes
    assert size["csr"] < dense and size["bitmask"] < dense
    assert size["sham"] < size["csr"]  # a Huffman-coded index replaces a float32 value
    assert size["ham"] < dense


def test_cws_is_a_kmeans_fixed_point():
    w = np.random.default_rng(0).standard_normal(500)
    codebook, labels = cws(w, 8)
    assert len(codebook) <= 8 and np.all(np.diff(codebook) > 0)
    nearest = np.abs(w[:, None] - codebook[None, :]).argmin(1)
    np.testing.assert_array_equal(labels, nearest)
    for j, c in enumerate(codebook):
        assert c == pytest.approx(w[labels == j].mean(), rel=1e-5)


def test_pws_is_unbiased_and_between_neighbours():
    w = np.random.default_rng(1).standard_normal(200)
    draws = np.stack([(lambda cb, lab: cb[lab])(*pws(w, 6, random_state=s)) for s in range(400)])
    codebook, _ = pws(w, 6)
    assert len(codebook) == 6
    assert np.all((draws >= codebook.min()) & (draws <= codebook.max()))
    np.testing.assert_allclose(draws.mean(0), w, atol=0.15)
    assert np.array_equal(pws(w, 6, random_state=3)[1], pws(w, 6, random_state=3)[1])


@pytest.mark.parametrize("method", ["cws", "pws"])
def test_share_weights_keeps_zeros_and_k_values(method):
    model = nn.Sequential(nn.Linear(30, 9))
    prune_magnitude(model, 0.6)
    zeros = model[0].weight == 0
    books = share_weights(model, 5, method)
    w = model[0].weight.detach()
    assert torch.equal(w == 0, zeros)
    assert set(np.unique(w[w != 0].numpy())) <= set(books["0"].tolist())
    assert len(books["0"]) <= 5


def test_methods_through_compress_model():
    base = build_model("mlp", in_features=16, n_classes=3, hidden=[32], random_state=0)
    x = torch.randn(6, 16)
    pruned = compress_model(base, "prune", sparsity=0.75, fmt="csc")
    tags = {getattr(m, "tag", None) for m in pruned.modules()}
    assert "sparse" in tags
    nnz = sum(len(m.values) for m in pruned.modules() if isinstance(m, SparseLayer))
    assert nnz == round(0.25 * (16 * 32 + 32 * 3))
    sham = compress_model(base, "sham", sparsity=0.75, n_clusters=4)
    assert all(len(m.codebook) <= 4 for m in sham.modules() if isinstance(m, SHAMLayer))
    ham = compress_model(base, "ham", n_clusters=4, sharing="pws")
    assert any(isinstance(m, HAMLayer) for m in ham.modules())
    with torch.no_grad():
        for m in (pruned, sham, ham):
            assert torch.equal(unpack(pack(m))(x), m(x))


def test_bad_input():
    lin = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="fmt"):
        SparseLayer.from_module(lin, "coo")
    with pytest.raises(ValueError, match="fmt"):
        format_model(nn.Sequential(lin), "dense16")
    with pytest.raises(ValueError, match="codebook"):
        HAMLayer.from_module(lin, codebook=[0.0, 1.0])
    with pytest.raises(ValueError, match="embedding"):
        SparseLayer.from_module(nn.Embedding(5, 3))
    with pytest.raises(ValueError, match="rows"):
        SparseLayer({"type": "linear", "in_features": 4, "out_features": 3}, [5], [0], [1.0])
    with pytest.raises(ValueError, match="n_clusters"):
        cws([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="finite"):
        pws([np.nan], 2)
    with pytest.raises(ValueError, match="method"):
        share_weights(nn.Sequential(lin), 2, "kmeans")
    with pytest.raises(ValueError, match="fmt"):
        compress_model(nn.Sequential(lin), "prune", fmt="ham")
    with pytest.raises(TypeError, match="unexpected"):
        compress_model(nn.Sequential(lin), "sham", bogus=1)
