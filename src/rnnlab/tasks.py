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

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from torch import Tensor, nn

from rnnlab.models.heads import Regressor, SequenceClassifier, StepClassifier
from rnnlab.models.seq2seq import END_ID, Seq2Seq, decoded

IGNORE = -100  # target of a padded step (torch's cross_entropy ignore_index)

# Which way every metric a task reports improves: the one place that knows it (selection, champions,
# the leaderboard's arrows and the verdict against a reference all read it here).
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "macro_f1": True,
    "weighted_f1": True,
    "direction_accuracy": True,
    "sequence_accuracy": True,
    "step_accuracy": True,
    "bits_per_token": False,
    "mae": False,
    "rmse": False,
    "mse": False,
    "token_error_rate": False,
    "bit_error_rate": False,
    "bit_errors_per_step": False,
    "loss": False,
}


def greater_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` (a name as the tasks report it, with or without a
    ``test_`` / ``best_val_`` / ``val_`` prefix) is better."""
    name = metric.removeprefix("test_").removeprefix("best_val_").removeprefix("val_")
    if name not in GREATER_IS_BETTER:
        raise KeyError(f"metric {metric!r}: its direction is not known (known: {', '.join(GREATER_IS_BETTER)})")
    return GREATER_IS_BETTER[name]


def classification_metrics(logits: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    predicted = logits.argmax(-1)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "macro_f1": float(f1_score(target, predicted, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(target, predicted, average="weighted", zero_division=0)),  # DialogueRNN's metric
    }


def language_model_metrics(logits: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    nats = F.cross_entropy(torch.from_numpy(logits).double(), torch.from_numpy(target), reduction="mean").item()
    return {"bits_per_token": nats / math.log(2), "accuracy": float((logits.argmax(-1) == target).mean())}


def value_metrics(predicted: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    """Errors in the target's own units: predictions and targets are de-normalized first."""
    mean, std = meta["target_scale"]["mean"], meta["target_scale"]["std"]
    error = (predicted.astype(np.float64) - target) * std
    mse = float((error**2).mean())
    metrics = {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt(mse)), "mse": mse}
    if meta["target_signed"]:  # returns and other signed series: is the sign (the direction) right?
        metrics["direction_accuracy"] = float((np.sign(predicted * std + mean) == np.sign(target * std + mean)).mean())
    return metrics


def split_at_end(ids: np.ndarray) -> list[np.ndarray]:
    """Flat ids, each sequence closed by </s> -> the sequences without it."""
    ids = ids.astype(np.int64)
    ends = np.flatnonzero(ids == END_ID)
    return [ids[a + 1 : b] for a, b in zip(np.r_[-1, ends[:-1]], ends)]


def edit_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1), one row at a time."""
    a, b = a.tolist(), b.tolist()
    row = list(range(len(b) + 1))
    for i, symbol in enumerate(a, 1):
        previous, row = row, [i]
        for j in range(1, len(b) + 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (symbol != b[j - 1])))
    return row[-1]


def sequence_metrics(predicted: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    """Exact-sequence accuracy (a G2P model's word accuracy) and the token error rate: edit
    distance over reference tokens (its phoneme error rate), both over whole output sequences."""
    outputs, references = split_at_end(predicted), split_at_end(target)
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} decoded sequences for {len(references)} references")
    edits = sum(edit_distance(o, r) for o, r in zip(outputs, references))
    return {
        "sequence_accuracy": float(np.mean([np.array_equal(o, r) for o, r in zip(outputs, references)])),
        "token_error_rate": edits / max(1, sum(len(r) for r in references)),
    }


def bit_metrics(logits: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    """Answer steps' bits: the share that is wrong (σ > 0.5 reads 1), and the share of steps with every bit right."""
    wrong = (logits > 0) != (target > 0.5)  # (N, b)
    return {
        "bit_error_rate": float(wrong.mean()),
        "step_accuracy": float((~wrong.any(-1)).mean()),
        "bit_errors_per_step": float(wrong.sum(-1).mean()),
    }


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
    name: str
    target: str  # what a target is: "class" (an index into meta classes), "value" (a normalized number), "token",
    #              "bits" (a 0/1 vector per step, meta classes name the bits),
    #              or "sequence" (ids into meta classes, the target vocabulary, closed by </s>)
    per_step: bool  # one target per step (padded with IGNORE) or one per sequence
    causal: bool  # step t's prediction may read steps <= t only: no bidirectional encoder
    build_head: Callable[[nn.Module, dict], nn.Module]  # (encoder, dataset meta) -> model
    loss: Callable[..., Tensor]  # (prediction, target, reduction="mean") -> scalar
    flatten: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # real targets only
    metrics: Callable[[np.ndarray, np.ndarray, dict], dict[str, float]]  # (flat predictions, flat targets, meta)
    selection_metric: str  # the validation metric that picks the champion
    decodes: bool = False  # writes its own output: teacher-forced loss, metrics of the greedy output

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
            "classify",
            "class",
            False,
            False,
            lambda enc, meta: SequenceClassifier(enc, meta["num_classes"]),
            F.cross_entropy,
            per_sequence,
            classification_metrics,
            "accuracy",
        ),
        Task(
            "label_steps",
            "class",
            True,
            False,
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            step_cross_entropy,
            per_step,
            classification_metrics,
            "accuracy",
        ),
        Task(
            "label_bits",
            "bits",
            True,
            False,
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            bits_cross_entropy,
            per_answer_step,
            bit_metrics,
            "bit_error_rate",
        ),
        Task(
            "language_model",
            "token",
            True,
            True,
            lambda enc, meta: StepClassifier(enc, meta["num_classes"]),
            step_cross_entropy,
            per_step,
            language_model_metrics,
            "bits_per_token",
        ),
        Task(
            "forecast",
            "value",
            False,
            False,
            lambda enc, meta: Regressor(enc),
            F.mse_loss,
            per_sequence,
            value_metrics,
            "mae",
        ),
        Task(
            "regress",
            "value",
            False,
            False,
            lambda enc, meta: Regressor(enc),
            F.mse_loss,
            per_sequence,
            value_metrics,
            "mse",
        ),
        Task(
            "seq2seq",
            "sequence",
            True,
            False,
            lambda enc, meta: Seq2Seq(
                enc, meta["num_classes"], meta["target_embedding_size"], meta["max_output_ratio"]
            ),
            step_cross_entropy,
            per_output_sequence,
            sequence_metrics,
            "sequence_accuracy",
            decodes=True,
        ),
    ]
}
