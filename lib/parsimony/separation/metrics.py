"""Separation metrics on source images (Vincent, Gribonval & Fevotte 2006).

Duong, Vincent & Gribonval (IEEE TASLP 2010) score the estimated source images against
the true images. ``image_sdr`` is the plain image-to-error ratio
:math:`10\\log_{10} \\|c\\|^2 / \\|c - \\hat c\\|^2` (no distortion filter);
``bss_eval`` wraps ``fast_bss_eval.bss_eval_sources`` (SDR, SIR, SAR with a 512-tap
distortion filter, best permutation) on the first microphone's images.
"""

from __future__ import annotations

import numpy as np


def image_sdr(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Per-source :math:`10\\log_{10}\\|c_j\\|^2/\\|c_j-\\hat c_j\\|^2` over all but axis 0."""
    reference, estimate = np.asarray(reference), np.asarray(estimate)
    if reference.shape != estimate.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {estimate.shape}")
    axes = tuple(range(1, reference.ndim))
    num = np.sum(np.abs(reference) ** 2, axis=axes)
    den = np.sum(np.abs(reference - estimate) ** 2, axis=axes)
    return 10 * np.log10(num / np.maximum(den, 1e-300))


def bss_eval(reference: np.ndarray, estimate: np.ndarray, filter_length: int = 512) -> dict:
    """SDR, SIR, SAR (dB, per source, best permutation) and the permutation.

    ``reference`` and ``estimate`` are (J, n_samples) (e.g. the images at microphone 1).
    """
    import fast_bss_eval

    sdr, sir, sar, perm = fast_bss_eval.bss_eval_sources(
        np.asarray(reference, dtype=np.float64),
        np.asarray(estimate, dtype=np.float64),
        filter_length=filter_length,
        compute_permutation=True,
    )
    return {"sdr": sdr, "sir": sir, "sar": sar, "permutation": perm}
