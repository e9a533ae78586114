"""Neural Turing Machine: each addressing step against hand-worked cases, read/write worked examples,
weightings that are distributions, gradcheck, and variable-length batches."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from rnnlab.nn import memory as mem
from rnnlab.nn.ntm import MEMORY_INIT, NTMCell
from rnnlab.nn.sequence import run_cell
from tests.conftest import variable_batch

D = torch.float64


def one_hot(i: int, n: int = 5) -> torch.Tensor:
    w = torch.zeros(1, n, dtype=D)
    w[0, i] = 1.0
    return w


SHIFT_MINUS, SHIFT_NONE, SHIFT_PLUS = (
    torch.tensor([[1.0, 0.0, 0.0]], dtype=D),
    torch.tensor([[0.0, 1.0, 0.0]], dtype=D),
    torch.tensor([[0.0, 0.0, 1.0]], dtype=D),
)


# --- addressing, step by step ------------------------------------------------------------------


def test_a_shift_of_plus_one_moves_a_one_hot_weighting_one_row_down_circularly():
    assert torch.equal(mem.shift(one_hot(2), SHIFT_PLUS), one_hot(3))
    assert torch.equal(mem.shift(one_hot(4), SHIFT_PLUS), one_hot(0))  # wraps around (indices mod N)
    assert torch.equal(mem.shift(one_hot(0), SHIFT_MINUS), one_hot(4))
    assert torch.equal(mem.shift(one_hot(1), SHIFT_NONE), one_hot(1))


def test_a_shift_is_the_papers_circular_convolution():
    torch.manual_seed(0)
    w, s = torch.softmax(torch.randn(2, 6, dtype=D), -1), torch.softmax(torch.randn(2, 5, dtype=D), -1)  # shifts -2..2
    expected = torch.zeros_like(w)
    for b in range(2):
        for i in range(6):
            for j in range(6):
                k = (i - j) % 6  # s(i - j), indices mod N
                k = k if k <= 2 else k - 6
                if -2 <= k <= 2:
                    expected[b, i] += w[b, j] * s[b, k + 2]
    torch.testing.assert_close(mem.shift(w, s), expected, atol=1e-12, rtol=0)


def test_sharpening_with_a_large_gamma_gives_the_argmax():
    w = torch.tensor([[0.1, 0.5, 0.3, 0.1]], dtype=D)
    torch.testing.assert_close(
        mem.sharpen(w, torch.tensor([[200.0]], dtype=D)),
        torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=D),
        atol=1e-12,
        rtol=0,
    )
    torch.testing.assert_close(mem.sharpen(w, torch.tensor([[1.0]], dtype=D)), w)  # γ = 1 leaves it alone


def test_a_large_key_strength_with_gate_one_gives_a_one_hot_on_the_matching_row():
    memory = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]]], dtype=D)
    key = torch.tensor([[0.0, 2.0, 0.0]], dtype=D)  # the direction of row 1 (cosine ignores the length)
    w = mem.address(
        memory,
        one_hot(3, 4),
        key,
        torch.tensor([[500.0]], dtype=D),
        torch.ones(1, 1, dtype=D),
        SHIFT_NONE,
        torch.ones(1, 1, dtype=D),
    )
    torch.testing.assert_close(w, one_hot(1, 4), atol=1e-10, rtol=0)  # zeros floored at SHARPEN_EPS before the power
    kept = mem.interpolate(
        mem.content_weights(key, torch.tensor([[500.0]], dtype=D), memory), one_hot(3, 4), torch.zeros(1, 1, dtype=D)
    )
    torch.testing.assert_close(kept, one_hot(3, 4))  # g = 0: the previous weighting, content ignored


def test_content_weights_are_a_softmax_of_cosine_similarity():
    memory = torch.tensor([[[3.0, 4.0], [4.0, -3.0], [0.0, 0.0]]], dtype=D)  # a zero row: similarity 0, not NaN
    key = torch.tensor([[3.0, 4.0]], dtype=D)
    cosine = torch.tensor([[1.0, 0.0, 0.0]], dtype=D)
    torch.testing.assert_close(
        mem.content_weights(key, torch.tensor([[2.0]], dtype=D), memory), torch.softmax(2.0 * cosine, -1)
    )


def test_heads_addressed_at_once_equal_each_head_addressed_alone():
    torch.manual_seed(0)
    memory = torch.randn(2, 6, 4, dtype=D)
    previous = torch.softmax(torch.randn(2, 3, 6, dtype=D), -1)  # 3 heads
    p = mem.head_activations(torch.randn(2, 3, 4 + 3 + 3, dtype=D), width=4, shift_count=3)
    together = mem.address(memory, previous, p["key"], p["strength"], p["gate"], p["shifts"], p["gamma"])
    for k in range(3):
        alone = mem.address(
            memory, previous[:, k], *(p[name][:, k] for name in ("key", "strength", "gate", "shifts", "gamma"))
        )
        torch.testing.assert_close(together[:, k], alone, atol=1e-14, rtol=0)


# --- read and write, worked by hand --------------------------------------------------------------


MEMORY = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]], dtype=D)


def test_read_is_the_weighted_sum_of_rows():
    torch.testing.assert_close(
        mem.read(MEMORY, torch.tensor([[0.5, 0.5, 0.0, 0.0]], dtype=D)), torch.tensor([[2.0, 3.0]], dtype=D)
    )
    torch.testing.assert_close(
        mem.read(MEMORY, torch.tensor([[0.0, 0.0, 0.25, 0.75]], dtype=D)), torch.tensor([[6.5, 7.5]], dtype=D)
    )


def test_write_erases_then_adds():
    w = torch.tensor([[0.5, 0.5, 0.0, 0.0]], dtype=D)
    erased = mem.write(
        MEMORY, w, torch.ones(1, 2, dtype=D), torch.zeros(1, 2, dtype=D)
    )  # e = 1, a = 0: rows 0, 1 halved
    torch.testing.assert_close(erased, torch.tensor([[[0.5, 1.0], [1.5, 2.0], [5.0, 6.0], [7.0, 8.0]]], dtype=D))
    added = mem.write(MEMORY, one_hot(2, 4), torch.tensor([[1.0, 0.0]], dtype=D), torch.tensor([[10.0, 10.0]], dtype=D))
    torch.testing.assert_close(
        added, torch.tensor([[[1.0, 2.0], [3.0, 4.0], [10.0, 16.0], [7.0, 8.0]]], dtype=D)
    )  # col 0 erased, then +10


def test_two_write_heads_erase_all_then_add_all():
    w = torch.stack([one_hot(0, 4)[0], one_hot(0, 4)[0]])[None]  # (1, 2, 4) both on row 0
    erase = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=D)
    add = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=D)
    memory = mem.write(MEMORY, w, erase, add)
    torch.testing.assert_close(memory[0, 0], torch.tensor([1.0, 1.0], dtype=D))  # both erased first, then both added


# --- the cell ----------------------------------------------------------------------------------------


def make_cell(**changes) -> NTMCell:
    torch.manual_seed(0)
    settings = dict(
        input_size=3, controller_size=6, memory_rows=7, memory_width=4, read_heads=2, write_heads=1, shift_range=1
    )
    return NTMCell(**{**settings, **changes}).double()


def test_every_weighting_is_a_distribution_at_every_step():
    cell = make_cell()
    x, lengths = variable_batch(D=3)
    state = cell.initial_state(len(lengths), x)
    assert torch.equal(state.memory, torch.full_like(state.memory, MEMORY_INIT))
    for t in range(x.shape[1]):
        _, state = cell(x[:, t], state)
        for weights in (state.read_weights, state.write_weights):
            assert (weights >= 0).all()
            torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)), atol=1e-12, rtol=0)


def test_output_is_the_controller_state_and_the_reads():
    cell = make_cell()
    x, lengths = variable_batch(D=3)
    out, state = run_cell(cell, x, lengths)
    assert out.shape == (5, 7, 6 + 2 * 4) == (5, 7, cell.output_size)
    last = (lengths - 1)[:, None, None].expand(-1, 1, cell.output_size)
    torch.testing.assert_close(out.gather(1, last)[:, 0], torch.cat([state.h, state.reads], -1))


def test_a_padded_batch_equals_each_sequence_run_alone():
    cell = make_cell()
    x, lengths = variable_batch(D=3)
    out, state = run_cell(cell, x, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, alone_state = run_cell(cell, x[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(out[b, :n], alone[0], atol=1e-12, rtol=0)
        assert (out[b, n:] == 0).all()
        torch.testing.assert_close(state.memory[b], alone_state.memory[0], atol=1e-12, rtol=0)


def test_gradcheck_through_addressing_read_and_write():
    cell = make_cell(controller_size=3, memory_rows=5, memory_width=2, read_heads=1)
    x = torch.randn(2, 4, 3, dtype=D, requires_grad=True)
    lengths = torch.tensor([4, 2])
    assert gradcheck(lambda inputs: run_cell(cell, inputs, lengths)[0], (x,), eps=1e-6, atol=1e-5)
    params = dict(cell.named_parameters())
    assert gradcheck(
        lambda w: torch.func.functional_call(cell, {**params, "heads.weight": w}, (x[:, 0], cell.initial_state(2, x)))[
            0
        ],
        (params["heads.weight"].detach().clone().requires_grad_(),),
        eps=1e-6,
        atol=1e-5,
    )


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="NTMCell: need memory_rows"):
        NTMCell(3, 4, memory_rows=2, memory_width=3, shift_range=1)
