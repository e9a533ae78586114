"""Local services the pipeline and the user share: a Prefect server, the MLflow UI, the retraining
scheduler (the retrain flow served as a deployment) and a model server.

``python -m rnnlab.services start prefect|mlflow|scheduler|serve`` starts one on 127.0.0.1 unless it
already answers, records its process under ``.run/NAME.pid`` (pid, start time and command line, as JSON;
the model server's record also names the dataset and the registered model version it serves), and waits
until it is healthy. ``stop`` signals a recorded process group only while the process at that pid still
has the recorded start time and command line: a pid reused by another process (after a reboot, say) is
left alone and its record removed. ``url NAME`` prints the address. The servers keep their state inside
the project (``.prefect/``, ``mlflow/``).

The Prefect server accepts cross-origin requests only from its own UI's origin and requires a CSRF token
on every state-changing request (Prefect's client fetches one itself). The MLflow server answers only a
Host of 127.0.0.1 or localhost on its port and refuses writes from web pages of other origins, except
pages served from localhost/127.0.0.1 on any port, which MLflow 3.17 always lets through.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from rnnlab import tracking
from rnnlab.config import load_config, project_root
from rnnlab.errors import RnnlabError, exit_on_user_error

HOST = "127.0.0.1"
START_TIMEOUT_S = 120
STARTUP_SETTLE_S = 5  # a service without a health endpoint must stay up this long to count as started
STOP_TIMEOUT_S = 20
EXEC_TIMEOUT_S = 30  # a started service's process runs its own command (it has exec'd) within this
# A recorded start time matches the process's within this: Linux derives a start time from the boot time,
# which moves by up to a second when the wall clock is stepped.
START_TIME_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Service:
    name: str
    default_port: int | None  # None: no HTTP endpoint; healthy while its recorded process runs
    health_path: str | None
    needs: tuple[str, ...] = ()

    @property
    def port(self) -> int | None:
        """The default port, or ``RNNLAB_<NAME>_PORT`` from the environment when it is set."""
        if self.default_port is None:
            return None
        variable = f"RNNLAB_{self.name.upper()}_PORT"
        raw = os.environ.get(variable, str(self.default_port))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise RnnlabError(f"{variable}={raw!r} is not a port number (1-65535)")
        return int(raw)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}" if self.port else "(no address)"

    def command(self, root: Path, model: dict | None = None) -> list[str]:
        """The command line that starts the service; ``model``: what ``serve`` serves (``wanted_model``)."""
        bin_dir = Path(sys.executable).parent
        if self.name == "prefect":
            return [str(bin_dir / "prefect"), "server", "start", "--host", HOST, "--port", str(self.port)]
        if self.name == "scheduler":
            return [sys.executable, str(root / "flows" / "retrain.py"), "--serve"]
        if self.name == "serve":
            assert model is not None, "serve needs the model version it serves"
            return [
                str(bin_dir / "mlflow"),
                "models",
                "serve",
                "-m",
                model["model_uri"],
                "--env-manager",
                "local",
                "--host",
                HOST,
                "--port",
                str(self.port),
            ]
        config = load_config(root / "params.yaml")
        return [
            str(bin_dir / "mlflow"),
            "server",
            "--backend-store-uri",
            tracking.prepare_store(config, root),
            "--default-artifact-root",
            tracking.artifact_root(config, root),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            # Writes from a web page of another origin are refused (MLflow always lets localhost origins
            # through, whatever this says), and a Host other than this address (DNS rebinding) gets 403.
            "--cors-allowed-origins",
            self.url,
            "--allowed-hosts",
            f"{HOST}:{self.port},localhost:{self.port}",
            "--x-frame-options",
            "SAMEORIGIN",
        ]


SERVICES = {
    "prefect": Service("prefect", 4200, "/api/health"),
    "mlflow": Service("mlflow", 5000, "/health"),
    "scheduler": Service("scheduler", None, None, needs=("prefect",)),
    "serve": Service("serve", 5001, "/ping"),
}


def service(name: str) -> Service:
    if name not in SERVICES:
        raise RnnlabError(f"unknown service {name!r} (allowed: {', '.join(SERVICES)})")
    return SERVICES[name]


def healthy(svc: Service, root: Path | None = None) -> bool:
    if svc.health_path is None:
        return root is not None and _recorded_alive(root, svc)
    try:
        with urllib.request.urlopen(svc.url + svc.health_path, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def pid_file(root: Path, svc: Service) -> Path:
    return root / ".run" / f"{svc.name}.pid"


def _recorded_alive(root: Path, svc: Service) -> bool:
    return recorded_process(root, svc)[0] is not None


def process_record(pid: int) -> dict:
    """What identifies a running process beyond its pid, which the system reuses: start time, command line."""
    process = psutil.Process(pid)
    return {"pid": pid, "create_time": process.create_time(), "cmdline": process.cmdline()}


def launched_record(process: subprocess.Popen, command: list[str]) -> dict:
    """The record of a process just started with ``command``, read once it shows that command.

    ``Popen`` returns as soon as exec has begun, and for a moment after that the kernel shows the new
    process with an empty command line: a record read then named no command, and the next start took the
    service's own server for a stranger on its port. After exec the command line ends with ``command``
    (a script run through its ``#!`` line shows as ``interpreter script args``)."""
    deadline = time.monotonic() + EXEC_TIMEOUT_S
    while True:
        record = process_record(process.pid)  # NoSuchProcess once it has exited and been reaped
        if record["cmdline"][-len(command) :] == command:
            return record
        if process.poll() is not None:
            raise psutil.NoSuchProcess(process.pid)
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: nothing is left running unrecorded
            process.wait()
            raise RnnlabError(f"pid {process.pid} did not run {shlex.join(command)[:100]!r} within {EXEC_TIMEOUT_S} s")
        time.sleep(0.02)


def recorded_process(root: Path, svc: Service) -> tuple[dict | None, str]:
    """(the record, "") while ``svc``'s pid file names the live process it was written for, that pid with
    the recorded start time and command line; (None, why not) otherwise; (None, "") without a pid file."""
    path = pid_file(root, svc)
    if not path.is_file():
        return None, ""
    try:
        record = json.loads(path.read_text())
        pid, started, cmdline = record["pid"], record["create_time"], record["cmdline"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None, "it is not a process record written by rnnlab.services"
    well_formed = (
        type(pid) is int
        and pid > 1
        and type(started) in (int, float)
        and isinstance(cmdline, list)
        and cmdline
        and all(isinstance(part, str) for part in cmdline)
    )
    if not well_formed:
        return None, "it is not a process record written by rnnlab.services"
    try:
        actual = process_record(pid)
    except psutil.NoSuchProcess:  # ZombieProcess too: it has exited
        return None, f"pid {pid} is not running"
    except psutil.AccessDenied:
        return None, f"pid {pid} belongs to another user"
    if abs(actual["create_time"] - started) > START_TIME_TOLERANCE_S:
        when = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
        return None, f"pid {pid} started at {when(actual['create_time'])}, not at the recorded {when(started)}"
    if actual["cmdline"] != cmdline:
        return None, f"pid {pid} runs {shlex.join(actual['cmdline'])[:100]!r}, not the recorded command"
    return record, ""


def drop_stale_record(root: Path, svc: Service) -> dict | None:
    """The record of ``svc``'s live process; a pid file naming no such process is removed, with one line."""
    record, why = recorded_process(root, svc)
    if record is None and why:
        path = pid_file(root, svc)
        path.unlink(missing_ok=True)
        print(f"{svc.name}: removed {path.relative_to(root)} and signalled nothing: {why}")
    return record


def wanted_model(root: Path) -> dict:
    """What ``serve`` should serve: the champion of ``$DATASET`` (default: the pipeline's first dataset),
    resolved to its registered version, so that a later promotion is visible as a different version."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    config = load_config(root / "params.yaml")
    dataset = os.environ.get("DATASET") or config.pipeline.datasets[0]
    config.dataset(dataset)  # one line naming the defined datasets when it is not one of them
    uri = tracking.tracking_uri(config, root)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise RnnlabError(
            f"no MLflow store at {uri.removeprefix('sqlite:///')}: run the pipeline first (make pipeline)"
        )
    name = f"rnnlab-{dataset}"
    try:
        version = MlflowClient(uri).get_model_version_by_alias(name, "champion").version
    except MlflowException:
        raise RnnlabError(
            f"no champion to serve for dataset {dataset!r}: {name}@champion is not in {uri} "
            "(make pipeline registers one)"
        ) from None
    return {"dataset": dataset, "version": str(version), "model_uri": f"models:/{name}/{version}"}


def serve_change(recorded: dict, wanted: dict) -> str | None:
    """Why the running model server, started with ``recorded``, does not serve ``wanted`` (None: it does)."""
    if recorded.get("dataset") != wanted["dataset"]:
        return f"it serves dataset {recorded.get('dataset')!r}, not {wanted['dataset']!r}"
    if str(recorded.get("version")) != wanted["version"]:
        return (
            f"it serves version {recorded.get('version')} of rnnlab-{wanted['dataset']}, "
            f"the champion is version {wanted['version']}"
        )
    return None


def environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    # This environment's tools first: `mlflow models serve` starts uvicorn by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PREFECT_HOME", str(root / ".prefect"))
    env.setdefault("PREFECT_API_URL", SERVICES["prefect"].url + "/api")
    # Whatever the calling shell says: a web page of another origin may not read the Prefect API's answers
    # (CORS), and a state-changing request needs a CSRF token, which a page cannot fetch cross-origin;
    # Prefect's client fetches and sends one itself when its CSRF support is on.
    env["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] = SERVICES["prefect"].url
    env["PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"] = "true"
    env["PREFECT_CLIENT_CSRF_SUPPORT_ENABLED"] = "true"
    env["MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE"] = "false"
    # The project's own store, whatever the calling shell says: it is where the pipeline registered its
    # champions (an MLFLOW_TRACKING_URI left over from another project would serve the wrong registry).
    env["MLFLOW_TRACKING_URI"] = tracking.tracking_uri(load_config(root / "params.yaml"), root)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def start(name: str, root: Path) -> str:
    svc = service(name)
    for dependency in svc.needs:
        start(dependency, root)
    model = wanted_model(root) if svc.name == "serve" else None
    record = drop_stale_record(root, svc)
    if healthy(svc, root):
        if svc.name == "serve":
            if record is None:
                raise RnnlabError(
                    f"port {svc.port} answers, but not with a model server started here: "
                    "stop what listens there or set RNNLAB_SERVE_PORT to a free port"
                )
            change = serve_change(record, model)
            if change is None:
                print(f"{svc.name}: already serving {model['model_uri']} at {svc.url}")
                return svc.url
            print(f"{svc.name}: {change}; restarting it with {model['model_uri']}")
            stop(name, root)
        else:
            whose = "" if record else " (not started here: its own settings apply)"
            print(f"{svc.name}: already answering at {svc.url}{whose}")
            return svc.url
    elif record is not None:  # ours but not answering: replaced, so no process is left without a record
        stop(name, root)
    log = root / ".run" / f"{svc.name}.log"
    log.parent.mkdir(exist_ok=True)
    command = svc.command(root, model)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=environment(root),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, for stop
        )
    try:
        record = {**launched_record(process, command), **(model or {})}
    except psutil.NoSuchProcess:
        process.wait()
        raise RnnlabError(f"{svc.name} server exited with {process.returncode}; see {log}") from None
    pid_file(root, svc).write_text(json.dumps(record) + "\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    settle = time.monotonic() + STARTUP_SETTLE_S
    while not healthy(svc, root) or (svc.health_path is None and time.monotonic() < settle):
        if process.poll() is not None:
            pid_file(root, svc).unlink(missing_ok=True)
            raise RnnlabError(f"{svc.name} server exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            stop(name, root)
            raise RnnlabError(f"{svc.name} server did not answer at {svc.url} within {START_TIMEOUT_S} s; see {log}")
        time.sleep(0.5)
    where = (f"{model['model_uri']} " if model else "") + (f"at {svc.url} " if svc.port else "")
    print(f"{svc.name}: started {where}(pid {process.pid}, log {log.relative_to(root)})")
    return svc.url


def stop(name: str, root: Path) -> None:
    svc = service(name)
    path = pid_file(root, svc)
    record = drop_stale_record(root, svc)
    if record is None:
        return
    pid = record["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        print(f"{svc.name}: stopped (pid {pid})")
    except ProcessLookupError:
        pass
    path.unlink(missing_ok=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    try:  # reap our own child if it is one, so it does not linger as a zombie
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    return True


def comparison_urls(base: str) -> list[tuple[str, str]]:
    """(name, address of its comparison view) of every rnnlab experiment the MLflow server at ``base`` holds
    with that view (``tracking.comparison_view``; made with the experiment, added when a run next logs)."""
    key = f"mlflow.sharedViewState.{tracking.COMPARISON_VIEW}"
    with urllib.request.urlopen(f"{base}/api/2.0/mlflow/experiments/search?max_results=1000", timeout=10) as answer:
        experiments = json.load(answer).get("experiments", [])
    return sorted(
        (e["name"], tracking.comparison_url(base, e["experiment_id"]))
        for e in experiments
        if e["name"].startswith(tracking.EXPERIMENT_PREFIX)
        and e.get("lifecycle_stage") == "active"
        and any(t["key"] == key for t in e.get("tags", []))
    )


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.services", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "url", "view", "status"])
    parser.add_argument("names", nargs="*", default=None)
    args = parser.parse_args(argv)
    root = project_root()
    names = args.names or (list(reversed(SERVICES)) if args.action == "stop" else ["prefect", "mlflow"])
    for name in names:
        if args.action == "start":
            start(name, root)
        elif args.action == "stop":
            stop(name, root)
        elif args.action == "url":
            print(service(name).url)
        elif args.action == "view":  # where a person opens it: MLflow on its training-runs pages
            print(service(name).url + (tracking.UI_VIEW if name == "mlflow" else ""))
            if name == "mlflow" and healthy(service(name), root):
                for experiment, url in comparison_urls(service(name).url):
                    print(f"  {experiment}: {url}")
        else:
            svc = service(name)
            print(f"{svc.name}: {'up' if healthy(svc, root) else 'down'} at {svc.url}")


if __name__ == "__main__":
    main()
