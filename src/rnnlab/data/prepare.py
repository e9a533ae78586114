"""Prepare: validate, split, fit the input encoding on train, write data/prepared/<dataset>/.

Splits are the task kind's (``TaskKind.split``): whole sequences (rnnlab.data.splits), or, for a
forecast, each series in time. The validation part always comes from the training part, so model
selection never sees test.

Encoding, fitted on the training split only: numeric features are standardized; symbols get a
vocabulary (ids 0 = padding, 1 = <unk>, then by count); the task kind fits its target (classes, a
value's scale, output symbols) into the typed meta (rnnlab.data.meta). Outputs are staged and moved
into place at the end: nothing half-written.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.meta import MIN_STD, DatasetMeta
from rnnlab.data.store import staged_folder
from rnnlab.data.symbols import INPUT_SPECIALS
from rnnlab.data.table import LABEL, SEQUENCE_ID, SPEAKER, TOKEN, feature_columns, speaker_index, validate_table
from rnnlab.errors import DataError
from rnnlab.kinds import KINDS

PREPARED_SPLITS = ("train", "val", "test")
SPECIAL_TOKENS = {token: i for i, token in enumerate(INPUT_SPECIALS)}
# More distinct tokens than this share of all training tokens: nearly every token is new, so the
# column holds ids or free text, not symbols — an embedding per value would learn nothing.
RUNAWAY_SHARE = 0.5


# --- fitting the encoding on train ------------------------------------------------------------------


def fit_normalizer(train: pd.DataFrame) -> dict[str, list[float]] | None:
    """Per-feature mean and std over every real time step of the training split (None for tokens)."""
    features = feature_columns(train)
    if not features:
        return None
    values = train[features].to_numpy(dtype=np.float64)
    return {"mean": values.mean(axis=0).tolist(), "std": np.maximum(values.std(axis=0), MIN_STD).tolist()}


def fit_vocabulary(train: pd.DataFrame, tokens, where: str) -> list[str] | None:
    """<pad>, <unk>, then the training tokens seen at least ``min_count`` times, most frequent first."""
    if TOKEN not in train.columns:
        return None
    if tokens is None:
        raise DataError(
            f"{where}: the data has a 'token' column; set tokens "
            "(embedding_size, min_count, max_vocabulary) in params.yaml"
        )
    counts = Counter(train[TOKEN].astype(str))
    if len(counts) > RUNAWAY_SHARE * len(train):
        raise DataError(
            f"{where}: column 'token' has {len(counts):,} distinct values in {len(train):,} training rows (a runaway "
            "vocabulary: nearly every token is new — is it an id or free-text column? Tokens are symbols such as "
            "characters, words or residues)"
        )
    kept = sorted((t for t, c in counts.items() if c >= tokens.min_count), key=lambda t: (-counts[t], t))
    if len(kept) + len(SPECIAL_TOKENS) > tokens.max_vocabulary:
        raise DataError(
            f"{where}: column 'token' has {len(kept):,} distinct tokens seen at least {tokens.min_count} time(s) in "
            f"the training split, more than max_vocabulary = {tokens.max_vocabulary:,} (a runaway vocabulary: is it "
            "an id or free-text column? Otherwise raise tokens.min_count or tokens.max_vocabulary)"
        )
    return list(SPECIAL_TOKENS) + kept


def party_indices(splits: dict[str, pd.DataFrame], speakers: bool, where: str) -> tuple[dict[str, pd.DataFrame], int]:
    """Dialogues: each split's ``speaker`` as party indices 0..P-1 per dialogue (``speaker_index``)
    and P, the most parties of a training dialogue — the width of the speaker one-hot every model
    reads after the features. 0 without a speaker column."""
    has_column = SPEAKER in splits["train"].columns
    if has_column != speakers:
        raise DataError(
            f"{where}: the data has a 'speaker' column; set speakers: true in params.yaml"
            if has_column
            else f"{where}: speakers: true in params.yaml, but the data has no 'speaker' column"
        )
    if not has_column:
        return splits, 0
    if TOKEN in splits["train"].columns:
        raise DataError(f"{where}: a 'speaker' column goes with numeric utterance features, not a 'token' column")
    indexed = {k: v.assign(**{SPEAKER: speaker_index(v, where)}) for k, v in splits.items()}
    parties = int(indexed["train"][SPEAKER].max()) + 1
    for part, table in indexed.items():
        check_parties(table, parties, f"{where}: {part}")
    return indexed, parties


def check_parties(table: pd.DataFrame, parties: int, where: str) -> None:
    """No dialogue may have more parties than the model's speaker one-hot has columns."""
    if len(table) and table[SPEAKER].max() >= parties:
        sid = table.loc[table[SPEAKER].idxmax(), SEQUENCE_ID]
        raise DataError(
            f"{where}: dialogue {sid!r} has {table[SPEAKER].max() + 1} "
            f"parties; the training dialogues have at most {parties}"
        )


def normalize(df: pd.DataFrame, normalizer: dict | None, target_scale: dict | None = None) -> pd.DataFrame:
    """Standardize the features (and, for forecasts, a ``label`` column holding the target's values)."""
    out = df.copy()
    if normalizer is not None:
        features = feature_columns(df)
        out[features] = (df[features].to_numpy(dtype=np.float64) - np.array(normalizer["mean"])) / np.array(
            normalizer["std"]
        )
    if target_scale is not None and LABEL in out.columns:
        out[LABEL] = (out[LABEL] - target_scale["mean"]) / target_scale["std"]
    return out


def length_stats(df: pd.DataFrame) -> dict[str, float]:
    lengths = df.groupby(SEQUENCE_ID).size()
    return {
        "sequences": int(len(lengths)),
        "min": int(lengths.min()),
        "max": int(lengths.max()),
        "mean": float(lengths.mean()),
    }


# --- the whole step -----------------------------------------------------------------------------------


def split(raw: pd.DataFrame, name: str, settings) -> tuple[dict[str, pd.DataFrame], dict]:
    """Validated train / val / test tables, split as the dataset's task kind splits, and any baselines
    measured while splitting."""
    where = f"dataset {name}"
    kind = KINDS[settings.task]
    validate_table(raw, where, kind.label_mode)
    kind.check_columns(raw, settings, where)
    return kind.split(kind.read_labels(raw, where), settings, where)


def finalize(
    splits: dict[str, pd.DataFrame], name: str, settings, baselines: dict
) -> tuple[dict[str, pd.DataFrame], DatasetMeta]:
    """Normalized splits and the dataset's meta: the input encoding fitted on train, then what the
    task kind fits of its target (classes, a vocabulary of outputs, a value's scale)."""
    where = f"dataset {name}"
    splits, parties = party_indices(splits, settings.speakers, where)
    train = splits["train"]
    normalizer = fit_normalizer(train)
    vocabulary = fit_vocabulary(train, settings.tokens, where)
    features = feature_columns(train)
    fitted = {"features": features, "normalizer": normalizer, "vocabulary": vocabulary}
    target = KINDS[settings.task].fit_target(train, splits, settings, fitted, where)
    meta = DatasetMeta(
        dataset=name,
        task=settings.task,
        features=features,
        vocabulary=vocabulary,
        num_features=settings.tokens.embedding_size if vocabulary else len(features) + parties,
        parties=parties,
        normalizer=normalizer,
        lengths={k: length_stats(v) for k, v in splits.items()},
        seed=settings.split_seed,
        baselines=baselines,
        downsample=settings.downsample if (settings.downsample or 1) > 1 else None,
        frame=settings.frame if (settings.frame or 1) > 1 else None,
        sequence_scale=True if settings.sequence_scale else None,
        **target,
    )
    meta.num_classes = len(meta.classes)
    return {k: normalize(v, normalizer, meta.target_scale) for k, v in splits.items()}, meta


def prepare(
    raw: pd.DataFrame, name: str, settings, references: bool = True
) -> tuple[dict[str, pd.DataFrame], DatasetMeta]:
    """The whole prepare step, as the prepare stage and the studies run it: split, encode on train,
    and (``references``) measure the non-recurrent references on the same test split."""
    from rnnlab.baselines.references import measure_references

    splits, baselines = split(raw, name, settings)
    encoded, meta = finalize(splits, name, settings, baselines)
    for part, results in (measure_references(encoded, meta, settings) if references else {}).items():
        meta.baselines.setdefault(part, {}).update(results)
    return encoded, meta


def write_prepared(out_dir: Path, splits: dict[str, pd.DataFrame], meta: DatasetMeta) -> None:
    with staged_folder(out_dir) as staging:
        for name, df in splits.items():
            df.to_parquet(staging / f"{name}.parquet", index=False)
        meta.write(staging / "meta.json")


def read_prepared(folder: Path) -> tuple[dict[str, pd.DataFrame], DatasetMeta]:
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{folder}: no prepared dataset here (meta.json missing); run the prepare stage first")
    meta = DatasetMeta.read(meta_path)
    return {split: pd.read_parquet(folder / f"{split}.parquet") for split in PREPARED_SPLITS}, meta
