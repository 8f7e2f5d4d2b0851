"""mnist1d signals generated on demand, with the data builder's arguments.

Greydanus, S. (2020), "Scaling down deep learning", arXiv:2011.14439
(https://arxiv.org/abs/2011.14439). The stored data set (``data/mnist1d``, read by
:func:`parsimony.data.mnist1d_split`) has 5,000 signals; an experiment that needs another
count calls :func:`make_mnist1d`, which runs ``mnist1d``'s procedural, seeded
``make_dataset`` with the same arguments and seed as :mod:`parsimony.data.build`.
"""

from __future__ import annotations

import functools

import numpy as np

from parsimony._validation import check_int
from parsimony.data.build import MNIST1D_SEED

__all__ = ["make_mnist1d"]


@functools.lru_cache(maxsize=4)
def _generate(n_samples: int, random_state: int):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed, args.num_samples = random_state, n_samples
    d = make_dataset(args)  # procedural and seeded: the same arrays on every machine
    return tuple(np.ascontiguousarray(d[k], dt) for k, dt in
                 (("x", np.float32), ("y", np.int64), ("x_test", np.float32),
                  ("y_test", np.int64)))  # fmt: skip


def make_mnist1d(n_samples: int, random_state: int = MNIST1D_SEED) -> dict:
    """``n_samples`` mnist1d signals (80 % train, 20 % test), as ``{"train", "test"}``.

    Parameters
    ----------
    n_samples : int
        Signals in all (at least 10).
    random_state : int
        The generator's seed (default: the data builder's, ``MNIST1D_SEED``).

    Returns
    -------
    dict
        ``{"train": (x, y), "test": (x_test, y_test)}``: float32 signals of 40 samples,
        int64 labels. Cached per process; treat the arrays as read-only.
    """
    n_samples = check_int(n_samples, "n_samples", low=10)
    random_state = check_int(random_state, "random_state", low=0)
    x, y, xt, yt = _generate(n_samples, random_state)
    return {"train": (x, y), "test": (xt, yt)}
