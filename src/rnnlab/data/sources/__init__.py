"""Built-in data sources: name -> function returning a canonical sequence table.

One module per application family; each loader imports its package lazily, so listing sources
is cheap and a missing optional package only matters for the source that needs it. Generated
sources (the papers' algorithmic tasks) take options — length, count, seed — from the dataset's
``generator`` entry in params.yaml, validated by the model in ``GENERATOR_OPTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from pydantic import BaseModel

from rnnlab.data.sources import dialogue, genome, pixels, sensors, speech, stocks, synthetic, tables, text, timeseries

SOURCES: dict[str, Callable[..., pd.DataFrame]] = {
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
    # text to speech sounds (sequence to sequence)
    "cmudict_g2p": text.cmudict_g2p,
    # time series
    "sunspots": timeseries.sunspots,
    # stock prices
    "sp500": stocks.sp500,
    "djia": stocks.djia,
    # pixels as a sequence
    "mnist_pixels": pixels.mnist_pixels,
    "mnist_pixels_permuted": pixels.mnist_pixels_permuted,
    "mnist_rows": pixels.mnist_rows,
    "digits_rows": pixels.digits_rows,
    # algorithmic tasks (generated)
    "copy_memory": synthetic.copy_memory,
    "adding": synthetic.adding,
    "copy_bits": synthetic.copy_bits,
    "associative_recall": synthetic.associative_recall,
    "reverse_digits": synthetic.reverse_digits,
    "parity": synthetic.parity,
    # conversations (generated): utterances, who says them, each speaker's mood
    "conversations": dialogue.conversations,
    # questions over tables (generated): the Neural Programmer's task
    "table_questions": tables.table_questions_source,
}

GENERATOR_OPTIONS: dict[str, type[BaseModel]] = {
    "copy_memory": synthetic.CopyMemoryOptions,
    "adding": synthetic.AddingOptions,
    "copy_bits": synthetic.CopyBitsOptions,
    "associative_recall": synthetic.AssociativeRecallOptions,
    "reverse_digits": synthetic.ReverseDigitsOptions,
    "parity": synthetic.ParityOptions,
    "conversations": dialogue.ConversationOptions,
    "table_questions": tables.TableQuestionsOptions,
}

SPEAKER_SOURCES = ("conversations",)  # sources whose tables have a speaker column (dialogues)
TABLE_SOURCES = (
    "table_questions",
)  # sources whose sequences are a question, then a table (the Neural Programmer's input)


def load(source: str, generator: dict[str, Any] | None) -> pd.DataFrame:
    """The table of a built-in source; a generated one is made with its (validated) options."""
    if source in GENERATOR_OPTIONS:
        return SOURCES[source](GENERATOR_OPTIONS[source].model_validate(generator))
    return SOURCES[source]()


def ingest(name: str, settings) -> pd.DataFrame:
    """Dataset ``name``'s canonical table from its source, validated as its task kind reads it."""
    from rnnlab.data.table import validate_table
    from rnnlab.kinds import KINDS

    table = load(settings.source, settings.generator)
    validate_table(table, f"dataset {name}", KINDS[settings.task].label_mode)
    return table
