"""regress: one number per sequence (a ``label`` column of numbers). The label is standardized on train like a
feature; the model answers (B,) values; MSE, MAE and RMSE in the label's own units; the training mean and a
ridge regression on order-free summaries as references; predicted against actual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.meta import MIN_STD
from rnnlab.data.splits import sequence_labels
from rnnlab.data.table import LABEL, SEQUENCE_ID
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind


def value_metrics(predicted: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    """Errors in the target's own units: predictions and targets are de-standardized first."""
    error = (predicted.astype(np.float64) - target) * meta.target_scale["std"]  # a difference: the scale alone
    mse = float((error**2).mean())
    metrics = {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt(mse)), "mse": mse}
    if meta.target_whole:  # counts and other whole-number answers: is the rounded answer exactly right?
        answers, truth = meta.destandardized(predicted.astype(np.float64)), meta.destandardized(target)
        metrics["exact_accuracy"] = float((np.round(answers) == np.round(truth)).mean())
    if meta.target_signed:  # returns and other signed series: is the sign (the direction) right?
        metrics["direction_accuracy"] = float(
            (np.sign(meta.destandardized(predicted)) == np.sign(meta.destandardized(target))).mean()
        )
    return metrics


class ValueKind(TaskKind):
    """A standardized number per sequence, scored in its own units."""

    target = "value"
    labels_are_names = False
    head, loss, flatten = "regressor", "mse", "per_sequence"

    def encode_targets(self, labels, meta):
        import torch

        return [torch.tensor(float(y[0, 0]), dtype=torch.float32) for y in labels]

    def metrics(self, predicted, target, meta):
        return value_metrics(predicted, target, meta)

    def served(self, answers, ids, meta):
        import torch

        return pd.DataFrame(
            {SEQUENCE_ID: ids, "prediction": meta.destandardized(torch.stack(answers).double().numpy())}
        )


class Regress(ValueKind):
    name = "regress"
    selection_metric = "mse"
    downsamples = True

    def read_labels(self, raw, where):
        """The label as float64 (numbers written as text, e.g. from a CSV column of mixed rows, are read
        as numbers); anything else is named. validate_table has ruled out missing labels."""
        values = pd.to_numeric(raw[LABEL], errors="coerce")
        if values.isna().any():
            odd = raw[LABEL][values.isna()].iloc[0]
            raise DataError(f"{where}: task regress needs a numeric label; column 'label' holds {odd!r}")
        return raw.assign(**{LABEL: values.astype(np.float64)})

    def fit_target(self, train, splits, settings, fitted, where):
        values = sequence_labels(train).to_numpy(dtype=np.float64)
        return {
            "target": LABEL,
            "target_scale": {"mean": float(values.mean()), "std": float(max(values.std(), MIN_STD))},
            "target_signed": bool((values < 0).any() and (values > 0).any()),
            "target_whole": True if np.all(values == np.round(values)) else None,
        }

    def references(self, train, test, meta, settings):
        from rnnlab.baselines.references import regression_references

        return regression_references(train, test, meta, self.metrics)

    def test_pictures(self, meta, predicted, target, title, folder):
        import rnnlab.plots as plots

        return [
            plots.predicted_vs_actual(
                meta.destandardized(target),
                meta.destandardized(predicted),
                f"test: {title}",
                folder / "predicted_vs_actual_test.png",
            )
        ]


KIND = Regress()
