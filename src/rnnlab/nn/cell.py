"""The cell contract shared by every recurrent cell in rnnlab.

A cell is one time step (Keras ``RNN`` cell contract, PyTorch ``RNNCell`` vs ``RNN``)::

    y_t, state_t = cell(x_t, state_{t-1})        x_t: (B, D)   y_t: (B, H)

and knows how to build its initial state. The step is written in two parts,
``forward(x_t, s) = recurrence(input_projection(x_t), s)``: the part of the equations that reads
only x_t (``x_t @ kernel + bias``) and the part that reads the previous state. The driver
computes the first for all T steps in one matrix product — what cuDNN does — and loops only over
the second. Everything about sequences (lengths, masking,
direction, layers) lives in the driver and the stacker, so a new cell only writes its equations.

Weights follow the lecture and Keras names: ``kernel`` (input -> gates, (D, G)),
``recurrent_kernel`` (hidden -> gates, (H, G)) and ``bias`` (G,). The one mapping to and from
PyTorch's ``weight_ih``/``weight_hh`` is in :mod:`rnnlab.nn.convert`.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn

Init = Literal["pytorch", "keras"]


class RecurrentCell(nn.Module):
    """Base class: subclasses set ``state_type`` and implement ``forward``.

    ``fused_mode`` names the fused PyTorch kernel that computes exactly this cell
    ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"), or ``None`` where no fused kernel exists. It is a
    property of the cell's *equations*, so the stacker can choose a backend without knowing
    any architecture's name.
    """

    state_type: ClassVar[type[NamedTuple]]

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, "
                f"got input_size={input_size}, hidden_size={hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size

    @property
    def output_size(self) -> int:
        return self.hidden_size

    @property
    def fused_mode(self) -> str | None:
        return None

    def initial_state(self, batch_size: int, like: Tensor) -> NamedTuple:
        """Zeros for every field, (B, H) each, on ``like``'s device and dtype."""
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return self.state_type(*(zeros for _ in self.state_type._fields))

    def input_projection(self, x: Tensor) -> Tensor:
        """(..., D) -> (..., G): the terms of the step that depend on the input alone."""
        return x

    def recurrence(self, p_t: Tensor, state: NamedTuple) -> tuple[Tensor, NamedTuple]:
        """One step from the projected input p_t (B, G) and the previous state."""
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: NamedTuple) -> tuple[Tensor, NamedTuple]:
        return self.recurrence(self.input_projection(x_t), state)

    def aux_loss(self, final_state: NamedTuple) -> Tensor | None:
        """An extra training cost read from the state at each sequence's end (ACT's ponder
        cost); None for a cell that has none."""
        return None


def init_gate_weights(
    kernel: Tensor,
    recurrent_kernel: Tensor,
    biases: list[Tensor],
    scheme: Init,
    gates: int,
) -> None:
    """Initialise a cell's weights in place.

    ``pytorch``: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.RNN/LSTM/GRU do, so a
    fresh cell behaves like a fresh torch module.
    ``keras``: kernel Glorot-uniform, recurrent kernel orthogonal per gate block, biases zero
    (Keras defaults; an LSTM's forget bias is set by the LSTM cell itself).
    """
    hidden = recurrent_kernel.shape[0]
    with torch.no_grad():
        if scheme == "pytorch":
            bound = 1.0 / math.sqrt(hidden)
            for tensor in (kernel, recurrent_kernel, *biases):
                tensor.uniform_(-bound, bound)
        elif scheme == "keras":
            nn.init.xavier_uniform_(kernel)
            for block in recurrent_kernel.split(hidden, dim=1):  # gates × (H, H)
                block.copy_(nn.init.orthogonal_(torch.empty_like(block)))
            for bias in biases:
                bias.zero_()
        else:
            raise ValueError(f"unknown init scheme {scheme!r}; expected 'pytorch' or 'keras'")
    assert kernel.shape[1] == gates * hidden, "kernel must be (D, gates·H)"
