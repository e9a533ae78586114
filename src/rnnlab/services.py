"""Local services the pipeline and the user share: a Prefect server, the MLflow UI, the retraining
scheduler (the retrain flow served as a deployment) and a model server.

``python -m rnnlab.services start prefect|mlflow|scheduler`` starts one on 127.0.0.1 unless it already
answers, records its pid under ``.run/``, and waits until it is healthy. ``stop`` ends what was
started here (by recorded pid, whole process group) and nothing else. ``url NAME`` prints the
address. Both services keep their state inside the project (``.prefect/``, ``mlflow/``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rnnlab import tracking
from rnnlab.config import load_config, project_root
from rnnlab.errors import RnnlabError, exit_on_user_error

HOST = "127.0.0.1"
START_TIMEOUT_S = 120
STARTUP_SETTLE_S = 5  # a service without a health endpoint must stay up this long to count as started
STOP_TIMEOUT_S = 20


@dataclass(frozen=True)
class Service:
    name: str
    port: int | None  # None: no HTTP endpoint; healthy while its process runs
    health_path: str | None
    needs: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}" if self.port else "(no address)"

    def command(self, root: Path) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if self.name == "prefect":
            return [str(bin_dir / "prefect"), "server", "start", "--host", HOST, "--port", str(self.port)]
        if self.name == "scheduler":
            return [sys.executable, str(root / "flows" / "retrain.py"), "--serve"]
        config = load_config(root / "params.yaml")
        if self.name == "serve":
            dataset = os.environ.get("DATASET") or config.pipeline.datasets[0]
            return [
                str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/rnnlab-{dataset}@champion",
                "--env-manager", "local", "--host", HOST, "--port", str(self.port),
            ]
        return [
            str(bin_dir / "mlflow"), "server",
            "--backend-store-uri", tracking.prepare_store(config, root),
            "--default-artifact-root", tracking.artifact_root(config, root),
            "--host", HOST, "--port", str(self.port), "--workers", "1",
        ]


SERVICES = {
    "prefect": Service("prefect", int(os.environ.get("RNNLAB_PREFECT_PORT", "4200")), "/api/health"),
    "mlflow": Service("mlflow", int(os.environ.get("RNNLAB_MLFLOW_PORT", "5000")), "/health"),
    "scheduler": Service("scheduler", None, None, needs=("prefect",)),
    "serve": Service("serve", int(os.environ.get("RNNLAB_SERVE_PORT", "5001")), "/ping"),
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
    path = pid_file(root, svc)
    return path.is_file() and _group_alive(int(path.read_text()))


def environment(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(root / ".prefect"))
    env.setdefault("PREFECT_API_URL", SERVICES["prefect"].url + "/api")
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
    if healthy(svc, root):
        print(f"{svc.name}: already answering at {svc.url}")
        return svc.url
    log = root / ".run" / f"{svc.name}.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            svc.command(root), cwd=root, env=environment(root), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own process group, for stop
        )
    pid_file(root, svc).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    settle = time.monotonic() + STARTUP_SETTLE_S
    while not healthy(svc, root) or (svc.health_path is None and time.monotonic() < settle):
        if process.poll() is not None:
            raise RnnlabError(f"{svc.name} server exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            stop(name, root)
            raise RnnlabError(f"{svc.name} server did not answer at {svc.url} within {START_TIMEOUT_S} s; see {log}")
        time.sleep(0.5)
    where = f"at {svc.url} " if svc.port else ""
    print(f"{svc.name}: started {where}(pid {process.pid}, log {log.relative_to(root)})")
    return svc.url


def stop(name: str, root: Path) -> None:
    svc = service(name)
    path = pid_file(root, svc)
    if not path.is_file():
        return
    pid = int(path.read_text())
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


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.services", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "url", "status"])
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
        else:
            svc = service(name)
            print(f"{svc.name}: {'up' if healthy(svc, root) else 'down'} at {svc.url}")


if __name__ == "__main__":
    main()
