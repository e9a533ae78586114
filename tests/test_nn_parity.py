"""From-scratch cells equal torch.nn.RNN/LSTM/GRU with copied weights (float64, ≤ 1e-10).

Unsorted variable-length batches are compared against torch run on a PackedSequence; outputs,
final states and the gradients of every weight, for 1–3 layers, uni- and bidirectional, through
the reference path (the from-scratch driver) and the fused path.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, LSTMState, RecurrentStack, fused
from rnnlab.nn.convert import TORCH_WEIGHT_NAMES, load_torch_module, to_torch_state_dict, torch_layer_suffix
from tests.conftest import variable_batch

TOL = dict(atol=1e-10, rtol=0)
H = 4

CASES = {
    "rnn": (lambda d: ElmanCell(d, H), lambda **kw: nn.RNN(nonlinearity="tanh", **kw)),
    "rnn_relu": (lambda d: ElmanCell(d, H, nonlinearity="relu"), lambda **kw: nn.RNN(nonlinearity="relu", **kw)),
    "lstm": (lambda d: LSTMCell(d, H), lambda **kw: nn.LSTM(**kw)),
    "gru": (lambda d: GRUCell(d, H, convention="pytorch"), lambda **kw: nn.GRU(**kw)),
}


def run_torch(module, x, lengths, hx=None):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = module(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, (h_n if isinstance(h_n, tuple) else (h_n,))


@pytest.mark.parametrize("backend", ["reference", "fused"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", list(CASES))
def test_outputs_states_and_gradients_match_torch(kind, num_layers, bidirectional, backend):
    make_cell, make_torch = CASES[kind]
    D = 3
    oracle = make_torch(
        input_size=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True
    ).double()
    ours = RecurrentStack(make_cell, D, num_layers=num_layers, bidirectional=bidirectional, backend=backend).double()
    load_torch_module(ours, oracle)
    x, lengths = variable_batch(D=D)

    out, state = ours(x, lengths)
    ref_out, ref_state = run_torch(oracle, x, lengths)
    torch.testing.assert_close(out, ref_out, **TOL)
    for mine, theirs in zip(state, ref_state, strict=True):
        torch.testing.assert_close(mine, theirs, **TOL)

    # Gradients of a random linear functional of outputs and final states, mapped back to torch's layout.
    probe_out = torch.randn_like(out)
    probe_state = [torch.randn_like(s) for s in state]
    loss = (out * probe_out).sum() + sum((s * p).sum() for s, p in zip(state, probe_state))
    ref_loss = (ref_out * probe_out).sum() + sum((s * p).sum() for s, p in zip(ref_state, probe_state))
    loss.backward()
    ref_loss.backward()
    for (layer, direction), cell in ours.indexed_cells():
        suffix = torch_layer_suffix(layer, direction)
        w_ih, w_hh = (getattr(oracle, n + suffix) for n in TORCH_WEIGHT_NAMES[:2])
        torch.testing.assert_close(cell.kernel.grad, w_ih.grad.t(), **TOL)
        torch.testing.assert_close(cell.recurrent_kernel.grad, w_hh.grad.t(), **TOL)
        b_ih = getattr(oracle, "bias_ih" + suffix)
        torch.testing.assert_close(cell.bias.grad, b_ih.grad, **TOL)  # dL/db = dL/db_ih (= dL/db_hh where merged)
        if hasattr(cell, "recurrent_bias"):
            torch.testing.assert_close(cell.recurrent_bias.grad, getattr(oracle, "bias_hh" + suffix).grad, **TOL)


@pytest.mark.parametrize("backend", ["reference", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_given_initial_state_matches_torch(kind, backend):
    make_cell, make_torch = CASES[kind]
    oracle = make_torch(input_size=3, hidden_size=H, num_layers=2, bidirectional=True, batch_first=True).double()
    ours = RecurrentStack(make_cell, 3, num_layers=2, bidirectional=True, backend=backend).double()
    load_torch_module(ours, oracle)
    x, lengths = variable_batch()
    state0 = ours.initial_state(len(lengths), x)
    state0 = type(state0)(*(torch.randn_like(f) for f in state0))
    out, state = ours(x, lengths, state0)
    ref_out, ref_state = run_torch(oracle, x, lengths, tuple(state0) if len(state0) > 1 else state0[0])
    torch.testing.assert_close(out, ref_out, **TOL)
    for mine, theirs in zip(state, ref_state):
        torch.testing.assert_close(mine, theirs, **TOL)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_unpacked_cpu_lstm_matches_packed_torch_lstm(num_layers, bidirectional, monkeypatch):
    """The fused LSTM on the CPU runs unpacked and recomputes c_n; it equals nn.LSTM over a PackedSequence.

    Outputs, h_n, c_n and the gradients w.r.t. the input, the initial (h, c) and every weight, from
    a nonzero initial state, with lengths 1 and T (full) in the batch.
    """
    monkeypatch.setattr(fused, "pack_padded_sequence", None)  # the unpacked path must not pack
    D, T = 3, 9
    oracle = nn.LSTM(D, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True).double()
    ours = RecurrentStack(
        lambda d: LSTMCell(d, H), D, num_layers=num_layers, bidirectional=bidirectional, backend="fused"
    ).double()
    load_torch_module(ours, oracle)
    x, lengths = variable_batch(B=6, T=T, D=D, lengths=(4, T, 1, 7, 2, T - 1))
    state0 = ours.initial_state(len(lengths), x)
    h0, c0 = (torch.randn_like(field) for field in state0)
    inputs = [t.clone().requires_grad_() for t in (x, h0, c0)]
    ref_inputs = [t.clone().requires_grad_() for t in (x, h0, c0)]

    out, state = ours(inputs[0], lengths, type(state0)(*inputs[1:]))
    ref_out, ref_state = run_torch(oracle, ref_inputs[0], lengths, tuple(ref_inputs[1:]))
    torch.testing.assert_close(out, ref_out, **TOL)
    for mine, theirs in zip(state, ref_state, strict=True):  # h_n, c_n
        torch.testing.assert_close(mine, theirs, **TOL)

    probes = [torch.randn_like(t) for t in (out, *state)]
    loss = sum((t * p).sum() for t, p in zip((out, *state), probes))
    ref_loss = sum((t * p).sum() for t, p in zip((ref_out, *ref_state), probes))
    loss.backward()
    ref_loss.backward()
    for mine, theirs in zip(inputs, ref_inputs):  # x, h0, c0
        torch.testing.assert_close(mine.grad, theirs.grad, **TOL)
    for (layer, direction), cell in ours.indexed_cells():
        suffix = torch_layer_suffix(layer, direction)
        w_ih, w_hh, b_ih, b_hh = (getattr(oracle, n + suffix) for n in TORCH_WEIGHT_NAMES)
        torch.testing.assert_close(cell.kernel.grad, w_ih.grad.t(), **TOL)
        torch.testing.assert_close(cell.recurrent_kernel.grad, w_hh.grad.t(), **TOL)
        torch.testing.assert_close(cell.bias.grad, b_ih.grad, **TOL)
        torch.testing.assert_close(cell.bias.grad, b_hh.grad, **TOL)  # the merged bias: dL/db_ih = dL/db_hh


def test_unpacked_cpu_lstm_passes_gradcheck():
    """Finite differences agree with autograd through the recomputed c_n (tiny case, float64)."""
    stack = RecurrentStack(lambda d: LSTMCell(d, 2), 2, num_layers=2, bidirectional=True, backend="fused").double()
    x, lengths = variable_batch(B=3, T=4, D=2, lengths=(4, 1, 3))
    h0, c0 = (torch.randn(4, 3, 2, dtype=torch.float64) for _ in range(2))

    def f(x, h0, c0):
        out, (h_n, c_n) = stack(x, lengths, LSTMState(h0, c0))
        return out, h_n, c_n

    assert torch.autograd.gradcheck(f, tuple(t.requires_grad_() for t in (x, h0, c0)))


def test_weight_mapping_round_trips_through_torch_state_dict():
    oracle = nn.LSTM(3, H, num_layers=2, bidirectional=True, batch_first=True).double()
    ours = RecurrentStack(lambda d: LSTMCell(d, H), 3, num_layers=2, bidirectional=True).double()
    load_torch_module(ours, oracle)
    exported = to_torch_state_dict(ours)
    assert set(exported) == set(oracle.state_dict())
    for name, tensor in oracle.state_dict().items():
        if name.startswith("bias_hh"):
            torch.testing.assert_close(exported[name], torch.zeros_like(tensor))
        elif name.startswith("bias_ih"):  # the merged bias carries both
            torch.testing.assert_close(exported[name], tensor + oracle.state_dict()[name.replace("ih", "hh")])
        else:
            torch.testing.assert_close(exported[name], tensor)


def test_fused_and_reference_backends_share_one_set_of_weights():
    stack = RecurrentStack(lambda d: LSTMCell(d, H), 3, num_layers=2, backend="fused").double()
    x, lengths = variable_batch()
    fused_out, _ = stack(x, lengths)
    stack.backend = "reference"
    ref_out, _ = stack(x, lengths)
    torch.testing.assert_close(fused_out, ref_out, **TOL)
    assert all(not n.startswith("_") for n, _ in stack.named_parameters())
    assert len(list(stack.parameters())) == 2 * 3  # 2 cells × (kernel, recurrent_kernel, bias): no template weights


@pytest.mark.parametrize(
    "make_cell",
    [lambda d: LSTMCell(d, H), lambda d: GRUCell(d, H, convention="pytorch"), lambda d: ElmanCell(d, H)],
    ids=["lstm", "gru", "rnn"],
)
def test_a_fused_stack_asked_for_no_final_state_gives_the_same_outputs_and_gradients_and_none(make_cell):
    """final_state=False (the encoders read only the outputs) skips the final state, LSTM's recomputed c
    included: the outputs and every gradient are exactly those of a call that computes it."""
    stack = RecurrentStack(make_cell, 3, num_layers=2, bidirectional=True, backend="fused").double()
    x, lengths = variable_batch()
    runs = []
    for final_state in (True, False):
        out, state = stack(x, lengths, final_state=final_state)
        runs.append((out, state, torch.autograd.grad(out.square().sum(), list(stack.parameters()))))
    (out, state, grads), (lean_out, lean_state, lean_grads) = runs
    assert state is not None and lean_state is None
    torch.testing.assert_close(lean_out, out, atol=0, rtol=0)
    for a, b in zip(lean_grads, grads):
        torch.testing.assert_close(a, b, atol=0, rtol=0)
