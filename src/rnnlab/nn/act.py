"""Adaptive Computation Time (Graves 2016, arXiv 1603.08983): any cell of the core, pondering.

For each input step t the wrapped cell S takes inner steps n = 1, 2, … on the same input, told
which step is the first by a binary flag:

    s_t^n = S([x_t; δ_{n,1}], s_t^{n-1}),   s_t^0 = s_{t-1}                     (eq. 7, 8)
    h_t^n = σ(W_h y_t^n + b_h)                                 halting unit       (eq. 6)
    N(t)  = min{ n' : Σ_{n ≤ n'} h_t^n ≥ 1 − ε },  at most M                       (eq. 9)
    R(t)  = 1 − Σ_{n < N(t)} h_t^n                              remainder          (eq. 10)
    p_t^n = R(t) if n = N(t) else h_t^n                        (so Σ_n p_t^n = 1) (eq. 11)
    s_t   = Σ_n p_t^n s_t^n,   y_t = Σ_n p_t^n y_t^n            mean field         (eq. 12, 13)
    ρ_t   = N(t) + R(t);   P(x) = Σ_t ρ_t;   L̂ = L + τ P(x)   ponder cost        (eq. 14, 16)

Choices, stated: the halting unit reads the cell's output y_t^n (h for every core cell: W_y s and
W_h s of the paper read the state, and an LSTM's output is its h); the mean field is taken of every
state field (h and c of an LSTM, as the paper does); N(t) has no gradient, so the gradient of ρ_t
is that of R(t): −1 for each h_t^n with n < N(t) and 0 for the last one (eq. 17). The output
y_t = Σ p y^n is what the task head's linear layer reads, which equals Σ p (W_y y^n + b_y).

State: the wrapped cell's fields plus ``ponder`` (Σ ρ_t so far) and ``steps`` (Σ N(t) so far),
each (B,). The driver carries them over padded steps like any field, so at a sequence's end they
hold its own P(x) and total ponder steps; ``aux_loss`` turns the final state into τ·mean_b P(x_b),
which the training module adds to the task loss without knowing ACT exists.

Scale of τ: the paper adds τ·P(x) to the sequence's loss. rnnlab's losses are means — per
sequence for one answer per sequence (so τ means what it means in the paper), per step for
per-step tasks, where τ·P(x) is about T times the paper's weight: divide τ by the typical length
there. A stack sums the costs of its layers and directions.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import RecurrentCell


@lru_cache(maxsize=None)
def act_state_type(inner: type[NamedTuple]) -> type[NamedTuple]:
    """The wrapped state's fields plus ponder (B,) and steps (B,): one flat NamedTuple, as the
    driver and the stacker expect (every field a tensor with the batch first)."""
    fields = [(name, Tensor) for name in inner._fields] + [("ponder", Tensor), ("steps", Tensor)]
    return NamedTuple(f"ACT{inner.__name__}", fields)


class ACTCell(RecurrentCell):
    """Wraps ``cell`` (input size D + 1: the flag) so each step ponders up to ``max_steps`` times."""

    def __init__(self, cell: RecurrentCell, time_penalty: float, epsilon: float, max_steps: int, halting_bias: float) -> None:
        super().__init__(cell.input_size - 1, cell.hidden_size)
        if not 0.0 < epsilon < 1.0:
            raise ValueError(f"ACTCell: epsilon must be in (0, 1), got {epsilon}")
        if max_steps < 1:
            raise ValueError(f"ACTCell: max_steps must be ≥ 1, got {max_steps}")
        if time_penalty < 0:
            raise ValueError(f"ACTCell: time_penalty must be ≥ 0, got {time_penalty}")
        self.cell = cell
        self.time_penalty = time_penalty  # τ
        self.epsilon = epsilon  # ε: lets the first step halt alone when h_t^1 ≥ 1 − ε
        self.max_steps = max_steps  # M
        self.halting = nn.Linear(cell.output_size, 1)  # W_h (1, H), b_h
        with torch.no_grad():  # the paper starts b_h at +1: about two ponder steps at the start
            self.halting.bias.fill_(halting_bias)

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    @property
    def state_type(self) -> type[NamedTuple]:  # made per wrapped state type; a property, so a model pickles by value
        return act_state_type(self.cell.state_type)

    def initial_state(self, batch_size: int, like: Tensor) -> NamedTuple:
        zero = like.new_zeros(batch_size)  # (B,)
        return self.state_type(*self.cell.initial_state(batch_size, like), zero, zero)

    def recurrence(self, x_t: Tensor, state: NamedTuple) -> tuple[Tensor, NamedTuple]:
        inner = self.cell.state_type(*state[: len(self.cell.state_type._fields)])
        B = x_t.shape[0]
        flag = x_t.new_ones(B, 1)
        inputs = (torch.cat([x_t, flag], -1), torch.cat([x_t, 0 * flag], -1))  # [x_t; δ_{n,1}] for n = 1 and n > 1
        halted = x_t.new_zeros(B)  # Σ_{n' < n} h_t^{n'} of the elements still pondering
        running = torch.ones(B, dtype=torch.bool, device=x_t.device)
        remainder, count = x_t.new_zeros(B), x_t.new_zeros(B)  # R(t), N(t)
        mean_y: Tensor | float = 0.0
        mean_state: list[Tensor | float] = [0.0] * len(inner)
        for n in range(1, self.max_steps + 1):
            y, inner = self.cell(inputs[0] if n == 1 else inputs[1], inner)  # s_t^n, y_t^n (B, H)
            h = torch.sigmoid(self.halting(y)).squeeze(-1)  # h_t^n (B,)
            last = running & ((halted + h >= 1 - self.epsilon) | (n == self.max_steps))  # n = N(t) here
            p = torch.where(last, 1 - halted, torch.where(running, h, torch.zeros_like(h)))  # p_t^n; 0 once halted
            mean_y = mean_y + p[:, None] * y
            mean_state = [m + p.view(-1, *[1] * (f.dim() - 1)) * f for m, f in zip(mean_state, inner)]
            remainder = torch.where(last, 1 - halted, remainder)
            count = count + running.to(count.dtype)
            halted = halted + torch.where(running & ~last, h, torch.zeros_like(h))
            running = running & ~last
            if not bool(running.any()):
                break
        rho = count + remainder  # ρ_t = N(t) + R(t): gradient through R only
        return mean_y, self.state_type(*mean_state, state.ponder + rho, state.steps + count)

    def aux_loss(self, final: NamedTuple) -> Tensor:
        """τ · P(x), averaged over the batch (see "Scale of τ" above)."""
        return self.time_penalty * final.ponder.mean()
