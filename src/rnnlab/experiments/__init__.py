"""Studies that show what an architecture is for: ``rnnlab experiment NAME`` (``make experiment NAME=...``).

A study is a file ``studies/<name>.yaml``: datasets × architectures × seeds, and the analysis its
report runs (``analysis:``, a key of ``ANALYSES``).
It trains like the pipeline (see :mod:`rnnlab.experiments.runner`), then writes
``reports/experiments/<name>.md`` with its figures beside it, and logs the report, the figures and
its headline numbers as one MLflow run in the experiment ``rnnlab/study-<name>``.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import mlflow

from rnnlab import files, tracking
from rnnlab.config import Config
from rnnlab.errors import ConfigError
from rnnlab.experiments import augmented, dialogue, programs, studies
from rnnlab.experiments.runner import run_study
from rnnlab.paths import reports_dir

ANALYSES = {
    **studies.ANALYSES,
    **augmented.ANALYSES,
    **dialogue.ANALYSES,
    **programs.ANALYSES,
}  # a study's `analysis:` -> the function that writes its report (none: the task's test metrics)


def run_experiment(config: Config, root: Path, name: str) -> Path:
    """Run study ``name``; returns the report's path."""
    if name not in config.experiments:
        raise ConfigError(
            f"study {name!r}: no file studies/{name}.yaml (studies: {', '.join(config.experiments) or 'none'})"
        )
    spec = config.experiments[name]
    if spec.analysis is not None and spec.analysis not in ANALYSES:
        raise ConfigError(
            f"studies/{name}.yaml: study.analysis = {spec.analysis!r}: unknown analysis "
            f"(allowed: {', '.join(ANALYSES)}; none for the task's test metrics)"
        )
    runs = run_study(config, root, name)
    folder = reports_dir(root) / "experiments" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    analyse = ANALYSES[spec.analysis] if spec.analysis is not None else studies.generic
    body, figures, metrics = analyse(config, root, name, runs, folder)
    command = f"rnnlab experiment {name}"
    report = folder.parent / f"{name}.md"
    files.write_text(
        report,
        f"# Study: {name}\n\n"
        f"`{command}` (settings: studies/{name}.yaml and the entries of params.yaml it names); "
        f"commit {tracking.git_commit(root)}, {datetime.now(UTC):%Y-%m-%d %H:%M} "
        f"UTC. {len(runs)} runs: {', '.join(spec.architectures)} on {', '.join(spec.datasets)}, "
        f"seeds {', '.join(map(str, spec.seeds))}; {sum(r.reused for r in runs)} reused from an "
        "earlier identical run. Test split; models chosen on validation only.\n\n" + body + "\n",
    )
    _log(config, root, name, report, figures, metrics, runs)
    return report


def _log(config: Config, root: Path, name: str, report: Path, figures: list[Path], metrics: dict, runs) -> None:
    uri = tracking.prepare_store(config, root)
    client = mlflow.MlflowClient(uri)
    experiment_id = tracking.ensure_experiment(client, config, root, f"study-{name}")
    spec = config.experiments[name]
    run = client.create_run(
        experiment_id, run_name=name, tags={"git_commit": tracking.git_commit(root), "rnnlab.study": name}
    )
    for key, value in {"datasets": spec.datasets, "architectures": spec.architectures, "seeds": spec.seeds}.items():
        client.log_param(run.info.run_id, key, ",".join(map(str, value)))
    client.log_param(run.info.run_id, "training_runs", ",".join(r.summary["run_id"] for r in runs))
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    for path in [report, *figures]:
        client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
