"""The torch side of the task kinds: the heads, losses and flattenings a kind names (rnnlab.kinds), and
``Task``, a kind with those pieces put together for training and evaluation.

Per-step targets are padded with ``IGNORE`` (a bit target: every bit of a step without an answer):
padded steps add nothing to the loss or the metrics. Metrics take the raw predictions of the real
targets only (``flatten``), so bits per token come from the logits and value errors are measured in
the target's own units. A kind that decodes writes its own output: its loss is teacher-forced, its
metrics score the greedy output, flattened to token ids with each sequence ending at </s>.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.data.meta import DatasetMeta
from rnnlab.data.symbols import IGNORE
from rnnlab.kinds import KINDS
from rnnlab.kinds.base import TaskKind
from rnnlab.kinds.seq2seq import decoded
from rnnlab.models.heads import Regressor, SequenceClassifier, StepClassifier
from rnnlab.models.seq2seq import Seq2Seq


def per_answer_step(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, b) logits and targets -> (N, b) at the N steps with an answer."""
    real = (target != IGNORE).all(-1)
    return prediction[real], target[real]


def bits_cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of every bit that has an answer (the NTM paper's sigmoid outputs; a tag set)."""
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


# The pieces a kind names: its head on the encoder ((encoder, meta) -> model), its loss
# ((prediction, target, reduction="mean") -> scalar) and which predictions count (real targets only).
HEADS: dict[str, Callable[[nn.Module, DatasetMeta], nn.Module]] = {
    "sequence_classifier": lambda enc, meta: SequenceClassifier(enc, meta.num_classes),  # (B, C)
    "step_classifier": lambda enc, meta: StepClassifier(enc, meta.num_classes),  # (B, T, C)
    "regressor": lambda enc, meta: Regressor(enc),  # (B,)
    "decoder": lambda enc, meta: Seq2Seq(enc, meta.num_classes, meta.target_embedding_size, meta.max_output_ratio),
}
LOSSES: dict[str, Callable[..., Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "step_cross_entropy": step_cross_entropy,
    "bits_cross_entropy": bits_cross_entropy,
    "mse": F.mse_loss,
}
FLATTENS: dict[str, Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]] = {
    "per_sequence": per_sequence,
    "per_step": per_step,
    "per_answer_step": per_answer_step,
    "per_output_sequence": per_output_sequence,
}


@dataclass(frozen=True)
class Task:
    """A task kind (its facts and behaviour: ``kind``) with the torch pieces it names."""

    kind: TaskKind
    build_head: Callable[[nn.Module, DatasetMeta], nn.Module]
    loss: Callable[..., Tensor]
    flatten: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]

    name = property(lambda self: self.kind.name)
    target = property(lambda self: self.kind.target)
    per_step = property(lambda self: self.kind.per_step)
    causal = property(lambda self: self.kind.causal)
    selection_metric = property(lambda self: self.kind.selection_metric)
    decodes = property(lambda self: self.kind.decodes)
    greater_is_better = property(lambda self: self.kind.greater_is_better)

    def metrics(self, predicted, target, meta: DatasetMeta) -> dict[str, float]:
        return self.kind.metrics(predicted, target, meta)

    def answer(self, prediction: Tensor, length: int) -> Tensor:
        """One sequence's row of a batch prediction, as the metrics read it: the whole row, its
        ``length`` real steps, or the decoded ids up to </s>."""
        if self.decodes:
            return decoded(prediction)
        return prediction[:length] if self.per_step else prediction


TASKS: dict[str, Task] = {
    name: Task(kind, HEADS[kind.head], LOSSES[kind.loss], FLATTENS[kind.flatten]) for name, kind in KINDS.items()
}
