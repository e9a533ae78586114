"""Where each stage reads and writes, relative to the project root (the folder of params.yaml)."""

from __future__ import annotations

from pathlib import Path


def raw_dir(root: Path, dataset: str) -> Path:
    return root / "data" / "raw" / dataset


def prepared_dir(root: Path, dataset: str) -> Path:
    return root / "data" / "prepared" / dataset


def models_home(root: Path) -> Path:
    """Where the pipeline's training runs live (a DVC output per pair)."""
    return root / "models"


def study_home(root: Path, study: str) -> Path:
    """Where a study's training runs live: its own, so the pipeline never replaces or deletes them."""
    return root / "study_runs" / study


def model_dir(root: Path, dataset: str, architecture: str, home: Path | None = None) -> Path:
    """``home`` is the folder holding ``<dataset>/<architecture>/``: the pipeline's by default."""
    return (home or models_home(root)) / dataset / architecture


def runs_dir(root: Path, dataset: str, architecture: str, home: Path | None = None) -> Path:
    """One sub-folder per seed: best checkpoint and run.json."""
    return model_dir(root, dataset, architecture, home) / "runs"


def seed_dir(root: Path, dataset: str, architecture: str, seed: int, home: Path | None = None) -> Path:
    return runs_dir(root, dataset, architecture, home) / f"seed_{seed}"


def reports_dir(root: Path) -> Path:
    return root / "reports"
