"""Fused backend: torch.nn.RNN/LSTM/GRU kernels over packed sequences, with the cells' weights.

The torch module is only a *template* for the kernel call: ``functional_call`` substitutes the
cells' parameters (mapped once, in :mod:`rnnlab.nn.convert`), so gradients flow to ``kernel``,
``recurrent_kernel`` and ``bias`` and there is one set of weights whatever the backend.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.nn.convert import to_torch_state_dict

_TEMPLATES = {
    "LSTM": lambda **kw: nn.LSTM(**kw),
    "GRU": lambda **kw: nn.GRU(**kw),
    "RNN_TANH": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "RNN_RELU": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
}


def _template(stack) -> nn.RNNBase:
    """The torch module matching ``stack``'s shape, built once and kept off the module tree."""
    cached = stack.__dict__.get("_fused_template")
    if cached is None:
        cell = stack.cells[0]
        cached = _TEMPLATES[cell.fused_mode](
            input_size=stack.input_size,
            hidden_size=cell.hidden_size,
            num_layers=stack.num_layers,
            bidirectional=stack.bidirectional,
            dropout=stack.dropout,
            batch_first=True,
            device="meta",  # its own weights are never used
        )
        stack.__dict__["_fused_template"] = cached  # plain attribute: not a submodule, not in state_dict
    return cached


def run(stack, x: Tensor, lengths: Tensor, state: NamedTuple | None) -> tuple[Tensor, NamedTuple]:
    """x (B, T, D), lengths (B,) -> outputs (B, T, K·H), final state (L·K, B, H) per field."""
    B, T, _ = x.shape
    template = _template(stack)
    template.train(stack.training)
    if state is None:
        state = stack.initial_state(B, x)
    hx = tuple(state) if len(state) > 1 else state[0]  # LSTM: (h, c); RNN/GRU: h
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    with warnings.catch_warnings():
        # On CUDA the substituted weights are not one flat buffer; cuDNN then copies them per call.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
        out, h_n = functional_call(template, to_torch_state_dict(stack), (packed, hx))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, K·H)
    h_n = h_n if isinstance(h_n, tuple) else (h_n,)
    return out, type(state)(*h_n)
