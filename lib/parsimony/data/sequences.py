"""Sequence tasks for recurrent models, generated on the fly and deterministically.

* :func:`digits_sequences`: scikit-learn's 8x8 digits (``X / 16``) read row by row
  (8 steps x 8 features) or pixel by pixel (64 steps x 1 feature), the splits of
  :func:`parsimony.data.digits_split`.
* :func:`mnist1d_sequences`: mnist1d's 40-sample signals as 40 steps x 1 feature.
* :func:`adding_problem`: the adding problem (Hochreiter & Schmidhuber, 1997; Le, Jaitly &
  Hinton, 2015): 2 features per step, a value uniform in [0, 1] and a marker set at two
  positions (one in each half); the target is the sum of the two marked values. Always
  predicting 1 gives the mean squared error ``Var(U1 + U2) = 1/6``.
* :func:`noise_pad`: Gaussian-noise steps appended after every sequence of a split (the
  noisy long-term-dependency variant of Yue et al., ICPR 2020, arXiv:2010.05397).

A split is a dict ``{"train": (X, y), "valid": (X, y) or None, "test": (X, y)}`` with
float32 inputs of shape ``(n, steps, features)``.
"""

from __future__ import annotations

import numpy as np

from parsimony._validation import check_choice, check_float, check_int

MODES = ("rows", "pixels")
ADDING_BASELINE_MSE = 1.0 / 6.0


def _as_sequences(X: np.ndarray, steps: int, features: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(X, np.float32).reshape(len(X), steps, features))


def _map(split: dict, fn) -> dict:
    return {k: (None if v is None else (fn(v[0]), v[1])) for k, v in split.items()}


def digits_sequences(
    mode: str = "rows", *, test_fraction: float = 0.3, valid_fraction: float = 0.0,
    random_state: int = 0,
) -> dict:  # fmt: skip
    """Digits as sequences: ``mode="rows"`` (n, 8, 8) or ``"pixels"`` (n, 64, 1), in [0, 1].

    Examples
    --------
    >>> s = digits_sequences("pixels", valid_fraction=0.2)  # doctest: +SKIP
    >>> s["train"][0].shape[1:]  # doctest: +SKIP
    (64, 1)
    """
    from parsimony.data.tasks import digits_split

    check_choice(mode, "mode", MODES)
    split = digits_split(
        test_fraction=test_fraction, valid_fraction=valid_fraction, random_state=random_state
    )
    shape = (8, 8) if mode == "rows" else (64, 1)
    return _map(split, lambda X: _as_sequences(X, *shape))


def mnist1d_sequences(*, valid_fraction: float = 0.0) -> dict:
    """mnist1d (:func:`parsimony.data.mnist1d_split`) as (n, 40, 1) sequences."""
    from parsimony.data.tasks import mnist1d_split

    split = mnist1d_split(valid_fraction=valid_fraction)
    return _map(split, lambda X: _as_sequences(X, X.shape[1], 1))


def adding_problem(n_samples: int, length: int = 50, *, random_state: int = 0):
    """``(X, y)``: X (n, length, 2) float32 (value, marker), y (n,) float32 sums.

    One marker falls uniformly in the first ``length // 2`` steps, the other in the rest.

    Examples
    --------
    >>> X, y = adding_problem(4, 10, random_state=0)
    >>> X.shape, bool(np.allclose((X[..., 0] * X[..., 1]).sum(1), y))
    ((4, 10, 2), True)
    """
    n_samples = check_int(n_samples, "n_samples", low=1)
    length = check_int(length, "length", low=2)
    random_state = check_int(random_state, "random_state", low=0)
    rng = np.random.default_rng(random_state)
    values = rng.uniform(0.0, 1.0, size=(n_samples, length))
    half = length // 2
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, length, size=n_samples)
    marks = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    X = np.stack([values, marks], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second]).astype(np.float32)
    return X, y


def noise_pad(split: dict, n_steps: int, *, sigma: float = 1.0, random_state: int = 0) -> dict:
    """Append ``n_steps`` N(0, sigma^2) steps after every sequence of every part.

    Each part draws from its own generator (seeded by ``random_state`` and the part's
    position), so the same call gives the same padding.

    Examples
    --------
    >>> s = {"train": (np.zeros((2, 3, 1), np.float32), np.zeros(2, int)), "valid": None}
    >>> noise_pad(s, 4)["train"][0].shape
    (2, 7, 1)
    """
    if not isinstance(split, dict) or "train" not in split:
        raise TypeError("split must be a dict with 'train', 'valid' and 'test' pairs")
    n_steps = check_int(n_steps, "n_steps", low=0)
    sigma = check_float(sigma, "sigma", low=0.0)
    random_state = check_int(random_state, "random_state", low=0)
    out = {}
    for i, (key, part) in enumerate(split.items()):
        if part is None:
            out[key] = None
            continue
        X = np.asarray(part[0], np.float32)
        if X.ndim != 3:
            raise ValueError(f"split[{key!r}]: inputs must be (n, steps, features), got {X.shape}")
        rng = np.random.default_rng([random_state, i])
        noise = rng.normal(0.0, sigma, size=(X.shape[0], n_steps, X.shape[2]))
        out[key] = (np.concatenate([X, noise.astype(np.float32)], axis=1), part[1])
    return out
