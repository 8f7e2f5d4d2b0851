"""Input checks shared by every public function.

Each helper raises ``ValueError`` or ``TypeError`` with a message that names the
argument and says what was expected, so that bad input never surfaces as a traceback
from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp


def check_array(
    X,
    name: str,
    *,
    ndim: int | None = 2,
    finite: bool = True,
    dtype=np.float64,
    min_rows: int = 1,
    min_cols: int = 1,
) -> np.ndarray:
    """Return ``X`` as a NumPy array after checking its shape and values."""
    if sp.issparse(X):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix")
    if isinstance(X, str | bytes) or X is None:
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}")
    if np.iscomplexobj(X) and not np.issubdtype(np.dtype(dtype or np.float64), np.complexfloating):
        raise TypeError(f"{name} must be real, got a complex array")
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {arr.shape}")
    if arr.ndim >= 2 and arr.shape[1] < min_cols:
        raise ValueError(f"{name} must have at least {min_cols} column(s), got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (bounds inclusive, ``None`` = open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo_bad = low is not None and (value < low if low_inclusive else value <= low)
    hi_bad = high is not None and (value > high if high_inclusive else value >= high)
    if lo_bad or hi_bad:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}, got {value}")
    return value


#: the most values a public function allocates from its size arguments (2**31, i.e. 16 GiB
#: of float64): a larger request is a mistake, refused before any allocation
MAX_ELEMENTS = 2**31


def check_elements(count: int, name: str, limit: int = MAX_ELEMENTS) -> int:
    """Refuse a request for more than ``limit`` values (``name`` says which arguments)."""
    if count > limit:
        raise ValueError(f"{name} asks for {count} values, more than the limit of {limit}")
    return count


def check_tensor(
    x, name: str, *, ndim: int | None = None, finite: bool = True, floating: bool = True
):
    """Return the ``torch.Tensor`` ``x`` after checking its type, rank and values."""
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_complex():
        raise TypeError(f"{name} must be real, got dtype {x.dtype}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {tuple(x.shape)}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_module(model, name: str = "model"):
    """Return ``model`` if it is a ``torch.nn.Module``."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_random_state(random_state) -> np.random.Generator:
    """Turn ``None``, an int, a SeedSequence or a Generator into a ``numpy`` Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral | np.random.SeedSequence):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
    )
