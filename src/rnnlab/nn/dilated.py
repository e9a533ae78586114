"""Dilated RNN (Chang et al., NeurIPS 2017, arXiv 1710.02224) over any cell of the core.

Layer l has a dilated recurrent skip connection of rate s_l:

    c_t^{(l)} = f(x_t^{(l)}, c_{t - s_l}^{(l)})          (no link to c_{t-1} unless s_l = 1)

with x^{(l)} the output of layer l-1 and dilations usually 1, 2, 4, … . A layer of rate s is s
independent RNNs with shared weights, one over each phase x[j::s]. So the phases are *folded into
the batch* — (B, T, D) -> (B·s, ⌈T/s⌉, D), row b·s + j holding x[b, j::s] — and run as one ordinary
batch by the stacker (fused kernel where the cell has one); no Python loop over phases, and the
sequential depth of the layer is ⌈T/s⌉. Lengths: phase j of a sequence of length n has
⌈(n − j)/s⌉ steps; T not divisible by s is zero-padded at the end. Causal by construction.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.cell import RecurrentCell
from rnnlab.nn.sequence import check_batch, step_mask
from rnnlab.nn.stack import Backend, RecurrentStack


def fold(x: Tensor, rate: int) -> Tensor:
    """(B, T, D) -> (B·s, ⌈T/s⌉, D): row b·s + j is x[b, j::s], zero-padded at the end."""
    B, T, D = x.shape
    steps = -(-T // rate)
    x = F.pad(x, (0, 0, 0, steps * rate - T))  # (B, steps·s, D)
    return x.view(B, steps, rate, D).transpose(1, 2).reshape(B * rate, steps, D)


def unfold(y: Tensor, rate: int, T: int) -> Tensor:
    """Inverse of :func:`fold`: (B·s, ⌈T/s⌉, H) -> (B, T, H)."""
    Bs, steps, H = y.shape
    return y.view(Bs // rate, rate, steps, H).transpose(1, 2).reshape(Bs // rate, steps * rate, H)[:, :T]


def phase_lengths(lengths: Tensor, rate: int) -> Tensor:
    """(B,) -> (B·s,): phase j of a length-n sequence has ⌈(n − j)/s⌉ steps (at least 1: an empty
    phase runs one padded step whose outputs are masked away)."""
    j = torch.arange(rate)[None, :]  # (1, s)
    n = lengths.cpu()[:, None]  # (B, 1)
    return ((n - j + rate - 1) // rate).clamp(min=1).reshape(-1)


class DilatedRecurrence(nn.Module):
    """Layers of ``make_cell`` cells with dilations ``dilations``; forward -> (outputs (B, T, H), None).

    There is no single final state (a layer of rate s ends in s phase states); read the output at
    each sequence's last step instead, as the encoder does.
    """

    directions = 1
    bidirectional = False

    def __init__(
        self,
        make_cell: Callable[[int], RecurrentCell],
        input_size: int,
        dilations: list[int],
        dropout: float = 0.0,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        if not dilations or any(d < 1 for d in dilations):
            raise ValueError(f"DilatedRecurrence: dilations must be positive integers, got {dilations}")
        self.input_size, self.dilations, self.dropout = input_size, list(dilations), dropout
        layers, layer_input = [], input_size
        for _ in dilations:
            layers.append(RecurrentStack(make_cell, layer_input, num_layers=1, backend=backend))
            layer_input = layers[-1].output_size
        self.layers = nn.ModuleList(layers)

    @property
    def output_size(self) -> int:
        return self.layers[-1].output_size

    @property
    def backend(self) -> str:
        return self.layers[0].backend

    def forward(self, x: Tensor, lengths: Tensor, state=None, final_state: bool = True) -> tuple[Tensor, None]:
        """-> (outputs (B, T, H), None): no single final state, whatever ``final_state`` asks."""
        if state is not None:
            raise ValueError(
                "DilatedRecurrence: an initial state is not supported (each layer has one state per phase)"
            )
        check_batch(x, lengths, self.input_size, type(self).__name__)
        B, T, _ = x.shape
        mask = step_mask(lengths, T, x.device)[..., None]  # (B, T, 1)
        out = x
        for index, (layer, rate) in enumerate(zip(self.layers, self.dilations)):
            if index > 0 and self.dropout > 0:
                out = F.dropout(out, self.dropout, self.training)  # between layers only
            folded, _ = layer(fold(out, rate), phase_lengths(lengths, rate), final_state=False)  # (B·s, ⌈T/s⌉, H)
            out = unfold(folded, rate, T) * mask  # (B, T, H), zero on padding
        return out, None
