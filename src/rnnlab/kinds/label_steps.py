"""label_steps: one label per step (sequence labelling). Logits (B, T, C); accuracy, macro- and weighted F1
over the real steps; the majority label as reference; a confusion matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import SEQUENCE_ID, STEP
from rnnlab.kinds.base import TaskKind
from rnnlab.kinds.classify import check_two_classes, classification_metrics, confusion_picture, majority


class LabelSteps(TaskKind):
    name = "label_steps"
    target = "class"
    per_step = True
    selection_metric = "accuracy"
    label_mode = "step"
    checks_classes = True
    head, loss, flatten = "step_classifier", "step_cross_entropy", "per_step"

    def encode_targets(self, labels, meta):
        import torch

        classes = {c: i for i, c in enumerate(meta.classes)}
        return [torch.tensor([classes[str(v)] for v in y[:, 0]], dtype=torch.int64) for y in labels]

    def metrics(self, predicted, target, meta):
        return classification_metrics(predicted, target, meta)

    def references(self, train, test, meta, settings):
        return majority(train, test, meta, self.metrics)

    def served(self, answers, ids, meta):
        labels = np.asarray(meta.classes)
        rows = [
            pd.DataFrame({SEQUENCE_ID: sid, STEP: np.arange(len(a)), "prediction": labels[a.argmax(-1).numpy()]})
            for sid, a in zip(ids, answers)
        ]
        return pd.concat(rows, ignore_index=True)

    def validation_pictures(self, model, meta, val_answers, title, folder, settings, seed):
        predicted, target, _ = val_answers
        return confusion_picture(
            meta, predicted, target, f"validation confusion: {title}", folder / "confusion_val.png"
        )

    def test_pictures(self, meta, predicted, target, title, folder):
        return confusion_picture(meta, predicted, target, f"confusion: {title}", folder / "confusion_test.png")

    def check_imported(self, table, target, where):
        check_two_classes(table, target, self.name, where)


KIND = LabelSteps()
