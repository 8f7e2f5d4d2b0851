"""Splits and tasks: the one place where a dataset becomes train / valid / test.

* :func:`digits_split`: scikit-learn's digits, scaled to [0, 1], stratified splits.
* :func:`mnist1d_split`: mnist1d's stored train / test split, the last part of the
  training signals held out as validation.
* :func:`standardize`: one scalar mean and standard deviation from the training inputs,
  applied to every part, with an optional reshape (e.g. to (n, 1, 8, 8) for a CNN).
* :class:`Task`: a split, a model family (:func:`parsimony.nn.build_model` arguments) and
  the metric a figure reports.

A split is a dict ``{"train": (X, y), "valid": (X, y) or None, "test": (X, y)}`` of
float32 inputs and int64 labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parsimony._validation import check_choice, check_float, check_int


def _pair(X, y) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(X, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


def digits_split(
    *, test_fraction: float = 0.3, valid_fraction: float = 0.0, random_state: int = 0
) -> dict:
    """scikit-learn's 8x8 digits in [0, 1] (``X / 16``), stratified train / valid / test.

    The test part is split off first (``test_fraction`` of all samples), then the
    validation part (``valid_fraction`` of the rest), both stratified by label with
    ``random_state``.

    Examples
    --------
    >>> s = digits_split(test_fraction=0.2, valid_fraction=0.25)  # doctest: +SKIP
    >>> [len(s[k][0]) for k in ("train", "valid", "test")]  # doctest: +SKIP
    [1077, 360, 360]
    """
    from sklearn.model_selection import train_test_split

    from parsimony.data.loaders import load_digits

    test_fraction = check_float(test_fraction, "test_fraction", low=0.0, high=1.0,
                                low_inclusive=False, high_inclusive=False)  # fmt: skip
    valid_fraction = check_float(valid_fraction, "valid_fraction", low=0.0, high=1.0,
                                 high_inclusive=False)  # fmt: skip
    random_state = check_int(random_state, "random_state", low=0)
    X, y = load_digits()
    X = X / 16.0
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_fraction, stratify=y,
                                              random_state=random_state)  # fmt: skip
    valid = None
    if valid_fraction > 0:
        X_tr, X_va, y_tr, y_va = train_test_split(X_tr, y_tr, test_size=valid_fraction,
                                                  stratify=y_tr, random_state=random_state)  # fmt: skip
        valid = _pair(X_va, y_va)
    return {"train": _pair(X_tr, y_tr), "valid": valid, "test": _pair(X_te, y_te)}


def mnist1d_split(*, valid_fraction: float = 0.0) -> dict:
    """mnist1d (``make_dataset``, seed 42): the stored 4000 / 1000 train / test split.

    The last ``valid_fraction`` of the training signals become the validation part.
    """
    from parsimony.data.loaders import load_mnist1d

    valid_fraction = check_float(valid_fraction, "valid_fraction", low=0.0, high=1.0,
                                 high_inclusive=False)  # fmt: skip
    x_train, y_train, x_test, y_test = load_mnist1d()
    n_va = int(round(valid_fraction * len(x_train)))
    valid = None
    if n_va:
        valid = _pair(x_train[-n_va:], y_train[-n_va:])
        x_train, y_train = x_train[:-n_va], y_train[:-n_va]
    return {"train": _pair(x_train, y_train), "valid": valid, "test": _pair(x_test, y_test)}


def standardize(split: dict, shape: tuple | None = None) -> tuple[dict, float, float]:
    """Subtract the training inputs' mean, divide by their standard deviation (two scalars).

    Returns ``(new_split, mean, std)``; with ``shape`` every input is reshaped to
    ``(n, *shape)``. The constants come from the training part only.
    """
    if not isinstance(split, dict) or "train" not in split:
        raise TypeError("split must be a dict with 'train', 'valid' and 'test' pairs")
    X_tr = np.asarray(split["train"][0], np.float64)
    mean, std = float(X_tr.mean()), float(X_tr.std())
    if not std > 0:
        raise ValueError("split: the training inputs are constant (standard deviation 0)")

    def norm(pair):
        if pair is None:
            return None
        X = (np.asarray(pair[0], np.float64) - mean) / std
        if shape is not None:
            X = X.reshape(-1, *shape)
        return _pair(X, pair[1])

    return {k: norm(v) for k, v in split.items()}, mean, std


@dataclass
class Task:
    """A dataset, a model family and the metric a figure reports.

    Attributes
    ----------
    name : str
    arch, config : str, dict
        :func:`parsimony.nn.build_model` arguments.
    train, test : pair (X, y)
    metric : {"accuracy", "perplexity"}
    stages : list, optional
        iPQ stages (None: one weight layer per stage).
    valid : pair (X, y), optional
    info : dict
    """

    name: str
    arch: str
    config: dict
    train: tuple
    test: tuple
    metric: str = "accuracy"
    stages: list | None = None
    info: dict = field(default_factory=dict)
    valid: tuple | None = None

    def __post_init__(self):
        check_choice(self.metric, "metric", ("accuracy", "perplexity"))

    def model(self, random_state: int = 0):
        """A fresh model of the task's family, initialised with ``random_state``."""
        from parsimony.nn import build_model

        return build_model(self.arch, self.config, random_state=random_state)

    def score(self, model) -> float:
        """The task's metric of ``model`` on the test part."""
        from parsimony.nn import evaluate

        return float(evaluate(model, self.test)[self.metric])

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"
