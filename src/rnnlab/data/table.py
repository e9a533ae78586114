"""The canonical sequence table (long format): one row per time step.

Columns: ``sequence_id``, ``step`` (0..len-1), numeric feature columns, ``label`` (per sequence),
optionally ``split`` (train/test) and ``speaker`` (a dialogue: who says each utterance). Lengths vary;
nothing assumes a fixed length. Every built-in source converts into this shape, and so does a user's
CSV or Parquet file.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd

from rnnlab.errors import DataError

SEQUENCE_ID, STEP, LABEL, SPLIT, TOKEN, SPEAKER = "sequence_id", "step", "label", "split", "token", "speaker"
RESERVED = (SEQUENCE_ID, STEP, LABEL, SPLIT, SPEAKER, TOKEN)
NO_ANSWER = "-"  # a per-step label where nothing is due (label_bits; the NTM tasks' label_steps)
SPLITS = ("train", "test")


def feature_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in RESERVED]


def table_from_sequences(
    sequences: Sequence[np.ndarray],
    labels: Sequence | None,
    splits: Sequence | None,
    ids: Sequence,
    feature_names: Sequence[str],
    where: str,
) -> pd.DataFrame:
    """Long table from per-sequence (T, D) arrays. ``where`` names the source in errors.

    ``labels``: one per sequence (a value, or a length-T array for per-step labels), or None for
    tasks whose target is a feature column (forecasting). ``splits``: one per sequence (a split
    name, or a length-T array: a single series split in time), or None (prepare draws the split).
    Built column by column (one pass, no per-sequence frames: 30k sequences take well under a second).
    """
    _check_counts(sequences, labels, splits, ids, where)
    arrays = [np.asarray(seq, dtype=np.float64) for seq in sequences]
    for seq, sid in zip(arrays, ids):
        if seq.ndim != 2 or seq.shape[1] != len(feature_names):
            raise DataError(f"{where}: sequence {sid!r} has shape {seq.shape}, expected (T, {len(feature_names)})")
    values = np.concatenate(arrays) if arrays else np.zeros((0, len(feature_names)))
    return _assemble(dict(zip(feature_names, values.T)), [len(a) for a in arrays], labels, splits, ids, where)


def table_from_tokens(
    sequences: Sequence[Sequence[str]],
    labels: Sequence | None,
    splits: Sequence | None,
    ids: Sequence,
    where: str,
) -> pd.DataFrame:
    """Long table of symbol sequences (characters, words, amino acids): one ``token`` per row.
    A sequence may be a string (one token per character) or a list of tokens."""
    _check_counts(sequences, labels, splits, ids, where)
    lengths = [len(seq) for seq in sequences]
    tokens = np.fromiter(chain.from_iterable(sequences), dtype=object, count=sum(lengths))
    return _assemble({TOKEN: tokens}, lengths, labels, splits, ids, where)


def _check_counts(sequences, labels, splits, ids, where: str) -> None:
    if len(sequences) == 0:
        raise DataError(f"{where}: the source yielded zero sequences")
    counts = {"labels": labels, "splits": splits, "ids": ids}
    wrong = {k: len(v) for k, v in counts.items() if v is not None and len(v) != len(sequences)}
    if wrong:
        raise DataError(f"{where}: {len(sequences)} sequences but " + ", ".join(f"{n} {k}" for k, n in wrong.items()))


def _assemble(inputs: dict, lengths: list[int], labels, splits, ids, where: str) -> pd.DataFrame:
    """sequence_id, step, the input columns, then label and split (per sequence or per step)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths == 0).any():
        raise DataError(f"{where}: sequence {ids[int(np.argmin(lengths))]!r} has length 0")
    starts = np.cumsum(lengths) - lengths
    columns = {
        SEQUENCE_ID: np.repeat(np.asarray(ids, dtype=object), lengths),
        STEP: np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths),
        **inputs,
    }
    for column, values in ((LABEL, labels), (SPLIT, splits)):
        if values is not None:
            columns[column] = _per_step(column, values, lengths, ids, where)
    return pd.DataFrame(columns)


def _per_step(column: str, values, lengths: np.ndarray, ids, where: str) -> np.ndarray:
    """One value per row from one value (a string: class and split names are names) or one array per sequence."""
    if all(np.ndim(v) == 0 for v in values):
        return np.repeat(np.asarray([str(v) for v in values], dtype=object), lengths)
    parts = []
    for value, n, sid in zip(values, lengths, ids):
        if np.ndim(value) == 0:
            parts.append(np.full(n, str(value), dtype=object))
        elif len(value) != n:
            raise DataError(f"{where}: sequence {sid!r} has {n} steps but {len(value)} per-step {column} values")
        else:
            parts.append(np.asarray(value, dtype=object))
    return np.concatenate(parts)


def validate_table(df: pd.DataFrame, where: str, label: str | None = "sequence") -> None:
    """Raise DataError naming the column, sequence and step of the first problem found.

    ``label``: "sequence" (one label per sequence), "step" (a label per step) or None (no label
    column needed: forecasting, language modelling, and input for prediction).
    """
    for column in (SEQUENCE_ID, STEP, LABEL) if label else (SEQUENCE_ID, STEP):
        if column not in df.columns:
            raise DataError(f"{where}: missing column {column!r} (columns: {', '.join(map(str, df.columns))})")
    if len(df) == 0:
        raise DataError(f"{where}: the table has zero sequences")
    if df[SEQUENCE_ID].isna().any():  # later messages name a row by its sequence_id; a missing one would blame another
        at = int(np.argmax(df[SEQUENCE_ID].isna().to_numpy()))
        raise DataError(f"{where}: column 'sequence_id' is empty at row {df.index[at]} (step {df[STEP].iloc[at]})")
    if df[STEP].isna().any():
        at = int(np.argmax(df[STEP].isna().to_numpy()))
        raise DataError(
            f"{where}: column 'step' is empty at row {df.index[at]} (sequence {df[SEQUENCE_ID].iloc[at]!r})"
        )
    _check_inputs(df, where)
    if label and df[LABEL].isna().any():
        row = df[df[LABEL].isna()].iloc[0]
        raise DataError(f"{where}: column 'label' is empty at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}")
    if not pd.api.types.is_integer_dtype(df[STEP]):
        raise DataError(f"{where}: column 'step' must hold integers, got {df[STEP].dtype}")
    duplicated = df.duplicated([SEQUENCE_ID, STEP])
    if duplicated.any():
        row = df[duplicated].iloc[0]
        raise DataError(
            f"{where}: duplicate (sequence_id, step) = ({row[SEQUENCE_ID]!r}, "
            f"{row[STEP]}) at row {df.index[duplicated][0]}"
        )
    grouped = df.groupby(SEQUENCE_ID, sort=False)
    stats = grouped[STEP].agg(["min", "max", "count"])
    gaps = stats[(stats["min"] != 0) | (stats["max"] != stats["count"] - 1)]
    if len(gaps):
        sid = gaps.index[0]
        raise DataError(
            f"{where}: sequence {sid!r} has steps that are not 0..len-1 (min {gaps['min'].iloc[0]}, max "
            f"{gaps['max'].iloc[0]}, {gaps['count'].iloc[0]} rows)"
        )
    if label == "sequence":
        labels_per_sequence = grouped[LABEL].nunique()
        mixed = labels_per_sequence[labels_per_sequence > 1]
        if len(mixed):
            raise DataError(
                f"{where}: sequence {mixed.index[0]!r} has more than one label (classify, regress and seq2seq want "
                "one per sequence, repeated on its rows; per-step labels are task label_steps)"
            )
    if SPLIT in df.columns:
        unknown = set(df[SPLIT].unique()) - set(SPLITS)
        if unknown:
            raise DataError(
                f"{where}: column 'split' has values {sorted(map(str, unknown))}; allowed: {', '.join(SPLITS)}"
            )


def _check_inputs(df: pd.DataFrame, where: str) -> None:
    """Inputs are numeric feature columns, or one ``token`` column of symbols — not both."""
    features = feature_columns(df)
    if TOKEN in df.columns:
        if features:
            raise DataError(
                f"{where}: has a 'token' column and numeric feature columns {', '.join(map(repr, features))}; a "
                "dataset has one kind of input"
            )
        if df[TOKEN].isna().any():
            row = df[df[TOKEN].isna()].iloc[0]
            raise DataError(f"{where}: column 'token' is empty at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}")
        return
    if not features:
        raise DataError(
            f"{where}: no feature columns besides "
            f"{', '.join(c for c in RESERVED if c in df.columns)} (and no 'token' column)"
        )
    for column in features:
        if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
            bad = pd.to_numeric(df[column], errors="coerce").isna() & df[column].notna()
            row = df[bad].iloc[0] if bad.any() else df.iloc[0]
            raise DataError(
                f"{where}: feature column {column!r} is not numeric "
                f"(sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}: {row[column]!r})"
            )
        values = df[column].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            row = df.iloc[int(np.argmin(finite))]
            raise DataError(
                f"{where}: column {column!r} has {row[column]} at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}"
            )


def speaker_index(df: pd.DataFrame, where: str) -> pd.Series:
    """Each row's party within its dialogue, 0..P-1 in order of first appearance: any speaker
    names ("M"/"F", "Alice", 7) become party indices, so a model sees who speaks again, not who
    they are (DialogueRNN is indifferent to the order of parties; its tests check that)."""
    if df[SPEAKER].isna().any():
        row = df[df[SPEAKER].isna()].iloc[0]
        raise DataError(f"{where}: column 'speaker' is empty at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}")
    ordered = df.sort_values([SEQUENCE_ID, STEP], kind="stable")
    key = pd.MultiIndex.from_arrays([ordered[SEQUENCE_ID], ordered[SPEAKER].astype(str)])
    first = ~key.duplicated()  # a party's first utterance in its dialogue
    index = pd.Series(first).groupby(ordered[SEQUENCE_ID].to_numpy(), sort=False).cumsum().to_numpy() - 1
    party = pd.Series(index[first], index=key[first])  # (dialogue, speaker) -> 0..P-1
    return pd.Series(party.loc[key].to_numpy(), index=ordered.index).loc[df.index]


def bit_width(labels: pd.Series, where: str) -> int:
    """label_bits: every answer is a string of 0/1 of one width (NO_ANSWER where nothing is due); that width."""
    answers = labels[labels != NO_ANSWER].astype(str)
    if answers.empty:
        raise DataError(f"{where}: task label_bits needs answer steps, but every label is {NO_ANSWER!r}")
    widths = answers.str.len()
    odd = ~answers.str.fullmatch(r"[01]+") | (widths != widths.iloc[0])
    if odd.any():
        raise DataError(
            f"{where}: task label_bits needs each label to be bits of one width ({answers.iloc[0]!r}) or "
            f"{NO_ANSWER!r}; found {answers[odd].iloc[0]!r}"
        )
    return int(widths.iloc[0])


def sequences_of(df: pd.DataFrame, columns: list[str]) -> tuple[list[np.ndarray], list]:
    """Per-sequence (T, len(columns)) arrays and the sequence ids, sorted by sequence_id then step."""
    df = df.sort_values([SEQUENCE_ID, STEP], kind="stable")
    ids = pd.unique(df[SEQUENCE_ID])
    bounds = np.flatnonzero(np.r_[True, df[SEQUENCE_ID].to_numpy()[1:] != df[SEQUENCE_ID].to_numpy()[:-1], True])
    values = df[columns].to_numpy()
    return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])], list(ids)
