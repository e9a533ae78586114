"""The MLflow UI, as a person opens it from `make ui`, in a real browser: it must open on training runs.

    python benchmarks/ui_check.py [--project PATH] [--port 5099] [--out docs]      (make ui-check)

Starts the project's MLflow server (as `make ui` does, on ``--port``), opens the addresses `make ui` prints
in headless Chromium (Debian's ``chromium`` package), and checks the rendered pages: the experiment
list names rnnlab's experiments, and an experiment's comparison view (``tracking.comparison_view``) opens
on its training runs with their architecture, seed and validation selection metric as columns (and a
training run of the store by name), not on the GenAI overview of traces. Writes two screenshots to
``--out`` (mlflow_experiments.png, mlflow_runs.png) and exits 1 with one line if a check fails. Needs a
project with training runs (after `make pipeline`) and chromium; the test suite does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# As a headless Chromium must start on a machine without a network (no first-run, sync or update calls).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=20000",
    "--window-size=1500,900",
]
GENAI_OVERVIEW = (
    "No data available for the selected time range"  # what MLflow 3's traces overview shows for training runs
)


def chromium(url: str, *args: str) -> str:
    binary = shutil.which("chromium")
    if binary is None:
        raise SystemExit("ui_check: chromium not found (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--port", type=int, default=5099)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    import mlflow

    from rnnlab.services import comparison_urls
    from rnnlab.tracking import COMPARISON_VIEW, UI_VIEW

    env = {**os.environ, "RNNLAB_MLFLOW_PORT": str(args.port)}
    service = [sys.executable, "-m", "rnnlab.services"]
    started = subprocess.run([*service, "start", "mlflow"], cwd=args.project, env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(
            f"ui_check: the MLflow server did not start: {started.stderr.strip() or started.stdout.strip()}"
        )
    base = f"http://127.0.0.1:{args.port}"
    try:
        client = mlflow.MlflowClient(base)
        views = dict(comparison_urls(base))
        experiments = [e for e in client.search_experiments() if e.name in views]
        if not experiments:
            raise SystemExit("ui_check: no rnnlab experiment in the store has its comparison view; run make pipeline")
        trained = "tags.`rnnlab.kind` = 'training'"
        found = [(e, client.search_runs([e.experiment_id], trained, max_results=200)) for e in experiments]
        experiment, runs = max(found, key=lambda pair: len(pair[1]))
        if not runs:
            raise SystemExit(f"ui_check: no rnnlab experiment holds a training run ({trained}); run make pipeline")
        state = json.loads(json.loads(experiment.tags[f"mlflow.sharedViewState.{COMPARISON_VIEW}"])["state"])
        metric = state["orderByKey"].split("`")[1]
        args.out.mkdir(parents=True, exist_ok=True)
        listing, page = base + UI_VIEW, views[experiment.name]
        chromium(listing, f"--screenshot={args.out / 'mlflow_experiments.png'}")
        chromium(page, f"--screenshot={args.out / 'mlflow_runs.png'}")
        problems = []
        if experiment.name not in chromium(listing, "--dump-dom"):
            problems.append(f"the experiment list at {listing} does not name {experiment.name}")
        dom = chromium(page, "--dump-dom")
        if GENAI_OVERVIEW in dom or "Run Name" not in dom:
            problems.append(f"{page} opens on the GenAI overview, not on the runs table")
        else:
            missing = [c for c in ("architecture", "seed", metric) if f">{c}<" not in dom]
            if missing:
                problems.append(f"{page}: the runs table has no column {', '.join(missing)}")
            if runs[0].info.run_name not in dom:
                problems.append(f"{page} shows a runs table without the training run {runs[0].info.run_name!r}")
        if problems:
            raise SystemExit("ui_check: " + "; ".join(problems))
        print(
            f"ui_check: {listing} lists {len(experiments)} rnnlab experiment(s); {page} opens on the training runs "
            f"of {experiment.name} ({len(runs)} found) with architecture, seed and {metric} as columns, best first; "
            f"screenshots in {args.out}"
        )
    finally:
        subprocess.run([*service, "stop", "mlflow"], cwd=args.project, env=env, capture_output=True)


if __name__ == "__main__":
    main()
