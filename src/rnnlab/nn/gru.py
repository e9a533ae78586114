"""GRU cell in the two conventions a student meets.

``convention="course"`` — Cho et al. 2014 / Chung et al. 2014 / Colah, as the lecture writes it:

    z_t = σ(W_z·[h_{t-1}, x_t] + b_z)                 update gate
    r_t = σ(W_r·[h_{t-1}, x_t] + b_r)                 reset gate
    h~_t = tanh(W·[r_t * h_{t-1}, x_t] + b_h)         reset applied BEFORE the product
    h_t = (1 - z_t) * h_{t-1} + z_t * h~_t            z takes the NEW state

``convention="pytorch"`` — torch.nn.GRU / cuDNN / Keras ``reset_after=True``:

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))   reset applied AFTER the product
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}                        z keeps the OLD state

Deviation, on purpose: the two are different models. The z-convention alone is a
reparametrisation (1 - σ(a) = σ(-a)); the reset position is not, because W(r*h) ≠ r*(W h) unless
W_hn is diagonal (and b_hn = 0). Only the pytorch convention has a fused kernel, which is why it
exists here. Layout for both: ``kernel`` (D, 3H) and ``recurrent_kernel`` (H, 3H) with gate blocks
ordered r, z, n (PyTorch's order); ``bias`` (3H,) is the input-side bias; the pytorch convention
adds ``recurrent_bias`` (3H,), since b_hn sits inside the reset product and cannot be merged.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import Init, RecurrentCell, init_gate_weights

Convention = Literal["course", "pytorch"]


class GRUState(NamedTuple):
    h: Tensor  # (B, H)


class GRUCell(RecurrentCell):
    state_type = GRUState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        convention: Convention = "course",
        init: Init = "pytorch",
    ) -> None:
        super().__init__(input_size, hidden_size)
        if convention not in ("course", "pytorch"):
            raise ValueError(f"GRUCell: convention must be 'course' or 'pytorch', got {convention!r}")
        self.convention = convention
        gates = 3 * hidden_size
        self.kernel = nn.Parameter(torch.empty(input_size, gates))  # (D, 3H) blocks r,z,n
        self.recurrent_kernel = nn.Parameter(torch.empty(hidden_size, gates))  # (H, 3H)
        self.bias = nn.Parameter(torch.empty(gates))  # (3H,)
        biases = [self.bias]
        if convention == "pytorch":
            self.recurrent_bias = nn.Parameter(torch.empty(gates))  # (3H,) b_hr|b_hz|b_hn
            biases.append(self.recurrent_bias)
        init_gate_weights(self.kernel, self.recurrent_kernel, biases, init, gates=3)

    @property
    def fused_mode(self) -> str | None:
        return "GRU" if self.convention == "pytorch" else None

    def input_projection(self, x: Tensor) -> Tensor:
        return x @ self.kernel + self.bias  # input part of every gate  (..., 3H)

    def recurrence(self, gx: Tensor, state: GRUState) -> tuple[Tensor, GRUState]:
        (h_prev,) = state
        H = self.hidden_size
        if self.convention == "course":
            gh_rz = h_prev @ self.recurrent_kernel[:, : 2 * H]  # (B, 2H)
            r, z = (gx[:, : 2 * H] + gh_rz).sigmoid().chunk(2, dim=-1)  # reset r_t, update z_t
            h_tilde = torch.tanh(gx[:, 2 * H :] + (r * h_prev) @ self.recurrent_kernel[:, 2 * H :])  # h~_t
            h = (1 - z) * h_prev + z * h_tilde  # h_t: z takes the new state
        else:
            gh = h_prev @ self.recurrent_kernel + self.recurrent_bias  # (B, 3H)
            r, z = (gx[:, : 2 * H] + gh[:, : 2 * H]).sigmoid().chunk(2, dim=-1)  # r_t, z_t
            n = torch.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])  # n_t: reset after the product
            h = (1 - z) * n + z * h_prev  # h_t: z keeps the old state
        return h, GRUState(h)
