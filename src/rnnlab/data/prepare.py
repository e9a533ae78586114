"""Prepare: validate, split, fit the input encoding on train, write data/prepared/<dataset>/.

Splits. A source's own test split (a ``split`` column) is kept as it is; without one, the test
part is drawn once with the dataset's ``split_seed`` (stratified by label for classification).
The validation part always comes from the training part, so model selection never sees test.
Forecasting splits each series in time instead — train, then validation, then test — and turns
it into windows: the ``window`` steps before step t are the input, the target at t the answer,
so no example reads a value from its own future.

Encoding, fitted on the training split only: numeric features (and a regression's numeric label)
are standardized; symbols get a vocabulary (ids 0 = padding, 1 = <unk>, then by count). Outputs are
staged and moved into place at the end: nothing half-written.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from rnnlab.baselines.forecast import autoregressive_predict, fit_autoregressive, forecast_errors, naive_last_value
from rnnlab.data.store import staged_folder
from rnnlab.data.symbols import INPUT_SPECIALS, TARGET_SPECIALS
from rnnlab.data.table import (
    LABEL,
    SEQUENCE_ID,
    SPEAKER,
    SPLIT,
    STEP,
    TOKEN,
    bit_width,
    feature_columns,
    label_mode,
    speaker_index,
    validate_table,
)
from rnnlab.errors import DataError

# Floor for a feature's standard deviation: a constant feature is centred, not divided by ~0.
MIN_STD = 1e-8
PREPARED_SPLITS = ("train", "val", "test")
SPECIAL_TOKENS = {token: i for i, token in enumerate(INPUT_SPECIALS)}
# More distinct tokens than this share of all training tokens: nearly every token is new, so the
# column holds ids or free text, not symbols — an embedding per value would learn nothing.
RUNAWAY_SHARE = 0.5


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


def split_sequences(raw: pd.DataFrame, settings, where: str) -> dict[str, pd.DataFrame]:
    """train / val / test of whole sequences."""
    stratify = settings.task == "classify"
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
    if settings.task in ("classify", "label_steps"):
        check_classes(parts, where, both_ways=stratify)
    return {k: cut(v.drop(columns=[SPLIT], errors="ignore"), settings) for k, v in parts.items()}


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


def cut(df: pd.DataFrame, settings) -> pd.DataFrame:
    """Apply ``downsample``, then ``max_length``: keep the first N steps, or (language models) cut into
    N-step pieces."""
    df = downsample(df, settings.downsample)
    n = settings.max_length
    if n is None:
        return df
    if settings.task != "language_model":
        return df[df[STEP] < n]
    df = df.assign(**{SEQUENCE_ID: df[SEQUENCE_ID].astype(str) + "#" + (df[STEP] // n).astype(str), STEP: df[STEP] % n})
    return df


# --- forecasting: a split in time, then windows -----------------------------------------------------


def split_forecast(raw: pd.DataFrame, settings, where: str) -> tuple[dict[str, pd.DataFrame], dict]:
    """Windows of ``window`` steps -> the target at the next step, per part; and the baselines'
    test errors (naive last value, AR(p) fit on everything before the test part) on the same steps."""
    target, window = settings.target, settings.window
    parts: dict[str, list[pd.DataFrame]] = {p: [] for p in PREPARED_SPLITS}
    naive, ar, actual = [], [], []
    features = feature_columns(raw)
    for sid, series in raw.sort_values([SEQUENCE_ID, STEP]).groupby(SEQUENCE_ID, sort=False):
        test_start = _test_start(series, settings, where, sid)
        val_start = test_start - int(round(settings.val_fraction * test_start))
        if val_start - window < 1 or test_start >= len(series):
            raise DataError(
                f"{where}: sequence {sid!r} ({len(series)} steps) is too "
                f"short for window {window} with its val and test parts"
            )
        values = series[features].to_numpy(dtype=np.float64)  # (T, D)
        y = series[target].to_numpy(dtype=np.float64)  # (T,)
        for part, (lo, hi) in {
            "train": (window, val_start),
            "val": (val_start, test_start),
            "test": (test_start, len(y)),
        }.items():
            parts[part].append(windows(values, y, features, sid, lo, hi, window))
        coef = fit_autoregressive(y[:test_start], settings.ar_order)
        naive.append(naive_last_value(y, test_start))
        ar.append(autoregressive_predict(y, coef, test_start))
        actual.append(y[test_start:])
    frames = {p: pd.concat(v, ignore_index=True) for p, v in parts.items()}
    frames["train"] = subsample(frames["train"], settings.max_sequences, settings.split_seed)
    truth = np.concatenate(actual)
    baselines = {
        "naive last value": forecast_errors(np.concatenate(naive), truth),
        f"AR({settings.ar_order}), fit before the test part": forecast_errors(np.concatenate(ar), truth),
    }
    return frames, {"test": baselines}


def _test_start(series: pd.DataFrame, settings, where: str, sid) -> int:
    """Index of the first test step: from the split column (which must not go back in time) or the fraction."""
    if SPLIT not in series.columns:
        if settings.test_fraction is None:
            raise DataError(f"{where}: the source has no split column; set test_fraction")
        return len(series) - int(round(settings.test_fraction * len(series)))
    if settings.test_fraction is not None:
        raise DataError(f"{where}: the source has its own split column; set test_fraction: null")
    is_test = (series[SPLIT] == "test").to_numpy()
    start = int(np.argmax(is_test)) if is_test.any() else len(series)
    if not is_test[start:].all():
        back = start + int(np.argmin(is_test[start:]))
        raise DataError(
            f"{where}: sequence {sid!r} goes back from test to train at step {series[STEP].iloc[back]}; a "
            "forecasting split must run forward in time"
        )
    return start


def windows(values: np.ndarray, y: np.ndarray, features: list[str], sid, lo: int, hi: int, window: int) -> pd.DataFrame:
    """One sequence per target step t in [lo, hi): steps t-window..t-1 of every feature, label y_t."""
    targets = np.arange(lo, hi)
    index = targets[:, None] - window + np.arange(window)[None, :]  # (N, W) steps read by each example
    frame = pd.DataFrame(values[index].reshape(-1, len(features)), columns=features)  # (N·W, D)
    frame.insert(0, STEP, np.tile(np.arange(window), len(targets)))
    frame.insert(0, SEQUENCE_ID, np.repeat([f"{sid}@{t:07d}" for t in targets], window))
    frame[LABEL] = np.repeat(y[targets], window)
    return frame


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


def output_vocabulary(train: pd.DataFrame, where: str) -> dict:
    """A seq2seq target's symbols (the label split on whitespace) after <pad>, <unk>, <s>, </s>, most
    frequent first; and the largest (output length + 1) / input length, which bounds greedy decoding."""
    labels = sequence_labels(train).astype(str)
    outputs = labels.str.split()
    empty = outputs.str.len() == 0
    if empty.any():
        raise DataError(
            f"{where}: task seq2seq needs output symbols in 'label'; "
            f"sequence {empty.index[empty.to_numpy()][0]!r} has none"
        )
    counts = Counter(symbol for output in outputs for symbol in output)
    reserved = sorted(set(counts) & set(TARGET_SPECIALS))
    if reserved:
        holder = labels.index[outputs.apply(lambda o: reserved[0] in o).to_numpy()][0]
        raise DataError(
            f"{where}: output symbol {reserved[0]!r} (sequence {holder!r}) is reserved "
            f"({', '.join(TARGET_SPECIALS)}); rename it in 'label'"
        )
    lengths = train.groupby(SEQUENCE_ID).size().loc[labels.index]
    return {
        "classes": list(TARGET_SPECIALS) + sorted(counts, key=lambda t: (-counts[t], t)),
        "max_output_ratio": float(((outputs.str.len() + 1) / lengths).max()),
    }


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
    """Validated train / val / test tables and any baselines measured while splitting."""
    where = f"dataset {name}"
    validate_table(raw, where, label_mode(settings.task))
    check_task_columns(raw, settings, where)
    if settings.task == "regress":
        raw = numeric_label(raw, where)
    if settings.task == "forecast":
        return split_forecast(raw, settings, where)
    parts = split_sequences(raw, settings, where)
    if settings.task == "language_model":  # a one-token piece has no next token to predict
        parts = {k: v[v.groupby(SEQUENCE_ID)[STEP].transform("size") > 1] for k, v in parts.items()}
    return parts, {}


def numeric_label(raw: pd.DataFrame, where: str) -> pd.DataFrame:
    """A regression's label as float64 (numbers written as text, e.g. from a CSV column of mixed
    rows, are read as numbers); anything else is named. validate_table has ruled out missing labels."""
    values = pd.to_numeric(raw[LABEL], errors="coerce")
    if values.isna().any():
        raise DataError(
            f"{where}: task regress needs a numeric label; column 'label' holds {raw[LABEL][values.isna()].iloc[0]!r}"
        )
    return raw.assign(**{LABEL: values.astype(np.float64)})


def check_task_columns(raw: pd.DataFrame, settings, where: str) -> None:
    if settings.task == "language_model" and TOKEN not in raw.columns:
        raise DataError(
            f"{where}: task language_model needs a 'token' column (columns: {', '.join(map(str, raw.columns))})"
        )
    if settings.task == "forecast":
        if settings.target not in feature_columns(raw):
            raise DataError(
                f"{where}: forecast target column {settings.target!r} is not a numeric feature column (columns: "
                f"{', '.join(map(str, raw.columns))})"
            )
        if settings.ar_order > settings.window:
            raise DataError(f"{where}: ar_order {settings.ar_order} is longer than the window {settings.window}")


def finalize(
    splits: dict[str, pd.DataFrame], name: str, settings, baselines: dict
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Normalized splits and the dataset's meta (task, inputs, classes or vocabulary, length stats)."""
    where = f"dataset {name}"
    splits, parties = party_indices(splits, settings.speakers, where)
    train = splits["train"]
    normalizer = fit_normalizer(train)
    vocabulary = fit_vocabulary(train, settings.tokens, where)
    meta = {
        "dataset": name,
        "task": settings.task,
        "features": feature_columns(train),
        "vocabulary": vocabulary,
        "num_features": settings.tokens.embedding_size if vocabulary else len(feature_columns(train)) + parties,
        "parties": parties,  # > 0: a dialogue; the speaker one-hot (P columns) follows the features
        "normalizer": normalizer,
        "lengths": {k: length_stats(v) for k, v in splits.items()},
        "seed": settings.split_seed,
        "baselines": baselines,
    }
    if settings.task == "language_model":
        meta["classes"] = vocabulary
    elif settings.task == "forecast":
        i = meta["features"].index(settings.target)
        meta["target"] = settings.target
        meta["target_scale"] = {"mean": normalizer["mean"][i], "std": normalizer["std"][i]}
        meta["target_signed"] = bool((train[LABEL] < 0).any() and (train[LABEL] > 0).any())
        meta["classes"] = []
    elif settings.task == "regress":  # the label is standardized like a feature; metrics undo it
        values = sequence_labels(train).to_numpy(dtype=np.float64)
        meta["target"] = LABEL
        meta["target_scale"] = {"mean": float(values.mean()), "std": float(max(values.std(), MIN_STD))}
        meta["target_signed"] = bool((values < 0).any() and (values > 0).any())
        meta["classes"] = []
    elif settings.task == "label_bits":  # one sigmoid per bit
        meta["classes"] = [f"bit_{j}" for j in range(bit_width(train[LABEL], where))]
        for part, table in splits.items():
            if (width := bit_width(table[LABEL], f"{where}: {part}")) != len(meta["classes"]):
                raise DataError(f"{where}: {part} labels have {width} bits, the training labels {len(meta['classes'])}")
    elif settings.task == "seq2seq":
        meta.update(output_vocabulary(train, where))
        meta["target_embedding_size"] = settings.target_embedding_size
    else:
        meta["classes"] = sorted(train[LABEL].astype(str).unique())
    meta["num_classes"] = len(meta["classes"])
    return {k: normalize(v, normalizer, meta.get("target_scale")) for k, v in splits.items()}, meta


def prepare(raw: pd.DataFrame, name: str, settings) -> tuple[dict[str, pd.DataFrame], dict]:
    """The whole prepare step in one call (the prepare flow runs the same pieces as tasks)."""
    splits, baselines = split(raw, name, settings)
    return finalize(splits, name, settings, baselines)


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
