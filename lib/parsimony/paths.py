"""Root-anchored paths: every path is resolved from the repository root, never the cwd.

The root is the folder holding ``dvc.yaml`` above this package (the package is installed
in editable mode from ``lib/``); ``PARSIMONY_ROOT`` overrides it.

Notebooks write their outputs to :func:`output_dir`. Under the runner (``dvc repro``)
that is the stage's folder in ``results/``; interactively and under nbval it is a scratch
folder, ``results/.interactive/<name>``, so that a quick run never overwrites the
paper-scale results that DVC tracks.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTPUT_ENV = "PARSIMONY_OUTPUT_DIR"
ROOT_ENV = "PARSIMONY_ROOT"


def root() -> Path:
    """The repository root."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dvc.yaml").exists() and (parent / "pyproject.toml").exists():
            return parent
    # Installed non-editable: fall back to the current project, found from the cwd.
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "dvc.yaml").exists():
            return parent
    raise FileNotFoundError(
        f"cannot find the Parsimony repository root above {here}; set {ROOT_ENV}"
    )


def data_dir() -> Path:
    """``<root>/data``: the raw inputs built by ``python -m parsimony.data build``."""
    return root() / "data"


def results_dir() -> Path:
    """``<root>/results``."""
    return root() / "results"


def notebooks_dir() -> Path:
    """``<root>/notebooks``."""
    return root() / "notebooks"


def output_dir(name: str) -> Path:
    """Where a notebook named ``name`` writes metrics and figures (created if missing)."""
    env = os.environ.get(OUTPUT_ENV)
    path = Path(env) if env else results_dir() / ".interactive" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
