"""prepare@<dataset>: validate, split, fit the normalizer on train, write data/prepared/<dataset>/."""

from __future__ import annotations

import argparse

import pandas as pd
from prefect import flow, task

from rnnlab.baselines.references import measure_references
from rnnlab.config import load_config, project_root
from rnnlab.data import prepare as steps
from rnnlab.data.store import read_table
from rnnlab.errors import exit_on_user_error
from rnnlab.paths import prepared_dir, raw_dir


@task
def load(dataset: str) -> pd.DataFrame:
    return read_table(raw_dir(project_root(), dataset))


@task
def validate_and_split(raw: pd.DataFrame, dataset: str) -> tuple[dict[str, pd.DataFrame], dict]:
    return steps.split(raw, dataset, load_config().dataset(dataset))


@task
def encode_on_train(
    splits: dict[str, pd.DataFrame], dataset: str, baselines: dict
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Fit the normalizer or vocabulary on the training split; apply it to every split."""
    return steps.finalize(splits, dataset, load_config().dataset(dataset), baselines)


@task
def reference_baselines(splits: dict[str, pd.DataFrame], meta: dict, dataset: str) -> dict:
    """Non-recurrent references measured on this very split (n-gram, logistic regression, ...)."""
    return measure_references(splits, meta, load_config().dataset(dataset))


@task
def write(splits: dict[str, pd.DataFrame], meta: dict, dataset: str) -> dict:
    steps.write_prepared(prepared_dir(project_root(), dataset), splits, meta)
    return meta


@flow(name="prepare", log_prints=True)
def prepare(dataset: str) -> dict:
    splits, baselines = validate_and_split(load(dataset), dataset)
    encoded, meta = encode_on_train(splits, dataset, baselines)
    for part, results in reference_baselines(encoded, meta, dataset).items():
        meta["baselines"].setdefault(part, {}).update(results)
    meta = write(encoded, meta, dataset)
    print(
        f"{dataset} ({meta['task']}): "
        + ", ".join(
            f"{k} {v['sequences']} sequences (length {v['min']}–{v['max']})" for k, v in meta["lengths"].items()
        )
    )
    for name, metrics in meta["baselines"].get("test", {}).items():
        print(f"  test baseline {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return meta


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    prepare(parser.parse_args().dataset)


if __name__ == "__main__":
    main()
