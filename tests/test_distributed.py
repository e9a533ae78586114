"""Distributed and interrupted training through the real entry point (CPU, gloo).

Never in-process DDP inside pytest: Lightning re-launches the *command* for each extra rank, and
that command must be `python -m rnnlab.train`, not pytest. Each test trains a small LSTM on the
real JapaneseVowels data, prepared in a temporary copy of the project.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import copy_project, free_port

pytestmark = pytest.mark.slow

TRAIN = [sys.executable, "-m", "rnnlab.train", "--dataset", "japanese_vowels", "--seed", "0"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from rnnlab.config import load_config
    from rnnlab.data import prepare
    from rnnlab.data.sources import SOURCES
    from rnnlab.data.store import write_table

    root = copy_project(tmp_path_factory.mktemp("dist"))
    table = SOURCES["japanese_vowels"]()
    write_table(table, root / "data" / "raw" / "japanese_vowels")
    splits, meta = prepare.prepare(
        table, "japanese_vowels", load_config(root / "params.yaml").dataset("japanese_vowels")
    )
    prepare.write_prepared(root / "data" / "prepared" / "japanese_vowels", splits, meta)
    return root


def configure(root: Path, trainer: dict, max_epochs: int, patience: int) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    lstm = {**params["architectures"]["lstm"], "hidden_size": 16}
    params["architectures"].update(lstm=lstm, lstm_twin={**lstm, "type": "lstm"}, lstm_resumed={**lstm, "type": "lstm"})
    params["train"].update(max_epochs=max_epochs, patience=patience, seeds=[0])
    params["profile"] = []  # the small LSTM above is what trains: no profile's tuned settings replace it
    params["trainer"].update(trainer)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def env_for(root: Path, **extra) -> dict:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **extra,
    }
    env.pop("PREFECT_API_URL", None)
    return env


def train(root: Path, architecture: str, **extra_env) -> subprocess.CompletedProcess:
    return subprocess.run(
        TRAIN + ["--architecture", architecture],
        cwd=root,
        env=env_for(root, **extra_env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def runs_of(root: Path, architecture: str):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.architecture = '{architecture}'")
    return client, runs


def seed_dir(root: Path, architecture: str) -> Path:
    return root / "models" / "japanese_vowels" / architecture / "runs" / "seed_0"


def rank_hashes(root: Path, architecture: str) -> list[str]:
    return [p.read_text() for p in sorted((seed_dir(root, architecture) / "ranks").glob("rank_*.sha256"))]


def single_process_val(root: Path, architecture: str, checkpoint: str) -> tuple[float, float]:
    """val_loss and val_accuracy of a checkpoint, evaluated in this one process over the whole split."""
    from rnnlab.config import load_config
    from rnnlab.data.batching import encode
    from rnnlab.data.prepare import read_prepared
    from rnnlab.evaluate import build_model, forward_all

    config = load_config(root / "params.yaml")
    splits, meta = read_prepared(root / "data" / "prepared" / "japanese_vowels")
    model = build_model(config.architecture(architecture, "japanese_vowels"), meta)  # as the run built it
    state = torch.load(seed_dir(root, architecture) / checkpoint, weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    val = encode(splits["val"], meta)
    logits, targets = torch.stack(forward_all(model, val, 7, meta.task)), val.flat_targets()
    loss = torch.nn.functional.cross_entropy(logits, targets).item()
    return loss, float((logits.argmax(1) == targets).float().mean())


def test_two_processes_ddp_one_run_identical_weights_whole_set_validation(project):
    configure(project, {"devices": 2, "strategy": "ddp", "num_nodes": 1}, max_epochs=3, patience=10)
    result = train(project, "lstm")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client, runs = runs_of(project, "lstm")
    assert len(runs) == 1, "exactly one MLflow run per training"
    summary = json.loads((seed_dir(project, "lstm") / "run.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs_trained"] == 3
    history = sorted(client.get_metric_history(runs[0].info.run_id, "val_loss"), key=lambda m: m.step)
    assert len(history) == 3
    hashes = rank_hashes(project, "lstm")
    assert len(hashes) == 2 and hashes[0] == hashes[1], "DDP must leave identical weights on both ranks"
    # The logged validation loss of the best epoch equals a one-process evaluation of that checkpoint.
    loss, accuracy = single_process_val(project, "lstm", "best.ckpt")
    assert abs(history[summary["best_epoch"]].value - loss) < 1e-5
    accuracies = sorted(client.get_metric_history(runs[0].info.run_id, "val_accuracy"), key=lambda m: m.step)
    assert abs(accuracies[summary["best_epoch"]].value - accuracy) < 1e-9
    assert list(seed_dir(project, "lstm").glob("*.ckpt")) == [seed_dir(project, "lstm") / "best.ckpt"], (
        "checkpoints written once"
    )


def test_two_node_simulation_with_torchrun(project):
    configure(project, {"devices": 1, "strategy": "ddp", "num_nodes": 2}, max_epochs=2, patience=10)
    port = str(free_port())
    nodes = [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "torchrun"),
                "--nnodes",
                "2",
                "--nproc-per-node",
                "1",
                "--node-rank",
                str(rank),
                "--master-addr",
                "127.0.0.1",
                "--master-port",
                port,
                "-m",
                "rnnlab.train",
                "--architecture",
                "lstm_twin",
                "--dataset",
                "japanese_vowels",
                "--seed",
                "0",
            ],
            cwd=project,
            env=env_for(project),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    _, runs = runs_of(project, "lstm_twin")
    assert len(runs) == 1
    summary = json.loads((seed_dir(project, "lstm_twin") / "run.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs_trained"] == 2
    hashes = rank_hashes(project, "lstm_twin")
    assert len(hashes) == 2 and hashes[0] == hashes[1]


def test_killed_training_resumes_and_matches_an_uninterrupted_run(project):
    configure(project, {"devices": 1, "strategy": "auto", "num_nodes": 1}, max_epochs=5, patience=10)
    uninterrupted = train(project, "lstm_twin")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]

    killed = train(project, "lstm_resumed", RNNLAB_KILL_AFTER_EPOCH="2")
    assert killed.returncode == -9, killed.stderr[-3000:]
    folder = seed_dir(project, "lstm_resumed")
    assert (folder / "last.ckpt").is_file() and not (folder / "run.json").exists()
    run_id = json.loads((folder / "resume.json").read_text())["run_id"]

    resumed = train(project, "lstm_resumed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"in MLflow run {run_id}" in resumed.stdout

    mine = json.loads((folder / "run.json").read_text())
    twin = json.loads((seed_dir(project, "lstm_twin") / "run.json").read_text())
    assert mine["run_id"] == run_id
    for key in ("best_epoch", "epochs_trained", "best_val_loss", "best_val_accuracy", "best_val_macro_f1"):
        assert mine[key] == twin[key], key
    assert rank_hashes(project, "lstm_resumed") == rank_hashes(project, "lstm_twin"), "same final weights"

    client, runs = runs_of(project, "lstm_resumed")
    assert [r.info.run_id for r in runs] == [run_id], "the resumed training continues the same MLflow run"
    assert runs[0].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run_id, "val_loss")]
    assert len(steps) == len(set(steps)) == 5, "each epoch logged once"
    twin_curve = [m.value for m in sorted(client.get_metric_history(twin["run_id"], "val_loss"), key=lambda m: m.step)]
    my_curve = [m.value for m in sorted(client.get_metric_history(run_id, "val_loss"), key=lambda m: m.step)]
    np.testing.assert_allclose(my_curve, twin_curve, rtol=0, atol=0)


def test_a_kill_between_logging_an_epoch_and_its_checkpoint_leaves_one_value_per_step(project):
    """Killed after epoch 2's metrics reached MLflow but before its checkpoint: the resumed run
    trains epoch 2 again and still ends with one value per step, equal to an uninterrupted run's."""
    configure(project, {"devices": 1, "strategy": "auto", "num_nodes": 1}, max_epochs=5, patience=10)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["architectures"]["lstm_logged_twice"] = params["architectures"]["lstm_resumed"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    killed = train(project, "lstm_logged_twice", RNNLAB_KILL_BEFORE_CHECKPOINT="2")
    assert killed.returncode == -9, killed.stderr[-3000:]
    client, runs = runs_of(project, "lstm_logged_twice")
    run_id = runs[0].info.run_id
    logged = sorted(m.step for m in client.get_metric_history(run_id, "val_loss"))
    checkpoint = torch.load(seed_dir(project, "lstm_logged_twice") / "last.ckpt", weights_only=False)
    assert len(logged) == 3 and checkpoint["epoch"] == 1, "epoch 2 was logged, its checkpoint never written"

    resumed = train(project, "lstm_logged_twice")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"in MLflow run {run_id}" in resumed.stdout
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    for key in run.data.metrics:
        steps = [m.step for m in client.get_metric_history(run_id, key)]
        assert len(steps) == len(set(steps)), f"{key} logged twice for a step: {sorted(steps)}"
    twin = json.loads((seed_dir(project, "lstm_twin") / "run.json").read_text())
    curve = lambda rid: [m.value for m in sorted(client.get_metric_history(rid, "val_loss"), key=lambda m: m.step)]  # noqa: E731
    np.testing.assert_allclose(curve(run_id), curve(twin["run_id"]), rtol=0, atol=0)
