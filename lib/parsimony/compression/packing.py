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
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice
from parsimony.compression.container import pack_arrays, unpack_arrays
from parsimony.compression.layers import set_module
from parsimony.nn import build_model, model_spec

FORMAT = "parsimony.model/1"
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


def unpack(blob: bytes, model: nn.Module | None = None) -> nn.Module:
    """Rebuild the model that :func:`pack` serialized (on the CPU, in eval mode).

    Parameters
    ----------
    blob : bytes
    model : torch.nn.Module, optional
        A skeleton of the uncompressed architecture (copied, not modified). Needed only
        when the blob does not record a registered ``parsimony.nn`` architecture.
    """
    arrays, meta = unpack_arrays(blob)
    if meta.get("format") != FORMAT:
        raise ValueError(f"blob is not a packed model (format {meta.get('format')!r})")
    if model is None:
        if meta.get("arch") is None:
            raise ValueError(
                "blob records no registered architecture: pass model= (an instance of the "
                "uncompressed architecture) to unpack into"
            )
        model = build_model(meta["arch"]["arch"], meta["arch"]["config"], random_state=0)
    else:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        model = copy.deepcopy(model).cpu()
    owners = []
    for rec in meta["modules"]:
        cls = compressed_layer_class(rec["tag"])
        prefix = rec["path"] + "."
        sub = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            model.get_submodule(rec["path"])
        except AttributeError as exc:
            raise ValueError(f"model has no module {rec['path']!r} to replace") from exc
        set_module(model, rec["path"], cls.unpack_state(sub, rec["meta"]))
        owners.append(rec["path"])
    state = model.state_dict()
    expected = {k for k in state if not _owned(k, owners)}
    given = {k for k in arrays if not _owned(k, owners)}
    if expected != given:
        raise ValueError(
            f"blob and model disagree: missing {sorted(expected - given)}, "
            f"unexpected {sorted(given - expected)}"
        )
    for k in expected:
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
