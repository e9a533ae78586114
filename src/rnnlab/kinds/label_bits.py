"""label_bits: a bit vector per answer step (the NTM tasks). Each label is a string of 0/1 ("0110"), or
NO_ANSWER where nothing is due; one sigmoid per bit (logits (B, T, b), binary cross-entropy); the share of
wrong bits and of steps with every bit right."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import LABEL, NO_ANSWER, SEQUENCE_ID, STEP, bit_width
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind


def bit_metrics(logits: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    """Answer steps' bits: the share that is wrong (σ > 0.5 reads 1), and the share of steps with every bit right."""
    wrong = (logits > 0) != (target > 0.5)  # (N, b)
    return {
        "bit_error_rate": float(wrong.mean()),
        "step_accuracy": float((~wrong.any(-1)).mean()),
        "bit_errors_per_step": float(wrong.sum(-1).mean()),
    }


class LabelBits(TaskKind):
    name = "label_bits"
    target = "bits"
    per_step = True
    selection_metric = "bit_error_rate"
    label_mode = "step"
    labels_are_names = False  # bit strings, kept as read
    head, loss, flatten = "step_classifier", "bits_cross_entropy", "per_answer_step"

    def fit_target(self, train, splits, settings, fitted, where):
        classes = [f"bit_{j}" for j in range(bit_width(train[LABEL], where))]
        for part, table in splits.items():
            if (width := bit_width(table[LABEL], f"{where}: {part}")) != len(classes):
                raise DataError(f"{where}: {part} labels have {width} bits, the training labels {len(classes)}")
        return {"classes": classes}

    def encode_targets(self, labels, meta):
        """ "0110" -> [0, 1, 1, 0]; NO_ANSWER -> IGNORE in every bit."""
        import torch

        from rnnlab.data.symbols import IGNORE

        width = len(meta.classes)
        return [
            torch.tensor(
                [[IGNORE] * width if v == NO_ANSWER else list(map(int, str(v))) for v in y[:, 0]], dtype=torch.float32
            )
            for y in labels
        ]

    def metrics(self, predicted, target, meta):
        return bit_metrics(predicted, target, meta)

    def served(self, answers, ids, meta):
        """One bit string per step (σ > 0.5 reads 1)."""
        rows = [
            pd.DataFrame(
                {
                    SEQUENCE_ID: sid,
                    STEP: np.arange(len(a)),
                    "prediction": ["".join("01"[int(b)] for b in step) for step in (a > 0).tolist()],
                }
            )
            for sid, a in zip(ids, answers)
        ]
        return pd.concat(rows, ignore_index=True)


KIND = LabelBits()
