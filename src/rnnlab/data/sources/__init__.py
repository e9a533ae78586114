"""Built-in data sources: name -> function returning a canonical sequence table.

One module per application family; each loader imports its package lazily, so listing sources
is cheap and a missing optional package only matters for the source that needs it.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from rnnlab.data.sources import speech

SOURCES: dict[str, Callable[[], pd.DataFrame]] = {
    "japanese_vowels": speech.japanese_vowels,
}
