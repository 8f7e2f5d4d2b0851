"""Neuron pruning by majority voting during training (paper C of the pruning card).

Alqahtani, Xie, Essa, Jones, "Neuron-Based Network Pruning Based on Majority Voting",
ICPR 2020 (arXiv:2011.02389). The card's reading of the method (no public code): for
every sample and hidden layer, the neurons in the sample's top-``q`` fraction of
activations get one vote; on a schedule, the fraction ``s`` of the remaining neurons with
the fewest votes is removed (physically, :func:`~parsimony.compression.pruning.shrink.shrink_model`)
and training goes on. Baselines remove the neurons of smallest incoming-weight L2 norm,
or random neurons, on the same schedule.

Here the votes are counted in one pass over the training data at each removal step (the
paper accumulates them over the last epoch's batches), and the optimizer is rebuilt after
each removal (each chunk of epochs is one call of :func:`parsimony.nn.train`).
"""

from __future__ import annotations

import numpy as np
import torch

from parsimony._validation import check_choice, check_float, check_int, check_random_state
from parsimony.compression.pruning.masks import PRUNABLE_LAYERS
from parsimony.compression.pruning.shrink import count_parameters, shrink_model

__all__ = ["SCORES", "neuron_scores", "remove_lowest", "vote_counts", "voting_prune"]

#: the neuron-importance rules compared in paper C
SCORES = ("voting", "l2", "random")


def _hidden(model):
    layers = [(n, m) for n, m in model.named_modules() if n and isinstance(m, PRUNABLE_LAYERS)]
    return layers[:-1]


def vote_counts(model, X, q: float = 0.25, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Votes of every hidden unit: per sample, its top-``q`` fraction of units (by output of
    the weight layer; a convolution's channel by its spatial mean) get one vote each."""
    q = check_float(q, "q", low=0.0, high=1.0, low_inclusive=False)
    hidden = _hidden(model)
    votes = {n: np.zeros(m.weight.shape[0], np.int64) for n, m in hidden}
    outs: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, o, n=n: outs.__setitem__(n, o)) for n, m in hidden
    ]
    model.eval()
    try:
        with torch.no_grad():
            X = torch.as_tensor(X)
            for start in range(0, len(X), batch_size):
                model(X[start : start + batch_size])
                for n, o in outs.items():
                    a = o.reshape(o.shape[0], o.shape[1], -1).mean(-1)
                    top = max(1, round(q * a.shape[1]))
                    idx = torch.topk(a, top, dim=1).indices.reshape(-1)
                    votes[n] += np.bincount(idx.numpy(), minlength=a.shape[1])
    finally:
        for h in hooks:
            h.remove()
    return votes


def neuron_scores(
    model, method: str, X=None, q: float = 0.25, random_state=0
) -> dict[str, np.ndarray]:
    """Importance of every hidden unit: votes (``"voting"``, needs ``X``), incoming-weight
    L2 norm (``"l2"``) or uniform random numbers (``"random"``)."""
    method = check_choice(method, "method", SCORES)
    if method == "voting":
        if X is None:
            raise ValueError("method 'voting' needs X")
        return {n: v.astype(np.float64) for n, v in vote_counts(model, X, q).items()}
    rng = check_random_state(random_state)
    out = {}
    for n, m in _hidden(model):
        w = m.weight.detach().reshape(m.weight.shape[0], -1)
        out[n] = rng.random(w.shape[0]) if method == "random" else w.norm(dim=1).double().numpy()
    return out


def remove_lowest(model, scores, fraction: float):
    """Shrink ``model``, removing in each layer the ``fraction`` of units of lowest score
    (ties: lower index first; at least one unit kept)."""
    fraction = check_float(fraction, "fraction", low=0.0, high=1.0, high_inclusive=False)
    keep = {}
    for name, s in scores.items():
        n_drop = min(len(s) - 1, int(fraction * len(s)))
        k = torch.ones(len(s), dtype=torch.bool)
        k[torch.from_numpy(np.argsort(s, kind="stable")[:n_drop])] = False
        keep[name] = k
    return shrink_model(model, keep)


def voting_prune(model, train_data, *, method: str = "voting", q: float = 0.25,
                 fraction: float = 0.2, every: int = 5, epochs: int = 30, lr: float = 1e-3,
                 batch_size: int = 64, random_state: int = 0, evaluate=None):  # fmt: skip
    """Train ``model`` (a copy) for ``epochs``, removing ``fraction`` of the remaining hidden
    units of each layer every ``every`` epochs (not after the last chunk).

    Returns ``(model, history)``; history has one record per chunk: ``epoch``, ``n_params``,
    ``widths`` and ``score`` (``evaluate(model)`` or None), measured after the removal.
    """
    from parsimony.nn import train

    every = check_int(every, "every", low=1)
    epochs = check_int(epochs, "epochs", low=1)
    rng = check_random_state(random_state)
    net = shrink_model(model, {})  # a copy
    history, done = [], 0
    while done < epochs:
        chunk = min(every, epochs - done)
        train(net, train_data, epochs=chunk, lr=lr, batch_size=batch_size,
              random_state=random_state + done, progress=False)  # fmt: skip
        done += chunk
        if done < epochs:
            scores = neuron_scores(net, method, train_data[0], q, rng)
            net = remove_lowest(net, scores, fraction)
        history.append({"epoch": done, "n_params": count_parameters(net),
                        "widths": [m.weight.shape[0] for _, m in _hidden(net)],
                        "score": evaluate(net) if evaluate is not None else None})  # fmt: skip
    return net, history
