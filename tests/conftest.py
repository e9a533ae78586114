"""Shared fixtures. Tests run on the CPU in float64 where they compare numerics."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import torch

from rnnlab.data.meta import DatasetMeta
from rnnlab.paths import copy_project as copy_files

ROOT = Path(__file__).resolve().parents[1]

# Test processes × torch threads fit the cores, as the pipeline's workers do (rnnlab.execution.check_local_threads):
# two pytest-xdist workers of two threads each on two cores spin on each other's cores. Children inherit it.
TEST_THREADS = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ["OMP_NUM_THREADS"] = str(TEST_THREADS)
torch.set_num_threads(TEST_THREADS)

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


def command_in_this_process(main, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A command's ``main(argv)`` run in ``cwd`` by the test process, as a process of its own would
    run it (its argument parsing, its one-line errors and exit status 2, its stdout and stderr),
    without paying a new process's import of torch, Lightning and MLflow. What a run sets for its
    process (torch's threads) is set back after it."""
    out, err, threads, here = io.StringIO(), io.StringIO(), torch.get_num_threads(), Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
                status = 0
            except SystemExit as exit:
                status = exit.code
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())


def copy_project(dest: Path) -> Path:
    copy_files(ROOT, dest)
    for stale in ("dvc.lock", "reports/leaderboard.md", "reports/metrics.json"):
        (dest / stale).unlink(missing_ok=True)
    shutil.rmtree(dest / "tuning", ignore_errors=True)  # the committed studies: a test's own start afresh
    return dest


@pytest.fixture(autouse=True)
def _environment_restored():
    """Tests that train in-process call mlflow.set_tracking_uri, which also sets MLFLOW_TRACKING_URI
    in os.environ; restore the environment so no later test or subprocess inherits it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def dataset_batch(data: str | None, B: int = 5, dtype=torch.float64):
    """A batch an architecture that reads a kind of dataset can take, and the meta it is built with:
    None -> variable_batch (3 features); "dialogue" -> those features and a 2-party speaker one-hot;
    "table_questions" -> generated questions over tables (features as prepare writes them, unnormalized)."""
    if data == "table_questions":
        from rnnlab.data.sources.tables import FEATURES, TableQuestionsOptions, table_questions_source
        from rnnlab.data.table import sequences_of

        table = table_questions_source(
            TableQuestionsOptions(min_rows=1, max_rows=4, test_rows=[2], sequences=B, test_sequences=1, seed=0)
        )
        arrays, _ = sequences_of(table[table["split"] == "train"], FEATURES)
        x = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(a.astype(float), dtype=dtype) for a in arrays], batch_first=True
        )
        x = x + 1e3 * torch.randn_like(x) * (
            x.abs().sum(-1, keepdim=True) == 0
        )  # padded steps hold garbage, as in variable_batch
        meta = make_meta(features=FEATURES, target_scale={"mean": 0.0, "std": 1.0})
        return x, torch.tensor([len(a) for a in arrays]), meta
    x, lengths = variable_batch(B=B, dtype=dtype)
    if data == "dialogue":
        speakers = torch.nn.functional.one_hot(
            torch.randint(0, 2, x.shape[:2], generator=torch.Generator().manual_seed(0)), 2
        )
        return torch.cat([x, speakers.to(dtype)], -1), lengths, make_meta(parties=2)
    return x, lengths, make_meta()


def make_meta(**fields) -> DatasetMeta:
    """A dataset's meta for tests that build or score a model without preparing data: the fields
    given, every other one empty."""
    empty = {
        "dataset": "toy",
        "task": "classify",
        "features": [],
        "vocabulary": None,
        "num_features": 0,
        "parties": 0,
        "normalizer": None,
        "lengths": {},
        "seed": 0,
        "baselines": {},
    }
    return DatasetMeta(**(empty | fields))


# `make test` runs the files on two pytest-xdist workers, one file per worker at a time (--dist loadfile);
# the files that take longest go first, so that neither worker is left with a long one at the end.
LONGEST_FIRST = (
    "test_pipeline_e2e.py",
    "test_execution.py",
    "test_nn_compiled.py",
    "test_distributed.py",
    "test_tuning.py",
)


def pytest_collection_modifyitems(items):
    order = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))
