"""Non-recurrent references measured by the prepare step on the dataset's own test split.

They answer "does the recurrence help here?": each ignores order (classification), or looks only
a fixed distance back (n-gram). Forecasting baselines (naive, AR) are measured while splitting,
where the whole series is at hand (``rnnlab.kinds.forecast.split_forecast``).

Each task kind names its references (``TaskKind.references`` in rnnlab.kinds); the models they fit live
here: a logistic or ridge regression on order-free summaries of each sequence, and the n-gram model
with interpolated Kneser-Ney smoothing (``ngram.NGramLM``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler

from rnnlab.data.batching import encode
from rnnlab.data.meta import DatasetMeta

# L-BFGS iterations for the logistic regression: enough to converge on these summary features.
LOGISTIC_MAX_ITER = 2000
# Ridge penalties tried by leave-one-out on the training split (sklearn's RidgeCV), a decade apart.
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)


def measure_references(splits: dict[str, pd.DataFrame], meta: DatasetMeta, settings) -> dict[str, dict]:
    """{"test": {reference name: the task's metrics}} — empty for a kind whose references are measured
    elsewhere (forecasts, while splitting) or that has none."""
    train, test = encode(splits["train"], meta), encode(splits["test"], meta)
    results = meta.kind.references(train, test, meta, settings)
    return {"test": results} if results else {}


def summaries(train, test, meta: DatasetMeta) -> tuple[np.ndarray, np.ndarray]:
    """Order-free features of each sequence (numeric summaries, or a bag of tokens), scaled on train."""
    features = summary_features if not meta.vocabulary else bag_of_tokens
    x_train, x_test = features(train.inputs, meta), features(test.inputs, meta)
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train), scaler.transform(x_test)


def summaries_name(meta: DatasetMeta) -> str:
    return "bag of tokens" if meta.vocabulary else "mean/std/min/max/first/last"


def logistic_regression(train, test, meta: DatasetMeta, metrics) -> dict[str, dict]:
    """A logistic regression on order-free summaries, scored by ``metrics``."""
    y_train, y_test = train.flat_targets().numpy(), test.flat_targets().numpy()
    x_train, x_test = summaries(train, test, meta)
    model = LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(x_train, y_train)
    scores = np.zeros((len(y_test), meta.num_classes))
    scores[:, model.classes_] = model.predict_proba(x_test)
    return {f"logistic regression on {summaries_name(meta)}": metrics(scores, y_test, meta)}


def logistic_regression_per_column(train, test, y_train: np.ndarray, meta: DatasetMeta, metrics) -> dict[str, dict]:
    """One logistic regression per 0/1 target column on order-free summaries (a column that is constant
    in train answers its constant), scored by ``metrics`` on the logits."""
    y_test = np.stack([t.numpy() for t in test.targets])
    x_train, x_test = summaries(train, test, meta)
    logits = np.zeros(y_test.shape)
    for j in range(y_train.shape[1]):
        column = y_train[:, j]
        if column.min() == column.max():
            logits[:, j] = 20.0 if column[0] > 0.5 else -20.0
            continue
        logits[:, j] = LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(x_train, column).decision_function(x_test)
    return {f"logistic regression per column on {summaries_name(meta)}": metrics(logits, y_test, meta)}


def regression_references(train, test, meta: DatasetMeta, metrics) -> dict[str, dict]:
    """A constant (the training mean: 0 after standardization) and a linear model of the summaries."""
    y_train, y_test = train.flat_targets().numpy(), test.flat_targets().numpy()
    x_train, x_test = summaries(train, test, meta)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(x_train, y_train)
    return {
        "training mean": metrics(np.full(len(y_test), float(y_train.mean())), y_test, meta),
        f"ridge regression on {summaries_name(meta)}": metrics(ridge.predict(x_test), y_test, meta),
    }


def summary_features(inputs, meta: DatasetMeta) -> np.ndarray:
    """Order-free statistics of each (T, D) sequence, plus its first and last step: (N, 6·D + 1)."""
    rows = []
    for x in inputs:
        x = x.numpy().astype(np.float64)
        rows.append(np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0), x[0], x[-1], [len(x)]]))
    return np.stack(rows)


def bag_of_tokens(inputs, meta: DatasetMeta) -> np.ndarray:
    """Token frequencies of each sequence (order thrown away): (N, V)."""
    size = len(meta.vocabulary)
    return np.stack([np.bincount(x.numpy(), minlength=size) / len(x) for x in inputs])
