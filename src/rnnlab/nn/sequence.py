"""The one sequence driver: any cell over a padded, batch-first batch with per-sequence lengths.

Variable length is handled by a mask m_t ∈ {0, 1} per sequence:

    state_t = m_t · cell(x_t, state_{t-1}) + (1 - m_t) · state_{t-1}

so padded steps carry the state, and the final state is the state at each sequence's own last
real step — what a packed torch.nn.LSTM returns as h_n. Outputs at padded steps are zero, as
``pad_packed_sequence`` gives them. ``reverse=True`` reverses each sequence *within its own
length* (not across the padded tensor), runs forward, and reverses the outputs back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

Step = Callable[[Tensor, NamedTuple], tuple[Tensor, NamedTuple]]


def check_batch(x: Tensor, lengths: Tensor, input_size: int, where: str) -> None:
    """Raise ValueError naming what is wrong with a (B, T, D) batch and its lengths."""
    if x.dim() != 3:
        raise ValueError(f"{where}: expected input of shape (B, T, D), got rank {x.dim()} with shape {tuple(x.shape)}")
    B, T, D = x.shape
    if D != input_size:
        raise ValueError(f"{where}: expected {input_size} input features (last dim), got {D}")
    if not isinstance(lengths, Tensor) or lengths.dtype != torch.int64:
        got = lengths.dtype if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(f"{where}: lengths must be an int64 tensor, got {got}")
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ValueError(f"{where}: lengths must have shape ({B},) to match the batch, got {tuple(lengths.shape)}")
    if B and int(lengths.min()) <= 0:
        bad = int(torch.nonzero(lengths <= 0)[0])
        raise ValueError(f"{where}: every length must be ≥ 1; sequence {bad} has length {int(lengths[bad])}")
    if B and int(lengths.max()) > T:
        bad = int(torch.nonzero(lengths > T)[0])
        raise ValueError(f"{where}: sequence {bad} has length {int(lengths[bad])} > padded length T={T}")


def step_mask(lengths: Tensor, T: int, device: torch.device) -> Tensor:
    """(B, T) boolean: True at real steps."""
    return torch.arange(T, device=device)[None, :] < lengths.to(device)[:, None]


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse x[b, :len_b] for each b, leaving padding in place. x: (B, T, ...)."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device)[None, :]  # (1, T)
    n = lengths.to(x.device)[:, None]  # (B, 1)
    index = torch.where(t < n, n - 1 - t, t)  # (B, T)
    index = index.view(B, T, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def carry(mask_t: Tensor, new: NamedTuple, old: NamedTuple) -> NamedTuple:
    """Per-field select: new state where the step is real, old state on padding."""
    fields = []
    for n, o in zip(new, old):
        m = mask_t.view(-1, *([1] * (n.dim() - 1)))  # (B, 1, ...) broadcast over any state field
        fields.append(torch.where(m, n, o))
    return type(old)(*fields)


def run_cell(
    cell,
    x: Tensor,
    lengths: Tensor,
    state: NamedTuple | None = None,
    reverse: bool = False,
    step: Step | None = None,
) -> tuple[Tensor, NamedTuple]:
    """Run ``cell`` over x (B, T, D) -> outputs (B, T, H), final state.

    The input projection runs once over all steps; the loop runs ``cell.recurrence`` (or ``step``,
    a compiled version of it). Steps are taken with ``unbind``, whose backward is one stack —
    indexing ``x[:, t]`` would allocate a full (B, T, G) gradient per step, O(T²) in all. Up to the
    shortest sequence's length every step is real, and the mask's selection is skipped (batches are
    bucketed by length, so that is most steps).
    """
    check_batch(x, lengths, cell.input_size, type(cell).__name__)
    B, T, _ = x.shape
    step = step or cell.recurrence
    if reverse:
        x = reverse_within_length(x, lengths)
    if state is None:
        state = cell.initial_state(B, x)
    steps = int(lengths.max()) if B else 0  # nothing after the longest sequence
    # steps × (B, G), each contiguous: a slice of (B, T, G) would have a stride that depends on T,
    # and a compiled step would recompile for every new length (torch.compile guards on strides)
    projected = cell.input_projection(x[:, :steps]).transpose(0, 1).contiguous().unbind(0)
    mask = step_mask(lengths, steps, x.device).unbind(1)  # steps × (B,)
    every_real = int(lengths.min()) if B else 0  # steps t < every_real are real in every sequence: m_t = 1
    outputs = []
    for t, (p_t, m_t) in enumerate(zip(projected, mask)):
        y_t, new_state = step(p_t, state)
        if t < every_real:  # the mask would select the new state and keep y_t whole: skip its work
            state = new_state
            outputs.append(y_t)
            continue
        state = carry(m_t, new_state, state)
        outputs.append(y_t * m_t[:, None])  # (B, H), zero on padding
    out = torch.stack(outputs, dim=1) if outputs else x.new_zeros(B, 0, cell.output_size)  # (B, steps, H)
    if steps < T:
        out = torch.cat([out, out.new_zeros(B, T - steps, out.shape[-1])], dim=1)  # (B, T, H)
    if reverse:
        out = reverse_within_length(out, lengths)
    return out, state
