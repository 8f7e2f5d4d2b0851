"""What every file under ``data/`` must hold: SHA-256, shape and dtype.

``python -m parsimony.data build`` writes these bytes on every machine (the builders are
deterministic and ``data.dvc`` records the folder's hash); the loaders check each file
against this table before returning it, so a flipped bit, a truncated download or a swapped
file stops the run with a message naming the file and the way to rebuild it, instead of
flowing silently into a stage. ``python -m parsimony.data verify`` checks every file.
A test rebuilds ``data/`` into a temporary folder and compares it with this table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

#: path under data/ -> (sha256 of the file, array shape, array dtype)
EXPECTED: dict[str, tuple[str, tuple[int, ...], str]] = {
    "digits/X.npy": (
        "06622382efae4888481a982e2eb3ac77ac3e5b64ef0da69168b7943041fbebe0",
        (1797, 64),
        "uint8",
    ),
    "digits/y.npy": (
        "0e1c5e26d7ec59f910975e2cd61b6b76bc67b4bfaa8a4233726a6038d8e62a2c",
        (1797,),
        "int64",
    ),
    "images/astronaut.npy": (
        "fee8fd8a73ca7e82b4d71fdd9b32e7ab28d64f033ad3ec84dff897d6ba14ddc5",
        (512, 512, 3),
        "uint8",
    ),
    "images/camera.npy": (
        "65600eb1a3c1bc0f92b6cc3f79713882d71f7a3657ecdd076c2213d93b4e368a",
        (512, 512),
        "uint8",
    ),
    "images/coffee.npy": (
        "8b2aebb8b9dcc9d21dc0528cfaf405dc77cdd6546d5dea86a51e6db3b53f88e1",
        (400, 600, 3),
        "uint8",
    ),
    "images/coins.npy": (
        "57ad2bc6b136659a1c84d7d35e6b20e14db4ecd6ee6584d077466cfac877831d",
        (303, 384),
        "uint8",
    ),
    "images/moon.npy": (
        "b66c46bfe4ce23c9c4fc8aa012751d6f53e63c099e30ea345f98692f934ef0f7",
        (512, 512),
        "uint8",
    ),
    "images/shepp_logan_phantom.npy": (
        "6d1ee8527a750d9d240fcb7c164002be5720fb077f7b7b383f14df9753c6ad30",
        (400, 400),
        "float64",
    ),
    "images/text.npy": (
        "6d72a1beb930aed8dcf04e417aba215f619fcc99ec2909522eda67d08bba53c5",
        (172, 448),
        "uint8",
    ),
    "mnist1d/x_test.npy": (
        "d67069fc4db4b87677475f89583e9191285825f1eee33060f2fa2dc99fe5a53a",
        (1000, 40),
        "float32",
    ),
    "mnist1d/x_train.npy": (
        "88324c8902778fbd2316ae1f8acbf36d87897390c1c2ad68212f4290790fa2b5",
        (4000, 40),
        "float32",
    ),
    "mnist1d/y_test.npy": (
        "4134144e011c5abc45fc2a1f8fcad9556a4addd3bab819f191c3245d7018c243",
        (1000,),
        "int64",
    ),
    "mnist1d/y_train.npy": (
        "c718026182802e01693cbbad83b2af62a4e717da302e71815ac77fdbed4c5dde",
        (4000,),
        "int64",
    ),
    "text/torch_licenses.npy": (
        "13653e518075f20f200b4d89d2814e58be71e8c3483b121dbe6071c7daf9f2f4",
        (190913,),
        "uint8",
    ),
}

REBUILD = "rebuild it with `python -m parsimony.data build` (or `make data`)"

# (path, size, mtime_ns) of files already verified in this process: hash each file once
_verified: set[tuple[str, int, int]] = set()


class CorruptDataError(ValueError):
    """A file under ``data/`` does not hold what :data:`EXPECTED` says it must."""


def verify_file(path: Path, key: str) -> None:
    """Check ``path`` (the file ``key`` of :data:`EXPECTED`) by SHA-256; raise if it differs.

    Parameters
    ----------
    path : Path
        The file on disk.
    key : str
        Its name under ``data/`` (``"digits/X.npy"``); a key missing from :data:`EXPECTED`
        is a ValueError.
    """
    if key not in EXPECTED:
        raise ValueError(f"key must be one of {sorted(EXPECTED)}, got {key!r}")
    path = Path(path)
    stat = path.stat()
    token = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if token in _verified:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EXPECTED[key][0]:
        raise CorruptDataError(
            f"{path} is corrupt or not the file the pipeline expects (sha256 {digest[:12]}..., "
            f"expected {EXPECTED[key][0][:12]}...): {REBUILD}"
        )
    _verified.add(token)


def check_array(array: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Check a loaded array's shape and dtype against :data:`EXPECTED` and return it."""
    _, shape, dtype = EXPECTED[key]
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise CorruptDataError(
            f"{path} holds an array of shape {array.shape} and dtype {array.dtype}, expected "
            f"{shape} {dtype}: {REBUILD}"
        )
    return array


def verify(data_dir: Path) -> list[str]:
    """Check every file of :data:`EXPECTED` under ``data_dir``; return the problems found."""
    problems = []
    for key in sorted(EXPECTED):
        path = Path(data_dir) / key
        if not path.exists():
            problems.append(f"{path} is missing")
            continue
        try:
            verify_file(path, key)
        except CorruptDataError as err:
            problems.append(str(err))
    return problems
