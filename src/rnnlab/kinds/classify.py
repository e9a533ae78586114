"""classify: one label per sequence. Logits (B, C); accuracy, macro- and weighted F1; stratified splits;
a majority class and a logistic regression on order-free summaries as references; a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.table import LABEL, SEQUENCE_ID
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind


def classification_metrics(logits: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = logits.argmax(-1)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "macro_f1": float(f1_score(target, predicted, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(target, predicted, average="weighted", zero_division=0)),  # DialogueRNN's metric
    }


def confusion(logits: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (target, logits.argmax(-1)), 1)
    return matrix


class ClassKind(TaskKind):
    """A kind whose targets are class names (one per sequence or per step): classification metrics, the
    majority class as reference, a confusion matrix, and at least two classes in an imported file."""

    target = "class"
    selection_metric = "accuracy"
    checks_classes = True

    def metrics(self, predicted, target, meta):
        return classification_metrics(predicted, target, meta)

    def references(self, train, test, meta, settings):
        y_train, y_test = train.flat_targets().numpy(), test.flat_targets().numpy()
        counts = np.bincount(y_train, minlength=meta.num_classes)
        return {"majority class": self.metrics(np.tile(counts, (len(y_test), 1)).astype(float), y_test, meta)}

    def validation_pictures(self, model, meta, val_answers, title, folder, settings, seed):
        predicted, target, _ = val_answers
        return self._confusion(meta, predicted, target, f"validation confusion: {title}", folder / "confusion_val.png")

    def test_pictures(self, meta, predicted, target, title, folder):
        return self._confusion(meta, predicted, target, f"confusion: {title}", folder / "confusion_test.png")

    @staticmethod
    def _confusion(meta, predicted, target, title: str, path: Path) -> list[Path]:
        import rnnlab.plots as plots

        return [plots.confusion_matrix(confusion(predicted, target, meta.num_classes), meta.classes, title, path)]

    def check_imported(self, table, target, where):
        classes = table[LABEL].dropna().unique()
        if len(classes) == 1:  # nothing to learn: any model scores accuracy 1.0
            raise DataError(
                f"{where}: target column {target!r} holds one class ({classes[0]!r}) on every row; task {self.name} "
                "needs at least two"
            )


class Classify(ClassKind):
    name = "classify"
    stratify = True
    downsamples = True
    head, loss, flatten = "sequence_classifier", "cross_entropy", "per_sequence"

    def references(self, train, test, meta, settings):
        from rnnlab.baselines.references import logistic_regression

        return super().references(train, test, meta, settings) | logistic_regression(train, test, meta, self.metrics)

    def served(self, answers, ids, meta):
        import torch

        probabilities = torch.softmax(torch.stack(answers), dim=-1).numpy()
        out = pd.DataFrame({SEQUENCE_ID: ids, "prediction": np.asarray(meta.classes)[probabilities.argmax(1)]})
        for i, name in enumerate(meta.classes):
            out[f"p_{name}"] = probabilities[:, i]
        return out


KIND = Classify()
