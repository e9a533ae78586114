"""ingest@<dataset>: source -> canonical sequence table at data/raw/<dataset>/table.parquet."""

from __future__ import annotations

import argparse

import pandas as pd
from prefect import flow, task

from rnnlab.config import load_config, project_root
from rnnlab.data import sources, store
from rnnlab.errors import exit_on_user_error
from rnnlab.paths import raw_dir


@task
def load_source(dataset: str) -> pd.DataFrame:
    """The source's table, validated as the dataset's task kind reads it."""
    return sources.ingest(dataset, load_config().dataset(dataset))


@task
def write(table: pd.DataFrame, dataset: str) -> str:
    return str(store.write_table(table, raw_dir(project_root(), dataset)))


@flow(name="ingest", log_prints=True)
def ingest(dataset: str) -> str:
    table = load_source(dataset)
    path = write(table, dataset)
    print(f"{dataset}: {table['sequence_id'].nunique()} sequences, {len(table)} steps -> {path}")
    return path


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    ingest(parser.parse_args().dataset)


if __name__ == "__main__":
    main()
