"""Run a study of params.yaml's ``experiments`` section: data, training, test scores, one report.

Each (architecture, dataset, seed) is trained by :func:`rnnlab.train.train_run` — the function the
pipeline's train stage runs — so a study's runs are ordinary MLflow runs in the dataset's
experiment. Their checkpoints live in the study's own folder,
``study_runs/<study>/<dataset>/<architecture>/runs/seed_<n>``, which the pipeline never touches (and
a study never touches the pipeline's ``models/``). The data go
through the same steps as the ingest and prepare stages. A finished run whose settings and data
are unchanged is reused, so an interrupted study continues where it stopped; an unfinished one
resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from rnnlab.compare import evaluate_test, load_trained
from rnnlab.config import IMPORTED, Config
from rnnlab.data import prepare as steps
from rnnlab.data import sources, store
from rnnlab.data.meta import DatasetMeta
from rnnlab.paths import prepared_dir, raw_dir, study_home
from rnnlab.train import train_run


@dataclass
class Trained:
    """One finished run of a study: its summary with test metrics, and what analyses need."""

    architecture: str
    dataset: str
    seed: int
    summary: dict  # run.json plus test_<metric>
    reused: bool
    home: Path  # the study's runs folder

    def load(self, config: Config, root: Path) -> tuple[nn.Module, dict, DatasetMeta]:
        """(model with the best weights, prepared splits, meta)."""
        _, model, splits, meta = load_trained(config, root, self.dataset, self.architecture, self.seed, self.home)
        return model, splits, meta


def materialize(config: Config, root: Path, dataset: str) -> DatasetMeta:
    """Ingest and prepare ``dataset`` with the pipeline's own steps (generated data are re-made from
    their seed, byte for byte; an imported dataset is read as DVC tracks it). Returns the prepared meta."""
    settings = config.dataset(dataset)
    if settings.source == IMPORTED:
        table = store.read_table(raw_dir(root, dataset))
    else:
        table = sources.ingest(dataset, settings)
        store.write_table(table, raw_dir(root, dataset))
    encoded, meta = steps.prepare(table, dataset, settings)
    steps.write_prepared(prepared_dir(root, dataset), encoded, meta)
    return meta


def run_study(config: Config, root: Path, name: str) -> list[Trained]:
    """Every (dataset, architecture, seed) of ``experiments.<name>``, trained (or reused) and tested."""
    spec = config.experiments[name]
    home = study_home(root, name)
    runs: list[Trained] = []
    total = len(spec.datasets) * len(spec.architectures) * len(spec.seeds)
    for dataset in spec.datasets:
        started = time.perf_counter()
        meta = materialize(config, root, dataset)
        sizes = ", ".join(f"{k} {v['sequences']}" for k, v in meta.lengths.items())
        print(f"[{name}] {dataset}: prepared in {time.perf_counter() - started:.0f} s ({sizes} sequences)", flush=True)
        for architecture in spec.architectures:
            for seed in spec.seeds:
                reused = bool(train_run(config, root, architecture, dataset, seed, home).get("reused"))
                print(
                    f"[{name}] {len(runs) + 1}/{total} {architecture} on {dataset}, seed {seed}"
                    + (": finished before, reused" if reused else ": trained"),
                    flush=True,
                )
                summary = evaluate_test(config, root, dataset, architecture, seed, home)
                runs.append(Trained(architecture, dataset, seed, summary, reused, home))
    return runs


def runs_table(runs: list[Trained], columns: dict[str, str]) -> str:
    """A markdown table of the runs: architecture, dataset, seed, parameters, epochs, then ``columns``
    (summary key -> header); numbers to 4 significant digits."""
    rows = [
        {
            "dataset": r.dataset,
            "architecture": r.architecture,
            "seed": r.seed,
            "parameters": f"{r.summary['num_params']:,}",
            "epochs": r.summary["epochs_trained"],
            "iterations": r.summary.get("steps_trained", "—"),
            **{header: _fmt(r.summary.get(key)) for key, header in columns.items()},
        }
        for r in runs
    ]
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(row[k]) for k in header) + " |" for row in rows])


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
