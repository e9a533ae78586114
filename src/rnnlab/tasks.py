"""Task kinds: the head, the loss, the metrics and the selection rule of each kind of target.

The training module, evaluation and compare ask the task, never the architecture, what to compute.

    classify        one label per sequence        logits (B, C)     accuracy, macro- and weighted F1
    label_steps     one label per step            logits (B, T, C)  accuracy, macro- and weighted F1 over real steps
    label_bits      a bit vector per answer step  logits (B, T, b)  bit error rate, exact-step accuracy (σ per bit, BCE)
    language_model  the next token at every step  logits (B, T, V)  bits per token, next-token accuracy
    forecast        the next value of a series    value (B,)        MAE, RMSE (original units)
    regress         one number per sequence       value (B,)        MSE, MAE, RMSE (original units)
    seq2seq         a symbol sequence per sequence logits (B, L, V)  exact-sequence accuracy, token error rate

Per-step targets are padded with ``IGNORE`` (a bit target: every bit of a step without an answer):
padded steps add nothing to the loss or the metrics. Metrics take the raw predictions of the real
targets only (``flatten``), so bits per token come from the logits and forecasting errors are
measured in the series' own units. A seq2seq model writes its own output (``decodes``): its loss is
teacher-forced, its metrics score the greedy output, flattened to token ids with each sequence
ending at </s>.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.symbols import IGNORE
from rnnlab.models.heads import Regressor, SequenceClassifier, StepClassifier
from rnnlab.models.seq2seq import Seq2Seq, decoded
from rnnlab.task_kinds import KINDS, TaskKind, greater_is_better


def per_answer_step(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, b) logits and targets -> (N, b) at the N steps with an answer."""
    real = (target != IGNORE).all(-1)
    return prediction[real], target[real]


def bits_cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of every bit of every answer step (the NTM paper's sigmoid outputs)."""
    real = target != IGNORE
    return F.binary_cross_entropy_with_logits(logits[real], target[real], reduction=reduction)


def per_output_sequence(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """(B, L', V) greedy logits and (B, L) targets -> flat ids, each sequence ending at </s>."""
    return torch.cat([decoded(row) for row in prediction]), target[target != IGNORE]


def per_sequence(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    return prediction, target


def per_step(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, C) logits and (B, T) targets -> (N, C), (N,) at the N real steps."""
    real = target != IGNORE
    return prediction[real], target[real]


def step_cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE, reduction=reduction)


@dataclass(frozen=True)
class Task:
    """A task kind's behaviour (torch): its facts, ``kind``, are in rnnlab.task_kinds."""

    kind: TaskKind
    build_head: Callable[[nn.Module, dict], nn.Module]  # (encoder, dataset meta) -> model
    loss: Callable[..., Tensor]  # (prediction, target, reduction="mean") -> scalar
    flatten: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # real targets only

    name = property(lambda self: self.kind.name)
    target = property(lambda self: self.kind.target)
    per_step = property(lambda self: self.kind.per_step)
    causal = property(lambda self: self.kind.causal)
    selection_metric = property(lambda self: self.kind.selection_metric)
    decodes = property(lambda self: self.kind.decodes)
    metrics = property(lambda self: self.kind.metrics)

    @property
    def greater_is_better(self) -> bool:
        """The direction of the selection metric."""
        return greater_is_better(self.selection_metric)

    def answer(self, prediction: Tensor, length: int) -> Tensor:
        """One sequence's row of a batch prediction, as the metrics read it: the whole row, its
        ``length`` real steps, or the decoded ids up to </s>."""
        if self.decodes:
            return decoded(prediction)
        return prediction[:length] if self.per_step else prediction


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            KINDS["classify"],
            lambda enc, meta: SequenceClassifier(enc, meta["num_classes"]),
            F.cross_entropy,
            per_sequence,
        ),
        Task(
            KINDS["label_steps"],
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            step_cross_entropy,
            per_step,
        ),
        Task(
            KINDS["label_bits"],
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            bits_cross_entropy,
            per_answer_step,
        ),
        Task(
            KINDS["language_model"],
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            step_cross_entropy,
            per_step,
        ),
        Task(
            KINDS["forecast"],
            lambda enc, meta: Regressor(enc),
            F.mse_loss,
            per_sequence,
        ),
        Task(
            KINDS["regress"],
            lambda enc, meta: Regressor(enc),
            F.mse_loss,
            per_sequence,
        ),
        Task(
            KINDS["seq2seq"],
            lambda enc, meta: Seq2Seq(
                enc, meta["num_classes"], meta["target_embedding_size"], meta["max_output_ratio"]
            ),
            step_cross_entropy,
            per_output_sequence,
        ),
    ]
}
