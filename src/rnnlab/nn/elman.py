"""Elman (simple) RNN cell, in the notation of Goodfellow et al. §10.2.

    a_t = b + W h_{t-1} + U x_t          (10.8)
    h_t = tanh(a_t)                        (10.9)

The output layer o_t = c + V h_t belongs to the task head, not to the cell. Stored in Keras
layout: ``kernel`` = Uᵀ (D, H), ``recurrent_kernel`` = Wᵀ (H, H), ``bias`` = b (H,).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import Init, RecurrentCell, init_gate_weights


class ElmanState(NamedTuple):
    h: Tensor  # (B, H)


class ElmanCell(RecurrentCell):
    """h_t = φ(U x_t + W h_{t-1} + b), φ = tanh (or relu, as torch.nn.RNN allows)."""

    state_type = ElmanState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        init: Init = "pytorch",
    ) -> None:
        super().__init__(input_size, hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"ElmanCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.kernel = nn.Parameter(torch.empty(input_size, hidden_size))  # Uᵀ (D, H)
        self.recurrent_kernel = nn.Parameter(torch.empty(hidden_size, hidden_size))  # Wᵀ (H, H)
        self.bias = nn.Parameter(torch.empty(hidden_size))  # b (H,)
        init_gate_weights(self.kernel, self.recurrent_kernel, [self.bias], init, gates=1)

    @property
    def fused_mode(self) -> str:
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def input_projection(self, x: Tensor) -> Tensor:
        return x @ self.kernel + self.bias  # b + U x_t  (..., H)

    def recurrence(self, p_t: Tensor, state: ElmanState) -> tuple[Tensor, ElmanState]:
        (h_prev,) = state
        a = p_t + h_prev @ self.recurrent_kernel  # (10.8) a_t = b + W h_{t-1} + U x_t  (B, H)
        h = torch.tanh(a) if self.nonlinearity == "tanh" else torch.relu(a)  # (10.9)
        return h, ElmanState(h)
