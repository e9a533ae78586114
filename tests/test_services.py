"""The local services (rnnlab.services) with real processes on 127.0.0.1, no mocks:

- a pid file is trusted only while the process at that pid has the recorded start time and command line;
- the model server serves the champion's registered version of the asked dataset, and is replaced when
  the dataset or the champion changes; a server on the port that was not started here is not used;
- the Prefect server grants CORS only to its own UI's origin and refuses writes without a CSRF token, while
  Prefect's own client keeps working; the MLflow server refuses other origins' writes and foreign Host names.

One Prefect server, one MLflow server and one model server (started twice) serve the whole module; the
Prefect and MLflow servers start side by side, and the stops at the end run side by side.
"""

from __future__ import annotations

import http.server
import json
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from rnnlab import services, tracking
from rnnlab.config import load_config
from rnnlab.errors import RnnlabError
from tests.conftest import copy_project, free_port

DATASET = "japanese_vowels"  # a dataset params.yaml defines; the module registers two versions of its model
OTHER_DATASET = "sunspots"  # registered too, one version
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A project copy whose services run on free ports, with their state inside it."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_HOME", str(root / ".prefect"))
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        patch.delenv("PREFECT_API_URL", raising=False)
        for name in ("prefect", "mlflow", "serve"):
            patch.setenv(f"RNNLAB_{name.upper()}_PORT", str(free_port()))
        patch.setenv("DATASET", DATASET)
        patch.chdir(root)
        yield root
        side_by_side(services.stop, root, ("serve", "mlflow", "prefect"))


def side_by_side(action, root: Path, names: tuple[str, ...]) -> None:
    """``action(name, root)`` for each name in a thread of its own; the first error is raised here."""
    failures = []

    def run(name):
        try:
            action(name, root)
        except Exception as err:  # re-raised below, in the caller's thread
            failures.append(err)

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def request(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    """(status, headers, body text) of one HTTP request; an HTTP error status is an answer too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


# --- process records: stop and status trust a pid file only for the process it was written for ----------


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = copy_project(tmp_path)
    monkeypatch.chdir(root)
    (root / ".run").mkdir()
    return root


@pytest.fixture
def unrelated():
    """A live process this module did not start as a service, in a process group of its own."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def write_pid_file(root: Path, name: str, content: str | bytes | dict) -> Path:
    path = root / ".run" / f"{name}.pid"
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def assert_spared(unrelated, path: Path, capsys, reason: str) -> None:
    time.sleep(0.2)  # a SIGTERM would have ended sleep by now
    assert unrelated.poll() is None, "stop signalled a process it did not start"
    assert not path.exists()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "signalled nothing" in lines[0] and reason in lines[0], lines


def test_stop_spares_a_live_process_named_by_a_plain_pid_file(project, unrelated, capsys):
    path = write_pid_file(project, "scheduler", f"{unrelated.pid}\n")
    services.stop("scheduler", project)
    assert_spared(unrelated, path, capsys, "not a process record")


def test_stop_spares_a_process_with_another_start_time(project, unrelated, capsys):
    record = services.process_record(unrelated.pid)
    path = write_pid_file(project, "scheduler", {**record, "create_time": record["create_time"] - 3600})
    services.stop("scheduler", project)
    assert_spared(unrelated, path, capsys, f"pid {unrelated.pid} started at")


def test_stop_spares_a_process_running_another_command(project, unrelated, capsys):
    record = services.process_record(unrelated.pid)
    path = write_pid_file(project, "scheduler", {**record, "cmdline": [sys.executable, "flows/retrain.py", "--serve"]})
    services.stop("scheduler", project)
    assert_spared(unrelated, path, capsys, "not the recorded command")


@pytest.mark.parametrize("content", ["not a pid\n", "", "0\n", "[4, 2]\n", b"\xff\xfe\x00", '{"pid": 1}'])
def test_unreadable_pid_file_is_removed_with_one_line(project, capsys, content):
    path = write_pid_file(project, "scheduler", content)
    services.main(["stop", "scheduler"])
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "scheduler: removed .run/scheduler.pid and signalled nothing: it is not a process record written by "
        "rnnlab.services"
    ]
    assert captured.err == "" and not path.exists()


def test_stop_ends_the_recorded_process_group(project, capsys):
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not psutil.Process(leader.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = psutil.Process(leader.pid).children()
        path = write_pid_file(project, "scheduler", services.process_record(leader.pid))
        services.stop("scheduler", project)
        assert leader.poll() is not None
        child.wait(timeout=5)  # the group's other member ended too (psutil.TimeoutExpired otherwise)
        assert not path.exists()
        assert capsys.readouterr().out.splitlines() == [f"scheduler: stopped (pid {leader.pid})"]
    finally:
        leader.kill()
        leader.wait()


def test_a_started_process_is_recorded_once_it_shows_the_command_it_was_started_for():
    # Right after Popen returns, the kernel can show a process's command line as empty for a moment (exec
    # has begun, the new arguments are not in place); the record waits for the command itself. Here the
    # process shows another command for a second before it runs the one the record waits for.
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    process = subprocess.Popen(["sh", "-c", f"sleep 1; exec {shlex.join(command)}"], start_new_session=True)
    try:
        assert services.process_record(process.pid)["cmdline"] != command
        record = services.launched_record(process, command)
        assert record["cmdline"] == command
        assert record == services.process_record(process.pid)
    finally:
        process.kill()
        process.wait()


def test_a_started_process_that_exits_before_running_its_command_is_reported():
    process = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    process.wait()
    with pytest.raises(psutil.NoSuchProcess):
        services.launched_record(process, [sys.executable, "-c", "pass"])


def test_status_counts_only_the_recorded_process(project, unrelated):
    scheduler = services.service("scheduler")
    write_pid_file(project, "scheduler", f"{unrelated.pid}\n")
    assert not services.healthy(scheduler, project)
    record = services.process_record(unrelated.pid)
    write_pid_file(project, "scheduler", {**record, "cmdline": ["sleep", "61"]})
    assert not services.healthy(scheduler, project)
    write_pid_file(project, "scheduler", record)
    assert services.healthy(scheduler, project)


# --- the model server: the champion's version of the asked dataset, and nothing it did not start --------


@pytest.fixture(scope="module")
def registry(shared):
    """The project's MLflow store with rnnlab-<DATASET> versions 1 and 2 (answering 1 and 2; the champion
    is version 1) and rnnlab-<OTHER_DATASET> version 1."""
    import mlflow
    from mlflow import MlflowClient

    class Constant(mlflow.pyfunc.PythonModel):  # defined here so that cloudpickle stores it by value
        def __init__(self, value):
            self.value = value

        def predict(self, context, model_input, params=None):
            return [self.value] * len(model_input)

    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    config = load_config(shared / "params.yaml")
    uri = tracking.prepare_store(config, shared)
    client = MlflowClient(uri)
    with _use_tracking_uri(uri):  # set for the fluent API below, the caller's URI (and environment) after
        for dataset, values in ((DATASET, (1, 2)), (OTHER_DATASET, (7,))):
            experiment = tracking.ensure_experiment(client, config, shared, dataset)
            for value in values:
                with mlflow.start_run(experiment_id=experiment):
                    info = mlflow.pyfunc.log_model(
                        name="model", python_model=Constant(value), pip_requirements=["mlflow"]
                    )
                mlflow.register_model(info.model_uri, f"rnnlab-{dataset}")
            client.set_registered_model_alias(f"rnnlab-{dataset}", "champion", "1")
    return client


def predictions(port: int) -> list:
    status, _, body = request(
        f"http://127.0.0.1:{port}/invocations", "POST", {"dataframe_split": {"columns": ["x"], "data": [[0.0]]}}
    )
    assert status == 200, body
    return json.loads(body)["predictions"]


def test_serve_change_compares_dataset_and_champion_version(shared, registry, monkeypatch):
    monkeypatch.setenv("DATASET", DATASET)
    wanted = services.wanted_model(shared)
    assert wanted == {"dataset": DATASET, "version": "1", "model_uri": f"models:/rnnlab-{DATASET}/1"}
    running = {"pid": 123, "create_time": 0.0, "cmdline": ["mlflow"], **wanted}
    assert services.serve_change(running, wanted) is None
    monkeypatch.setenv("DATASET", OTHER_DATASET)
    assert services.serve_change(running, services.wanted_model(shared)) == (
        f"it serves dataset {DATASET!r}, not {OTHER_DATASET!r}"
    )
    monkeypatch.setenv("DATASET", DATASET)
    registry.set_registered_model_alias(f"rnnlab-{DATASET}", "champion", "2")
    try:
        promoted = services.wanted_model(shared)
        assert promoted["model_uri"] == f"models:/rnnlab-{DATASET}/2"
        assert services.serve_change(running, promoted) == (
            f"it serves version 1 of rnnlab-{DATASET}, the champion is version 2"
        )
    finally:
        registry.set_registered_model_alias(f"rnnlab-{DATASET}", "champion", "1")


def test_serve_names_an_unknown_dataset_or_a_missing_champion(shared, registry, monkeypatch):
    monkeypatch.setenv("DATASET", "no_such_dataset")
    with pytest.raises(RnnlabError, match="dataset 'no_such_dataset' is not defined in params.yaml"):
        services.wanted_model(shared)
    monkeypatch.setenv("DATASET", "basic_motions")  # defined, never registered here
    with pytest.raises(RnnlabError, match="no champion to serve for dataset 'basic_motions'"):
        services.wanted_model(shared)


def test_serve_refuses_a_port_that_another_server_answers(shared, registry, monkeypatch):
    class Pong(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pong)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    monkeypatch.setenv("RNNLAB_SERVE_PORT", str(other.server_address[1]))
    monkeypatch.setenv("DATASET", DATASET)
    try:
        with pytest.raises(RnnlabError, match=f"port {other.server_address[1]} answers, but not with a model server"):
            services.start("serve", shared)
    finally:
        other.shutdown()
        other.server_close()


def test_serve_restarts_when_the_champion_moves(shared, registry, capsys):
    port = services.service("serve").port
    record_path = services.pid_file(shared, services.service("serve"))
    try:
        services.start("serve", shared)
        assert predictions(port) == [1]
        registry.set_registered_model_alias(f"rnnlab-{DATASET}", "champion", "2")
        capsys.readouterr()
        services.start("serve", shared)
        out = capsys.readouterr().out
        assert predictions(port) == [2], "the server started before the promotion still answers"
        assert f"serve: it serves version 1 of rnnlab-{DATASET}, the champion is version 2; restarting it" in out
        record = json.loads(record_path.read_text())
        assert (record["dataset"], record["version"]) == (DATASET, "2")
        assert record["model_uri"] == f"models:/rnnlab-{DATASET}/2"
        services.start("serve", shared)
        assert capsys.readouterr().out.startswith(f"serve: already serving models:/rnnlab-{DATASET}/2")
    finally:
        registry.set_registered_model_alias(f"rnnlab-{DATASET}", "champion", "1")
        services.stop("serve", shared)


# --- the Prefect and MLflow servers: their own UI's origin only, CSRF tokens for Prefect's writes ---------


@pytest.fixture(scope="module")
def servers(shared):
    """The Prefect and MLflow servers, started side by side (each start returns once its server answers)."""
    side_by_side(services.start, shared, ("prefect", "mlflow"))
    return {name: services.service(name).url for name in ("prefect", "mlflow")}


@pytest.fixture(scope="module")
def prefect(servers):
    return servers["prefect"]


def test_prefect_start_records_pid_start_time_and_command(shared, prefect):
    record = json.loads(services.pid_file(shared, services.service("prefect")).read_text())
    process = psutil.Process(record["pid"])
    assert record["create_time"] == process.create_time() and record["cmdline"] == process.cmdline()
    assert "prefect" in " ".join(record["cmdline"])


def test_prefect_grants_cors_only_to_its_own_ui(prefect):
    _, headers, _ = request(prefect + "/api/health", headers={"Origin": EVIL})
    assert headers.get("Access-Control-Allow-Origin") is None
    status, headers, _ = request(
        prefect + "/api/flows/",
        "OPTIONS",
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status == 400 and headers.get("Access-Control-Allow-Origin") is None
    _, headers, _ = request(prefect + "/api/health", headers={"Origin": prefect})
    assert headers.get("Access-Control-Allow-Origin") == prefect


def test_prefect_refuses_writes_without_a_csrf_token(prefect):
    status, _, body = request(prefect + "/api/flows/", "POST", {"name": "written-by-a-web-page"})
    assert status == 403 and "CSRF" in body
    assert request(prefect + "/api/flows/name/written-by-a-web-page")[0] == 404


def test_prefect_client_runs_a_flow_against_the_protected_server(shared, prefect):
    script = (
        "import asyncio\n"
        "from prefect import flow, get_client\n"
        "@flow(name='csrf-check')\n"
        "def check():\n"
        "    return 42\n"
        "assert check() == 42\n"
        "async def names():\n"
        "    async with get_client() as client:\n"
        "        return [f.name for f in await client.read_flows()]\n"
        "print(asyncio.run(names()))\n"
    )
    env = services.environment(shared)
    assert env["PREFECT_API_URL"] == prefect + "/api"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=shared, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "csrf-check" in done.stdout.splitlines()[-1]
    status, _, body = request(prefect + "/api/flows/name/csrf-check")
    assert status == 200, body


def test_mlflow_ui_refuses_other_origins_and_host_names(servers):
    url = servers["mlflow"]
    create = url + "/api/2.0/mlflow/experiments/create"
    status, _, body = request(create, "POST", {"name": "from-evil"}, {"Origin": EVIL})
    assert status == 403, body
    port = services.service("mlflow").port
    status, _, body = request(create, "POST", {"name": "via-rebinding"}, {"Host": f"10.0.0.7:{port}"})
    assert status == 403, body
    status, headers, body = request(create, "POST", {"name": "from-the-ui"}, {"Origin": url})
    assert status == 200, body
    assert headers.get("Access-Control-Allow-Origin") == url


def test_make_ui_prints_each_experiments_comparison_view(shared, servers):
    """`make ui` (services view mlflow) lists, under the experiment list, the comparison view of every
    rnnlab experiment that holds it: an address MLflow's page opens with that view."""
    from mlflow import MlflowClient

    url = servers["mlflow"]
    client = MlflowClient(url)
    made = tracking.ensure_experiment(client, load_config(shared / "params.yaml"), shared, "sunspots")
    client.create_experiment("rnnlab/without-a-view")
    client.create_experiment("someone-elses")
    listed = dict(services.comparison_urls(url))
    assert listed["rnnlab/sunspots"] == tracking.comparison_url(url, made)
    assert "rnnlab/without-a-view" not in listed and "someone-elses" not in listed
    shown = subprocess.run(
        [sys.executable, "-m", "rnnlab.services", "view", "mlflow"], cwd=shared, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == url + tracking.UI_VIEW
    assert f"  rnnlab/sunspots: {tracking.comparison_url(url, made)}" in shown.stdout.splitlines()
