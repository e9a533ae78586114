"""train@<architecture>-<dataset>: one training process per seed, then the stage's metrics file.

Training runs in its own process (``python -m rnnlab.train``): Lightning's DDP re-launches the
command that started it for each extra rank, and that must never be this flow.

The runs folder persists between stage runs (an interrupted training resumes from it). Nothing
here deletes a run: a seed no longer in ``train.seeds`` stays on disk, unread; studies keep their
runs in their own folder (``study_runs/``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from prefect import flow, task

from rnnlab.config import load_config, project_root
from rnnlab.errors import exit_on_user_error
from rnnlab.results import summarize_seeds, write_metrics


@task
def launch_training(architecture: str, dataset: str, seed: int) -> None:
    command = [sys.executable, "-m", "rnnlab.train", "--architecture", architecture, "--dataset", dataset, "--seed", str(seed)]
    print("$ " + " ".join(command[1:]), flush=True)
    completed = subprocess.run(command, cwd=project_root())
    if completed.returncode != 0:
        raise RuntimeError(f"training {architecture} on {dataset} (seed {seed}) exited with {completed.returncode}")


@task
def summarize(architecture: str, dataset: str, seeds: list[int]) -> dict:
    root = project_root()
    return write_metrics(root, dataset, architecture, summarize_seeds(root, dataset, architecture, seeds))


@flow(name="train", log_prints=True)
def train(architecture: str, dataset: str) -> dict:
    config = load_config()
    config.architecture(architecture), config.dataset(dataset)  # fail before launching anything
    for seed in config.train.seeds:
        launch_training(architecture, dataset, seed)
    metrics = summarize(architecture, dataset, config.train.seeds)
    print(f"{architecture} on {dataset}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return metrics


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--architecture", required=True)
    parser.add_argument("--dataset", required=True)
    args = parser.parse_args()
    train(args.architecture, args.dataset)


if __name__ == "__main__":
    main()
