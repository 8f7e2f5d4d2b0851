import hashlib
import json
import struct

import numpy as np
import pytest
from parsimony.compression import (
    CorruptModelError,
    pack_arrays,
    pack_bits,
    size_breakdown,
    unpack_arrays,
    unpack_bits,
)
from parsimony.compression.container import MAGIC, VERSION


def test_round_trip_and_determinism():
    rng = np.random.default_rng(0)
    arrays = {
        "idx": rng.integers(0, 256, (64, 8)).astype(np.uint8),
        "codebook": rng.standard_normal((256, 8)).astype(np.float32),
        "bias": rng.standard_normal(5).astype(np.float16),
    }
    kinds = {"idx": "indices", "codebook": "codebook", "bias": "float"}
    blob = pack_arrays(arrays, kinds, {"layer": "fc", "bits": 8})
    assert blob == pack_arrays(arrays, kinds, {"bits": 8, "layer": "fc"})
    out, meta = unpack_arrays(blob)
    assert meta == {"layer": "fc", "bits": 8}
    for k, v in arrays.items():
        assert out[k].dtype == v.dtype and np.array_equal(out[k], v)
    b = size_breakdown(blob)
    assert b["indices"] == 512 and b["codebook"] == 256 * 8 * 4 and b["float"] == 10
    assert sum(b.values()) == len(blob)


@pytest.mark.parametrize("n_bits", [1, 3, 4, 7, 8, 12])
def test_bits_round_trip(n_bits):
    v = np.random.default_rng(n_bits).integers(0, 2**n_bits, 1001)
    p = pack_bits(v, n_bits)
    assert p.nbytes == -(-1001 * n_bits // 8)
    assert np.array_equal(unpack_bits(p, n_bits, 1001), v)


def test_bad_input():
    with pytest.raises(ValueError, match="values must lie"):
        pack_bits([16], 4)
    with pytest.raises(ValueError, match="n_bits"):
        pack_bits([1], 0)
    with pytest.raises(ValueError, match="magic"):
        unpack_arrays(b"nope-not-a-container")
    with pytest.raises(TypeError, match="dtype"):
        pack_arrays({"x": np.array(["a"])})
    blob = pack_arrays({"x": np.zeros(4, np.float32)})
    with pytest.raises(ValueError, match="truncated"):
        unpack_arrays(blob[:-1])
    with pytest.raises(ValueError, match="kinds"):
        pack_arrays({"x": np.zeros(1)}, {"y": "indices"})


# --- integrity: checksum, version, one exception type ------------------------------------


def _blob():
    return pack_arrays(
        {"a": np.arange(6, dtype=np.uint8), "f": np.ones(3, np.float32)},
        {"a": "indices", "f": "float"},
        {"k": 1},
    )


def _resign(header: dict, payload: bytes) -> bytes:
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(h + payload).digest()
    return MAGIC + struct.pack("<BI", VERSION, len(h)) + digest + h + payload


def _split(blob):
    (hlen,) = struct.unpack("<I", blob[5:9])
    return json.loads(blob[41 : 41 + hlen]), blob[41 + hlen :]


def test_format_is_version_2_with_sha256_over_header_and_payload():
    blob = _blob()
    assert blob[:4] == MAGIC and blob[4] == VERSION == 2
    assert blob[9:41] == hashlib.sha256(blob[41:]).digest()
    assert issubclass(CorruptModelError, ValueError)


@pytest.mark.parametrize("where", [0, 4, 5, 9, 40, 41, 60, -1])
def test_any_bit_flip_or_truncation_is_refused_before_decoding(where):
    blob = bytearray(_blob())
    blob[where] ^= 0x10
    with pytest.raises(CorruptModelError):
        unpack_arrays(bytes(blob))
    with pytest.raises(CorruptModelError):
        size_breakdown(bytes(blob))
    for n in (0, 3, 8, 40, len(blob) - 1):
        with pytest.raises(CorruptModelError):
            unpack_arrays(_blob()[:n])


def test_old_version_is_refused_with_a_repack_message():
    old = b"PRSM" + struct.pack("<BI", 1, 2) + b"{}"
    with pytest.raises(CorruptModelError, match="re-pack"):
        unpack_arrays(old)


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h["arrays"][0].update(dtype="object"),
        lambda h: h["arrays"][0].update(dtype="complex128"),
        lambda h: h["arrays"][0].update(shape=[10000, 10000], nbytes=10**8),
        lambda h: h["arrays"][0].update(shape=[2, 2]),  # nbytes no longer matches
        lambda h: h["arrays"][0].update(shape=[-6], nbytes=-6),
        lambda h: h["arrays"][0].update(shape=[6.0]),
        lambda h: h["arrays"][0].update(shape=[1] * 9, nbytes=1),
        lambda h: h["arrays"][0].update(nbytes=True),
        lambda h: h["arrays"][0].update(name=None),
        lambda h: h["arrays"][1].update(name="a"),
        lambda h: h["arrays"][0].pop("kind"),
        lambda h: h["arrays"].append(dict(h["arrays"][0], name="b")),
        lambda h: h.update(meta=[]),
        lambda h: h.update(extra=1),
    ],
)
def test_crafted_headers_are_refused_with_a_message(edit):
    header, payload = _split(_blob())
    edit(header)
    with pytest.raises(CorruptModelError, match="."):
        unpack_arrays(_resign(header, payload))
    with pytest.raises(CorruptModelError):
        size_breakdown(_resign(header, payload))


def test_bad_json_and_utf8_and_bool_values_are_refused():
    payload = _split(_blob())[1]
    for raw in (b"\xff\xfe", b"{not json", b"[" * 100000, b"1"):
        digest = hashlib.sha256(raw + payload).digest()
        blob = MAGIC + struct.pack("<BI", VERSION, len(raw)) + digest + raw + payload
        with pytest.raises(CorruptModelError):
            unpack_arrays(blob)
    blob = pack_arrays({"m": np.array([True, False])})
    header, payload = _split(blob)
    with pytest.raises(CorruptModelError, match="bool"):
        unpack_arrays(_resign(header, b"\x02\x00"))
    assert unpack_arrays(_resign(header, payload))[0]["m"].tolist() == [True, False]


def test_resign_helper_reproduces_pack_arrays():
    blob = _blob()
    assert _resign(*_split(blob)) == blob


# --- parsimony.data.mnist1d: the generator moved out of experiments/smh.py ---------------


def test_make_mnist1d_is_bit_identical_to_the_former_smh_generator():
    from parsimony.data.mnist1d import make_mnist1d

    d = make_mnist1d(200)
    h = hashlib.sha256()
    for a in (*d["train"], *d["test"]):
        h.update(a.tobytes())
        h.update(str((a.dtype, a.shape)).encode())
    # digest of experiments.smh.mnist1d_samples(200) before the move (commit 6cdfa90)
    assert h.hexdigest() == "dcf99e67054f5f479267472f53ec09cc78e3d10cc2256866916e1cc1aa3884cf"
    assert d["train"][0].dtype == np.float32 and d["train"][1].dtype == np.int64
    with pytest.raises((TypeError, ValueError), match="n_samples"):
        make_mnist1d(5)
