r"""Structured Multi-Hashing (SMH) and the HashedNets baseline.

Eban, Movshovitz-Attias, Wu, Sandler, Poon, Idelbayev, Carreira-Perpiñán, "Structured
Multi-Hashing for Model Compression", CVPR 2020 (arXiv 1911.11177); Chen, Wilson, Tyree,
Weinberger, Chen, "Compressing Neural Networks with the Hashing Trick", ICML 2015.

**SMH.** The kernels of the selected weight layers, in module registration order, are laid
end to end as one *virtual* vector of length :math:`N`; tensor :math:`t` owns the slice
:math:`[o_t, o_t + n_t)`. The virtual vector is the row-major flattening of one product

.. math::

    P = U V, \qquad U \in \mathbb{R}^{m \times r},\ V \in \mathbb{R}^{r \times m},\qquad
    m = \lceil \sqrt{N} \rceil,\ r = \lfloor f N / (2m) \rfloor,

so every trainable entry feeds a whole row or column of virtual weights and the trainable
count is :math:`2mr \le fN`. The weight of tensor :math:`t` is

.. math::

    W_t = c_t\, s_t\, \operatorname{reshape}\bigl(\operatorname{vec}(P)[o_t : o_t + n_t]\bigr),

with the fan-out constant :math:`c_t` (:math:`1/\sqrt{\text{out}}` for a dense kernel,
:math:`\sqrt{2/(k_h k_w\,\text{out})}` for a convolution) and an optional learnable scalar
:math:`s_t` (initialised to 1). :math:`U, V \sim \mathcal{N}(0, 1/\sqrt{r})` so that the
pool entries have unit variance. The **Kronecker** pool is
:math:`P = \sum_{i=1}^{q} A_i \otimes B_i` with :math:`A_i, B_i \in \mathbb{R}^{d \times d}`,
:math:`d = \lceil N^{1/4} \rceil`, :math:`q = \lfloor f N / (2 d^2) \rfloor`.

Each layer computes only the rows of :math:`P` that its slice touches, so one forward
computes :math:`P` once (plus at most one shared boundary row per layer), never once per
layer. Biases and normalisation parameters stay float and are stored (and counted).

**Storage** (:func:`parsimony.compression.pack`): the first compressed layer owns the pool
(:class:`SMHPool`: ``U`` and ``V`` or ``A`` and ``B``, kind ``"pool"``); every
:class:`SMHLayer` stores its bias and scalar. The slice table and the fan-out constants are
not stored: they are recomputed from the architecture and the order rule (the offsets are
in the JSON header, a few bytes).

**HashedNets** (:class:`HashedLayer`): layer :math:`l` has its own :math:`K_l` bucket values
:math:`w`; entry :math:`(i, j)` of its weight is :math:`\xi(i, j)\, w_{h(i, j)}` with a
random index hash :math:`h` (uniform over the buckets) and a random sign hash :math:`\xi`,
both drawn from ``torch.Generator`` seeds that are stored (two integers per layer).

The budget comparison (narrow and low-rank baselines, training sweeps, claim statistics)
lives in :mod:`parsimony.compression.experiments.smh`.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
from torch import nn

from parsimony._validation import check_choice, check_float, check_int
from parsimony.compression.layers import (
    CompressedLayer,
    layer_spec,
    select_kernel_layers,
    set_module,
    weight_shape,
)
from parsimony.compression.packing import register_compressed

POOLS = ("matmul", "kron")

_UNSET = object()


def _random_state(random_state, seed, where: str) -> int:
    """``random_state``, or the deprecated alias ``seed`` (with a FutureWarning)."""
    if seed is not _UNSET:
        warnings.warn(
            f"{where}(seed=) is deprecated: use random_state=", FutureWarning, stacklevel=3
        )
        random_state = seed
    return check_int(random_state, "random_state", low=0)


def _check_fraction(fraction) -> float:
    return check_float(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)


def pool_shape(n_virtual: int, fraction: float, pool: str = "matmul") -> dict:
    """Pool dimensions for ``n_virtual`` virtual weights at budget fraction ``fraction``.

    Returns ``{"pool", "m", "r", "n_trainable"}``: for ``"matmul"``, ``m = ceil(sqrt(N))``
    (the side of ``U V``) and ``r = floor(f N / (2 m))``; for ``"kron"``, ``m = d**2`` with
    ``d = ceil(N ** 0.25)`` and ``r`` the number of Kronecker terms ``floor(f N / (2 d**2))``.

    Raises
    ------
    ValueError
        ``fraction`` outside (0, 1], or so small that ``r = 0`` (the message gives the
        smallest feasible fraction).

    Examples
    --------
    >>> pool_shape(10000, 0.1)
    {'pool': 'matmul', 'm': 100, 'r': 5, 'n_trainable': 1000}
    >>> pool_shape(10000, 0.1, "kron")
    {'pool': 'kron', 'm': 100, 'r': 5, 'n_trainable': 1000}
    """
    n_virtual = check_int(n_virtual, "n_virtual", low=1)
    fraction = _check_fraction(fraction)
    check_choice(pool, "pool", POOLS)
    if pool == "matmul":
        m = math.isqrt(n_virtual - 1) + 1
        side = m  # U is m x r
    else:
        d = 1
        while d**4 < n_virtual:
            d += 1
        m, side = d * d, d * d  # A_i, B_i are d x d: 2 d^2 values per term
    r = int(math.floor(fraction * n_virtual / (2 * side)))
    if r == 0:
        raise ValueError(
            f"fraction={fraction} is too low for {n_virtual} virtual weights: it gives r = 0 "
            f"(no replicas); the smallest feasible fraction is {2 * side / n_virtual:.4g}"
        )
    return {"pool": pool, "m": m, "r": r, "n_trainable": 2 * side * r}


def fanout_scale(spec) -> float:
    """The fan-out constant of a layer: ``1/sqrt(out)`` (dense), ``sqrt(2/(k out))`` (conv).

    Examples
    --------
    >>> fanout_scale({"type": "linear", "in_features": 4, "out_features": 16})
    0.25
    """
    shape = weight_shape(spec)
    if spec["type"] == "linear":
        return 1.0 / math.sqrt(shape[0])
    if spec["type"] in ("conv1d", "conv2d"):
        return math.sqrt(2.0 / (math.prod(shape[2:]) * shape[0]))
    raise TypeError(f"SMH handles linear and convolution layers, got {spec['type']!r}")


class SMHPool(nn.Module):
    """The shared trainable pool: ``U @ V`` (``"matmul"``) or ``sum_i A_i kron B_i``.

    Parameters
    ----------
    pool : {"matmul", "kron"}
    m : int
        Side of the square product (``m**2 >= N``; for ``"kron"``, ``m = d**2``).
    r : int
        Inner dimension (``"matmul"``) or number of Kronecker terms (``"kron"``).
    random_state : int
        Seed of the initialisation (its own generator; the global state is untouched).
    seed : int
        Deprecated alias of ``random_state``, kept for one release.
    """

    def __init__(self, pool: str, m: int, r: int, random_state: int = 0, *, seed=_UNSET):
        super().__init__()
        check_choice(pool, "pool", POOLS)
        self.pool, self.m, self.r = pool, int(m), int(r)
        gen = torch.Generator().manual_seed(_random_state(random_state, seed, "SMHPool"))
        if pool == "matmul":
            sigma = (1.0 / math.sqrt(r)) ** 0.5  # entries of U V have unit variance
            self.U = nn.Parameter(torch.randn(m, r, generator=gen) * sigma)
            self.V = nn.Parameter(torch.randn(r, m, generator=gen) * sigma)
        else:
            d = math.isqrt(m)
            sigma = r ** (-0.25)
            self.A = nn.Parameter(torch.randn(r, d, d, generator=gen) * sigma)
            self.B = nn.Parameter(torch.randn(r, d, d, generator=gen) * sigma)

    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def rows(self, a0: int, a1: int) -> torch.Tensor:
        """Rows ``a0:a1`` of the pool matrix, (a1 - a0, m)."""
        if self.pool == "matmul":
            return self.U[a0:a1] @ self.V
        d = self.A.shape[1]
        idx = torch.arange(a0, a1, device=self.A.device)
        a_rows = self.A[:, idx // d, :]  # (q, rows, d)
        b_rows = self.B[:, idx % d, :]
        return torch.einsum("qrj,qrk->rjk", a_rows, b_rows).reshape(a1 - a0, d * d)

    def matrix(self) -> torch.Tensor:
        """The whole pool matrix (m, m)."""
        return self.rows(0, self.m)

    def state_arrays(self) -> dict:
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.named_parameters()}


@register_compressed("smh")
class SMHLayer(CompressedLayer):
    """A weight layer whose kernel is a slice of a shared :class:`SMHPool`.

    Parameters
    ----------
    spec : dict
        :func:`~parsimony.compression.layer_spec` of the replaced layer.
    pool : SMHPool
        The shared pool; ``owner=True`` registers it as this layer's submodule (the first
        compressed layer owns it, the others keep a reference).
    offset : int
        Start of the layer's slice in the virtual vector.
    bias : tensor, optional
    scalar : bool
        Add a learnable per-tensor scalar (initialised to 1).
    owner : bool
    """

    def __init__(self, spec, pool: SMHPool, offset: int, bias=None, scalar=False, owner=False):
        super().__init__(spec, bias)
        self.offset = int(offset)
        self.numel = math.prod(self.weight_shape)
        self.fanout = fanout_scale(self.spec)
        self.owner = bool(owner)
        self._pool = [pool]
        if owner:
            self.pool = pool
        self.scalar = nn.Parameter(torch.ones(())) if scalar else None

    def link_(self, pool: SMHPool) -> None:
        self._pool = [pool]

    def dense_weight(self) -> torch.Tensor:
        pool = self._pool[0]
        m = pool.m
        a0, a1 = self.offset // m, (self.offset + self.numel - 1) // m + 1
        start = self.offset - a0 * m
        w = pool.rows(a0, a1).reshape(-1)[start : start + self.numel].view(self.weight_shape)
        w = w * self.fanout
        return w * self.scalar if self.scalar is not None else w

    def pack_state(self):
        arrays, kinds = {}, {}
        if self.owner:
            for k, v in self.pool.state_arrays().items():
                arrays[f"pool.{k}"], kinds[f"pool.{k}"] = v, "pool"
        if self.scalar is not None:
            arrays["scalar"] = self.scalar.detach().cpu().numpy().astype(np.float32).reshape(1)
            kinds["scalar"] = "scale"
        self._pack_bias(arrays, kinds)
        meta = {"spec": self.spec, "offset": self.offset, "owner": self.owner}
        if self.owner:
            meta.update(pool=self.pool.pool, m=self.pool.m, r=self.pool.r)
        return arrays, kinds, meta

    @classmethod
    def unpack_state(cls, arrays, meta):
        if meta["owner"]:
            pool = SMHPool(meta["pool"], meta["m"], meta["r"])
            with torch.no_grad():
                for k, p in pool.named_parameters():
                    p.copy_(torch.from_numpy(np.array(arrays[f"pool.{k}"], np.float32)))
        else:
            pool = None  # linked by link_smh after the whole model is rebuilt
        layer = cls(
            meta["spec"], pool, meta["offset"], cls._unpack_bias(arrays), "scalar" in arrays,
            meta["owner"],
        )  # fmt: skip
        if "scalar" in arrays:
            with torch.no_grad():
                layer.scalar.copy_(torch.from_numpy(np.array(arrays["scalar"])).reshape(()))
        return layer

    @staticmethod
    def link_model_(model: nn.Module) -> None:
        """Called by :func:`~parsimony.compression.unpack`: see :func:`link_smh`."""
        link_smh(model)


def link_smh(model: nn.Module) -> nn.Module:
    """Point every :class:`SMHLayer` at the pool that the owner layer holds (after unpack)."""
    layers = [m for m in model.modules() if isinstance(m, SMHLayer)]
    owners = [m for m in layers if m.owner]
    if layers and len(owners) != 1:
        raise ValueError(f"model must hold exactly one SMH pool owner, found {len(owners)}")
    for m in layers:
        m.link_(owners[0].pool)
    return model


def smh_model(
    model: nn.Module,
    fraction: float,
    *,
    pool: str = "matmul",
    scalar: bool = False,
    layers=None,
    exclude=None,
    random_state: int = 0,
    seed=_UNSET,
) -> nn.Module:
    """A copy of ``model`` whose selected kernels are slices of one SMH pool.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified. Its ``Linear`` / ``Conv1d`` / ``Conv2d`` kernels (module order) form the
        virtual vector; biases and normalisation layers stay float.
    fraction : float in (0, 1]
        Budget ``f``: the pool holds ``2 m r <= f N`` trainable values.
    pool : {"matmul", "kron"}
    scalar : bool
        A learnable scalar per tensor (``VAR_FANOUT``).
    layers, exclude : fnmatch patterns, optional
        As in :func:`~parsimony.compression.select_layers`.
    random_state : int
        Seed of the pool's initialisation.
    seed : int
        Deprecated alias of ``random_state``, kept for one release.

    Returns
    -------
    torch.nn.Module
        With attribute ``smh_info_`` (``N``, ``m``, ``r``, ``n_trainable``, ``offsets``).

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> net = build_model("mlp", in_features=40, hidden=[64, 64])
    >>> small = smh_model(net, 0.1)
    >>> small.smh_info_["n_trainable"] <= 0.1 * small.smh_info_["N"]
    True
    >>> small(torch.zeros(2, 40)).shape
    torch.Size([2, 10])
    """
    chosen = select_kernel_layers(model, layers, exclude, method="smh")
    random_state = _random_state(random_state, seed, "smh_model")
    n_virtual = sum(math.prod(m.weight.shape) for _, m in chosen)
    shape = pool_shape(n_virtual, fraction, pool)
    shared = SMHPool(pool, shape["m"], shape["r"], random_state=random_state)
    out = copy.deepcopy(model).cpu()
    offset, offsets = 0, {}
    for i, (name, mod) in enumerate(chosen):
        spec = layer_spec(mod, name)
        layer = SMHLayer(spec, shared, offset, mod.bias, scalar=scalar, owner=i == 0)
        set_module(out, name, layer)
        offsets[name] = (offset, layer.numel)
        offset += layer.numel
    out.smh_info_ = {
        "N": n_virtual,
        "m": shape["m"],
        "r": shape["r"],
        "pool": pool,
        "n_trainable": shape["n_trainable"] + (len(chosen) if scalar else 0),
        "offsets": offsets,
    }
    return out


def _hash_seeds(seed: int, index: int) -> tuple[int, int]:
    """The index-hash and sign-hash seeds of layer ``index`` (deterministic in ``seed``)."""
    rng = np.random.default_rng([int(seed), int(index)])
    a, b = rng.integers(0, 2**31 - 1, size=2)
    return int(a), int(b)


def hash_indices(numel: int, n_buckets: int, index_seed: int, sign_seed: int):
    """HashedNets' index hash (uniform over ``n_buckets``) and sign hash (+-1), int64 and float.

    Examples
    --------
    >>> h, s = hash_indices(6, 3, 1, 2)
    >>> h.shape, bool(((h >= 0) & (h < 3)).all()), sorted(set(s.tolist())) <= [-1.0, 1.0]
    (torch.Size([6]), True, True)
    """
    gi = torch.Generator().manual_seed(int(index_seed))
    gs = torch.Generator().manual_seed(int(sign_seed))
    idx = torch.randint(0, int(n_buckets), (int(numel),), generator=gi)
    sign = torch.randint(0, 2, (int(numel),), generator=gs).to(torch.float32) * 2 - 1
    return idx, sign


@register_compressed("hashednets")
class HashedLayer(CompressedLayer):
    """HashedNets: ``W[i, j] = sign(i, j) * buckets[h(i, j)]`` with stored hash seeds.

    Parameters
    ----------
    spec : dict
    buckets : tensor (K,)
        Trainable bucket values.
    index_seed, sign_seed : int
        Seeds of the index and sign hashes.
    bias : tensor, optional
    """

    def __init__(self, spec, buckets, index_seed: int, sign_seed: int, bias=None):
        super().__init__(spec, bias)
        self.buckets = nn.Parameter(torch.as_tensor(buckets, dtype=torch.float32).clone())
        self.index_seed, self.sign_seed = int(index_seed), int(sign_seed)
        idx, sign = hash_indices(
            math.prod(self.weight_shape), self.buckets.numel(), index_seed, sign_seed
        )
        self.register_buffer("idx", idx, persistent=False)
        self.register_buffer("sign", sign, persistent=False)

    def dense_weight(self) -> torch.Tensor:
        return (self.buckets[self.idx] * self.sign).view(self.weight_shape)

    def pack_state(self):
        arrays = {
            "buckets": self.buckets.detach().cpu().numpy().astype(np.float32),
            "seeds": np.array([self.index_seed, self.sign_seed], np.int32),
        }
        kinds = {"buckets": "buckets", "seeds": "seed"}
        self._pack_bias(arrays, kinds)
        return arrays, kinds, {"spec": self.spec}

    @classmethod
    def unpack_state(cls, arrays, meta):
        s = np.array(arrays["seeds"]).tolist()
        return cls(meta["spec"], torch.from_numpy(np.array(arrays["buckets"])), s[0], s[1],
                   cls._unpack_bias(arrays))  # fmt: skip


def split_budget(sizes, budget: int) -> list[int]:
    """Split ``budget`` values over layers in proportion to ``sizes`` (each >= 1, sum <= budget).

    Examples
    --------
    >>> split_budget([100, 300], 40)
    [10, 30]
    """
    sizes = np.asarray(sizes, np.int64)
    budget = check_int(budget, "budget", low=len(sizes))
    k = np.maximum(1, np.floor(sizes * budget / sizes.sum())).astype(np.int64)
    while k.sum() > budget:  # only when many layers hit the floor of 1
        k[np.argmax(k)] -= 1
    return [int(v) for v in np.minimum(k, sizes)]


def hashednets_model(
    model: nn.Module,
    fraction: float | None = None,
    *,
    budget: int | None = None,
    layers=None,
    exclude=None,
    random_state: int = 0,
    seed=_UNSET,
) -> nn.Module:
    """A copy of ``model`` with HashedNets layers: ``fraction * N`` (or ``budget``) buckets.

    The buckets are split over the layers in proportion to their sizes; bucket values start
    from PyTorch's default uniform initialisation of the layer (bound ``1/sqrt(fan_in)``).
    Pass ``budget=smh.smh_info_["n_trainable"]`` to match an SMH model exactly.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified; its ``Linear`` / ``Conv1d`` / ``Conv2d`` kernels are hashed.
    fraction : float in (0, 1], optional
        Buckets in all: ``floor(fraction * N)``.
    budget : int, optional
        Buckets in all (instead of ``fraction``).
    layers, exclude : fnmatch patterns, optional
    random_state : int
        Seed of the bucket initialisation and of the per-layer hash seeds.
    seed : int
        Deprecated alias of ``random_state``, kept for one release.

    Examples
    --------
    >>> from parsimony.nn import build_model
    >>> net = build_model("mlp", in_features=40, hidden=[64])
    >>> h = hashednets_model(net, 0.1)
    >>> sum(m.buckets.numel() for m in h.modules() if isinstance(m, HashedLayer)) <= 0.1 * (40 * 64 + 640)
    True
    """
    chosen = select_kernel_layers(model, layers, exclude, method="hashednets")
    random_state = _random_state(random_state, seed, "hashednets_model")
    sizes = [math.prod(m.weight.shape) for _, m in chosen]
    if budget is None:
        if fraction is None:
            raise ValueError("fraction or budget must be given")
        budget = int(math.floor(_check_fraction(fraction) * sum(sizes)))
    per_layer = split_budget(sizes, budget)
    out = copy.deepcopy(model).cpu()
    gen = torch.Generator().manual_seed(random_state)
    for i, ((name, mod), k) in enumerate(zip(chosen, per_layer, strict=True)):
        fan_in = math.prod(mod.weight.shape[1:])
        init = (torch.rand(k, generator=gen) * 2 - 1) / math.sqrt(fan_in)
        a, b = _hash_seeds(random_state, i)
        set_module(out, name, HashedLayer(layer_spec(mod, name), init, a, b, mod.bias))
    return out
