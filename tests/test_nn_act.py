"""Adaptive Computation Time: hand-worked halting, the mean field, the ponder cost and its gradient.

A counting cell (s^n = s^{n-1} + 1, output s^n) and a halting unit held at a constant h make
every quantity of Graves (2016) computable by hand: N(t), R(t), p_t^n, the mean-field output and
state, and ρ_t = N(t) + R(t).
"""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.nn import ElmanCell, ElmanState, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.cell import RecurrentCell
from rnnlab.nn.sequence import run_cell
from tests.conftest import variable_batch

TAU = 0.01


class CountingCell(RecurrentCell):
    """s^n = s^{n-1} + 1; y^n = s^n (one unit)."""

    state_type = ElmanState

    def __init__(self, input_size: int) -> None:
        super().__init__(input_size, 1)

    def recurrence(self, x_t, state):
        h = state.h + 1.0
        return h, ElmanState(h)


class WithOnes(ElmanCell):
    """An Elman cell whose output carries an extra channel of ones: ACT's mean field of it is Σ_n p_t^n."""

    @property
    def output_size(self) -> int:
        return self.hidden_size + 1

    def recurrence(self, p_t, state):
        y, state = super().recurrence(p_t, state)
        return torch.cat([y, torch.ones_like(y[:, :1])], -1), state


def constant_halting(h: float, max_steps: int = 20, epsilon: float = 0.01) -> ACTCell:
    cell = ACTCell(CountingCell(4), TAU, epsilon, max_steps, halting_bias=math.log(h / (1 - h))).double()
    with torch.no_grad():
        cell.halting.weight.zero_()  # h_t^n = σ(b_h) = h at every step
    return cell


def one_step(cell: ACTCell, batch: int = 2):
    x = torch.randn(batch, 3, dtype=torch.float64)
    return cell(x, cell.initial_state(batch, x))


def test_halting_at_a_constant_h_by_hand():
    """h = 0.3: Σ h reaches 0.9 after 3 steps and 1.2 ≥ 1 − ε at the 4th, so N = 4, R = 1 − 0.9 = 0.1,
    p = (0.3, 0.3, 0.3, 0.1), y = 0.3·1 + 0.3·2 + 0.3·3 + 0.1·4 = 2.2, ρ = 4.1."""
    y, state = one_step(constant_halting(0.3))
    torch.testing.assert_close(y, torch.full((2, 1), 2.2, dtype=torch.float64))
    torch.testing.assert_close(state.h, torch.full((2, 1), 2.2, dtype=torch.float64))  # the mean-field state
    torch.testing.assert_close(state.steps, torch.full((2,), 4.0, dtype=torch.float64))
    torch.testing.assert_close(state.ponder, torch.full((2,), 4.1, dtype=torch.float64))


def test_one_step_when_the_first_halting_value_reaches_one_minus_epsilon():
    y, state = one_step(constant_halting(0.995))
    assert state.steps.tolist() == [1.0, 1.0]
    torch.testing.assert_close(y, torch.ones(2, 1, dtype=torch.float64))  # p_t^1 = R = 1
    torch.testing.assert_close(state.ponder, torch.full((2,), 2.0, dtype=torch.float64))  # N + R = 1 + 1


def test_no_element_ponders_more_than_M_steps():
    """h = 0.01 never reaches 0.99 within M = 5: N = 5, R = 1 − 4·0.01 = 0.96, y = 0.01·(1+2+3+4) + 0.96·5."""
    y, state = one_step(constant_halting(0.01, max_steps=5))
    assert state.steps.tolist() == [5.0, 5.0]
    torch.testing.assert_close(y, torch.full((2, 1), 4.9, dtype=torch.float64))
    torch.testing.assert_close(state.ponder, torch.full((2,), 5.96, dtype=torch.float64))


def test_halting_weights_sum_to_one_at_every_step_and_M_bounds_each_step():
    torch.manual_seed(3)
    cell = ACTCell(WithOnes(4, 6), TAU, 0.01, 7, halting_bias=-1.0).double()
    with torch.no_grad():
        cell.halting.weight.mul_(8)  # spread the halting values, so N(t) varies across the batch
    x, lengths = variable_batch(B=5, T=7, D=3)
    out, final = run_cell(cell, x, lengths)
    real = torch.arange(7)[None, :] < lengths[:, None]
    torch.testing.assert_close(out[..., -1][real], torch.ones(int(real.sum()), dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.all(final.steps <= 7 * lengths) and torch.all(final.steps >= lengths)
    assert len(set(final.steps.tolist())) > 1, "the test needs different ponder counts"


def test_padded_steps_add_no_ponder_cost():
    """Every real step at h = 0.3 costs ρ = 4.1 and takes 4 steps; the state's totals stop at each length."""
    cell = constant_halting(0.3)
    x, lengths = variable_batch(B=5, T=7, D=3)
    out, final = run_cell(cell, x, lengths)
    torch.testing.assert_close(final.ponder, 4.1 * lengths.double())
    torch.testing.assert_close(final.steps, 4.0 * lengths.double())
    torch.testing.assert_close(out[0, :, 0], 2.2 * torch.arange(1, 8, dtype=torch.float64))  # s_t = s_{t-1} + 2.2


def test_the_ponder_costs_gradient_is_minus_tau_per_non_final_step():
    """ρ = N + 1 − Σ_{n<N} h_n; with h = σ(b) and N = 4: dρ/db = −3·σ'(b), so d(τ·ρ)/db = −3τ·h(1−h)."""
    cell = constant_halting(0.3)
    _, state = one_step(cell, batch=1)
    cell.aux_loss(state).backward()
    assert cell.halting.bias.grad.item() == pytest.approx(-3 * TAU * 0.3 * 0.7)


def test_aux_loss_reaches_the_model_output_through_the_stack():
    stack = RecurrentStack(lambda d: ACTCell(ElmanCell(d + 1, 4), TAU, 0.01, 5, 1.0), 3, num_layers=2).double()
    x, lengths = variable_batch(B=5, T=7, D=3)
    _, final = stack(x, lengths)
    torch.testing.assert_close(stack.aux_loss(final), TAU * final.ponder.mean(1).sum())


def test_gradcheck():
    torch.manual_seed(0)
    cell = ACTCell(ElmanCell(4, 3), TAU, 0.01, 6, halting_bias=0.0).double()
    x, lengths = variable_batch(B=3, T=4, D=3, lengths=(4, 2, 3))
    x.requires_grad_(True)

    def outputs(inputs):
        out, final = run_cell(cell, inputs, lengths)
        return out, cell.aux_loss(final)

    assert torch.autograd.gradcheck(outputs, (x,))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="epsilon must be in \\(0, 1\\), got 1.5"):
        ACTCell(ElmanCell(4, 3), TAU, 1.5, 5, 1.0)
    with pytest.raises(ValueError, match="max_steps must be ≥ 1, got 0"):
        ACTCell(ElmanCell(4, 3), TAU, 0.01, 0, 1.0)


def test_a_model_with_act_pickles_and_computes_the_same():
    import pickle

    stack = RecurrentStack(lambda d: ACTCell(ElmanCell(d + 1, 4), TAU, 0.01, 5, 1.0), 3).double()
    x, lengths = variable_batch(B=5, T=7, D=3)
    again = pickle.loads(pickle.dumps(stack))
    torch.testing.assert_close(again(x, lengths)[0], stack(x, lengths)[0], atol=0, rtol=0)
