"""The logged model: an MLflow pyfunc that takes the canonical sequence table and answers per sequence.

It carries everything prediction needs — the network, the feature names, the normalizer fitted on
the training split and the class names — so ``models:/rnnlab-<dataset>@champion`` works alone:
from ``rnnlab predict``, from Python, or from ``mlflow models serve`` over HTTP.

Input: long format, one row per time step: ``sequence_id``, ``step`` and the dataset's feature
columns (a ``label`` column is allowed and ignored). Output: one row per sequence, sorted by
``sequence_id``: ``prediction`` and ``p_<class>`` probabilities.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.data.batching import SequenceSet
from rnnlab.data.prepare import normalize
from rnnlab.data.table import SEQUENCE_ID, validate_table
from rnnlab.errors import DataError
from rnnlab.evaluate import forward_all

PREDICT_BATCH_SIZE = 64  # inference batches: memory only, results do not depend on it


class SequenceModel(mlflow.pyfunc.PythonModel):
    def __init__(self, model: nn.Module, meta: dict) -> None:
        self.model = model.eval()
        self.meta = {k: meta[k] for k in ("dataset", "task", "features", "classes", "normalizer")}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_table(self.model, self.meta, pd.DataFrame(model_input))


def predict_table(model: nn.Module, meta: dict, table: pd.DataFrame) -> pd.DataFrame:
    where = f"input for {meta['dataset']}"
    missing = [c for c in meta["features"] if c not in table.columns]
    if missing:
        raise DataError(f"{where}: missing feature column(s) {', '.join(map(repr, missing))} (expected: {', '.join(meta['features'])})")
    columns = ["sequence_id", "step", *meta["features"]]
    table = table[columns]
    validate_table(table, where, require_label=False)
    data = SequenceSet.from_table(normalize(table, meta["normalizer"]), meta["classes"], meta["features"])
    with torch.no_grad():
        probabilities = torch.softmax(forward_all(model, data, PREDICT_BATCH_SIZE), dim=-1).numpy()
    out = pd.DataFrame({SEQUENCE_ID: data.ids, "prediction": np.asarray(meta["classes"])[probabilities.argmax(1)]})
    for i, name in enumerate(meta["classes"]):
        out[f"p_{name}"] = probabilities[:, i]
    return out
