"""Duong, Vincent & Gribonval, IEEE TASLP 2010: oracle separation against reverberation.

One trial: three espeak-ng voices in a pyroomacoustics room at a given RT60 and microphone
spacing (:mod:`parsimony.data.speech`); the oracle parameters of each spatial model
(:mod:`parsimony.separation.oracle`), the multichannel Wiener filter, the inverse STFT, and
the image SDR of each method averaged over the sources and both microphones.

Ours: the diagonal loading ``reg`` of :func:`~parsimony.separation.oracle.oracle_parameters`
decides the rank-1 Wiener filter (with no loading the mixture's component orthogonal to the
active source's steering vector is amplified; with a large one the model is no longer
rank-1), so each model is scored at every loading of one shared grid and the oracle
("potential performance") keeps the best, the same rule for both models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from parsimony.data.speech import room_images, speech_sources
from parsimony.separation.metrics import image_sdr
from parsimony.separation.model import wiener
from parsimony.separation.oracle import binary_mask, oracle_parameters
from parsimony.separation.stft import istft, stft

ORACLE_METHODS = ("full_rank", "rank1", "binary_mask")


def oracle_trial(images, regs=(1e-6,), n_fft=1024, hop=256) -> list[tuple[str, float, float]]:
    """Mean time-domain image SDR (dB) of each oracle method on images (J, I, n_samples).

    Returns ``(method, reg, sdr)`` rows, one per loading in ``regs`` for the Wiener methods
    and one (reg nan) for binary masking.
    """
    n = images.shape[-1]
    C = np.moveaxis(stft(images, n_fft, hop), 1, -1)  # (J, F, N, I)
    X = C.sum(axis=0)
    rows = []
    for method in ORACLE_METHODS:
        for reg in [float("nan")] if method == "binary_mask" else regs:
            if method == "binary_mask":
                C_hat = binary_mask(X, C)
            else:
                C_hat = wiener(X, *oracle_parameters(C, method, reg=reg))
            c_hat = istft(np.moveaxis(C_hat, -1, 1), n, n_fft, hop)
            rows.append((method, float(reg), float(np.mean(image_sdr(images, c_hat)))))
    return rows


def oracle_sweep(
    rt60s, spacings, regs=(1e-6,), n_sets=1, duration=3.0, n_sources=3, n_fft=1024, hop=256
):
    """Oracle SDR of every method for each (set, spacing, RT60, reg): a long DataFrame.

    Columns: set, spacing, rt60, rt60_measured, method, reg, sdr.
    """
    rows = []
    for k in range(n_sets):
        sources = speech_sources(n_sources, duration, offset=k)
        for d in spacings:
            for rt in rt60s:
                images, measured = room_images(sources, rt, mic_spacing=d)
                for method, reg, sdr in oracle_trial(images, regs, n_fft, hop):
                    rows.append((k, d, rt, measured, method, reg, sdr))
    cols = ["set", "spacing", "rt60", "rt60_measured", "method", "reg", "sdr"]
    return pd.DataFrame(rows, columns=cols)


def oracle_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Best-loading SDR per (rt60, method), one column per method.

    The SDR is averaged over sets and spacings for each loading, then the best loading is
    kept (the same rule for every method).
    """
    mean = df.fillna({"reg": 0.0}).groupby(["rt60", "method", "reg"]).sdr.mean()
    return mean.groupby(["rt60", "method"]).max().unstack("method")


def loading_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean SDR per (rt60, method, reg) for the Wiener methods: the sensitivity table."""
    wiener_rows = df[df.method != "binary_mask"]
    return wiener_rows.pivot_table(index=["rt60", "reg"], columns="method", values="sdr")


def gap_statistics(summary: pd.DataFrame, a: str = "full_rank", b: str = "rank1") -> dict:
    """Gap ``a - b`` per RT60 and whether it is positive everywhere / non-decreasing."""
    gap = summary[a] - summary[b]
    return {
        "gap": {f"{rt:g}": float(g) for rt, g in gap.items()},
        "positive": bool(np.all(gap.to_numpy() > 0)),
        "non_decreasing": bool(np.all(np.diff(gap.to_numpy()) >= 0)),
        "first": float(gap.iloc[0]),
        "last": float(gap.iloc[-1]),
    }
