"""Small stacked recurrent models for sequence classification and regression.

:class:`SequenceRNN` reads a batch of sequences ``(n, steps, features)`` (a 2-D input
``(n, steps)`` is read as one feature per step) with a stacked GRU (Cho et al., 2014) or
tanh RNN (Elman, 1990) and maps the last hidden state to ``n_outputs`` values: logits for
a classifier, one value for a regression such as the adding problem. Used by the
Frank-Wolfe RNN experiments (Yue et al., ICPR 2020, arXiv:2010.05397).
"""

from __future__ import annotations

import torch
from torch import nn

from parsimony._validation import check_choice, check_int

CELLS = {"gru": nn.GRU, "rnn": nn.RNN}


class SequenceRNN(nn.Module):
    """Stacked GRU or tanh RNN with a linear head on the last hidden state.

    Parameters
    ----------
    in_features : int
        Features per time step.
    n_outputs : int
        Outputs of the linear head (classes, or 1 for a regression).
    hidden : int
        Hidden units per layer.
    n_layers : int
        Stacked recurrent layers.
    cell : {"gru", "rnn"}
        GRU, or Elman RNN with tanh.

    Examples
    --------
    >>> model = SequenceRNN(1, 10, hidden=8, n_layers=2)
    >>> model(torch.zeros(3, 64, 1)).shape
    torch.Size([3, 10])
    >>> model.config
    {'in_features': 1, 'n_outputs': 10, 'hidden': 8, 'n_layers': 2, 'cell': 'gru'}
    """

    def __init__(self, in_features: int, n_outputs: int = 10, hidden: int = 32,
                 n_layers: int = 1, cell: str = "gru"):  # fmt: skip
        super().__init__()
        check_choice(cell, "cell", CELLS)
        self.config = {
            "in_features": check_int(in_features, "in_features", low=1),
            "n_outputs": check_int(n_outputs, "n_outputs", low=1),
            "hidden": check_int(hidden, "hidden", low=1),
            "n_layers": check_int(n_layers, "n_layers", low=1),
            "cell": cell,
        }
        self.rnn = CELLS[cell](in_features, hidden, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        if x.dim() != 3 or x.shape[-1] != self.config["in_features"]:
            raise ValueError(
                f"x must have shape (n, steps, {self.config['in_features']}), got {tuple(x.shape)}"
            )
        out, _ = self.rnn(x)
        return self.head(out[:, -1])
