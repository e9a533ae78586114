"""Depth-Gated LSTM (Yao, Cohn, Vylomova, Duh, Dyer 2015, arXiv 1508.03790).

A stack of LSTM layers in which each layer's memory cell also receives, through a *depth gate*,
the memory cell of the layer below at the same time step — a linear, gated path across depth. For
layer L+1 with input x_t = h_t^L:

    i_t = σ(W_xi x_t + W_hi h_{t-1} [+ w_ci ⊙ c_{t-1}] + b_i)         input gate
    f_t = σ(W_xf x_t + W_hf h_{t-1} [+ w_cf ⊙ c_{t-1}] + b_f)         forget gate
    g_t = tanh(W_xc x_t + W_hc h_{t-1} + b_c)                          candidate
    d_t = σ(b_d + W_xd x_t + w_cd ⊙ c_{t-1}^{L+1} + w_ld ⊙ c_t^L)      depth gate
    c_t^{L+1} = d_t ⊙ c_t^L + f_t ⊙ c_{t-1}^{L+1} + i_t ⊙ g_t
    o_t = σ(W_xo x_t + W_ho h_{t-1} [+ w_co ⊙ c_t^{L+1}] + b_o)       output gate
    h_t^{L+1} = o_t ⊙ tanh(c_t^{L+1})

[…] are the optional diagonal peepholes (``peepholes=True``). The whole stack is one cell — one
time step of every layer — because layer L+1 needs layer L's cell at the *same* step; the state
holds every layer's h and c.

Choices where the paper and the authors' code (ws15mt/cnn ``dglstm.cc``) differ, stated:
- the forget gate is a separate gate, as in the paper (the C++ couples it, f = 1 − i);
- peepholes are diagonal (w ⊙ c), as in the paper (the C++ uses full matrices for i and o);
- the bottom layer has no layer below, so it is a plain (optionally peepholed) LSTM with no depth
  gate (the C++ feeds it a linear projection of the input as a "lower cell");
- no learned input "self-stabilizer" scalar (a C++-only addition);
- dropout (``dropout``) is applied to h between layers, as in a stacked LSTM;
- w_cd and w_ld start at zero, so the depth gate starts as σ(b_d + W_xd x_t).
Gate blocks are ordered i, f, g, o (, d): the LSTM part has PyTorch's layout, which the parity test
with torch.nn.LSTM relies on.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn.cell import Init, RecurrentCell, init_gate_weights
from rnnlab.nn.lstm import KERAS_FORGET_BIAS


class DGLSTMState(NamedTuple):
    h: Tensor  # (B, S, H) every layer's hidden state
    c: Tensor  # (B, S, H) every layer's memory cell


class DepthGatedLayer(nn.Module):
    """The weights of one layer; ``depth_gate`` adds the fifth gate block and w_cd, w_ld."""

    def __init__(self, input_size: int, hidden_size: int, depth_gate: bool, peepholes: bool, init: Init) -> None:
        super().__init__()
        gates = 5 if depth_gate else 4
        self.kernel = nn.Parameter(torch.empty(input_size, gates * hidden_size))  # (D, 4H or 5H) i,f,g,o(,d)
        self.recurrent_kernel = nn.Parameter(torch.empty(hidden_size, 4 * hidden_size))  # (H, 4H) i,f,g,o
        self.bias = nn.Parameter(torch.empty(gates * hidden_size))
        init_gate_weights(self.kernel, self.recurrent_kernel, [self.bias], init, gates=gates)
        if init == "keras":
            with torch.no_grad():
                self.bias[hidden_size : 2 * hidden_size].fill_(KERAS_FORGET_BIAS)
        if depth_gate:
            self.depth_cell_weight = nn.Parameter(torch.zeros(hidden_size))  # w_cd ⊙ c_{t-1}^{L+1}
            self.depth_lower_weight = nn.Parameter(torch.zeros(hidden_size))  # w_ld ⊙ c_t^L
        if peepholes:
            self.peephole = nn.Parameter(torch.zeros(3, hidden_size))  # w_ci, w_cf, w_co


class DepthGatedLSTMCell(RecurrentCell):
    state_type = DGLSTMState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        depth: int,
        peepholes: bool = False,
        dropout: float = 0.0,
        init: Init = "pytorch",
    ) -> None:
        super().__init__(input_size, hidden_size)
        if depth < 1:
            raise ValueError(f"DepthGatedLSTMCell: depth must be ≥ 1, got {depth}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"DepthGatedLSTMCell: dropout must be in [0, 1), got {dropout}")
        self.depth, self.peepholes, self.dropout = depth, peepholes, dropout
        self.layers = nn.ModuleList(
            DepthGatedLayer(
                input_size if l == 0 else hidden_size, hidden_size, depth_gate=l > 0, peepholes=peepholes, init=init
            )
            for l in range(depth)
        )

    def initial_state(self, batch_size: int, like: Tensor) -> DGLSTMState:
        zeros = like.new_zeros(batch_size, self.depth, self.hidden_size)  # (B, S, H)
        return DGLSTMState(zeros, zeros)

    def input_projection(self, x: Tensor) -> Tensor:
        bottom = self.layers[0]
        return x @ bottom.kernel + bottom.bias  # only the bottom layer reads x_t  (..., 4H)

    def recurrence(self, p_t: Tensor, state: DGLSTMState) -> tuple[Tensor, DGLSTMState]:
        h_prev, c_prev = state  # (B, S, H) each
        H = self.hidden_size
        hs, cs = [], []
        for l, layer in enumerate(self.layers):
            hp, cp = h_prev[:, l], c_prev[:, l]  # this layer at t-1  (B, H)
            if l == 0:
                zx = p_t  # (B, 4H)
            else:
                below = F.dropout(hs[-1], self.dropout, self.training)  # x_t = h_t^L
                zx = below @ layer.kernel + layer.bias  # (B, 5H): i, f, g, o, d
            i, f, g, o = (zx[:, : 4 * H] + hp @ layer.recurrent_kernel).chunk(4, dim=-1)
            if self.peepholes:
                i = i + layer.peephole[0] * cp  # w_ci ⊙ c_{t-1}
                f = f + layer.peephole[1] * cp  # w_cf ⊙ c_{t-1}
            c = torch.sigmoid(f) * cp + torch.sigmoid(i) * torch.tanh(g)  # f ⊙ c_{t-1} + i ⊙ g
            if l > 0:
                c_below = cs[-1]  # c_t^L
                d = torch.sigmoid(
                    zx[:, 4 * H :] + layer.depth_cell_weight * cp + layer.depth_lower_weight * c_below
                )  # depth gate d_t
                c = c + d * c_below  # + d ⊙ c_t^L: the gated path across depth
            if self.peepholes:
                o = o + layer.peephole[2] * c  # w_co ⊙ c_t
            hs.append(torch.sigmoid(o) * torch.tanh(c))  # h_t = o ⊙ tanh(c_t)
            cs.append(c)
        return hs[-1], DGLSTMState(torch.stack(hs, dim=1), torch.stack(cs, dim=1))
