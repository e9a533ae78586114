"""Neural Turing Machine cell (Graves, Wayne, Danihelka 2014, arXiv 1410.5401).

An LSTM controller reads the input and the last read vectors, and drives heads over an external
memory of I rows × M width (addressing, read and write: :mod:`rnnlab.nn.memory`). One step::

    (h_t, c_t)  = LSTM([x_t ; r_{t−1}], (h_{t−1}, c_{t−1}))          controller
    ξ_t         = W_ξ h_t + b_ξ                                      every head's parameters, one projection
    w^W_t       = address(M_{t−1}, w^W_{t−1}, k, β, g, s, γ)          write weighting per write head
    M_t         = M_{t−1} ⊙ Π_j (1 − w^W_j e_jᵀ) + Σ_j w^W_j a_jᵀ     erase, then add
    w^R_t       = address(M_t, w^R_{t−1}, k, β, g, s, γ)              read weighting per read head
    r_t         = Σ_i w^R_t(i) M_t(i)                                read vectors
    y_t         = [h_t ; r_t]                                        (B, H + F·M), F read heads: any task head reads it

The state — memory, weightings, read vectors, controller state — is an ``NTMState`` passed in and
out, never kept on the module, so the one sequence driver handles lengths and padding.

Stated choices:
- reads see this step's write (r_t reads M_t, as the paper's equations index them); heads of a
  kind are addressed as one batch (no loop over heads); several write heads erase all, then add all;
- the initial memory is the constant 1e-6 in every cell, not learned (Collier & Beel 2018 found it
  trains more reliably than random or learned memory; a row is never exactly zero for cosine);
- initial weightings are one-hot on row 0 (location addressing has a place to start), initial
  read vectors are what they read there; the controller starts at zeros like the core's LSTM;
- e = σ(·), a unconstrained, k unconstrained, β = softplus, g = σ, s = softmax over −shift_range..shift_range,
  γ = 1 + softplus (loudinthecloud/pytorch-ntm's activations).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn import memory as mem
from rnnlab.nn.cell import Init, RecurrentCell
from rnnlab.nn.lstm import LSTMCell, LSTMState

MEMORY_INIT = 1e-6  # every memory cell at the start of a sequence (Collier & Beel's "constant" init)


class NTMState(NamedTuple):
    memory: Tensor  # (B, I, M) M_t
    read_weights: Tensor  # (B, F, I) w^R_t, F read heads
    write_weights: Tensor  # (B, F, I) w^W_t, F write heads
    reads: Tensor  # (B, F·M) r_t of the F read heads, fed to the controller at the next step
    h: Tensor  # (B, H) controller hidden state
    c: Tensor  # (B, H) controller cell state


class NTMCell(RecurrentCell):
    state_type = NTMState

    def __init__(
        self,
        input_size: int,
        controller_size: int,
        memory_rows: int,
        memory_width: int,
        read_heads: int = 1,
        write_heads: int = 1,
        shift_range: int = 1,
        init: Init = "pytorch",
    ) -> None:
        super().__init__(input_size, controller_size)
        if (
            min(memory_rows, memory_width, read_heads, write_heads) < 1
            or shift_range < 0
            or 2 * shift_range + 1 > memory_rows
        ):
            raise ValueError(
                "NTMCell: need memory_rows, memory_width, read_heads, write_heads ≥ 1 and "
                f"0 ≤ 2·shift_range + 1 ≤ memory_rows, got memory_rows={memory_rows}, memory_width={memory_width}, "
                f"read_heads={read_heads}, write_heads={write_heads}, shift_range={shift_range}"
            )
        self.rows, self.width, self.read_heads, self.write_heads = memory_rows, memory_width, read_heads, write_heads
        self.shift_count = 2 * shift_range + 1
        self.controller = LSTMCell(input_size + read_heads * memory_width, controller_size, init)
        self.address_size = memory_width + 3 + self.shift_count  # k, β, g, s, γ
        head_outputs = read_heads * self.address_size + write_heads * (
            self.address_size + 2 * memory_width
        )  # writes add e, a
        self.heads = nn.Linear(controller_size, head_outputs)  # ξ_t = W_ξ h_t + b_ξ: every head's parameters

    @property
    def output_size(self) -> int:
        return self.hidden_size + self.read_heads * self.width

    def initial_state(self, batch_size: int, like: Tensor) -> NTMState:
        memory = like.new_full((batch_size, self.rows, self.width), MEMORY_INIT)
        first_row = like.new_zeros(self.rows)
        first_row[0] = 1.0
        read_w = first_row.expand(batch_size, self.read_heads, self.rows).clone()
        write_w = first_row.expand(batch_size, self.write_heads, self.rows).clone()
        reads = mem.read(memory, read_w).reshape(batch_size, -1)  # what w_0 reads
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return NTMState(memory, read_w, write_w, reads, zeros, zeros)

    def input_projection(self, x: Tensor) -> Tensor:
        """The controller's input-only terms: x_t's part of its kernel, and its bias (..., 4H)."""
        return x @ self.controller.kernel[: self.input_size] + self.controller.bias

    def recurrence(self, p_t: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        B = p_t.shape[0]
        z = p_t + state.reads @ self.controller.kernel[self.input_size :]  # controller input [x_t ; r_{t−1}]
        h, controller_state = self.controller.recurrence(z, LSTMState(state.h, state.c))
        xi = self.heads(h)  # ξ_t: k, β, g, s, γ per read head, then k, β, g, s, γ, e, a per write head
        read_raw, write_raw = xi.split(
            [self.read_heads * self.address_size, xi.shape[-1] - self.read_heads * self.address_size], dim=-1
        )

        # write heads: address M_{t−1}, then erase and add
        write_raw = write_raw.view(B, self.write_heads, -1)  # (B, F, ·) per write head: k, β, g, s, γ, e, a
        address_raw, erase, add = write_raw.split([self.address_size, self.width, self.width], dim=-1)
        write_w = self._address(state.memory, state.write_weights, address_raw)  # (B, F, I)
        memory = mem.write(state.memory, write_w, torch.sigmoid(erase), add)  # erase all (e ∈ (0,1)), then add all

        # read heads: address M_t, read
        read_w = self._address(memory, state.read_weights, read_raw.view(B, self.read_heads, -1))  # (B, F, I)
        reads = mem.read(memory, read_w).reshape(B, -1)  # (B, F·M) r_t
        y = torch.cat([h, reads], dim=-1)  # (B, H + F·M)
        return y, NTMState(memory, read_w, write_w, reads, controller_state.h, controller_state.c)

    def _address(self, memory: Tensor, previous: Tensor, raw: Tensor) -> Tensor:
        """Every head of one kind at once, over the one memory. previous (B, F, I), raw (B, F, ·) -> (B, F, I)."""
        p = mem.head_activations(raw, self.width, self.shift_count)  # each (B, F, ·)
        return mem.address(memory, previous, p["key"], p["strength"], p["gate"], p["shifts"], p["gamma"])
