"""compare: evaluate every trained run on its test split, decide the champions, write reports/, then
move the champion aliases (last, so a crash never leaves an alias moved that the reports do not show).

The test evaluations fan out over the train stage's execution engine (rnnlab.execution: a local Dask
cluster, or the scheduler ``execution.address`` names; in this process where the engine is one local
worker), all submitted at once; each dataset's decisions, pictures and records then follow in order in
this process, as its evaluations arrive."""

from __future__ import annotations

from prefect import flow, task

from rnnlab import compare as steps
from rnnlab import execution
from rnnlab.config import load_config, project_root
from rnnlab.errors import exit_on_user_error


@task
def evaluate(dataset: str, architecture: str, seed: int) -> dict:
    return steps.evaluate_test(load_config(), project_root(), dataset, architecture, seed)


@task
def champion(dataset: str, candidate: dict) -> dict:
    decision = steps.decide_champion(load_config(), project_root(), dataset, candidate)
    return steps.register_candidate(load_config(), project_root(), decision)


@task
def promote(decision: dict) -> None:
    steps.move_alias(load_config(), project_root(), decision)


@task
def figures(dataset: str, rows: list[dict]) -> list:
    return steps.dataset_figures(load_config(), project_root(), dataset, rows)


@task
def record(dataset: str, rows: list[dict], decision: dict, files: list) -> str:
    return steps.log_comparison(load_config(), project_root(), dataset, rows, decision, files)


@task
def yardsticks(dataset: str) -> list[dict]:
    return steps.dataset_yardsticks(project_root(), load_config(), dataset)


@task
def reports(tables: dict, decisions: dict, figure_files: dict, references: dict) -> str:
    return str(steps.write_reports(project_root(), tables, decisions, figure_files, references))


@flow(name="compare", log_prints=True)
def compare() -> str:
    config = load_config()
    tables, decisions, figure_files, references = {}, {}, {}, {}
    evaluations = {
        dataset: [
            evaluate.submit(dataset, arch, seed)
            for arch in config.architectures_for(dataset)
            for seed in config.train.seeds
        ]
        for dataset in config.pipeline.datasets
    }
    for dataset, futures in evaluations.items():
        runs = [future.result() for future in futures]
        rows = tables[dataset] = steps.aggregate(runs, config.dataset(dataset).task)
        tuning = steps.tuning_seconds(config, project_root(), dataset)
        for row in rows:  # the cost of the pair's settings, beside its fit and whole-run seconds
            row["tuning_time_s"] = tuning.get(row["architecture"])
        decisions[dataset] = champion(dataset, rows[0])
        figure_files[dataset] = figures(dataset, rows)
        references[dataset] = yardsticks(dataset)
        record(dataset, rows, decisions[dataset], figure_files[dataset])
        metric = steps.KINDS[rows[0]["task"]].selection_metric
        print(
            f"{dataset}: candidate {rows[0]['architecture']} (val {metric} {rows[0]['best_val_' + metric]:.4f}); "
            f"champion {'promoted' if decisions[dataset]['promoted'] else 'kept'}: {decisions[dataset]['reason']}"
        )
    path = reports(tables, decisions, figure_files, references)
    for decision in decisions.values():
        promote(decision)
    print(f"leaderboard: {path}")
    return path


@exit_on_user_error
def main() -> None:
    compare.with_options(task_runner=execution.task_runner(load_config(), short_tasks=True))()


if __name__ == "__main__":
    main()
