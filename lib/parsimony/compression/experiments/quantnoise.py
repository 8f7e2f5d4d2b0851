"""Table 1 of Quant-Noise at our scale: tasks, training arms, compression targets.

Fan et al., "Training with Quantization Noise for Extreme Model Compression", ICLR 2021,
Table 1: for each compression target (int8, int4, iPQ) a model is trained *normally*
(compressed post hoc), with *QAT* (the target quantizer's noise on every weight, p = 1)
or with *Quant-Noise* (the noise on a random subset, rate p), then compressed; the table
reports the size, the ratio and the task metric.

Our protocol (the notebooks say which they use):

* every arm is trained for ``epochs`` either from scratch (``pretrain_epochs=0``) or, to
  save compute, fine-tuned from one float checkpoint pre-trained for ``pretrain_epochs``
  (the paper's "Quant-Noise during fine-tuning" setting); the *normal* arm is then the same
  fine-tuning without noise, so that every arm gets the same number of steps;
* int8 / int4: exact scalar noise (per output channel, symmetric, min-max), QAT p = 1,
  Quant-Noise ``p_scalar``; compressed by :func:`~parsimony.compression.quantize_model`;
* iPQ: QAT is the exact PQ noise at p = 1 (centroids from k-means refreshed during
  training), Quant-Noise the proxy (block dropout) at ``p_pq`` (or the exact PQ noise with
  ``pq_noise="exact"``); compressed by :class:`~parsimony.compression.IterativePQ` with the
  same staged fine-tuning for every arm;
* sizes are ``len(pack(model))``; ratios against the float32 / float16 models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parsimony._validation import check_choice, check_int
from parsimony.compression.packing import size_report
from parsimony.compression.pq import IterativePQ, product_quantize_model
from parsimony.compression.quant_noise import add_quant_noise, remove_quant_noise
from parsimony.compression.scalar import quantize_model
from parsimony.nn import build_model, evaluate, train

TARGETS = ("int8", "int4", "ipq")
TRAININGS = ("normal", "qat", "qn")
METRICS = ("accuracy", "perplexity")


@dataclass
class Task:
    """A dataset, a model family and the metric of a Table-1 column.

    Attributes
    ----------
    name : str
    arch, config : str, dict
        :func:`parsimony.nn.build_model` arguments.
    train, test : pair (X, y)
    metric : {"accuracy", "perplexity"}
    stages : list, optional
        iPQ stages (None: one weight layer per stage).
    """

    name: str
    arch: str
    config: dict
    train: tuple
    test: tuple
    metric: str = "accuracy"
    stages: list | None = None
    info: dict = field(default_factory=dict)

    def model(self, seed: int):
        return build_model(self.arch, self.config, seed=seed)

    def score(self, model) -> float:
        return float(evaluate(model, self.test)[self.metric])

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"


def mnist1d_task(hidden=(256, 256)) -> Task:
    """mnist1d (4000 train / 1000 test, 40 samples per signal), an MLP classifier.

    The 40-sample input layer has rows of 40 values: block sizes must divide 40.
    """
    from parsimony.data import load_mnist1d

    xtr, ytr, xte, yte = load_mnist1d()
    config = {"in_features": 40, "n_classes": 10, "hidden": list(hidden)}
    return Task("mnist1d", "mlp", config, (xtr, ytr), (xte, yte), "accuracy")


#: iPQ stages of the char Transformer (the paper's order: FFN, embeddings, attention)
LM_STAGES = [["blocks.*.fc1", "blocks.*.fc2"], ["tok", "pos", "head"], ["blocks.*.attn.*"]]


def charlm_task(
    context: int = 64,
    d_model: int = 64,
    n_heads: int = 4,
    n_layers: int = 2,
    test_fraction: float = 0.1,
    max_chars: int | None = None,
) -> Task:
    """A character-level Transformer LM on the torch license corpus (perplexity).

    The corpus (:func:`parsimony.data.load_text`, about 190 kB) is split into a leading
    train part and a trailing test part; both are cut into non-overlapping windows of
    ``context`` next-token pairs. ``max_chars`` keeps only the first characters (quick runs).
    """
    from parsimony.data import load_text
    from parsimony.nn import CharVocab, lm_windows, split_text

    text = load_text()
    vocab = CharVocab(text)  # the vocabulary of the whole corpus, so test bytes are known
    if max_chars is not None:
        text = text[: check_int(max_chars, "max_chars", low=4 * context)]
    tr, te = split_text(vocab.encode(text), test_fraction)
    config = {"vocab_size": vocab.size, "context": context, "d_model": d_model,
              "n_heads": n_heads, "n_layers": n_layers}  # fmt: skip
    info = {"n_train_chars": int(tr.size), "n_test_chars": int(te.size)}
    return Task("charlm", "char_transformer", config, lm_windows(tr, context),
                lm_windows(te, context), "perplexity", LM_STAGES, info)  # fmt: skip


def noise_for(
    target: str,
    training: str,
    *,
    p_scalar: float = 0.5,
    p_pq: float = 0.1,
    pq_noise: str = "proxy",
    block_size=8,
    n_centroids=16,
) -> dict | None:
    """The :func:`~parsimony.compression.add_quant_noise` arguments of an arm (None: no noise).

    Examples
    --------
    >>> noise_for("int4", "qat")
    {'method': 'scalar', 'p': 1.0, 'bits': 4}
    >>> noise_for("ipq", "qn")
    {'method': 'proxy', 'p': 0.1, 'block_size': 8}
    """
    check_choice(target, "target", TARGETS)
    check_choice(training, "training", TRAININGS)
    check_choice(pq_noise, "pq_noise", ("proxy", "exact"))
    if training == "normal":
        return None
    if target in ("int8", "int4"):
        p = 1.0 if training == "qat" else p_scalar
        return {"method": "scalar", "p": p, "bits": int(target[3:])}
    if training == "qat" or pq_noise == "exact":
        p = 1.0 if training == "qat" else p_pq
        return {"method": "pq", "p": p, "block_size": block_size, "n_centroids": n_centroids}
    return {"method": "proxy", "p": p_pq, "block_size": block_size}


def train_arm(task: Task, noise: dict | None, *, seed: int, epochs: int, lr: float,
              batch_size: int, init_state=None, schedule="constant", grad_clip=None,
              progress=False):  # fmt: skip
    """Train one arm (from scratch, or from ``init_state``) and return it without noise."""
    model = task.model(seed)
    if init_state is not None:
        model.load_state_dict(init_state)
    if noise is not None:
        add_quant_noise(model, **noise)
    train(model, task.train, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
          schedule=schedule, grad_clip=grad_clip, progress=progress)  # fmt: skip
    return remove_quant_noise(model).eval()


def compress(model, target: str, task: Task, *, seed: int, block_size=8, n_centroids=16,
             n_iter: int = 20, finetune_epochs: int = 1, finetune_lr: float = 1e-3,
             batch_size: int = 64, finetune_data=None):  # fmt: skip
    """Compress a trained float model with ``target``; see the module docstring."""
    check_choice(target, "target", TARGETS)
    if target in ("int8", "int4"):
        return quantize_model(model, int(target[3:]), granularity="channel")
    ipq = IterativePQ(
        block_size, n_centroids, n_iter=n_iter, stages=task.stages,
        finetune_epochs=finetune_epochs, lr=finetune_lr, batch_size=batch_size,
        random_state=seed,
    )  # fmt: skip
    return ipq.fit(model, finetune_data if finetune_data is not None else task.train).model_


def quantnoise_table(
    task: Task,
    *,
    seeds=(0, 1, 2),
    targets=TARGETS,
    trainings=TRAININGS,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 128,
    pretrain_epochs: int = 0,
    pretrain_lr: float | None = None,
    schedule: str = "constant",
    grad_clip: float | None = None,
    p_scalar: float = 0.5,
    p_pq: float = 0.1,
    pq_noise: str = "proxy",
    block_size=8,
    n_centroids=16,
    n_iter: int = 20,
    finetune_epochs: int = 1,
    finetune_lr: float = 1e-3,
    finetune_samples: int | None = None,
    progress: bool = True,
):
    """Run every (seed, target, training) arm of Table 1 on ``task``.

    Returns
    -------
    pandas.DataFrame
        One row per seed and arm: ``seed``, ``target`` (``"float"`` for the uncompressed
        model), ``training``, ``bytes``, ``ratio_fp32``, ``ratio_fp16``, ``metric`` (after
        compression), ``metric_float`` (the same trained model before compression) and,
        for iPQ, ``metric_no_finetune`` (one-shot PQ of all layers, no fine-tuning).
    """
    import pandas as pd
    from tqdm import tqdm

    for t in targets:
        check_choice(t, "targets", TARGETS)
    for t in trainings:
        check_choice(t, "trainings", TRAININGS)
    seeds = [check_int(s, "seeds", low=0) for s in seeds]
    nz = {"p_scalar": p_scalar, "p_pq": p_pq, "pq_noise": pq_noise,
          "block_size": block_size, "n_centroids": n_centroids}  # fmt: skip
    fit = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "schedule": schedule,
           "grad_clip": grad_clip}  # fmt: skip
    init_state = None
    if pretrain_epochs > 0:
        base = task.model(0)
        train(base, task.train, epochs=pretrain_epochs, lr=pretrain_lr or lr,
              batch_size=batch_size, seed=0, schedule=schedule, grad_clip=grad_clip,
              progress=progress)  # fmt: skip
        init_state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    # the trainings to run: the normal one is shared by every target
    runs = [("normal", None)]  # also the uncompressed row
    for target in targets:
        for training in trainings:
            if training != "normal":
                runs.append((f"{training}:{target}", noise_for(target, training, **nz)))
    bar = tqdm(total=len(seeds) * len(runs), disable=not progress, desc=task.name, leave=False)
    rows = []
    for seed in seeds:
        finetune_data = task.train
        if finetune_samples is not None and finetune_samples < len(task.train[1]):
            idx = np.sort(
                np.random.default_rng(seed).choice(
                    len(task.train[1]), finetune_samples, replace=False
                )
            )
            finetune_data = (task.train[0][idx], task.train[1][idx])
        trained = {}
        for key, noise in runs:
            bar.set_postfix_str(f"seed {seed} {key}")
            trained[key] = train_arm(task, noise, seed=seed, init_state=init_state, **fit)
            bar.update()
        normal = trained["normal"]
        rows.append(_row(task, seed, "float", "normal", normal, task.score(normal)))
        for target in targets:
            for training in trainings:
                model = trained["normal" if training == "normal" else f"{training}:{target}"]
                q = compress(model, target, task, seed=seed, block_size=block_size,
                             n_centroids=n_centroids, n_iter=n_iter,
                             finetune_epochs=finetune_epochs, finetune_lr=finetune_lr,
                             batch_size=batch_size, finetune_data=finetune_data)  # fmt: skip
                row = _row(task, seed, target, training, q, task.score(model))
                if target == "ipq":
                    oneshot = product_quantize_model(model, block_size, n_centroids,
                                                     n_iter=n_iter, cap_centroids=True,
                                                     random_state=seed)  # fmt: skip
                    row["metric_no_finetune"] = task.score(oneshot)
                rows.append(row)
    bar.close()
    return pd.DataFrame(rows)


def _row(task, seed, target, training, model, metric_float):
    rep = size_report(model)
    return {
        "task": task.name,
        "seed": seed,
        "target": target,
        "training": training,
        "bytes": rep.total_bytes,
        "ratio_fp32": rep.ratio_fp32,
        "ratio_fp16": rep.ratio_fp16,
        "metric": task.score(model),
        "metric_float": metric_float,
        "metric_no_finetune": np.nan,
    }


def fit_block_size(model, block_size: int) -> dict:
    """Per-layer block sizes: ``block_size`` where it divides the layer's rows, else the
    largest divisor of the rows below it (e.g. mnist1d's 40-input layer at 16 gets 10).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> fit_block_size(build_model("mlp", in_features=40, hidden=[32]), 16)
    {'layers.0': 10, 'layers.2': 16}
    """
    from parsimony.compression.layers import select_layers

    out = {}
    for name, layer in select_layers(model):
        row = layer.weight[0].numel()
        out[name] = max(b for b in range(1, min(block_size, row) + 1) if row % b == 0)
    return out


def noise_rate_sweep(
    task: Task,
    p_list,
    *,
    seeds=(0, 1),
    method: str = "proxy",
    epochs: int = 10,
    lr: float = 3e-3,
    batch_size: int = 128,
    block_size: int = 8,
    n_centroids: int = 16,
    n_iter: int = 20,
    finetune_epochs: int = 1,
    finetune_lr: float = 1e-3,
    progress: bool = True,
):
    """Accuracy after iPQ (and before) of models trained with Quant-Noise at each rate p.

    ``p = 0`` is normal training; ``method`` is the noise (``"proxy"`` or ``"pq"``).
    Returns a DataFrame with ``seed``, ``p``, ``metric``, ``metric_float``, ``bytes``.
    """
    import pandas as pd
    from tqdm import tqdm

    check_choice(method, "method", ("proxy", "pq"))
    rows = []
    bar = tqdm(total=len(seeds) * len(p_list), disable=not progress, desc="p", leave=False)
    for seed in seeds:
        for p in p_list:
            noise = None
            if p > 0:
                noise = {"method": method, "p": float(p), "block_size": block_size}
                if method == "pq":
                    noise["n_centroids"] = n_centroids
            model = train_arm(task, noise, seed=seed, epochs=epochs, lr=lr, batch_size=batch_size)
            q = compress(model, "ipq", task, seed=seed, block_size=block_size,
                         n_centroids=n_centroids, n_iter=n_iter, finetune_epochs=finetune_epochs,
                         finetune_lr=finetune_lr, batch_size=batch_size)  # fmt: skip
            rows.append({"seed": seed, "p": float(p), "metric": task.score(q),
                         "metric_float": task.score(model),
                         "bytes": size_report(q).total_bytes})  # fmt: skip
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def size_accuracy_curves(
    task: Task,
    *,
    block_sizes=(4, 8),
    n_centroids_list=(16, 64, 256),
    trainings=("normal", "qn"),
    seeds=(0,),
    p_pq: float = 0.1,
    noise_block_size: int = 8,
    epochs: int = 10,
    lr: float = 3e-3,
    batch_size: int = 128,
    n_iter: int = 20,
    finetune_epochs: int = 1,
    finetune_lr: float = 1e-3,
    progress: bool = True,
):
    """Size (bytes) and metric of iPQ over a grid of block sizes and centroid counts.

    One model per seed and training (``"normal"``, ``"qn"``: proxy noise at ``p_pq`` with
    blocks of ``noise_block_size``) is trained once and compressed at every grid point
    (block sizes fitted per layer with :func:`fit_block_size`; ``K`` capped at the number
    of blocks). Returns a DataFrame with ``seed``, ``training``, ``block_size``,
    ``n_centroids``, ``bytes``, ``ratio_fp32``, ``metric``.
    """
    import pandas as pd
    from tqdm import tqdm

    for t in trainings:
        check_choice(t, "trainings", ("normal", "qn"))
    n = len(seeds) * len(trainings) * len(block_sizes) * len(n_centroids_list)
    bar = tqdm(total=n, disable=not progress, desc="grid", leave=False)
    rows = []
    for seed in seeds:
        for training in trainings:
            noise = None
            if training == "qn":
                noise = {"method": "proxy", "p": p_pq,
                         "block_size": fit_block_size(task.model(0), noise_block_size)}  # fmt: skip
            model = train_arm(task, noise, seed=seed, epochs=epochs, lr=lr, batch_size=batch_size)
            for bs in block_sizes:
                for k in n_centroids_list:
                    q = compress(model, "ipq", task, seed=seed, block_size=fit_block_size(model, bs),
                                 n_centroids=k, n_iter=n_iter, finetune_epochs=finetune_epochs,
                                 finetune_lr=finetune_lr, batch_size=batch_size)  # fmt: skip
                    rep = size_report(q)
                    rows.append({"seed": seed, "training": training, "block_size": bs,
                                 "n_centroids": k, "bytes": rep.total_bytes,
                                 "ratio_fp32": rep.ratio_fp32, "metric": task.score(q)})  # fmt: skip
                    bar.update()
    bar.close()
    return pd.DataFrame(rows)


def summarize(rows):
    """Table-1 shape: mean and std over seeds per (target, training), in table order."""
    order = {t: i for i, t in enumerate(("float", *TARGETS))}
    torder = {t: i for i, t in enumerate(TRAININGS)}
    g = rows.groupby(["target", "training"], sort=False)
    out = g.agg(
        bytes=("bytes", "mean"),
        ratio_fp32=("ratio_fp32", "mean"),
        ratio_fp16=("ratio_fp16", "mean"),
        metric_mean=("metric", "mean"),
        metric_std=("metric", "std"),
        metric_float=("metric_float", "mean"),
        metric_no_finetune=("metric_no_finetune", "mean"),
        n_seeds=("seed", "nunique"),
    ).reset_index()
    out["_o"] = out["target"].map(order) * 10 + out["training"].map(torder)
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def cell(summary, target: str, training: str, column: str = "metric_mean") -> float:
    """One number of a :func:`summarize` table."""
    sel = summary[(summary["target"] == target) & (summary["training"] == training)]
    if sel.empty:
        raise KeyError(f"no row for target={target!r}, training={training!r}")
    return float(sel[column].iloc[0])


__all__ = [
    "LM_STAGES",
    "METRICS",
    "TARGETS",
    "TRAININGS",
    "Task",
    "cell",
    "charlm_task",
    "compress",
    "fit_block_size",
    "mnist1d_task",
    "noise_for",
    "noise_rate_sweep",
    "quantnoise_table",
    "size_accuracy_curves",
    "summarize",
    "train_arm",
]
