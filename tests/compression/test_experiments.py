import numpy as np
import pandas as pd
import pytest
from parsimony.compression.experiments.quantnoise import (
    advantage,
    best_rate,
    cell,
    compression_cost,
    digits_task,
    fit_block_size,
    float_gap,
    increasing_in_centroids,
    noise_for,
    noise_rate_sweep,
    quantnoise_table,
    size_accuracy_curves,
    summarize,
    table1_claims,
)
from parsimony.data import Task
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
        max_iter=3,
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
    m = build_model("mlp", in_features=40, hidden=[256], random_state=0)
    assert fit_block_size(m, 8) == {"layers.0": 8, "layers.2": 8}
    assert fit_block_size(m, 16) == {"layers.0": 10, "layers.2": 16}


def _summary(metric="accuracy", **values):
    """A summarize()-shaped table from {target_training: (metric, metric_float)}."""
    rows = []
    for key, (m, mf) in values.items():
        target, training = key.split("_")
        rows.append({"target": target, "training": training, "metric_mean": m,
                     "metric_float": mf, "metric_no_finetune": m - 0.1 if metric == "accuracy"
                     else m + 1, "ratio_fp32": 30.0, "metric_name": metric})  # fmt: skip
    return pd.DataFrame(rows)


def test_claim_statistics_accuracy_and_perplexity():
    acc = _summary(float_normal=(0.8, 0.8), ipq_normal=(0.5, 0.8), ipq_qn=(0.6, 0.79),
                   ipq_qat=(0.4, 0.7), int8_normal=(0.8, 0.8), int8_qn=(0.795, 0.8),
                   int8_qat=(0.81, 0.81))  # fmt: skip
    assert advantage(acc, "ipq") == pytest.approx(0.1)
    assert advantage(acc, "ipq", over="qat") == pytest.approx(0.2)
    assert compression_cost(acc, "ipq", "qn") == pytest.approx(0.19)
    assert float_gap(acc, "ipq") == pytest.approx(-0.01)
    ppl = _summary("perplexity", float_normal=(10.0, 10.0), ipq_normal=(20.0, 10.0),
                   ipq_qn=(15.0, 10.5), ipq_qat=(25.0, 11.0))  # fmt: skip
    assert advantage(ppl, "ipq") == pytest.approx(0.25)  # 1 - 15 / 20
    assert compression_cost(ppl, "ipq", "qn") == pytest.approx(15 / 10.5 - 1)
    assert float_gap(ppl, "ipq") == pytest.approx(0.05)
    with pytest.raises(ValueError, match="mixes"):
        advantage(pd.concat([acc, ppl]), "ipq")


def test_table1_claims_verdicts_and_not_expected():
    acc = _summary(float_normal=(0.8, 0.8), ipq_normal=(0.5, 0.8), ipq_qn=(0.6, 0.79),
                   ipq_qat=(0.4, 0.7), int8_normal=(0.8, 0.8), int8_qn=(0.795, 0.8),
                   int8_qat=(0.81, 0.81))  # fmt: skip
    claims = {c.text.split(": ", 1)[1]: c for c in table1_claims(acc, "toy")}
    assert len(claims) == 10  # no int4 rows: no int4 claim
    main = claims["at the most extreme setting (iPQ), Quant-Noise beats normal training"]
    assert main.holds and main.kind == "paper" and main.expected and "(unverified)" in main.paper
    assert claims[
        "the Quant-Noise advantage over normal training is larger at iPQ than at int8"
    ].holds
    assert claims["QAT helps int8: at int8, QAT beats normal training"].holds
    assert not claims["fine-tuning the centroids between iPQ stages beats one-shot PQ"].expected
    # float_close compares the Quant-Noise arms' uncompressed accuracy (-1 point) only
    text = "the uncompressed accuracy of the Quant-Noise-trained model is within 2 points"
    [close] = [c for k, c in claims.items() if k.startswith(text)]
    assert close.holds and close.ours == "int8: +0.00 pt, ipq: -1.00 pt"
    acc.loc[acc.training == "qn", "metric_float"] = 0.77
    [far] = [c for c in table1_claims(acc, "toy") if text in c.text]
    assert not far.holds
    marked = table1_claims(acc, "toy", {"qat_helps_int8": "int8 is lossless here"})
    [c] = [c for c in marked if "QAT helps int8" in c.text]
    assert not c.expected and c.note == "int8 is lossless here"
    with pytest.raises(ValueError, match="unknown"):
        table1_claims(acc, "toy", {"nope": "x"})


def test_best_rate_and_monotone_curves():
    by_p = pd.DataFrame({"p": [0.0, 0.1, 0.3], "accuracy": [0.5, 0.6, 0.6]})
    assert best_rate(by_p) == (0.1, 0.6, 0.5)  # ties go to the smaller p
    with pytest.raises(ValueError, match="p = 0"):
        best_rate(by_p[by_p.p > 0])
    curves = pd.DataFrame({"training": ["qn"] * 3, "block_size": [8] * 3,
                           "n_centroids": [64, 16, 256], "accuracy": [0.6, 0.5, 0.7]})  # fmt: skip
    assert increasing_in_centroids(curves)
    curves.loc[2, "accuracy"] = 0.6
    assert not increasing_in_centroids(curves)


def test_digits_task_is_the_cards_split():
    task = digits_task()
    assert task.config == {"in_features": 64, "n_classes": 10, "hidden": [256, 256]}
    n_tr, n_te = len(task.train[1]), len(task.test[1])
    assert n_te == pytest.approx(0.2 * (n_tr + n_te), abs=1)
    assert task.train[0].max() <= 1.0 and task.train[0].dtype == np.float32
