"""label_steps: one label per step (sequence labelling). Logits (B, T, C); accuracy, macro- and weighted F1
over the real steps; the majority label as reference; a confusion matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import SEQUENCE_ID, STEP
from rnnlab.kinds.classify import ClassKind


class LabelSteps(ClassKind):
    name = "label_steps"
    per_step = True
    label_mode = "step"
    head, loss, flatten = "step_classifier", "step_cross_entropy", "per_step"

    def encode_targets(self, labels, meta):
        import torch

        classes = {c: i for i, c in enumerate(meta.classes)}
        return [torch.tensor([classes[str(v)] for v in y[:, 0]], dtype=torch.int64) for y in labels]

    def served(self, answers, ids, meta):
        labels = np.asarray(meta.classes)
        rows = [
            pd.DataFrame({SEQUENCE_ID: sid, STEP: np.arange(len(a)), "prediction": labels[a.argmax(-1).numpy()]})
            for sid, a in zip(ids, answers)
        ]
        return pd.concat(rows, ignore_index=True)


KIND = LabelSteps()
