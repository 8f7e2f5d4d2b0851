"""Experiments for structured projections (paper E) and LMA students (paper F).

E: Barlaud & Guyard, ICPR 2020 (arXiv:2007.09054): the first ``Linear`` layer of a digits
MLP trained by the splitting projected gradient under each constraint, ``eta`` swept; zero
columns (input features) removed physically and the bytes counted
(:func:`projection_sweep`, :func:`shrink_first_layer`, :func:`shrunk_bytes`, and the claim
statistics :func:`mean_table`, :func:`zero_column_gap`, :func:`accuracy_at_half_zero`).

F: Xu et al., AAAI 2020 (arXiv:1907.06870): compact students ``in -> w -> w -> classes``
with ReLU, PReLU, APL or LMA distilled from a teacher (:func:`make_student`,
:func:`distill`, :func:`fake_int8`, :func:`student_bytes`, :func:`activation_overhead`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice, check_float, check_int
from parsimony.compression.datafree import kd_loss
from parsimony.compression.scalar import fake_quantize, quant_params
from parsimony.compression.structured.projections import (
    PROJECTIONS,
    train_projected,
    zero_columns,
)
from parsimony.nn import MLP
from parsimony.nn.activations import ACTIVATIONS, APL, LMA
from parsimony.nn.training import evaluate, train

__all__ = [
    "accuracy_at_half_zero",
    "activation_overhead",
    "distill",
    "fake_int8",
    "make_student",
    "mean_table",
    "projection_sweep",
    "shrink_first_layer",
    "student_sweep",
    "shrunk_bytes",
    "student_bytes",
    "zero_column_gap",
]


def _accuracy(model: nn.Module, data) -> float:
    return float(evaluate(model, data)["accuracy"])


def shrink_first_layer(model: MLP) -> tuple[nn.Module, np.ndarray]:
    """Remove the first layer's all-zero columns: ``(smaller model, kept input indices)``.

    The smaller model reads ``X[:, kept]`` and returns the same logits as ``model(X)``.
    """
    first = model.layers[0]
    keep = np.flatnonzero(~zero_columns(first.weight.detach().numpy()))
    small = nn.Linear(len(keep), first.out_features)
    with torch.no_grad():
        small.weight.copy_(first.weight[:, torch.as_tensor(keep, dtype=torch.long)])
        small.bias.copy_(first.bias)
    return nn.Sequential(small, *list(model.layers)[1:]), keep


def shrunk_bytes(model: MLP) -> int:
    """Bytes of the model after :func:`shrink_first_layer`: fp32 parameters + kept indices.

    The kept input indices are stored at the smallest integer width (1, 2 or 4 bytes) that
    holds ``in_features - 1``; a layer with no zero column stores no index.
    """
    small, keep = shrink_first_layer(model)
    n_in = model.layers[0].in_features
    width = 1 if n_in <= 256 else 2 if n_in <= 65536 else 4
    index = 0 if len(keep) == n_in else len(keep) * width
    return 4 * sum(p.numel() for p in small.parameters()) + index


def projection_sweep(
    split: dict,
    constraints,
    etas,
    seeds,
    *,
    hidden=(256, 128),
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 64,
) -> list[dict]:
    """Train one MLP per (constraint, eta, seed), the first layer constrained.

    ``constraints`` may contain ``"none"`` (unconstrained, one run per seed, ``eta`` None).
    Every run gets the same epochs, learning rate, batch order and initialisation per seed.
    Each record: ``constraint, eta, seed, accuracy`` (test), ``zero_columns`` and
    ``zero_weights`` (fractions in the first layer), ``bytes`` (:func:`shrunk_bytes`).
    """
    for c in constraints:
        if c != "none" and c not in PROJECTIONS:
            raise ValueError(f"constraints: {c!r} is not 'none' or one of {sorted(PROJECTIONS)}")
    epochs = check_int(epochs, "epochs", low=1)
    n_in = int(np.asarray(split["train"][0]).shape[1])
    records = []
    for c in constraints:
        for eta in [None] if c == "none" else etas:
            for seed in seeds:
                torch.manual_seed(int(seed))
                model = MLP(n_in, 10, hidden=hidden)
                cons = {} if c == "none" else {"layers.0.weight": (c, float(eta))}
                train_projected(model, split["train"], cons, epochs=epochs, lr=lr,
                                batch_size=batch_size, random_state=int(seed))  # fmt: skip
                W = model.layers[0].weight.detach().numpy()
                records.append({
                    "constraint": c, "eta": eta, "seed": int(seed),
                    "accuracy": _accuracy(model, split["test"]),
                    "zero_columns": float(zero_columns(W).mean()),
                    "zero_weights": float((W == 0).mean()),
                    "bytes": shrunk_bytes(model),
                })  # fmt: skip
    return records


def mean_table(records: list[dict], key: str, by=("constraint", "eta")) -> dict:
    """``{(r[by[0]], r[by[1]], ...): mean of r[key] over the other records' fields (seeds)}``."""
    groups: dict = {}
    for r in records:
        groups.setdefault(tuple(r[b] for b in by), []).append(r[key])
    return {k: float(np.mean(v)) for k, v in groups.items()}


def zero_column_gap(records: list[dict], a: str = "l11", b: str = "l1") -> dict:
    """``{eta: mean zero-column fraction of a - that of b}`` at every eta both were run."""
    z = mean_table(records, "zero_columns")
    return {e: z[(a, e)] - z[(b, e)] for (c, e) in z if c == a and (b, e) in z}


def accuracy_at_half_zero(records: list[dict], constraint: str = "l11") -> dict | None:
    """The largest eta whose mean zero-column fraction is >= 0.5, and its accuracy gap.

    Returns ``{"eta", "zero_columns", "accuracy", "unconstrained", "drop"}`` (``drop`` in
    accuracy points = unconstrained - constrained, means over seeds) or None if no eta
    reaches half zero columns. Needs ``"none"`` records for the unconstrained accuracy.
    """
    z, acc = mean_table(records, "zero_columns"), mean_table(records, "accuracy")
    if ("none", None) not in acc:
        raise ValueError("records: no unconstrained ('none') run")
    etas = [e for (c, e), v in z.items() if c == constraint and v >= 0.5]
    if not etas:
        return None
    eta = max(etas)
    base = acc[("none", None)]
    return {
        "eta": eta,
        "zero_columns": z[(constraint, eta)],
        "accuracy": acc[(constraint, eta)],
        "unconstrained": base,
        "drop": 100.0 * (base - acc[(constraint, eta)]),
    }


def make_student(
    in_features: int, width: int, n_classes: int, activation: str, n_cuts: int = 4
) -> nn.Sequential:
    """``Linear(in, w) - act - Linear(w, w) - act - Linear(w, classes)``.

    ``activation`` is a key of :data:`parsimony.nn.activations.ACTIVATIONS`; ``n_cuts`` is
    LMA's ``K``.
    """
    check_choice(activation, "activation", ACTIVATIONS)
    width = check_int(width, "width", low=1)

    def act():
        if activation == "lma":
            return LMA(n_cuts)
        if activation == "apl":
            return APL(width)
        return ACTIVATIONS[activation]()

    return nn.Sequential(
        nn.Linear(in_features, width), act(), nn.Linear(width, width), act(),
        nn.Linear(width, n_classes),
    )  # fmt: skip


def distill(
    student: nn.Module,
    train_data,
    teacher_logits,
    *,
    alpha: float = 0.5,
    temperature: float = 4.0,
    epochs: int = 30,
    lr: float = 3e-3,
    batch_size: int = 64,
    random_state: int = 0,
) -> nn.Module:
    r"""Knowledge distillation through :func:`parsimony.nn.train` with a ``loss`` closure.

    .. math:: \alpha\, \mathrm{CE}(y, s) + (1 - \alpha)\, \tau^2\,
              \mathrm{KL}(\mathrm{softmax}(t/\tau) \| \mathrm{softmax}(s/\tau)).

    The targets handed to the loop are the teacher's logits with the label appended as a
    last column.
    """
    alpha = check_float(alpha, "alpha", low=0.0, high=1.0)
    temperature = check_float(temperature, "temperature", low=0.0, low_inclusive=False)
    X = torch.as_tensor(np.asarray(train_data[0]), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(train_data[1]), dtype=torch.float32)
    t = torch.as_tensor(teacher_logits, dtype=torch.float32)
    if t.shape[0] != X.shape[0]:
        raise ValueError("teacher_logits must have one row per training sample")

    def loss(s, target):
        ce = nn.functional.cross_entropy(s, target[:, -1].long())
        return alpha * ce + (1 - alpha) * kd_loss(s, target[:, :-1], temperature)

    train(student, (X, torch.cat([t, y[:, None]], 1)), epochs=epochs, lr=lr,
          batch_size=batch_size, random_state=random_state, loss=loss, progress=False,
          device="cpu")  # fmt: skip
    return student


def fake_int8(student: nn.Module) -> nn.Module:
    """Round every ``Linear`` weight to 8-bit per-channel symmetric levels (in place)."""
    with torch.no_grad():
        for m in student.modules():
            if isinstance(m, nn.Linear):
                s, z = quant_params(m.weight, 8, granularity="channel")
                m.weight.copy_(fake_quantize(m.weight, s, z, 8))
    return student


def student_bytes(student: nn.Module, weight_bits: int = 32) -> int:
    """Bytes: ``Linear`` weights at ``weight_bits`` (plus a fp32 scale per row below 32),
    biases, activation parameters and LMA running statistics at fp32."""
    weight_bits = check_int(weight_bits, "weight_bits", low=1, high=32)
    total = 0
    for m in student.modules():
        if isinstance(m, nn.Linear):
            total += math.ceil(m.weight.numel() * weight_bits / 8) + 4 * m.bias.numel()
            total += 4 * m.out_features if weight_bits < 32 else 0
        elif isinstance(m, (LMA, APL, nn.PReLU)):
            total += 4 * sum(p.numel() for p in m.parameters())
            total += 8 if isinstance(m, LMA) else 0
    return total


def activation_overhead(student: nn.Module) -> float:
    """Fraction of the student's fp32 bytes held by activation parameters and statistics."""
    extra = sum(
        4 * sum(p.numel() for p in m.parameters()) + (8 if isinstance(m, LMA) else 0)
        for m in student.modules()
        if isinstance(m, (LMA, APL, nn.PReLU))
    )
    return extra / student_bytes(student)


def student_sweep(
    split: dict,
    teacher_logits,
    widths,
    activations,
    seeds,
    *,
    n_cuts: int = 4,
    epochs: int = 30,
    lr: float = 3e-3,
    alpha: float = 0.5,
    temperature: float = 4.0,
) -> list[dict]:
    """Distill one student per (activation, width, seed); each also evaluated after int8.

    ``activations`` holds keys of ``ACTIVATIONS`` or ``"lma<K>"`` (LMA with ``K`` cuts;
    plain ``"lma"`` uses ``n_cuts``). Every student gets the same epochs, learning rate,
    distillation loss and seeded batch order. Each record: ``activation, width, seed,
    accuracy, accuracy_int8`` (test), ``bytes, bytes_int8`` (:func:`student_bytes`) and
    ``overhead`` (:func:`activation_overhead`).
    """
    X, y = split["train"]
    n_in, n_classes = int(np.asarray(X).shape[1]), int(np.asarray(teacher_logits).shape[1])
    records = []
    for name in activations:
        base, k = (
            ("lma", int(name[3:]) if len(name) > 3 else n_cuts)
            if name.startswith("lma")
            else (name, n_cuts)
        )
        for w in widths:
            for seed in seeds:
                torch.manual_seed(int(seed))
                s = make_student(n_in, int(w), n_classes, base, n_cuts=k)
                distill(s, (X, y), teacher_logits, alpha=alpha, temperature=temperature,
                        epochs=epochs, lr=lr, random_state=int(seed))  # fmt: skip
                rec = {"activation": name, "width": int(w), "seed": int(seed),
                       "accuracy": _accuracy(s, split["test"]), "bytes": student_bytes(s),
                       "overhead": activation_overhead(s)}  # fmt: skip
                rec["accuracy_int8"] = _accuracy(fake_int8(s), split["test"])
                rec["bytes_int8"] = student_bytes(s, 8)
                records.append(rec)
    return records
