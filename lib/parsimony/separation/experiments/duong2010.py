"""Duong, Vincent & Gribonval, IEEE TASLP 2010: oracle separation against reverberation.

One trial: three espeak-ng voices in a pyroomacoustics room at a given RT60 and microphone
spacing (:mod:`parsimony.data.speech`); the oracle parameters of each spatial model
(:mod:`parsimony.separation.oracle`), the multichannel Wiener filter, the inverse STFT, and
the image SDR of each method averaged over the sources and both microphones. Blind: the
:class:`~parsimony.separation.SpatialCovarianceSeparator` (full-rank and rank-1) against
pyroomacoustics' FastMNMF given the number of sources, the same iteration budget for each,
scored by ``fast_bss_eval`` at microphone 1.

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
from parsimony.separation.metrics import bss_eval, image_sdr
from parsimony.separation.model import wiener
from parsimony.separation.oracle import binary_mask, oracle_parameters
from parsimony.separation.separator import SpatialCovarianceSeparator
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


BLIND_METHODS = ("full_rank", "rank1", "fastmnmf")


def fastmnmf_images(x, n_sources, n_iter, n_fft=1024, hop=256, random_state=0):
    """pyroomacoustics' FastMNMF (Sekiguchi et al. 2019), ``n_src`` given, (n, J) at mic 1.

    FastMNMF draws its initial NMF factors from numpy's global generator; it is seeded with
    ``random_state`` for the call and restored afterwards, so the result is reproducible.
    """
    import pyroomacoustics as pra

    S = np.moveaxis(stft(x.T, n_fft, hop), 0, -1)  # (F, N, I)
    state = np.random.get_state()  # noqa: NPY002 (the peer draws from the legacy global RNG)
    np.random.seed(random_state)  # noqa: NPY002
    try:
        Y = pra.bss.fastmnmf(np.swapaxes(S, 0, 1), n_src=n_sources, n_iter=n_iter, mic_index=0)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return istft(np.moveaxis(Y, -1, 0).swapaxes(1, 2), x.shape[0], n_fft, hop).T


def blind_trial(images, max_iter=20, n_fft=1024, hop=256, random_state=0):
    """Blind separation of images (J, I, n) by each method in BLIND_METHODS.

    Every method gets ``max_iter`` iterations; ``random_state`` seeds FastMNMF (the EM
    initialisation is deterministic). Scores with ``fast_bss_eval`` at microphone
    1 (best permutation): returns ``(method, sdr, sdr_improvement, sir, sar)`` rows, means
    over the sources; the improvement is over the mixture taken as every estimate.
    """
    n_src = images.shape[0]
    x = images.sum(axis=0).T  # (n, I)
    ref = images[:, 0]
    with np.errstate(divide="ignore"):  # identical estimates: SIR/SAR infinite, SDR fine
        base = bss_eval(ref, np.repeat(x[None, :, 0], n_src, axis=0))["sdr"]
    rows = []
    for method in BLIND_METHODS:
        if method == "fastmnmf":
            y = fastmnmf_images(x, n_src, max_iter, n_fft, hop, random_state)
        else:
            sep = SpatialCovarianceSeparator(
                n_src, model=method, max_iter=max_iter, n_fft=n_fft, hop=hop
            )
            y = sep.fit_transform(x)
        m = bss_eval(ref, y.T)
        rows.append(
            (
                method,
                *(float(np.mean(val)) for val in (m["sdr"], m["sdr"] - base, m["sir"], m["sar"])),
            )
        )
    return rows


def blind_sweep(rt60s, mic_spacing=0.05, n_sets=3, duration=2.0, max_iter=20, n_fft=1024, hop=256):
    """Blind scores for each (set, RT60): columns set, rt60, method, sdr, sdri, sir, sar."""
    rows = []
    for k in range(n_sets):
        sources = speech_sources(3, duration, offset=k)
        for rt in rt60s:
            images, _ = room_images(sources, rt, mic_spacing=mic_spacing)
            for row in blind_trial(images, max_iter, n_fft, hop, random_state=k):
                rows.append((k, rt, *row))
    return pd.DataFrame(rows, columns=["set", "rt60", "method", "sdr", "sdri", "sir", "sar"])


def blind_summary(df: pd.DataFrame, value: str = "sdri") -> pd.DataFrame:
    """Mean of ``value`` per (rt60, method) over the sets, one column per method."""
    return df.pivot_table(index="rt60", columns="method", values=value, aggfunc="mean")


def cost_curves(rt60: float, mic_spacing=0.05, duration=2.0, max_iter=20, n_fft=1024, hop=256):
    """Negative log-likelihood per EM iteration of each model on the first set's mixture."""
    images, _ = room_images(speech_sources(3, duration), rt60, mic_spacing=mic_spacing)
    x = images.sum(axis=0).T
    return {
        model: SpatialCovarianceSeparator(3, model=model, max_iter=max_iter, n_fft=n_fft, hop=hop)
        .fit(x)
        .objective_
        for model in ("full_rank", "rank1")
    }


def max_relative_increase(objective) -> float:
    """Largest step ``(L[t+1] - L[t]) / |L[t]|`` of a cost curve (<= 0 when monotone)."""
    obj = np.asarray(objective, dtype=float)
    return float(np.max(np.diff(obj) / np.abs(obj[:-1])))
