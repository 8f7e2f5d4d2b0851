"""espeak-ng speech and pyroomacoustics images (parsimony.data.speech)."""

import shutil

import numpy as np
import pytest
from parsimony.data.speech import FS, ROOM_DIM, geometry, room_images, speech_sources, synthesize

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


def test_synthesize_is_deterministic_16k():
    a = synthesize("hello world", "en+f3")
    b = synthesize("hello world", "en+f3")
    np.testing.assert_array_equal(a, b)
    assert 0.3 * FS < a.size < 3 * FS and np.abs(a).max() <= 1.0


def test_images_sum_to_the_pyroomacoustics_mixture():
    pra = pytest.importorskip("pyroomacoustics")
    s = speech_sources(3, 0.5)
    assert s.shape == (3, FS // 2)
    np.testing.assert_allclose(np.sqrt(np.mean(s**2, axis=1)), 1.0)
    images, rt = room_images(s, 0.15)
    assert images.shape == (3, 2, FS // 2) and 0.1 < rt < 0.3
    # independent reference: every source at once, pyroomacoustics' own simulate()
    absorption, order = pra.inverse_sabine(0.15, list(ROOM_DIM))
    room = pra.ShoeBox(list(ROOM_DIM), fs=FS, materials=pra.Material(absorption), max_order=order)
    mics, src = geometry(3, 0.05)
    for p, sig in zip(src, s, strict=True):
        room.add_source(p, signal=sig)
    room.add_microphone_array(mics)
    room.simulate()
    np.testing.assert_allclose(images.sum(0), room.mic_array.signals[:, : s.shape[1]], atol=1e-8)


def test_anechoic_room_and_bad_input():
    s = speech_sources(2, 0.25)
    images, rt = room_images(s, 0.0, mic_spacing=1.0, n_mics=3)
    assert images.shape == (2, 3, s.shape[1]) and np.isnan(rt)
    with pytest.raises(ValueError, match="n_sources"):
        speech_sources(0)
    with pytest.raises(ValueError, match="sources"):
        room_images(s[0], 0.2)
    with pytest.raises(ValueError, match="text"):
        synthesize("")
