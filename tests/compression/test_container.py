import numpy as np
import pytest
from parsimony.compression import pack_arrays, pack_bits, size_breakdown, unpack_arrays, unpack_bits


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
