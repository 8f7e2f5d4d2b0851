import numpy as np
import pandas as pd
import pytest
from parsimony.compression.experiments import (
    Task,
    cell,
    fit_block_size,
    noise_for,
    noise_rate_sweep,
    quantnoise_table,
    size_accuracy_curves,
    summarize,
)
from parsimony.nn import build_model


def _task():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((160, 16)).astype(np.float32)
    y = (X[:, :2].sum(1) > 0).astype(np.int64)
    config = {"in_features": 16, "n_classes": 2, "hidden": [16]}
    return Task("toy", "mlp", config, (X[:120], y[:120]), (X[120:], y[120:]))


def test_noise_for_every_arm():
    assert noise_for("int8", "normal") is None
    assert noise_for("int8", "qn", p_scalar=0.25) == {"method": "scalar", "p": 0.25, "bits": 8}
    assert noise_for("ipq", "qat", n_centroids=4)["method"] == "pq"
    assert noise_for("ipq", "qat")["p"] == 1.0
    assert noise_for("ipq", "qn", pq_noise="exact")["method"] == "pq"
    with pytest.raises(ValueError, match="target"):
        noise_for("int2", "qn")
    with pytest.raises(ValueError, match="training"):
        noise_for("int8", "distill")


def test_table_structure_and_sizes():
    task = _task()
    kw = dict(
        seeds=[0],
        epochs=1,
        batch_size=32,
        block_size=4,
        n_centroids=4,
        n_iter=3,
        finetune_epochs=1,
        progress=False,
    )
    rows = quantnoise_table(task, targets=["int4", "ipq"], **kw)
    assert len(rows) == 1 + 2 * 3
    table = summarize(rows)
    assert list(zip(table.target, table.training, strict=True))[:4] == [
        ("float", "normal"),
        ("int4", "normal"),
        ("int4", "qat"),
        ("int4", "qn"),
    ]
    # the size depends on the target only
    for target in ("int4", "ipq"):
        assert rows[rows.target == target].bytes.nunique() == 1
    ratio = {
        t: cell(table, t, "qn" if t != "float" else "normal", "ratio_fp32")
        for t in ("float", "int4", "ipq")
    }
    assert ratio["ipq"] > ratio["int4"] > ratio["float"]  # the header weighs on a toy model
    assert rows[rows.target == "ipq"].metric_no_finetune.notna().all()
    assert rows[rows.target != "ipq"].metric_no_finetune.isna().all()
    assert (rows.metric.between(0, 1)).all()
    with pytest.raises(KeyError):
        cell(table, "int8", "qn")
    again = quantnoise_table(task, targets=["int4", "ipq"], **kw)
    pd.testing.assert_frame_equal(rows, again)  # deterministic
    # fine-tuning protocol: every arm starts from one pre-trained model
    ft = quantnoise_table(task, targets=["ipq"], pretrain_epochs=1, finetune_samples=50, **kw)
    assert len(ft) == 4


def test_sweep_and_curves():
    task = _task()
    kw = dict(seeds=[0], epochs=1, batch_size=32, finetune_epochs=0, progress=False)
    sweep = noise_rate_sweep(task, [0.0, 0.2], block_size=4, n_centroids=4, **kw)
    assert list(sweep.p) == [0.0, 0.2]
    curves = size_accuracy_curves(task, block_sizes=[4, 8], n_centroids_list=[4, 8], **kw)
    assert len(curves) == 2 * 2 * 2
    b = curves[curves.training == "normal"].set_index(["block_size", "n_centroids"]).bytes
    assert b[4, 4] < b[4, 8] and b[8, 4] < b[8, 8]  # more centroids, more bytes


def test_fit_block_size():
    m = build_model("mlp", in_features=40, hidden=[256], seed=0)
    assert fit_block_size(m, 8) == {"layers.0": 8, "layers.2": 8}
    assert fit_block_size(m, 16) == {"layers.0": 10, "layers.2": 16}
