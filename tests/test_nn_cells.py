"""Cells against things outside the code: hand-worked values, gradcheck, the GRU conventions,
numpy implementations of Keras's documented equations, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack, run_cell
from rnnlab.nn.convert import convert_gru_convention, load_keras_weights
from tests.conftest import variable_batch

TOL = dict(atol=1e-12, rtol=0)


def constant(cell, value):
    with torch.no_grad():
        for p in cell.parameters():
            p.fill_(value)
    return cell


def sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a))


# --- golden values from constant initialisers (H = D = 1, worked by hand with math) -----------


def test_lstm_golden_values_two_steps():
    cell = constant(LSTMCell(1, 1).double(), 0.5)  # every weight and bias 0.5
    x = torch.tensor([[[1.0], [2.0]]], dtype=torch.float64)
    out, (h, c) = run_cell(cell, x, torch.tensor([2]))
    # step 1: z = 0.5·1 + 0.5·0 + 0.5 = 1 for every gate
    c1 = sigmoid(1) * math.tanh(1)  # f·0 + i·g
    h1 = sigmoid(1) * math.tanh(c1)
    # step 2: z = 0.5·2 + 0.5·h1 + 0.5
    z2 = 1.5 + 0.5 * h1
    c2 = sigmoid(z2) * c1 + sigmoid(z2) * math.tanh(z2)
    h2 = sigmoid(z2) * math.tanh(c2)
    assert out[0, :, 0].tolist() == pytest.approx([h1, h2], abs=1e-15)
    assert (h.item(), c.item()) == pytest.approx((h2, c2), abs=1e-15)


def test_elman_golden_values():
    cell = constant(ElmanCell(1, 1).double(), 0.25)
    out, _ = run_cell(cell, torch.tensor([[[2.0], [-1.0]]], dtype=torch.float64), torch.tensor([2]))
    h1 = math.tanh(0.25 + 0.25 * 0 + 0.25 * 2)
    h2 = math.tanh(0.25 + 0.25 * h1 + 0.25 * -1)
    assert out[0, :, 0].tolist() == pytest.approx([h1, h2], abs=1e-15)


@pytest.mark.parametrize("convention", ["course", "pytorch"])
def test_gru_golden_values(convention):
    cell = constant(GRUCell(1, 1, convention=convention).double(), 0.5)
    h0 = 0.3
    out, _ = run_cell(
        cell,
        torch.tensor([[[1.0]]], dtype=torch.float64),
        torch.tensor([1]),
        state=cell.state_type(torch.tensor([[h0]], dtype=torch.float64)),
    )
    r = z = sigmoid(0.5 * 1 + 0.5 * h0 + 0.5 + (0.5 if convention == "pytorch" else 0.0))
    if convention == "course":
        h_tilde = math.tanh(0.5 * 1 + 0.5 + 0.5 * (r * h0))
        expected = (1 - z) * h0 + z * h_tilde
    else:
        n = math.tanh(0.5 * 1 + 0.5 + r * (0.5 * h0 + 0.5))
        expected = (1 - z) * n + z * h0
    assert out.item() == pytest.approx(expected, abs=1e-15)


# --- gradcheck --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda: ElmanCell(2, 3),
        lambda: LSTMCell(2, 3),
        lambda: GRUCell(2, 3, "course"),
        lambda: GRUCell(2, 3, "pytorch"),
    ],
    ids=["rnn", "lstm", "gru-course", "gru-pytorch"],
)
def test_gradcheck_through_the_driver(make_cell):
    cell = make_cell().double()
    x, lengths = variable_batch(B=3, T=4, D=2, lengths=(4, 1, 3))
    x.requires_grad_(True)

    def f(x, *params):
        return run_cell(cell, x, lengths)[0]

    assert gradcheck(f, (x, *cell.parameters()), eps=1e-6, atol=1e-8)


# --- the two GRU conventions -------------------------------------------------------------------


def test_course_gru_equals_pytorch_gru_where_it_must():
    """W_hn diagonal and b_hn = 0 make reset-before equal reset-after; z is negated (1−σ(a) = σ(−a))."""
    course = GRUCell(3, 4, "course").double()
    with torch.no_grad():
        course.recurrent_kernel[:, 8:] = torch.diag(torch.randn(4, dtype=torch.float64))
    pytorch = convert_gru_convention(course)
    assert pytorch.convention == "pytorch"
    x, lengths = variable_batch()
    torch.testing.assert_close(run_cell(course, x, lengths)[0], run_cell(pytorch, x, lengths)[0], **TOL)
    back = convert_gru_convention(pytorch)
    for a, b in zip(course.parameters(), back.parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_course_and_pytorch_gru_differ_otherwise():
    course = GRUCell(3, 4, "course").double()
    pytorch = GRUCell(3, 4, "pytorch").double()
    with torch.no_grad():
        pytorch.kernel.copy_(course.kernel)
        pytorch.recurrent_kernel.copy_(course.recurrent_kernel)
        pytorch.bias.copy_(course.bias)
        pytorch.recurrent_bias.zero_()
        pytorch.kernel[:, 4:8].neg_(), pytorch.recurrent_kernel[:, 4:8].neg_(), pytorch.bias[4:8].neg_()
    x, lengths = variable_batch()
    gap = (run_cell(course, x, lengths)[0] - run_cell(pytorch, x, lengths)[0]).abs().max()
    assert gap > 1e-3  # full W_hn: W(r*h) ≠ r*(W h)
    with pytest.raises(ValueError, match="W_hn must be diagonal"):
        convert_gru_convention(course)


def test_saturated_reset_gate_makes_both_positions_agree():
    course = GRUCell(3, 4, "course").double()
    with torch.no_grad():
        course.bias[:4] = 40.0  # r = σ(40) = 1 to machine precision
    pytorch = GRUCell(3, 4, "pytorch").double()
    with torch.no_grad():
        for name in ("kernel", "recurrent_kernel", "bias"):
            getattr(pytorch, name).copy_(getattr(course, name))
            getattr(pytorch, name)[..., 4:8].neg_()
        pytorch.recurrent_bias.zero_()
    x, lengths = variable_batch()
    torch.testing.assert_close(run_cell(course, x, lengths)[0], run_cell(pytorch, x, lengths)[0], atol=1e-12, rtol=0)


# --- Keras layouts, against numpy implementations of Keras's equations --------------------------


def np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def keras_lstm(xs, kernel, recurrent_kernel, bias):
    H = recurrent_kernel.shape[0]
    h = c = np.zeros(H)
    for x in xs:
        z = x @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np_sigmoid(z[:H]), np_sigmoid(z[H : 2 * H]), np.tanh(z[2 * H : 3 * H]), np_sigmoid(z[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def keras_gru(xs, kernel, recurrent_kernel, bias, reset_after):
    """keras/src/layers/rnn/gru.py: gate order z, r, h; h = z*h_prev + (1-z)*hh."""
    H = recurrent_kernel.shape[0]
    h = np.zeros(H)
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * H))
    for x in xs:
        xz, xr, xh = np.split(x @ kernel + b_in, 3)
        if reset_after:
            rz, rr, rh = np.split(h @ recurrent_kernel + b_rec, 3)
            z, r = np_sigmoid(xz + rz), np_sigmoid(xr + rr)
            hh = np.tanh(xh + r * rh)
        else:
            z = np_sigmoid(xz + h @ recurrent_kernel[:, :H])
            r = np_sigmoid(xr + h @ recurrent_kernel[:, H : 2 * H])
            hh = np.tanh(xh + (r * h) @ recurrent_kernel[:, 2 * H :])
        h = z * h + (1 - z) * hh
    return h


def test_keras_lstm_weights_load_exactly():
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), rng.normal(size=16)
    cell = LSTMCell(3, 4).double()
    load_keras_weights(cell, kernel, recurrent, bias)
    xs = rng.normal(size=(5, 3))
    out, _ = run_cell(cell, torch.tensor(xs)[None], torch.tensor([5]))
    np.testing.assert_allclose(out[0, -1].detach().numpy(), keras_lstm(xs, kernel, recurrent, bias), atol=1e-12)


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_gru_weights_load_exactly(reset_after):
    rng = np.random.default_rng(1)
    kernel, recurrent = rng.normal(size=(3, 12)), rng.normal(size=(4, 12))
    bias = rng.normal(size=(2, 12)) if reset_after else rng.normal(size=12)
    cell = GRUCell(3, 4, convention="pytorch" if reset_after else "course").double()
    load_keras_weights(cell, kernel, recurrent, bias)
    xs = rng.normal(size=(6, 3))
    out, _ = run_cell(cell, torch.tensor(xs)[None], torch.tensor([6]))
    np.testing.assert_allclose(
        out[0, -1].detach().numpy(), keras_gru(xs, kernel, recurrent, bias, reset_after), atol=1e-12
    )


def test_keras_gru_convention_mismatch_is_an_error():
    with pytest.raises(ValueError, match="reset_after=True needs convention=pytorch"):
        load_keras_weights(GRUCell(3, 4, "course").double(), np.zeros((3, 12)), np.zeros((4, 12)), np.zeros((2, 12)))


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["reference", "fused"])
@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda: (torch.randn(5, 3), torch.tensor([5])), r"expected input of shape \(B, T, D\), got rank 2"),
        (lambda: (torch.randn(2, 5, 4), torch.tensor([5, 3])), "expected 3 input features .* got 4"),
        (lambda: (torch.randn(2, 5, 3), torch.tensor([6, 3])), "sequence 0 has length 6 > padded length T=5"),
        (lambda: (torch.randn(2, 5, 3), torch.tensor([5, 0])), "every length must be ≥ 1; sequence 1 has length 0"),
        (lambda: (torch.randn(2, 5, 3), torch.tensor([5, -2])), "sequence 1 has length -2"),
        (
            lambda: (torch.randn(2, 5, 3), torch.tensor([5.0, 3.0])),
            "lengths must be an int64 tensor, got torch.float32",
        ),
        (lambda: (torch.randn(2, 5, 3), [5, 3]), "lengths must be an int64 tensor, got list"),
        (lambda: (torch.randn(2, 5, 3), torch.tensor([5, 3, 2])), r"lengths must have shape \(2,\)"),
    ],
)
def test_bad_input_is_a_clear_value_error(make_input, message, backend):
    stack = RecurrentStack(lambda d: LSTMCell(d, 4), 3, backend=backend)
    x, lengths = make_input()
    with pytest.raises(ValueError, match=message):
        stack(x, lengths)


def test_fused_backend_refuses_the_course_gru():
    with pytest.raises(ValueError, match="backend 'fused' is not available for GRUCell"):
        RecurrentStack(lambda d: GRUCell(d, 4, "course"), 3, backend="fused")
    assert RecurrentStack(lambda d: GRUCell(d, 4, "course"), 3, backend="auto").backend == "reference"
    assert RecurrentStack(lambda d: GRUCell(d, 4, "pytorch"), 3, backend="auto").backend == "fused"


def test_bad_cell_arguments_are_named():
    with pytest.raises(ValueError, match="convention must be 'course' or 'pytorch', got 'keras'"):
        GRUCell(3, 4, convention="keras")
    with pytest.raises(ValueError, match="hidden_size must be positive"):
        LSTMCell(3, 0)
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        RecurrentStack(lambda d: LSTMCell(d, 4), 3, backend="cuda")
