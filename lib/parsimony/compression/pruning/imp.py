"""Iterative magnitude pruning with rewinding, and its accelerated variant (paper B).

Zullich, Medvet, Pellegrino, Ansuini, "Speeding-Up Pruning for Artificial Neural Networks:
Introducing Accelerated Iterative Magnitude Pruning", ICPR 2020 (arXiv:2011.14286).

IMP (Frankle & Carbin 2019; Renda, Frankle & Carbin 2020): train the dense network for
``E`` epochs; then, round after round, prune a fraction ``rate`` of the *surviving*
weights by global magnitude (the masks are nested: after ``r`` rounds the sparsity is
``1 - (1 - rate)**r``) and retrain the masked network for ``E`` epochs, either from the
current weights with the learning-rate schedule restarted (``rewind="lr"``, Renda et al.)
or from the initial weights (``rewind="init"``, Frankle & Carbin). AIMP shortens every
intermediate retraining to ``fraction * E`` epochs and keeps ``E`` for the last round only.

Training goes through the shared loop :func:`parsimony.nn.train` (each call restarts its
schedule); the masks of :mod:`~parsimony.compression.pruning.masks` stay applied in it.
"""

from __future__ import annotations

import torch

from parsimony._validation import check_choice, check_float, check_int
from parsimony.compression.pruning.masks import copy_model, prune_magnitude, sparsity

__all__ = ["aimp", "imp", "round_epochs"]


def round_epochs(epochs: int, n_rounds: int, fraction: float = 1.0) -> list[int]:
    """Retraining epochs of each pruning round: ``fraction * epochs`` (rounded, at least 1)
    for the intermediate rounds, ``epochs`` for the last one.

    Examples
    --------
    >>> round_epochs(10, 4, 0.4)
    [4, 4, 4, 10]
    """
    epochs = check_int(epochs, "epochs", low=1)
    n_rounds = check_int(n_rounds, "n_rounds", low=1)
    fraction = check_float(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
    short = max(1, round(fraction * epochs))
    return [short] * (n_rounds - 1) + [epochs]


def imp(model, train_data, *, rate: float = 0.2, n_rounds: int = 5, epochs: int = 10,
        fraction: float = 1.0, rewind: str = "lr", lr: float = 1e-3, batch_size: int = 64,
        random_state: int = 0, layers=None, exclude=None, evaluate=None):  # fmt: skip
    """Iterative magnitude pruning of a copy of ``model``; returns ``(model, history)``.

    Parameters
    ----------
    model : torch.nn.Module
        The untrained (initialised) network; not modified.
    train_data : pair (X, y)
    rate : float in (0, 1)
        Fraction of the surviving weights pruned at each round.
    n_rounds : int
        Pruning rounds (final sparsity ``1 - (1 - rate)**n_rounds``).
    epochs : int
        ``E``: training epochs of the dense network and of the last round.
    fraction : float in (0, 1]
        Intermediate rounds retrain for ``fraction * E`` epochs (1: IMP; AIMP: 0.4).
    rewind : {"lr", "init"}
        Learning-rate rewinding (retrain from the current weights) or rewinding the
        surviving weights to their initial values.
    lr, batch_size, random_state
        Of :func:`parsimony.nn.train` (the same for every round).
    layers, exclude : str or sequence of str, optional
        Layers pruned (fnmatch patterns).
    evaluate : callable, optional
        ``evaluate(model) -> float`` recorded after each round (e.g. validation accuracy).

    Returns
    -------
    model : torch.nn.Module
        The pruned network, masks attached.
    history : list of dict
        One record per stage (round 0 is the dense training): ``round``, ``sparsity``
        (measured), ``epochs`` (of this stage), ``total_epochs`` (cumulative) and
        ``score`` (``evaluate``'s value or None).
    """
    from parsimony.nn import train

    rate = check_float(rate, "rate", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    rewind = check_choice(rewind, "rewind", ("lr", "init"))
    schedule = [check_int(epochs, "epochs", low=1)] + round_epochs(epochs, n_rounds, fraction)
    net = copy_model(model)
    init = {k: v.detach().clone() for k, v in net.state_dict().items()}
    history, total = [], 0
    for r, n_epochs in enumerate(schedule):
        if r:
            prune_magnitude(net, 1 - (1 - rate) ** r, "global", layers, exclude)
            if rewind == "init":
                _rewind(net, init)
        train(net, train_data, epochs=n_epochs, lr=lr, batch_size=batch_size,
              random_state=random_state + r, progress=False)  # fmt: skip
        total += n_epochs
        score = evaluate(net) if evaluate is not None else None
        history.append({"round": r, "sparsity": sparsity(net, layers, exclude),
                        "epochs": n_epochs, "total_epochs": total, "score": score})  # fmt: skip
    return net, history


def _rewind(net, init) -> None:
    """Reset every parameter and buffer to ``init``, keeping the current masks."""
    state = net.state_dict()
    with torch.no_grad():
        for k, v in state.items():
            if k.endswith("weight_mask"):
                continue
            src = init.get(k, init.get(k.replace("weight_orig", "weight")))
            if src is not None:
                v.copy_(src)
    for m in net.modules():
        if hasattr(m, "weight_mask"):
            m.weight = m.weight_orig * m.weight_mask


def aimp(model, train_data, *, fraction: float = 0.4, **options):
    """Accelerated IMP: :func:`imp` with intermediate rounds of ``fraction * E`` epochs."""
    return imp(model, train_data, fraction=fraction, **options)
