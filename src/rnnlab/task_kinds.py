"""The task kinds as the configuration knows them, without torch: each kind's name, what its target
is, whether it predicts per step, whether step t may read later steps, and the metric that chooses
the champion, its metrics (numpy, on flat predictions and targets); and which way every metric
improves. Their behaviour in torch (heads, losses, what a batch's real targets are) is in rnnlab.tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnlab.data.symbols import END_ID

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
    from sklearn.metrics import accuracy_score, f1_score

    predicted = logits.argmax(-1)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "macro_f1": float(f1_score(target, predicted, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(target, predicted, average="weighted", zero_division=0)),  # DialogueRNN's metric
    }


def language_model_metrics(logits: np.ndarray, target: np.ndarray, meta: dict) -> dict[str, float]:
    import torch  # imported when a language model is scored, not when the configuration loads
    import torch.nn.functional as F

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


@dataclass(frozen=True)
class TaskKind:
    name: str
    target: str  # what a target is: "class" (an index into meta classes), "value" (a normalized number), "token",
    #              "bits" (a 0/1 vector per step, meta classes name the bits),
    #              or "sequence" (ids into meta classes, the target vocabulary, closed by </s>)
    per_step: bool  # one target per step (padded with IGNORE) or one per sequence
    causal: bool  # step t's prediction may read steps <= t only: no bidirectional encoder
    selection_metric: str  # the validation metric that picks the champion
    metrics: Callable[[np.ndarray, np.ndarray, dict], dict[str, float]]  # (flat predictions, flat targets, meta)
    decodes: bool = False  # writes its own output: teacher-forced loss, metrics of the greedy output


KINDS: dict[str, TaskKind] = {
    k.name: k
    for k in [
        TaskKind(
            "classify",
            "class",
            per_step=False,
            causal=False,
            selection_metric="accuracy",
            metrics=classification_metrics,
        ),
        TaskKind(
            "label_steps",
            "class",
            per_step=True,
            causal=False,
            selection_metric="accuracy",
            metrics=classification_metrics,
        ),
        TaskKind(
            "label_bits", "bits", per_step=True, causal=False, selection_metric="bit_error_rate", metrics=bit_metrics
        ),
        TaskKind(
            "language_model",
            "token",
            per_step=True,
            causal=True,
            selection_metric="bits_per_token",
            metrics=language_model_metrics,
        ),
        TaskKind("forecast", "value", per_step=False, causal=False, selection_metric="mae", metrics=value_metrics),
        TaskKind("regress", "value", per_step=False, causal=False, selection_metric="mse", metrics=value_metrics),
        TaskKind(
            "seq2seq",
            "sequence",
            per_step=True,
            causal=False,
            selection_metric="sequence_accuracy",
            metrics=sequence_metrics,
            decodes=True,
        ),
    ]
}
