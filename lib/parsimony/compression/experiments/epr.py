r"""The EPR rate/accuracy sweep against quantize-then-code, and the statistics of its claims.

Oktay, Ballé, Singh, Shrivastava, "Scalable Model Compression by Entropy Penalized
Reparameterization", ICLR 2020 (arXiv 1906.06624).

Both arms start from the same trained float network and get the same fine-tuning budget
(:data:`FINE_TUNE`: epochs, Adam learning rate with a cosine schedule, batch size, seeds):

* **EPR** (:func:`epr_run`): :func:`parsimony.compression.entropy.epr_model`, trained with
  the rate penalty at weight :math:`\lambda`;
* **quantize-then-code** (:func:`baseline_run`): per-layer uniform steps
  :math:`\Delta_l = c\,\operatorname{std}(W_l)` (:func:`~parsimony.compression.entropy.layer_steps`),
  quantization-aware fine-tuning with straight-through rounding
  (:func:`~parsimony.compression.entropy.uniform_fake_quantize`), then the same ANS coder
  under an empirical pmf. ``epochs=0`` gives the post-training variant (no fine-tuning).

Sizes are ``len(pack(model))`` bytes and accuracies are those of the network rebuilt from
those bytes. The comparison at matched size (:func:`matched_gaps`) never interpolates: for
each EPR point (means over seeds), the baseline's accuracy is that of its *best measured
point whose packed size is at most EPR's* (:func:`best_at_most`); an EPR point smaller than
every baseline point has no comparison.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_float, check_int
from parsimony.compression.entropy import (
    coding_report,
    epr_model,
    epr_penalty,
    layer_steps,
    quantize_then_code,
    uniform_fake_quantize,
)
from parsimony.compression.packing import pack, size_report, unpack

#: the fine-tuning budget both arms get unless told otherwise
FINE_TUNE = {"epochs": 30, "lr": 3e-3, "batch_size": 128, "schedule": "cosine"}


def _fine_tune(model, train_data, *, random_state, epochs, lr, batch_size, penalty=None):
    from parsimony.nn import train

    if epochs:
        train(model, train_data, epochs=epochs, lr=lr, batch_size=batch_size,
              random_state=random_state, progress=False, penalty=penalty,
              schedule=FINE_TUNE["schedule"])  # fmt: skip
    return model


def _measure(model: nn.Module, test_data) -> dict:
    from parsimony.nn import evaluate

    blob = pack(model)
    rebuilt = unpack(blob)
    report = size_report(model)
    X = torch.as_tensor(np.asarray(test_data[0]), dtype=torch.float32)
    return {
        "bytes": len(blob),
        "ratio_fp32": report.ratio_fp32,
        "accuracy": evaluate(model, test_data)["accuracy"],
        "accuracy_unpacked": evaluate(rebuilt, test_data)["accuracy"],
        "outputs_equal": bool(torch.equal(rebuilt(X), model.eval()(X))),
        **{f"bytes_{k}": v for k, v in report.by_kind.items()},
    }


def epr_run(float_model: nn.Module, lam: float, train_data, test_data, *, random_state=0,
            epochs=FINE_TUNE["epochs"], lr=FINE_TUNE["lr"],
            batch_size=FINE_TUNE["batch_size"], n_components=3) -> dict:  # fmt: skip
    """EPR from a trained float model at rate weight ``lam``: train, pack, unpack, measure.

    The row holds the accuracy of the rounded-latent network and of the network rebuilt
    from the bytes, the packed size and its breakdown (``bytes_<kind>``), the ideal size
    under the learned densities (``estimate_bytes``), the coded streams (``streams``) and
    the ratio against float32.
    """
    lam = check_float(lam, "lam", low=0.0)
    rs = check_int(random_state, "random_state", low=0)
    model = epr_model(float_model, n_components=n_components)
    _fine_tune(model, train_data, random_state=rs, epochs=epochs, lr=lr,
               batch_size=batch_size, penalty=epr_penalty(lam, model))  # fmt: skip
    streams = coding_report(model)
    return {
        "method": "epr",
        "lam": lam,
        "seed": rs,
        **_measure(model, test_data),
        "estimate_bytes": sum(s["estimate_bytes"] for s in streams),
        "streams": streams,
    }


def baseline_run(float_model: nn.Module, relative_step: float, train_data, test_data, *,
                 random_state=0, epochs=FINE_TUNE["epochs"], lr=FINE_TUNE["lr"],
                 batch_size=FINE_TUNE["batch_size"]) -> dict:  # fmt: skip
    """Quantize-then-code with per-layer steps ``relative_step * std(W_l)``.

    With ``epochs > 0`` the rounded network is fine-tuned first (straight-through rounding,
    the same loop, learning rate, schedule and seed as :func:`epr_run`); ``method`` is then
    ``"quantize_then_code"``, else ``"quantize_then_code_ptq"``.
    """
    rs = check_int(random_state, "random_state", low=0)
    epochs = check_int(epochs, "epochs", low=0)
    steps = layer_steps(float_model, relative_step)
    model = _fine_tune(uniform_fake_quantize(float_model, steps), train_data, random_state=rs,
                       epochs=epochs, lr=lr, batch_size=batch_size)  # fmt: skip
    return {
        "method": "quantize_then_code" if epochs else "quantize_then_code_ptq",
        "relative_step": float(relative_step),
        "seed": rs,
        **_measure(quantize_then_code(model, steps), test_data),
    }


def mean_curve(rows, key: str) -> list[dict]:
    """Means over seeds of ``bytes``, ``ratio_fp32`` and ``accuracy`` per value of ``key``
    (``"lam"`` or ``"relative_step"``), sorted by that value; ``n_seeds`` per point."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(float(r[key]), []).append(r)
    return [
        {
            key: k,
            "n_seeds": len(rs),
            **{c: float(np.mean([r[c] for r in rs])) for c in ("bytes", "ratio_fp32", "accuracy")},
        }
        for k, rs in sorted(groups.items())
    ]


def best_at_most(sizes, accuracies, at: float) -> float:
    """The best accuracy among measured points whose size is at most ``at`` (NaN if none).

    No interpolation: a point between two measured sizes gets the best *measured* point at
    or below it, so the comparison never crosses a cliff in the curve.

    Examples
    --------
    >>> best_at_most([1000, 4000], [0.5, 0.9], 3999)
    0.5
    >>> best_at_most([1000, 4000], [0.5, 0.9], 999)
    nan
    """
    s = np.asarray(sizes, np.float64)
    a = np.asarray(accuracies, np.float64)
    if s.shape != a.shape or s.ndim != 1:
        raise ValueError("sizes and accuracies must be 1-d of the same length")
    ok = s <= float(at)
    return float(a[ok].max()) if ok.any() else float("nan")


def matched_gaps(epr_curve, baseline_curve) -> dict:
    """For each EPR point: EPR accuracy minus :func:`best_at_most` of the baseline at its size.

    Returns ``{lam: gap}`` for the EPR points that have a baseline point at most their size
    (the others are left out: nothing to compare at that size).
    """
    sizes = [b["bytes"] for b in baseline_curve]
    accs = [b["accuracy"] for b in baseline_curve]
    out = {}
    for e in epr_curve:
        ref = best_at_most(sizes, accs, e["bytes"])
        if np.isfinite(ref):
            out[e["lam"]] = e["accuracy"] - ref
    return out


def coding_margin(streams) -> float:
    """Worst ``coded - (1.01 * estimate + 64)`` bytes over coded streams (<= 0: matched)."""
    if not streams:
        raise ValueError("streams is empty")
    return float(max(s["coded_bytes"] - (1.01 * s["estimate_bytes"] + 64) for s in streams))


def threshold_point(curve, float_accuracy: float, min_ratio: float) -> dict | None:
    """The most accurate point of ``curve`` at least ``min_ratio`` times smaller than float32.

    Returns the point with ``drop = float_accuracy - accuracy`` added, or None if no point
    reaches the ratio.
    """
    min_ratio = check_float(min_ratio, "min_ratio", low=0.0)
    ok = [p for p in curve if p["ratio_fp32"] >= min_ratio]
    if not ok:
        return None
    best = max(ok, key=lambda p: p["accuracy"])
    return {**best, "drop": float(float_accuracy) - best["accuracy"]}


def rate_sweep(build, train_data, test_data, *, lams, relative_steps, seeds, float_fit,
               fine_tune=None, ptq=False) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """Every arm of the figure for every seed: ``(rows, float_rows)``.

    For each seed, ``build(random_state)`` gives the float network, trained with
    ``float_fit`` (:func:`parsimony.nn.train` keywords); from it, :func:`epr_run` at every
    ``lam`` and :func:`baseline_run` at every relative step, both with ``fine_tune``
    (default :data:`FINE_TUNE`: the same epochs, learning rate, batches and seed), plus
    the post-training baseline (no fine-tuning) when ``ptq``. ``float_rows`` hold the
    float network's accuracy, packed size and float32 size per seed.
    """
    from parsimony.nn import evaluate, train

    fine_tune = {k: v for k, v in (fine_tune or FINE_TUNE).items() if k != "schedule"}
    rows, floats = [], []
    for seed in seeds:
        rs = check_int(seed, "seed", low=0)
        net = build(rs)
        train(net, train_data, random_state=rs, progress=False, **float_fit)
        rep = size_report(net)
        floats.append({"seed": rs, "accuracy": evaluate(net, test_data)["accuracy"],
                       "bytes": rep.total_bytes, "float32_bytes": rep.float32_bytes})  # fmt: skip
        for lam in lams:
            rows.append(epr_run(net, lam, train_data, test_data, random_state=rs, **fine_tune))
        for c in relative_steps:
            rows.append(baseline_run(net, c, train_data, test_data, random_state=rs, **fine_tune))
            if ptq:
                rows.append(baseline_run(net, c, train_data, test_data, random_state=rs, epochs=0))
    return rows, floats


def non_increasing(values, tolerance: float = 0.0) -> bool:
    """Whether no value rises above its predecessor by more than ``tolerance``.

    Examples
    --------
    >>> non_increasing([10, 8, 8.5], 1.0), non_increasing([10, 12])
    (True, False)
    """
    tolerance = check_float(tolerance, "tolerance", low=0.0)
    return bool(np.all(np.diff(np.asarray(values, np.float64)) <= tolerance))
