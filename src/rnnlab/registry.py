"""The encoder each architecture builds (torch): its schema and facts are in rnnlab.architectures.

``BUILDERS`` maps every architecture name to the function that makes its encoder from the input
width and its settings (and, for one that reads a kind of dataset, the dataset's meta).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel
from torch import nn

from rnnlab.architectures import (
    ACTParams,
    AttentionParams,
    DGLSTMParams,
    DialogueParams,
    DilatedParams,
    ElmanParams,
    GRUParams,
    NTMParams,
    ProgrammerParams,
    RecurrentParams,
    StepwiseParams,
    get,
)
from rnnlab.data.meta import DatasetMeta
from rnnlab.models.dialogue import DialogueRNN
from rnnlab.models.encoder import AttentiveEncoder, RecurrentEncoder, StepwiseEncoder
from rnnlab.models.programmer import TableProgrammer
from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.depth_gated import DepthGatedLSTMCell
from rnnlab.nn.dilated import DilatedRecurrence
from rnnlab.nn.ntm import NTMCell


def _stack(make_cell: Callable[[int], nn.Module], input_size: int, p: RecurrentParams) -> RecurrentEncoder:
    return RecurrentEncoder(RecurrentStack(make_cell, input_size, p.num_layers, p.bidirectional, p.dropout, p.backend))


def build_elman(input_size: int, p: ElmanParams) -> RecurrentEncoder:
    return _stack(lambda d: ElmanCell(d, p.hidden_size, p.nonlinearity, p.init), input_size, p)


def build_lstm(input_size: int, p: RecurrentParams) -> RecurrentEncoder:
    return _stack(lambda d: LSTMCell(d, p.hidden_size, p.init), input_size, p)


def build_gru(input_size: int, p: GRUParams) -> RecurrentEncoder:
    return _stack(lambda d: GRUCell(d, p.hidden_size, p.convention, p.init), input_size, p)


def build_dglstm(input_size: int, p: DGLSTMParams) -> RecurrentEncoder:
    cell = lambda d: DepthGatedLSTMCell(d, p.hidden_size, p.num_layers, p.peepholes, p.dropout, p.init)  # noqa: E731
    return RecurrentEncoder(RecurrentStack(cell, input_size, 1, p.bidirectional, 0.0, p.backend))


def build_ntm(input_size: int, p: NTMParams) -> RecurrentEncoder:
    cell = lambda d: NTMCell(  # noqa: E731
        d, p.controller_size, p.memory_rows, p.memory_width, p.read_heads, p.write_heads, p.shift_range, p.init
    )
    return RecurrentEncoder(RecurrentStack(cell, input_size, 1, False, 0.0, p.backend))


CORE_CELLS = {  # the cells a wrapper or a dilated stack builds on (GRU in the pytorch convention: fused kernel)
    "rnn": lambda d, p: ElmanCell(d, p.hidden_size, "tanh", p.init),
    "lstm": lambda d, p: LSTMCell(d, p.hidden_size, p.init),
    "gru": lambda d, p: GRUCell(d, p.hidden_size, "pytorch", p.init),
}


def build_attention(input_size: int, p: AttentionParams) -> AttentiveEncoder:
    stack = RecurrentStack(
        lambda d: CORE_CELLS[p.cell](d, p), input_size, p.num_layers, p.bidirectional, p.dropout, p.backend
    )
    return AttentiveEncoder(stack, p.attention, p.attention_size)


def build_act(input_size: int, p: ACTParams) -> RecurrentEncoder:
    make_cell = lambda d: ACTCell(CORE_CELLS[p.cell](d + 1, p), p.time_penalty, p.epsilon, p.max_steps, p.halting_bias)  # noqa: E731  d + 1: the first-step flag
    return _stack(make_cell, input_size, p)


def build_dilated(input_size: int, p: DilatedParams) -> RecurrentEncoder:
    make_cell = lambda d: CORE_CELLS[p.cell](d, p)  # noqa: E731
    return RecurrentEncoder(DilatedRecurrence(make_cell, input_size, p.dilations, p.dropout, p.backend))


def build_stepwise(input_size: int, p: StepwiseParams) -> StepwiseEncoder:
    return StepwiseEncoder(input_size, p.hidden_size, p.num_layers, p.dropout)


def build_programmer(input_size: int, p: ProgrammerParams, meta: DatasetMeta) -> TableProgrammer:
    return TableProgrammer(meta.features, meta.normalizer, meta.target_scale, p.hidden_size, p.steps)


def build_dialogue(input_size: int, p: DialogueParams, meta: DatasetMeta) -> DialogueRNN:
    return DialogueRNN(
        input_size,
        meta.parties,
        p.global_size,
        p.party_size,
        p.emotion_size,
        p.output_size,
        p.listener,
        p.bidirectional,
        p.emotion_attention,
        p.dropout,
    )


BUILDERS: dict[
    str, Callable[..., nn.Module]
] = {  # (input_size, params), or (input_size, params, meta) where data is set
    "rnn": build_elman,
    "lstm": build_lstm,
    "gru": build_gru,
    "dglstm": build_dglstm,
    "dilated": build_dilated,
    "ntm": build_ntm,
    "attention": build_attention,
    "act": build_act,
    "stepwise": build_stepwise,
    "dialogue_rnn": build_dialogue,
    "neural_programmer": build_programmer,
}


def build_encoder(params: BaseModel, input_size: int, meta: DatasetMeta | None = None) -> nn.Module:
    """An architecture that reads a kind of dataset (``data``) is built from the dataset's meta too
    (a dialogue's party count, a table's feature layout and normalizer)."""
    arch = get(params.type)
    if arch.data is not None:
        return BUILDERS[arch.name](input_size, params, meta or {})
    return BUILDERS[arch.name](input_size, params)
