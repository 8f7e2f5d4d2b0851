"""Sweeps and claim statistics for the Frank-Wolfe RNN paper.

Yue, Li, Saligrama, Zhang, "RNN Training along Locally Optimal Trajectories via
Frank-Wolfe Algorithm", ICPR 2020, arXiv:2010.05397.

Every optimizer gets the same budget of minibatch gradients (same epochs and batch size:
one backward pass per minibatch, whatever the optimizer does with it), the same seeds,
and its learning rate chosen by the same rule: the best validation accuracy after
training with seed 0 over the same grid. For Frank-Wolfe the grid value sets both the
outer Adam rate and the inner radius ``inner_lr``; for Lookahead the inner Adam rate.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from parsimony._validation import check_int
from parsimony.nn.frank_wolfe import FrankWolfe, Lookahead
from parsimony.nn.recurrent import SequenceRNN
from parsimony.nn.training import evaluate, train


def _adam(lr):
    return lambda p: torch.optim.Adam(p, lr=lr)


#: method name -> (lr -> optimizer factory, gradient clipping)
METHODS = {
    "adam": (_adam, None),
    "rmsprop": (lambda lr: lambda p: torch.optim.RMSprop(p, lr=lr), None),
    "sgd_clip": (lambda lr: lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9), 1.0),
    "lookahead": (lambda lr: lambda p: Lookahead(p, inner=_adam(lr), k=5, alpha=0.5), None),
    "fw_T1": (lambda lr: lambda p: FrankWolfe(p, outer=_adam(lr), inner_lr=lr, T=1), None),
    "fw_code_T5": (
        lambda lr: lambda p: FrankWolfe(p, outer=_adam(lr), inner_lr=lr, T=5, variant="code"),
        None,
    ),
    "fw_fw_T5": (
        lambda lr: lambda p: FrankWolfe(p, outer=_adam(lr), inner_lr=lr, T=5, variant="fw"),
        None,
    ),
}


def fit_one(split, method, lr, *, hidden, epochs, batch_size, random_state) -> dict:
    """Train a GRU with ``method`` at ``lr``: curves against minibatch gradients, test acc."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    factory, clip = METHODS[method]
    X = split["train"][0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        model = SequenceRNN(X.shape[2], int(split["train"][1].max()) + 1, hidden=hidden)
    hist = train(model, split["train"], epochs=epochs, lr=lr, batch_size=batch_size,
                 optimizer=factory(lr), grad_clip=clip, random_state=random_state,
                 valid_data=split["valid"], progress=False, device="cpu")  # fmt: skip
    per_epoch = math.ceil(len(X) / batch_size)
    return {
        "gradients": [h["epoch"] * per_epoch for h in hist],
        "train_loss": [h["loss"] for h in hist],
        "valid_loss": [h["valid_loss"] for h in hist],
        "valid_accuracy": [h["valid_accuracy"] for h in hist],
        "test_accuracy": evaluate(model, split["test"])["accuracy"],
    }


def sweep(split, methods, lrs, *, n_seeds, hidden, epochs, batch_size) -> dict:
    """Per method: the lr chosen on validation (seed 0) and the runs for seeds 0..n_seeds-1."""
    n_seeds = check_int(n_seeds, "n_seeds", low=1)
    if split.get("valid") is None:
        raise ValueError("split must have a validation part (the lr is chosen on it)")
    kw = {"hidden": hidden, "epochs": epochs, "batch_size": batch_size}
    out = {}
    for m in methods:
        trials = {lr: fit_one(split, m, lr, random_state=0, **kw) for lr in lrs}
        best = max(lrs, key=lambda lr: (trials[lr]["valid_accuracy"][-1], -lr))
        runs = [trials[best]] + [
            fit_one(split, m, best, random_state=s, **kw) for s in range(1, n_seeds)
        ]
        out[m] = {"lr": best, "runs": runs}
    return out


def final_test_accuracies(result: dict, method: str) -> list[float]:
    """Final test accuracy per seed."""
    return [r["test_accuracy"] for r in result[method]["runs"]]


def mean_gap(result: dict, method: str, baseline: str) -> float:
    """Mean over seeds of the paired test-accuracy difference ``method - baseline``."""
    a, b = final_test_accuracies(result, method), final_test_accuracies(result, baseline)
    return float(np.mean(np.subtract(a, b)))


def gradients_to(run: dict, threshold: float) -> float:
    """Minibatch gradients until the validation accuracy first reaches ``threshold`` (inf: never)."""
    for g, acc in zip(run["gradients"], run["valid_accuracy"], strict=True):
        if acc >= threshold:
            return float(g)
    return math.inf


def median_gradients_to(result: dict, method: str, threshold: float) -> float:
    """Median over seeds of :func:`gradients_to`."""
    return float(np.median([gradients_to(r, threshold) for r in result[method]["runs"]]))


def mean_curve(result: dict, method: str, key: str) -> tuple[list, list]:
    """``(gradients, mean over seeds of key)`` for plotting."""
    runs = result[method]["runs"]
    return runs[0]["gradients"], np.mean([r[key] for r in runs], axis=0).tolist()


def summary(result: dict, threshold: float, prefix: str = "") -> dict:
    """JSON-safe metrics: chosen lr, mean / per-seed test accuracy, gradients to threshold.

    A method that never reaches ``threshold`` gets ``None`` gradients.
    """
    out = {}
    for m, r in result.items():
        acc = final_test_accuracies(result, m)
        g = median_gradients_to(result, m, threshold)
        out[f"{prefix}lr/{m}"] = r["lr"]
        out[f"{prefix}test_accuracy_mean/{m}"] = float(np.mean(acc))
        out[f"{prefix}test_accuracy_per_seed/{m}"] = acc
        out[f"{prefix}median_gradients_to_{threshold:g}/{m}"] = g if math.isfinite(g) else None
    return out
