"""retrain: bring the data up to date, reproduce only stale stages, and record the champion decision.

    python flows/retrain.py            one retraining pass now
    python flows/retrain.py --serve    serve it as a deployment on the schedule in params.yaml
                                       (`make schedule`; needs the Prefect server: PREFECT_API_URL)

Each pass re-ingests every source (an unchanged source gives byte-identical output, so nothing
downstream is stale), asks DVC which stages are stale, and reproduces only those. Compare then
promotes a new champion only if it beats the current one on validation by the margin in
params.yaml. The decision is a Prefect markdown artifact and a line in reports/retrain_history.jsonl.

A pass holds the project lock (a ``make pipeline`` or an import running at the same time makes it
skip, saying so), and trains only what is committed: when code, params or data pointers differ
from the commit it refuses, saying which files. Every pass writes its line, a failed one too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from rnnlab import tracking
from rnnlab.config import load_config, project_root
from rnnlab.errors import exit_on_user_error
from rnnlab.lock import ProjectBusy, project_lock
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
    if datasets:  # one DVC call: no targets would mean every stage
        dvc("repro", "--force", "--single-item", *(f"ingest@{dataset}" for dataset in datasets))


@task
def stale_stages() -> list[str]:
    return sorted(json.loads(dvc("status", "--json") or "{}"))


@task
def reproduce() -> list[str]:
    output = dvc("repro")
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


@task
def record(entry: dict) -> str:
    history = reports_dir(project_root()) / HISTORY_FILE
    history.parent.mkdir(parents=True, exist_ok=True)
    with open(history, "a") as out:  # one short line per pass: appended whole
        out.write(json.dumps(entry) + "\n")
    markdown = "\n".join([f"# Retraining {entry['time']}", "", *summary_lines(entry)])
    create_markdown_artifact(markdown, key="retrain-decision", description="rnnlab scheduled retraining")
    return markdown


def summary_lines(entry: dict) -> list[str]:
    """What a pass did, in words."""
    for outcome in ("refused", "skipped", "failed"):
        if outcome in entry:
            return [f"Retraining {outcome}: {entry[outcome]}. Champions kept."]
    if not entry["retrained"]:
        return ["Data and params unchanged since the last run: nothing retrained, champions kept."]
    lines = [
        f"Stale stages: {', '.join(f'`{s}`' for s in entry['stale'])}; reproduced: "
        f"{', '.join(f'`{s}`' for s in entry['reproduced']) or 'none (restored from the DVC run cache)'}",
        "",
    ]
    if "decisions" not in entry:
        lines.append("No new comparison ran: champions kept.")
    for d in entry.get("decisions", {}).values():
        verdict = "**promoted**" if d["promoted"] else "kept"
        lines.append(f"- `{d['registered_model']}`: champion version {d['champion_version']} {verdict} — {d['reason']}")
    return lines


def uncommitted(root) -> str | None:
    """Why the working tree is not what a scheduled pass may train from (None: it is)."""
    changed = tracking.changed_sources(root)
    if changed is None:
        return f"{root} is not a git checkout, so the code and params a pass would train with are not recorded"
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return (
            f"the working tree differs from commit {tracking.git_commit(root)[:12]} ({shown}); commit or revert first"
        )
    return None


@flow(name="retrain", log_prints=True)
def retrain() -> dict:
    root = project_root()
    entry: dict = {"time": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        with project_lock(root, "the scheduled retrain"):
            why = uncommitted(root)
            if why:
                entry["refused"] = why
            else:
                _retrain(root, entry)
    except ProjectBusy as busy:
        entry["skipped"] = str(busy)
    except BaseException as err:
        entry["failed"] = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[-1][:500]}"
        print(record(entry))
        raise
    print(record(entry))
    return entry


def _retrain(root, entry: dict) -> None:
    config = load_config()
    write_plan(root, config)  # params.yaml may have changed since the last run
    dvc("repro", "--single-item", "compose")  # its record of params.effective.yaml, as write_plan wrote it
    refresh_sources(plan(config)["plan"]["ingest"])  # built-in sources; imported data is tracked by DVC as it is
    stale = entry["stale"] = stale_stages()
    entry["retrained"] = bool(stale)
    if stale:
        entry["reproduced"] = reproduce()
        if "compare" in entry["reproduced"]:  # a new comparison made a new champion decision
            # imported here: rnnlab.compare brings torch and MLflow, which a pass that refuses, skips or
            # finds nothing stale never needs (it answers in seconds less)
            from rnnlab.compare import DECISIONS_FILE

            entry["decisions"] = json.loads((reports_dir(root) / DECISIONS_FILE).read_text())


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
