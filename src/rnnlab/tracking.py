"""MLflow conventions: where runs go, how they are named and tagged, and what they carry.

- One experiment per dataset, ``rnnlab/<dataset>``; one run per (architecture, dataset, seed).
- Default store: a sqlite database and an artifact folder at absolute paths inside the project
  (``mlflow/``, git-ignored), so runs from any process — DVC stages, DDP ranks, tests — meet.
- Tags: architecture, architecture type, dataset, seed, git commit, the hash of the prepared data.
- The same metric names across architectures (``val_loss``, ``val_accuracy``, ``test_accuracy``…),
  so MLflow's compare view lines them up; :func:`metric_history` reads a run's curves back in step order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

from rnnlab.config import Config

EXPERIMENT_PREFIX = "rnnlab/"
# pip requirements recorded with logged models: listing them skips MLflow's slow inference (8 s -> 0.04 s).
MODEL_REQUIREMENTS_PACKAGES = ("torch", "mlflow", "numpy", "pandas")


def tracking_uri(config: Config, root: Path) -> str:
    if config.tracking.tracking_uri:
        return config.tracking.tracking_uri
    return f"sqlite:///{(root / 'mlflow' / 'mlflow.db').resolve()}"


def artifact_root(config: Config, root: Path) -> str:
    if config.tracking.artifact_root:
        return config.tracking.artifact_root
    return (root / "mlflow" / "artifacts").resolve().as_uri()


def prepare_store(config: Config, root: Path) -> str:
    """Create the default local store's folder if needed; return the tracking URI."""
    uri = tracking_uri(config, root)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return uri


def ready_store(config: Config, root: Path, datasets: list[str]) -> str:
    """The store with its tables and the datasets' experiments made, by this one process, before
    several workers write to it (two processes migrating or creating one experiment at once collide)."""
    import mlflow

    uri = prepare_store(config, root)
    client = mlflow.MlflowClient(uri)
    for dataset in datasets:
        ensure_experiment(client, config, root, dataset)
    return uri


CHAMPION_ALIAS = "champion"  # the registry alias of a dataset's champion version
MODEL_PREFIX = "rnnlab-"


def registered_model_name(dataset: str) -> str:
    return f"{MODEL_PREFIX}{dataset}"


def experiment_name(dataset: str) -> str:
    return f"{EXPERIMENT_PREFIX}{dataset}"


def experiment_artifacts(config: Config, root: Path, dataset: str) -> str:
    return f"{artifact_root(config, root)}/{dataset}"


# MLflow's UI opens an experiment on the view its kind names; without it, MLflow 3 opens the GenAI
# traces page. Training runs belong in the model-development view (runs, metrics, charts).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# MLflow 3.17's UI picks its GenAI or model-training pages from the ``workflowType`` of the address (then
# from what the browser last chose), whatever the experiment's kind; rnnlab's addresses ask for training.
UI_VIEW = "/#/experiments?workflowType=machine_learning"
# A saved view of the runs table (MLflow reads experiment tags ``mlflow.sharedViewState.<key>`` and opens one
# with ``?viewStateShareKey=<key>``): the training runs only, as columns their architecture, seed, validation
# selection metric, headline test metric, fit seconds and parameters, best validation first. Sorted by a
# metric, the table lists runs flat; the page without the view nests each study's trials under its parent.
COMPARISON_VIEW = "rnnlab"


def comparison_view(task: str) -> str:
    """The tag value of the comparison view for an experiment of ``task``'s runs."""
    from rnnlab.kinds import KINDS

    kind = KINDS[task]
    metric = f"metrics.`best_val_{kind.selection_metric}`"
    columns = [
        "tags.`architecture`",
        "tags.`seed`",
        metric,
        f"metrics.`test_{kind.selection_metric}`",
        "metrics.`train_time_s`",
        "metrics.`num_params`",
    ]
    state = {
        "searchFilter": "tags.`rnnlab.kind` = 'training'",
        "orderByKey": metric,
        "orderByAsc": not kind.greater_is_better,
        "selectedColumns": columns,
        "columnOrder": columns,  # in this order, after the run's name and start
    }
    return json.dumps({"name": "rnnlab: training runs", "createdAt": 0, "updatedAt": 0, "state": json.dumps(state)})


def comparison_url(base: str, experiment_id: str) -> str:
    """Where a person opens the comparison of one experiment's training runs."""
    return (
        f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning&viewStateShareKey={COMPARISON_VIEW}"
    )


def ensure_experiment(client, config: Config, root: Path, dataset: str) -> str:
    """Experiment id for ``dataset``, created with its artifact location and ``EXPERIMENT_KIND`` on first use.

    A deleted experiment (``mlflow experiments delete``, the UI's delete) still holds its name, and MLflow
    creates no runs in it; it is restored, runs and artifacts as they were, and one line on stderr says so.
    """
    import sys

    name = experiment_name(dataset)
    tags = dict(EXPERIMENT_KIND)
    if dataset in config.datasets:  # a dataset's runs (a study's experiment, ``study-NAME``, has its report)
        tags[f"mlflow.sharedViewState.{COMPARISON_VIEW}"] = comparison_view(config.datasets[dataset].task)
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "deleted":
        client.restore_experiment(found.experiment_id)
        print(
            f"rnnlab: MLflow experiment {name!r} (id {found.experiment_id}) was deleted: restored it to log this run "
            "(to start it afresh, delete it and purge it with `mlflow gc`)",
            file=sys.stderr,
        )
    if found is not None:
        for key, value in tags.items():
            # a kind chosen in the UI is kept; rnnlab's view follows its task (a person's views have other keys)
            if key not in found.tags or (key not in EXPERIMENT_KIND and found.tags[key] != value):
                client.set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    return client.create_experiment(name, artifact_location=experiment_artifacts(config, root, dataset), tags=tags)


# What the pipeline itself rewrites: a difference here says nothing about the code or params a run used.
PIPELINE_OUTPUTS = ("dvc.lock", "plan.yaml", "params.effective.yaml", "reports")


def changed_sources(root: Path) -> list[str] | None:
    """Tracked files that differ from the commit, the pipeline's own outputs left out (None: not a git
    checkout). Non-empty means the code, the params or the data pointers differ from the commit."""
    excluded = [f":(exclude){path}" for path in PIPELINE_OUTPUTS]
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]


def git_commit(root: Path) -> str:
    """The commit the project is at, with ``-dirty`` when code or params differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() + ("-dirty" if changed_sources(root) else "")


def dvc_output_md5(root: Path, stage: str, path: str) -> str | None:
    """md5 that dvc.lock records for ``path`` as an output of ``stage`` (None if not locked yet)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stat = lock.stat()
    for out in _locked_stages(str(lock), stat.st_mtime_ns, stat.st_size).get(stage, {}).get("outs", []):
        if out.get("path") == path:
            return out.get("md5")
    return None


@functools.lru_cache(maxsize=2)
def _locked_stages(path: str, mtime_ns: int, size: int) -> dict:
    """dvc.lock's stages, parsed once per version of the file (a worker tags many runs while it stays the same;
    the pipeline's lock is a few hundred kB: the C parser, 0.06 s against 0.4 s for the pure-Python one)."""
    return (yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader) or {}).get("stages", {})


def folder_sha256(folder: Path) -> str:
    """Content hash of every file in ``folder`` (names and bytes), independent of DVC."""
    digest = hashlib.sha256()
    for file in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def run_tags(
    config: Config,
    root: Path,
    architecture: str,
    dataset: str,
    seed: int,
    prepared: Path,
    data_sha256: str,
    kind: str = "training",
) -> dict[str, str]:
    """A training run's tags; ``kind`` (``rnnlab.kind``): "training" for the pipeline's runs (what the
    comparison view lists), "study" for a study's or a benchmark's own, "trial" for a tuning trial's,
    "confirmation" for a tuning trial's settings trained again with more seeds."""
    prepared_rel = prepared.resolve().relative_to(root.resolve()).as_posix()
    return {
        "rnnlab.kind": kind,
        "architecture": architecture,
        "architecture_type": config.architecture(architecture, dataset).type,
        "dataset": dataset,
        "task": config.dataset(dataset).task,
        "seed": str(seed),
        "git_commit": git_commit(root),
        "data_dvc_md5": dvc_output_md5(root, f"prepare@{dataset}", prepared_rel) or "not-locked",
        "data_sha256": data_sha256,
    }


def run_params(config: Config, architecture: str, dataset: str) -> dict[str, str]:
    """Flattened params for MLflow: the architecture's, the dataset's and training's."""
    sections = {
        "arch": config.architecture(architecture, dataset).model_dump(),
        "data": config.dataset(dataset).model_dump(),
        "train": config.train_for(dataset, architecture).model_dump(),
    }
    return {
        f"{section}.{key}": json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        for section, values in sections.items()
        for key, value in values.items()
    }


def metric_history(client, run_id: str, names: Iterable[str]) -> dict[str, list[float]]:
    """Each named metric of the run as its values in step order (an empty list for one never logged)."""
    return {
        name: [m.value for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)] for name in names
    }


def logged_steps(client, run_id: str) -> set[tuple[str, int]]:
    """Every (metric, step) the run holds a value for."""
    return {
        (m.key, m.step) for key in client.get_run(run_id).data.metrics for m in client.get_metric_history(run_id, key)
    }


def run_status(client, run_id: str) -> str | None:
    """The run's status (RUNNING, FINISHED, KILLED, ...), or None where the store holds no such run (a folder
    can outlive the MLflow store it was logged to) or holds it deleted."""
    import mlflow

    try:
        info = client.get_run(run_id).info
        return info.status if info.lifecycle_stage == "active" else None
    except mlflow.exceptions.MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
