"""retrain: bring the data up to date, reproduce only stale stages, and record the champion decision.

    python flows/retrain.py            one retraining pass now
    python flows/retrain.py --serve    serve it as a deployment on the schedule in params.yaml
                                       (`make schedule`; needs the Prefect server: PREFECT_API_URL)

Each pass re-ingests every source (an unchanged source gives byte-identical output, so nothing
downstream is stale), asks DVC which stages are stale, and reproduces only those. Compare then
promotes a new champion only if it beats the current one on validation by the margin in
params.yaml. The decision is a Prefect markdown artifact and a line in reports/retrain_history.jsonl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import datetime, timezone

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from rnnlab.compare import DECISIONS_FILE
from rnnlab.config import load_config, project_root
from rnnlab.errors import exit_on_user_error
from rnnlab.paths import reports_dir
from rnnlab.plan import plan, write_plan

HISTORY_FILE = "retrain_history.jsonl"


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], cwd=project_root(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


@task
def refresh_sources(datasets: list[str]) -> None:
    for dataset in datasets:
        dvc("repro", "--force", "--single-item", f"ingest@{dataset}")


@task
def stale_stages() -> list[str]:
    return sorted(json.loads(dvc("status", "--json") or "{}"))


@task
def reproduce() -> list[str]:
    output = dvc("repro")
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


@task
def record(entry: dict) -> str:
    with open(reports_dir(project_root()) / HISTORY_FILE, "a") as history:
        history.write(json.dumps(entry) + "\n")
    lines = [f"# Retraining {entry['time']}", ""]
    if not entry["retrained"]:
        lines.append("Data and params unchanged since the last run: nothing retrained, champions kept.")
    else:
        lines += [f"Stale stages: {', '.join(f'`{s}`' for s in entry['stale'])}; reproduced: "
                  f"{', '.join(f'`{s}`' for s in entry['reproduced']) or 'none (restored from the DVC run cache)'}", ""]
        if "decisions" not in entry:
            lines.append("No new comparison ran: champions kept.")
        for d in entry.get("decisions", {}).values():
            verdict = "**promoted**" if d["promoted"] else "kept"
            lines.append(f"- `{d['registered_model']}`: champion version {d['champion_version']} {verdict} — {d['reason']}")
    markdown = "\n".join(lines)
    create_markdown_artifact(markdown, key="retrain-decision", description="rnnlab scheduled retraining")
    return markdown


@flow(name="retrain", log_prints=True)
def retrain() -> dict:
    config = load_config()
    write_plan(project_root(), config)  # params.yaml may have changed since the last run
    refresh_sources(plan(config)["plan"]["ingest"])  # built-in sources; imported data is tracked by DVC as it is
    stale = stale_stages()
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "stale": stale, "retrained": bool(stale)}
    if stale:
        entry["reproduced"] = reproduce()
        if "compare" in entry["reproduced"]:  # a new comparison made a new champion decision
            entry["decisions"] = json.loads((reports_dir(project_root()) / DECISIONS_FILE).read_text())
    print(record(entry))
    return entry


def serve() -> None:
    schedule = load_config().schedule
    when = {"interval": schedule.interval_seconds} if schedule.interval_seconds is not None else {"cron": schedule.cron}
    retrain.serve(name="rnnlab-retrain", limit=1, **when)  # one pass at a time: passes share DVC's lock


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="serve as a scheduled deployment")
    if parser.parse_args().serve:
        serve()
    else:
        retrain()


if __name__ == "__main__":
    main()
