"""End to end: the real `dvc repro` of the whole pipeline in a temporary copy of the project.

Real DVC, a real Prefect server on 127.0.0.1, a real local Dask cluster whose workers train with
Lightning, and a real MLflow sqlite store — no mocks. The copy runs a shrunk profile (2
architectures, a few epochs, small hidden size).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import command_in_this_process, copy_project, free_port

pytestmark = pytest.mark.slow

SMOKE_ARCHITECTURES = ["lstm", "gru"]  # fused (LSTM kernel) and reference (course GRU) paths
SMOKE_DATASETS = [
    "japanese_vowels",
    "shakespeare",
    "sunspots",
    "reverse_digits_small",
]  # classify, language model (tokens), forecast, seq2seq


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("project"))
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
    profile = run("rnnlab", "profile", "smoke")
    assert profile.returncode == 0, profile.stderr
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "smoke profile")
    started = run(sys.executable, "-m", "rnnlab.services", "start", "prefect")
    assert started.returncode == 0, started.stdout + started.stderr
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{env['RNNLAB_PREFECT_PORT']}/api"
    try:
        first = run("dvc", "repro")
        second = run("dvc", "repro")
        yield {"root": root, "env": env, "first": first, "second": second, "run": run, "git": git}
    finally:
        run(sys.executable, "-m", "rnnlab.services", "stop", "prefect")


def test_first_repro_runs_every_stage(project):
    first = project["first"]
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    stages = [f"{kind}@{ds}" for ds in SMOKE_DATASETS for kind in ("ingest", "prepare")]
    stages += ["compose", "train", "compare"]
    ran = sorted(line.split("'")[1] for line in first.stdout.splitlines() if line.startswith("Running stage"))
    assert ran == sorted(stages)
    runs = [f"{arch} on {ds} (seed 0)" for ds in SMOKE_DATASETS for arch in SMOKE_ARCHITECTURES]
    progress = [line for line in (first.stdout + first.stderr).splitlines() if " (seed 0): trained in " in line]
    assert sorted(line.split("] ", 1)[1].split(":")[0] for line in progress) == sorted(runs), progress
    assert f"[{len(runs)}/{len(runs)}]" in progress[-1] and "elapsed" in progress[-1]


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
    assert "Champion `rnnlab-japanese_vowels@champion` is version 1 (promoted: no champion yet)" in board
    assert "chosen on 54 validation sequences" in board, "JapaneseVowels: 20 % of the 270 training speakers' utterances"
    assert "## All datasets: each dataset's headline test metric" in board
    assert (
        "| sunspots | MAE ↓ |" in board
        and "AR(34), fit before the test part (measured by prepare on the same split)" in board
    )
    assert "5-gram, Kneser-Ney" in board and "MiniRocket" in board
    # two architectures and the best measured reference, ranked over the 3 datasets that have a reference
    assert "### Architectures and the best measured reference across datasets" in board and "| reference | " in board
    assert "Not computed: the Friedman test needs ≥ 3 entries on ≥ 2 datasets (here 2 on 4)." in board
    for figure in (
        "japanese_vowels_test_accuracy.png",
        "japanese_vowels_val_loss.png",
        "critical_difference_with_references.png",
    ):
        assert (root / "reports" / "figures" / figure).stat().st_size > 5000
    decision = json.loads((root / "reports" / "champions.json").read_text())["japanese_vowels"]
    assert decision["promoted"] and decision["candidate"]["architecture"] in SMOKE_ARCHITECTURES
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert set(metrics) == set(SMOKE_DATASETS) and all(set(m) == set(SMOKE_ARCHITECTURES) for m in metrics.values())
    assert all(0.0 <= m["test_accuracy"] <= 1.0 for m in metrics["japanese_vowels"].values())
    assert all(m["test_mae"] > 0 and m["test_rmse"] >= m["test_mae"] for m in metrics["sunspots"].values())
    assert all(0 < m["test_bits_per_token"] < 8 for m in metrics["shakespeare"].values())
    assert all(
        0.0 <= m["test_sequence_accuracy"] <= 1.0 and m["test_token_error_rate"] >= 0.0
        for m in metrics["reverse_digits_small"].values()
    )


def test_mlflow_runs_metrics_artifacts_and_champion(project):
    import mlflow

    root = project["root"]
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development", "the UI opens on the training runs"
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.architecture != ''")
    assert sorted(r.data.tags["architecture"] for r in runs) == sorted(SMOKE_ARCHITECTURES)
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["prepare@japanese_vowels"]["outs"][0]["md5"]
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        assert tags["dataset"] == "japanese_vowels" and tags["seed"] == "0"
        assert len(tags["git_commit"]) >= 40
        assert tags["data_dvc_md5"] == lock
        assert run.data.params["arch.hidden_size"] == "16"
        for key in (
            "train_loss",
            "val_loss",
            "val_accuracy",
            "test_accuracy",
            "test_macro_f1",
            "num_params",
            "train_time_s",
        ):
            assert key in metrics, key
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert len(history) == int(metrics["epochs_trained"]) >= 1
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert artifacts == {"plots/learning_curves.png", "plots/confusion_val.png", "plots/confusion_test.png"}
    version = client.get_model_version_by_alias("rnnlab-japanese_vowels", "champion")
    assert version.run_id in {r.info.run_id for r in runs}
    assert version.tags["architecture"] in SMOKE_ARCHITECTURES

    parents = client.search_runs([experiment.experiment_id], filter_string="tags.`rnnlab.kind` = 'comparison'")
    assert len(parents) == 1
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in runs), (
        "training runs nest under the comparison"
    )
    parent_artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"leaderboard.json", "champion_decision.json", "japanese_vowels_test_accuracy.png"} <= parent_artifacts


def test_training_is_deterministic_for_a_seed(project):
    """The same (architecture, dataset, seed) trained again, in a process of its own, gives the same
    weights and metrics as the pipeline's worker did; a finished run is reused, not trained again
    (asked in this test process: that answer needs no process of its own)."""
    import shutil

    import torch

    from rnnlab import train

    root, run = project["root"], project["run"]
    run_dir = root / "models" / "japanese_vowels" / "lstm" / "runs" / "seed_0"
    argv = ["--architecture", "lstm", "--dataset", "japanese_vowels", "--seed", "0"]
    reused = command_in_this_process(train.main, argv, root)
    assert reused.returncode == 0 and "finished before with these settings, data and code; reused" in reused.stdout, (
        reused.stderr[-3000:]
    )
    first = json.loads((run_dir / "run.json").read_text())
    first_weights = torch.load(run_dir / "best.ckpt", weights_only=True)["state_dict"]
    aside = run_dir.with_name("seed_0.pipeline")
    run_dir.rename(aside)
    try:
        again = run(sys.executable, "-m", "rnnlab.train", *argv)
        assert again.returncode == 0, again.stderr[-3000:]
        second = json.loads((run_dir / "run.json").read_text())
        for key in ("best_epoch", "epochs_trained", "best_val_loss", "best_val_accuracy"):
            assert second[key] == first[key], key
        for name, tensor in torch.load(run_dir / "best.ckpt", weights_only=True)["state_dict"].items():
            assert torch.equal(tensor, first_weights[name]), name
    finally:  # leave the project as DVC built it
        shutil.rmtree(run_dir, ignore_errors=True)
        aside.rename(run_dir)
    assert "Data and pipelines are up to date" in run("dvc", "status").stdout


def test_predict_command_answers_for_variable_length_sequences(project):
    import pandas as pd

    root, run = project["root"], project["run"]
    raw = pd.read_parquet(root / "data" / "raw" / "japanese_vowels" / "table.parquet")
    test = raw[raw["split"] == "test"].drop(columns=["split"])
    chosen = test["sequence_id"].unique()[[0, 100, 200, 300]]
    test[test["sequence_id"].isin(chosen)].to_csv(root / "four.csv", index=False)
    result = run(
        "rnnlab", "predict", "--dataset", "japanese_vowels", "--input", "four.csv", "--output", "out/four.parquet"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = pd.read_parquet(root / "out" / "four.parquet")
    assert answers["sequence_id"].tolist() == sorted(chosen)
    probabilities = answers[[c for c in answers.columns if c.startswith("p_")]].to_numpy()
    assert probabilities.shape == (4, 9)
    assert abs(probabilities.sum(axis=1) - 1).max() < 1e-5
    truth = test.groupby("sequence_id")["label"].first().loc[answers["sequence_id"]].tolist()
    assert sum(p == t for p, t in zip(answers["prediction"], truth)) >= 3  # a trained model, not noise

    missing = run("rnnlab", "predict", "--dataset", "japanese_vowels", "--input", "nope.csv", "--output", "x.csv")
    assert missing.returncode == 2 and "nope.csv: input file not found" in missing.stderr
    test[test["sequence_id"].isin(chosen)].drop(columns=["lpc_3"]).to_csv(root / "bad.csv", index=False)
    bad = run("rnnlab", "predict", "--dataset", "japanese_vowels", "--input", "bad.csv", "--output", "y.csv")
    assert bad.returncode == 2 and "missing input column(s) 'lpc_3'" in bad.stderr
    assert not (root / "y.csv").exists()


def test_served_champion_answers_a_real_http_request(project):
    """The champion over HTTP answers a good request, and a request without its columns gets a 400
    with one sentence and no stack trace."""
    import urllib.error
    import urllib.request

    import pandas as pd

    root, run, env = project["root"], project["run"], project["env"]
    port = free_port()
    env["RNNLAB_SERVE_PORT"] = str(port)
    try:
        started = run(sys.executable, "-m", "rnnlab.services", "start", "serve")
        assert started.returncode == 0, (
            started.stdout + started.stderr + (root / ".run" / "serve.log").read_text()[-3000:]
        )
        raw = pd.read_parquet(root / "data" / "raw" / "japanese_vowels" / "table.parquet")
        test = raw[raw["split"] == "test"].drop(columns=["split", "label"])
        chosen = test["sequence_id"].unique()[:3]
        table = test[test["sequence_id"].isin(chosen)]
        assert table.groupby("sequence_id").size().nunique() > 1, "the request must mix lengths"
        body = json.dumps({"dataframe_split": table.to_dict(orient="split")}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answers = json.loads(response.read())["predictions"]
        assert [a["sequence_id"] for a in answers] == sorted(chosen)
        assert all(a["prediction"].startswith("speaker_") for a in answers)

        no_ids = json.dumps({"dataframe_split": table.drop(columns=["sequence_id"]).to_dict(orient="split")}).encode()
        bad = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=no_ids, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=60)
        assert refused.value.code == 400
        error = json.loads(refused.value.read())
        assert error["error_code"] == "INVALID_PARAMETER_VALUE" and "stack_trace" not in error, error
        assert error["message"].startswith("input for japanese_vowels: missing input column(s) 'sequence_id'")
        assert "\n" not in error["message"]
    finally:
        run(sys.executable, "-m", "rnnlab.services", "stop", "serve")
        env.pop("RNNLAB_SERVE_PORT")


def test_champion_moves_only_when_beaten_by_the_margin(project):
    import mlflow

    from rnnlab import compare
    from rnnlab.config import load_config

    root = project["root"]
    config = load_config(root / "params.yaml")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    name = "rnnlab-japanese_vowels"
    before = client.get_model_version_by_alias(name, "champion")
    # as in a fresh compare process, where nothing has pointed MLflow at the project's store yet
    mlflow.set_tracking_uri(f"sqlite:///{root / 'elsewhere.db'}")
    score = compare.score_model_version(config, root, "japanese_vowels", before.version)
    mlflow.set_tracking_uri(uri)
    other = next(
        r
        for r in client.search_runs([client.get_experiment_by_name("rnnlab/japanese_vowels").experiment_id])
        if r.info.run_id != before.run_id and "architecture" in r.data.tags
    )
    candidate = {"architecture": other.data.tags["architecture"], "best_seed": 0, "best_run_id": other.info.run_id}
    margin = 0.02
    config = config.model_copy(update={"schedule": config.schedule.model_copy(update={"promote_margin": margin})})
    try:
        kept = compare.decide_champion(config, root, "japanese_vowels", {**candidate, "best_seed_val": score + margin})
        assert not kept["promoted"] and "does not beat" in kept["reason"]
        assert client.get_model_version_by_alias(name, "champion").version == before.version
        promoted = compare.decide_champion(
            config, root, "japanese_vowels", {**candidate, "best_seed_val": score + margin + 0.01}
        )
        assert promoted["promoted"] and "beats the champion" in promoted["reason"]
        assert client.get_model_version_by_alias(name, "champion").version == before.version, "deciding moves nothing"
        compare.move_alias(config, root, compare.register_candidate(config, root, promoted))
        now = client.get_model_version_by_alias(name, "champion")
        assert now.run_id == other.info.run_id and int(now.version) > int(before.version)
        assert client.get_model_version(name, before.version).run_id == before.run_id, (
            "earlier champions stay as versions"
        )
    finally:
        client.set_registered_model_alias(name, "champion", before.version)


def test_champion_promotion_survives_a_crash_and_only_unusable_champions_are_replaced_unscored(project):
    """Decide, register, write the reports, and only then move the alias: a compare that dies before
    the alias moves promotes on the rerun, with the version it registered (no second one). A champion
    that cannot answer this data is replaced; any other failure to re-score it stops compare."""
    import mlflow

    from rnnlab import compare
    from rnnlab.config import load_config
    from rnnlab.errors import RnnlabError

    root = project["root"]
    config = load_config(root / "params.yaml")
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    name = "rnnlab-japanese_vowels"
    before = client.get_model_version_by_alias(name, "champion")
    versions = lambda: sorted(int(v.version) for v in client.search_model_versions(f"name = '{name}'"))  # noqa: E731
    other = next(
        r
        for r in client.search_runs([client.get_experiment_by_name("rnnlab/japanese_vowels").experiment_id])
        if r.info.run_id != before.run_id and "architecture" in r.data.tags
    )
    candidate = {
        "architecture": other.data.tags["architecture"],
        "best_seed": 0,
        "best_run_id": other.info.run_id,
        "best_seed_val": 2.0,
    }
    try:
        first = compare.register_candidate(
            config, root, compare.decide_champion(config, root, "japanese_vowels", candidate)
        )
        registered = versions()
        # ... the reports are written here, and the process dies before the alias moves
        assert client.get_model_version_by_alias(name, "champion").version == before.version
        again = compare.register_candidate(
            config, root, compare.decide_champion(config, root, "japanese_vowels", candidate)
        )
        assert again["promoted"] and again["champion_version"] == first["champion_version"] and versions() == registered
        compare.move_alias(config, root, again)
        assert client.get_model_version_by_alias(name, "champion").run_id == other.info.run_id

        # A champion that answers another task (sunspots' forecaster) cannot score this data: replaced.
        forecaster = client.get_model_version_by_alias("rnnlab-sunspots", "champion")
        alien = client.create_model_version(name, forecaster.source, run_id=forecaster.run_id)
        client.set_registered_model_alias(name, "champion", alien.version)
        unusable = compare.decide_champion(config, root, "japanese_vowels", {**candidate, "best_seed_val": 0.0})
        assert unusable["promoted"] and "cannot score the current validation split" in unusable["reason"], unusable
        assert "'forecast'" in unusable["reason"]

        # A champion whose model cannot be loaded at all is a failure, not a reason to promote.
        lost = client.create_model_version(name, str(root / "mlflow" / "no-such-model"), run_id=forecaster.run_id)
        client.set_registered_model_alias(name, "champion", lost.version)
        with pytest.raises(
            RnnlabError,
            match=r"^compare stopped: re-scoring the champion of japanese_vowels .* no champion was changed$",
        ):
            compare.decide_champion(config, root, "japanese_vowels", candidate)
        assert client.get_model_version_by_alias(name, "champion").version == lost.version
    finally:
        client.set_registered_model_alias(name, "champion", before.version)


def test_notebook_executes_against_the_run(project):
    import nbformat
    from nbclient import NotebookClient

    root = project["root"]
    notebook = nbformat.read(root / "notebooks" / "compare.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(root / "notebooks")}}
    ).execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2


def test_scheduled_retraining_runs_and_records_its_decision(project):
    """The retrain flow served with a short interval against the local server: one scheduled run
    completes; with unchanged data and params it retrains nothing and says so."""

    root, run, env, git = project["root"], project["run"], project["env"], project["git"]
    params_path = root / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["schedule"]["interval_seconds"] = 10
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    commit = lambda message: git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", message)  # noqa: E731
    commit("every 10 s")  # a scheduled pass trains committed params only
    post = prefect_api(env["PREFECT_API_URL"])

    retrain_runs = lambda *states: post(  # noqa: E731
        "/flow_runs/filter",
        {"flows": {"name": {"any_": ["retrain"]}}, "flow_runs": {"state": {"type": {"any_": list(states)}}}},
    )
    try:
        started = subprocess.run(  # the runner looks for due runs every 2 s (Prefect's default: 10)
            [sys.executable, "-m", "rnnlab.services", "start", "scheduler"],
            cwd=root,
            env={**env, "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
            capture_output=True,
            text=True,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        deadline = time.monotonic() + 180
        while not (picked := retrain_runs("PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED")):
            assert time.monotonic() < deadline, "no scheduled retrain run started; see .run/scheduler.log"
            time.sleep(1)
        assert picked[0]["deployment_id"] is not None, "the run must come from the served deployment"
        # One pass is the test: pausing the schedule deletes the runs due after it (a pass outlasts the
        # 10 s interval), and the one in flight finishes: stopping the server under a run kills it
        # between DVC removing an output and the stage writing it again.
        post(f"/deployments/{picked[0]['deployment_id']}/pause_deployment", {})
        deadline = time.monotonic() + 180
        while retrain_runs("PENDING", "RUNNING") and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        run(sys.executable, "-m", "rnnlab.services", "stop", "scheduler")
        params_path.write_text(original)
        commit("back to the smoke schedule")
    assert len(retrain_runs("COMPLETED")) == 1, "see .run/scheduler.log"
    history = [json.loads(line) for line in (root / "reports" / "retrain_history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and history[0]["retrained"] is False and history[0]["stale"] == []
    artifacts = post("/artifacts/filter", {"artifacts": {"key": {"any_": ["retrain-decision"]}}})
    assert artifacts and "nothing retrained" in artifacts[0]["data"]


def prefect_api(api: str):
    """POST to the Prefect server's API as its own client does: with a CSRF token (the server
    refuses state-changing requests without one)."""
    import urllib.request
    import uuid

    client = uuid.uuid4().hex
    with urllib.request.urlopen(f"{api}/csrf-token?client={client}", timeout=30) as response:
        token = json.loads(response.read())["token"]
    headers = {"Content-Type": "application/json", "Prefect-Csrf-Token": token, "Prefect-Csrf-Client": client}

    def post(path, body):
        request = urllib.request.Request(api + path, data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
            return json.loads(answer) if answer else None

    return post


def test_a_retrain_pass_refuses_uncommitted_params_and_skips_while_the_project_is_locked(project):
    """A pass trains only committed code and params, and never runs beside another command that
    holds the project lock; either way it writes its line in the history and trains nothing."""
    root, run = project["root"], project["run"]
    history = root / "reports" / "retrain_history.jsonl"
    before = history.read_text().splitlines() if history.is_file() else []
    params_path = root / "params.yaml"
    original = params_path.read_text()
    params_path.write_text(original + "\n# an uncommitted edit\n")
    try:
        refused = run(sys.executable, "flows/retrain.py")
    finally:
        params_path.write_text(original)
    assert refused.returncode == 0, refused.stderr[-3000:]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom rnnlab.lock import project_lock\nwith project_lock(sys.argv[1], 'a test'):\n"
            "    print('held', flush=True)\n    time.sleep(120)",
            str(root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        skipped = run(sys.executable, "flows/retrain.py")
    finally:
        holder.kill()
        holder.wait()
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    lines = [json.loads(line) for line in history.read_text().splitlines()[len(before) :]]
    assert len(lines) == 2, lines
    assert (
        "params.yaml" in lines[0]["refused"] and "commit or revert" in lines[0]["refused"] and "stale" not in lines[0]
    )
    assert "a test (pid" in lines[1]["skipped"] and "stale" not in lines[1]


def test_language_model_and_forecast_runs_log_their_pictures(project):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{project['root'] / 'mlflow' / 'mlflow.db'}")
    found = {}
    for dataset, folder, expected in (
        ("shakespeare", "samples", "samples/generated.txt"),
        ("sunspots", "plots", "plots/forecast_test.png"),
    ):
        experiment = client.get_experiment_by_name(f"rnnlab/{dataset}")
        found[dataset] = client.search_runs([experiment.experiment_id], filter_string="tags.architecture = 'lstm'")[
            0
        ].info.run_id
        assert expected in {a.path for a in client.list_artifacts(found[dataset], folder)}
    text = Path(client.download_artifacts(found["shakespeare"], "samples/generated.txt")).read_text()
    assert text.count("⟫") == 1 and len(text.split("⟫")[1].strip()) >= 10, "a prompt and its sampled continuation"


def test_changing_one_architecture_makes_the_train_stage_stale(project):
    """DVC sees a change of one architecture's settings as a change of the train stage (compare
    follows from its new outputs); inside it, only that architecture's runs train (the import test)."""
    root, run = project["root"], project["run"]
    params_path = root / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["architectures"]["gru"]["init"] = "keras"  # a setting the active smoke profile leaves to params.yaml
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert run("rnnlab", "plan").returncode == 0  # params.effective.yaml, as make pipeline writes it first
        status = run("dvc", "status", "--json")
    finally:
        params_path.write_text(original)
        run("rnnlab", "plan")
    assert status.returncode == 0, status.stderr
    assert sorted(json.loads(status.stdout)) == ["compose", "train"], status.stdout
    # params.yaml as it was (edited by earlier tests too): compose records it again, and nothing else is stale
    assert run("dvc", "repro", "--single-item", "compose").returncode == 0
    assert "Data and pipelines are up to date" in run("dvc", "status").stdout


def test_an_imported_file_and_one_changed_architecture_train_only_their_runs(project, tmp_path):
    """Runs last. `rnnlab import` of a user's CSV (BasicMotions exported with its own column names)
    and a change to the GRU's settings: the next `dvc repro` prepares the new data and trains every
    compatible architecture on it and the GRU everywhere; every other run is reused."""
    root, run = project["root"], project["run"]
    from rnnlab.data.sources import SOURCES

    csv = tmp_path / "motions.csv"
    SOURCES["basic_motions"]().rename(columns={"label": "activity"}).to_csv(csv, index=False)
    imported = run("rnnlab", "import", str(csv), "--name", "my_motions", "--task", "classify", "--target", "activity")
    assert imported.returncode == 0, imported.stderr
    assert (root / "data" / "raw" / "my_motions.dvc").is_file()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["architectures"]["gru"]["init"] = "keras"  # a setting the active smoke profile leaves to params.yaml
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = run("dvc", "repro")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    ran = sorted(line.split("'")[1] for line in rerun.stdout.splitlines() if line.startswith("Running stage"))
    assert ran == ["compare", "compose", "prepare@my_motions", "train"]
    progress = [
        line.split("] ", 1)[1]
        for line in (rerun.stdout + rerun.stderr).splitlines()
        if " (seed 0): " in line and "] " in line
    ]
    trained = sorted(line.split(":")[0] for line in progress if "trained in" in line)
    reused = sorted(line.split(":")[0] for line in progress if "reused" in line)
    assert trained == sorted(
        [f"gru on {ds} (seed 0)" for ds in [*SMOKE_DATASETS, "my_motions"]] + ["lstm on my_motions (seed 0)"]
    ), progress
    assert reused == sorted(f"lstm on {ds} (seed 0)" for ds in SMOKE_DATASETS), progress
    metrics = json.loads((root / "reports" / "metrics.json").read_text())["my_motions"]
    assert set(metrics) == set(SMOKE_ARCHITECTURES)
