"""The byte container every compression method serializes to: sizes are bytes on disk.

A compressed model is a set of named arrays (indices, codebooks, scales, uncompressed
layers, ...) plus a small JSON header. :func:`pack_arrays` lays them out as::

    b"PRSM" | version (u8) | header length (u32, little-endian) | SHA-256 (32 bytes)
    | JSON header | payload

with every array's raw bytes in the payload, in header order. The SHA-256 digest
(``hashlib.sha256``) covers the JSON header and the payload; it is checked before anything
is decoded. This is format version 2; version 1 files (no checksum) are refused: re-pack the
model. Every malformed file raises :class:`CorruptModelError` (a ``ValueError``), and the
header is validated before any array is allocated: UTF-8 JSON object with exactly the keys
``arrays`` and ``meta``; each entry with a unique ``name`` (str), ``dtype`` from the
allowlist, ``shape`` (at most 8 non-negative ints), ``nbytes`` equal to the shape's element
count times the item size, ``kind`` (str); the byte lengths sum to the payload length
exactly, and ``bool`` arrays hold only 0 and 1. The header records, for
each array, its name, dtype, shape, byte length and a *kind* (``"indices"``,
``"codebook"``, ``"scale"``, ``"float"``, ``"coded"`` ...), which
:func:`size_breakdown` uses to say where the bytes go. The reported size of a compressed
model is ``len(pack_arrays(...))``: header included, nothing estimated by formula.

Indices with fewer than 8 bits are stored with :func:`pack_bits` (LSB-first bit stream).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping

import numpy as np

from parsimony._validation import check_int

MAGIC = b"PRSM"
VERSION = 2
_PREFIX = 4 + 1 + 4 + 32  # magic, version, header length, SHA-256
_MAX_NDIM = 8
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
    body = header + b"".join(payload)
    digest = hashlib.sha256(body).digest()
    return MAGIC + struct.pack("<BI", VERSION, len(header)) + digest + body


class CorruptModelError(ValueError):
    """A blob that is not a well-formed, intact Parsimony container or packed model."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entry(i, e, names):
    if not isinstance(e, dict) or set(e) != {"name", "dtype", "shape", "nbytes", "kind"}:
        raise CorruptModelError(f"header entry {i} is not an array record")
    name, dtype, shape, nbytes, kind = (e[k] for k in ("name", "dtype", "shape", "nbytes", "kind"))
    if not isinstance(name, str) or name in names:
        raise CorruptModelError(f"header entry {i} has a missing or repeated name")
    if not isinstance(kind, str):
        raise CorruptModelError(f"array {name!r} has a non-string kind")
    if not isinstance(dtype, str) or dtype not in _ALLOWED_DTYPES:
        raise CorruptModelError(f"array {name!r} has dtype {dtype!r}, not one of the allowed")
    if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
            or not all(_is_int(d) and d >= 0 for d in shape)):  # fmt: skip
        raise CorruptModelError(f"array {name!r} has an invalid shape {shape!r}")
    if not _is_int(nbytes) or nbytes != math.prod(shape) * np.dtype(dtype).itemsize:
        raise CorruptModelError(
            f"array {name!r}: nbytes {nbytes!r} does not match shape {shape} of {dtype}"
        )


def _read_header(blob: bytes):
    """Check magic, version, checksum and header; ``(blob, header, payload offset)``."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < 5 or blob[:4] != MAGIC:
        raise CorruptModelError("blob is not a Parsimony container (bad magic)")
    if blob[4] != VERSION:
        raise CorruptModelError(
            f"blob has container version {blob[4]}, this library reads only version "
            f"{VERSION}: re-pack the model with this version of parsimony"
        )
    if len(blob) < _PREFIX:
        raise CorruptModelError(f"blob is truncated ({len(blob)} bytes)")
    (hlen,) = struct.unpack("<I", blob[5:9])
    if hlen > len(blob) - _PREFIX:
        raise CorruptModelError(f"blob is truncated: header of {hlen} bytes does not fit")
    if hashlib.sha256(blob[_PREFIX:]).digest() != blob[9:_PREFIX]:
        raise CorruptModelError("blob fails its SHA-256 checksum (damaged or truncated)")
    try:
        header = json.loads(blob[_PREFIX : _PREFIX + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CorruptModelError(f"blob header is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict) or set(header) != {"arrays", "meta"}:
        raise CorruptModelError("blob header must be an object with keys 'arrays' and 'meta'")
    if not isinstance(header["arrays"], list) or not isinstance(header["meta"], dict):
        raise CorruptModelError("blob header: 'arrays' must be a list and 'meta' an object")
    names: set[str] = set()
    for i, e in enumerate(header["arrays"]):
        _check_entry(i, e, names)
        names.add(e["name"])
    offset = _PREFIX + hlen
    total = sum(e["nbytes"] for e in header["arrays"])
    if total != len(blob) - offset:
        raise CorruptModelError(
            f"blob payload has {len(blob) - offset} bytes, the header lists {total}"
        )
    return blob, header, offset


def unpack_arrays(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Inverse of :func:`pack_arrays`: ``(arrays, meta)``.

    Raises
    ------
    CorruptModelError
        The blob is damaged, truncated, of another version or malformed (see the module
        docstring for what is checked).
    """
    blob, header, offset = _read_header(blob)
    arrays = {}
    for e in header["arrays"]:
        end = offset + e["nbytes"]
        raw = blob[offset:end]
        if e["dtype"] == "bool" and raw.translate(None, b"\x00\x01"):
            raise CorruptModelError(f"bool array {e['name']!r} holds values other than 0 and 1")
        dtype = np.dtype(e["dtype"]).newbyteorder("<")
        arrays[e["name"]] = np.frombuffer(raw, dtype=dtype).reshape(e["shape"]).copy()
        offset = end
    return arrays, header["meta"]


def same_content(blob_a: bytes, blob_b: bytes) -> bool:
    """Whether two valid containers hold the same meta and the same named arrays (dtype,
    shape, kind and bytes), whatever the order of the arrays.

    Examples
    --------
    >>> a, b = np.zeros(2, np.uint8), np.ones(1, np.float32)
    >>> same_content(pack_arrays({"a": a, "b": b}), pack_arrays({"b": b, "a": a}))
    True
    """
    out = []
    for blob in (blob_a, blob_b):
        blob, header, offset = _read_header(blob)
        records = {}
        for e in header["arrays"]:
            records[e["name"]] = (e, blob[offset : offset + e["nbytes"]])
            offset += e["nbytes"]
        out.append((header["meta"], records))
    return out[0] == out[1]


def size_breakdown(blob: bytes) -> dict[str, int]:
    """Bytes per kind, plus ``"header"`` (magic, version, checksum, JSON); they sum to ``len(blob)``.

    A blob that :func:`unpack_arrays` rejects raises the same :class:`CorruptModelError`.

    Examples
    --------
    >>> blob = pack_arrays({"a": np.zeros(8, np.uint8), "c": np.zeros(2, np.float32)},
    ...                    {"a": "indices", "c": "codebook"})
    >>> b = size_breakdown(blob); b["indices"], b["codebook"], sum(b.values()) == len(blob)
    (8, 8, True)
    """
    unpack_arrays(blob)  # validates exactly as unpacking does
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
    if values is None or isinstance(values, str | bytes):
        raise TypeError(f"values must be an array of integers, got {type(values).__name__}")
    v = np.asarray(values).ravel()
    if not (np.issubdtype(v.dtype, np.integer) or v.dtype == bool):
        if not np.issubdtype(v.dtype, np.floating) or not np.array_equal(v, np.round(v)):
            raise TypeError(f"values must be integers, got dtype {v.dtype}")
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
        raise ValueError(
            f"packed holds {packed.size * 8} bits, fewer than count * n_bits = {count * n_bits}"
        )
    bits = np.unpackbits(packed, bitorder="little")[: count * n_bits].reshape(count, n_bits)
    return (bits.astype(np.int64) << np.arange(n_bits, dtype=np.int64)).sum(axis=1)
