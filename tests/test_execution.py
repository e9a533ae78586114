"""The train flow on its execution engine, real parts only: a real Prefect server, a local Dask
cluster, and a Dask scheduler with two workers started as separate processes on 127.0.0.1 (the
scale-out path, without a cluster), training real runs into a real MLflow sqlite store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_project, free_port

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with JapaneseVowels prepared twice (the second copy trains with a
    learning rate that overflows), tiny runs, and its own Prefect server."""
    from rnnlab.config import load_config
    from rnnlab.data import prepare
    from rnnlab.data.sources import SOURCES
    from rnnlab.data.store import write_table

    root = copy_project(tmp_path_factory.mktemp("execution"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["datasets"]["vowels_overflow"] = {
        **params["datasets"]["japanese_vowels"],
        "source": "japanese_vowels",
        "train": {"learning_rate": 1e37},
    }
    params["architectures"]["lstm"]["hidden_size"] = 8
    params["architectures"]["gru"]["hidden_size"] = 8
    params["pipeline"] = {"datasets": ["japanese_vowels"], "architectures": ["lstm", "gru"]}
    params["train"].update(max_epochs=3, patience=3, seeds=[0])
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    table = SOURCES["japanese_vowels"]()
    config = load_config(root / "params.yaml")
    for name in ("japanese_vowels", "vowels_overflow"):
        write_table(table, root / "data" / "raw" / name)
        splits, meta = prepare.prepare(table, name, config.dataset(name))
        prepare.write_prepared(root / "data" / "prepared" / name, splits, meta)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(root / ".prefect"),
        "RNNLAB_PREFECT_PORT": str(free_port()),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    started = subprocess.run(
        [sys.executable, "-m", "rnnlab.services", "start", "prefect"], cwd=root, env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stdout + started.stderr
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{env['RNNLAB_PREFECT_PORT']}/api"
    try:
        yield {"root": root, "env": env}
    finally:
        subprocess.run(
            [sys.executable, "-m", "rnnlab.services", "stop", "prefect"], cwd=root, env=env, capture_output=True
        )


def set_params(root: Path, **sections) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in sections.items():
        params[section] = (
            {**params[section], **values} if isinstance(values, dict) and section != "pipeline" else values
        )
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def train_flow(project, **extra_env) -> subprocess.CompletedProcess:
    env = {**project["env"], **extra_env}
    return subprocess.run(
        [sys.executable, "flows/train.py"], cwd=project["root"], env=env, capture_output=True, text=True, timeout=600
    )


def mlflow_runs(root: Path, dataset: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"rnnlab/{dataset}")
    return (
        []
        if experiment is None
        else client.search_runs([experiment.experiment_id], filter_string="tags.architecture != ''")
    )


def finished_lines(output: str) -> list[str]:
    return [
        line
        for line in output.splitlines()
        if "] " in line and ("trained in" in line or "reused" in line or "FAILED" in line)
    ]


def test_runs_train_through_the_address_of_a_dask_scheduler_and_its_two_worker_processes(project, tmp_path):
    root, env = project["root"], project["env"]
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    cluster_env = {**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        cwd=root,
        env=cluster_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = [tmp_path / f"worker_{i}.log" for i in range(2)]
    workers = [
        subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"],
            cwd=root,
            env=cluster_env,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "w"),
        )
        for i, log in enumerate(logs)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all("Registered to" in log.read_text() for log in logs) and time.monotonic() < deadline:
            time.sleep(0.5)
        set_params(root, execution={"address": address})
        done = train_flow(project)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    finally:
        set_params(root, execution={"address": None})
        for process in [*workers, scheduler]:
            process.send_signal(signal.SIGTERM)  # SIGINT is ignored where the suite runs as a background job
        for process in [*workers, scheduler]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    lines = finished_lines(done.stdout + done.stderr)
    assert len(lines) == 2 and all("trained in" in line for line in lines) and "[2/2]" in lines[-1], lines
    for log in logs:  # each worker process trained at least one of the runs
        assert "Finished in state Completed()" in log.read_text(), log.read_text()[-2000:]
    runs = mlflow_runs(root, "japanese_vowels")
    assert sorted((r.data.tags["architecture"], r.data.tags["seed"]) for r in runs) == [("gru", "0"), ("lstm", "0")]
    assert all(
        r.info.status == "FINISHED" and r.data.metrics["run_time_s"] >= r.data.metrics["train_time_s"] > 0 for r in runs
    )
    training = json.loads((root / "reports" / "training.json").read_text())
    assert (
        set(training["japanese_vowels"]) == {"lstm", "gru"}
        and "best_val_accuracy_std" in training["japanese_vowels"]["lstm"]
    )


def test_a_worker_killed_mid_run_is_retried_and_a_run_that_fails_fails_alone(project, tmp_path):
    """One stage, two faults: the worker training lstm on japanese_vowels dies once mid-run (the run
    is started again and resumes in the same MLflow run); lstm on vowels_overflow overflows (it
    fails alone, the other run finishes, the stage fails naming it)."""
    root = project["root"]
    set_params(
        root,
        pipeline={"datasets": ["japanese_vowels", "vowels_overflow"], "architectures": ["lstm"]},
        train={"seeds": [2]},
    )
    marker = tmp_path / "killed-once"
    done = train_flow(project, RNNLAB_KILL_AFTER_EPOCH="1", RNNLAB_KILL_MARKER=str(marker))
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert marker.exists(), "a worker died once"
    lines = finished_lines(done.stdout + done.stderr)
    assert any("lstm on japanese_vowels (seed 2): trained in" in line for line in lines), lines
    assert any("lstm on vowels_overflow (seed 2): FAILED: training stopped: the loss is" in line for line in lines), (
        lines
    )
    assert (
        "rnnlab: error: train: 1 of 2 runs failed — lstm on vowels_overflow (seed 2): training stopped" in done.stderr
    )
    assert "resuming lstm on japanese_vowels" in done.stdout + done.stderr
    runs = [r for r in mlflow_runs(root, "japanese_vowels") if r.data.tags["seed"] == "2"]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED", "one MLflow run: the retry resumed the killed one"
    assert not [
        r for ds in ("japanese_vowels", "vowels_overflow") for r in mlflow_runs(root, ds) if r.info.status == "RUNNING"
    ]


def test_ctrl_c_leaves_no_run_running_and_no_run_that_looks_finished(project):
    root = project["root"]
    workers = yaml.safe_load((root / "params.yaml").read_text())["execution"]["workers"]
    set_params(
        root,
        pipeline={"datasets": ["japanese_vowels"], "architectures": ["lstm"]},
        train={"seeds": [7], "max_epochs": 400, "patience": 400},
        execution={"workers": 1},  # one run: a second worker would only import torch beside it
    )
    record = root / "models" / "japanese_vowels" / "lstm" / "runs" / "seed_7" / "resume.json"
    # As from a terminal: Ctrl-C's default action restored in the flow. A suite started as a background job
    # (`make test &`, CI) inherits SIGINT ignored, and the flow would inherit that and train on.
    flow = subprocess.Popen(
        [sys.executable, "flows/train.py"],
        cwd=root,
        env=project["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not record.is_file() and time.monotonic() < deadline and flow.poll() is None:
            time.sleep(0.5)
        assert record.is_file(), "the run started"
        time.sleep(2)
        os.killpg(flow.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the flow and its workers
        output, _ = flow.communicate(timeout=120)
    finally:
        if flow.poll() is None:
            os.killpg(flow.pid, signal.SIGKILL)
        set_params(root, train={"max_epochs": 3, "patience": 3}, execution={"workers": workers})
    assert flow.returncode != 0, output[-3000:]
    run_id = json.loads(record.read_text())["run_id"]
    assert "marked KILLED" in output and run_id in output, output[-3000:]
    assert not (record.parent / "run.json").exists(), "no run that looks finished"
    assert not [r for r in mlflow_runs(root, "japanese_vowels") if r.info.status == "RUNNING"]


def test_an_unreachable_scheduler_is_named_in_one_line_and_nothing_trains(project):
    root = project["root"]
    address = f"tcp://127.0.0.1:{free_port()}"
    set_params(root, execution={"address": address})
    try:
        done = train_flow(project)
    finally:
        set_params(root, execution={"address": None})
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"rnnlab: error: params.yaml: execution.address = '{address}': no Dask scheduler answers there")
    )
    assert "Flow run" not in done.stdout + done.stderr


def test_workers_times_threads_must_fit_the_cores():
    from rnnlab.config import load_config
    from rnnlab.errors import ConfigError
    from rnnlab.execution import check_local_threads

    config = load_config(ROOT / "params.yaml")
    config = config.model_copy(update={"execution": config.execution.model_copy(update={"workers": 2})})
    check_local_threads(config, cores=2 * max(config.train_for(ds).num_threads for ds in config.pipeline.datasets))
    with pytest.raises(
        ConfigError, match=r"execution.workers = 2 × .*num_threads = \d+ is \d+ threads on a machine with 1 cores"
    ):
        check_local_threads(config, cores=1)


def test_a_worker_freezes_what_outlives_its_first_task_once_and_still_collects_later_cycles():
    """release_memory after every task: the first call freezes the survivors (the libraries), later calls
    freeze nothing more, and a reference cycle a later task leaves behind is still collected."""
    code = """
import gc, weakref
from rnnlab.execution import release_memory

class Node:
    pass

release_memory()
first = gc.get_freeze_count()
node = Node(); node.self = node  # a cycle, as a Trainer and its loops make
alive = weakref.ref(node)
del node
release_memory()
print(first, gc.get_freeze_count(), alive() is None)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, later, collected = done.stdout.split()
    assert int(first) > 1000 and int(later) == int(first)
    assert collected == "True"


def test_compares_evaluations_with_one_local_worker_run_in_its_own_process(monkeypatch):
    """Evaluations of seconds each skip a local cluster of one (its start-up and second import of
    torch would be most of their cost); training keeps its worker process, and two workers or a
    scheduler's address keep the cluster for evaluations too."""
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from rnnlab import execution
    from rnnlab.config import load_config

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # no temporary Prefect server for the workers
    monkeypatch.setattr(execution, "check_local_threads", lambda config: None)
    monkeypatch.setattr(execution, "check_address", lambda address: None)
    config = load_config(ROOT / "params.yaml")

    def engine(**update):
        return config.model_copy(update={"execution": config.execution.model_copy(update=update)})

    assert isinstance(execution.task_runner(engine(workers=1), short_tasks=True), ThreadPoolTaskRunner)
    assert isinstance(execution.task_runner(engine(workers=1)), DaskTaskRunner)
    assert isinstance(execution.task_runner(engine(workers=2), short_tasks=True), DaskTaskRunner)
    remote = execution.task_runner(engine(workers=1, address="tcp://127.0.0.1:8786"), short_tasks=True)
    assert isinstance(remote, DaskTaskRunner)


def test_tuning_studies_run_side_by_side_on_the_engine_and_one_process_records_them(project):
    """`rnnlab tune` over two pairs: each study a Prefect task in a worker of the local Dask cluster,
    both at once; the flow's own process writes reports/tuning.json and profiles/tuned.yaml."""
    import optuna
    from optuna.trial import TrialState

    from rnnlab.tuning import JOURNAL, study_dir

    root = project["root"]
    set_params(
        root,
        pipeline={"datasets": ["japanese_vowels"], "architectures": ["lstm", "gru"]},
        tune={
            "trials": 2,
            "max_epochs": 2,
            "patience": 2,
            "startup_trials": 1,
            "warmup_epochs": 1,
            "repeats": 1,
            "confirm_seeds": 0,  # confirmation is tests/test_tuning.py's; here, where the studies run
        },
    )
    for committed in (root / "reports" / "tuning.json", root / "profiles" / "tuned.yaml"):  # the project's own
        committed.unlink()
    set_params(root, profile=[])  # the default's tuned profile is gone with them
    done = subprocess.run(
        [sys.executable, "-m", "rnnlab.cli", "tune", "--dataset", "japanese_vowels"],
        cwd=root,
        env=project["env"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = [line for line in (done.stdout + done.stderr).splitlines() if ": best val_accuracy " in line]
    assert sorted(line.split("] ", 1)[1].split(":")[0] for line in lines) == [
        "gru on japanese_vowels",
        "lstm on japanese_vowels",
    ], lines
    assert "[2/2]" in lines[-1] and "elapsed, done" in lines[-1], lines
    assert "GPU available" not in done.stdout + done.stderr, "a worker's trials do not print Lightning's chatter"
    spans = []
    for architecture in ("lstm", "gru"):
        path = study_dir(root, "japanese_vowels", architecture) / JOURNAL
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
        study = optuna.load_study(study_name=f"japanese_vowels/{architecture}", storage=storage)
        trials = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        assert len(trials) == len(study.trials) == 2, study.trials
        spans.append((min(t.datetime_start for t in trials), max(t.datetime_complete for t in trials)))
    assert max(start for start, _ in spans) < min(end for _, end in spans), f"one after the other: {spans}"
    results = json.loads((root / "reports" / "tuning.json").read_text())["japanese_vowels"]
    profile = yaml.safe_load((root / "profiles" / "tuned.yaml").read_text())["tuned"].get("japanese_vowels", {})
    assert set(results) == {"lstm", "gru"}
    for a, result in results.items():  # a pair that keeps params.yaml's settings has no entry
        kept = result["chosen_trial"] == result["untuned_trial"]
        assert (a not in profile) if kept else (profile[a] == result["chosen_params"]), (a, result, profile)


def test_runs_are_ordered_by_this_projects_runs_then_the_committed_record_then_each_architectures_pace(tmp_path):
    from rnnlab.config import load_config
    from rnnlab.execution import Run, planned_runs

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"].update(small={"base": "japanese_vowels"}, large={"base": "japanese_vowels"})
    params["pipeline"] = {"datasets": ["small", "large"], "architectures": ["ntm", "rnn", "lstm"]}
    params["train"]["seeds"], params["profile"] = [0], []
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    config = load_config(tmp_path / "params.yaml")
    for name, sequences in (("small", 10), ("large", 1000)):  # the large one has 100 × the steps
        meta = {"lengths": {"train": {"sequences": sequences, "mean": 20.0}}}
        (tmp_path / "data" / "prepared" / name).mkdir(parents=True)
        (tmp_path / "data" / "prepared" / name / "meta.json").write_text(json.dumps(meta))
    order = lambda: [f"{r.architecture}/{r.dataset}" for r in planned_runs(config, tmp_path)]  # noqa: E731
    # nothing known: the data's size alone, the large dataset first
    assert order()[:3] == [f"{a}/large" for a in ("ntm", "rnn", "lstm")]
    # the record (reports/training.json) gives three pairs' fit: ntm's pace is 200 × rnn's, so ntm on
    # the small dataset (estimated at ntm's pace) outlasts rnn and lstm on the large one (at their own)
    record = {
        "small": {"rnn": {"train_time_s": 1.0}, "lstm": {"train_time_s": 2.0}},
        "large": {"ntm": {"train_time_s": 40000.0}},
    }
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "training.json").write_text(json.dumps(record))
    assert order() == ["ntm/large", "ntm/small", "lstm/large", "rnn/large", "lstm/small", "rnn/small"]
    # a run of this project outweighs the record, and sets its architecture's pace
    run = tmp_path / "models" / "small" / "rnn" / "runs" / "seed_0" / "run.json"
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps({"train_time_s": 5000.0}))
    assert order()[:3] == ["rnn/large", "ntm/large", "rnn/small"]
    assert planned_runs(config, tmp_path)[Run("rnn", "small", 0)] == 5000.0  # the expected length the progress weighs


def test_the_progress_line_weighs_what_remains_by_the_runs_expected_lengths():
    """Runs go longest first: the time left is the expected length of the runs not done, scaled by what
    the finished ones took against what they were expected to, not the mean of the first (longest) runs
    times the runs left; a reused run costs nothing, so a project that reuses most runs says so."""
    from rnnlab.execution import Progress, Run

    runs = {Run("ntm", "d", 0): 400.0, Run("rnn", "d", 0): 40.0, Run("rnn", "d", 1): 40.0, Run("rnn", "d", 2): 40.0}
    summary = lambda seconds: {"run_time_s": seconds, "train_time_s": seconds, "epochs_trained": 1}  # noqa: E731
    progress = Progress(len(runs), 1, {str(r): s for r, s in runs.items()})
    first = progress.line(Run("ntm", "d", 0), summary(200.0))  # half its expected length: the rest at half too
    assert first.startswith("[1/4] ntm on d (seed 0): trained in 200.0 s") and first.endswith("about 1m00s left"), first
    assert progress.line(Run("rnn", "d", 0), summary(20.0)).endswith("about 0m40s left")
    assert "FAILED: NaN" in progress.line(Run("rnn", "d", 1), None, "NaN")  # a failure weighs nothing
    assert progress.line(Run("rnn", "d", 2), summary(20.0)).endswith("elapsed, done")

    two = Progress(len(runs), 2, {str(r): s for r, s in runs.items()})  # two workers: never less than the longest left
    assert two.line(Run("rnn", "d", 0), summary(40.0)).endswith("about 6m40s left")
    reusing = Progress(len(runs), 1, {str(r): s for r, s in runs.items()})
    assert reusing.line(Run("ntm", "d", 0), {"reused": True}).endswith("time left unknown")
    assert reusing.line(Run("rnn", "d", 0), summary(44.0)).endswith("about 0m08s left")  # 44 s for 440 s expected
    unplanned = Progress(3, 1)  # a tuning pass: the mean of what is done
    assert unplanned.step("a", "tuned", 30.0).endswith("about 1m00s left")


def test_without_a_prefect_server_named_the_local_workers_share_this_processs_temporary_one():
    """With no PREFECT_API_URL, Prefect starts a temporary server per process. The local cluster's workers
    inherit this process's address instead: each would otherwise start its own, and a worker that the
    cluster kills at its close (after a failed flow, say) leaves that server running. Checked in a fresh
    process, given time to start its server on a loaded machine (Prefect waits 20 s by default). Then the
    process is sent SIGTERM, as kill or a scheduler's cancel does: its temporary server stops with it."""
    check = f"""
import os, signal, urllib.request
from prefect.client.orchestration import get_client
from rnnlab.config import load_config
from rnnlab.execution import task_runner
task_runner(load_config({str(ROOT / "params.yaml")!r}))
shared = os.environ["PREFECT_API_URL"]
with urllib.request.urlopen(shared + "/health", timeout=60) as answer:
    assert answer.status == 200, answer.status
with get_client(sync_client=True) as client:
    assert str(client.api_url).rstrip("/") == shared.rstrip("/"), (client.api_url, shared)
print("shared", shared, flush=True)
os.kill(os.getpid(), signal.SIGTERM)
print("still running after SIGTERM")
"""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 128 + signal.SIGTERM, done.stdout[-2000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("shared http://127.0.0.1:"), done.stdout
    with pytest.raises(OSError):  # nothing answers there any more (connection refused)
        urllib.request.urlopen(last.split()[1] + "/health", timeout=10)
