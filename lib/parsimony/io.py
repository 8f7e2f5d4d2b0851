"""Deterministic persistence of a notebook's results.

``save_metrics`` writes ``metrics.json`` with rounded floats, sorted keys, the claims the
notebook checked (:class:`parsimony.claims.Claim`), their counts per kind, the versions of
the numerical libraries used and the determinism settings the stage ran with. ``save_figure`` writes
PNG and SVG without timestamps or software metadata, and ``save_curve`` writes a CSV, so
that re-running a stage reproduces its files byte for byte.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from parsimony import determinism
from parsimony.claims import Claim, summary

SIGNIFICANT_DIGITS = 6
_VERSIONED = ("numpy", "scipy", "scikit-learn", "torch")


def _round(value, digits: int):
    """Round floats to ``digits`` significant digits, recursively; numpy types to Python."""
    if isinstance(value, Claim):
        return _round(value.to_dict(), digits)
    if isinstance(value, Mapping):
        return {str(k): _round(v, digits) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _round(value.tolist(), digits)
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Sequence):
        return [_round(v, digits) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return float(f"{value:.{digits}g}")
    if value is None:
        return None
    raise TypeError(f"metrics value of type {type(value).__name__} cannot be saved as JSON")


def library_versions() -> dict[str, str]:
    """Versions of the numerical libraries, read from package metadata (no import)."""
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def save_metrics(
    out_dir,
    metrics: Mapping,
    *,
    paper: str,
    figure: str,
    claims: Sequence[Claim] = (),
    digits: int = SIGNIFICANT_DIGITS,
) -> Path:
    """Write ``out_dir/metrics.json``.

    Parameters
    ----------
    out_dir : path-like
        The notebook's output folder (``parsimony.paths.output_dir``).
    metrics : mapping
        Numbers to record (nested mappings and lists allowed).
    paper, figure : str
        What the notebook reproduces; the report stage shows them.
    claims : sequence of parsimony.claims.Claim
        The claims checked, with whether each holds.
    digits : int
        Significant digits kept for floats, so that tiny floating-point noise between
        runs does not change the file.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, json
    >>> from parsimony.claims import Claim
    >>> d = tempfile.mkdtemp()
    >>> p = save_metrics(d, {"x": 1 / 3}, paper="P", figure="F",
    ...                  claims=[Claim("x < 1", True, "0.33")])
    >>> json.loads(p.read_text())["metrics"]["x"]
    0.333333
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a mapping, got {type(metrics).__name__}")
    if not isinstance(paper, str) or not isinstance(figure, str):
        raise TypeError("paper and figure must be strings")
    if isinstance(claims, Claim) or not isinstance(claims, Sequence):
        raise TypeError(f"claims must be a sequence of Claim, got {type(claims).__name__}")
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"claims must be Claim objects, got {type(c).__name__}")
    payload = {
        "paper": paper,
        "figure": figure,
        "claims": [_round(c, digits) for c in claims],
        "claims_summary": summary(list(claims)),
        "determinism": determinism.settings(),
        "metrics": _round(dict(metrics), digits),
        "versions": library_versions(),
    }
    path = Path(out_dir) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def _check_name(name) -> str:
    """A file stem that stays inside its folder: letters, digits, ``._-``, no leading dot."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise ValueError(
            f"name must be a file stem of letters, digits, '_', '.' and '-' (no path), got {name!r}"
        )
    return name


def save_figure(fig, out_dir, name: str, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save a matplotlib figure to ``out_dir/plots/<name>.<fmt>`` with no metadata.

    PNGs carry no ``Software`` tag and SVGs no date and use a fixed hash salt, so a re-run
    writes identical bytes.
    """
    import matplotlib

    name = _check_name(name)
    plots = Path(out_dir) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "parsimony", "svg.fonttype": "path"}):
        for fmt in formats:
            meta = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}.get(fmt)
            path = plots / f"{name}.{fmt}"
            fig.savefig(path, format=fmt, metadata=meta, dpi=100, bbox_inches="tight")
            paths.append(path)
    return paths


def save_curve(out_dir, name: str, columns: Mapping[str, Sequence]) -> Path:
    """Write equal-length columns to ``out_dir/plots/<name>.csv`` (floats to 6 digits).

    A pandas DataFrame works too (it is a mapping of columns).
    """
    name = _check_name(name)
    cols = {str(k): list(np.asarray(v).tolist()) for k, v in dict(columns).items()}
    lengths = {len(v) for v in cols.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns must have equal lengths, got {sorted(lengths)}")
    plots = Path(out_dir) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    path = plots / f"{name}.csv"

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.{SIGNIFICANT_DIGITS}g}"
        return str(v)

    lines = [",".join(cols)]
    lines += [
        ",".join(fmt(c[i]) for c in cols.values()) for i in range(lengths.pop() if cols else 0)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def save_timings(out_dir, timings: Mapping) -> Path:
    """Write wall-clock measurements to ``out_dir/timings.json``.

    Timings differ from run to run, so they never go into ``metrics.json`` (which must be
    byte-identical across ``dvc repro --force``); DVC does not track this file as a metric.
    """
    path = Path(out_dir) / "timings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_round(dict(timings), 3), indent=2, sort_keys=True) + "\n")
    return path
