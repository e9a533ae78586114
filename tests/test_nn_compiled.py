"""The compiled backend (rnnlab.nn.compiled: the one driver's loop compiled by torch.compile) against
the Python loop, cell by cell: outputs, final states and gradients on variable-length batches.

In one file, so that one test process pays torch.compile's first-use cost (Inductor's set-up and
code cache) once for every cell, not once per cell's file."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.ntm import NTMCell
from tests.conftest import variable_batch
from tests.test_nn_act import TAU
from tests.test_nn_parity import H


def assert_compiled_equals_reference(stack, x, lengths, state_loss) -> None:
    """The stack run by its compiled backend, then by the reference loop: outputs, final state and the
    gradients of (Σ out² + state_loss(final state)) with respect to the input and every parameter."""
    x.requires_grad_(True)
    inputs = [x, *stack.parameters()]
    results = {}
    for backend in ("compiled", "reference"):
        stack.backend = backend
        out, final = stack(x, lengths)
        loss = out.square().sum() + state_loss(final)
        results[backend] = (out, *final, *torch.autograd.grad(loss, inputs))
    for compiled, reference in zip(results["compiled"], results["reference"]):
        torch.testing.assert_close(compiled, reference, atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    "make_cell",
    [lambda d: LSTMCell(d, H), lambda d: GRUCell(d, H, convention="course")],
    ids=["lstm", "gru-course"],
)
def test_core_cells_compiled_equal_the_reference(make_cell):
    """torch.compile of the cell's step: same outputs, final states and gradients as the reference loop."""
    stack = RecurrentStack(make_cell, 3, num_layers=1, bidirectional=True, backend="compiled").double()
    x, lengths = variable_batch()
    assert_compiled_equals_reference(stack, x, lengths, lambda state: sum(field.sum() for field in state))


@pytest.mark.parametrize(
    "halting_bias, weight_scale, counts",
    [
        (2.0, 8.0, {2, 3, 4, 5}),
        (5.0, 0.0, {1}),
    ],  # N(t) spread up to M = 5 (odd: the last call's second step is past M); N(t) = 1 throughout
    ids=["spread", "one-step"],
)
def test_act_compiled_equals_the_reference(halting_bias, weight_scale, counts):
    """Compiled ponder steps against the Python loop: outputs, final states (ponder cost, steps) and
    gradients on a random variable-length batch."""
    torch.manual_seed(3)
    stack = RecurrentStack(
        lambda d: ACTCell(ElmanCell(d + 1, 6), TAU, 0.01, 5, halting_bias), 3, backend="compiled"
    ).double()
    with torch.no_grad():
        stack.cells[0].halting.weight.mul_(weight_scale)
    x, lengths = variable_batch(B=5, T=7, D=3)
    assert_compiled_equals_reference(stack, x, lengths, stack.aux_loss)
    cell = stack.cells[0]
    state, per_step = cell.initial_state(5, x), set()
    for t in range(x.shape[1]):
        _, after = cell(x[:, t], state)
        per_step |= set((after.steps - state.steps).tolist())
        state = after
    assert per_step == counts, "the batch must take the ponder counts the case is for"


def test_ntm_compiled_equals_the_reference(monkeypatch):
    """Compiled blocks of steps (padding to whole blocks, reversal, carry) against the Python loop:
    outputs, final states and gradients on a random variable-length batch, in both directions.
    Blocks of 2 steps: the same block code as the default 4 (the core cells' parity tests run that),
    and a graph that compiles in about two thirds of the time on a machine with no compile cache."""
    from rnnlab.nn import compiled as compiled_backend

    monkeypatch.setattr(compiled_backend, "STEPS_PER_BLOCK", 2)
    torch.manual_seed(0)
    stack = RecurrentStack(
        lambda d: NTMCell(d, 6, 7, 4, read_heads=2, write_heads=1), 3, bidirectional=True, backend="compiled"
    ).double()
    x, lengths = variable_batch(D=3)  # lengths 7, 2, 5, 1, 6: blocks padded past every length
    assert_compiled_equals_reference(stack, x, lengths, lambda state: sum(field.sum() for field in state))
