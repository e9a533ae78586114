"""LSTM cell as the course writes it (Hochreiter & Schmidhuber 1997; Colah 2015).

    f_t  = σ(W_f·[h_{t-1}, x_t] + b_f)         forget gate
    i_t  = σ(W_i·[h_{t-1}, x_t] + b_i)         input gate
    C'_t = tanh(W_C·[h_{t-1}, x_t] + b_C)      candidate cell
    C_t  = f_t * C_{t-1} + i_t * C'_t          cell state
    o_t  = σ(W_o·[h_{t-1}, x_t] + b_o)         output gate
    h_t  = o_t * tanh(C_t)

``W_·[h, x]`` is split into an input part (``kernel``, (D, 4H)) and a recurrent part
(``recurrent_kernel``, (H, 4H)); the gate blocks are ordered i, f, g(=C'), o — PyTorch's order,
and Keras's i, f, c, o. One bias per gate: PyTorch's two redundant biases b_ih + b_hh add up to it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import Init, RecurrentCell, init_gate_weights

# Keras's unit_forget_bias: start with the forget gate open (σ(1) ≈ 0.73) so early gradients flow
# through C (Jozefowicz et al. 2015). Applied with init="keras" only; init="pytorch" mirrors nn.LSTM.
KERAS_FORGET_BIAS = 1.0


class LSTMState(NamedTuple):
    h: Tensor  # (B, H) hidden state h_t
    c: Tensor  # (B, H) cell state C_t


class LSTMCell(RecurrentCell):
    state_type = LSTMState

    def __init__(self, input_size: int, hidden_size: int, init: Init = "pytorch") -> None:
        super().__init__(input_size, hidden_size)
        gates = 4 * hidden_size
        self.kernel = nn.Parameter(torch.empty(input_size, gates))  # (D, 4H) blocks i,f,g,o
        self.recurrent_kernel = nn.Parameter(torch.empty(hidden_size, gates))  # (H, 4H)
        self.bias = nn.Parameter(torch.empty(gates))  # (4H,)
        init_gate_weights(self.kernel, self.recurrent_kernel, [self.bias], init, gates=4)
        if init == "keras":
            with torch.no_grad():
                self.bias[hidden_size : 2 * hidden_size].fill_(KERAS_FORGET_BIAS)

    @property
    def fused_mode(self) -> str:
        return "LSTM"

    def input_projection(self, x: Tensor) -> Tensor:
        return x @ self.kernel + self.bias  # input part of W_·[h, x] + b_·, all four gates  (..., 4H)

    def recurrence(self, p_t: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        h_prev, c_prev = state
        z = p_t + h_prev @ self.recurrent_kernel  # (B, 4H) W_·[h_{t-1}, x_t] + b_· for i, f, g, o
        i, f, g, o = z.chunk(4, dim=-1)  # (B, H) each
        i = torch.sigmoid(i)  # input gate i_t
        f = torch.sigmoid(f)  # forget gate f_t
        g = torch.tanh(g)  # candidate C'_t
        o = torch.sigmoid(o)  # output gate o_t
        c = f * c_prev + i * g  # C_t = f_t * C_{t-1} + i_t * C'_t
        h = o * torch.tanh(c)  # h_t = o_t * tanh(C_t)
        return h, LSTMState(h, c)
