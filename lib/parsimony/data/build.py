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


def _text() -> dict[str, np.ndarray]:
    """The license texts bundled in the pinned torch wheel: a small offline English corpus.

    Every file under ``torch-*.dist-info/licenses/`` (sorted by path below ``licenses/``),
    deduplicated by content, ``\\r`` removed and the one non-ASCII symbol (the copyright
    sign) written ``(c)``, joined by blank lines: about 190 kB of printable ASCII, the same
    bytes wherever torch==2.13.0 is installed.
    """
    from importlib import metadata

    files = [f for f in metadata.distribution("torch").files or [] if "/licenses/" in str(f)]
    files.sort(key=lambda f: str(f).split("/licenses/", 1)[1])
    seen, parts = set(), []
    for f in files:
        raw = f.read_binary() if hasattr(f, "read_binary") else Path(f.locate()).read_bytes()
        if raw not in seen:
            seen.add(raw)
            parts.append(raw)
    text = b"\n\n".join(parts).replace(b"\r", b"").replace("\u00a9".encode(), b"(c)")
    return {"torch_licenses.npy": np.frombuffer(text, dtype=np.uint8)}


def _images() -> dict[str, np.ndarray]:
    import skimage.data

    return {f"{name}.npy": np.asarray(getattr(skimage.data, name)()) for name in IMAGES}


#: folder under data/ -> function returning {file name: array}
BUILDERS: dict[str, Callable[[], dict[str, np.ndarray]]] = {
    "digits": _digits,
    "mnist1d": _mnist1d,
    "images": _images,
    "text": _text,
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
