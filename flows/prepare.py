"""prepare@<dataset>: validate, split, fit the normalizer on train, write data/prepared/<dataset>/."""

from __future__ import annotations

import argparse

import pandas as pd
from prefect import flow, task

from rnnlab.config import load_config, project_root
from rnnlab.data import prepare as steps
from rnnlab.data.meta import DatasetMeta
from rnnlab.data.store import read_table
from rnnlab.errors import exit_on_user_error
from rnnlab.paths import prepared_dir, raw_dir


@task
def load(dataset: str) -> pd.DataFrame:
    return read_table(raw_dir(project_root(), dataset))


@task
def prepare_splits(raw: pd.DataFrame, dataset: str) -> tuple[dict[str, pd.DataFrame], DatasetMeta]:
    """Validate, split, fit the encoding on train, measure the references on the same split."""
    return steps.prepare(raw, dataset, load_config().dataset(dataset))


@task
def write(splits: dict[str, pd.DataFrame], meta: DatasetMeta, dataset: str) -> DatasetMeta:
    steps.write_prepared(prepared_dir(project_root(), dataset), splits, meta)
    return meta


@flow(name="prepare", log_prints=True)
def prepare(dataset: str) -> DatasetMeta:
    encoded, meta = prepare_splits(load(dataset), dataset)
    meta = write(encoded, meta, dataset)
    print(
        f"{dataset} ({meta.task}): "
        + ", ".join(f"{k} {v['sequences']} sequences (length {v['min']}–{v['max']})" for k, v in meta.lengths.items())
    )
    for name, metrics in meta.baselines.get("test", {}).items():
        print(f"  test baseline {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return meta


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    prepare(parser.parse_args().dataset)


if __name__ == "__main__":
    main()
