"""Loaders for the files ``python -m parsimony.data build`` writes into ``data/``.

Each file is checked against :data:`parsimony.data.manifest.EXPECTED` (SHA-256, then shape
and dtype) before it is returned: a damaged or swapped file raises
:class:`~parsimony.data.manifest.CorruptDataError` naming it and how to rebuild it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parsimony import paths
from parsimony.data.build import IMAGES
from parsimony.data.manifest import check_array, verify_file

IMAGE_NAMES = IMAGES


def _load(folder: str, name: str, data_dir: Path | None) -> np.ndarray:
    path = (Path(data_dir) if data_dir else paths.data_dir()) / folder / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: build the data first with `python -m parsimony.data build` "
            "(or `make data`)"
        )
    verify_file(path, f"{folder}/{name}")
    return check_array(np.load(path, allow_pickle=False), f"{folder}/{name}", path)


def load_digits(data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: ``X`` (1797, 64) float64 in [0, 16], ``y`` (1797,)."""
    return _load("digits", "X.npy", data_dir).astype(np.float64), _load("digits", "y.npy", data_dir)


def load_mnist1d(data_dir: Path | None = None):
    """mnist1d from ``make_dataset`` (seed 42): ``(x_train, y_train, x_test, y_test)``."""
    return tuple(
        _load("mnist1d", f, data_dir)
        for f in ("x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy")
    )


def load_image(name: str, data_dir: Path | None = None) -> np.ndarray:
    """A bundled scikit-image image (``camera``, ``coins``, ...) as stored by skimage."""
    if name not in IMAGE_NAMES:
        raise ValueError(f"name must be one of {list(IMAGE_NAMES)}, got {name!r}")
    return _load("images", f"{name}.npy", data_dir)


def load_text(data_dir: Path | None = None) -> bytes:
    """The offline text corpus (torch's bundled license texts, ASCII) as bytes."""
    return _load("text", "torch_licenses.npy", data_dir).tobytes()
