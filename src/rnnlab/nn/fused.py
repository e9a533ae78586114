"""Fused backend: torch.nn.RNN/LSTM/GRU kernels over packed sequences, with the cells' weights.

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

# On the CPU, the backward of torch's GRU and plain-RNN kernels over a PackedSequence grows
# quadratically with T (measured here, B=64, H=128: nn.GRU 0.10 s at T=100, 0.85 s at T=300,
# 41 s at T=1000; nn.LSTM 0.02 / 0.08 / 0.4 s). For these cells the output *is* the state, so they
# run unpacked, one layer-direction at a time, with the same result (see _run_unpacked).
UNPACKED_ON_CPU = {"GRU", "RNN_TANH", "RNN_RELU"}

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


def run(stack, x: Tensor, lengths: Tensor, state: NamedTuple | None) -> tuple[Tensor, NamedTuple]:
    """x (B, T, D), lengths (B,) -> outputs (B, T, K·H), final state (S·K, B, H) per field."""
    B, T, _ = x.shape
    if state is None:
        state = stack.initial_state(B, x)
    if x.device.type == "cpu" and stack.cells[0].fused_mode in UNPACKED_ON_CPU:
        return _run_unpacked(stack, x, lengths, state)
    template = _template(stack, stack.input_size, stack.num_layers, stack.bidirectional)
    template.train(stack.training)
    hx = tuple(state) if len(state) > 1 else state[0]  # LSTM: (h, c); RNN/GRU: h
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, h_n = _call(template, to_torch_state_dict(stack), (packed, hx))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, K·H)
    h_n = h_n if isinstance(h_n, tuple) else (h_n,)
    return out, type(state)(*h_n)


def _run_unpacked(stack, x: Tensor, lengths: Tensor, state: NamedTuple) -> tuple[Tensor, NamedTuple]:
    """GRU/RNN on the padded tensor, one layer-direction per kernel call.

    A forward pass is causal, so right padding cannot change outputs at real steps; the backward
    direction runs forward over each sequence reversed within its length. The final state is the
    output at each sequence's last real step (output = state for these cells). Padded outputs are
    zeroed, as pad_packed_sequence gives them.
    """
    B, T, _ = x.shape
    (h0,) = state  # (S·K, B, H)
    mask = step_mask(lengths, T, x.device)[..., None]  # (B, T, 1)
    last = (lengths.to(x.device) - 1).view(B, 1, 1).expand(B, 1, stack.hidden_size)  # (B, 1, H)
    finals, layer_input = [], x
    for layer in range(stack.num_layers):
        if layer > 0 and stack.dropout > 0:
            layer_input = F.dropout(layer_input, stack.dropout, stack.training)  # between layers only
        template = _template(stack, layer_input.shape[-1], 1, False)
        outs = []
        for direction in range(stack.directions):
            index = layer * stack.directions + direction
            weights = {f"{name}_l0": w for name, w in zip(TORCH_WEIGHT_NAMES, to_torch_weights(stack.cells[index]))}
            seq = reverse_within_length(layer_input, lengths) if direction else layer_input
            out, _ = _call(template, weights, (seq, h0[index : index + 1].contiguous()))  # (B, T, H)
            out = out * mask
            finals.append(out.gather(1, last).squeeze(1))  # (B, H) at step len-1
            outs.append(reverse_within_length(out, lengths) if direction else out)
        layer_input = torch.cat(outs, dim=-1)  # (B, T, K·H)
    return layer_input, type(state)(torch.stack(finals, dim=0))
