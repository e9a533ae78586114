"""prepare@<dataset>: validate, split, fit the normalizer on train, write data/prepared/<dataset>/."""

from __future__ import annotations

import argparse

import pandas as pd
from prefect import flow, task

from rnnlab.config import load_config, project_root
from rnnlab.data import prepare as steps
from rnnlab.data.store import read_table
from rnnlab.errors import exit_on_user_error
from rnnlab.paths import prepared_dir, raw_dir

@task
def load(dataset: str) -> pd.DataFrame:
    return read_table(raw_dir(project_root(), dataset))


@task
def validate_and_split(raw: pd.DataFrame, dataset: str, val_fraction: float, max_sequences: int | None, seed: int) -> dict[str, pd.DataFrame]:
    return steps.split(raw, dataset, val_fraction, max_sequences, seed)


@task
def fit_normalizer(train: pd.DataFrame) -> dict:
    return steps.fit_normalizer(train)


@task
def write(splits: dict[str, pd.DataFrame], normalizer: dict, dataset: str, task_kind: str, seed: int) -> dict:
    normalized, meta = steps.finalize(splits, normalizer, dataset, task_kind, seed)
    steps.write_prepared(prepared_dir(project_root(), dataset), normalized, meta)
    return meta


@flow(name="prepare", log_prints=True)
def prepare(dataset: str) -> dict:
    settings = load_config().dataset(dataset)
    splits = validate_and_split(load(dataset), dataset, settings.val_fraction, settings.max_sequences, settings.split_seed)
    meta = write(splits, fit_normalizer(splits["train"]), dataset, settings.task, settings.split_seed)
    print(f"{dataset}: " + ", ".join(f"{k} {v['sequences']} sequences (length {v['min']}–{v['max']})" for k, v in meta["lengths"].items()))
    return meta


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    prepare(parser.parse_args().dataset)


if __name__ == "__main__":
    main()
