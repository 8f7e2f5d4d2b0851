"""Experiments of the sHAM paper (paper A of the pruning card): ratio against accuracy.

Marinò, Ghidoli, Frasca, Malchiodi, "Compression Strategies and Space-Conscious
Representations for Deep Neural Networks", ICPR 2020, arXiv:2007.07967.

- :func:`sham_grid`: per-layer magnitude pruning at each sparsity ``q`` (retrained with
  the masks fixed), then CWS (``k`` centroids) or PWS (``2**b`` quantiles) weight sharing,
  each configuration stored as dense float32, CSR, HAM and sHAM
  (:mod:`~parsimony.compression.pruning.formats`); sizes are ``len(pack(model))``.
- :func:`zstd_bytes`: the generic baseline, zstandard on the float32 parameter bytes.
- Claim statistics: :func:`smaller_everywhere`, :func:`accuracy_drop`, :func:`best_ratio`,
  :func:`product_gap`.
"""

from __future__ import annotations

import numpy as np
import torch

from parsimony.compression.packing import pack, unpack
from parsimony.compression.pruning.formats import format_model
from parsimony.compression.pruning.masks import copy_model, prune_magnitude, remove_masks
from parsimony.compression.pruning.sharing import share_weights
from parsimony.nn import evaluate, train

__all__ = [
    "accuracy_drop",
    "best_ratio",
    "product_gap",
    "sham_grid",
    "smaller_everywhere",
    "zstd_bytes",
]

#: the formats of the figure (``dense`` is the float32 pack of the same model)
GRID_FORMATS = ("dense", "csr", "ham", "sham")


def zstd_bytes(model: torch.nn.Module, level: int = 19) -> int:
    """Bytes of zstandard (``level``) on the concatenated float32 parameters of ``model``."""
    import zstandard

    raw = b"".join(
        p.detach().cpu().numpy().astype(np.float32).tobytes() for p in model.parameters()
    )
    return len(zstandard.ZstdCompressor(level=level).compress(raw))


def _sharings(cws_k, pws_bits):
    return [("none", 0, 0)] + [("cws", k, k) for k in cws_k] + [("pws", b, 2**b) for b in pws_bits]


def sham_grid(model, train_data, test_data, sparsities, cws_k, pws_bits, *, retrain_epochs=5,
              lr=1e-3, batch_size=64, random_state=0) -> list[dict]:  # fmt: skip
    """Every (sparsity, sharing) configuration of ``model`` in every format.

    Returns one row per configuration and format: ``q``, ``sharing`` (``none``, ``cws``,
    ``pws``), ``param`` (k or b), ``format``, ``bytes``, ``accuracy`` (test) and
    ``roundtrip`` (the unpacked model gives bitwise the same test logits). ``model`` is
    not modified.
    """
    x_test = torch.as_tensor(test_data[0])
    rows = []
    for q in sparsities:
        pruned = copy_model(model)
        if q:
            prune_magnitude(pruned, q, scope="layer")
            train(pruned, train_data, epochs=retrain_epochs, lr=lr, batch_size=batch_size,
                  random_state=random_state, progress=False)  # fmt: skip
        remove_masks(pruned)
        for sharing, param, k in _sharings(cws_k, pws_bits):
            shared = copy_model(pruned)
            if k:
                share_weights(shared, k, sharing, random_state=random_state)
            acc = evaluate(shared, test_data)["accuracy"]
            for fmt in GRID_FORMATS:
                if fmt in ("ham", "sham") and not k:
                    continue
                stored = shared if fmt == "dense" else format_model(shared, fmt)
                blob = pack(stored)
                with torch.no_grad():
                    same = torch.equal(unpack(blob).eval()(x_test), stored.eval()(x_test))
                rows.append({"q": q, "sharing": sharing, "param": param, "format": fmt,
                             "bytes": len(blob), "accuracy": acc, "roundtrip": bool(same)})  # fmt: skip
    return rows


def smaller_everywhere(rows, smaller: str, larger: str, q_min: float = 0.0) -> tuple[bool, int]:
    """Whether format ``smaller`` has fewer bytes than ``larger`` in every shared
    configuration with ``q >= q_min``; and the number of configurations compared."""
    size = {(r["q"], r["sharing"], r["param"], r["format"]): r["bytes"] for r in rows}
    keys = {k[:3] for k in size if k[1] != "none" and k[0] >= q_min}
    pairs = [(size[k + (smaller,)], size[k + (larger,)]) for k in sorted(keys)]
    return bool(pairs) and all(a < b for a, b in pairs), len(pairs)


def accuracy_drop(rows, accuracy0: float, q: float, sharing: str, param: int) -> float:
    """``accuracy0`` minus the accuracy of one configuration (in accuracy units)."""
    acc = [r["accuracy"] for r in rows if (r["q"], r["sharing"], r["param"]) == (q, sharing, param)]
    if not acc:
        raise ValueError(f"no configuration q={q}, sharing={sharing!r}, param={param}")
    return accuracy0 - acc[0]


def best_ratio(rows, accuracy0: float, dense_bytes: int, max_drop: float = 0.01) -> dict | None:
    """The row of largest ``dense_bytes / bytes`` whose accuracy drop is at most ``max_drop``."""
    ok = [r for r in rows if accuracy0 - r["accuracy"] <= max_drop]
    if not ok:
        return None
    best = min(ok, key=lambda r: (r["bytes"], r["q"], r["param"]))
    return {**best, "ratio": dense_bytes / best["bytes"]}


def product_gap(layer, x) -> float:
    """Largest |compressed-domain product - dense product| of one format layer on ``x``."""
    with torch.no_grad():
        dense = torch.nn.functional.linear(torch.as_tensor(x), layer.dense_weight(), layer.bias)
    return float((layer.matvec(x) - dense).abs().max())
