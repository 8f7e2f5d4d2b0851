import copy

import numpy as np
import pytest
import torch
from parsimony.compression.datafree import (
    bn_layers,
    calibrate,
    generate,
    kd_loss,
    quantize_wa,
)
from parsimony.compression.experiments.datafree import (
    SOURCES,
    accuracy_table,
    bn_match,
    datafree_seed,
    evaluate_source,
    kd_student,
    kd_train,
    load_task,
    loss_fall,
    mean_gap,
    real_subset,
    select_kd_epochs,
    similarity_sets,
)


def test_kd_train_starts_at_zero_for_an_equal_student(bn_teacher):
    model, X = bn_teacher
    student = copy.deepcopy(model)
    hist = kd_train(student, model, X[:64], epochs=1, lr=1e-3, batch_size=64)  # one step
    assert hist[0]["loss"] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("freeze_bn", [True, False])
def test_gaussian_arm_keeps_student_bn_statistics(freeze_bn, bn_teacher):
    model, _ = bn_teacher
    X = generate(model, "gaussian", n_samples=64, input_shape=(1, 8, 8))
    s = calibrate(quantize_wa(model, 2, 4), X)
    before = {n: (bn.running_mean.clone(), bn.running_var.clone()) for n, bn in bn_layers(s)}
    affine = {n: bn.weight.detach().clone() for n, bn in bn_layers(s)}
    if freeze_bn:
        kd_train(s, model, X, epochs=1, batch_size=32)
    else:  # the same training without freezing: Gaussian batches overwrite the statistics
        from parsimony.nn import train

        train(s, (X, model(X).detach()), epochs=1, batch_size=32, loss=kd_loss, progress=False)
    same = all(
        torch.equal(bn.running_mean, before[n][0]) and torch.equal(bn.running_var, before[n][1])
        for n, bn in bn_layers(s)
    )
    assert same == freeze_bn
    if freeze_bn:
        assert all(torch.equal(bn.weight, affine[n]) for n, bn in bn_layers(s))


def test_kd_student_is_deterministic_and_lowers_loss(bn_teacher):
    model, X = bn_teacher
    hist = []
    a = kd_student(model, X[:128], epochs=5, lr=1e-2, batch_size=32, random_state=1,
                   callback=lambda r: hist.append(r["loss"]))  # fmt: skip
    b = kd_student(model, X[:128], epochs=5, lr=1e-2, batch_size=32, random_state=1)
    assert hist[-1] < hist[0]
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not a.training


def test_select_kd_epochs_is_the_argmin_of_the_held_out_curve(bn_teacher):
    model, X = bn_teacher
    S = generate(model, "bns", n_samples=64, input_shape=(1, 8, 8), max_iter=20, batch_size=64)
    H = generate(model, "bns", n_samples=64, input_shape=(1, 8, 8), max_iter=20, batch_size=64,
                 random_state=1)  # fmt: skip
    best, curve = select_kd_epochs(model, S, H, max_epochs=6, lr=1e-2, batch_size=32)
    assert len(curve) == 6 and best == int(np.argmin(curve)) + 1
    # the curve is the held-out KD loss of the student after `epoch` epochs
    s3 = kd_student(model, S, epochs=3, lr=1e-2, batch_size=32)
    with torch.no_grad():
        ref = float(kd_loss(s3(H), model(H)))
    assert curve[2] == pytest.approx(ref, rel=1e-5)


def test_synthetic_pipeline_needs_no_real_data(monkeypatch, bn_teacher):
    import parsimony.data.loaders as loaders

    def boom(*args, **kwargs):
        raise AssertionError("real data was read")

    monkeypatch.setattr(loaders, "_load", boom)
    model, X = bn_teacher
    g = torch.Generator().manual_seed(1)
    test = (X[:64], torch.randint(0, 10, (64,), generator=g))
    for method in ("gaussian", "inception", "bns"):
        S = generate(model, method, n_samples=32, input_shape=(1, 8, 8), max_iter=3)
        H = generate(model, "bns", n_samples=32, input_shape=(1, 8, 8), max_iter=3,
                     random_state=7)  # fmt: skip
        epochs, _ = select_kd_epochs(model, S, H, max_epochs=2)
        r = evaluate_source(model, S, test, kd_epochs=epochs)
        assert 0 <= r["kd"] <= 1 and r["kd_bytes"] > 0
    with pytest.raises(AssertionError, match="real data"):
        loaders.load_digits()


def test_real_subset():
    X = np.arange(20.0).reshape(10, 2)
    s = real_subset((X, np.zeros(10)), 4, random_state=0)
    assert s.shape == (4, 2) and torch.equal(s, real_subset((X, None), 4, random_state=0))
    assert len({tuple(r) for r in s.tolist()}) == 4  # without replacement
    with pytest.raises(ValueError, match="n_samples"):
        real_subset((X, None), 11)


def test_load_task_is_standardised_from_the_training_split():
    task = load_task("digits", random_state=0)
    X_tr = task["train"][0]
    assert X_tr.shape[1:] == (1, 8, 8) and X_tr.dtype == np.float32
    assert abs(float(X_tr.mean())) < 1e-5 and float(X_tr.std()) == pytest.approx(1.0, rel=1e-5)
    assert sum(len(task[k][0]) for k in ("train", "valid", "test")) == 1797
    with pytest.raises(ValueError, match="name"):
        load_task("cifar")


def test_accuracy_table_and_loss_fall():
    runs = [{"results": {s: {"kd": 0.5 + 0.1 * i} for i, s in enumerate(SOURCES)}}] * 2
    t = accuracy_table(runs, ["kd"])
    assert t["kd"]["bns"].tolist() == pytest.approx([80.0, 80.0])
    assert mean_gap(t, "kd", "bns", "real") == pytest.approx(30.0)
    with pytest.raises(ValueError, match="runs"):
        accuracy_table([], ["kd"])
    assert loss_fall([4.0, 1.0, 0.5]) == 8.0 and loss_fall([1.0, 0.0]) == float("inf")
    with pytest.raises(ValueError, match="history"):
        loss_fall([1.0])


def test_bn_match_is_zero_on_the_data_that_made_the_statistics(bn_teacher):
    model, X = bn_teacher  # running statistics are the exact averages over X (in 4 batches)
    m = bn_match(model, X[:128])  # one of those batches: close but not exact
    assert m["mean"] < 0.5 and m["std"] < 0.5
    noise = bn_match(model, torch.randn(128, 1, 8, 8) * 5)
    assert noise["std"] > m["std"]


def test_datafree_seed_deprecated_seed_and_schedule():
    task = load_task("digits", random_state=0)
    kw = dict(sources=("gaussian", "bns"), teacher_epochs=1, n_samples=16, max_iter=2,
              gen_batch_size=16, calibrations=("minmax",))  # fmt: skip
    a = datafree_seed(task, 1, max_kd_epochs=2, **kw)
    assert a["kd_epochs"] in (1, 2) and len(a["kd_selection"]) == 2
    with pytest.warns(FutureWarning, match="random_state"):
        b = datafree_seed(task, seed=1, kd_epochs=1, **kw)
    assert b["kd_epochs"] == 1 and b["kd_selection"] == []
    assert a["teacher_accuracy"] == b["teacher_accuracy"]


def test_similarity_sets_shapes_and_normalisation():
    task = load_task("digits", random_state=0)
    sets = similarity_sets(task, 32, images=("camera",))
    assert set(sets) == {"real_test", "gaussian", "shuffled", "patches_camera"}
    assert all(v.shape == (32, 1, 8, 8) for v in sets.values())
    # shuffling permutes each sample's pixels
    torch.testing.assert_close(sets["shuffled"].flatten(1).sort(1)[0],
                               sets["real_test"].flatten(1).sort(1)[0])  # fmt: skip
    with pytest.raises(ValueError, match="digits"):
        similarity_sets({**task, "input_shape": (1, 40)})
