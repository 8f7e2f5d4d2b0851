"""The one training loop every experiment uses, and evaluation.

:func:`train` minimises the cross-entropy of ``model(X)`` against ``y`` by mini-batch
gradient descent. The same loss covers classifiers (logits (n, C), labels (n,)) and
language models (logits (n, t, V), next tokens (n, t)): logits are flattened over every
axis but the last. It is

* deterministic: the batch order comes from its own generator seeded by ``seed``, and the
  global torch random state (dropout, quantization noise) is seeded inside a forked state,
  so the caller's random state is untouched and two runs give identical weights;
* resumable: with ``checkpoint=path``, the model, optimizer, schedule and both random
  states are written (atomically) after every epoch; calling :func:`train` again with the
  same arguments resumes after the last completed epoch, and the result is bit-identical
  to an uninterrupted run;
* device-agnostic: ``device=None`` picks CUDA when available, else the CPU.

:func:`evaluate` returns the mean loss, the accuracy (per token for a language model) and
the perplexity ``exp(loss)``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from parsimony._validation import check_choice, check_float, check_int, check_module, check_tensor

OPTIMIZERS = {
    "adam": lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "adamw": lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd),
}
SCHEDULES = ("constant", "cosine")


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for an empty model)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def as_tensors(
    data, name: str = "data", *, labels: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` arrays or tensors as tensors: integer X stays int64 (token ids), else float32.

    Examples
    --------
    >>> X, y = as_tensors((np.zeros((3, 2)), [0, 1, 1]))
    >>> X.dtype, y.dtype
    (torch.float32, torch.int64)
    """
    if isinstance(data, torch.utils.data.TensorDataset):
        data = data.tensors
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of arrays or tensors, got {type(data)}")
    try:
        X, y = (
            torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a) for a in data
        )
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be a pair (X, y) of numeric arrays or tensors") from exc
    if X.dtype.is_complex:
        raise TypeError(f"{name}: X must be real, got {X.dtype}")
    if X.dtype.is_floating_point:
        X = X.to(torch.float32)
    elif X.dtype == torch.bool:
        raise TypeError(f"{name}: X must be numeric, got bool")
    else:
        X = X.to(torch.int64)
    if X.dtype.is_floating_point and not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name}: X contains NaN or infinite values")
    if labels:
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise TypeError(f"{name}: y must hold integer labels, got {y.dtype}")
        y = y.to(torch.int64)
        if y.numel() and int(y.min()) < 0:
            raise ValueError(f"{name}: y holds negative labels (min {int(y.min())})")
    else:  # soft targets (a teacher's logits): float32
        if y.dtype.is_complex:
            raise TypeError(f"{name}: y must be real, got {y.dtype}")
        y = y.to(torch.float32)
        if not bool(torch.isfinite(y).all()):
            raise ValueError(f"{name}: y contains NaN or infinite values")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(
            f"{name}: X and y must have the same positive number of rows, got {X.shape[0]} "
            f"and {y.shape[0]}"
        )
    return X, y


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy with logits flattened over every axis but the last."""
    check_tensor(logits, "logits", finite=False)
    check_tensor(y, "y", finite=False, floating=False)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)


def _fingerprint(**kwargs) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}


def data_fingerprint(*tensors: torch.Tensor) -> str:
    """SHA-256 of the tensors' shapes, dtypes and bytes: which data a checkpoint was trained on."""
    import hashlib

    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _load_checkpoint(path: Path, device) -> dict:
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated or not a checkpoint: torch's own error is obscure
        raise ValueError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: it is truncated or not a "
            "checkpoint of parsimony.nn.train); delete it to train from scratch"
        ) from exc
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise ValueError(f"checkpoint {path} is not a checkpoint of parsimony.nn.train")
    return state


def _save_atomic(state: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(
    model: nn.Module,
    train_data,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    random_state: int | None = None,
    device=None,
    checkpoint=None,
    progress: bool = True,
    valid_data=None,
    optimizer="adam",
    weight_decay: float = 0.0,
    schedule: str = "constant",
    grad_clip: float | None = None,
    callback: Callable | None = None,
    penalty: Callable | None = None,
    loss: Callable | None = None,
    frozen_bn: bool = False,
    seed: int | None = None,
) -> list[dict]:
    """Train ``model`` in place by mini-batch loss minimisation (cross-entropy by default).

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``; left in eval mode at the end. Only parameters with
        ``requires_grad`` are optimised (a compression method freezes what it stores).
    train_data : pair (X, y)
        Arrays or tensors; see :func:`as_tensors`. Loaded on the device once.
    epochs, lr, batch_size : int, float, int
        Passes over the data, learning rate, mini-batch size (the last batch may be short).
    random_state : int
        Seeds the batch order and the global torch random state used inside training
        (default 0).
    device : str or torch.device, optional
        Default: :func:`default_device`.
    checkpoint : path-like, optional
        File to write after every epoch and to resume from (see the module docstring).
        A checkpoint written with other arguments raises ``ValueError``.
    progress : bool
        Show a progress bar over epochs (tqdm, on stderr).
    valid_data : pair (X, y), optional
        Evaluated after every epoch (``valid_loss``, ``valid_accuracy`` in the history).
    optimizer : {"adam", "adamw", "sgd"}, torch.optim.Optimizer or callable
        SGD uses momentum 0.9. Or an optimizer built on the model's trainable parameters,
        or a factory ``optimizer(params) -> Optimizer`` (e.g. a
        :class:`parsimony.nn.frank_wolfe.FrankWolfe`); then ``lr`` and ``weight_decay``
        are not used and ``schedule`` must be "constant".
    weight_decay : float
    schedule : {"constant", "cosine"}
        Learning rate per step: constant, or cosine decay to 0 over the whole run.
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    callback : callable, optional
        ``callback(record)`` after every epoch (and after its checkpoint is written), with
        the epoch's history record.
    penalty : callable, optional
        ``penalty(model) -> scalar tensor`` added to the mini-batch cross-entropy at every
        step (a regulariser such as EPR's rate term, :mod:`parsimony.compression.entropy`);
        the recorded ``loss`` includes it.
    loss : callable, optional
        ``loss(outputs, targets) -> scalar tensor`` replacing the cross-entropy. With a
        custom loss the targets may be floats (e.g. a teacher's logits, which makes
        knowledge distillation a loss: :func:`parsimony.compression.datafree.kd_loss`).
    frozen_bn : bool
        Keep every BatchNorm layer in eval mode while training (running statistics frozen).
    seed : int, optional
        Deprecated alias of ``random_state``, kept for one release.

    Returns
    -------
    history : list of dict
        One record per epoch: ``epoch``, ``loss`` (mean training loss), ``lr`` and, with
        ``valid_data``, ``valid_loss`` and ``valid_accuracy``.

    Examples
    --------
    >>> from parsimony.nn import MLP
    >>> X = torch.randn(64, 4); y = (X[:, 0] > 0).long()
    >>> model = MLP(4, 2, hidden=(8,))
    >>> hist = train(model, (X, y), epochs=3, lr=1e-2, batch_size=16, progress=False)
    >>> len(hist), hist[-1]["loss"] < hist[0]["loss"]
    (3, True)
    """
    epochs = check_int(epochs, "epochs", low=0)
    lr = check_float(lr, "lr", low=0.0)
    batch_size = check_int(batch_size, "batch_size", low=1)
    if seed is not None:
        import warnings

        if random_state is not None:
            raise TypeError("pass random_state only (seed is its deprecated alias)")
        warnings.warn("train(seed=) is deprecated: use random_state=", FutureWarning, stacklevel=2)
        random_state = seed
    seed = check_int(0 if random_state is None else random_state, "random_state", low=0)
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be callable, got {type(loss).__name__}")
    loss_fn = cross_entropy if loss is None else loss
    custom = not isinstance(optimizer, str)
    if custom and not (isinstance(optimizer, torch.optim.Optimizer) or callable(optimizer)):
        raise TypeError(f"optimizer must be a name, an Optimizer or a factory, got {optimizer!r}")
    if not custom:
        check_choice(optimizer, "optimizer", OPTIMIZERS)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    check_choice(schedule, "schedule", SCHEDULES)
    if custom and schedule != "constant":
        raise ValueError("schedule must be 'constant' with an optimizer instance or factory")
    if grad_clip is not None:
        grad_clip = check_float(grad_clip, "grad_clip", low=0.0, low_inclusive=False)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = torch.device(device) if device is not None else default_device()
    X, y = as_tensors(train_data, "train_data", labels=loss is None)
    valid = as_tensors(valid_data, "valid_data") if valid_data is not None else None
    model.to(device)
    X, y = X.to(device), y.to(device)
    n = X.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = max(epochs * steps_per_epoch, 1)

    params = [p for p in model.parameters() if p.requires_grad]
    if not custom:
        opt = OPTIMIZERS[optimizer](params, lr, weight_decay)
    elif isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    else:
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError("optimizer(params) must return a torch.optim.Optimizer")
    if custom:
        sched = None
    elif schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        )
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    fingerprint = _fingerprint(
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        optimizer=type(opt).__name__ if custom else optimizer,
        weight_decay=weight_decay,
        schedule=schedule,
        grad_clip=grad_clip,
        n_train=n,
        n_params=sum(p.numel() for p in params),
        data=data_fingerprint(X, y) if checkpoint is not None else None,
    )
    shuffle = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    start = 0
    cuda = [device] if device.type == "cuda" else []
    path = Path(checkpoint) if checkpoint is not None else None

    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        if path is not None and path.exists():
            state = _load_checkpoint(path, device)
            diff = sorted(k for k in fingerprint if state["fingerprint"].get(k) != fingerprint[k])
            if diff:
                raise ValueError(
                    f"checkpoint {path} was written by a run with other arguments ({diff}); "
                    "delete it or pass another checkpoint path"
                )
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None:
                sched.load_state_dict(state["scheduler"])
            shuffle.set_state(state["shuffle_rng"])
            torch.set_rng_state(state["torch_rng"])
            if cuda and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(state["cuda_rng"], device)
            history, start = list(state["history"]), int(state["epoch"])

        from tqdm import tqdm

        bar = tqdm(
            range(start, epochs),
            initial=start,
            total=epochs,
            disable=not progress,
            desc="train",
            file=sys.stderr,
            leave=False,
        )
        for epoch in bar:
            model.train()
            if frozen_bn:
                for m in model.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
            perm = torch.randperm(n, generator=shuffle).to(device)
            total, count = torch.zeros((), device=device), 0
            for i in range(steps_per_epoch):
                idx = perm[i * batch_size : (i + 1) * batch_size]
                xb, yb = X[idx], y[idx]
                batch_loss = loss_fn(model(xb), yb)
                if penalty is not None:
                    batch_loss = batch_loss + penalty(model)
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(params, grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
                total += batch_loss.detach() * len(idx)
                count += len(idx)
            record = {
                "epoch": epoch + 1,
                "loss": float(total) / count,
                "lr": float(opt.param_groups[0].get("lr", lr)),
            }
            if valid is not None:
                ev = evaluate(model, valid, device=device)
                record["valid_loss"], record["valid_accuracy"] = ev["loss"], ev["accuracy"]
            history.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            if path is not None:
                _save_atomic(
                    {
                        "fingerprint": fingerprint,
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict() if sched is not None else None,
                        "shuffle_rng": shuffle.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state(device) if cuda else None,
                        "history": history,
                    },
                    path,
                )
            if callback is not None:
                callback(record)
        bar.close()
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, X, *, batch_size: int = 1024, device=None) -> torch.Tensor:
    """Logits of ``model`` (eval mode) on ``X``, batched, returned on the CPU.

    Examples
    --------
    >>> from parsimony.nn import MLP
    >>> predict(MLP(3, 2, hidden=(4,)), np.zeros((5, 3))).shape
    torch.Size([5, 2])
    """
    check_module(model)
    batch_size = check_int(batch_size, "batch_size", low=1)
    device = torch.device(device) if device is not None else model_device(model)
    if X is None or isinstance(X, str | bytes) or not hasattr(X, "__len__"):
        raise TypeError(f"X must be an array or tensor, got {type(X).__name__}")
    X, _ = as_tensors((X, np.zeros(len(X), np.int64)), "X")
    was_training = model.training
    model.eval()
    try:
        out = [model(X[i : i + batch_size].to(device)).cpu() for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def evaluate(model: nn.Module, data, *, batch_size: int = 1024, device=None) -> dict:
    """Mean cross-entropy, accuracy and perplexity of ``model`` (eval mode) on ``data``.

    For a language model every target token counts: the loss is the mean per-token
    negative log-likelihood (nats) and the perplexity its exponential.

    Returns
    -------
    dict
        ``loss``, ``accuracy``, ``perplexity`` and ``n`` (number of targets).

    Examples
    --------
    >>> from parsimony.nn import MLP
    >>> r = evaluate(MLP(3, 2, hidden=(4,)), (np.zeros((5, 3)), np.zeros(5, int)))
    >>> sorted(r), r["n"]
    (['accuracy', 'loss', 'n', 'perplexity'], 5)
    """
    check_module(model)
    batch_size = check_int(batch_size, "batch_size", low=1)
    device = torch.device(device) if device is not None else model_device(model)
    X, y = as_tensors(data, "data")
    was_training = model.training
    model.eval()
    loss, correct, count = 0.0, 0, 0
    try:
        for i in range(0, X.shape[0], batch_size):
            xb, yb = X[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
            logits = model(xb)
            loss += float(cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(-1) == yb).sum())
            count += yb.numel()
    finally:
        model.train(was_training)
    mean = loss / count
    return {"loss": mean, "accuracy": correct / count, "perplexity": math.exp(mean), "n": count}
