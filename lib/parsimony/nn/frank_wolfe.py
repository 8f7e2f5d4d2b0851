"""Frank-Wolfe inner loop around any torch optimizer, and a Lookahead peer.

Yue, Li, Saligrama, Zhang, "RNN Training along Locally Optimal Trajectories via
Frank-Wolfe Algorithm", ICPR 2020, arXiv:2010.05397.

Each parameter tensor ``p`` is updated in cycles of ``T`` minibatch gradients. With the
inner index ``t = 1..T``, the anchor ``p0`` stored at ``t = 1`` and ``Delta_0 = 0``:

.. math::

    \\hat g_t = \\nabla p / (\\lVert \\nabla p \\rVert_F + \\epsilon), \\qquad
    \\Delta_t = (1 - 1/t)\\,\\Delta_{t-1} - (\\eta/t)\\,\\hat g_t,

which is Frank-Wolfe on the l2 ball of radius ``eta`` (``inner_lr``) around the anchor:
the linear minimisation oracle is ``s_t = -eta * g_hat_t`` and the step ``1/t``, so
``Delta_t = mean(s_1..s_t)``. Between inner steps the weights move to

* ``variant="code"`` (the official ``fgsm.py``): ``p_t = p_{t-1} + Delta_t``, so
  ``||p_t - p0|| <= eta * t``;
* ``variant="fw"`` (textbook Frank-Wolfe): ``p_t = p0 + Delta_t``, so ``||p_t - p0|| <= eta``.

At ``t = T`` the weights are restored to ``p0`` and the outer optimizer (Adam, SGD, any
``torch.optim.Optimizer``) takes one step on the pseudo-gradient ``-Delta_T / eta``, the
mean of the normalised inner gradients. With ``T = 1`` this is the outer optimizer fed
per-tensor normalised gradients. One outer step consumes ``T`` minibatch gradients.

Unlike the official code, the normalisation has an epsilon (no NaN on a zero gradient),
``p.grad`` is not overwritten before the outer step, and the anchor, the running mean of
the normalised gradients (``Delta_t = -eta * mean_t``) and the minibatch counter live in
``self.state`` (so ``state_dict`` resumes a run mid-cycle).

:class:`Lookahead` (Zhang, Lucas, Hinton, Ba, NeurIPS 2019, arXiv:1907.08610): ``k`` fast
steps of an inner optimizer, then the slow weights move ``alpha`` of the way to the fast
weights and the fast weights restart from them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from parsimony._validation import check_choice, check_float, check_int

VARIANTS = ("code", "fw")


def _make_outer(outer, params) -> torch.optim.Optimizer:
    if isinstance(outer, torch.optim.Optimizer):
        return outer
    if callable(outer):
        opt = outer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError("outer(params) must return a torch.optim.Optimizer")
        return opt
    raise TypeError(f"outer must be a torch optimizer or a factory, got {type(outer).__name__}")


class FrankWolfe(torch.optim.Optimizer):
    """The paper's Frank-Wolfe inner loop over ``T`` minibatches, then one outer step.

    Parameters
    ----------
    params : iterable of tensors
        The parameters (all of them must also be the outer optimizer's parameters).
    outer : callable or torch.optim.Optimizer
        ``outer(params) -> Optimizer`` (e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``) or
        an optimizer built on the same parameters.
    inner_lr : float
        Radius ``eta`` of the Frank-Wolfe ball (the paper's ``lr``).
    T : int
        Inner steps (minibatch gradients) per outer step.
    variant : {"code", "fw"}
        Accumulate ``p_t = p_{t-1} + Delta_t`` (official code) or ``p_t = p0 + Delta_t``.
    eps : float
        Added to the gradient norm before dividing.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = FrankWolfe([w], outer=lambda p: torch.optim.SGD(p, lr=0.1), inner_lr=0.01, T=2)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    >>> bool((w < 1).all())
    True
    """

    def __init__(self, params, outer, *, inner_lr: float = 1e-3, T: int = 1,
                 variant: str = "code", eps: float = 1e-12):  # fmt: skip
        inner_lr = check_float(inner_lr, "inner_lr", low=0.0, low_inclusive=False)
        T = check_int(T, "T", low=1)
        check_choice(variant, "variant", VARIANTS)
        eps = check_float(eps, "eps", low=0.0)
        super().__init__(params, {"inner_lr": inner_lr, "T": T, "variant": variant, "eps": eps})
        mine = [p for g in self.param_groups for p in g["params"]]
        self.outer = _make_outer(outer, mine)
        theirs = {id(p) for g in self.outer.param_groups for p in g["params"]}
        if any(id(p) not in theirs for p in mine):
            raise ValueError("outer must optimise every parameter of the FrankWolfe optimizer")
        self.state["counter"] = 0  # minibatch gradients consumed so far

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One inner step; every ``T``-th call restores the anchors and steps ``outer``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.state["counter"] += 1
        last = False
        for group in self.param_groups:
            eta, T, eps = group["inner_lr"], group["T"], group["eps"]
            t = (self.state["counter"] - 1) % T + 1
            last = last or t == T
            for p in group["params"]:
                st = self.state[p]
                if t == 1:
                    st["anchor"] = p.detach().clone()
                    st["mean"] = torch.zeros_like(p)
                mean = st["mean"]  # Delta_t = -eta * mean_t
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                mean.mul_(1 - 1 / t).add_(g / (torch.linalg.vector_norm(g) + eps), alpha=1 / t)
                if t == T:
                    p.copy_(st["anchor"])
                    p.grad = mean.clone()  # pseudo-gradient -Delta_T / eta
                elif group["variant"] == "code":
                    p.add_(mean, alpha=-eta)
                else:
                    p.copy_(st["anchor"]).add_(mean, alpha=-eta)
        if last:
            self.outer.step()
        return loss

    def state_dict(self) -> dict:
        return {"fw": super().state_dict(), "outer": self.outer.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict["fw"])
        self.outer.load_state_dict(state_dict["outer"])


class Lookahead(torch.optim.Optimizer):
    """Lookahead: ``k`` fast steps of ``inner``, then ``slow += alpha * (fast - slow)``.

    Parameters
    ----------
    params : iterable of tensors
    inner : callable or torch.optim.Optimizer
        ``inner(params) -> Optimizer`` or an optimizer on the same parameters.
    k : int
        Fast steps per slow update.
    alpha : float in (0, 1]
        Slow step size.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.ones(2))
    >>> opt = Lookahead([w], inner=lambda p: torch.optim.SGD(p, lr=0.1), k=2, alpha=0.5)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    >>> [round(v, 2) for v in w.tolist()]
    [0.82, 0.82]
    """

    def __init__(self, params, inner, *, k: int = 5, alpha: float = 0.5):
        k = check_int(k, "k", low=1)
        alpha = check_float(alpha, "alpha", low=0.0, high=1.0, low_inclusive=False)
        super().__init__(params, {"k": k, "alpha": alpha})
        mine = [p for g in self.param_groups for p in g["params"]]
        self.inner = _make_outer(inner, mine)
        self.state["counter"] = 0

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """One fast step; every ``k``-th call also updates the slow weights."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if "slow" not in self.state[p]:
                    self.state[p]["slow"] = p.detach().clone()
        self.inner.step()
        self.state["counter"] += 1
        for group in self.param_groups:
            if self.state["counter"] % group["k"]:
                continue
            for p in group["params"]:
                slow = self.state[p]["slow"]
                slow.add_(p - slow, alpha=group["alpha"])
                p.copy_(slow)
        return loss

    def state_dict(self) -> dict:
        return {"lookahead": super().state_dict(), "inner": self.inner.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict["lookahead"])
        self.inner.load_state_dict(state_dict["inner"])
