"""train: every (architecture, dataset, seed) of the pipeline, each a Prefect task on the execution
engine (a local Dask cluster, or the one ``execution.address`` names; see rnnlab.execution).

Runs are submitted longest first and trained in long-lived workers; a run finished before with the
same settings, prepared data and code is reused, so when one architecture's settings or one cell's
code changed only the runs that use them train. One line per finished run shows the progress.
A run that fails (a NaN loss, say) fails alone: the others finish, then the stage fails naming it.
The runs folder persists between stage runs and nothing here deletes a run: a seed no longer in
``train.seeds`` stays on disk, unread; studies keep their runs in their own folder (``study_runs/``).
"""

from __future__ import annotations

from prefect import flow, task
from prefect.futures import as_completed

from rnnlab import execution, tracking
from rnnlab.config import load_config, project_root
from rnnlab.errors import RnnlabError, exit_on_user_error
from rnnlab.results import summarize_training


@task(task_run_name="{architecture} on {dataset} (seed {seed})")
def train_run(root: str, architecture: str, dataset: str, seed: int) -> dict:
    return execution.train_in_worker(root, architecture, dataset, seed)


@flow(name="train", log_prints=True)
def train() -> dict:
    root, config = project_root(), load_config()
    tracking.ready_store(
        config, root, config.pipeline.datasets
    )  # tables and experiments made once, before the workers write
    runs = execution.planned_runs(config, root)  # run -> expected fit seconds, the longest first
    workers = 1 if config.trainer.spans_processes() else config.execution.workers
    progress = execution.Progress(len(runs), workers, {str(r): seconds for r, seconds in runs.items()})
    print(f"training {len(runs)} runs ({len(config.pairs())} pairs × {len(config.train.seeds)} seeds)", flush=True)
    futures = {train_run.submit(str(root), r.architecture, r.dataset, r.seed): r for r in runs}
    summaries, failures = {}, []
    try:
        for future in as_completed(list(futures)):
            run = futures[future]
            try:
                summaries[run] = future.result()
                print(progress.line(run, summaries[run]), flush=True)
            except Exception as err:  # one run's failure is reported; the others go on
                message = execution.failure(err)
                failures.append(f"{run}: {message}")
                print(progress.line(run, None, message), flush=True)
    except BaseException:  # Ctrl-C, or the flow itself failing: no run is left RUNNING as if alive
        execution.close_unfinished(config, root, [r for r in runs if r not in summaries])
        raise
    if failures:
        raise RnnlabError(f"train: {len(failures)} of {len(runs)} runs failed — " + "; ".join(failures))
    return summarize_training(root, config, summaries)


@exit_on_user_error
def main() -> None:
    config = load_config()
    train.with_options(task_runner=execution.task_runner(config))()


if __name__ == "__main__":
    main()
