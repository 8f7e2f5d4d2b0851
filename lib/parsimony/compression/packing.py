"""A whole model to bytes and back: the size every compression method reports.

:func:`pack` serializes a model, compressed layers and float leftovers alike, into one
:func:`~parsimony.compression.container.pack_arrays` container; :func:`unpack` rebuilds it.
The reported size of a compressed model is ``len(pack(model))``, header included.

* A module whose class is registered with :func:`register_compressed` (a
  :class:`~parsimony.compression.layers.CompressedLayer`, or any ``nn.Module`` with the same
  ``tag`` / ``pack_state`` / ``unpack_state`` / ``dense_numel`` protocol) packs itself and
  owns every parameter and buffer under its name.
* Every other floating-point parameter or buffer (uncompressed layers, biases outside
  compressed layers, normalisation layers) is stored at ``float_dtype`` (float32 or
  float16), kind ``"float"``; integer buffers (BatchNorm's ``num_batches_tracked``) at their
  own dtype, kind ``"other"``.
* The container's meta records the architecture (``parsimony.nn.model_spec``: arch name and
  constructor arguments), the float dtype and, for each compressed module, its path, tag
  and own meta. ``unpack(blob)`` rebuilds a registered architecture from the bytes alone;
  any other model is rebuilt into a skeleton given as ``unpack(blob, model=skeleton)``.
* A built-in compressed type is found by its tag in :data:`BUILTIN_LAYERS` (tag -> module,
  imported on demand), so unpacking never depends on what the caller imported.
* Layers that share state across modules (one SMH pool owned by the first layer) are
  re-linked after unpacking: a registered class may define a static ``link_model_(model)``,
  called once with the rebuilt model.

:func:`size_report` says where the bytes go (per kind and per array) and the compression
ratio against the same model in float32 (``4 * n_params``) and float16 (``2 * n_params``),
where ``n_params`` counts the values of the *uncompressed* model (each compressed layer
reports its :meth:`dense_numel`).

Untrusted blobs: :func:`unpack` raises :class:`~parsimony.compression.container.CorruptModelError`
for every malformed file. After the container checks (SHA-256, header), it validates the
meta (format ``parsimony.model/2``, types of every field), builds the recorded
architecture on PyTorch's ``meta`` device first and refuses it when it holds more than
``MAX_VALUES_PER_BYTE * len(blob)`` values, requires each compressed layer's ``spec`` to
equal :func:`~parsimony.compression.layers.layer_spec` of the module it replaces, and
bounds each built-in type's header values (bit widths, centroid counts and codes, symbol
counts and alphabets, pool sizes, SMH offsets, bias presence) before its ``unpack_state``
runs. Last, the rebuilt model must pack to the same content (meta and named arrays, byte
for byte; the order of the float leftovers follows the state dict and may differ): a blob
decodes to exactly the model it describes or is refused.
"""

from __future__ import annotations

import copy
import importlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice
from parsimony.compression.container import (
    CorruptModelError,
    pack_arrays,
    same_content,
    unpack_arrays,
    unpack_bits,
)
from parsimony.compression.layers import layer_spec, set_module
from parsimony.nn import build_model, model_spec

FORMAT = "parsimony.model/2"
#: a blob may describe at most this many model values per byte of file (1/512 bit a value)
MAX_VALUES_PER_BYTE = 4096
_MAX_ALPHABET = 2**20  # entropy-coded symbols: largest alphabet hi - lo + 1
_MAX_SYMBOL = 2**24  # and largest magnitude (exact in float32)
FLOAT_DTYPES = ("float32", "float16")

#: tag -> compressed module class, filled by :func:`register_compressed` (a built-in
#: type registers itself when its module is imported; see :data:`BUILTIN_LAYERS`)
COMPRESSED_LAYERS: dict[str, type] = {}

#: tag -> module that defines (and registers) each built-in compressed type. :func:`unpack`
#: imports the module on demand, so a blob loads in a process that imported only
#: ``parsimony.compression``. User types registered with :func:`register_compressed` need
#: their module imported before unpacking.
BUILTIN_LAYERS: dict[str, str] = {
    "scalar": "parsimony.compression.scalar",
    "pq": "parsimony.compression.pq",
    "smh": "parsimony.compression.hashing",
    "hashednets": "parsimony.compression.hashing",
    "epr": "parsimony.compression.entropy",
    "uniform_coded": "parsimony.compression.entropy",
    "lowrank": "parsimony.compression.lowrank",
    "wa_scalar": "parsimony.compression.datafree",
    # pruning (issue 20)
    "sparse": "parsimony.compression.pruning.formats",
    "ham": "parsimony.compression.pruning.formats",
    "sham": "parsimony.compression.pruning.formats",
}


def register_compressed(tag: str):
    """Class decorator: register a compressed module type under ``tag`` for pack/unpack.

    The class must provide ``pack_state(self) -> (arrays, kinds, meta)``, the classmethod
    ``unpack_state(arrays, meta) -> module`` and ``dense_numel(self) -> int``; see
    :class:`~parsimony.compression.layers.CompressedLayer`.
    """
    if not isinstance(tag, str) or not tag:
        raise TypeError(f"tag must be a non-empty str, got {tag!r}")

    def deco(cls):
        for attr in ("pack_state", "unpack_state", "dense_numel"):
            if not callable(getattr(cls, attr, None)):
                raise TypeError(f"{cls.__name__} must define {attr}() to be registered")
        if tag in COMPRESSED_LAYERS and COMPRESSED_LAYERS[tag] is not cls:
            old = COMPRESSED_LAYERS[tag]
            if (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise ValueError(f"tag {tag!r} is already registered by {old.__qualname__}")
        cls.tag = tag
        COMPRESSED_LAYERS[tag] = cls
        return cls

    return deco


def compressed_layer_class(tag: str) -> type:
    """The class registered under ``tag``, importing its built-in module first if needed.

    Raises
    ------
    ValueError
        If ``tag`` is neither registered nor a built-in type.

    Examples
    --------
    >>> compressed_layer_class("pq").__name__
    'PQLayer'
    """
    if not isinstance(tag, str):
        raise TypeError(f"tag must be a str, got {type(tag).__name__}")
    if tag not in COMPRESSED_LAYERS and tag in BUILTIN_LAYERS:
        importlib.import_module(BUILTIN_LAYERS[tag])
    cls = COMPRESSED_LAYERS.get(tag)
    if cls is None:
        raise ValueError(
            f"blob uses compressed layer type {tag!r}, which is neither built in nor "
            f"registered (known: {sorted(set(COMPRESSED_LAYERS) | set(BUILTIN_LAYERS))}); "
            "import the module that registers it"
        )
    return cls


def is_compressed(module: nn.Module) -> bool:
    """Whether ``module`` is an instance of a registered compressed type."""
    tag = getattr(type(module), "tag", None)
    return tag in COMPRESSED_LAYERS and isinstance(module, COMPRESSED_LAYERS[tag])


def _owned(name: str, owners: list[str]) -> bool:
    return any(name == o or name.startswith(o + ".") for o in owners)


def _check_plain(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, mod in model.named_modules():
        if getattr(mod, "parametrizations", None):
            raise ValueError(
                f"module {name!r} carries parametrizations (e.g. Quant-Noise): remove them "
                "first (parsimony.compression.remove_quant_noise) so that pack stores the "
                "model that is deployed"
            )


def _collect(model: nn.Module, float_dtype: str):
    """arrays, kinds, meta, and the per-array owner and n_params."""
    _check_plain(model)
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    owner: dict[str, str] = {}
    records, owners = [], []
    n_params = 0
    for name, mod in model.named_modules():
        if not name or _owned(name, owners) or not is_compressed(mod):
            continue
        a, k, m = mod.pack_state()
        for key, arr in a.items():
            arrays[f"{name}.{key}"] = np.asarray(arr)
            kinds[f"{name}.{key}"] = k.get(key, "other")
            owner[f"{name}.{key}"] = name
        records.append({"path": name, "tag": mod.tag, "meta": m})
        owners.append(name)
        n_params += int(mod.dense_numel())
    for key, t in model.state_dict().items():
        if _owned(key, owners):
            continue
        arr = t.detach().cpu().numpy()
        if t.is_floating_point():
            arrays[key], kinds[key] = arr.astype(float_dtype), "float"
            n_params += t.numel()
        else:
            arrays[key], kinds[key] = arr, "other"
        owner[key] = key.rpartition(".")[0]
    meta = {
        "format": FORMAT,
        "arch": model_spec(model),
        "float_dtype": float_dtype,
        "modules": records,
    }
    return arrays, kinds, meta, owner, n_params


def pack(model: nn.Module, *, float_dtype: str = "float32") -> bytes:
    """Serialize ``model`` (compressed layers and float leftovers) to bytes.

    Parameters
    ----------
    model : torch.nn.Module
        Without parametrizations (remove Quant-Noise first).
    float_dtype : {"float32", "float16"}
        Storage of the parameters and buffers that no compressed layer owns. With float16
        the unpacked model equals the packed one only if those values are representable in
        float16: call :func:`round_floats_` first.

    Returns
    -------
    bytes
        Its length is the model's size on disk.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> model = build_model("mlp", in_features=8, n_classes=2, hidden=[4])
    >>> blob = pack(model)
    >>> len(blob) > 4 * (8 * 4 + 4 + 4 * 2 + 2)
    True
    >>> x = torch.randn(3, 8)
    >>> bool(torch.equal(unpack(blob)(x), model.eval()(x)))
    True
    """
    check_choice(float_dtype, "float_dtype", FLOAT_DTYPES)
    arrays, kinds, meta, _, _ = _collect(model, float_dtype)
    return pack_arrays(arrays, kinds, meta)


def _fail(msg: str):
    raise CorruptModelError(f"packed model: {msg}")


def _int(v, what: str, low: int, high: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        _fail(f"{what} must be an int in [{low}, {high}], got {v!r}")
    return v


def _shape(arrays, name, shape, what):
    if name not in arrays:
        _fail(f"{what} has no array {name!r}")
    if tuple(arrays[name].shape) != tuple(shape):
        _fail(f"{what}: array {name!r} has shape {arrays[name].shape}, expected {tuple(shape)}")


def _packed_len(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


def _check_meta(meta) -> None:
    if meta.get("format") != FORMAT:
        fmt = meta.get("format")
        if isinstance(fmt, str) and fmt.startswith("parsimony.model/"):
            _fail(f"format {fmt!r}, this library reads {FORMAT!r}: re-pack the model")
        _fail(f"not a packed model (format {fmt!r})")
    if set(meta) != {"format", "arch", "float_dtype", "modules"}:
        _fail(f"meta has keys {sorted(meta)}")
    arch = meta["arch"]
    if arch is not None and not (
        isinstance(arch, dict) and set(arch) == {"arch", "config"}
        and isinstance(arch["arch"], str) and isinstance(arch["config"], dict)
    ):  # fmt: skip
        _fail("meta 'arch' must be null or {'arch': str, 'config': object}")
    if meta["float_dtype"] not in FLOAT_DTYPES:
        _fail(f"float_dtype {meta['float_dtype']!r} is not one of {FLOAT_DTYPES}")
    if not isinstance(meta["modules"], list):
        _fail("meta 'modules' must be a list")
    paths = []
    for rec in meta["modules"]:
        if not (isinstance(rec, dict) and set(rec) == {"path", "tag", "meta"}
                and isinstance(rec["path"], str) and rec["path"]
                and isinstance(rec["tag"], str) and isinstance(rec["meta"], dict)):  # fmt: skip
            _fail(f"module record {rec!r:.80} is malformed")
        if _owned(rec["path"], paths) or any(_owned(p, [rec["path"]]) for p in paths):
            _fail(f"module path {rec['path']!r} overlaps another compressed module")
        paths.append(rec["path"])


def _skeleton(meta, n_bytes: int) -> nn.Module:
    arch = meta["arch"]
    if arch is None:
        raise ValueError(
            "blob records no registered architecture: pass model= (an instance of the "
            "uncompressed architecture) to unpack into"
        )
    limit = MAX_VALUES_PER_BYTE * n_bytes
    try:
        with torch.device("meta"):  # count the values without allocating them
            probe = build_model(arch["arch"], arch["config"], random_state=0)
    except Exception as exc:  # noqa: BLE001 - any failure is a malformed header
        _fail(f"architecture {arch['arch']!r} cannot be built from its config: {exc}")
    n = sum(t.numel() for t in probe.state_dict().values())
    if n > limit:
        _fail(f"architecture has {n} values, more than a {n_bytes}-byte file can describe")
    return build_model(arch["arch"], arch["config"], random_state=0)


def _check_scalar(arrays, m, numel, n_out, what):
    bits = _int(m.get("bits"), f"{what} bits", 2, 8)
    if m.get("scheme") not in ("symmetric", "asymmetric"):
        _fail(f"{what}: scheme {m.get('scheme')!r}")
    if m.get("granularity") not in ("channel", "tensor"):
        _fail(f"{what}: granularity {m.get('granularity')!r}")
    n_scale = n_out if m["granularity"] == "channel" else 1
    _shape(arrays, "codes", (_packed_len(numel, bits),), what)
    _shape(arrays, "scale", (n_scale,), what)
    if m["scheme"] == "asymmetric":
        _shape(arrays, "zero_point", (_packed_len(n_scale, bits),), what)
    a_bits = m.get("a_bits")
    if a_bits is not None:
        _int(a_bits, f"{what} a_bits", 2, 8)
        _shape(arrays, "act_scale", (1,), what)
        _shape(arrays, "act_zero", (1,), what)


def _check_pq(arrays, m, numel, what):
    bs = _int(m.get("block_size"), f"{what} block_size", 1, numel)
    if numel % bs:
        _fail(f"{what}: block_size {bs} does not divide {numel}")
    n_blocks = numel // bs
    k = _int(m.get("n_centroids"), f"{what} n_centroids", 1, max(1, n_blocks))
    bits = max(1, (k - 1).bit_length())
    _shape(arrays, "assignments", (_packed_len(n_blocks, bits),), what)
    _shape(arrays, "centroids", (k, bs), what)
    if arrays["assignments"].dtype != np.uint8:
        _fail(f"{what}: assignments must be uint8")
    if n_blocks and int(unpack_bits(arrays["assignments"], bits, n_blocks).max()) >= k:
        _fail(f"{what}: an assignment addresses a centroid beyond n_centroids={k}")


def _check_coded(arrays, m, wshape, what, tag):
    groups = m.get("groups")
    sizes = {"weight": math.prod(wshape), "bias": wshape[0]}
    if not isinstance(groups, dict) or not groups or not set(groups) <= set(sizes):
        _fail(f"{what}: groups {groups!r:.80}")
    if "coded" not in arrays or arrays["coded"].ndim != 1:
        _fail(f"{what}: no 1-D 'coded' array")
    n_words = alphabet = 0
    for k, g in groups.items():
        if not isinstance(g, list) or len(g) != 4:
            _fail(f"{what}: group {k!r} must be [lo, hi, n, n_words]")
        lo = _int(g[0], f"{what} {k} lo", -_MAX_SYMBOL, _MAX_SYMBOL)
        _int(g[1], f"{what} {k} hi", lo, min(_MAX_SYMBOL, lo + _MAX_ALPHABET - 1))
        _int(g[2], f"{what} {k} symbol count", sizes[k], sizes[k])
        n_words += _int(g[3], f"{what} {k} word count", 0, arrays["coded"].size)
        alphabet += g[1] - g[0] + 1
    if n_words != arrays["coded"].size:
        _fail(f"{what}: groups list {n_words} coded words, the array holds {arrays['coded'].size}")
    if tag == "uniform_coded":
        _shape(arrays, "counts", (alphabet,), what)
        _shape(arrays, "step", (1,), what)
        if "weight" not in groups or int(arrays["counts"].astype(np.int64).min(initial=1)) < 0:
            _fail(f"{what}: counts table is malformed")
    elif "density" not in arrays or arrays["density"].ndim != 3 or (
        arrays["density"].shape[:2] != (len(groups), 3)
    ):  # fmt: skip
        _fail(f"{what}: density must have shape (groups, 3, components)")


def _check_smh(arrays, m, what):
    if not isinstance(m.get("owner"), bool):
        _fail(f"{what}: owner must be a bool")
    _int(m.get("offset"), f"{what} offset", 0, 2**62)
    if m["owner"]:
        mm = _int(m.get("m"), f"{what} m", 1, 2**31)
        r = _int(m.get("r"), f"{what} r", 1, 2**31)
        if m.get("pool") == "matmul":
            _shape(arrays, "pool.U", (mm, r), what)
            _shape(arrays, "pool.V", (r, mm), what)
        else:
            d = math.isqrt(mm)
            if d * d != mm:
                _fail(f"{what}: m={mm} is not a square")
            _shape(arrays, "pool.A", (r, d, d), what)
            _shape(arrays, "pool.B", (r, d, d), what)


def _check_smh_chain(meta, model) -> None:
    """SMH layers slice one pool in module order: offsets 0, n_0, n_0 + n_1, ...; one owner."""
    offset, pool = 0, None
    for i, rec in enumerate(r for r in meta["modules"] if r["tag"] == "smh"):
        m = rec["meta"]
        if m.get("offset") != offset or m.get("owner") is not (i == 0):
            _fail(f"SMH layer {rec['path']!r}: offset/owner break the order rule")
        if i == 0:
            pool = m.get("m") ** 2 if isinstance(m.get("m"), int) else 0
        try:
            offset += model.get_submodule(rec["path"]).weight.numel()
        except AttributeError:
            _fail(f"model has no weight layer {rec['path']!r} to replace")
    if pool is not None and offset > pool:
        _fail(f"SMH layers need {offset} pool values, the pool holds {pool}")


# pruning (issue 20)
def _check_pruned(arrays, m, numel, n_in, what, tag):
    """Bound the sparse / HAM / sHAM headers: formats, index and codebook sizes."""
    for name, arr in arrays.items():
        if name != "bias" and arr.ndim != 1:
            _fail(f"{what}: array {name!r} must be 1-D")
    if tag == "sparse":
        if m.get("fmt") not in ("csr", "csc", "bitmask"):
            _fail(f"{what}: fmt {m.get('fmt')!r}")
        if m["fmt"] == "bitmask":
            _shape(arrays, "mask", (_packed_len(numel, 1),), what)
        else:
            n_major = numel // n_in if m["fmt"] == "csr" else n_in
            _shape(arrays, "ptr", (n_major + 1,), what)
        nnz = arrays["values"].size if "values" in arrays else -1
        _int(nnz, f"{what} non-zero count", 0, numel)
        if m["fmt"] != "bitmask":
            _shape(arrays, "indices", (nnz,), what)
            _check_ptr(arrays["ptr"], nnz, what)
        return
    _int(
        m.get("n_bits"), f"{what} n_bits", 0, 32 * arrays["coded"].size if "coded" in arrays else 0
    )
    k = arrays["codebook"].size if "codebook" in arrays else 0
    _int(k, f"{what} codebook size", 0, min(numel, 2**16))
    _shape(arrays, "counts", (k,), what)
    if tag == "sham":
        _shape(arrays, "ptr", (n_in + 1,), what)
        nnz = _int(arrays["rows"].size if "rows" in arrays else -1, f"{what} nnz", 0, numel)
        _check_ptr(arrays["ptr"], nnz, what)


def _check_ptr(ptr, nnz, what):
    ptr = ptr.astype(np.int64)
    if ptr[0] != 0 or ptr[-1] != nnz or np.any(np.diff(ptr) < 0):
        _fail(f"{what}: pointers must rise from 0 to the non-zero count {nnz}")


def _check_layer(tag: str, arrays, m, module, path) -> None:
    """Bound every header value a built-in type's ``unpack_state`` allocates from."""
    what = f"layer {path!r} ({tag})"
    try:
        spec = layer_spec(module, path)
    except (TypeError, ValueError):
        _fail(f"{what}: the module it replaces is not a weight layer")
    if m.get("spec") != spec:
        _fail(f"{what}: spec {m.get('spec')!r:.120} does not match the architecture")
    wshape = tuple(module.weight.shape)
    numel = math.prod(wshape)
    if "bias" in arrays:
        _shape(arrays, "bias", (wshape[0],), what)
    groups = m.get("groups") if tag in ("epr", "uniform_coded") else None
    has_bias = "bias" in groups if isinstance(groups, dict) else "bias" in arrays
    if (tag != "lowrank" or spec["type"] == "linear") and has_bias != (
        getattr(module, "bias", None) is not None
    ):
        _fail(f"{what}: {'a' if has_bias else 'no'} bias, unlike the layer it replaces")
    if tag in ("scalar", "wa_scalar"):
        _check_scalar(arrays, m, numel, wshape[0], what)
    elif tag == "pq":
        _check_pq(arrays, m, numel, what)
    elif tag in ("epr", "uniform_coded"):
        _check_coded(arrays, m, wshape, what, tag)
    elif tag == "smh":
        _check_smh(arrays, m, what)
    elif tag == "hashednets":
        _shape(arrays, "seeds", (2,), what)
        if "buckets" not in arrays or arrays["buckets"].ndim != 1 or not arrays["buckets"].size:
            _fail(f"{what}: buckets must be a non-empty 1-D array")
    elif tag == "lowrank":
        if "left" not in arrays or "right" not in arrays or arrays["left"].ndim != 2:
            _fail(f"{what}: factors 'left' and 'right' are missing")
        rank = arrays["left"].shape[1]
        _shape(arrays, "left", (wshape[0], rank), what)
        _shape(arrays, "right", (rank, math.prod(wshape[1:])), what)
    # pruning (issue 20)
    elif tag in ("sparse", "ham", "sham"):
        _check_pruned(arrays, m, numel, numel // wshape[0], what, tag)


def unpack(blob: bytes, model: nn.Module | None = None) -> nn.Module:
    """Rebuild the model that :func:`pack` serialized (on the CPU, in eval mode).

    Parameters
    ----------
    blob : bytes
    model : torch.nn.Module, optional
        A skeleton of the uncompressed architecture (copied, not modified). Needed only
        when the blob does not record a registered ``parsimony.nn`` architecture.

    Raises
    ------
    CorruptModelError
        The blob is damaged, truncated, of an older format (re-pack the model) or
        malformed; the message says what is wrong. See the module docstring.
    """
    arrays, meta = unpack_arrays(blob)
    _check_meta(meta)
    if model is None:
        model = _skeleton(meta, len(blob))
    else:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        model = copy.deepcopy(model).cpu()
    try:
        model = _rebuild(model, arrays, meta)
        same = same_content(pack(model, float_dtype=meta["float_dtype"]), blob)
    except CorruptModelError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever a malformed blob provokes,
        # including a decoder's Rust panic (pyo3's PanicException is a BaseException)
        _fail(f"cannot be rebuilt ({type(exc).__name__}: {exc})")
    if not same:
        _fail("the rebuilt model packs to other content: the blob is not one pack() wrote")
    return model


def _rebuild(model, arrays, meta):
    _check_smh_chain(meta, model)
    owners = []
    for rec in meta["modules"]:
        try:
            cls = compressed_layer_class(rec["tag"])
        except ValueError as exc:
            _fail(str(exc))
        prefix = rec["path"] + "."
        sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            module = model.get_submodule(rec["path"])
        except AttributeError:
            _fail(f"model has no module {rec['path']!r} to replace")
        if rec["tag"] in BUILTIN_LAYERS:
            _check_layer(rec["tag"], sub, rec["meta"], module, rec["path"])
        set_module(model, rec["path"], cls.unpack_state(sub, rec["meta"]))
        owners.append(rec["path"])
    state = model.state_dict()
    expected = {k for k in state if not _owned(k, owners)}
    given = {k for k in arrays if not _owned(k, owners)}
    if expected != given:
        _fail(
            f"blob and model disagree: missing {sorted(expected - given)}, "
            f"unexpected {sorted(given - expected)}"
        )
    for k in expected:
        if arrays[k].size != state[k].numel():
            _fail(f"array {k!r} has {arrays[k].size} values, the model {state[k].numel()}")
        state[k] = torch.from_numpy(np.array(arrays[k])).to(state[k].dtype).reshape(state[k].shape)
    model.load_state_dict(state)
    # a method whose layers share state (one SMH pool) re-links them once the model is whole
    classes = {type(m) for m in model.modules() if is_compressed(m)}
    for cls in sorted(classes, key=lambda c: c.tag):
        if callable(getattr(cls, "link_model_", None)):
            cls.link_model_(model)
    return model.eval()


def round_floats_(model: nn.Module, float_dtype: str = "float16") -> nn.Module:
    """Round, in place, the float values :func:`pack` stores at ``float_dtype``.

    Compressed layers are left alone (they store their own values). After this,
    ``unpack(pack(model, float_dtype=float_dtype))`` reproduces ``model`` exactly.
    """
    check_choice(float_dtype, "float_dtype", FLOAT_DTYPES)
    dt = getattr(torch, float_dtype)
    owners = [n for n, m in model.named_modules() if n and is_compressed(m)]
    with torch.no_grad():
        for key, t in model.state_dict(keep_vars=True).items():
            if not _owned(key, owners) and t.is_floating_point():
                t.copy_(t.to(dt).to(t.dtype))
    return model


@dataclass
class SizeReport:
    """Where the bytes of a packed model go.

    Attributes
    ----------
    total_bytes : int
        ``len(pack(model))``.
    header_bytes : int
        Magic, version and JSON header (architecture, shapes, per-layer meta).
    n_params : int
        Values of the uncompressed model (weights, biases, normalisation statistics).
    by_kind : dict
        Bytes per array kind (``indices``, ``codebook``, ``scale``, ``float`` ...), plus
        ``header``; they sum to ``total_bytes``.
    rows : list of dict
        One per stored array: ``module``, ``array``, ``kind``, ``dtype``, ``shape``, ``bytes``.
    """

    total_bytes: int
    header_bytes: int
    n_params: int
    by_kind: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)

    @property
    def float32_bytes(self) -> int:
        return 4 * self.n_params

    @property
    def float16_bytes(self) -> int:
        return 2 * self.n_params

    @property
    def ratio_fp32(self) -> float:
        """Compression ratio against the float32 model (``4 * n_params`` bytes)."""
        return self.float32_bytes / self.total_bytes

    @property
    def ratio_fp16(self) -> float:
        return self.float16_bytes / self.total_bytes

    def by_module(self) -> dict[str, dict[str, int]]:
        """Bytes per module and kind."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            d = out.setdefault(r["module"], {})
            d[r["kind"]] = d.get(r["kind"], 0) + r["bytes"]
        return out

    def to_frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            self.rows, columns=["module", "array", "kind", "dtype", "shape", "bytes"]
        )

    def summary(self) -> dict:
        """Flat numbers for metrics files."""
        return {
            "bytes": self.total_bytes,
            "ratio_fp32": self.ratio_fp32,
            "ratio_fp16": self.ratio_fp16,
            **{f"bytes_{k}": v for k, v in sorted(self.by_kind.items())},
        }

    def __str__(self) -> str:
        lines = [f"{'module':<28}{'kind':<10}{'bytes':>10}"]
        for mod, kinds in self.by_module().items():
            for k, b in kinds.items():
                lines.append(f"{mod or '(root)':<28}{k:<10}{b:>10}")
        lines.append(f"{'header':<38}{self.header_bytes:>10}")
        lines.append(
            f"total {self.total_bytes} B; float32 {self.float32_bytes} B "
            f"(x{self.ratio_fp32:.2f}); float16 {self.float16_bytes} B (x{self.ratio_fp16:.2f})"
        )
        return "\n".join(lines)


def size_report(model: nn.Module, *, float_dtype: str = "float32") -> SizeReport:
    """Pack ``model`` and say where the bytes go; see :class:`SizeReport`.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> r = size_report(build_model("mlp", in_features=8, n_classes=2, hidden=[4]))
    >>> r.n_params, r.by_kind["float"], sum(r.by_kind.values()) == r.total_bytes
    (46, 184, True)
    """
    check_choice(float_dtype, "float_dtype", FLOAT_DTYPES)
    arrays, kinds, meta, owner, n_params = _collect(model, float_dtype)
    total = len(pack_arrays(arrays, kinds, meta))
    rows, by_kind = [], {}
    for name, arr in arrays.items():
        b = int(np.asarray(arr).nbytes)
        mod = owner[name]
        rows.append(
            {
                "module": mod,
                "array": name[len(mod) + 1 :] if mod else name,
                "kind": kinds[name],
                "dtype": str(arr.dtype),
                "shape": tuple(arr.shape),
                "bytes": b,
            }
        )
        by_kind[kinds[name]] = by_kind.get(kinds[name], 0) + b
    header = total - sum(by_kind.values())
    by_kind["header"] = header
    return SizeReport(total, header, n_params, by_kind, rows)


def model_bytes(model: nn.Module, *, float_dtype: str = "float32") -> int:
    """``len(pack(model))``."""
    return len(pack(model, float_dtype=float_dtype))
