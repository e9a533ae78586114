"""Built-in data sources: name -> function returning a canonical sequence table.

One module per application family; each loader imports its package lazily, so listing sources
is cheap and a missing optional package only matters for the source that needs it.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from rnnlab.data.sources import genome, pixels, sensors, speech, stocks, text, timeseries

SOURCES: dict[str, Callable[[], pd.DataFrame]] = {
    # speech
    "japanese_vowels": speech.japanese_vowels,
    # sensors
    "plaid": sensors.plaid,
    "basic_motions": sensors.basic_motions,
    # genome / protein
    "amp_peptides": genome.amp_peptides,
    # text
    "shakespeare": text.shakespeare,
    "fine_food": text.fine_food,
    # time series
    "sunspots": timeseries.sunspots,
    # stock prices
    "sp500": stocks.sp500,
    "djia": stocks.djia,
    # pixels as a sequence
    "mnist_pixels": pixels.mnist_pixels,
    "mnist_rows": pixels.mnist_rows,
    "digits_rows": pixels.digits_rows,
}
