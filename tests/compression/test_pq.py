import math

import numpy as np
import pytest
import torch
from parsimony.compression import pack, size_breakdown, size_report, unpack
from parsimony.compression.pq import (
    IterativePQ,
    PQLayer,
    index_bits,
    pq_decode,
    pq_encode,
    product_quantize,
    product_quantize_model,
)
from parsimony.nn import build_model, evaluate, predict, train
from torch import nn

G = torch.Generator().manual_seed(0)


@pytest.mark.parametrize(
    ("layer", "bs", "x"),
    [
        (nn.Linear(32, 12), 8, torch.randn(3, 32)),
        (nn.Conv2d(16, 8, 1), 4, torch.randn(2, 16, 5, 5)),  # 1x1: blocks along in-channels
        (nn.Conv2d(4, 8, 3, padding=1), 9, torch.randn(2, 4, 5, 5)),  # one kernel per block
        (nn.Conv1d(4, 8, 3, bias=False), 3, torch.randn(2, 4, 9)),
        (nn.Embedding(40, 8), 4, torch.tensor([[0, 7, 39]])),
    ],
)
def test_encode_decode_and_layer_round_trip(layer, bs, x):
    w = layer.weight.detach()
    C, a = product_quantize(w, bs, 16, max_iter=5, random_state=0)
    assert C.shape == (16, bs) and a.shape == (w.numel() // bs,)
    assert torch.equal(pq_encode(w, C), a)
    W_hat = pq_decode(a, C, w.shape)
    assert W_hat.shape == w.shape
    assert torch.equal(W_hat.reshape(-1, bs), C[a])
    q = PQLayer.from_layer(layer, bs, 16, max_iter=5, random_state=0)
    arrays, kinds, meta = q.pack_state()
    assert arrays["assignments"].nbytes == math.ceil(a.numel() * 4 / 8)  # K=16: 2 per byte
    again = PQLayer.unpack_state(arrays, meta)
    assert torch.equal(again(x), q(x))


def test_index_bits_32x_at_256_centroids_block_8():
    lin = nn.Linear(256, 256)
    model = nn.Sequential(lin)
    model[0] = PQLayer.from_layer(lin, 8, 256, max_iter=2, random_state=0)
    arrays, kinds, _ = model[0].pack_state()
    n = lin.weight.numel()
    assert arrays["assignments"].nbytes * 8 * 32 == 32 * n // 8 * 8  # bytes = numel / 8
    assert (32 * n) / (8 * arrays["assignments"].nbytes) == 32.0  # exactly 32x fewer bits
    assert arrays["centroids"].nbytes == 256 * 8 * 2  # codebook counted separately, fp16
    blob = pack(model, float_dtype="float32")
    b = size_breakdown(blob)  # parsed independently by the container
    assert len(blob) == n // 8 + 256 * 8 * 2 + 4 * 256 + b["header"]
    r = size_report(model)
    assert r.total_bytes == len(blob) and r.by_kind["indices"] == 8192
    # the card's example: about 21x, not 32x, once centroids and bias are counted
    assert 19 < (4 * n) / (r.by_kind["indices"] + r.by_kind["codebook"]) < 22


@pytest.mark.parametrize("k", [100, 256])
def test_odd_k_bit_packing(k):
    lin = nn.Linear(64, 32)
    q = PQLayer.from_layer(lin, 4, k, max_iter=2, random_state=0)
    arrays, _, meta = q.pack_state()
    assert arrays["assignments"].nbytes == math.ceil(512 * index_bits(k) / 8)
    assert torch.equal(PQLayer.unpack_state(arrays, meta).weight, q.weight)


def test_centroid_gradient_is_the_mean_of_its_blocks():
    spec = {"type": "linear", "in_features": 4, "out_features": 3}
    C = torch.randn(4, 2, generator=G)
    a = torch.tensor([0, 0, 1, 0, 1, 1])  # centroids 2 and 3 unused
    q = PQLayer(spec, C, a, centroid_dtype="float32")
    g = torch.randn(3, 4, generator=G)
    (q.weight * g).sum().backward()
    blocks = g.reshape(-1, 2)
    assert torch.allclose(q.centroids.grad[0], blocks[[0, 1, 3]].mean(0))
    assert torch.allclose(q.centroids.grad[1], blocks[[2, 4, 5]].mean(0))
    assert torch.equal(q.centroids.grad[2:], torch.zeros(2, 2))  # unused: zero, not NaN
    assert q.centroids.grad.shape == (4, 2)


def test_float16_codebook_is_what_is_evaluated():
    lin = nn.Linear(32, 8)
    q = PQLayer.from_layer(lin, 4, 16, max_iter=3, random_state=0)
    with torch.no_grad():
        q.centroids.add_(1e-4 * torch.randn(16, 4, generator=G))  # as after fine-tuning
    C16 = q.centroids.detach().half().float()
    assert torch.equal(q.weight.detach(), pq_decode(q.assignments, C16, (8, 32)))
    again = PQLayer.unpack_state(*q.pack_state()[::2])
    assert torch.equal(again.weight, q.weight.detach())


def test_block_size_must_divide_the_layer_and_names_it():
    model = build_model(
        "mlp", in_features=40, hidden=[32], random_state=0
    )  # mnist1d-like first layer
    with pytest.raises(ValueError, match="'layers.0'"):
        product_quantize_model(model, 16, 16)
    with pytest.raises(ValueError, match="'layers.0'"):
        IterativePQ(block_size=16, n_centroids=4).compress(
            model, (torch.randn(8, 40), torch.zeros(8, dtype=torch.long))
        )
    m = product_quantize_model(model, {"layers.0": 8, "*": 16}, 16, max_iter=2)
    assert m.layers[0].block_size == 8 and m.layers[2].block_size == 16
    with pytest.raises(ValueError, match="exceeds"):
        product_quantize(torch.randn(4, 8), 8, 8)
    with pytest.raises(TypeError, match="weight"):
        product_quantize(np.zeros((4, 8)), 8, 2)


def test_ipq_staged_and_deterministic():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 16)).astype(np.float32)
    y = (X[:, :3].sum(1) > 0).astype(np.int64)
    model = build_model("mlp", in_features=16, n_classes=2, hidden=[32, 32], random_state=0)
    train(model, (X, y), epochs=15, lr=1e-2, progress=False)
    kw = dict(block_size=4, n_centroids=8, max_iter=10, finetune_epochs=2, lr=5e-3)
    fitted = IterativePQ(**kw).compress(model, (X, y))
    assert fitted.stages_ == [["layers.0"], ["layers.2"], ["layers.4"]]
    assert all(isinstance(fitted.model_.get_submodule(n), PQLayer) for [n] in fitted.stages_)
    assert isinstance(model.layers[0], nn.Linear)  # input untouched
    # the last layer (2 x 32 = 16 blocks) keeps K <= n_blocks
    assert fitted.model_.layers[4].n_centroids == 8
    again = IterativePQ(**kw).compress(model, (X, y))
    assert pack(again.model_) == pack(fitted.model_)
    # round trip through bytes is exact
    Xt = torch.as_tensor(X[:50])
    assert torch.equal(predict(unpack(pack(fitted.model_)), Xt), predict(fitted.model_, Xt))
    # fine-tuning helps over one-shot PQ without fine-tuning
    oneshot = product_quantize_model(model, 4, 8, max_iter=10)
    assert evaluate(fitted.model_, (X, y))["loss"] < evaluate(oneshot, (X, y))["loss"]
    # custom stages: all at once
    one = IterativePQ(**dict(kw, stages=[["*"]], finetune_epochs=0)).compress(model, (X, y))
    assert one.stages_ == [["layers.0", "layers.2", "layers.4"]]
    with pytest.raises(ValueError, match="stages"):
        IterativePQ(stages=["nope"]).compress(model, (X, y))


def test_methods_registry():
    from parsimony.compression import METHODS, compress_model, register_method

    assert {"int8", "int4", "pq", "ipq"} <= set(METHODS)
    model = build_model("mlp", in_features=16, n_classes=2, hidden=[16], random_state=0)
    X, y = torch.randn(32, 16), torch.zeros(32, dtype=torch.long)
    seen = []
    q = compress_model(
        model, "ipq", (X, y), block_size=4, n_centroids=4, max_iter=2, callback=seen.append
    )
    assert isinstance(q.layers[0], PQLayer) and [r["stage"] for r in seen] == [0, 1]
    with pytest.raises(ValueError, match="train_data"):
        compress_model(model, "ipq")
    with pytest.raises(ValueError, match="method"):
        compress_model(model, "zip")
    with pytest.raises(ValueError, match="already"):
        register_method("int8")(lambda m, d=None: m)


def test_iterative_pq_is_a_base_estimator_with_one_vocabulary():
    from sklearn.base import clone

    est = IterativePQ(block_size=4, n_centroids={"*": 4}, max_iter=3, random_state=1)
    params = est.get_params(deep=True)
    assert params["max_iter"] == 3 and params["n_centroids"] == {"*": 4}
    twin = clone(est)
    assert twin.get_params() == params and twin.n_centroids is not est.n_centroids
    assert not hasattr(est, "model_")
    model = build_model("mlp", in_features=16, n_classes=2, hidden=[16], random_state=0)
    X, y = torch.randn(32, 16, generator=G), torch.zeros(32, dtype=torch.long)
    states = []
    est.set_params(callback=states.append).compress(model, (X, y))
    assert est.n_iter_ == 3 and est.get_params()["n_centroids"] == {"*": 4}  # not modified
    assert [s["iteration"] for s in states] == [0, 1] and all("objective" in s for s in states)
    with pytest.warns(FutureWarning, match="max_iter"):
        old = IterativePQ(block_size=4, n_centroids=4, n_iter=3).compress(model, (X, y))
    assert old.n_iter_ == 3
    with pytest.raises(TypeError, match="model"):
        IterativePQ().compress(np.zeros((4, 4)), (X, y))
    assert not hasattr(IterativePQ, "fit")  # fitted by compress(model, data), not fit(X)


def test_pq_encode_rejects_bad_centroids():
    with pytest.raises(ValueError, match="centroids"):
        pq_encode(torch.randn(4, 8), torch.randn(8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        pq_encode(np.zeros((4, 8)), torch.randn(2, 4))
