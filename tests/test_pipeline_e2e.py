"""End to end: the real `dvc repro` of the whole pipeline in a temporary copy of the project.

Real DVC, a real Prefect server on 127.0.0.1, real Lightning training processes and a real MLflow
sqlite store — no mocks. The copy runs a shrunk profile (2 architectures, a few epochs, small
hidden size) so the test takes about a minute and a half on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SMOKE_ARCHITECTURES = ["lstm", "gru"]  # fused (packed LSTM) and reference (course GRU) paths


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


def shrink(params_path: Path) -> None:
    params = yaml.safe_load(params_path.read_text())
    params["pipeline"]["architectures"] = SMOKE_ARCHITECTURES
    for name in SMOKE_ARCHITECTURES:
        params["architectures"][name]["hidden_size"] = 16
    params["train"].update(max_epochs=4, patience=2, seeds=[0])
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("project"))
    shrink(root / "params.yaml")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(root / ".prefect"),
        "RNNLAB_PREFECT_PORT": str(free_port()),
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    git = lambda *args: subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy")
    run = lambda *cmd: subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)  # noqa: E731
    started = run(sys.executable, "-m", "rnnlab.services", "start", "prefect")
    assert started.returncode == 0, started.stdout + started.stderr
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{env['RNNLAB_PREFECT_PORT']}/api"
    try:
        first = run("dvc", "repro")
        second = run("dvc", "repro")
        yield {"root": root, "env": env, "first": first, "second": second, "run": run}
    finally:
        run(sys.executable, "-m", "rnnlab.services", "stop", "prefect")


def test_first_repro_runs_every_stage(project):
    first = project["first"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in ["ingest@japanese_vowels", "prepare@japanese_vowels", "train@lstm-japanese_vowels", "train@gru-japanese_vowels", "compare"]:
        assert f"Running stage '{stage}'" in first.stdout


def test_second_repro_does_nothing(project):
    second = project["second"]
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in second.stdout + second.stderr


def test_leaderboard_and_figures(project):
    root = project["root"]
    board = (root / "reports" / "leaderboard.md").read_text()
    for name in SMOKE_ARCHITECTURES:
        assert f"| {name} | " in board
    assert "Champion: **" in board
    assert (root / "reports" / "figures" / "japanese_vowels_test_accuracy.png").stat().st_size > 5000
    metrics = json.loads((root / "reports" / "metrics.json").read_text())["japanese_vowels"]
    assert set(metrics) == set(SMOKE_ARCHITECTURES)
    assert all(0.0 <= m["test_accuracy"] <= 1.0 for m in metrics.values())


def test_mlflow_runs_metrics_artifacts_and_champion(project):
    import mlflow

    root = project["root"]
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["architecture"] for r in runs) == sorted(SMOKE_ARCHITECTURES)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["prepare@japanese_vowels"]["outs"][0]["md5"]
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        assert tags["dataset"] == "japanese_vowels" and tags["seed"] == "0"
        assert len(tags["git_commit"]) >= 40
        assert tags["data_dvc_md5"] == lock
        assert run.data.params["arch.hidden_size"] == "16"
        for key in ("train_loss", "val_loss", "val_accuracy", "test_accuracy", "test_macro_f1", "num_params", "train_time_s"):
            assert key in metrics, key
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert len(history) == int(metrics["epochs_trained"]) >= 1
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert artifacts == {"plots/learning_curves.png", "plots/confusion_val.png", "plots/confusion_test.png"}
    version = client.get_model_version_by_alias("rnnlab-japanese_vowels", "champion")
    assert version.run_id in {r.info.run_id for r in runs}

    mlflow.set_tracking_uri(uri)
    model = mlflow.pytorch.load_model("models:/rnnlab-japanese_vowels@champion")
    import torch

    out = model(torch.randn(3, 11, 12), torch.tensor([11, 4, 7]))
    assert out.prediction.shape == (3, 9)


def test_training_is_deterministic_for_a_seed(project):
    """The same (architecture, dataset, seed) trained again gives the same weights and metrics."""
    import torch

    root, run = project["root"], project["run"]
    run_dir = root / "models" / "japanese_vowels" / "lstm" / "runs" / "seed_0"
    first = json.loads((run_dir / "run.json").read_text())
    first_weights = torch.load(run_dir / "best.ckpt", weights_only=True)["state_dict"]
    again = run(sys.executable, "-m", "rnnlab.train", "--architecture", "lstm", "--dataset", "japanese_vowels", "--seed", "0")
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads((run_dir / "run.json").read_text())
    for key in ("best_epoch", "epochs_trained", "best_val_loss", "best_val_accuracy"):
        assert second[key] == first[key], key
    for name, tensor in torch.load(run_dir / "best.ckpt", weights_only=True)["state_dict"].items():
        assert torch.equal(tensor, first_weights[name]), name


def test_changing_one_architecture_reruns_only_its_training_and_compare(project):
    """Runs last: it retrains one architecture in the shared project copy."""
    root, run = project["root"], project["run"]
    params_path = root / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["architectures"]["gru"]["hidden_size"] = 17
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        rerun = run("dvc", "repro")
    finally:
        params_path.write_text(original)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    ran = sorted(line.split("'")[1] for line in rerun.stdout.splitlines() if line.startswith("Running stage"))
    assert ran == ["compare", "train@gru-japanese_vowels"]
