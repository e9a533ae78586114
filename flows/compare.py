"""compare: evaluate every trained run on its test split, write reports/, promote champions."""

from __future__ import annotations

from prefect import flow, task

from rnnlab import compare as steps
from rnnlab.config import load_config, project_root
from rnnlab.errors import exit_on_user_error


@task
def evaluate(dataset: str, architecture: str, seed: int) -> dict:
    return steps.evaluate_test(load_config(), project_root(), dataset, architecture, seed)


@task
def champion(dataset: str, best_row: dict) -> dict:
    return steps.promote_champion(load_config(), project_root(), dataset, best_row)


@task
def reports(tables: dict, champions: dict) -> str:
    return str(steps.write_reports(project_root(), tables, champions))


@flow(name="compare", log_prints=True)
def compare() -> str:
    config = load_config()
    tables, champions = {}, {}
    for dataset in config.pipeline.datasets:
        runs = [evaluate(dataset, arch, seed) for arch in config.pipeline.architectures for seed in config.train.seeds]
        tables[dataset] = steps.aggregate(runs, config.dataset(dataset).task)
        champions[dataset] = champion(dataset, tables[dataset][0])
        best = tables[dataset][0]
        print(f"{dataset}: champion {best['architecture']} (val accuracy {best['best_val_accuracy']:.4f}, test accuracy {best['test_accuracy']:.4f})")
    path = reports(tables, champions)
    print(f"leaderboard: {path}")
    return path


@exit_on_user_error
def main() -> None:
    compare()


if __name__ == "__main__":
    main()
