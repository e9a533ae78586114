"""Prepare: validate, split train into train/validation, fit the normalizer on train, write.

The official test split of a source is kept as it is; the validation split is drawn from the
training sequences only, stratified by label, so model selection never sees the test split.
Outputs are staged and moved into place at the end: nothing half-written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from rnnlab.data.store import staged_folder
from rnnlab.data.table import LABEL, SEQUENCE_ID, SPLIT, feature_columns, validate_table
from rnnlab.errors import DataError

# Floor for a feature's standard deviation: a constant feature is centred, not divided by ~0.
MIN_STD = 1e-8
PREPARED_SPLITS = ("train", "val", "test")


def sequence_labels(df: pd.DataFrame) -> pd.Series:
    """One label per sequence_id (first row), indexed by sequence_id."""
    return df.groupby(SEQUENCE_ID, sort=False)[LABEL].first()


def subsample(df: pd.DataFrame, max_sequences: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_sequences`` sequences, chosen at random with ``seed`` (None: all)."""
    ids = df[SEQUENCE_ID].unique()
    if max_sequences is None or len(ids) <= max_sequences:
        return df
    keep = np.random.default_rng(seed).choice(ids, size=max_sequences, replace=False)
    return df[df[SEQUENCE_ID].isin(set(keep))]


def split_train_val(train: pd.DataFrame, val_fraction: float, seed: int, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    labels = sequence_labels(train)
    counts = labels.value_counts()
    single = counts[counts < 2]
    if len(single):
        raise DataError(f"{where}: class {single.index[0]!r} has a single training sequence; it cannot be stratified into train and val")
    n_val = int(round(val_fraction * len(labels)))
    if n_val < len(counts) or len(labels) - n_val < len(counts):
        raise DataError(f"{where}: val_fraction={val_fraction} gives {n_val} validation sequences for {len(counts)} classes")
    train_ids, val_ids = train_test_split(labels.index.to_numpy(), test_size=n_val, stratify=labels.to_numpy(), random_state=seed)
    return train[train[SEQUENCE_ID].isin(set(train_ids))], train[train[SEQUENCE_ID].isin(set(val_ids))]


def fit_normalizer(train: pd.DataFrame) -> dict[str, list[float]]:
    """Per-feature mean and std over every real time step of the training split."""
    values = train[feature_columns(train)].to_numpy(dtype=np.float64)
    return {"mean": values.mean(axis=0).tolist(), "std": np.maximum(values.std(axis=0), MIN_STD).tolist()}


def normalize(df: pd.DataFrame, normalizer: dict[str, list[float]]) -> pd.DataFrame:
    features = feature_columns(df)
    out = df.copy()
    out[features] = (df[features].to_numpy(dtype=np.float64) - np.array(normalizer["mean"])) / np.array(normalizer["std"])
    return out


def length_stats(df: pd.DataFrame) -> dict[str, float]:
    lengths = df.groupby(SEQUENCE_ID).size()
    return {"sequences": int(len(lengths)), "min": int(lengths.min()), "max": int(lengths.max()), "mean": float(lengths.mean())}


def split(raw: pd.DataFrame, name: str, val_fraction: float, max_sequences: int | None, seed: int) -> dict[str, pd.DataFrame]:
    """Validated train / val / test tables (val drawn from train, stratified)."""
    where = f"dataset {name}"
    validate_table(raw, where)
    if SPLIT not in raw.columns:
        raise DataError(f"{where}: needs a 'split' column with train/test rows")
    parts = {s: subsample(raw[raw[SPLIT] == s], max_sequences, seed) for s in ("train", "test")}
    for name_, part in parts.items():
        if len(part) == 0:
            raise DataError(f"{where}: the {name_} split has zero sequences")
    train, val = split_train_val(parts["train"], val_fraction, seed, where)
    classes = set(sequence_labels(train))
    for name_, part in (("val", val), ("test", parts["test"])):
        unseen = sorted(set(sequence_labels(part)) - classes)
        if unseen:
            raise DataError(f"{where}: class {unseen[0]!r} appears in the {name_} split but not in train")
    return {"train": train.drop(columns=[SPLIT]), "val": val.drop(columns=[SPLIT]), "test": parts["test"].drop(columns=[SPLIT])}


def finalize(splits: dict[str, pd.DataFrame], normalizer: dict, name: str, task: str, seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Normalized splits and the dataset's meta (task, dims, classes, length stats)."""
    features = feature_columns(splits["train"])
    classes = sorted(sequence_labels(splits["train"]).unique())
    meta = {
        "dataset": name,
        "task": task,
        "features": features,
        "num_features": len(features),
        "classes": classes,
        "num_classes": len(classes),
        "normalizer": normalizer,
        "lengths": {k: length_stats(v) for k, v in splits.items()},
        "seed": seed,
    }
    return {k: normalize(v, normalizer) for k, v in splits.items()}, meta


def prepare(raw: pd.DataFrame, name: str, task: str, val_fraction: float, max_sequences: int | None, seed: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """The whole prepare step in one call (the prepare flow runs the same pieces as tasks)."""
    splits = split(raw, name, val_fraction, max_sequences, seed)
    return finalize(splits, fit_normalizer(splits["train"]), name, task, seed)


def write_prepared(out_dir: Path, splits: dict[str, pd.DataFrame], meta: dict) -> None:
    with staged_folder(out_dir) as staging:
        for name, df in splits.items():
            df.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def read_prepared(folder: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{folder}: no prepared dataset here (meta.json missing); run the prepare stage first")
    meta = json.loads(meta_path.read_text())
    return {split: pd.read_parquet(folder / f"{split}.parquet") for split in PREPARED_SPLITS}, meta
