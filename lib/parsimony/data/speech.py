"""Reverberant speech mixtures: espeak-ng voices in pyroomacoustics shoebox rooms.

Offline material for the separation family (Duong, Vincent & Gribonval, IEEE TASLP 2010):
speech synthesised by Debian's ``espeak-ng`` (22.05 kHz, resampled to 16 kHz with
``scipy.signal.resample_poly(x, 320, 441)``), and the image of each source at each
microphone, simulated alone by the image method (``pyroomacoustics.ShoeBox``), so the
images sum to the mixture exactly. The rooms are cheap to simulate (under 5 s at
RT60 = 0.5 s), so nothing is cached under ``data/``.

Geometry (the card's reduced scale): a 4.45 x 3.55 x 2.5 m room, the microphones on a
line through the room centre at 1.5 m height, ``mic_spacing`` apart, the sources at
``distance`` from the centre at the given azimuths (0 degrees is broadside).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
from scipy.signal import fftconvolve, resample_poly

FS = 16000
ROOM_DIM = (4.45, 3.55, 2.5)
VOICES = ("en+m3", "en+f3", "en+m7", "en+f4")
SENTENCES = (
    "The birch canoe slid on the smooth planks and the boat drifted down the river.",
    "Glue the sheet to the dark blue background before the paint is completely dry.",
    "It is easy to tell the depth of a well when you drop a heavy stone into it.",
    "These days a chicken leg is a rare dish, served only on the longest holidays.",
)


def synthesize(text: str, voice: str = "en+m3", speed: int = 150, fs: int = FS) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return the float64 waveform at ``fs`` (16 kHz).

    Raises RuntimeError when the ``espeak-ng`` executable is missing.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    if fs != FS:
        raise ValueError(f"fs must be {FS} (espeak-ng's 22050 Hz is resampled by 320/441)")
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    wav = subprocess.run(
        [exe, "-v", voice, "-s", str(int(speed)), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    # espeak-ng streams a 44-byte WAV header with placeholder sizes, then 16-bit mono PCM
    if len(wav) < 44 or wav[:4] != b"RIFF":
        raise RuntimeError("espeak-ng did not write a WAV stream")
    rate = int.from_bytes(wav[24:28], "little")
    x = np.frombuffer(wav[44 : 44 + (len(wav) - 44) // 2 * 2], dtype="<i2")
    if rate != 22050:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected 22050")
    return resample_poly(x.astype(np.float64) / 32768.0, 320, 441)


def speech_sources(n_sources: int = 3, duration: float = 3.0, offset: int = 0) -> np.ndarray:
    """``n_sources`` different voices reading different sentences, (n_sources, n_samples).

    Each is cut (or zero-padded) to ``duration`` seconds after its leading silence and
    scaled to unit RMS. ``offset`` rotates the voice / sentence assignment (a new set).
    """
    if not 1 <= n_sources <= len(VOICES):
        raise ValueError(f"n_sources must be in [1, {len(VOICES)}], got {n_sources}")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    n = int(round(duration * FS))
    out = np.zeros((n_sources, n))
    for j in range(n_sources):
        k = (j + offset) % len(VOICES)
        x = synthesize(SENTENCES[(j + 2 * offset) % len(SENTENCES)], VOICES[k])
        start = int(np.argmax(np.abs(x) > 1e-3 * np.abs(x).max()))
        x = x[start : start + n]
        out[j, : len(x)] = x / np.sqrt(np.mean(x**2))
    return out


def geometry(
    n_sources: int, mic_spacing: float, azimuths=None, distance: float = 1.0, n_mics: int = 2
):
    """Microphone (3, n_mics) and source (n_sources, 3) positions in the card's room."""
    centre = np.array([ROOM_DIM[0] / 2, ROOM_DIM[1] / 2, 1.5])
    if azimuths is None:
        azimuths = np.linspace(-45.0, 45.0, n_sources)
    az = np.deg2rad(np.asarray(azimuths, dtype=float))
    if az.shape != (n_sources,):
        raise ValueError(f"azimuths must have {n_sources} entries")
    offs = (np.arange(n_mics) - (n_mics - 1) / 2) * mic_spacing
    mics = centre[:, None] + np.outer([1.0, 0.0, 0.0], offs)
    src = centre + distance * np.c_[np.sin(az), np.cos(az), np.zeros_like(az)]
    return mics, src


def room_images(
    sources: np.ndarray,
    rt60: float,
    mic_spacing: float = 0.05,
    azimuths=None,
    distance: float = 1.0,
    n_mics: int = 2,
    max_order_cap: int = 100,
) -> tuple[np.ndarray, float]:
    """Image of each source at each microphone, (n_sources, n_mics, n_samples).

    Each source is convolved alone with its room impulse responses (so the images sum to
    the mixture). ``rt60 <= 0`` gives the anechoic room (``max_order=0``). Returns the
    images (cut to the sources' length) and the RT60 measured on the simulated responses
    (mean over source-microphone pairs; nan when anechoic).
    """
    import pyroomacoustics as pra

    sources = np.asarray(sources, dtype=float)
    if sources.ndim != 2:
        raise ValueError(f"sources must be (n_sources, n_samples), got shape {sources.shape}")
    n_src, n = sources.shape
    mics, src = geometry(n_src, mic_spacing, azimuths, distance, n_mics)
    if rt60 > 0:
        absorption, order = pra.inverse_sabine(rt60, list(ROOM_DIM))
        room = pra.ShoeBox(
            list(ROOM_DIM),
            fs=FS,
            materials=pra.Material(absorption),
            max_order=min(order, max_order_cap),
        )
    else:
        room = pra.ShoeBox(list(ROOM_DIM), fs=FS, max_order=0)
    for p in src:
        room.add_source(p)
    room.add_microphone_array(mics)
    room.compute_rir()
    images = np.zeros((n_src, n_mics, n))
    for j in range(n_src):
        for i in range(n_mics):
            images[j, i] = fftconvolve(sources[j], room.rir[i][j])[:n]
    measured = float(np.mean(room.measure_rt60())) if rt60 > 0 else float("nan")
    return images, measured
