"""Splitting a canonical table into train / val / test of whole sequences.

A source's own test split (a ``split`` column) is kept as it is; without one, the test part is drawn
once with the dataset's ``split_seed`` (stratified by label where the task kind asks for it). The
validation part always comes from the training part, so model selection never sees test. A task kind
with a split of its own (forecasting: in time) writes it in its module and uses these pieces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.table import LABEL, SEQUENCE_ID, SPLIT, STEP, feature_columns
from rnnlab.errors import DataError

# --- splitting sequences --------------------------------------------------------------------------


def sequence_labels(df: pd.DataFrame) -> pd.Series:
    """One label per sequence_id (first row), indexed by sequence_id."""
    return df.groupby(SEQUENCE_ID, sort=False)[LABEL].first()


def take(df: pd.DataFrame, ids) -> pd.DataFrame:
    return df[df[SEQUENCE_ID].isin(set(ids))]


def subsample(df: pd.DataFrame, max_sequences: int | None, seed: int) -> pd.DataFrame:
    """At most ``max_sequences`` sequences, chosen at random with ``seed`` (None: all)."""
    ids = df[SEQUENCE_ID].unique()
    if max_sequences is None or len(ids) <= max_sequences:
        return df
    return take(df, np.random.default_rng(seed).choice(ids, size=max_sequences, replace=False))


def draw(
    df: pd.DataFrame, fraction: float, stratify: bool, seed: int, where: str, part: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split sequences into (rest, drawn) with ``fraction`` of them drawn, stratified by label if asked."""
    from sklearn.model_selection import train_test_split  # imported when data are split, not when the config loads

    ids = pd.Series(df[SEQUENCE_ID].unique())
    n_drawn = int(round(fraction * len(ids)))
    labels = None
    if stratify:
        labels = sequence_labels(df).loc[ids].to_numpy()
        counts = pd.Series(labels).value_counts()
        single = counts[counts < 2]
        if len(single):
            raise DataError(
                f"{where}: class {single.index[0]!r} has a single sequence; it cannot be split into train and {part}"
            )
        if n_drawn < len(counts) or len(ids) - n_drawn < len(counts):
            raise DataError(
                f"{where}: a fraction of {fraction} gives {n_drawn} {part} sequences for {len(counts)} classes"
            )
    if n_drawn < 1 or n_drawn >= len(ids):
        raise DataError(
            f"{where}: a fraction of {fraction} of {len(ids)} sequences leaves no {part} or no training sequence"
        )
    rest, drawn = train_test_split(ids.to_numpy(), test_size=n_drawn, stratify=labels, random_state=seed)
    return take(df, rest), take(df, drawn)


def split_sequences(raw: pd.DataFrame, settings, where: str, kind) -> dict[str, pd.DataFrame]:
    """train / val / test of whole sequences (stratified by label where the task ``kind`` asks for it)."""
    stratify = kind.stratify
    if SPLIT in raw.columns:
        if settings.test_fraction is not None:
            raise DataError(f"{where}: the source has its own split column; set test_fraction: null")
        train, test = raw[raw[SPLIT] == "train"], raw[raw[SPLIT] == "test"]
        for part, df in (("train", train), ("test", test)):
            if len(df) == 0:
                raise DataError(f"{where}: the {part} split has zero sequences")
    elif settings.test_fraction is None:
        raise DataError(f"{where}: the source has no split column; set test_fraction")
    else:
        train, test = draw(raw, settings.test_fraction, stratify, settings.split_seed, where, "test")
    train = subsample(train, settings.max_sequences, settings.split_seed)
    train, val = draw(train, settings.val_fraction, stratify, settings.split_seed, where, "val")
    parts = {"train": train, "val": val, "test": test}
    if kind.checks_classes:
        check_classes(parts, where, both_ways=stratify)
    return {k: cut(v.drop(columns=[SPLIT], errors="ignore"), settings, kind, where) for k, v in parts.items()}


def check_classes(parts: dict[str, pd.DataFrame], where: str, both_ways: bool) -> None:
    """Every class of val and test is learned in train; for classification every class is also tested."""
    seen = set(parts["train"][LABEL])
    for part in ("val", "test"):
        unseen = sorted(set(parts[part][LABEL]) - seen, key=str)
        if unseen:
            raise DataError(f"{where}: class {unseen[0]!r} appears in the {part} split but not in train")
    untested = sorted(seen - set(parts["test"][LABEL]), key=str) if both_ways else []
    if untested:
        raise DataError(f"{where}: class {untested[0]!r} appears only in the train split, never in test")


def downsample(df: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Every sequence's numeric features averaged over each ``k`` consecutive steps (a sequence's last
    group may be shorter); steps renumbered 0, 1, ...; the other columns are constant per sequence."""
    if k is None or k == 1 or len(df) == 0:
        return df
    features = feature_columns(df)
    df = df.sort_values([SEQUENCE_ID, STEP], kind="stable")
    group = df.groupby([SEQUENCE_ID, df[STEP] // k], sort=False)
    others = [c for c in df.columns if c not in features and c not in (SEQUENCE_ID, STEP)]
    pooled = group[features].mean()
    if others:
        pooled = pooled.join(group[others].first())
    pooled.index = pooled.index.set_names([SEQUENCE_ID, STEP])
    return pooled.reset_index()[list(df.columns)]


FRAME_SEP = "@"  # a framed feature's name: f"{feature}@{offset}", the sample at that offset of its frame


def frame(df: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Every sequence's numeric features read ``k`` steps at a time: the k samples of a frame side by
    side in one step, feature f becoming f@0 … f@{k−1} (f@j the sample at offset j); a sequence's last
    frame is filled out with its last sample; steps renumbered 0, 1, ...; the other columns are
    constant per sequence. Unlike ``downsample``, nothing is averaged away."""
    if k is None or k == 1 or len(df) == 0:
        return df
    features = feature_columns(df)
    df = df.sort_values([SEQUENCE_ID, STEP], kind="stable").reset_index(drop=True)
    position = df.groupby(SEQUENCE_ID, sort=False).cumcount().to_numpy()
    size = df.groupby(SEQUENCE_ID, sort=False)[STEP].transform("size").to_numpy()
    is_last = position == size - 1
    last = df[is_last]  # each sequence's last row, repeated to fill its last frame
    missing = (-size[is_last]) % k
    fill = last.loc[last.index.repeat(missing)]
    fill_position = np.repeat(size[is_last], missing) + (
        np.arange(missing.sum()) - np.repeat(np.cumsum(missing) - missing, missing)
    )  # each fill row's place: the sequence's length, then one more per row
    whole = pd.concat([df, fill], ignore_index=True)
    whole[STEP] = np.concatenate([position, fill_position]) // k
    whole["_offset"] = np.concatenate([position, fill_position]) % k
    wide = whole.set_index([SEQUENCE_ID, STEP, "_offset"])[features].unstack("_offset")
    wide.columns = [f"{f}{FRAME_SEP}{j}" for f, j in wide.columns]
    others = [c for c in df.columns if c not in features and c not in (SEQUENCE_ID, STEP)]
    if others:
        wide = wide.join(whole.groupby([SEQUENCE_ID, STEP], sort=False)[others].first())
    return wide.reset_index()


def unframed(features: list[str]) -> list[str]:
    """The source's feature names behind framed ones (f@0 … f@{k−1} -> f), in order."""
    return list(dict.fromkeys(map(source_name, features)))


def source_name(feature: str) -> str:
    """A framed feature's source feature: f@j -> f."""
    return feature.rsplit(FRAME_SEP, 1)[0]


LEVEL = "~level"  # a sequence-scaled feature's size: f"{feature}~level", the log of its root mean square
LEVEL_FLOOR = 1e-8  # the smallest root mean square divided by: an all-zero sequence stays 0, its level finite


def sequence_scaled(df: pd.DataFrame, on: bool | None, framed: bool, where: str = "sequence_scale") -> pd.DataFrame:
    """``on``: every sequence's numeric features divided by their root mean square over that sequence
    (a ``framed`` feature's offsets f@0 … f@{k−1} together), and the log of it kept as one more feature
    per source feature, f~level, the same at every step: a signal's shape read apart from its size, its
    size read once. For signals whose sizes span orders of magnitude (PLAID's currents, 1e-4 to 460 A),
    which one standardization over the training steps flattens to about 0 for all but the largest."""
    features = feature_columns(df)
    if not on or len(df) == 0 or not features:
        return df
    named = [f for f in features if f.endswith(LEVEL)]
    if named:
        raise DataError(
            f"{where}: feature {named[0]!r} ends in {LEVEL!r}, the name sequence_scale gives a size; rename it"
        )
    sources: dict[str, list[str]] = {}
    for f in features:
        sources.setdefault(source_name(f) if framed else f, []).append(f)
    scaled = df.copy()
    by = df[SEQUENCE_ID]
    for source, columns in sources.items():
        rms = _root_mean_square(df[columns], by)
        if not np.isfinite(rms).all():  # squares overflowed: largest × rms(values / largest) instead
            largest = df[columns].abs().max(axis=1).groupby(by, sort=False).transform("max").replace(0.0, 1.0)
            rms = largest * _root_mean_square(df[columns].div(largest, axis=0), by)
        rms = rms.clip(lower=LEVEL_FLOOR)
        scaled[columns] = df[columns].div(rms, axis=0)
        scaled[f"{source}{LEVEL}"] = np.log(rms)
    columns = list(df.columns)
    after = max(columns.index(f) for f in features) + 1  # the levels follow the last feature
    return scaled[columns[:after] + [f"{source}{LEVEL}" for source in sources] + columns[after:]]


def _root_mean_square(values: pd.DataFrame, by: pd.Series) -> pd.Series:
    """Each row's sequence's root mean square over all its steps and columns."""
    return np.sqrt((values**2).mean(axis=1).groupby(by, sort=False).transform("mean"))


def source_features(features: list[str], framed: bool, scaled: bool) -> list[str]:
    """The source's own feature names behind those a model reads: no f~level, f@j read as f."""
    features = [f for f in features if not (scaled and f.endswith(LEVEL))]
    return unframed(features) if framed else features


def read_steps(
    df: pd.DataFrame, downsampled: int | None, framed: int | None, scaled: bool | None, where: str = "input"
) -> pd.DataFrame:
    """Sequences' steps as a model reads them, in prepare and in serving alike: ``downsample``, then
    ``frame``, then ``sequence_scale`` (``DatasetMeta.reading`` holds the three)."""
    df = frame(downsample(df, downsampled), framed)
    return sequence_scaled(df, scaled, (framed or 1) > 1, where)


def cut(df: pd.DataFrame, settings, kind, where: str = "input") -> pd.DataFrame:
    """Read the steps (``read_steps``), then apply ``max_length`` as the task ``kind`` cuts (its first N
    steps, or N-step pieces)."""
    df = read_steps(df, settings.downsample, settings.frame, settings.sequence_scale, where)
    return df if settings.max_length is None else kind.cut(df, settings.max_length)
