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
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from rnnlab.data.table import LABEL, NO_ANSWER, table_from_sequences, table_from_tokens

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
    shown = rng.integers(1, o.symbols + 1, size=(n, k))  # (N, k) the k symbols to remember
    marker = o.symbols + 1
    inputs = np.concatenate(
        [shown, np.full((n, o.delay - 1), BLANK), np.full((n, k + 1), marker)], axis=1
    )  # (N, delay + 2k)
    labels = np.concatenate([np.full((n, o.delay + k), BLANK), shown], axis=1)  # (N, delay + 2k)
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


# --- the Neural Turing Machine's tasks (Graves et al. 2014, §4.1 and §4.3) ------------------------
#
# Targets are bit vectors. Each target step's label is its bits as a string ("010011"): a class of
# the per-step labelling task (2^bits patterns; a softmax over patterns instead of the paper's
# independent sigmoids — a stated deviation that lets every task head and metric of rnnlab apply).
# Steps with nothing to answer are labelled NO_ANSWER. Training sequences and test sequences come
# with a ``split`` column, so the test part can hold lengths never seen in training.


class CopyBitsOptions(Options):
    bits: int = Field(ge=1, le=12)  # width of each random vector (8 in the paper)
    min_length: PositiveInt  # training lengths are uniform in [min_length, max_length]
    max_length: PositiveInt
    test_lengths: list[PositiveInt] = Field(min_length=1)  # e.g. [20, 40, 60]: 1x, 2x, 3x the longest training length
    sequences: PositiveInt  # training sequences
    test_sequences: PositiveInt  # per test length
    seed: int

    @model_validator(mode="after")
    def _range(self) -> CopyBitsOptions:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} > max_length {self.max_length}")
        return self


class AssociativeRecallOptions(Options):
    bits: int = Field(ge=1, le=12)  # width of each vector (6 in the paper)
    item_length: PositiveInt  # vectors per item (3 in the paper)
    min_items: int = Field(ge=2)  # training item counts are uniform in [min_items, max_items]
    max_items: int = Field(ge=2)
    test_items: list[int] = Field(min_length=1)  # e.g. [6, 12]
    sequences: PositiveInt
    test_sequences: PositiveInt  # per test item count
    seed: int

    @model_validator(mode="after")
    def _range(self) -> AssociativeRecallOptions:
        if self.min_items > self.max_items:
            raise ValueError(f"min_items {self.min_items} > max_items {self.max_items}")
        return self


def pattern_names(vectors: np.ndarray) -> np.ndarray:
    """(..., bits) of 0/1 -> (...,) strings like "0101"."""
    return np.apply_along_axis(lambda v: "".join("01"[int(b)] for b in v), -1, vectors)


def bit_errors(predicted: str, target: str) -> int:
    """Wrong bits of one answer step; NO_ANSWER where bits were due reads as all zeros."""
    if predicted == NO_ANSWER:
        predicted = "0" * len(target)
    return sum(p != t for p, t in zip(predicted, target))


def copy_bits(options: CopyBitsOptions) -> pd.DataFrame:
    """NTM copy: L random bit vectors, a delimiter, then L silent steps that must write them back.

    Data: features ``bit_0``..``bit_<b-1>`` and ``delimiter``; 2L + 1 steps. Target: a label per
    step, NO_ANSWER ("-") until the delimiter, then each vector's bits as a string. Split: train
    lengths uniform in [min_length, max_length]; ``test_sequences`` per test length. Ids ``copy-<split>-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    lengths = split_sizes(rng, (o.min_length, o.max_length), o.sequences, o.test_lengths, o.test_sequences)
    sequences, labels, splits, ids = [], [], [], []
    for i, (split, n) in enumerate(lengths):
        vectors = rng.integers(0, 2, size=(n, o.bits)).astype(np.float64)  # (N, b)
        x = np.zeros((2 * n + 1, o.bits + 1))
        x[:n, : o.bits] = vectors
        x[n, o.bits] = 1.0  # the delimiter flag
        sequences.append(x)
        labels.append(np.concatenate([np.full(n + 1, NO_ANSWER, dtype=object), pattern_names(vectors).astype(object)]))
        splits.append(split)
        ids.append(f"copy-{split}-{i:06d}")
    names = [f"bit_{j}" for j in range(o.bits)] + ["delimiter"]
    return table_from_sequences(sequences, labels, splits, ids, names, "source copy_bits")


def associative_recall(options: AssociativeRecallOptions) -> pd.DataFrame:
    """NTM associative recall: a list of items, then one of them as a query; answer the item after it.

    Data: features ``bit_0``..``bit_<b-1>``, ``item`` (flag before each item) and ``query`` (flag
    before and after the query). Target: NO_ANSWER except the last ``item_length`` steps, the item
    that followed the queried one, as bit strings. Split: train item counts uniform in
    [min_items, max_items]; ``test_sequences`` per test item count. Ids ``recall-<split>-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    counts = split_sizes(rng, (o.min_items, o.max_items), o.sequences, o.test_items, o.test_sequences)
    width, k = o.bits + 2, o.item_length
    sequences, labels, splits, ids = [], [], [], []
    for i, (split, n) in enumerate(counts):
        items = rng.integers(0, 2, size=(n, k, o.bits)).astype(np.float64)  # (items, k, b)
        asked = int(rng.integers(0, n - 1))  # the answer is item asked + 1
        steps = []
        for item in items:
            steps.append(_flag(width, o.bits))  # "an item follows"
            steps.extend(np.pad(item, ((0, 0), (0, 2))))
        steps.append(_flag(width, o.bits + 1))  # "the query follows"
        steps.extend(np.pad(items[asked], ((0, 0), (0, 2))))
        steps.append(_flag(width, o.bits + 1))  # "answer now"
        steps.extend(np.zeros((k, width)))
        x = np.stack(steps)
        label = np.full(len(x), NO_ANSWER, dtype=object)
        label[-k:] = pattern_names(items[asked + 1])
        sequences.append(x)
        labels.append(label)
        splits.append(split)
        ids.append(f"recall-{split}-{i:06d}")
    names = [f"bit_{j}" for j in range(o.bits)] + ["item", "query"]
    return table_from_sequences(sequences, labels, splits, ids, names, "source associative_recall")


def split_sizes(
    rng: np.random.Generator, train_range: tuple[int, int], train_count: int, test_sizes: list[int], test_count: int
) -> list[tuple[str, int]]:
    """(split, size) per sequence: sizes uniform in train_range for training, ``test_count`` of each test size."""
    low, high = train_range
    return [("train", int(n)) for n in rng.integers(low, high + 1, size=train_count)] + [
        ("test", n) for n in test_sizes for _ in range(test_count)
    ]


def _flag(width: int, channel: int) -> np.ndarray:
    step = np.zeros(width)
    step[channel] = 1.0
    return step


# --- the attentional interface's task and Adaptive Computation Time's (reference §6 d, §7 d) --------


class ReverseDigitsOptions(Options):
    min_length: PositiveInt  # training lengths uniform in [min_length, max_length] (5–15 in the reference task)
    max_length: PositiveInt
    test_min_length: PositiveInt  # test lengths uniform in [test_min_length, test_max_length]: 5–25 holds
    test_max_length: PositiveInt  # the training range and lengths never seen
    sequences: PositiveInt  # training sequences
    test_sequences: PositiveInt
    seed: int

    @model_validator(mode="after")
    def _range(self) -> ReverseDigitsOptions:
        for low, high in (("min_length", "max_length"), ("test_min_length", "test_max_length")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} {getattr(self, low)} > {high} {getattr(self, high)}")
        return self


class ParityOptions(Options):
    bits: int = Field(ge=2, le=256)  # vector size (64 in the paper; 24–32 keeps it hard on a CPU)
    sequences: PositiveInt  # training vectors
    test_sequences: PositiveInt  # drawn after the training vectors (fresh draws; small sizes repeat vectors)
    seed: int


def reverse_digits(options: ReverseDigitsOptions) -> pd.DataFrame:
    """Reverse a digit string: "3 1 4" -> "4 1 3" (a seq2seq task; the alignment is anti-diagonal).

    Data: a ``token`` per digit. Target: the label is the reversed digits, space-separated. Split:
    training lengths in [min_length, max_length], test lengths in [test_min_length, test_max_length].
    Ids ``reverse-<split>-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    lengths = [("train", int(n)) for n in rng.integers(o.min_length, o.max_length + 1, size=o.sequences)]
    lengths += [("test", int(n)) for n in rng.integers(o.test_min_length, o.test_max_length + 1, size=o.test_sequences)]
    digits = [rng.integers(0, 10, size=n).astype(str) for _, n in lengths]
    labels = [" ".join(d[::-1]) for d in digits]
    ids = [f"reverse-{split}-{i:06d}" for i, (split, _) in enumerate(lengths)]
    return table_from_tokens([list(d) for d in digits], labels, [s for s, _ in lengths], ids, "source reverse_digits")


def parity(options: ParityOptions) -> pd.DataFrame:
    """ACT's parity (Graves 2016, §3.1): is the number of +1 entries of a {-1, 0, 1} vector odd?

    Each vector has ``bits`` entries, k ~ U{1..bits} of them set to ±1 at random places, the rest 0;
    the label is the parity of the number of +1 entries ("0" even, "1" odd).

    One step per sequence: a one-step RNN is a one-hidden-layer network, which does not learn the
    parity of many inputs; ACT may ponder several inner steps on it. Data: features ``bit_0``..
    (the number of nonzero entries k is recoverable from them, for the ponder-vs-difficulty report).
    Split: ``test_sequences`` vectors drawn after the training ones, from the same distribution.
    They are fresh draws, not necessarily unseen vectors: there are 3^bits − 1 possible vectors
    (6,560 at 8 entries), so a large training set holds most of them at small sizes (the act_parity
    report gives the share). Ids ``parity-<split>-<index>``.
    """
    o = options
    rng = np.random.default_rng(o.seed)
    n = o.sequences + o.test_sequences
    k = rng.integers(1, o.bits + 1, size=n)  # nonzero entries per vector
    order = rng.random((n, o.bits)).argsort(1)  # a random permutation of the places per vector
    chosen = order < k[:, None]  # (N, bits) k places chosen at random
    signs = rng.choice([-1.0, 1.0], size=(n, o.bits))
    x = np.where(chosen, signs, 0.0)
    labels = ((x == 1.0).sum(1) % 2).astype(str)
    splits = ["train"] * o.sequences + ["test"] * o.test_sequences
    ids = [f"parity-{s}-{i:07d}" for i, s in enumerate(splits)]
    names = [f"bit_{j}" for j in range(o.bits)]
    return table_from_sequences(list(x[:, None, :]), list(labels.astype(object)), splits, ids, names, "source parity")
