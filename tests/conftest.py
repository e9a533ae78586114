"""Shared fixtures. Tests run on the CPU in float64 where they compare numerics."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield


def variable_batch(B=5, T=7, D=3, dtype=torch.float64, lengths=(7, 2, 5, 1, 6)):
    """An unsorted variable-length batch; padded steps hold garbage on purpose."""
    lengths = torch.tensor(lengths[:B], dtype=torch.int64)
    x = torch.randn(B, T, D, dtype=dtype)
    return x, lengths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_project(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    for stale in ("dvc.lock", "reports/leaderboard.md", "reports/metrics.json"):
        (dest / stale).unlink(missing_ok=True)
    return dest


@pytest.fixture(autouse=True)
def _environment_restored():
    """Tests that train in-process call mlflow.set_tracking_uri, which also sets MLFLOW_TRACKING_URI
    in os.environ; restore the environment so no later test or subprocess inherits it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
