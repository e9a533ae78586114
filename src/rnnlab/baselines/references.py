"""Non-recurrent references measured by the prepare step on the dataset's own test split.

They answer "does the recurrence help here?": each ignores order (classification), or looks only
a fixed distance back (n-gram). Forecasting baselines (naive, AR) are measured while splitting,
where the whole series is at hand (``rnnlab.data.prepare.split_forecast``).

    classify        majority class; logistic regression on order-free summaries of each sequence
    label_steps     majority label
    regress         the training mean; ridge regression on the same order-free summaries
    language_model  an n-gram model with interpolated Kneser-Ney smoothing (``ngram.NGramLM``)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler

from rnnlab.baselines.ngram import NGramLM
from rnnlab.data.batching import encode
from rnnlab.task_kinds import KINDS

# L-BFGS iterations for the logistic regression: enough to converge on these summary features.
LOGISTIC_MAX_ITER = 2000
# Ridge penalties tried by leave-one-out on the training split (sklearn's RidgeCV), a decade apart.
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)


def measure_references(splits: dict[str, pd.DataFrame], meta: dict, settings) -> dict[str, dict]:
    """{"test": {reference name: the task's metrics}} — empty for tasks measured elsewhere."""
    task = meta["task"]
    train, test = encode(splits["train"], meta), encode(splits["test"], meta)
    if task == "language_model":
        whole = lambda data: [torch.cat([x[:1], y]).numpy() for x, y in zip(data.inputs, data.targets)]  # noqa: E731  x_0 .. x_{T-1}
        model = NGramLM(settings.ngram_order, len(meta["vocabulary"])).fit(whole(train))
        sequences = whole(test)
        return {
            "test": {f"{settings.ngram_order}-gram, Kneser-Ney": {"bits_per_token": model.bits_per_token(sequences)}}
        }
    if task == "regress":
        return {"test": regression_references(train, test, meta)}
    if task not in ("classify", "label_steps"):
        return {}
    y_train, y_test = train.flat_targets().numpy(), test.flat_targets().numpy()
    majority = np.bincount(y_train, minlength=meta["num_classes"])
    results = {"majority class": KINDS[task].metrics(np.tile(majority, (len(y_test), 1)).astype(float), y_test, meta)}
    if task == "classify":
        features = summary_features if not meta.get("vocabulary") else bag_of_tokens
        x_train, x_test = features(train.inputs, meta), features(test.inputs, meta)
        scaler = StandardScaler().fit(x_train)
        model = LogisticRegression(max_iter=LOGISTIC_MAX_ITER).fit(scaler.transform(x_train), y_train)
        scores = np.zeros((len(y_test), meta["num_classes"]))
        scores[:, model.classes_] = model.predict_proba(scaler.transform(x_test))
        name = (
            "logistic regression on bag of tokens"
            if meta.get("vocabulary")
            else "logistic regression on mean/std/min/max/first/last"
        )
        results[name] = KINDS[task].metrics(scores, y_test, meta)
    return {"test": results}


def regression_references(train, test, meta: dict) -> dict[str, dict]:
    """A constant (the training mean: 0 after standardization) and a linear model of the summaries."""
    metrics = KINDS["regress"].metrics
    y_train, y_test = train.flat_targets().numpy(), test.flat_targets().numpy()
    features = summary_features if not meta.get("vocabulary") else bag_of_tokens
    x_train, x_test = features(train.inputs, meta), features(test.inputs, meta)
    scaler = StandardScaler().fit(x_train)
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(scaler.transform(x_train), y_train)
    return {
        "training mean": metrics(np.full(len(y_test), float(y_train.mean())), y_test, meta),
        "ridge regression on mean/std/min/max/first/last": metrics(
            ridge.predict(scaler.transform(x_test)), y_test, meta
        ),
    }


def summary_features(inputs, meta: dict) -> np.ndarray:
    """Order-free statistics of each (T, D) sequence, plus its first and last step: (N, 6·D + 1)."""
    rows = []
    for x in inputs:
        x = x.numpy().astype(np.float64)
        rows.append(np.concatenate([x.mean(0), x.std(0), x.min(0), x.max(0), x[0], x[-1], [len(x)]]))
    return np.stack(rows)


def bag_of_tokens(inputs, meta: dict) -> np.ndarray:
    """Token frequencies of each sequence (order thrown away): (N, V)."""
    size = len(meta["vocabulary"])
    return np.stack([np.bincount(x.numpy(), minlength=size) / len(x) for x in inputs])
