"""Root-anchored paths: every path is resolved from the repository root, never the cwd.

The root is the folder holding ``dvc.yaml`` at or above the working directory (the
clone you work in, whichever clone the package was installed from); ``PARSIMONY_ROOT``
overrides it.

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
    """The repository root: ``PARSIMONY_ROOT``, else the folder holding ``dvc.yaml`` (and
    ``pyproject.toml``) at or above the working directory.

    Never the folder the package was installed from: with one editable install shared by
    two clones, a stage run in the second clone must read and write the second clone.
    Outside any clone (a script elsewhere), the clone the package lives in is the fallback.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for parent in [cwd, *cwd.parents]:
        if (parent / "dvc.yaml").exists() and (parent / "pyproject.toml").exists():
            return parent
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dvc.yaml").exists() and (parent / "pyproject.toml").exists():
            return parent
    raise FileNotFoundError(
        f"cannot find the Parsimony repository root above {cwd} or {here}; set {ROOT_ENV}"
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
