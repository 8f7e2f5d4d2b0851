"""Character-level language-modelling data: a byte vocabulary and next-token windows."""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_float, check_int


class CharVocab:
    """Map the distinct bytes of a corpus to contiguous token ids ``0..V-1``.

    Parameters
    ----------
    corpus : bytes or array of uint8
        The text the vocabulary is built from (sorted distinct bytes).

    Examples
    --------
    >>> v = CharVocab(b"abca")
    >>> v.size, v.encode(b"cab").tolist(), v.decode([2, 0, 1])
    (3, [2, 0, 1], b'cab')
    """

    def __init__(self, corpus):
        data = _as_bytes_array(corpus, "corpus")
        self.symbols = np.unique(data)
        self._index = np.full(256, -1, np.int64)
        self._index[self.symbols] = np.arange(self.symbols.size)

    @property
    def size(self) -> int:
        return int(self.symbols.size)

    def encode(self, text) -> np.ndarray:
        """Token ids (int64) of ``text``; a byte outside the vocabulary raises ValueError."""
        ids = self._index[_as_bytes_array(text, "text")]
        if ids.size and ids.min() < 0:
            raise ValueError("text contains bytes that are not in the vocabulary")
        return ids

    def decode(self, ids) -> bytes:
        """Bytes of token ids."""
        return self.symbols[np.asarray(ids, dtype=np.int64)].tobytes()


def _as_bytes_array(text, name: str) -> np.ndarray:
    if isinstance(text, str):
        raise TypeError(f"{name} must be bytes or a uint8 array, got str (encode it first)")
    if isinstance(text, bytes | bytearray | memoryview):
        return np.frombuffer(bytes(text), dtype=np.uint8)
    arr = np.asarray(text)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise TypeError(f"{name} must be bytes or a 1-D uint8 array, got {arr.dtype} {arr.shape}")
    return arr


def lm_windows(tokens, context: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Next-token pairs ``(X, Y)`` from a token stream: ``Y[i, j] = X[i, j + 1]`` shifted.

    Windows of ``context + 1`` tokens start every ``stride`` tokens (default ``context``:
    every token is predicted once).

    Returns
    -------
    X, Y : ndarray of int64, shape (n_windows, context)

    Examples
    --------
    >>> X, Y = lm_windows(np.arange(10), context=4)
    >>> X.tolist(), Y.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [[1, 2, 3, 4], [5, 6, 7, 8]])
    """
    tokens = np.asarray(tokens, dtype=np.int64).ravel()
    context = check_int(context, "context", low=1)
    stride = context if stride is None else check_int(stride, "stride", low=1)
    if tokens.size < context + 1:
        raise ValueError(f"tokens must hold at least context + 1 = {context + 1} tokens")
    starts = np.arange(0, tokens.size - context, stride)
    win = tokens[starts[:, None] + np.arange(context + 1)]
    return win[:, :-1].copy(), win[:, 1:].copy()


def split_text(tokens, test_fraction: float = 0.1):
    """Split a stream into a leading train part and a trailing test part (no shuffling).

    Examples
    --------
    >>> a, b = split_text(np.arange(10), 0.2); a.tolist(), b.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    tokens = np.asarray(tokens)
    test_fraction = check_float(test_fraction, "test_fraction", low=0.0, high=1.0)
    cut = tokens.size - int(round(test_fraction * tokens.size))
    return tokens[:cut], tokens[cut:]
