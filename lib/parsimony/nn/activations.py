r"""Learnable piecewise-linear activations: LMA and APL.

**LMA** (Xu, Ke, Zhang, Bian & Liu, "Light Multi-segment Activation for Model Compression",
AAAI 2020, arXiv:1907.06870). A continuous piecewise-linear function with ``K`` cut points
:math:`c_1 < \dots < c_K` and ``K + 1`` learnable slopes :math:`a_0, \dots, a_K`:

.. math:: f(x) = a_0 x + \sum_{j=1}^{K} (a_j - a_{j-1})\, \mathrm{relu}(x - c_j),

so :math:`f` has slope :math:`a_j` on :math:`(c_j, c_{j+1})`. The cut points come from the
statistics of the pre-activation, :math:`c_j = \mu + \sigma q_j` with fixed offsets
:math:`q_j` (ours: ``K`` evenly spaced values in :math:`[-2, 2]`; the paper's formula is
unverified). :math:`\mu, \sigma` are exponential moving averages updated in train mode only
and frozen in eval mode, as in batch normalisation. The slopes start as a ReLU hinged at the
middle cut point. Per layer: ``K + 1`` parameters and 2 buffers.

**APL** (Agostinelli, Hoffman, Sadowski & Baldi, "Learning Activation Functions to Improve
Deep Neural Networks", ICLR 2015 workshop, arXiv:1412.6830): per unit ``i``,
:math:`h_i(x) = \mathrm{relu}(x) + \sum_{s=1}^{S} a_i^s\, \mathrm{relu}(-x + b_i^s)`.
"""

from __future__ import annotations

import torch
from torch import nn

from parsimony._validation import check_float, check_int

__all__ = ["ACTIVATIONS", "APL", "LMA", "hinge_sum"]


def hinge_sum(x: torch.Tensor, slopes: torch.Tensor, cuts: torch.Tensor) -> torch.Tensor:
    r""":math:`a_0 x + \sum_j (a_j - a_{j-1})\,\mathrm{relu}(x - c_j)` (the LMA formula)."""
    out = slopes[0] * x
    for j in range(cuts.numel()):
        out = out + (slopes[j + 1] - slopes[j]) * torch.relu(x - cuts[j])
    return out


class LMA(nn.Module):
    r"""Light multi-segment activation (see the module docstring).

    Parameters
    ----------
    n_cuts : int
        ``K``, the number of cut points (``K + 1`` linear pieces).
    momentum : float
        Weight of the new batch in the running mean and standard deviation.
    span : float
        The offsets :math:`q_j` are ``K`` evenly spaced values in ``[-span, span]``.

    Examples
    --------
    >>> act = LMA(4).eval()
    >>> act.cuts()
    tensor([-2.0000, -0.6667,  0.6667,  2.0000])
    >>> act(torch.tensor([-5.0, 5.0])).detach()
    tensor([0.0000, 4.3333])
    """

    def __init__(self, n_cuts: int = 4, momentum: float = 0.1, span: float = 2.0):
        super().__init__()
        self.n_cuts = check_int(n_cuts, "n_cuts", low=1)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        span = check_float(span, "span", low=0.0, low_inclusive=False)
        self.register_buffer("offsets", torch.linspace(-span, span, self.n_cuts))
        self.register_buffer("running_mean", torch.zeros(()))
        self.register_buffer("running_std", torch.ones(()))
        slopes = torch.zeros(self.n_cuts + 1)
        slopes[self.n_cuts // 2 + 1 :] = 1.0
        self.slopes = nn.Parameter(slopes)

    def cuts(self) -> torch.Tensor:
        """The current cut points :math:`\\mu + \\sigma q_j` (increasing)."""
        return self.running_mean + self.running_std * self.offsets

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(m * x.mean())
                self.running_std.mul_(1 - m).add_(m * x.std(unbiased=False).clamp_min(1e-5))
        return hinge_sum(x, self.slopes, self.cuts())

    def extra_repr(self) -> str:
        return f"n_cuts={self.n_cuts}, momentum={self.momentum}"


class APL(nn.Module):
    r"""Adaptive piecewise-linear unit, ``S`` hinges per unit (see the module docstring).

    Parameters
    ----------
    num_features : int
        Units (the last input dimension).
    n_hinges : int
        ``S``.

    Examples
    --------
    >>> APL(3)(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """

    def __init__(self, num_features: int, n_hinges: int = 2):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", low=1)
        self.n_hinges = check_int(n_hinges, "n_hinges", low=1)
        g = torch.Generator().manual_seed(0)
        self.a = nn.Parameter(0.1 * torch.randn(self.n_hinges, self.num_features, generator=g))
        self.b = nn.Parameter(0.5 * torch.randn(self.n_hinges, self.num_features, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(x)
        for s in range(self.n_hinges):
            out = out + self.a[s] * torch.relu(self.b[s] - x)
        return out


#: name -> activation class (``relu``, ``prelu``, ``apl``, ``lma``)
ACTIVATIONS = {"relu": nn.ReLU, "prelu": nn.PReLU, "apl": APL, "lma": LMA}
