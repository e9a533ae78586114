"""Where each stage reads and writes, relative to the project root (the folder of params.yaml)."""

from __future__ import annotations

from pathlib import Path


def raw_dir(root: Path, dataset: str) -> Path:
    return root / "data" / "raw" / dataset


def prepared_dir(root: Path, dataset: str) -> Path:
    return root / "data" / "prepared" / dataset


def model_dir(root: Path, dataset: str, architecture: str) -> Path:
    return root / "models" / dataset / architecture


def runs_dir(root: Path, dataset: str, architecture: str) -> Path:
    """One sub-folder per seed: best checkpoint and run.json."""
    return model_dir(root, dataset, architecture) / "runs"


def seed_dir(root: Path, dataset: str, architecture: str, seed: int) -> Path:
    return runs_dir(root, dataset, architecture) / f"seed_{seed}"


def reports_dir(root: Path) -> Path:
    return root / "reports"
