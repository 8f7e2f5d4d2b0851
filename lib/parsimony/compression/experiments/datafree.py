r"""The protocol of "The Knowledge Within" at our scale: sample sets, tables, similarity.

Haroush, Hubara, Hoffer, Soudry, "The Knowledge Within: Methods for Data-Free Model
Compression", CVPR 2020 (arXiv:1912.01274), Tables 1-3 (calibration and distillation
fine-tuning of quantized models from real, Gaussian, Inception and BN-statistics samples)
and the data-similarity experiment. The algorithms are in
:mod:`parsimony.compression.datafree`; this module holds the experiment around them.

* :func:`load_task`: digits or mnist1d (:func:`parsimony.data.digits_split`,
  :func:`~parsimony.data.mnist1d_split`, :func:`~parsimony.data.standardize`) and the
  teacher's architecture; :func:`train_teacher` trains it.
* Per teacher seed (:func:`datafree_seed`): one sample set per source (``"real"``, a random
  training subset, is the oracle; the others come from the teacher alone), then
  :func:`evaluate_source`: PTQ accuracy (:func:`ptq_accuracy`) and KD-QAT accuracy
  (:func:`kd_student`, the one training loop :func:`parsimony.nn.train` with the loss
  :func:`~parsimony.compression.datafree.kd_loss`, BatchNorm frozen).
* **Data-free schedule** (ours): the number of KD epochs is chosen without any real
  sample by :func:`select_kd_epochs`: the epoch (up to a fixed budget) at which the
  KD-QAT student distilled on the BNS set best matches the teacher, in KD loss, on a
  second, held-out BNS set generated from the teacher with another random state. That
  number is used for every source of that teacher (the real-data oracle included), so
  every arm gets the same schedule.
* Claim statistics: :func:`accuracy_table` (accuracies in % per column and source),
  :func:`mean_gap` (difference of two sources' means), :func:`loss_fall`, :func:`bn_match` (per-channel agreement of a set's BN-input
  statistics with the running statistics, in units of :math:`\hat\sigma`).
* :func:`similarity_sets`: held-out digits, Gaussian noise, pixel-shuffled digits and 8x8
  natural-image patches, normalised like the teacher's inputs, for
  :func:`~parsimony.compression.datafree.bns_similarity`.
"""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice, check_float, check_int
from parsimony.compression.datafree import (
    BNStatistics,
    SyntheticGenerator,
    bns_similarity,
    calibrate,
    freeze,
    freeze_bn_,
    kd_loss,
    quantization_summary,
    quantize_wa,
)
from parsimony.compression.packing import pack
from parsimony.nn import build_model, evaluate, predict, train

SOURCES = ("real", "gaussian", "inception", "bns")
TASKS = {
    "digits": {"arch": "cnn", "config": {"input_shape": [8, 8], "channels": [16, 32]}},
    "mnist1d": {
        "arch": "cnn",
        "config": {"input_shape": [40], "channels": [16, 32], "kernel_size": 5},
    },
}


# --------------------------------------------------------------------------- task, teacher
def load_task(name: str = "digits", *, valid_fraction: float = 0.2, test_fraction: float = 0.2,
              random_state: int = 0) -> dict:  # fmt: skip
    """Train/valid/test splits of ``"digits"`` or ``"mnist1d"``, standardised, and the teacher.

    digits: :func:`parsimony.data.digits_split` (``X / 16``, stratified), shape
    (n, 1, 8, 8). mnist1d: :func:`parsimony.data.mnist1d_split` (``test_fraction`` is not
    used: the stored test split), shape (n, 1, 40). Both standardised by
    :func:`parsimony.data.standardize` (one scalar mean and standard deviation from the
    training inputs: constants that ship with the model).

    Returns a dict with ``train``, ``valid``, ``test`` (pairs of float32 / int64 arrays),
    ``input_shape``, ``mean``, ``std`` and ``model`` (``build_model`` arguments).
    """
    from parsimony.data import digits_split, mnist1d_split, standardize

    check_choice(name, "name", tuple(TASKS))
    if name == "digits":
        split = digits_split(test_fraction=test_fraction, valid_fraction=valid_fraction,
                             random_state=random_state)  # fmt: skip
        shape = (1, 8, 8)
    else:
        split = mnist1d_split(valid_fraction=valid_fraction)
        shape = (1, 40)
    split, mean, std = standardize(split, shape)
    return {**split, "input_shape": shape, "mean": mean, "std": std, "model": TASKS[name]}


def train_teacher(task: dict, random_state: int = 0, *, epochs: int = 20, lr: float = 3e-3,
                  batch_size: int = 64) -> nn.Module:  # fmt: skip
    """The float teacher of ``task`` (with BatchNorm), trained on ``task["train"]``."""
    teacher = build_model(task["model"]["arch"], task["model"]["config"],
                          random_state=random_state)  # fmt: skip
    train(teacher, task["train"], epochs=epochs, lr=lr, batch_size=batch_size,
          random_state=random_state, progress=False)  # fmt: skip
    return teacher.eval()


def real_subset(train_data, n_samples: int, random_state: int = 0) -> torch.Tensor:
    """The oracle: ``n_samples`` random training inputs (labels dropped)."""
    X = np.asarray(train_data[0])
    n_samples = check_int(n_samples, "n_samples", low=1, high=len(X))
    idx = np.random.default_rng(random_state).choice(len(X), n_samples, replace=False)
    return torch.from_numpy(np.ascontiguousarray(X[np.sort(idx)])).float()


# --------------------------------------------------------------------------- PTQ, KD-QAT
def ptq_accuracy(teacher, X_calib, test, *, w_bits=4, a_bits=4, method="minmax",
                 percentile=99.9, **quant_kwargs) -> float:  # fmt: skip
    """Test accuracy of ``teacher`` W/A-quantized and calibrated on ``X_calib``."""
    student = calibrate(quantize_wa(teacher, w_bits, a_bits, **quant_kwargs), X_calib, method,
                        percentile)  # fmt: skip
    return float(evaluate(student, test)["accuracy"])


def kd_train(student, teacher, X, *, epochs=2, lr=1e-3, batch_size=64, temperature=1.0,
             random_state=0, callback=None) -> list[dict]:  # fmt: skip
    """Distil ``teacher`` into the quantized ``student`` on the inputs ``X`` (no labels).

    :func:`parsimony.nn.train` on ``(X, teacher logits)`` with the loss
    :func:`~parsimony.compression.datafree.kd_loss` at ``temperature``, Adam, BatchNorm
    frozen (eval statistics and, by :func:`~parsimony.compression.datafree.freeze_bn_`,
    fixed affine parameters); gradients pass the fake quantizers by the straight-through
    estimator. ``callback(record)`` is ``train``'s per-epoch callback. Returns ``train``'s
    history; ``student`` is trained in place and left in eval mode.
    """
    temperature = check_float(temperature, "temperature", low=0.0, low_inclusive=False)
    X = torch.as_tensor(X, dtype=torch.float32)
    targets = predict(teacher, X)
    freeze_bn_(student)
    device = next(student.parameters()).device
    return train(student, (X, targets), epochs=epochs, lr=lr, batch_size=batch_size,
                 loss=functools.partial(kd_loss, temperature=temperature), frozen_bn=True,
                 random_state=random_state, progress=False, callback=callback,
                 device=device)  # fmt: skip


def kd_student(teacher, X, *, w_bits=2, a_bits=4, calibration="minmax", percentile=99.9,
               epochs=2, lr=1e-3, batch_size=64, temperature=1.0, random_state=0,
               callback=None, **quant_kwargs) -> nn.Module:  # fmt: skip
    """Quantize (:func:`~parsimony.compression.datafree.quantize_wa`), calibrate on ``X``
    and distil on ``X`` (:func:`kd_train`): the fine-tuned quantized student."""
    student = calibrate(quantize_wa(teacher, w_bits, a_bits, **quant_kwargs), X, calibration,
                        percentile)  # fmt: skip
    kd_train(student, teacher, X, epochs=epochs, lr=lr, batch_size=batch_size,
             temperature=temperature, random_state=random_state, callback=callback)  # fmt: skip
    return student


def select_kd_epochs(teacher, X, X_held, *, max_epochs: int = 50, w_bits=2, a_bits=4,
                     calibration="minmax", percentile=99.9, **kd_kwargs) -> tuple[int, list]:  # fmt: skip
    """The data-free KD schedule: the epoch whose student best matches the teacher on ``X_held``.

    Distils a :func:`kd_student` on ``X`` for ``max_epochs`` and, after every epoch,
    measures the KD loss (:func:`~parsimony.compression.datafree.kd_loss`, same
    temperature) between the teacher and the student on the held-out inputs ``X_held``.
    With synthetic ``X`` and ``X_held`` no real sample is used. ``kd_kwargs`` go to
    :func:`kd_train`. Returns the epoch (1-based) of the smallest held-out loss (the
    first on ties) and the held-out loss per epoch.
    """
    max_epochs = check_int(max_epochs, "max_epochs", low=1)
    X_held = torch.as_tensor(X_held, dtype=torch.float32)
    t_held = predict(teacher, X_held)
    temperature = kd_kwargs.get("temperature", 1.0)
    student = calibrate(quantize_wa(teacher, w_bits, a_bits), X, calibration, percentile)
    curve: list[float] = []

    def record(_):
        curve.append(float(kd_loss(predict(student, X_held), t_held, temperature)))

    kd_train(student, teacher, X, epochs=max_epochs, callback=record, **kd_kwargs)
    return int(np.argmin(curve)) + 1, curve


def evaluate_source(teacher, X, test, *, ptq_bits=(4, 4), kd_bits=(2, 4),
                    calibrations=("minmax", "percentile"), percentile=99.9,
                    kd_calibration="minmax", kd_epochs=20, kd_lr=1e-3, kd_batch_size=64,
                    temperature=1.0, extra_ptq_bits=(), random_state=0) -> dict:  # fmt: skip
    """PTQ (one accuracy per calibration) and KD-QAT accuracy of ``teacher`` from ``X``.

    ``X`` is the only sample set used (calibration, distillation); ``test`` is read for the
    final accuracies only. Returns ``ptq_<calibration>``, ``kd`` (test accuracies),
    ``kd_bytes`` (``len(pack(freeze(student)))``) and ``kd_summary``; for every
    ``(w, a)`` of ``extra_ptq_bits``, ``ptq_w{w}a{a}`` (min-max calibration).
    """
    out = {}
    for w, a in extra_ptq_bits:
        out[f"ptq_w{w}a{a}"] = ptq_accuracy(teacher, X, test, w_bits=w, a_bits=a)
    for cal in calibrations:
        out[f"ptq_{cal}"] = ptq_accuracy(teacher, X, test, w_bits=ptq_bits[0], a_bits=ptq_bits[1],
                                         method=cal, percentile=percentile)  # fmt: skip
    student = kd_student(teacher, X, w_bits=kd_bits[0], a_bits=kd_bits[1],
                         calibration=kd_calibration, percentile=percentile, epochs=kd_epochs,
                         lr=kd_lr, batch_size=kd_batch_size, temperature=temperature,
                         random_state=random_state)  # fmt: skip
    out["kd"] = float(evaluate(student, test)["accuracy"])
    frozen = freeze(student)
    out["kd_bytes"] = len(pack(frozen))
    out["kd_summary"] = quantization_summary(frozen)
    return out


# --------------------------------------------------------------------------- one teacher seed
def datafree_seed(
    task: dict,
    random_state: int = 0,
    *,
    sources=SOURCES,
    teacher_epochs: int = 20,
    teacher_lr: float = 3e-3,
    n_samples: int = 256,
    max_iter: int = 200,
    gen_lr: float = 0.1,
    gen_batch_size: int = 256,
    l2: float = 1e-2,
    tv: float = 1e-1,
    jitter: int = 1,
    max_kd_epochs: int = 50,
    seed: int | None = None,
    **eval_kwargs,
) -> dict:
    """One row of the paper's tables for one teacher seed.

    Trains the float teacher on ``task["train"]`` (:func:`train_teacher`, seeded by
    ``random_state``; its validation accuracy is recorded), builds one sample set of
    ``n_samples`` per source (``"real"``: a random training subset, the oracle; the others
    from the teacher alone), chooses the KD schedule without real data
    (:func:`select_kd_epochs` on the BNS set against a second BNS set generated with
    another random state, up to ``max_kd_epochs``; unless ``kd_epochs`` is given in
    ``eval_kwargs``) and runs :func:`evaluate_source` on each set with that schedule.

    Returns ``teacher_accuracy``, ``teacher_valid_accuracy``, ``teacher_bytes``,
    ``kd_epochs`` (the schedule used), ``kd_selection`` (held-out synthetic KD loss per
    epoch, empty when ``kd_epochs`` was given), ``results`` (source ->
    :func:`evaluate_source` dict), ``bns_history`` (source -> :math:`L_{BNS}` per
    generation step), ``bns_score`` (source -> :func:`bns_similarity` of the set),
    ``bn_match`` (source -> :func:`bn_match`), ``seconds`` (generation, per source) and
    ``teacher``. ``seed`` is a deprecated alias of ``random_state``.
    """
    if seed is not None:
        warnings.warn("datafree_seed(seed=) is deprecated: use random_state=", FutureWarning,
                      stacklevel=2)  # fmt: skip
        random_state = seed
    random_state = check_int(random_state, "random_state", low=0)
    for s in sources:
        check_choice(s, "sources", SOURCES)
    teacher = train_teacher(task, random_state, epochs=teacher_epochs, lr=teacher_lr)
    out = {
        "teacher_accuracy": float(evaluate(teacher, task["test"])["accuracy"]),
        "teacher_valid_accuracy": float(evaluate(teacher, task["valid"])["accuracy"]),
        "teacher_bytes": len(pack(teacher)),
        "results": {},
        "bns_history": {},
        "bns_score": {},
        "bn_match": {},
        "seconds": {},
        "kd_selection": [],
    }
    gen_kwargs = dict(n_samples=n_samples, input_shape=task["input_shape"], max_iter=max_iter,
                      lr=gen_lr, batch_size=gen_batch_size, l2=l2, tv=tv, jitter=jitter)  # fmt: skip
    sets = {}
    for i, source in enumerate(sources):
        t0 = time.perf_counter()
        if source == "real":
            sets[source] = real_subset(task["train"], n_samples, random_state=random_state)
        else:
            g = SyntheticGenerator(source, random_state=1000 * random_state + i, **gen_kwargs)
            sets[source] = g.generate(teacher).samples_
            out["bns_history"][source] = g.bns_history_
        out["seconds"][source] = time.perf_counter() - t0
        out["bns_score"][source] = bns_similarity(teacher, sets[source], batch_size=gen_batch_size)
        out["bn_match"][source] = bn_match(teacher, sets[source])
    if "kd_epochs" not in eval_kwargs:

        def bns_set(offset):
            g = SyntheticGenerator("bns", random_state=1000 * random_state + offset, **gen_kwargs)
            return g.generate(teacher).samples_

        X_bns = sets["bns"] if "bns" in sets else bns_set(998)
        bits = eval_kwargs.get("kd_bits", (2, 4))
        epochs, curve = select_kd_epochs(
            teacher, X_bns, bns_set(999), max_epochs=max_kd_epochs, w_bits=bits[0],
            a_bits=bits[1], calibration=eval_kwargs.get("kd_calibration", "minmax"),
            percentile=eval_kwargs.get("percentile", 99.9), lr=eval_kwargs.get("kd_lr", 1e-3),
            batch_size=eval_kwargs.get("kd_batch_size", 64),
            temperature=eval_kwargs.get("temperature", 1.0), random_state=random_state,
        )  # fmt: skip
        eval_kwargs = {**eval_kwargs, "kd_epochs": epochs}
        out["kd_selection"] = curve
    out["kd_epochs"] = int(eval_kwargs["kd_epochs"])
    for source in sources:
        out["results"][source] = evaluate_source(teacher, sets[source], task["test"],
                                                 random_state=random_state, **eval_kwargs)  # fmt: skip
    out["teacher"] = teacher
    return out


# --------------------------------------------------------------------------- claim statistics
def accuracy_table(runs, columns, sources=SOURCES) -> dict:
    """Accuracies in % from :func:`datafree_seed` runs: column -> source -> (n_runs,) array.

    Examples
    --------
    >>> runs = [{"results": {"bns": {"kd": 0.9}}}, {"results": {"bns": {"kd": 0.8}}}]
    >>> accuracy_table(runs, ["kd"], ["bns"])["kd"]["bns"].round(6).tolist()
    [90.0, 80.0]
    """
    if not runs:
        raise ValueError("runs must hold at least one datafree_seed result")
    return {
        c: {s: 100.0 * np.array([float(r["results"][s][c]) for r in runs]) for s in sources}
        for c in columns
    }


def mean_gap(table: dict, column: str, a: str, b: str) -> float:
    """Mean over runs of source ``a`` minus mean of source ``b`` in ``column`` (points).

    Examples
    --------
    >>> t = {"kd": {"real": np.array([98.0, 96.0]), "bns": np.array([95.0, 96.0])}}
    >>> mean_gap(t, "kd", "real", "bns")
    1.5
    """
    return float(np.mean(table[column][a]) - np.mean(table[column][b]))


def loss_fall(history) -> float:
    """How many times the loss fell: ``history[0] / history[-1]`` (inf if it reached 0).

    Examples
    --------
    >>> loss_fall([10.0, 2.0, 0.5])
    20.0
    """
    h = np.asarray(history, dtype=np.float64)
    if h.ndim != 1 or h.size < 2 or not np.isfinite(h).all() or (h < 0).any():
        raise ValueError("history must be at least two finite non-negative losses")
    return float(h[0] / h[-1]) if h[-1] > 0 else float("inf")


@torch.no_grad()
def bn_match(model: nn.Module, X) -> dict:
    r"""How far the BN-input statistics of the set ``X`` are from the running statistics.

    Over every BN layer and channel, with :math:`\hat s = \sqrt{\hat\sigma^2 + \epsilon}`
    and :math:`\tilde s = \sqrt{\tilde\sigma^2 + \epsilon}` (statistics of ``X`` as one
    batch, model in eval mode): ``mean`` is :math:`\max |\tilde\mu - \hat\mu| / \hat s` and
    ``std`` is :math:`\max |\tilde s - \hat s| / \hat s`.
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    was = model.training
    model.eval()
    try:
        with BNStatistics(model) as bs:
            model(X)
    finally:
        model.train(was)
    dm, ds = 0.0, 0.0
    for bn, (mu, var) in zip(bs.layers, bs.stats, strict=True):
        sd = (bn.running_var + bn.eps).sqrt()
        dm = max(dm, float(((mu[0] - bn.running_mean).abs() / sd).max()))
        ds = max(ds, float((((var[0] + bn.eps).sqrt() - sd).abs() / sd).max()))
    return {"mean": dm, "std": ds}


# --------------------------------------------------------------------------- similarity
def similarity_sets(task: dict, n_samples: int = 256, images=("camera", "astronaut"),
                    random_state: int = 0) -> dict:  # fmt: skip
    """Data sets to score with :func:`bns_similarity` under a digits teacher.

    All normalised like the teacher's inputs (``task["mean"]``, ``task["std"]``), shape
    (n, 1, 8, 8): ``real_test`` (held-out digits), ``gaussian`` (N(0, I) in the normalised
    space), ``shuffled`` (held-out digits, pixels permuted independently per sample) and
    ``patches_<image>`` (random 8x8 patches of bundled scikit-image images, grey levels in
    [0, 1] like ``X / 16``).
    """
    from parsimony.data import load_image
    from parsimony.data.patches import extract_patches, image_to_float

    if tuple(task["input_shape"]) != (1, 8, 8):
        raise ValueError(
            f"task must be the digits task (input_shape (1, 8, 8)), got {task['input_shape']}"
        )
    rng = np.random.default_rng(random_state)
    X = np.asarray(task["test"][0])
    n = check_int(n_samples, "n_samples", low=2, high=len(X))
    real = X[np.sort(rng.choice(len(X), n, replace=False))]
    flat = real.reshape(n, -1)
    shuffled = np.take_along_axis(flat, rng.permuted(np.tile(np.arange(64), (n, 1)), axis=1), 1)
    out = {
        "real_test": real,
        "gaussian": rng.standard_normal(real.shape),
        "shuffled": shuffled.reshape(real.shape),
    }
    for name in images:
        p = extract_patches(image_to_float(load_image(name)), 8, n_patches=n, random_state=rng)
        out[f"patches_{name}"] = ((p - task["mean"]) / task["std"]).reshape(real.shape)
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}
