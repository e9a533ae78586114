"""Where each stage reads and writes, relative to the project root (the folder of params.yaml)."""

from __future__ import annotations

import shutil
import subprocess
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


def copy_project(root: Path, dest: Path) -> Path:
    """The project's own files (what git tracks, and new files it does not ignore) copied into ``dest``:
    a scratch project that shares no data, runs or MLflow store with ``root``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    for rel in listed:
        if (Path(root) / rel).is_file():
            (Path(dest) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(root) / rel, Path(dest) / rel)
    return Path(dest)
