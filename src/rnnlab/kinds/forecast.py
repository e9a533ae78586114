"""forecast: the next value of a numeric column from the ``window`` steps before it.

Each series is split in time — train, then validation, then test — and turned into windows: the
``window`` steps before step t are the input, the target at t the answer, so no example reads a value
from its own future. The model answers (B,) values; MAE, RMSE (and, for a signed series, the share of
right directions) in the series' own units; the naive last value and AR(p) are measured while splitting,
where the whole series is at hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.baselines.forecast import autoregressive_predict, fit_autoregressive, forecast_errors, naive_last_value
from rnnlab.data.splits import subsample
from rnnlab.data.table import LABEL, SEQUENCE_ID, SPLIT, STEP, feature_columns
from rnnlab.errors import DataError
from rnnlab.kinds.regress import ValueKind

PARTS = ("train", "val", "test")


class Forecast(ValueKind):
    name = "forecast"
    selection_metric = "mae"
    label_mode = None
    label_column = None  # the target stays a feature column: the model reads its past values
    splits_in_time = True

    def check_columns(self, raw, settings, where):
        if settings.target not in feature_columns(raw):
            raise DataError(
                f"{where}: forecast target column {settings.target!r} is not a numeric feature column (columns: "
                f"{', '.join(map(str, raw.columns))})"
            )
        if settings.ar_order > settings.window:
            raise DataError(f"{where}: ar_order {settings.ar_order} is longer than the window {settings.window}")

    def split(self, raw, settings, where):
        return split_forecast(raw, settings, where)

    def size_facts(self, settings):
        return [f"windows of {settings.window} steps, forecast `{settings.target}`"]

    def fit_target(self, train, splits, settings, fitted, where):
        i = fitted["features"].index(settings.target)
        return {
            "target": settings.target,
            "target_scale": {"mean": fitted["normalizer"]["mean"][i], "std": fitted["normalizer"]["std"][i]},
            "target_signed": bool((train[LABEL] < 0).any() and (train[LABEL] > 0).any()),
            "classes": [],
        }

    def test_pictures(self, meta, predicted, target, title, folder):
        import rnnlab.plots as plots

        return [
            plots.forecast(
                meta.destandardized(target),
                meta.destandardized(predicted),
                meta.target,
                f"one step ahead: {title}",
                folder / "forecast_test.png",
            )
        ]

    def import_entry(self, target, table, window):
        return {"target": target, "window": window, "ar_order": min(window, 8)}


KIND = Forecast()


def split_forecast(raw: pd.DataFrame, settings, where: str) -> tuple[dict[str, pd.DataFrame], dict]:
    """Windows of ``window`` steps -> the target at the next step, per part; and the baselines'
    test errors (naive last value, AR(p) fit on everything before the test part) on the same steps."""
    target, window = settings.target, settings.window
    parts: dict[str, list[pd.DataFrame]] = {p: [] for p in PARTS}
    naive, ar, actual = [], [], []
    features = feature_columns(raw)
    for sid, series in raw.sort_values([SEQUENCE_ID, STEP]).groupby(SEQUENCE_ID, sort=False):
        test_start = _test_start(series, settings, where, sid)
        val_start = test_start - int(round(settings.val_fraction * test_start))
        if val_start - window < 1 or test_start >= len(series):
            raise DataError(
                f"{where}: sequence {sid!r} ({len(series)} steps) is too "
                f"short for window {window} with its val and test parts"
            )
        values = series[features].to_numpy(dtype=np.float64)  # (T, D)
        y = series[target].to_numpy(dtype=np.float64)  # (T,)
        for part, (lo, hi) in {
            "train": (window, val_start),
            "val": (val_start, test_start),
            "test": (test_start, len(y)),
        }.items():
            parts[part].append(windows(values, y, features, sid, lo, hi, window))
        coef = fit_autoregressive(y[:test_start], settings.ar_order)
        naive.append(naive_last_value(y, test_start))
        ar.append(autoregressive_predict(y, coef, test_start))
        actual.append(y[test_start:])
    frames = {p: pd.concat(v, ignore_index=True) for p, v in parts.items()}
    frames["train"] = subsample(frames["train"], settings.max_sequences, settings.split_seed)
    truth = np.concatenate(actual)
    baselines = {
        "naive last value": forecast_errors(np.concatenate(naive), truth),
        f"AR({settings.ar_order}), fit before the test part": forecast_errors(np.concatenate(ar), truth),
    }
    return frames, {"test": baselines}


def _test_start(series: pd.DataFrame, settings, where: str, sid) -> int:
    """Index of the first test step: from the split column (which must not go back in time) or the fraction."""
    if SPLIT not in series.columns:
        if settings.test_fraction is None:
            raise DataError(f"{where}: the source has no split column; set test_fraction")
        return len(series) - int(round(settings.test_fraction * len(series)))
    if settings.test_fraction is not None:
        raise DataError(f"{where}: the source has its own split column; set test_fraction: null")
    is_test = (series[SPLIT] == "test").to_numpy()
    start = int(np.argmax(is_test)) if is_test.any() else len(series)
    if not is_test[start:].all():
        back = start + int(np.argmin(is_test[start:]))
        raise DataError(
            f"{where}: sequence {sid!r} goes back from test to train at step {series[STEP].iloc[back]}; a "
            "forecasting split must run forward in time"
        )
    return start


def windows(values: np.ndarray, y: np.ndarray, features: list[str], sid, lo: int, hi: int, window: int) -> pd.DataFrame:
    """One sequence per target step t in [lo, hi): steps t-window..t-1 of every feature, label y_t."""
    targets = np.arange(lo, hi)
    index = targets[:, None] - window + np.arange(window)[None, :]  # (N, W) steps read by each example
    frame = pd.DataFrame(values[index].reshape(-1, len(features)), columns=features)  # (N·W, D)
    frame.insert(0, STEP, np.tile(np.arange(window), len(targets)))
    frame.insert(0, SEQUENCE_ID, np.repeat([f"{sid}@{t:07d}" for t in targets], window))
    frame[LABEL] = np.repeat(y[targets], window)
    return frame
