"""The byte container every compression method serializes to: sizes are bytes on disk.

A compressed model is a set of named arrays (indices, codebooks, scales, uncompressed
layers, ...) plus a small JSON header. :func:`pack_arrays` lays them out as::

    b"PRSM" | version (u8) | header length (u32, little-endian) | JSON header | payload

with every array's raw bytes in the payload, in header order. The header records, for
each array, its name, dtype, shape, byte length and a *kind* (``"indices"``,
``"codebook"``, ``"scale"``, ``"float"``, ``"coded"`` ...), which
:func:`size_breakdown` uses to say where the bytes go. The reported size of a compressed
model is ``len(pack_arrays(...))``: header included, nothing estimated by formula.

Indices with fewer than 8 bits are stored with :func:`pack_bits` (LSB-first bit stream).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import numpy as np

from parsimony._validation import check_int

MAGIC = b"PRSM"
VERSION = 1
_ALLOWED_DTYPES = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "uint64",
    "float16", "float32", "float64", "bool",
}  # fmt: skip


def pack_arrays(
    arrays: Mapping[str, np.ndarray],
    kinds: Mapping[str, str] | None = None,
    meta: Mapping | None = None,
) -> bytes:
    """Serialize named arrays (and a JSON-able ``meta``) to bytes, deterministically.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        Stored in the mapping's order, little-endian, C order.
    kinds : mapping of str to str, optional
        A category per array name for :func:`size_breakdown` (default ``"other"``).
    meta : mapping, optional
        Anything JSON-serializable needed to rebuild the model (architecture, bit widths).

    Examples
    --------
    >>> blob = pack_arrays({"w": np.arange(4, dtype=np.int8)}, {"w": "indices"}, {"bits": 8})
    >>> arrays, meta = unpack_arrays(blob)
    >>> arrays["w"].tolist(), meta
    ([0, 1, 2, 3], {'bits': 8})
    """
    kinds = dict(kinds or {})
    entries, payload = [], []
    for name, arr in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"arrays keys must be str, got {name!r}")
        arr = np.asarray(arr)
        if arr.dtype.name not in _ALLOWED_DTYPES:
            raise TypeError(f"arrays[{name!r}] has unsupported dtype {arr.dtype}")
        raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        entries.append(
            {
                "name": name,
                "dtype": arr.dtype.name,
                "shape": list(arr.shape),
                "nbytes": len(raw),
                "kind": kinds.get(name, "other"),
            }
        )
        payload.append(raw)
    unknown = sorted(set(kinds) - set(arrays))
    if unknown:
        raise ValueError(f"kinds names arrays that are not given: {unknown}")
    header = json.dumps(
        {"arrays": entries, "meta": dict(meta or {})}, sort_keys=True, separators=(",", ":")
    ).encode()
    return MAGIC + struct.pack("<BI", VERSION, len(header)) + header + b"".join(payload)


def _read_header(blob: bytes):
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < 9 or blob[:4] != MAGIC:
        raise ValueError("blob is not a Parsimony container (bad magic)")
    version, hlen = struct.unpack("<BI", blob[4:9])
    if version != VERSION:
        raise ValueError(f"blob has container version {version}, expected {VERSION}")
    header = json.loads(blob[9 : 9 + hlen])
    return blob, header, 9 + hlen


def unpack_arrays(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Inverse of :func:`pack_arrays`: ``(arrays, meta)``."""
    blob, header, offset = _read_header(blob)
    arrays = {}
    for e in header["arrays"]:
        end = offset + e["nbytes"]
        if end > len(blob):
            raise ValueError("blob is truncated")
        dtype = np.dtype(e["dtype"]).newbyteorder("<")
        arrays[e["name"]] = np.frombuffer(blob[offset:end], dtype=dtype).reshape(e["shape"]).copy()
        offset = end
    if offset != len(blob):
        raise ValueError(f"blob has {len(blob) - offset} trailing bytes")
    return arrays, header["meta"]


def size_breakdown(blob: bytes) -> dict[str, int]:
    """Bytes per kind, plus ``"header"`` (magic, version, JSON); they sum to ``len(blob)``.

    Examples
    --------
    >>> blob = pack_arrays({"a": np.zeros(8, np.uint8), "c": np.zeros(2, np.float32)},
    ...                    {"a": "indices", "c": "codebook"})
    >>> b = size_breakdown(blob); b["indices"], b["codebook"], sum(b.values()) == len(blob)
    (8, 8, True)
    """
    blob, header, offset = _read_header(blob)
    out = {"header": offset}
    for e in header["arrays"]:
        out[e["kind"]] = out.get(e["kind"], 0) + e["nbytes"]
    return out


def pack_bits(values, n_bits: int) -> np.ndarray:
    """Pack non-negative integers ``< 2**n_bits`` into a uint8 bit stream (LSB first).

    ``ceil(len(values) * n_bits / 8)`` bytes: 4-bit indices take half a byte each.

    Examples
    --------
    >>> v = np.array([1, 15, 0, 7])
    >>> p = pack_bits(v, 4); p.nbytes
    2
    >>> unpack_bits(p, 4, 4).tolist()
    [1, 15, 0, 7]
    """
    n_bits = check_int(n_bits, "n_bits", low=1, high=32)
    v = np.asarray(values).ravel()
    if v.size and (v.min() < 0 or v.max() >= 2**n_bits):
        raise ValueError(f"values must lie in [0, {2**n_bits - 1}] for n_bits={n_bits}")
    bits = ((v.astype(np.uint64)[:, None] >> np.arange(n_bits, dtype=np.uint64)) & 1).astype(
        np.uint8
    )
    return np.packbits(bits.ravel(), bitorder="little")


def unpack_bits(packed, n_bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: ``count`` integers as int64."""
    n_bits = check_int(n_bits, "n_bits", low=1, high=32)
    count = check_int(count, "count", low=0)
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.size * 8 < count * n_bits:
        raise ValueError(f"packed holds {packed.size * 8} bits, need {count * n_bits}")
    bits = np.unpackbits(packed, bitorder="little")[: count * n_bits].reshape(count, n_bits)
    return (bits.astype(np.int64) << np.arange(n_bits, dtype=np.int64)).sum(axis=1)
