"""Image patches as signals (rows), and the inverse: patches tiled back into a mosaic.

Used by the image experiments of the dictionary family (e.g. analysis operator learning,
Yaghoobi et al. 2013, on 8x8 patches). Images come from :func:`parsimony.data.load_image`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from parsimony._validation import check_array, check_int, check_random_state


def image_to_float(image) -> np.ndarray:
    """A grey-level float64 image in [0, 1] (RGB is converted with ITU-R 601 weights).

    Integer images are divided by their dtype's maximum; float images are returned as is.

    Examples
    --------
    >>> image_to_float(np.array([[0, 255]], dtype=np.uint8)).tolist()
    [[0.0, 1.0]]
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        scale = np.iinfo(img.dtype).max if np.issubdtype(img.dtype, np.integer) else 1.0
        img = (img[..., :3].astype(np.float64) / scale) @ np.array([0.299, 0.587, 0.114])
    elif np.issubdtype(img.dtype, np.integer):
        img = img.astype(np.float64) / np.iinfo(img.dtype).max
    img = check_array(img, "image", dtype=np.float64)
    return img


def extract_patches(image, patch_size: int = 8, n_patches=None, random_state=None) -> np.ndarray:
    """Square patches of a 2-D image as rows (n_patches, patch_size**2), row-major.

    Parameters
    ----------
    image : array (height, width)
        A grey-level image (see :func:`image_to_float`).
    patch_size : int
        Side of the square patches.
    n_patches : int or None
        ``None`` returns every overlapping patch in raster order; an int draws that many
        distinct patch positions uniformly at random (without replacement).
    random_state : None, int or numpy Generator

    Returns
    -------
    patches : ndarray (n_patches, patch_size**2), float64

    Examples
    --------
    >>> img = np.arange(16.0).reshape(4, 4)
    >>> extract_patches(img, 2).shape
    (9, 4)
    >>> extract_patches(img, 2)[0].tolist()
    [0.0, 1.0, 4.0, 5.0]
    >>> extract_patches(img, 3, n_patches=2, random_state=0).shape
    (2, 9)
    """
    img = check_array(image, "image", dtype=np.float64)
    p = check_int(patch_size, "patch_size", low=1, high=min(img.shape))
    windows = sliding_window_view(img, (p, p))
    h, w = windows.shape[:2]
    if n_patches is None:
        return windows.reshape(h * w, p * p).copy()
    n_patches = check_int(n_patches, "n_patches", low=1, high=h * w)
    rng = check_random_state(random_state)
    flat = np.sort(rng.choice(h * w, size=n_patches, replace=False))
    return windows[flat // w, flat % w].reshape(n_patches, p * p)


def tile_patches(patches, patch_size: int, n_cols: int = 16, pad: int = 1, normalize: bool = True):
    """Arrange rows (each a flattened square patch) into a mosaic image for display.

    Parameters
    ----------
    patches : array (n, patch_size**2)
    patch_size : int
    n_cols : int
        Tiles per row of the mosaic.
    pad : int
        Pixels of background (NaN, shown blank by matplotlib) between tiles.
    normalize : bool
        Scale each tile to [-1, 1] by its largest absolute value.

    Returns
    -------
    mosaic : ndarray (n_rows * (patch_size + pad) - pad, n_cols * (patch_size + pad) - pad)

    Examples
    --------
    >>> tile_patches(np.ones((3, 4)), 2, n_cols=2).shape
    (5, 5)
    """
    P = check_array(patches, "patches")
    p = check_int(patch_size, "patch_size", low=1)
    if P.shape[1] != p * p:
        raise ValueError(f"patches must have patch_size**2={p * p} columns, got {P.shape[1]}")
    n_cols = check_int(n_cols, "n_cols", low=1)
    pad = check_int(pad, "pad", low=0)
    if normalize:
        P = P / np.maximum(np.abs(P).max(axis=1, keepdims=True), 1e-300)
    n = P.shape[0]
    n_rows = -(-n // n_cols)
    tiles = np.full((n_rows * n_cols, p + pad, p + pad), np.nan)
    tiles[:n, :p, :p] = P.reshape(n, p, p)
    mosaic = tiles.reshape(n_rows, n_cols, p + pad, p + pad).transpose(0, 2, 1, 3)
    mosaic = mosaic.reshape(n_rows * (p + pad), n_cols * (p + pad))
    return mosaic[: mosaic.shape[0] - pad, : mosaic.shape[1] - pad]
