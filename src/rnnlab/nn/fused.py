"""Fused backend: torch.nn.RNN/LSTM/GRU kernels with the cells' weights.

On the GPU the kernel runs over a packed sequence; on the CPU over the padded tensor, one
layer-direction per call (see UNPACKED_ON_CPU).

The torch module is only a *template* for the kernel call: ``functional_call`` substitutes the
cells' parameters (mapped once, in :mod:`rnnlab.nn.convert`), so gradients flow to ``kernel``,
``recurrent_kernel`` and ``bias`` and there is one set of weights whatever the backend.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.nn.convert import TORCH_WEIGHT_NAMES, to_torch_state_dict, to_torch_weights
from rnnlab.nn.sequence import reverse_within_length, step_mask

# On the CPU, torch's kernels are slow over a PackedSequence: the backward of GRU and plain RNN
# grows quadratically with T (measured, B=64, H=128: nn.GRU 0.10 s at T=100, 0.85 s at T=300,
# 41 s at T=1000), and packed nn.LSTM forward+backward takes 2-3x the unpacked time (B=64,
# T=100, D=32, H=128, lengths 20-100: 113-189 ms vs 60 ms). So every cell runs unpacked, one
# layer-direction at a time, with the same result (see _run_unpacked). For GRU and RNN the output
# *is* the state; LSTM's final cell state c is recomputed from the outputs (_final_cell_state),
# which costs about as much as the kernel: a one-layer LSTM stack, fused, 1 thread, lengths
# T/5-T, packed vs unpacked: 0.13 vs 0.12 s at T=100, 1.1-1.5 vs 0.40 s at T=300. In the pipeline
# an LSTM epoch went from 21.2 to 6.4 s on shakespeare and 11.9 to 5.5 s on fine_food (benchmarks/pair_cost.py).
UNPACKED_ON_CPU = {"LSTM", "GRU", "RNN_TANH", "RNN_RELU"}

_TEMPLATES = {
    "LSTM": lambda **kw: nn.LSTM(**kw),
    "GRU": lambda **kw: nn.GRU(**kw),
    "RNN_TANH": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "RNN_RELU": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
}


def _template(stack, input_size: int, num_layers: int, bidirectional: bool) -> nn.RNNBase:
    """A torch module of the given shape, built once per stack and kept off the module tree."""
    cache = stack.__dict__.setdefault("_fused_templates", {})  # plain attribute: not in state_dict
    key = (input_size, num_layers, bidirectional)
    if key not in cache:
        cell = stack.cells[0]
        cache[key] = _TEMPLATES[cell.fused_mode](
            input_size=input_size,
            hidden_size=cell.hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=stack.dropout if num_layers > 1 else 0.0,
            batch_first=True,
            device="meta",  # its own weights are never used
        )
    return cache[key]


def _call(template: nn.RNNBase, weights: dict[str, Tensor], args: tuple):
    # The mapped weights are transposed views of the cells' kernels; cuDNN views each weight as one
    # flat block and fails on a strided one ("view size is not compatible", found by
    # benchmarks/gpu_cells.py on an H100), so each is made contiguous — a copy that gradients pass through.
    weights = {name: w.contiguous() for name, w in weights.items()}
    with warnings.catch_warnings():
        # On CUDA the substituted weights are not one flat buffer; cuDNN then copies them per call.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
        return functional_call(template, weights, args)


def run(
    stack, x: Tensor, lengths: Tensor, state: NamedTuple | None, final_state: bool = True
) -> tuple[Tensor, NamedTuple | None]:
    """x (B, T, D), lengths (B,) -> outputs (B, T, K·H), final state (S·K, B, H) per field, or None
    where ``final_state`` is False and computing it would cost extra (on the CPU)."""
    B, T, _ = x.shape
    if state is None:
        state = stack.initial_state(B, x)
    if x.device.type == "cpu" and stack.cells[0].fused_mode in UNPACKED_ON_CPU:
        return _run_unpacked(stack, x, lengths, state, final_state)
    template = _template(stack, stack.input_size, stack.num_layers, stack.bidirectional)
    template.train(stack.training)
    hx = tuple(state) if len(state) > 1 else state[0]  # LSTM: (h, c); RNN/GRU: h
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, h_n = _call(template, to_torch_state_dict(stack), (packed, hx))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, K·H)
    h_n = h_n if isinstance(h_n, tuple) else (h_n,)
    return out, type(state)(*h_n)


def _run_unpacked(
    stack, x: Tensor, lengths: Tensor, state: NamedTuple, final_state: bool = True
) -> tuple[Tensor, NamedTuple | None]:
    """RNN/GRU/LSTM on the padded tensor, one layer-direction per kernel call.

    A forward pass is causal, so right padding cannot change outputs at real steps; the backward
    direction runs forward over each sequence reversed within its length. The final h is the
    output at each sequence's last real step (for RNN/GRU that is the whole state); LSTM's final c
    is recomputed from the outputs by :func:`_final_cell_state`; without ``final_state`` none of
    it is computed and the state returned is None. Padded outputs are zeroed, as
    pad_packed_sequence gives them.
    """
    B, T, _ = x.shape
    lstm = stack.cells[0].fused_mode == "LSTM"  # state (h, c); RNN/GRU: (h,), each (S·K, B, H)
    mask = step_mask(lengths, T, x.device)[..., None]  # (B, T, 1)
    last = (lengths.to(x.device) - 1).view(B, 1, 1).expand(B, 1, stack.hidden_size)  # (B, 1, H)
    finals, layer_input = [[] for _ in state], x  # per state field, per layer-direction
    for layer in range(stack.num_layers):
        if layer > 0 and stack.dropout > 0:
            layer_input = F.dropout(layer_input, stack.dropout, stack.training)  # between layers only
        template = _template(stack, layer_input.shape[-1], 1, False)
        outs = []
        for direction in range(stack.directions):
            index = layer * stack.directions + direction
            torch_weights = to_torch_weights(stack.cells[index])
            weights = {f"{name}_l0": w for name, w in zip(TORCH_WEIGHT_NAMES, torch_weights)}
            seq = reverse_within_length(layer_input, lengths) if direction else layer_input
            hx = tuple(field[index : index + 1].contiguous() for field in state)  # (1, B, H) each
            out, _ = _call(template, weights, (seq, hx if lstm else hx[0]))  # (B, T, H)
            out = out * mask
            if final_state:
                finals[0].append(out.gather(1, last).squeeze(1))  # (B, H) h at step len-1
            if final_state and lstm:
                h0, c0 = (field[index] for field in state)
                finals[1].append(_final_cell_state(seq, out, h0, c0, mask, torch_weights))
            outs.append(reverse_within_length(out, lengths) if direction else out)
        layer_input = torch.cat(outs, dim=-1)  # (B, T, K·H)
    if not final_state:
        return layer_input, None
    return layer_input, type(state)(*(torch.stack(field, dim=0) for field in finals))


def _final_cell_state(
    x: Tensor, out: Tensor, h0: Tensor, c0: Tensor, mask: Tensor, weights: tuple[Tensor, ...]
) -> Tensor:
    """LSTM's c at each sequence's last real step, from the kernel's exact outputs h. -> (B, H)

    The gates at step t depend only on x_t and h_{t-1} (h_{-1} = h0), so all of them come from one
    batched matmul with the kernel's weights (torch's gate order i, f, g, o; o is not needed):

        z_t = W_ih x_t + W_hh h_{t-1} + b_ih + b_hh,   i_t, f_t, g_t = σ, σ, tanh of its blocks
        c_t = f_t c_{t-1} + i_t g_t   unrolls, for a sequence of length L, to
        c_L = Σ_{t<L} (Π_{t<s<L} f_s) i_t g_t + (Π_{s<L} f_s) c0

    The products are exp of reverse cumulative sums of log f_s = logsigmoid(z_f) (no underflow of
    a running product); padded steps contribute log f = 0 and i·g = 0. Autograd through ``out``
    and the weights gives the exact gradients. x (B, T, D) and out (B, T, H), both in the kernel's
    step order; mask (B, T, 1) bool; h0, c0 (B, H).
    """
    w_ih, w_hh, b_ih, b_hh = weights
    G = 3 * h0.shape[-1]  # the i, f, g blocks
    h_prev = torch.cat([h0[:, None], out[:, :-1]], dim=1)  # (B, T, H) h_{t-1}
    z = F.linear(x, w_ih[:G], b_ih[:G] + b_hh[:G]) + F.linear(h_prev, w_hh[:G])  # (B, T, 3H)
    z_i, z_f, z_g = z.chunk(3, dim=-1)
    log_f = torch.where(mask, F.logsigmoid(z_f), 0.0)  # (B, T, H)
    ig = torch.where(mask, torch.sigmoid(z_i) * torch.tanh(z_g), 0.0)  # (B, T, H)
    after = log_f.flip(1).cumsum(1).flip(1)  # Σ_{s≥t} log f_s, summed from the end for accuracy
    decay = torch.cat([after[:, 1:], torch.zeros_like(after[:, :1])], dim=1).exp()  # Π_{t<s<L} f_s
    return (decay * ig).sum(1) + after[:, 0].exp() * c0
