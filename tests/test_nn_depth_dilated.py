"""Depth-Gated LSTM and Dilated RNN against things outside the code (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import GRUCell, LSTMCell, RecurrentStack, run_cell
from rnnlab.nn.depth_gated import DepthGatedLSTMCell
from rnnlab.nn.dilated import DilatedRecurrence, fold, phase_lengths, unfold
from tests.conftest import variable_batch

TOL = dict(atol=1e-10, rtol=0)
SHUT = -1e4  # σ(-1e4) underflows to exactly 0 in float64
OPEN = 1e4  # σ(1e4) is exactly 1


def test_dglstm_with_the_depth_gate_shut_is_a_stacked_lstm():
    H, D, L = 4, 3, 3
    oracle = nn.LSTM(D, H, num_layers=L, batch_first=True).double()
    cell = DepthGatedLSTMCell(D, H, depth=L).double()
    with torch.no_grad():
        for l, layer in enumerate(cell.layers):
            w_ih, w_hh, b_ih, b_hh = (
                getattr(oracle, f"{n}_l{l}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            )
            layer.kernel[:, : 4 * H] = w_ih.t()
            layer.recurrent_kernel.copy_(w_hh.t())
            layer.bias[: 4 * H] = b_ih + b_hh
            if l > 0:
                layer.kernel[:, 4 * H :] = 0.0
                layer.bias[4 * H :] = SHUT
                layer.depth_cell_weight.zero_(), layer.depth_lower_weight.zero_()
    x, lengths = variable_batch(D=D)
    out, (h, c) = run_cell(cell, x, lengths)
    packed, (h_n, c_n) = oracle(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    ref, _ = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(h, h_n.transpose(0, 1), **TOL)  # (B, L, H) vs torch's (L, B, H)
    torch.testing.assert_close(c, c_n.transpose(0, 1), **TOL)


def test_dglstm_with_closed_input_and_forget_and_open_depth_gate_passes_the_lower_cell_through():
    H = 4
    cell = DepthGatedLSTMCell(3, H, depth=3).double()
    with torch.no_grad():
        for layer in cell.layers[1:]:
            layer.bias[: 2 * H] = SHUT  # i = f = 0
            layer.bias[4 * H :] = OPEN  # d = 1
    x, lengths = variable_batch()
    c_steps = []
    state = cell.initial_state(len(lengths), x)
    for t in range(x.shape[1]):
        _, state = cell(x[:, t], state)
        c_steps.append(state.c)
    for c in c_steps:  # (B, L, H): every upper layer's cell equals the bottom layer's
        torch.testing.assert_close(c[:, 1], c[:, 0], atol=0, rtol=0)
        torch.testing.assert_close(c[:, 2], c[:, 0], atol=0, rtol=0)


def test_dglstm_depth_gate_changes_the_result_when_open():
    cell = DepthGatedLSTMCell(3, 4, depth=2).double()
    x, lengths = variable_batch()
    open_out, _ = run_cell(cell, x, lengths)
    with torch.no_grad():
        cell.layers[1].bias[16:] = SHUT
    shut_out, _ = run_cell(cell, x, lengths)
    assert (open_out - shut_out).abs().max() > 1e-3


@pytest.mark.parametrize("peepholes", [False, True])
def test_dglstm_gradcheck(peepholes):
    cell = DepthGatedLSTMCell(2, 3, depth=2, peepholes=peepholes).double()
    with torch.no_grad():
        for p in cell.parameters():
            if p.abs().max() == 0:
                p.uniform_(-0.5, 0.5)  # make the zero-initialised depth and peephole weights matter
    x, lengths = variable_batch(B=2, T=3, D=2, lengths=(3, 2))
    x.requires_grad_(True)
    assert gradcheck(lambda x, *params: run_cell(cell, x, lengths)[0], (x, *cell.parameters()), eps=1e-6, atol=1e-8)


def test_dglstm_bad_arguments():
    with pytest.raises(ValueError, match="depth must be ≥ 1, got 0"):
        DepthGatedLSTMCell(3, 4, depth=0)
    with pytest.raises(ValueError, match="backend 'fused' is not available for DepthGatedLSTMCell"):
        RecurrentStack(lambda d: DepthGatedLSTMCell(d, 4, depth=2), 3, backend="fused")


# --- Dilated RNN ---------------------------------------------------------------------------------


def test_fold_then_unfold_is_the_identity():
    x = torch.randn(3, 11, 2, dtype=torch.float64)
    for rate in (1, 2, 3, 4, 16):
        torch.testing.assert_close(unfold(fold(x, rate), rate, 11), x, atol=0, rtol=0)
        j = 1 if rate > 1 else 0  # row b·s + j holds x[b, j::s]
        torch.testing.assert_close(
            fold(x, rate)[1 * rate + j, : len(range(j, 11, rate))], x[1, j::rate], atol=0, rtol=0
        )


@pytest.mark.parametrize("backend", ["reference", "fused"])
@pytest.mark.parametrize("T, lengths", [(12, (12, 12, 12)), (11, (11, 11, 11)), (11, (11, 5, 2))])
@pytest.mark.parametrize("rate", [1, 2, 3, 4])
def test_a_dilated_layer_is_the_cell_run_on_each_phase(rate, T, lengths, backend):
    dilated = DilatedRecurrence(lambda d: GRUCell(d, 4, "pytorch"), 3, [rate], backend=backend).double()
    cell = dilated.layers[0].cells[0]
    x = torch.randn(3, T, 3, dtype=torch.float64)
    lengths = torch.tensor(lengths)
    out, _ = dilated(x, lengths)
    for b in range(3):
        n = int(lengths[b])
        for j in range(min(rate, n)):
            phase = x[b : b + 1, j:n:rate]
            expected, _ = run_cell(cell, phase, torch.tensor([phase.shape[1]]))
            torch.testing.assert_close(out[b, j:n:rate], expected[0], **TOL)
        assert torch.all(out[b, n:] == 0)


def test_rate_one_equals_the_plain_cell():
    dilated = DilatedRecurrence(lambda d: LSTMCell(d, 4), 3, [1]).double()
    plain = RecurrentStack(lambda d: LSTMCell(d, 4), 3).double()
    plain.load_state_dict(dilated.layers[0].state_dict())
    x, lengths = variable_batch()
    torch.testing.assert_close(dilated(x, lengths)[0], plain(x, lengths)[0], **TOL)


def test_dilated_stack_is_causal():
    dilated = DilatedRecurrence(lambda d: LSTMCell(d, 4), 3, [1, 2, 4]).double()
    x = torch.randn(2, 13, 3, dtype=torch.float64)
    lengths = torch.tensor([13, 13])
    out, _ = dilated(x, lengths)
    for t in (0, 5, 9):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        again, _ = dilated(changed, lengths)
        torch.testing.assert_close(again[:, : t + 1], out[:, : t + 1], atol=0, rtol=0)
        assert (again[:, t + 1 :] - out[:, t + 1 :]).abs().max() > 0


def test_phase_lengths():
    assert phase_lengths(torch.tensor([7, 2]), 3).tolist() == [
        3,
        2,
        2,
        1,
        1,
        1,
    ]  # 7: j=0,3,6 | 1,4 | 2,5; 2: j=0 | 1 | (empty -> 1)


def test_dilated_bad_arguments():
    with pytest.raises(ValueError, match="dilations must be positive integers"):
        DilatedRecurrence(lambda d: LSTMCell(d, 4), 3, [1, 0])
    dilated = DilatedRecurrence(lambda d: LSTMCell(d, 4), 3, [1, 2])
    x, lengths = variable_batch(dtype=torch.float32)
    with pytest.raises(ValueError, match="an initial state is not supported"):
        dilated(x, lengths, state=object())
    with pytest.raises(ValueError, match="expected 3 input features"):
        dilated(torch.randn(2, 4, 5), torch.tensor([4, 2]))
