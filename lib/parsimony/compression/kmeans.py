r"""Vectorised k-means (Lloyd) for weight blocks, with empty-cluster splitting.

The product-quantization codebooks of Stock et al., "And the Bit Goes Down: Revisiting the
Quantization of Neural Networks", ICLR 2020, and Fan et al. 2020 (iPQ) minimise the
weight-space objective

.. math:: J(C, a) = \sum_i \| x_i - c_{a_i} \|_2^2

over centroids :math:`C \in \mathbb{R}^{K \times d}` and assignments :math:`a`, as fairseq's
``pq/em.py`` does (not kill-the-bits' activation-weighted variant). Each iteration is

1. **E-step**: :math:`a_i = \arg\min_k \|x_i - c_k\|^2`, computed as
   :math:`\arg\max_k (x_i \cdot c_k - \|c_k\|^2/2)` by one matrix product per chunk of rows
   (no ``n x K`` distance matrix is ever held whole);
2. **empty clusters**: each empty cluster :math:`k` splits the most populated cluster
   :math:`m`: :math:`c_k = c_m + \epsilon e`, :math:`c_m \leftarrow c_m - \epsilon e` with a
   random direction :math:`e`, and the points of :math:`m` go to the nearer of the two
   (fairseq's rule, :math:`\epsilon = 10^{-6}`; it gives up after ``max_tentatives`` tries,
   e.g. when the cluster holds identical points, and the cluster stays empty);
3. **M-step**: :math:`c_k` = mean of its points.

The recorded objective (after each E-step) is non-increasing: the split only refines a
partition and the M-step is optimal for the partition. A final E-step makes the returned
assignments those of the returned centroids. Everything runs on the device of ``X``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from parsimony._validation import check_float, check_int, check_random_state
from parsimony.compression.layers import renamed_argument

#: rows per chunk of the E-step (a chunk's scores take chunk * K floats)
CHUNK = 1024


@dataclass
class KMeansResult:
    """Centroids (K, d), assignments (n,) int64, objective per iteration, empty clusters."""

    centroids: torch.Tensor
    assignments: torch.Tensor
    objective: list
    n_empty: int


def _as_points(X, name="X") -> torch.Tensor:
    if X is None or isinstance(X, str | bytes):
        raise TypeError(f"{name} must be a 2-D array or tensor, got {type(X).__name__}")
    if X.is_complex() if isinstance(X, torch.Tensor) else np.iscomplexobj(X):
        raise TypeError(f"{name} must be real, got complex values")
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numeric 2-D array, got {type(X).__name__}") from exc
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D array (n_points, dim), got {tuple(X.shape)}"
        )
    if not X.is_floating_point():
        X = X.float()
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


class _Assigner:
    """The E-step for fixed points ``X``: buffers allocated once, reused every iteration.

    The scores :math:`x_i \\cdot c_k - \\|c_k\\|^2/2` of a chunk of rows are one matrix
    product (the points carry an extra column of ones, the centroids their half norms); the
    objective is :math:`\\sum_i \\|x_i\\|^2 - 2 \\sum_i \\max_k \\text{score}_{ik}`,
    accumulated in float64. On the CPU the product and the row-wise argmax run in NumPy
    into preallocated buffers (several times faster than torch's argmax); on other devices
    in torch.
    """

    def __init__(self, X: torch.Tensor, chunk: int):
        self.X, self.chunk = X, chunk
        self.n, self.d = X.shape
        self.cpu = X.device.type == "cpu"
        if self.cpu:
            Xn = X.numpy()
            self.Xa = np.ones((self.n, self.d + 1), dtype=Xn.dtype)
            self.Xa[:, : self.d] = Xn
            self.sq = float(np.square(Xn, dtype=np.float64).sum())
        else:
            self.sq = float((X.double() ** 2).sum())

    def __call__(self, C: torch.Tensor):
        C = C.detach().to(device=self.X.device, dtype=self.X.dtype)
        n, k, chunk = self.n, C.shape[0], self.chunk
        if self.cpu:
            Cn = C.numpy()
            CaT = np.empty((self.d + 1, k), dtype=Cn.dtype)
            CaT[: self.d] = Cn.T
            CaT[self.d] = -0.5 * np.square(Cn).sum(1)
            scores = np.empty((min(chunk, n), k), dtype=Cn.dtype)
            flat = scores.reshape(-1)
            offsets = np.arange(min(chunk, n), dtype=np.int64) * k
            out = np.empty(n, dtype=np.int64)
            best = 0.0
            for i in range(0, n, chunk):
                m = min(chunk, n - i)
                np.matmul(self.Xa[i : i + m], CaT, out=scores[:m])
                a = out[i : i + m]
                np.argmax(scores[:m], axis=1, out=a)
                best += float(flat[offsets[:m] + a].sum(dtype=np.float64))
            return torch.from_numpy(out), max(self.sq - 2.0 * best, 0.0)
        half_norm = -0.5 * (C * C).sum(1)
        out = torch.empty(n, dtype=torch.int64, device=self.X.device)
        best = torch.zeros((), dtype=torch.float64, device=self.X.device)
        for i in range(0, n, chunk):
            val, a = torch.addmm(half_norm, self.X[i : i + chunk], C.T).max(1)
            out[i : i + chunk] = a
            best += val.sum(dtype=torch.float64)
        return out, max(self.sq - 2.0 * float(best), 0.0)


@torch.no_grad()
def assign(X: torch.Tensor, centroids: torch.Tensor, chunk: int = CHUNK):
    """Nearest centroid of every row of ``X`` and the total squared distance.

    One matrix product per chunk of rows: no ``n x K`` distance matrix is held whole.

    Returns
    -------
    assignments : torch.Tensor of int64, shape (n,)
    objective : float
        :math:`\\sum_i \\|x_i - c_{a_i}\\|^2`.

    Examples
    --------
    >>> a, j = assign(torch.tensor([[0.0], [0.9], [2.2]]), torch.tensor([[0.0], [2.0]]))
    >>> a.tolist(), round(j, 4)
    ([0, 0, 1], 0.85)
    """
    X = _as_points(X, "X")
    centroids = _as_points(centroids, "centroids").to(X.dtype)
    if centroids.shape[1] != X.shape[1]:
        raise ValueError(
            f"centroids have {centroids.shape[1]} columns but X has {X.shape[1]}: they must match"
        )
    chunk = check_int(chunk, "chunk", low=1)
    return _Assigner(X.detach(), chunk)(centroids)


def _split_empty(X, C, a, counts, eps, max_tentatives, gen):
    """Fill empty clusters by splitting the most populated ones (in place); return #left."""
    empty = torch.nonzero(counts == 0).flatten().tolist()
    left = 0
    for k in empty:
        for _ in range(max_tentatives):
            m = int(counts.argmax())
            e = torch.randn(C.shape[1], generator=gen).to(C) * eps
            members = torch.nonzero(a == m).flatten()
            side = ((X[members] - C[m]) @ e) > 0  # nearer to c_m + e than to c_m - e
            n_side = int(side.sum())
            if 0 < n_side < members.numel():
                C[k], C[m] = C[m] + e, C[m] - e
                a[members[side]] = k
                counts[k], counts[m] = n_side, members.numel() - n_side
                break
        else:
            left += 1
    return left


@torch.no_grad()
def kmeans(
    X,
    n_clusters: int,
    *,
    max_iter: int = 20,
    init="random",
    random_state=None,
    eps: float = 1e-6,
    max_tentatives: int = 100,
    chunk: int = CHUNK,
    callback=None,
    n_iter: int | None = None,
) -> KMeansResult:
    """Lloyd's k-means with empty-cluster splitting; see the module docstring.

    Parameters
    ----------
    X : array or tensor of shape (n_points, dim)
    n_clusters : int
        ``K <= n_points``.
    max_iter : int
        Iterations (E, split, M); a final E-step follows.
    init : "random" or array of shape (K, dim)
        ``"random"``: K distinct rows of ``X`` drawn with ``random_state``.
    random_state : None, int or numpy Generator
    eps, max_tentatives : float, int
        Empty-cluster splitting (fairseq's defaults).
    chunk : int
        Rows per E-step chunk.
    callback : callable, optional
        ``callback({"iteration": i, "objective": J})`` after each E-step.
    n_iter : int, optional
        Deprecated alias of ``max_iter`` (one release).

    Returns
    -------
    KMeansResult
        ``objective`` has ``n_iter + 1`` entries (the last after the final E-step).

    Examples
    --------
    >>> X = torch.cat([torch.zeros(5, 2), torch.ones(5, 2)])
    >>> r = kmeans(X, 2, max_iter=3, random_state=0)
    >>> sorted(r.centroids.sum(1).tolist()), round(r.objective[-1], 6)
    ([0.0, 2.0], 0.0)
    """
    X = _as_points(X)
    n, d = X.shape
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    if n_clusters > n:
        raise ValueError(f"n_clusters={n_clusters} exceeds the number of points ({n})")
    max_iter = check_int(renamed_argument(max_iter, n_iter, "max_iter", "n_iter"), "max_iter",
                         low=0)  # fmt: skip
    eps = check_float(eps, "eps", low=0.0, low_inclusive=False)
    max_tentatives = check_int(max_tentatives, "max_tentatives", low=1)
    chunk = check_int(chunk, "chunk", low=1)
    rng = check_random_state(random_state)
    if isinstance(init, str):
        if init != "random":
            raise ValueError(f"init must be 'random' or an array of shape (K, dim), got {init!r}")
        idx = np.sort(rng.choice(n, n_clusters, replace=False))
        C = X[torch.as_tensor(idx, device=X.device)].clone()
    else:
        C = _as_points(init, "init").to(X).clone()
        if C.shape != (n_clusters, d):
            raise ValueError(f"init must have shape ({n_clusters}, {d}), got {tuple(C.shape)}")
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    # M-step sums: per-dimension weighted bincounts on the CPU (faster than index_add_)
    XT = np.ascontiguousarray(X.numpy().T) if X.device.type == "cpu" else None
    objective, n_empty = [], 0
    estep = _Assigner(X, chunk)
    for it in range(max_iter + 1):
        a, j = estep(C)
        objective.append(j)
        if callback is not None:
            callback({"iteration": it, "objective": j})
        if it == max_iter:
            break
        counts = torch.bincount(a, minlength=n_clusters)
        n_empty = (
            _split_empty(X, C, a, counts, eps, max_tentatives, gen) if (counts == 0).any() else 0
        )
        if XT is not None:
            an = a.numpy()
            sums = torch.from_numpy(
                np.stack([np.bincount(an, weights=row, minlength=n_clusters) for row in XT], 1)
            ).to(C.dtype)
        else:
            sums = torch.zeros_like(C).index_add_(0, a, X)
        filled = counts > 0
        C[filled] = sums[filled] / counts[filled, None].to(C.dtype)
    return KMeansResult(C, a, objective, n_empty)
