"""Algorithmic tasks of the long-memory papers, generated with a seed (their options live in params.yaml).

- ``copy_memory`` (Hochreiter & Schmidhuber 1997; the Dilated RNN paper's setting, as in
  zalando's ``copy_memory/utils.py``): ``copy_length`` symbols drawn from 1..``symbols``, then
  ``delay − 1`` blanks (0), then ``copy_length + 1`` markers (``symbols + 1``): the first marker
  says "recall now". The label at every step is blank, except the last ``copy_length`` steps,
  which must reproduce the symbols in order. Length ``delay + 2·copy_length``. A model that
  remembers nothing does best by predicting blank, then a uniform guess over the symbols: a
  cross-entropy of ``copy_length·ln(symbols) / (delay + 2·copy_length)`` per step
  (:func:`memoryless_loss`), 0.173 at delay 100 with 10 of 8 symbols.
- ``adding`` (Hochreiter & Schmidhuber 1997; the two-marker version of Le et al. 2015): each step
  is (value ~ U[0, 1], marker ∈ {0, 1}); exactly two markers, one in each half of the sequence; the
  label is the sum of the two marked values. Lengths vary uniformly in
  [length, ⌊length·(1 + length_spread)⌋]. Predicting 1 always gives MSE Var(U₁ + U₂) = 1/6.

Both come without a split column (prepare draws test and validation with the dataset's seeds), and
are the same table for the same options on every machine (numpy's PCG64 with the given seed).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from rnnlab.data.table import LABEL, table_from_sequences, table_from_tokens

BLANK = 0  # the copy task's "nothing to say" symbol; symbols are 1..symbols, the marker symbols + 1


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CopyMemoryOptions(Options):
    delay: PositiveInt  # T: blanks between the last symbol shown and the first marker, plus one
    copy_length: PositiveInt  # symbols to remember (10 in the papers)
    symbols: int = Field(ge=2, le=98)  # alphabet size (8 in the papers)
    sequences: PositiveInt
    seed: int


class AddingOptions(Options):
    length: PositiveInt = Field(ge=4)  # shortest sequence (T)
    length_spread: float = Field(ge=0.0, le=10.0)  # lengths up to T·(1 + spread); 0 = all of length T
    sequences: PositiveInt
    seed: int


def copy_memory(options: CopyMemoryOptions) -> pd.DataFrame:
    """Copy memory: remember ``copy_length`` symbols across ``delay`` blanks, then write them out.

    Data: a ``token`` per step ("0" blank, "1".."S" symbols, "S+1" marker). Target: a label per
    step ("0" or the symbol to write). Length delay + 2·copy_length. Ids ``copy-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    n, k = o.sequences, o.copy_length
    shown = rng.integers(1, o.symbols + 1, size=(n, k))  # (N, K) the symbols to remember
    marker = o.symbols + 1
    inputs = np.concatenate([shown, np.full((n, o.delay - 1), BLANK), np.full((n, k + 1), marker)], axis=1)  # (N, T+2K)
    labels = np.concatenate([np.full((n, o.delay + k), BLANK), shown], axis=1)  # (N, T+2K)
    names = np.array([str(i) for i in range(marker + 1)], dtype=object)
    ids = [f"copy-{i:06d}" for i in range(n)]
    return table_from_tokens(list(names[inputs]), list(names[labels]), None, ids, "source copy_memory")


def memoryless_loss(options: CopyMemoryOptions) -> float:
    """Per-step cross-entropy (nats) of the best model that remembers nothing: blanks right, symbols guessed."""
    return options.copy_length * math.log(options.symbols) / (options.delay + 2 * options.copy_length)


def adding(options: AddingOptions) -> pd.DataFrame:
    """Adding problem: the sum of the two values whose marker is 1, over variable lengths.

    Data: features ``value`` (U[0, 1]) and ``marker`` (0/1), one marker in each half. Target:
    the sum of the two marked values (a number per sequence, task ``regress``). Ids ``adding-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    longest = int(math.floor(o.length * (1 + o.length_spread)))
    lengths = rng.integers(o.length, longest + 1, size=o.sequences)  # (N,)
    sequences, targets = [], np.empty(o.sequences)
    for i, T in enumerate(lengths):
        values = rng.random(T)
        first, second = rng.integers(0, T // 2), rng.integers(T // 2, T)  # one marker in each half
        marker = np.zeros(T)
        marker[[first, second]] = 1.0
        sequences.append(np.stack([values, marker], axis=1))  # (T, 2)
        targets[i] = values[first] + values[second]
    ids = [f"adding-{i:06d}" for i in range(o.sequences)]
    table = table_from_sequences(sequences, list(targets), None, ids, ["value", "marker"], "source adding")
    table[LABEL] = np.repeat(targets, lengths)  # a number, not a class name
    return table
