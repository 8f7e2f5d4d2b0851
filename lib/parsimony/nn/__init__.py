"""The small models and the one training loop that every experiment shares.

* :mod:`~parsimony.nn.models`: :class:`MLP`, :class:`SmallCNN` (with BatchNorm, 1-D or 2-D),
  :class:`CharTransformer` (character-level causal LM); ``MODELS``, :func:`build_model`,
  :func:`model_spec` (a model <-> ``{"arch", "config"}``, used by
  :func:`parsimony.compression.pack` to record the architecture).
* :mod:`~parsimony.nn.training`: :func:`train` (deterministic, resumable from a checkpoint,
  device chosen automatically, progress bar), :func:`evaluate`, :func:`predict`.
* :mod:`~parsimony.nn.text`: :class:`CharVocab`, :func:`lm_windows`, :func:`split_text`.
"""

from parsimony.determinism import configure_torch as _configure_torch
from parsimony.nn.models import (
    MLP,
    MODELS,
    CharTransformer,
    SmallCNN,
    build_model,
    model_spec,
)
from parsimony.nn.text import CharVocab, lm_windows, split_text
from parsimony.nn.training import (
    as_tensors,
    cross_entropy,
    default_device,
    evaluate,
    model_device,
    predict,
    train,
)

_configure_torch()  # under the runner: fixed threads, deterministic algorithms

__all__ = [
    "MLP",
    "MODELS",
    "CharTransformer",
    "CharVocab",
    "SmallCNN",
    "as_tensors",
    "build_model",
    "cross_entropy",
    "default_device",
    "evaluate",
    "lm_windows",
    "model_device",
    "model_spec",
    "predict",
    "split_text",
    "train",
]
