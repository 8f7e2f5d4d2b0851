"""Short-time Fourier transform of multichannel signals (``scipy.signal.ShortTimeFFT``).

Duong, Vincent & Gribonval (IEEE TASLP 2010) work in the STFT domain: a sine window of
1024 samples with hop 512 at 16 kHz; ours (card's reduced scale): a Hann window,
``n_fft = 1024`` and ``hop = 256``, so F = 513. Arrays follow the family's convention:
time signals (..., n_samples), spectra (..., F, N).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann


def _transform(n_fft: int, hop: int) -> ShortTimeFFT:
    if n_fft < 2 or hop < 1 or hop > n_fft:
        raise ValueError(f"need n_fft >= 2 and 1 <= hop <= n_fft, got {n_fft}, {hop}")
    return ShortTimeFFT(hann(n_fft, sym=False), hop, fs=1.0)


def stft(x: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """STFT of ``x`` (..., n_samples): (..., F, N), F = n_fft // 2 + 1."""
    x = np.asarray(x)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    return _transform(n_fft, hop).stft(x, axis=-1)


def istft(Y: np.ndarray, n_samples: int, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Inverse of :func:`stft`: (..., F, N) -> (..., n_samples)."""
    return _transform(n_fft, hop).istft(Y, k1=n_samples, f_axis=-2, t_axis=-1)
