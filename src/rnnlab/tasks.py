"""Task kinds: the loss, the prediction and the metrics of each kind of target.

The training module and compare ask the task, never the architecture, what to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from torch import Tensor, nn

from rnnlab.models.classifier import SequenceClassifier


def classification_metrics(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "macro_f1": float(f1_score(target, predicted, average="macro", zero_division=0)),
    }


@dataclass(frozen=True)
class Task:
    name: str
    build_head: Callable[[nn.Module, dict], nn.Module]  # (encoder, dataset meta) -> model
    loss: Callable[[Tensor, Tensor], Tensor]  # (prediction, target) -> scalar
    decide: Callable[[Tensor], Tensor]  # prediction -> predicted target
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    selection_metric: str  # the validation metric that picks the champion
    greater_is_better: bool


TASKS: dict[str, Task] = {
    "classify": Task(
        name="classify",
        build_head=lambda encoder, meta: SequenceClassifier(encoder, meta["num_classes"]),
        loss=F.cross_entropy,
        decide=lambda logits: logits.argmax(dim=-1),
        metrics=classification_metrics,
        selection_metric="accuracy",
        greater_is_better=True,
    ),
}
