"""The canonical sequence table (long format): one row per time step.

Columns: ``sequence_id``, ``step`` (0..len-1), numeric feature columns, ``label`` (per sequence),
optionally ``split`` (train/test). Lengths vary; nothing assumes a fixed length. Every built-in
source converts into this shape, and so does a user's CSV or Parquet file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnnlab.errors import DataError

SEQUENCE_ID, STEP, LABEL, SPLIT = "sequence_id", "step", "label", "split"
RESERVED = (SEQUENCE_ID, STEP, LABEL, SPLIT, "speaker", "token")
SPLITS = ("train", "test")


def feature_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in RESERVED]


def table_from_sequences(
    sequences: Sequence[np.ndarray],
    labels: Sequence,
    splits: Sequence[str],
    ids: Sequence[str],
    feature_names: Sequence[str],
    where: str,
) -> pd.DataFrame:
    """Long table from per-sequence (T, D) arrays. ``where`` names the source in errors."""
    if len(sequences) == 0:
        raise DataError(f"{where}: the source yielded zero sequences")
    if not len(sequences) == len(labels) == len(splits) == len(ids):
        raise DataError(f"{where}: {len(sequences)} sequences but {len(labels)} labels, {len(splits)} splits, {len(ids)} ids")
    frames = []
    for seq, label, split, sid in zip(sequences, labels, splits, ids):
        seq = np.asarray(seq, dtype=np.float64)
        if seq.ndim != 2 or seq.shape[1] != len(feature_names):
            raise DataError(f"{where}: sequence {sid!r} has shape {seq.shape}, expected (T, {len(feature_names)})")
        if seq.shape[0] == 0:
            raise DataError(f"{where}: sequence {sid!r} has length 0")
        frame = pd.DataFrame(seq, columns=list(feature_names))
        frame.insert(0, STEP, np.arange(seq.shape[0], dtype=np.int64))
        frame.insert(0, SEQUENCE_ID, sid)
        frame[LABEL] = str(label)
        frame[SPLIT] = split
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def validate_table(df: pd.DataFrame, where: str, require_label: bool = True) -> None:
    """Raise DataError naming the column, sequence and step of the first problem found.

    ``require_label=False`` validates input for prediction, which has no target.
    """
    for column in (SEQUENCE_ID, STEP, LABEL) if require_label else (SEQUENCE_ID, STEP):
        if column not in df.columns:
            raise DataError(f"{where}: missing column {column!r} (columns: {', '.join(map(str, df.columns))})")
    if len(df) == 0:
        raise DataError(f"{where}: the table has zero sequences")
    features = feature_columns(df)
    if not features:
        raise DataError(f"{where}: no feature columns besides {', '.join(c for c in RESERVED if c in df.columns)}")
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
            raise DataError(f"{where}: column {column!r} has {row[column]} at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}")
    if LABEL in df.columns and df[LABEL].isna().any():
        row = df[df[LABEL].isna()].iloc[0]
        raise DataError(f"{where}: column 'label' is empty at sequence {row[SEQUENCE_ID]!r}, step {row[STEP]}")
    duplicated = df.duplicated([SEQUENCE_ID, STEP])
    if duplicated.any():
        row = df[duplicated].iloc[0]
        raise DataError(f"{where}: duplicate (sequence_id, step) = ({row[SEQUENCE_ID]!r}, {row[STEP]})")
    grouped = df.groupby(SEQUENCE_ID, sort=False)
    stats = grouped[STEP].agg(["min", "max", "count"])
    gaps = stats[(stats["min"] != 0) | (stats["max"] != stats["count"] - 1)]
    if len(gaps):
        sid = gaps.index[0]
        raise DataError(f"{where}: sequence {sid!r} has steps that are not 0..len-1 (min {gaps['min'].iloc[0]}, max {gaps['max'].iloc[0]}, {gaps['count'].iloc[0]} rows)")
    if LABEL in df.columns:
        labels_per_sequence = grouped[LABEL].nunique()
        mixed = labels_per_sequence[labels_per_sequence > 1]
        if len(mixed):
            raise DataError(f"{where}: sequence {mixed.index[0]!r} has more than one label")
    if SPLIT in df.columns:
        unknown = set(df[SPLIT].unique()) - set(SPLITS)
        if unknown:
            raise DataError(f"{where}: column 'split' has values {sorted(map(str, unknown))}; allowed: {', '.join(SPLITS)}")


def sequences_of(df: pd.DataFrame, features: list[str] | None = None) -> tuple[list[np.ndarray], list[str | None], list]:
    """Per-sequence float32 (T, D) arrays, labels (None without a label column) and ids, sorted by id."""
    features = features or feature_columns(df)
    df = df.sort_values([SEQUENCE_ID, STEP], kind="stable")
    arrays, labels, ids = [], [], []
    for sid, group in df.groupby(SEQUENCE_ID, sort=False):
        arrays.append(group[features].to_numpy(dtype=np.float32))
        labels.append(str(group[LABEL].iloc[0]) if LABEL in group.columns else None)
        ids.append(sid)
    return arrays, labels, ids
