"""The one stacker: layers × directions of a cell, dropout between layers, and the backend choice.

Backends compute the same function with the same parameters:

- ``reference``: the from-scratch cells run by the one driver (:func:`run_cell`). The readable
  definition, and the oracle for the others.
- ``fused``: torch's fused kernel (oneDNN on CPU, cuDNN on GPU over packed sequences), fed the
  cells' own parameters through the one mapping in :mod:`rnnlab.nn.convert`. Only for cells whose
  ``fused_mode`` is set.
- ``compiled``: the driver's loop compiled by ``torch.compile``, a block of time steps per
  compiled call (:mod:`rnnlab.nn.compiled`); for cells without a fused kernel.
- ``auto``: fused where the cells allow it, else reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.nn import compiled, fused
from rnnlab.nn.cell import RecurrentCell
from rnnlab.nn.sequence import check_batch, run_cell

Backend = Literal["auto", "fused", "reference", "compiled"]
BACKENDS: tuple[str, ...] = ("auto", "fused", "reference", "compiled")


class RecurrentStack(nn.Module):
    """``num_layers`` layers of ``make_cell(input_size)`` cells, each uni- or bidirectional.

    forward(x (B, T, D), lengths (B,) int64, state=None) -> (outputs (B, T, K·H), final state)

    ``final_state=False`` tells the stack its caller reads only the outputs and the cells' aux loss:
    the fused backend, whose cells have no aux loss, then returns None for the final state and skips
    computing it (on the CPU an LSTM's final c is a second pass over every step: fused.py). The
    other backends get the final state as a by-product of their loop and return it either way.

    States are the cell's NamedTuple with each field stacked over layers and directions,
    (S·K, B, H), index ``layer * K + direction`` — torch.nn.LSTM's ``h_n`` layout.
    """

    def __init__(
        self,
        make_cell: Callable[[int], RecurrentCell],
        input_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"RecurrentStack: num_layers must be ≥ 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"RecurrentStack: dropout must be in [0, 1), got {dropout}")
        self.input_size = input_size
        self.num_layers = num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout = dropout
        cells, layer_input = [], input_size
        for _ in range(num_layers):
            cells += [make_cell(layer_input) for _ in range(self.directions)]
            layer_input = cells[-1].output_size * self.directions
        self.cells = nn.ModuleList(cells)
        self.backend = resolve_backend(backend, cells)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size * self.directions

    @property
    def hidden_size(self) -> int:
        return self.cells[0].hidden_size

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def indexed_cells(self) -> Iterator[tuple[tuple[int, int], RecurrentCell]]:
        for index, cell in enumerate(self.cells):
            yield divmod(index, self.directions), cell

    def initial_state(self, batch_size: int, like: Tensor) -> NamedTuple:
        states = [cell.initial_state(batch_size, like) for cell in self.cells]
        return stack_states(states)

    def forward(
        self, x: Tensor, lengths: Tensor, state: NamedTuple | None = None, final_state: bool = True
    ) -> tuple[Tensor, NamedTuple | None]:
        check_batch(x, lengths, self.input_size, type(self).__name__)
        if self.backend == "fused":
            return fused.run(self, x, lengths, state, final_state)
        run = compiled.run_cell if self.backend == "compiled" else run_cell
        per_cell = unstack_state(state, len(self.cells)) if state is not None else [None] * len(self.cells)
        finals, layer_input = [], x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                layer_input = F.dropout(layer_input, self.dropout, self.training)  # between layers only
            outs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                cell = self.cells[index]
                out, final = run(cell, layer_input, lengths, per_cell[index], reverse=direction == 1)
                outs.append(out)
                finals.append(final)
            layer_input = torch.cat(outs, dim=-1)  # (B, T, K·H)
        return layer_input, stack_states(finals)

    def aux_loss(self, final: NamedTuple) -> Tensor | None:
        """The sum of the cells' extra costs (ACT's ponder cost) from the final state; None if no cell has one."""
        costs = [
            cost
            for cell, state in zip(self.cells, unstack_state(final, len(self.cells)))
            if (cost := cell.aux_loss(state)) is not None
        ]
        return torch.stack(costs).sum() if costs else None


def stack_states(states: list[NamedTuple]) -> NamedTuple:
    """[(B, H) per field] × (S·K) -> (S·K, B, H) per field."""
    return type(states[0])(*(torch.stack(fields, dim=0) for fields in zip(*states)))


def unstack_state(state: NamedTuple, count: int) -> list[NamedTuple]:
    """Inverse of :func:`stack_states`, checking the leading dimension."""
    for name, field in zip(state._fields, state):
        if field.shape[0] != count:
            raise ValueError(f"initial state field {name!r}: expected leading dim S·K={count}, got {field.shape[0]}")
    return [type(state)(*(field[i] for field in state)) for i in range(count)]


def resolve_backend(backend: str, cells: list[RecurrentCell]) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    modes = {cell.fused_mode for cell in cells}
    fusable = len(modes) == 1 and None not in modes
    if backend == "auto":
        return "fused" if fusable else "reference"
    if backend == "fused" and not fusable:
        raise ValueError(
            f"backend 'fused' is not available for {type(cells[0]).__name__} "
            f"(no torch.nn kernel computes it); use 'reference', 'compiled' or 'auto'"
        )
    return backend
