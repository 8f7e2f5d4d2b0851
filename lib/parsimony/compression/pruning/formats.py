"""Space-conscious formats of pruned and shared-weight layers (paper A of the pruning card).

Marinò, Ghidoli, Frasca, Malchiodi, "Compression Strategies and Space-Conscious
Representations for Deep Neural Networks", ICPR 2020 (arXiv:2007.07967). A layer's
weight matrix ``W`` (shape ``(n_out, n_in)``; a convolution is flattened to
``(out_channels, in_channels * kernel)``) is stored in one of these formats; each is a
:class:`~parsimony.compression.layers.CompressedLayer` whose bytes are what
:func:`~parsimony.compression.pack` writes:

* ``SparseLayer(fmt="csr")``: the non-zero values (float32), their column indices and
  the row pointers, each index array at the smallest unsigned width that holds it
  (uint8, uint16 or uint32); ``"csc"`` is the same on ``W^T``; ``"bitmask"`` stores one
  bit per entry (non-zero or not) and the non-zero values in row-major order.
* ``HAMLayer`` (Huffman Address Map): ``W`` takes its values in a codebook
  ``c_1..c_k`` (weight sharing; zero is one of them when ``W`` is pruned); the matrix of
  codebook indices is Huffman coded (row-major), the code rebuilt from the stored symbol
  counts. Huffman coding is done by ``constriction`` (``symbol.huffman``).
* ``SHAMLayer`` (sparse HAM): the compressed sparse columns of ``W`` (row indices, column
  pointers) with the Huffman-coded codebook indices of the non-zeros in place of values.

Every layer has ``matvec(x)``: the product ``x W^T`` computed on the format's own index
structure (no dense ``W`` is formed); for HAM/sHAM the inputs hitting each (row,
centroid) pair are summed first and multiplied by the centroid once per pair,
``y_i = sum_k c_k sum_{j: s_ij = k} x_j`` (the paper's dot product).
"""

from __future__ import annotations

import numpy as np
import torch

from parsimony._validation import check_choice, check_module
from parsimony.compression.container import pack_bits, unpack_bits
from parsimony.compression.layers import CompressedLayer, layer_spec, weight_shape
from parsimony.compression.packing import register_compressed

__all__ = [
    "FORMATS",
    "HAMLayer",
    "LAYER_FORMATS",
    "SHAMLayer",
    "SparseLayer",
    "format_model",
    "huffman_decode",
    "huffman_encode",
    "index_dtype",
]

#: the sparse formats of :class:`SparseLayer`
FORMATS = ("csr", "csc", "bitmask")


def index_dtype(max_value: int) -> np.dtype:
    """The smallest unsigned integer dtype holding ``0..max_value``.

    Examples
    --------
    >>> index_dtype(255), index_dtype(256), index_dtype(70000)
    (dtype('uint8'), dtype('uint16'), dtype('uint32'))
    """
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"max_value={max_value} needs more than 32 bits")


def _as_index(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return values.astype(index_dtype(int(values.max(initial=0))))


def huffman_encode(symbols, counts) -> tuple[np.ndarray, int]:
    """Huffman code of ``symbols`` (ints in ``0..len(counts)-1``) under ``counts``.

    Symbols of zero count get no code word (the tree is built on the used symbols only).
    Returns the uint32 words and the number of bits; one used symbol codes to zero bits.
    """
    import constriction

    counts = np.asarray(counts, np.float64)
    used = np.flatnonzero(counts)
    if len(used) < 2:
        return np.zeros(0, np.uint32), 0
    rank = np.zeros(len(counts), np.int64)
    rank[used] = np.arange(len(used))
    tree = constriction.symbol.huffman.EncoderHuffmanTree(counts[used] / counts.sum())
    coder = constriction.symbol.QueueEncoder()
    for s in rank[np.asarray(symbols, np.int64)].tolist():
        coder.encode_symbol(s, tree)
    words, n_bits = coder.get_compressed()
    return np.asarray(words, np.uint32), int(n_bits)


def huffman_decode(words, counts, count: int) -> np.ndarray:
    """Inverse of :func:`huffman_encode`: ``count`` symbols (int64)."""
    import constriction

    counts = np.asarray(counts, np.float64)
    used = np.flatnonzero(counts)
    if len(used) < 2:
        return np.full(count, used[0] if len(used) else 0, np.int64)
    tree = constriction.symbol.huffman.DecoderHuffmanTree(counts[used] / counts.sum())
    decoder = constriction.symbol.QueueDecoder(np.ascontiguousarray(words, np.uint32))
    return used[np.fromiter((decoder.decode_symbol(tree) for _ in range(count)), np.int64, count)]


def _matrix(module) -> tuple[dict, np.ndarray, torch.Tensor | None]:
    spec = layer_spec(module)
    if spec["type"] == "embedding":
        raise ValueError("module must be nn.Linear or nn.Conv1d/2d, not an embedding")
    w = module.weight.detach().cpu().to(torch.float32).numpy()
    bias = getattr(module, "bias", None)
    return spec, w.reshape(w.shape[0], -1), bias


class _Format(CompressedLayer):
    """Shared parts: the flattened matrix shape, the dense rebuild, ``matvec`` checks."""

    @property
    def matrix_shape(self) -> tuple[int, int]:
        shape = weight_shape(self.spec)
        return shape[0], int(np.prod(shape[1:]))

    def _check(self, rows=None, cols=None, symbols=None) -> None:
        """Coordinates inside the matrix and symbols inside the codebook, else ValueError."""
        n_out, n_in = self.matrix_shape
        k = len(self.codebook) if hasattr(self, "codebook") else 0
        for name, v, high in (("rows", rows, n_out), ("cols", cols, n_in), ("symbols", symbols, k)):
            if v is not None and v.numel() and (int(v.min()) < 0 or int(v.max()) >= high):
                raise ValueError(
                    f"{name} must lie in [0, {high}), got [{int(v.min())}, {int(v.max())}]"
                )
        if rows is not None and cols is not None and len({len(rows), len(cols)}) != 1:
            raise ValueError("rows and cols must have the same length")

    def _x(self, x) -> np.ndarray:
        x = torch.as_tensor(x).detach().cpu().numpy().astype(np.float64)
        if x.ndim != 2 or x.shape[1] != self.matrix_shape[1]:
            raise ValueError(f"x must have shape (n, {self.matrix_shape[1]}), got {x.shape}")
        return x

    def _with_bias(self, y: np.ndarray) -> torch.Tensor:
        out = torch.from_numpy(y.astype(np.float32))
        return out + self.bias.detach() if self.bias is not None else out


@register_compressed("sparse")
class SparseLayer(_Format):
    """A pruned layer in CSR, CSC or bitmask format (float32 non-zero values).

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layers.layer_spec` of the original layer.
    rows, cols : array of int
        Coordinates of the non-zeros in the flattened matrix, row-major order.
    values : array of float
        The non-zero values.
    bias : torch.Tensor, optional
    fmt : {"csr", "csc", "bitmask"}
    """

    tag = "sparse"

    def __init__(self, spec, rows, cols, values, bias=None, fmt: str = "csr"):
        super().__init__(spec, bias)
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        self.fmt = fmt
        self.register_buffer("rows", torch.as_tensor(np.asarray(rows, np.int64)))
        self.register_buffer("cols", torch.as_tensor(np.asarray(cols, np.int64)))
        self.values = torch.nn.Parameter(torch.as_tensor(np.asarray(values, np.float32)))
        self._check(self.rows, self.cols)
        if len(self.values) != len(self.rows):
            raise ValueError("values must have one entry per non-zero")

    @classmethod
    def from_module(cls, module, fmt: str = "csr") -> SparseLayer:
        """The layer ``module`` (its zeros dropped) in format ``fmt``."""
        spec, w, bias = _matrix(module)
        rows, cols = np.nonzero(w)
        return cls(spec, rows, cols, w[rows, cols], bias, fmt)

    def dense_weight(self) -> torch.Tensor:
        w = torch.zeros(self.matrix_shape, dtype=self.values.dtype)
        w = w.index_put((self.rows, self.cols), self.values)
        return w.reshape(self.weight_shape)

    def matvec(self, x) -> torch.Tensor:
        """``x W^T + b`` from the non-zeros alone (x of shape (n, n_in))."""
        x = self._x(x)
        r, c = self.rows.numpy(), self.cols.numpy()
        v = self.values.detach().numpy().astype(np.float64)
        y = np.stack([np.bincount(r, v * xi[c], minlength=self.matrix_shape[0]) for xi in x])
        return self._with_bias(y.reshape(len(x), self.matrix_shape[0]))

    def pack_state(self):
        n_out, n_in = self.matrix_shape
        r, c = self.rows.numpy(), self.cols.numpy()
        v = self.values.detach().numpy().astype(np.float32)
        if self.fmt == "bitmask":
            bits = np.zeros(n_out * n_in, np.uint8)
            bits[r * n_in + c] = 1
            arrays = {"mask": pack_bits(bits, 1), "values": v}
            kinds = {"mask": "indices", "values": "float"}
        else:
            major, minor, n_major = (r, c, n_out) if self.fmt == "csr" else (c, r, n_in)
            order = np.lexsort((minor, major))
            ptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=n_major))])
            arrays = {"indices": _as_index(minor[order]), "ptr": _as_index(ptr), "values": v[order]}
            kinds = {"indices": "indices", "ptr": "indices", "values": "float"}
        self._pack_bias(arrays, kinds)
        return arrays, kinds, {"spec": self.spec, "fmt": self.fmt}

    @classmethod
    def unpack_state(cls, arrays, meta):
        spec, fmt = meta["spec"], meta["fmt"]
        shape = weight_shape(spec)
        n_out, n_in = shape[0], int(np.prod(shape[1:]))
        values = np.array(arrays["values"], np.float32)
        if fmt == "bitmask":
            flat = np.nonzero(unpack_bits(arrays["mask"], 1, n_out * n_in))[0]
            rows, cols = flat // n_in, flat % n_in
        else:
            ptr = np.asarray(arrays["ptr"], np.int64)
            major = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            minor = np.asarray(arrays["indices"], np.int64)
            rows, cols = (major, minor) if fmt == "csr" else (minor, major)
            order = np.lexsort((cols, rows))
            rows, cols, values = rows[order], cols[order], values[order]
        return cls(spec, rows, cols, values, cls._unpack_bias(arrays), fmt)


def _codebook_indices(w: np.ndarray, codebook) -> tuple[np.ndarray, np.ndarray]:
    if codebook is None:
        codebook, symbols = np.unique(w, return_inverse=True)
    else:
        codebook = np.asarray(codebook, np.float32)
        symbols = np.searchsorted(np.sort(codebook), w)
        codebook = np.sort(codebook)
        symbols = np.clip(symbols, 0, len(codebook) - 1)
        if not np.array_equal(codebook[symbols], w):
            raise ValueError("the weight takes values outside codebook")
    if len(codebook) > 2**16:
        raise ValueError(f"weight has {len(codebook)} distinct values; share weights first")
    return np.asarray(codebook, np.float32), symbols.reshape(w.shape)


class _Shared(_Format):
    """A codebook (float32) and per-entry symbols; the symbols are Huffman coded."""

    def __init__(self, spec, codebook, bias=None):
        super().__init__(spec, bias)
        self.codebook = torch.nn.Parameter(torch.as_tensor(np.asarray(codebook, np.float32)))

    def _code(self, symbols: np.ndarray):
        counts = np.bincount(symbols, minlength=len(self.codebook)).astype(np.uint32)
        words, n_bits = huffman_encode(symbols, counts)
        arrays = {"codebook": self.codebook.detach().numpy(), "counts": _as_index(counts)}
        arrays["coded"] = words
        kinds = {"codebook": "codebook", "counts": "table", "coded": "coded"}
        return arrays, kinds, n_bits

    @staticmethod
    def _decode(arrays, count: int) -> np.ndarray:
        return huffman_decode(arrays["coded"], arrays["counts"], count)

    def _row_sums(self, x, rows, cols, symbols) -> np.ndarray:
        """``y_i = sum_k c_k sum_{j: s_ij = k} x_j`` for every row of ``x``."""
        k, n_out = len(self.codebook), self.matrix_shape[0]
        key = getattr(self, "_key", None)
        if key is None or len(key) != len(symbols):  # (row, centroid) bucket of each entry
            key = self._key = rows * k + symbols
        c = self.codebook.detach().numpy().astype(np.float64)
        sums = [np.bincount(key, xi[cols], minlength=n_out * k) for xi in x]
        return np.stack([s.reshape(n_out, k) @ c for s in sums]).reshape(len(x), n_out)


@register_compressed("ham")
class HAMLayer(_Shared):
    """Huffman Address Map: every entry's codebook index, Huffman coded (row-major)."""

    tag = "ham"

    def __init__(self, spec, codebook, symbols, bias=None):
        super().__init__(spec, codebook, bias)
        self.register_buffer("symbols", torch.as_tensor(np.asarray(symbols, np.int64)))
        if tuple(self.symbols.shape) != self.matrix_shape:
            raise ValueError(f"symbols must have shape {self.matrix_shape}")
        self._check(symbols=self.symbols)

    @classmethod
    def from_module(cls, module, codebook=None) -> HAMLayer:
        """``module``'s weight, whose values must lie in ``codebook`` (default: its own)."""
        spec, w, bias = _matrix(module)
        codebook, symbols = _codebook_indices(w, codebook)
        return cls(spec, codebook, symbols, bias)

    def dense_weight(self) -> torch.Tensor:
        return self.codebook[self.symbols].reshape(self.weight_shape)

    def matvec(self, x) -> torch.Tensor:
        x = self._x(x)
        n_out, n_in = self.matrix_shape
        rows = np.repeat(np.arange(n_out), n_in)
        cols = np.tile(np.arange(n_in), n_out)
        y = self._row_sums(x, rows, cols, self.symbols.numpy().reshape(-1))
        return self._with_bias(y)

    def pack_state(self):
        arrays, kinds, n_bits = self._code(self.symbols.numpy().reshape(-1))
        self._pack_bias(arrays, kinds)
        return arrays, kinds, {"spec": self.spec, "n_bits": n_bits}

    @classmethod
    def unpack_state(cls, arrays, meta):
        shape = weight_shape(meta["spec"])
        n_out, n_in = shape[0], int(np.prod(shape[1:]))
        symbols = cls._decode(arrays, n_out * n_in).reshape(n_out, n_in)
        return cls(meta["spec"], arrays["codebook"], symbols, cls._unpack_bias(arrays))


@register_compressed("sham")
class SHAMLayer(_Shared):
    """Sparse HAM: compressed sparse columns whose values are Huffman-coded codebook indices.

    The codebook holds the non-zero shared values; zeros are not stored.
    """

    tag = "sham"

    def __init__(self, spec, codebook, rows, cols, symbols, bias=None):
        super().__init__(spec, codebook, bias)
        order = np.lexsort((np.asarray(rows), np.asarray(cols)))  # column-major
        for name, v in (("rows", rows), ("cols", cols), ("symbols", symbols)):
            self.register_buffer(name, torch.as_tensor(np.asarray(v, np.int64)[order]))
        self._check(self.rows, self.cols, self.symbols)

    @classmethod
    def from_module(cls, module, codebook=None) -> SHAMLayer:
        """``module``'s non-zeros, whose values must lie in ``codebook`` (default: their own)."""
        spec, w, bias = _matrix(module)
        rows, cols = np.nonzero(w)
        codebook, symbols = _codebook_indices(w[rows, cols], codebook)
        return cls(spec, codebook, rows, cols, symbols, bias)

    def dense_weight(self) -> torch.Tensor:
        w = torch.zeros(self.matrix_shape, dtype=self.codebook.dtype)
        w = w.index_put((self.rows, self.cols), self.codebook[self.symbols])
        return w.reshape(self.weight_shape)

    def matvec(self, x) -> torch.Tensor:
        x = self._x(x)
        y = self._row_sums(x, self.rows.numpy(), self.cols.numpy(), self.symbols.numpy())
        return self._with_bias(y)

    def pack_state(self):
        arrays, kinds, n_bits = self._code(self.symbols.numpy())
        n_in = self.matrix_shape[1]
        ptr = np.concatenate([[0], np.cumsum(np.bincount(self.cols.numpy(), minlength=n_in))])
        arrays["rows"], arrays["ptr"] = _as_index(self.rows.numpy()), _as_index(ptr)
        kinds["rows"] = kinds["ptr"] = "indices"
        self._pack_bias(arrays, kinds)
        return arrays, kinds, {"spec": self.spec, "n_bits": n_bits}

    @classmethod
    def unpack_state(cls, arrays, meta):
        ptr = np.asarray(arrays["ptr"], np.int64)
        cols = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        rows = np.asarray(arrays["rows"], np.int64)
        symbols = cls._decode(arrays, len(rows))
        bias = cls._unpack_bias(arrays)
        return cls(meta["spec"], arrays["codebook"], rows, cols, symbols, bias)


#: format name -> builder of a compressed layer from a module
LAYER_FORMATS = {
    "csr": lambda m: SparseLayer.from_module(m, "csr"),
    "csc": lambda m: SparseLayer.from_module(m, "csc"),
    "bitmask": lambda m: SparseLayer.from_module(m, "bitmask"),
    "ham": HAMLayer.from_module,
    "sham": SHAMLayer.from_module,
}


def format_model(model, fmt: str, layers=None, exclude=None):
    """A copy of ``model`` with every selected Linear/Conv layer stored in format ``fmt``.

    Masks (:mod:`~parsimony.compression.pruning.masks`) are applied first. ``"ham"`` and
    ``"sham"`` need layers with few distinct values (share the weights first,
    :func:`~parsimony.compression.pruning.sharing.share_weights`).
    """
    check_module(model)
    from parsimony.compression.layers import select_layers, set_module
    from parsimony.compression.pruning.masks import PRUNABLE_LAYERS, copy_model, remove_masks

    fmt = check_choice(fmt, "fmt", tuple(LAYER_FORMATS))
    model = remove_masks(copy_model(model))
    for name, mod in select_layers(model, layers, exclude, types=PRUNABLE_LAYERS):
        set_module(model, name, LAYER_FORMATS[fmt](mod))
    return model
