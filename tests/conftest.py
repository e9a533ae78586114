"""Shared fixtures. Tests run on the CPU in float64 where they compare numerics."""

from __future__ import annotations

import os
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
