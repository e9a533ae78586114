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

The step: the wrapped cell's input terms of [x_t; 1] and [x_t; 0] come from the driver's one
projection of the whole sequence (``input_projection``); the ponder loop, whose length depends on
the data, runs its steps two per call of ``_ponder``, and stops once every element has halted (a
step after that weighs p = 0 and changes nothing). The compiled backend keeps the loop in Python
and compiles ``_ponder`` (``compiled_step``).

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

from collections.abc import Callable
from functools import cache, partial
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.nn.cell import RecurrentCell

# Ponder steps per call of ACTCell._ponder, the unit the compiled backend compiles: at the start the
# halting bias +1 gives h ≈ σ(1) ≈ 0.73 per step, so N(t) = 2 and one call covers an input step.
PONDER_STEPS_PER_CALL = 2


class Pondering(NamedTuple):
    """An input step's pondering after its ponder step n (every field batch first)."""

    inner: NamedTuple  # s_t^n, the wrapped cell's state
    mean_y: Tensor  # (B, H) Σ_{n' ≤ n} p_t^{n'} y_t^{n'}
    mean_state: tuple  # Σ_{n' ≤ n} p_t^{n'} s_t^{n'}, field by field
    halted: Tensor  # (B,) Σ_{n' ≤ n} h_t^{n'} of the elements still pondering
    running: Tensor  # (B,) bool: n < N(t)
    remainder: Tensor  # (B,) R(t), once N(t) ≤ n
    count: Tensor  # (B,) min(n, N(t))


@cache
def act_state_type(inner: type[NamedTuple]) -> type[NamedTuple]:
    """The wrapped state's fields plus ponder (B,) and steps (B,): one flat NamedTuple, as the
    driver and the stacker expect (every field a tensor with the batch first)."""
    fields = [(name, Tensor) for name in inner._fields] + [("ponder", Tensor), ("steps", Tensor)]
    return NamedTuple(f"ACT{inner.__name__}", fields)


class ACTCell(RecurrentCell):
    """Wraps ``cell`` (input size D + 1: the flag) so each step ponders up to ``max_steps`` times."""

    def __init__(
        self, cell: RecurrentCell, time_penalty: float, epsilon: float, max_steps: int, halting_bias: float
    ) -> None:
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

    def input_projection(self, x: Tensor) -> Tensor:
        """The wrapped cell's input terms of [x_t; 1] (ponder step 1) and [x_t; 0] (the later ones), side by side
        (..., 2G)."""
        flag = torch.ones_like(x[..., :1])  # δ_{n,1}
        return torch.cat(
            [
                self.cell.input_projection(torch.cat([x, flag], -1)),
                self.cell.input_projection(torch.cat([x, 0 * flag], -1)),
            ],
            -1,
        )

    def compiled_step(self, compile: Callable) -> Callable:
        """The step with ``_ponder`` compiled by ``compile``, for the compiled backend: the ponder
        loop's length depends on the data, so the loop stays Python."""
        return partial(self.recurrence, ponder=compile(self._ponder))

    def recurrence(self, p_t: Tensor, state: NamedTuple, ponder: Callable | None = None) -> tuple[Tensor, NamedTuple]:
        ponder = ponder or self._ponder
        B = p_t.shape[0]
        first, later = p_t.chunk(2, dim=-1)  # (B, G) each
        inner = self.cell.state_type(*state[: len(self.cell.state_type._fields)])
        # before ponder step 1: nothing halted, every element running, empty sums (distinct tensors:
        # a compiled call is specialised on which of its inputs are one tensor)
        pondering = Pondering(
            inner,
            mean_y=p_t.new_zeros(B, self.output_size),
            mean_state=tuple(torch.zeros_like(field) for field in inner),
            halted=p_t.new_zeros(B),
            running=torch.ones(B, dtype=torch.bool, device=p_t.device),
            remainder=p_t.new_zeros(B),
            count=p_t.new_zeros(B),
        )
        for _ in range(0, self.max_steps, PONDER_STEPS_PER_CALL):
            pondering = ponder(first, later, pondering)
            if not bool(pondering.running.any()):
                break
        rho = pondering.count + pondering.remainder  # ρ_t = N(t) + R(t): gradient through R only
        return pondering.mean_y, type(state)(*pondering.mean_state, state.ponder + rho, state.steps + pondering.count)

    def _ponder(self, first: Tensor, later: Tensor, pondering: Pondering) -> Pondering:
        """PONDER_STEPS_PER_CALL ponder steps: the unit the compiled backend compiles."""
        for _ in range(PONDER_STEPS_PER_CALL):
            pondering = self._ponder_step(first, later, pondering)
        return pondering

    def _ponder_step(self, first: Tensor, later: Tensor, pondering: Pondering) -> Pondering:
        """Ponder step n = count + 1 of the elements still running (eq. 6–13 of one step); the others
        keep their sums. n = 1 reads the first-step input, n = M halts every element still running."""
        inner, running, halted, count = pondering.inner, pondering.running, pondering.halted, pondering.count
        x_n = torch.where(count[:, None] == 0, first, later)  # [x_t; δ_{n,1}], projected (eq. 7)
        y, inner = self.cell.recurrence(x_n, inner)  # s_t^n, y_t^n (B, H) (eq. 8)
        h = torch.sigmoid(self.halting(y)).squeeze(-1)  # h_t^n (B,) (eq. 6)
        last = running & ((halted + h >= 1 - self.epsilon) | (count + 1 >= self.max_steps))  # n = N(t) here (eq. 9)
        p = torch.where(last, 1 - halted, torch.where(running, h, torch.zeros_like(h)))  # p_t^n; 0 once halted (eq. 11)
        return Pondering(
            inner,
            mean_y=pondering.mean_y + p[:, None] * y,  # y_t = Σ_n p_t^n y_t^n (eq. 13)
            mean_state=tuple(
                m + p.view(-1, *[1] * (f.dim() - 1)) * f for m, f in zip(pondering.mean_state, inner)
            ),  # s_t = Σ_n p_t^n s_t^n (eq. 12)
            halted=halted + torch.where(running & ~last, h, torch.zeros_like(h)),
            running=running & ~last,
            remainder=torch.where(last, 1 - halted, pondering.remainder),  # R(t) = 1 − Σ_{n < N(t)} h_t^n (eq. 10)
            count=count + running.to(count.dtype),
        )

    def aux_loss(self, final: NamedTuple) -> Tensor:
        """τ · P(x), averaged over the batch (see "Scale of τ" above)."""
        return self.time_penalty * final.ponder.mean()
