"""The architectures as the configuration knows them, without torch: each one's name, what it is,
its settings' schema (pydantic, with each type's defaults), the task kinds and the kind of data it
reads, and what ``rnnlab tune`` varies. The only place that knows architecture names; the encoder
each one builds is in rnnlab.registry. Adding an architecture is a module under ``nn/`` or
``models/``, one entry below and its builder there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from rnnlab.errors import ConfigError
from rnnlab.kinds import KINDS
from rnnlab.search_space import RECURRENT_SPACE, Choice, Range, Space


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


# A recurrent encoder gives per-step features and a per-sequence summary: every task head composes with it.
EVERY_TASK = frozenset(KINDS)


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    params: type[BaseModel]
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
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "lstm",
            "LSTM with forget, input and output gates",
            RecurrentParams,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "gru",
            "GRU, course (reset before) or pytorch (reset after) convention",
            GRUParams,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "dglstm",
            "Depth-Gated LSTM: a gated path between memory cells across layers",
            DGLSTMParams,
            EVERY_TASK,
            space=RECURRENT_SPACE,
        ),
        Architecture(
            "dilated",
            "Dilated RNN: skip connections of rate 1, 2, 4, ... over any core cell",
            DilatedParams,
            EVERY_TASK,
            space={"hidden_size": WIDTH, "dropout": DROPOUT},
        ),
        Architecture(
            "ntm",
            "Neural Turing Machine: LSTM controller, content + location addressing of an N x M memory",
            NTMParams,
            EVERY_TASK,
            space={"controller_size": WIDTH, "memory_width": Range(low=8, high=32, log=True)},
        ),
        Architecture(
            "attention",
            "Attentional interface: a recurrent encoder read by additive or multiplicative attention",
            AttentionParams,
            EVERY_TASK,
            space={**RECURRENT_SPACE, "attention": Choice(choices=["additive", "general", "dot"])},
        ),
        Architecture(
            "act",
            "Adaptive Computation Time: a core cell that ponders a learned number of steps per input",
            ACTParams,
            EVERY_TASK,
            space={**RECURRENT_SPACE, "time_penalty": Range(low=1e-4, high=1e-1, log=True)},
        ),
        Architecture(
            "stepwise",
            "No recurrence (a baseline): each step through the same MLP, alone",
            StepwiseParams,
            EVERY_TASK,
            space={"hidden_size": WIDTH, "num_layers": Range(low=1, high=2), "dropout": DROPOUT},
        ),
        Architecture(
            "dialogue_rnn",
            "DialogueRNN: a state per party, a global state and an emotion state over a dialogue's utterances",
            DialogueParams,
            frozenset({"label_steps", "classify", "regress"}),
            data="dialogue",
            space={"global_size": WIDTH, "party_size": WIDTH, "emotion_size": WIDTH, "dropout": DROPOUT},
        ),
        Architecture(
            "neural_programmer",
            "Neural Programmer: a soft program of table operations chosen step by step from the question",
            ProgrammerParams,
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
    "table_questions": (
        "reads a question and a table, one cell a step: it needs a table_questions dataset read as written "
        "(no downsample, frame or sequence_scale)"
    ),
}


def incompatibility(params: BaseModel, task: str, data: str | None = None) -> str | None:
    """Why an architecture with these settings cannot learn a task kind on a dataset of this kind
    ("dialogue", "table_questions" or None), or None if it can."""
    arch = get(params.type)
    if task not in arch.tasks:
        return f"{arch.name} does not support task {task!r} (it supports: {', '.join(sorted(arch.tasks))})"
    if arch.data is not None and arch.data != data:
        return f"{arch.name} {DATA_NEEDS[arch.data]}"
    if KINDS[task].causal and getattr(params, "bidirectional", False):
        return (
            f"task {task!r} predicts each step from the steps before it; a bidirectional encoder would read the answer"
        )
    return None
