"""Architecture registry: name -> parameter schema, encoder builder, supported tasks.

The only place in rnnlab that knows architecture names. Flows, the CLI and the training module
look architectures up here; adding one is a module under ``nn/`` plus one entry below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.models.encoder import AttentiveEncoder, RecurrentEncoder, StepwiseEncoder
from rnnlab.nn import ElmanCell, GRUCell, LSTMCell, RecurrentStack
from rnnlab.nn.act import ACTCell
from rnnlab.nn.depth_gated import DepthGatedLSTMCell
from rnnlab.nn.dialogue import DialogueRNN
from rnnlab.nn.dilated import DilatedRecurrence
from rnnlab.nn.ntm import NTMCell
from rnnlab.nn.programmer import TableProgrammer
from rnnlab.search_space import RECURRENT_SPACE, Choice, Range, Space
from rnnlab.tasks import TASKS


class RecurrentParams(BaseModel):
    """Values every stacked recurrent encoder takes; an entry in params.yaml states the ones that differ
    from these defaults (its hidden size always)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    hidden_size: PositiveInt
    num_layers: PositiveInt = 1
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    init: Literal["pytorch", "keras"] = (
        "pytorch"  # pytorch: U(±1/√H) like torch.nn; keras: glorot/orthogonal/forget bias 1
    )
    backend: Literal["auto", "fused", "reference", "compiled"] = "auto"


class ElmanParams(RecurrentParams):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


class GRUParams(RecurrentParams):
    convention: Literal["course", "pytorch"] = (
        "course"  # course: reset before the product (Cho); pytorch: after (cuDNN)
    )


class DGLSTMParams(RecurrentParams):
    """``num_layers`` is the depth of the depth-gated stack (one cell holds every layer)."""

    peepholes: bool = False


class DilatedParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    cell: Literal["rnn", "lstm", "gru"]  # Elman tanh, LSTM, GRU (pytorch convention: a fused kernel exists)
    hidden_size: PositiveInt
    dilations: list[PositiveInt] = Field(min_length=1)  # one layer per entry, e.g. [1, 2, 4, 8]
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    init: Literal["pytorch", "keras"] = "pytorch"
    backend: Literal["auto", "fused", "reference", "compiled"] = "auto"


class NTMParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    controller_size: PositiveInt  # H of the LSTM controller
    memory_rows: PositiveInt  # N: must exceed the longest sequence a copy should hold
    memory_width: PositiveInt  # M
    read_heads: PositiveInt = 1
    write_heads: PositiveInt = 1
    shift_range: int = Field(1, ge=0)  # allowed shifts -R..R (1 in the paper)
    init: Literal["pytorch", "keras"] = "pytorch"  # the controller's
    backend: Literal["auto", "reference", "compiled"] = "auto"  # no fused kernel exists for a memory cell


class AttentionParams(RecurrentParams):
    """A recurrent encoder (any core cell) read through attention: pooling for one answer per
    sequence, the decoder's alignment for seq2seq. Bahdanau's encoder is bidirectional."""

    cell: Literal["rnn", "lstm", "gru"] = "gru"
    attention: Literal["additive", "general", "dot"] = "additive"  # Bahdanau (mlp), Luong general, Luong dot
    attention_size: PositiveInt  # A of additive attention (unused by general and dot)


class ACTParams(RecurrentParams):
    """Adaptive Computation Time around a core cell (Graves 2016)."""

    cell: Literal["rnn", "lstm", "gru"] = "rnn"
    time_penalty: float = Field(0.001, ge=0.0)  # τ: the weight of the ponder cost
    epsilon: float = Field(0.01, gt=0.0, lt=1.0)  # ε (0.01 in the paper)
    max_steps: PositiveInt = 10  # M: ponder steps per input step at most
    halting_bias: float = 1.0  # b_h at initialisation (+1 in the paper)
    backend: Literal["auto", "reference"] = "auto"  # a data-dependent loop per step: no fused kernel, not compiled


class StepwiseParams(BaseModel):
    """A per-step MLP: the no-recurrence baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    hidden_size: PositiveInt
    num_layers: PositiveInt = 1
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class DialogueParams(BaseModel):
    """DialogueRNN (Majumder et al. 2019): global, party and emotion GRUs over a dialogue's utterances."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    global_size: PositiveInt  # G of the global GRU
    party_size: PositiveInt  # Q of each party's state
    emotion_size: PositiveInt  # E of the emotion GRU
    output_size: PositiveInt  # l_t = ReLU(W_l ẽ_t): what the task head reads
    listener: Literal["passive", "active"] = "passive"  # listeners keep their state, or update it (the authors' code)
    bidirectional: bool = False  # BiDialogueRNN
    emotion_attention: bool = False  # +Att: each utterance attends over the dialogue's emotion states
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class ProgrammerParams(BaseModel):
    """The Neural Programmer (Neelakantan et al. 2016) over a question and a table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    hidden_size: PositiveInt  # H of the question RNN, the history RNN and the embeddings
    steps: PositiveInt = 4  # T: operations per program (4 in the paper)


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


def build_programmer(input_size: int, p: ProgrammerParams, meta: dict) -> TableProgrammer:
    from rnnlab.data.sources.tables import VOCABULARY

    return TableProgrammer(
        meta["features"], meta.get("normalizer"), meta["target_scale"], len(VOCABULARY), p.hidden_size, p.steps
    )


def build_dialogue(input_size: int, p: DialogueParams, meta: dict) -> DialogueRNN:
    return DialogueRNN(
        input_size,
        meta.get("parties", 0),
        p.global_size,
        p.party_size,
        p.emotion_size,
        p.output_size,
        p.listener,
        p.bidirectional,
        p.emotion_attention,
        p.dropout,
    )


# A recurrent encoder gives per-step features and a per-sequence summary: every task head composes with it.
EVERY_TASK = frozenset(TASKS)


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    params: type[BaseModel]
    build_encoder: Callable[
        ..., nn.Module
    ]  # (input_size, params), or (input_size, params, dataset meta) where data is set
    tasks: frozenset[str]
    data: str | None = None  # the kind of dataset it reads (None: any): "dialogue" (speaker one-hot after the
    #                          features) or "table_questions" (a question, then a table)
    space: Space = field(default_factory=dict)  # what `rnnlab tune` varies (beside search_space.TRAIN_SPACE)


WIDTH = Range(low=16, high=128, log=True)
DROPOUT = Range(low=0.0, high=0.5)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in [
        Architecture(
            "rnn",
            "Elman RNN: h_t = tanh(U x_t + W h_{t-1} + b)",
            ElmanParams,
            build_elman,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "lstm",
            "LSTM with forget, input and output gates",
            RecurrentParams,
            build_lstm,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "gru",
            "GRU, course (reset before) or pytorch (reset after) convention",
            GRUParams,
            build_gru,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "dglstm",
            "Depth-Gated LSTM: a gated path between memory cells across layers",
            DGLSTMParams,
            build_dglstm,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "dilated",
            "Dilated RNN: skip connections of rate 1, 2, 4, ... over any core cell",
            DilatedParams,
            build_dilated,
            EVERY_TASK,
            space={"hidden_size": WIDTH, "dropout": DROPOUT},
        ),
        Architecture(
            "ntm",
            "Neural Turing Machine: LSTM controller, content + location addressing of an N x M memory",
            NTMParams,
            build_ntm,
            EVERY_TASK,
            space={"controller_size": WIDTH, "memory_width": Range(low=8, high=32, log=True)},
        ),
        Architecture(
            "attention",
            "Attentional interface: a recurrent encoder read by additive or multiplicative attention",
            AttentionParams,
            build_attention,
            EVERY_TASK,
            space={**RECURRENT_SPACE, "attention": Choice(choices=["additive", "general", "dot"])},
        ),
        Architecture(
            "act",
            "Adaptive Computation Time: a core cell that ponders a learned number of steps per input",
            ACTParams,
            build_act,
            EVERY_TASK,
            space={**RECURRENT_SPACE, "time_penalty": Range(low=1e-4, high=1e-1, log=True)},
        ),
        Architecture(
            "stepwise",
            "No recurrence (a baseline): each step through the same MLP, alone",
            StepwiseParams,
            build_stepwise,
            EVERY_TASK,
            space={"hidden_size": WIDTH, "num_layers": Range(low=1, high=2), "dropout": DROPOUT},
        ),
        Architecture(
            "dialogue_rnn",
            "DialogueRNN: a state per party, a global state and an emotion state over a dialogue's utterances",
            DialogueParams,
            build_dialogue,
            frozenset({"label_steps", "classify", "regress"}),
            data="dialogue",
            space={"global_size": WIDTH, "party_size": WIDTH, "emotion_size": WIDTH, "dropout": DROPOUT},
        ),
        Architecture(
            "neural_programmer",
            "Neural Programmer: a soft program of table operations chosen step by step from the question",
            ProgrammerParams,
            build_programmer,
            frozenset({"regress"}),
            data="table_questions",
            space={"hidden_size": WIDTH},
        ),
    ]
}


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(f"unknown architecture {name!r} (allowed: {', '.join(ARCHITECTURES)})") from None


DATA_NEEDS = {
    "dialogue": "reads who speaks each utterance: it needs a dialogue dataset (a speaker column, speakers: true)",
    "table_questions": "reads a question and a table: it needs a table_questions dataset",
}


def incompatibility(params: BaseModel, task: str, data: str | None = None) -> str | None:
    """Why an architecture with these settings cannot learn a task kind on a dataset of this kind
    ("dialogue", "table_questions" or None), or None if it can."""
    arch = get(params.type)
    if task not in arch.tasks:
        return f"{arch.name} does not support task {task!r} (it supports: {', '.join(sorted(arch.tasks))})"
    if arch.data is not None and arch.data != data:
        return f"{arch.name} {DATA_NEEDS[arch.data]}"
    if TASKS[task].causal and getattr(params, "bidirectional", False):
        return (
            f"task {task!r} predicts each step from the steps before it; a bidirectional encoder would read the answer"
        )
    return None


def build_encoder(params: BaseModel, input_size: int, meta: dict | None = None) -> nn.Module:
    """An architecture that reads a kind of dataset (``data``) is built from the dataset's meta too
    (a dialogue's party count, a table's feature layout and normalizer)."""
    arch = get(params.type)
    if arch.data is not None:
        return arch.build_encoder(input_size, params, meta or {})
    return arch.build_encoder(input_size, params)
