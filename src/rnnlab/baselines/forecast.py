"""One-step-ahead forecasting baselines: the naive last value and an AR(p) fit by least squares.

Both forecast walk-forward: the prediction for step t uses the true values y_0..y_{t-1} only, as a
recurrent forecaster reading the series up to t-1 does.

    naive:  ŷ_t = y_{t-1}
    AR(p):  ŷ_t = c + Σ_{k=1..p} φ_k y_{t-k}

The AR coefficients are the ordinary-least-squares solution on the training series alone,

    [c, φ_1..φ_p] = argmin Σ_{t=p..N-1} (y_t − c − Σ_k φ_k y_{t-k})²,

which is the conditional (on the first p values) Gaussian maximum-likelihood estimate, the same
estimator as statsmodels' ``AutoReg(train, lags=p, trend="c")``.
"""

from __future__ import annotations

import numpy as np


def _as_series(series: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(series, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return y


def _check_start(y: np.ndarray, start: int, history: int) -> None:
    """``start`` must leave ``history`` true values before the first predicted step."""
    if not history <= start <= len(y):
        raise ValueError(f"start must lie in [{history}, {len(y)}] (needs {history} past values), got {start}")


def _lag_matrix(y: np.ndarray, order: int, start: int) -> np.ndarray:
    """Rows t = start..N-1 of [1, y_{t-1}, .., y_{t-order}]."""
    n = len(y)
    columns = [np.ones(n - start)] + [y[start - k : n - k] for k in range(1, order + 1)]
    return np.column_stack(columns)


def naive_last_value(series: np.ndarray, start: int) -> np.ndarray:
    """ŷ_t = y_{t-1} for t = start..N-1."""
    y = _as_series(series, "series")
    _check_start(y, start, history=1)
    return y[start - 1 : len(y) - 1].copy()


def fit_autoregressive(train: np.ndarray, order: int) -> np.ndarray:
    """[c, φ_1..φ_p] of the AR(p) with intercept, by least squares over t = p..N-1 of ``train``.

    The N − p equations must at least match the p + 1 unknowns, so N ≥ 2p + 1.
    """
    y = _as_series(train, "train")
    if order < 0 or int(order) != order:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    order = int(order)
    if len(y) < 2 * order + 1:
        raise ValueError(
            f"an AR({order}) with intercept has {order + 1} parameters and needs at least "
            f"{2 * order + 1} training values ({order} initial lags + {order + 1} equations); got {len(y)}"
        )
    design = _lag_matrix(y, order, start=order)
    coef, *_ = np.linalg.lstsq(design, y[order:], rcond=None)
    return coef


def autoregressive_predict(series: np.ndarray, coef: np.ndarray, start: int) -> np.ndarray:
    """ŷ_t = c + Σ_{k=1..p} φ_k y_{t-k} for t = start..N-1, with true past values (no look-ahead)."""
    y = _as_series(series, "series")
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 1 or len(coef) < 1:
        raise ValueError(f"coef must be [c, φ_1..φ_p], got shape {coef.shape}")
    order = len(coef) - 1
    _check_start(y, start, history=order)
    return _lag_matrix(y, order, start) @ coef


def forecast_errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """MAE = mean |ŷ − y|,  RMSE = sqrt(mean (ŷ − y)²)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.shape != actual.shape or predicted.size == 0:
        raise ValueError(
            f"predicted and actual must be non-empty and of one shape, got {predicted.shape} and {actual.shape}"
        )
    error = predicted - actual
    return {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(np.mean(error**2)))}
