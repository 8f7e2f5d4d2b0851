r"""Euclidean projections onto sparsity-inducing balls, and the splitting projected gradient.

Barlaud & Guyard, "Learning Sparse Deep Neural Networks Using Efficient Structured
Projections on Convex Constraints for Green AI", ICPR 2020 (arXiv:2007.09054).

The training problem is :math:`\min_W L(W)` subject to :math:`W \in C`; the splitting
algorithm alternates a gradient (optimizer) step and a projection :math:`W \leftarrow P_C(W)`
on the constrained layers (:func:`train_projected`).

Constraints, for a weight ``W`` of shape ``(n_out, n_in)`` (PyTorch's ``Linear`` layout, so
**column** ``j = W[:, j]`` is everything that reads input feature ``j``; a zero column
removes that input feature):

- :math:`\ell_1` ball :math:`\sum_{ij} |W_{ij}| \le \eta`: the sort-based projection
  (Duchi et al. 2008, Condat 2016), :math:`P(v)_i = \mathrm{sign}(v_i)\max(|v_i| - \theta, 0)`
  with :math:`\theta` the unique threshold making :math:`\|P(v)\|_1 = \eta`
  (:func:`project_l1`), vectorised over rows with one radius per row (:func:`project_l1_rows`).
- :math:`\ell_{2,1}` (group LASSO over columns) :math:`\sum_j \|w_j\|_2 \le \eta`: project the
  vector of column norms onto the :math:`\ell_1` ball, rescale each column
  (:func:`project_l21`).
- nuclear norm :math:`\sum_k \sigma_k \le \eta`: project the singular values onto the
  :math:`\ell_1` ball (:func:`project_nuclear`).
- :math:`\ell_{1,1}` "bi-level" (the authors' later code, ``proj_l11ball``):
  :math:`t = P_{\ell_1,\eta}(\|w_1\|_1, \dots, \|w_n\|_1)`, then
  :math:`w_j \leftarrow P_{\ell_1, t_j}(w_j)` (:func:`project_l11`). Columns with
  :math:`t_j = 0` vanish whole. This is *not* the Euclidean projection onto
  :math:`\{\sum_j \|w_j\|_1 \le \eta\}` (that set is the plain :math:`\ell_1` ball); it is
  feasible, idempotent and the identity inside the ball, which the tests check.

All projections take and return NumPy arrays (float64 inside, the input dtype returned);
:func:`train_projected` applies them to ``torch`` weights in place under ``no_grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_float, check_int

__all__ = [
    "PROJECTIONS",
    "constraint_value",
    "project",
    "project_l1",
    "project_l1_rows",
    "project_l11",
    "project_l21",
    "project_nuclear",
    "train_projected",
    "zero_columns",
]


def _matrix(W, name: str = "W", ndim: int | None = 2) -> np.ndarray:
    A = np.asarray(W)
    if np.iscomplexobj(A):
        raise TypeError(f"{name} must be real, got a complex array")
    if not np.issubdtype(A.dtype, np.number) and A.dtype != bool:
        raise TypeError(f"{name} must be numeric, got dtype {A.dtype}")
    if ndim is not None and A.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite")
    return A


def _out_dtype(A: np.ndarray):
    return A.dtype if np.issubdtype(A.dtype, np.floating) else np.float64


def project_l1_rows(V, radii) -> np.ndarray:
    r"""Project every row of ``V`` onto the :math:`\ell_1` ball of its own radius.

    Sort-based and vectorised over rows: for row :math:`v` with :math:`\|v\|_1 > r`,
    :math:`u = \mathrm{sort}(|v|)` decreasing, :math:`\rho = \max\{k : u_k >
    (\sum_{i \le k} u_i - r)/k\}`, :math:`\theta = (\sum_{i \le \rho} u_i - r)/\rho`; rows
    already inside their ball are returned unchanged.

    Parameters
    ----------
    V : array of shape (n_rows, n)
    radii : float or array of shape (n_rows,)
        Non-negative radii.

    Returns
    -------
    P : array like ``V``

    Examples
    --------
    >>> project_l1_rows([[3.0, -1.0], [0.2, 0.1]], 1.0)
    array([[ 1. , -0. ],
           [ 0.2,  0.1]])
    """
    A = _matrix(V, "V")
    r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (A.shape[0],))
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("radii must be finite and non-negative")
    X = A.astype(np.float64, copy=False)
    absx = np.abs(X)
    inside = absx.sum(axis=1) <= r
    if A.shape[1] == 0 or inside.all():
        return X.astype(_out_dtype(A))
    u = np.sort(absx, axis=1)[:, ::-1]
    cs = np.cumsum(u, axis=1)
    cs -= r[:, None]
    rho = np.maximum((u * np.arange(1, A.shape[1] + 1) > cs).sum(axis=1), 1)
    theta = cs[np.arange(A.shape[0]), rho - 1] / rho
    theta = np.where(inside, 0.0, np.maximum(theta, 0.0))
    absx -= theta[:, None]
    np.maximum(absx, 0.0, out=absx)
    absx *= np.sign(X)
    return absx.astype(_out_dtype(A), copy=False)


def project_l1(W, eta: float) -> np.ndarray:
    r"""Euclidean projection of ``W`` (any shape) onto :math:`\{\sum |W_{ij}| \le \eta\}`.

    Examples
    --------
    >>> project_l1([[2.0, 0.5], [-1.0, 0.0]], 1.5)
    array([[ 1.25,  0.  ],
           [-0.25,  0.  ]])
    """
    A = _matrix(W, "W", ndim=None)
    eta = check_float(eta, "eta", low=0.0)
    return project_l1_rows(A.reshape(1, -1), eta).reshape(A.shape)


def _column_rescale(A: np.ndarray, norms: np.ndarray, target: np.ndarray) -> np.ndarray:
    scale = np.divide(target, norms, out=np.zeros_like(norms), where=norms > 0)
    return A * scale[None, :]


def project_l21(W, eta: float) -> np.ndarray:
    r""":math:`\ell_{2,1}` ball over columns, :math:`\sum_j \|W_{:,j}\|_2 \le \eta` (exact).

    Examples
    --------
    >>> project_l21([[3.0, 0.0], [4.0, 1.0]], 2.0)
    array([[1.2, 0. ],
           [1.6, 0. ]])
    """
    A = _matrix(W).astype(np.float64)
    eta = check_float(eta, "eta", low=0.0)
    norms = np.linalg.norm(A, axis=0)
    target = project_l1_rows(norms[None, :], eta)[0]
    return _column_rescale(A, norms, target).astype(_out_dtype(np.asarray(W)))


def project_l11(W, eta: float) -> np.ndarray:
    r"""Bi-level :math:`\ell_{1,1}` projection over columns (see the module docstring).

    Examples
    --------
    >>> project_l11([[3.0, 0.0], [1.0, 1.0]], 2.0)
    array([[2., 0.],
           [0., 0.]])
    """
    A = _matrix(W)
    eta = check_float(eta, "eta", low=0.0)
    X = A.astype(np.float64)
    budgets = project_l1_rows(np.abs(X).sum(axis=0)[None, :], eta)[0]
    return project_l1_rows(X.T, budgets).T.astype(_out_dtype(A))


def project_nuclear(W, eta: float) -> np.ndarray:
    r"""Nuclear-norm ball :math:`\sum_k \sigma_k(W) \le \eta` (exact, through an SVD).

    Examples
    --------
    >>> project_nuclear([[2.0, 0.0], [0.0, 1.0]], 2.0)
    array([[1.5, 0. ],
           [0. , 0.5]])
    """
    A = _matrix(W)
    eta = check_float(eta, "eta", low=0.0)
    X = A.astype(np.float64)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    if s.sum() <= eta:
        return X.astype(_out_dtype(A))
    s = project_l1_rows(s[None, :], eta)[0]
    return ((U * s) @ Vt).astype(_out_dtype(A))


PROJECTIONS: dict[str, Callable] = {
    "l1": project_l1,
    "l11": project_l11,
    "l21": project_l21,
    "nuclear": project_nuclear,
}


def constraint_value(W, kind: str) -> float:
    """The norm that constraint ``kind`` bounds (``l11`` bounds the same sum as ``l1``)."""
    A = _matrix(W).astype(np.float64)
    if kind in ("l1", "l11"):
        return float(np.abs(A).sum())
    if kind == "l21":
        return float(np.linalg.norm(A, axis=0).sum())
    if kind == "nuclear":
        return float(np.linalg.svd(A, compute_uv=False).sum())
    raise ValueError(f"kind must be one of {sorted(PROJECTIONS)}, got {kind!r}")


def project(W, kind: str, eta: float) -> np.ndarray:
    """``PROJECTIONS[kind](W, eta)`` with the name checked."""
    if kind not in PROJECTIONS:
        raise ValueError(f"kind must be one of {sorted(PROJECTIONS)}, got {kind!r}")
    return PROJECTIONS[kind](W, eta)


def zero_columns(W, atol: float = 0.0) -> np.ndarray:
    """Boolean mask of the all-zero columns (``|W_ij| <= atol`` for every ``i``)."""
    A = _matrix(W)
    return np.all(np.abs(A) <= atol, axis=0)


def _project_(weight: torch.Tensor, kind: str, eta: float) -> None:
    with torch.no_grad():
        P = project(weight.detach().cpu().double().numpy(), kind, eta)
        weight.copy_(torch.from_numpy(P).to(weight))


def train_projected(
    model: nn.Module,
    train_data,
    constraints: dict,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    random_state: int = 0,
    masks: dict | None = None,
) -> list[float]:
    r"""Splitting projected gradient: an Adam step on the loss, then :math:`W \leftarrow P_C(W)`.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place on the CPU (cross-entropy), left in eval mode.
    train_data : pair (X, y)
    constraints : dict
        ``{parameter name: (kind, eta)}`` with ``kind`` in :data:`PROJECTIONS`; projected
        once before training and after every step.
    epochs, lr, batch_size, random_state : int, float, int, int
        As in :func:`parsimony.nn.train` (same Adam optimizer, same seeded batch order).
    masks : dict, optional
        ``{parameter name: bool tensor}``: gradients outside the mask are zeroed and the
        weights kept at zero there (the "double descent" retraining with a frozen zero
        pattern).

    Returns
    -------
    losses : list of float
        Mean training loss per epoch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = check_int(epochs, "epochs", low=0)
    lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
    batch_size = check_int(batch_size, "batch_size", low=1)
    random_state = check_int(random_state, "random_state", low=0)
    params = dict(model.named_parameters())
    if not isinstance(constraints, dict):
        raise TypeError("constraints must be a dict {parameter name: (kind, eta)}")
    for name, (kind, eta) in constraints.items():
        if name not in params:
            raise ValueError(f"constraints: no parameter named {name!r}")
        if kind not in PROJECTIONS:
            raise ValueError(f"constraints: kind must be one of {sorted(PROJECTIONS)}")
        check_float(eta, "eta", low=0.0)
    masks = {} if masks is None else dict(masks)
    for name in masks:
        if name not in params:
            raise ValueError(f"masks: no parameter named {name!r}")
    X = torch.as_tensor(np.asarray(train_data[0]), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(train_data[1]), dtype=torch.long)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    order = torch.Generator().manual_seed(random_state)
    n, losses = X.shape[0], []

    def constrain():
        with torch.no_grad():
            for name, m in masks.items():
                params[name].mul_(m.to(params[name]))
        for name, (kind, eta) in constraints.items():
            _project_(params[name], kind, float(eta))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        constrain()
        for _ in range(epochs):
            model.train()
            perm, total = torch.randperm(n, generator=order), 0.0
            for i in range(math.ceil(n / batch_size)):
                idx = perm[i * batch_size : (i + 1) * batch_size]
                loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for name, m in masks.items():
                    params[name].grad.mul_(m.to(params[name]))
                opt.step()
                constrain()
                total += loss.item() * len(idx)
            losses.append(total / n)
    model.eval()
    return losses
