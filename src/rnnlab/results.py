"""Reading training results back: per-seed run.json files, each pair's metrics file and the train
stage's metrics file (``reports/training.json``, which DVC records)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnlab import files
from rnnlab.errors import RnnlabError
from rnnlab.paths import model_dir, seed_dir

METRICS_FILE = "metrics.json"
TRAINING_FILE = "reports/training.json"  # the train stage's metrics: every pair's mean and std over seeds


def read_run(root: Path, dataset: str, architecture: str, seed: int, home: Path | None = None) -> dict:
    path = seed_dir(root, dataset, architecture, seed, home) / "run.json"
    if not path.is_file():
        raise RnnlabError(f"{path}: missing; train {architecture} on {dataset} (seed {seed}) first")
    return json.loads(path.read_text())


def mean_std(runs: list[dict]) -> dict[str, float]:
    """Mean and std over runs (seeds) of every numeric result but the seed itself."""
    out = {}
    numeric = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed"]
    for key in [k for k in numeric if all(k in r for r in runs)]:
        values = np.array([r[key] for r in runs], dtype=float)
        out[key], out[f"{key}_std"] = float(values.mean()), float(values.std())
    return out


def summarize_seeds(root: Path, dataset: str, architecture: str, seeds: list[int]) -> dict[str, float]:
    return mean_std([read_run(root, dataset, architecture, s) for s in seeds])


def write_metrics(root: Path, dataset: str, architecture: str, metrics: dict) -> dict:
    path = model_dir(root, dataset, architecture) / METRICS_FILE
    files.write_json(path, metrics, sort_keys=True)
    return metrics


def summarize_training(root: Path, config, summaries: dict) -> dict:
    """Each pair's mean and std over its seeds (``summaries``: run -> its summary), written beside
    the pair's runs and, for all pairs, to the stage's metrics file."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for run, summary in summaries.items():
        by_pair.setdefault((run.dataset, run.architecture), []).append(summary)
    everything = {}
    for (dataset, architecture), runs in sorted(by_pair.items()):
        everything.setdefault(dataset, {})[architecture] = write_metrics(root, dataset, architecture, mean_std(runs))
    files.write_json(Path(root) / TRAINING_FILE, everything, sort_keys=True)
    return everything
