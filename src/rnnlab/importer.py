"""``rnnlab import``: a user's CSV or Parquet file becomes a DVC-tracked dataset in params.yaml.

The file is in the canonical long format (one row per step: ``sequence_id``, ``step``, feature
columns or a ``token`` column, the target; optional ``split`` = train/test and ``speaker`` for
dialogues) — or conv-emotion's IEMOCAP/MELD feature pickle, read into that shape. Import checks it the
way the pipeline will — the table, then the split and the vocabulary the prepare step would fit —
and only then writes ``data/raw/<name>/table.parquet``, tracks it with ``dvc add``, adds the
dataset to params.yaml (comments kept) and to ``pipeline.datasets`` (there, and in an active profile
that sets that list), and rewrites plan.yaml. The next ``make pipeline`` trains every compatible
architecture on it. A failure at any point leaves
the project as it was.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from rnnlab import files, params_file
from rnnlab.config import (
    DATASET_MODELS,
    IMPORTED,
    PARAMS_FILE,
    PROFILE_KEY,
    PROFILES_DIR,
    check_name,
    load_config,
    profile_names,
    read_yaml,
)
from rnnlab.data import prepare as steps
from rnnlab.data.sources.dialogue import read_feature_pickle
from rnnlab.data.store import TABLE_FILE, write_table
from rnnlab.data.table import LABEL, SPEAKER, SPLIT, TOKEN, validate_table
from rnnlab.errors import ConfigError, DataError
from rnnlab.kinds import KINDS
from rnnlab.lock import project_lock
from rnnlab.paths import raw_dir
from rnnlab.plan import EFFECTIVE_FILE, PLAN_FILE, write_plan

# .pkl: the feature files of the public DialogueRNN code (IEMOCAP, MELD), read into a dialogue table
READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pkl": read_feature_pickle}


def read_file(path: Path) -> pd.DataFrame:
    if path.suffix.lower() not in READERS:
        raise DataError(
            f"{path}: rnnlab import reads .csv, .parquet or conv-emotion's .pkl feature files, got "
            f"{path.suffix or 'no extension'!r}"
        )
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    # In a CSV only an empty cell is missing: "NA", "None", "null", "nan" are tokens or class names like any other.
    options = {"keep_default_na": False, "na_values": [""]} if path.suffix.lower() == ".csv" else {}
    try:
        table = READERS[path.suffix.lower()](path, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except Exception as err:
        raise DataError(f"{path}: cannot be read as {path.suffix[1:]}: {str(err).splitlines()[0]}") from None
    unnamed = [c for c in table.columns if str(c).startswith("Unnamed: ")]  # pandas' name for an empty header cell
    if unnamed:
        raise DataError(
            f"{path}: column {unnamed[0]!r} has no name in the header (pandas' index, written by to_csv without "
            f"index=False?) and would become a feature; drop it or name it"
        )
    return table


def canonical(table: pd.DataFrame, task: str, target: str, where: str) -> pd.DataFrame:
    """The user's target column under the canonical name its task kind reads (``label`` for labels,
    ``token`` for a language model); a forecast target stays a feature column (the model reads its past
    values). Labels that are names are read as text; the kind checks what it needs of them."""
    if target not in table.columns:
        raise DataError(
            f"{where}: target column {target!r} does not exist (columns: {', '.join(map(str, table.columns))})"
        )
    kind = KINDS[task]
    renamed = kind.label_column
    if renamed and target != renamed:
        if renamed in table.columns:
            raise DataError(f"{where}: has a {renamed!r} column and the target {target!r}; which one is the target?")
        table = table.rename(columns={target: renamed})
    if renamed == LABEL and kind.labels_are_names:
        table[LABEL] = table[LABEL].astype(str).where(table[LABEL].notna())
    kind.check_imported(table, target, where)
    return table


def dataset_entry(task: str, target: str, table: pd.DataFrame, window: int) -> dict:
    """The new dataset's params.yaml entry: every key written out, for the user to tune."""
    entry = {
        "source": IMPORTED,
        "task": task,
        "val_fraction": 0.2,
        "test_fraction": None if SPLIT in table.columns else 0.2,
        "max_sequences": None,
        "max_length": None,
        "split_seed": 0,
        "tokens": {"embedding_size": 32, "min_count": 1, "max_vocabulary": 10000} if TOKEN in table.columns else None,
        "train": {},
    }
    if SPEAKER in table.columns:
        entry["speakers"] = True  # a dialogue: models read who speaks each utterance
    return entry | KINDS[task].import_entry(target, table, window)


def import_file(root: Path, path: Path, name: str, task: str, target: str, window: int) -> dict:
    """Validate ``path``, write and track it, add it to params.yaml. Returns the prepared meta of a dry run.

    Holds the project lock (another import, a profile or the pipeline wait their turn). Written in an
    order where params.yaml is last: a kill before it leaves params.yaml as it was, and the retry
    goes through (it rewrites the table a killed import left). A folder at data/raw/<name> holding
    anything else is refused, never replaced; a failure removes only what this import created.
    """
    root, path = Path(root), Path(path)
    if task not in DATASET_MODELS:
        raise ConfigError(f"--task {task!r}: unknown task (allowed: {', '.join(DATASET_MODELS)})")
    check_name(name, "--name")
    with project_lock(root, f"rnnlab import --name {name}"):
        config = load_config(root / PARAMS_FILE)
        if name in config.datasets:
            raise ConfigError(f"--name {name!r}: a dataset of that name is already in {PARAMS_FILE}")
        folder = raw_dir(root, name)
        foreign = sorted(p.name for p in folder.iterdir() if p.name != TABLE_FILE) if folder.is_dir() else []
        if foreign or (folder.exists() and not folder.is_dir()):
            raise ConfigError(
                f"--name {name!r}: {folder.relative_to(root)} already exists and holds files rnnlab did not write "
                f"({', '.join(foreign[:3]) or 'not a folder'}); move it or choose another name"
            )
        where = str(path)
        table = canonical(read_file(path), task, target, where)
        validate_table(table, where, KINDS[task].label_mode)
        entry = dataset_entry(task, target, table, window)
        settings = DATASET_MODELS[task].model_validate(entry)
        # what prepare will do (splits, classes, vocabulary): fails here, naming the file
        _, meta = steps.prepare(table, where, settings, references=False)
        _write(root, table, name, entry)
    return meta


def _write(root: Path, table: pd.DataFrame, name: str, entry: dict) -> None:
    """Write the table, track it, list it in params.yaml (and in every active profile that sets the
    pipeline's datasets, which would hide it) and in plan.yaml; any failure puts every file back."""
    edited = [root / PARAMS_FILE, root / PLAN_FILE, root / EFFECTIVE_FILE, *_active_profiles(root)]
    before = {path: path.read_text() if path.is_file() else None for path in edited}
    folder = raw_dir(root, name)
    pointer = folder.with_name(f"{name}.dvc")
    created = [p for p in (folder, pointer) if not p.exists()]
    try:
        write_table(table, folder)
        _dvc_add(root, folder)
        _add_to_params(root, name, entry)
        write_plan(root, load_config(root / PARAMS_FILE))
    except BaseException:
        for path, text in before.items():
            if text is not None:
                files.write_text(path, text)
        for made in created:
            if made.is_dir():
                shutil.rmtree(made, ignore_errors=True)
            else:
                made.unlink(missing_ok=True)
        raise


def _active_profiles(root: Path) -> list[Path]:
    names = profile_names(read_yaml(root / PARAMS_FILE).get(PROFILE_KEY), root / PROFILES_DIR)
    return [root / PROFILES_DIR / f"{n}.yaml" for n in names]


def _add_to_params(root: Path, name: str, entry: dict) -> None:
    """The dataset's entry and its name under pipeline.datasets in params.yaml; its name also in the
    pipeline list of each active profile that replaces that list (so the next make pipeline trains it)."""
    params = params_file.load(root / PARAMS_FILE)
    params["datasets"][name] = entry
    params["pipeline"]["datasets"].append(name)
    files.write_text(root / PARAMS_FILE, params_file.dump(params))
    for path in _active_profiles(root):
        overlay = params_file.load(path)
        listed = (overlay.get("pipeline") or {}).get("datasets")
        if listed is not None and name not in listed:
            listed.append(name)
            files.write_text(path, params_file.dump(overlay))


def _dvc_add(root: Path, folder: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "add", str(folder.relative_to(root))], cwd=root, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise DataError(
            f"dvc add {folder.relative_to(root)} failed: {(result.stderr or result.stdout).strip().splitlines()[-1]}"
        )
