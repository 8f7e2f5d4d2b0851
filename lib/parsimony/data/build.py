"""Build ``data/`` deterministically from offline sources.

Arrays are written with ``np.save`` (a fixed header plus raw bytes; ``np.savez`` would
embed zip timestamps). A file is rewritten only when its bytes change.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from parsimony import paths

MNIST1D_SEED = 42
MNIST1D_SAMPLES = 5000
IMAGES = ("camera", "coins", "moon", "text", "astronaut", "coffee", "shepp_logan_phantom")


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return {"X.npy": d.data.astype(np.uint8), "y.npy": d.target.astype(np.int64)}


def _mnist1d() -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = MNIST1D_SEED
    args.num_samples = MNIST1D_SAMPLES
    d = make_dataset(args)  # procedural: no download
    return {
        "x_train.npy": d["x"].astype(np.float32),
        "y_train.npy": d["y"].astype(np.int64),
        "x_test.npy": d["x_test"].astype(np.float32),
        "y_test.npy": d["y_test"].astype(np.int64),
    }


def _images() -> dict[str, np.ndarray]:
    import skimage.data

    return {f"{name}.npy": np.asarray(getattr(skimage.data, name)()) for name in IMAGES}


#: folder under data/ -> function returning {file name: array}
BUILDERS: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    "digits": _digits,
    "mnist1d": _mnist1d,
    "images": _images,
}


def build(out: Path | None = None, only: list[str] | None = None, verbose: bool = True) -> Path:
    """Write every dataset (or those in ``only``) under ``out`` (default ``data/``)."""
    out = Path(out) if out else paths.data_dir()
    names = list(BUILDERS) if only is None else only
    unknown = sorted(set(names) - set(BUILDERS))
    if unknown:
        raise ValueError(f"only must name datasets among {sorted(BUILDERS)}, got {unknown}")
    for name in names:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for fname, array in BUILDERS[name]().items():
            blob = _npy_bytes(array)
            path = folder / fname
            if path.exists() and path.read_bytes() == blob:
                continue
            path.write_bytes(blob)
            if verbose:
                print(f"wrote {path.relative_to(out.parent)} {array.shape} {array.dtype}")
    return out
