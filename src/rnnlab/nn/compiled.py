"""Compiled backend: the one driver's loop, compiled by ``torch.compile`` a block of steps at a time.

    y_{t..t+U−1}, s_{t+U−1} = block(p_{t..t+U−1}, m_{t..t+U−1}, s_{t−1})        U = STEPS_PER_BLOCK

A block is U turns of the driver's loop (:func:`rnnlab.nn.sequence.run_cell`): the cell's
recurrence, the carry over padding and the zero output on padding, as one graph. A compiled call
and its backward have a fixed cost on a CPU, so a call per step would bound every compiled cell
by it; a block of U steps pays it once per U. The sequence is padded to a
multiple of U with masked steps (they carry the state and output zeros), so every block has the
same shapes: one compilation per batch size, dtype and grad mode, whatever the lengths.

A cell whose step holds a loop of data-dependent length (ACT's pondering) cannot be one graph: it
offers ``compiled_step(compile)``, its step with the loop body compiled, and runs a step at a time
in the one driver (:func:`step_for`).

Compiled functions are cached outside the modules (a weak map per cell), so models stay picklable
and their state_dict is unchanged.
"""

from __future__ import annotations

import weakref
from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor

from rnnlab.nn import sequence
from rnnlab.nn.sequence import carry, check_batch, reverse_within_length, step_mask

# Steps per compiled block: more steps per call pay the call's fixed cost less often, and a larger
# U compiles a larger graph (benchmarks/recurrent_throughput.py measures the result).
STEPS_PER_BLOCK = 4
# One block function serves every cell: each (cell type and sizes, batch size, dtype, grad mode) is
# one of its compiled graphs, more than torch's default limit of 8 per function in one process.
RECOMPILE_LIMIT = 64

_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BLOCKS: dict = {}


def step_for(cell):
    """The compiled step of ``cell`` (built on first use): ``cell.recurrence`` compiled whole, or
    the step the cell builds around its compiled loop body (``cell.compiled_step``).

    Static shapes: a batch of another size recompiles once (a handful per training run), where
    ``dynamic=True`` measured slower per step than not compiling at all.
    """
    step = _STEPS.get(cell)
    if step is None:
        compile = partial(torch.compile, dynamic=False)
        step = cell.compiled_step(compile) if hasattr(cell, "compiled_step") else compile(cell.recurrence)
        _STEPS[cell] = step
    return step


def run_cell(
    cell, x: Tensor, lengths: Tensor, state: NamedTuple | None = None, reverse: bool = False
) -> tuple[Tensor, NamedTuple]:
    """:func:`rnnlab.nn.sequence.run_cell`, compiled: the same arguments and results."""
    if hasattr(cell, "compiled_step"):
        return sequence.run_cell(cell, x, lengths, state, reverse, step=step_for(cell))
    check_batch(x, lengths, cell.input_size, type(cell).__name__)
    B, T, _ = x.shape
    if reverse:
        x = reverse_within_length(x, lengths)
    if state is None:
        state = cell.initial_state(B, x)
    if torch.is_grad_enabled():
        # torch.compile specialises a graph on which inputs need gradients and which are one tensor:
        # the initial state made distinct leaves that need them lets the first block share the others' graph
        state = type(state)(*(f if f.requires_grad else f.detach().clone().requires_grad_() for f in state))
    steps = int(lengths.max()) if B else 0
    if steps == 0:
        out = x.new_zeros(B, T, cell.output_size)
        return out, state
    padded = -(-steps // STEPS_PER_BLOCK) * STEPS_PER_BLOCK  # steps rounded up to whole blocks
    projected = cell.input_projection(x[:, :steps]).transpose(0, 1)  # (steps, B, G)
    projected = torch.cat([projected, projected.new_zeros(padded - steps, *projected.shape[1:])])  # (padded, B, G)
    mask = step_mask(lengths, padded, x.device).t()  # (padded, B)
    block = _block_function()
    outputs = []
    # split, not slicing: the backward of the split is one concatenation, not a full-size zero
    # gradient per block
    for p, m in zip(projected.contiguous().split(STEPS_PER_BLOCK), mask.contiguous().split(STEPS_PER_BLOCK)):
        y, state = block(cell, p, m, state)  # (U, B, H)
        outputs.append(y)
    out = torch.cat(outputs)[:steps].transpose(0, 1)  # (B, steps, H)
    if steps < T:
        out = torch.cat([out, out.new_zeros(B, T - steps, out.shape[-1])], dim=1)  # (B, T, H)
    if reverse:
        out = reverse_within_length(out, lengths)
    return out, state


def block(cell, projected: Tensor, mask: Tensor, state: NamedTuple) -> tuple[Tensor, NamedTuple]:
    """U turns of the driver's loop. projected (U, B, G), mask (U, B) -> outputs (U, B, H), state."""
    outputs = []
    for p_t, m_t in zip(projected.unbind(0), mask.unbind(0)):
        y_t, new_state = cell.recurrence(p_t, state)
        state = carry(m_t, new_state, state)  # padding carries the state
        outputs.append(y_t * m_t[:, None])  # (B, H), zero on padding
    return torch.stack(outputs), state


def _block_function():
    """:func:`block` compiled (built on first use; static shapes, as :func:`step_for`)."""
    if "block" not in _BLOCKS:
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
        _BLOCKS["block"] = torch.compile(block, dynamic=False)
    return _BLOCKS["block"]
