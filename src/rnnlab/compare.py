"""Compare: test-set evaluation (once, here), leaderboards, plots, and the champion decision.

Model selection uses validation metrics only. The candidate of a dataset is the architecture with
the best mean validation metric over seeds, and within it the seed with the best validation
metric (ties: lower validation loss). It replaces the registered champion only if, on the *current*
validation split, it beats the champion by ``schedule.promote_margin``; the champion is re-scored
on that split, so a change of data never compares numbers measured on different sequences.
Test metrics are reported beside all this, never used to choose.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch

from rnnlab import plots, tracking
from rnnlab.config import Config
from rnnlab.data.batching import SequenceSet
from rnnlab.data.prepare import read_prepared
from rnnlab.data.store import read_table
from rnnlab.data.table import SEQUENCE_ID
from rnnlab.evaluate import build_model, confusion, predict
from rnnlab.paths import prepared_dir, raw_dir, reports_dir, seed_dir
from rnnlab.results import mean_std, read_run
from rnnlab.tasks import TASKS

CHAMPION_ALIAS = "champion"
MODEL_PREFIX = "rnnlab-"
DECISIONS_FILE = "champions.json"


def registered_model_name(dataset: str) -> str:
    return f"{MODEL_PREFIX}{dataset}"


def evaluate_test(config: Config, root: Path, dataset: str, architecture: str, seed: int) -> dict:
    """Test metrics of one trained run, logged into its MLflow run (metrics and confusion PNG)."""
    run = read_run(root, dataset, architecture, seed)
    splits, meta = read_prepared(prepared_dir(root, dataset))
    model = build_model(config.architecture(architecture), meta)
    state = torch.load(seed_dir(root, dataset, architecture, seed) / run["checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    test = SequenceSet.from_table(splits["test"], meta["classes"])
    predicted, target = predict(model, test, meta["task"], config.train.batch_size)
    metrics = {f"test_{k}": v for k, v in TASKS[meta["task"]].metrics(predicted, target).items()}
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    for key, value in metrics.items():
        client.log_metric(run["run_id"], key, value)
    with tempfile.TemporaryDirectory() as tmp:
        title = f"test confusion: {architecture} on {dataset} (seed {seed})"
        png = plots.confusion_matrix(confusion(predicted, target, meta["num_classes"]), meta["classes"], title, Path(tmp) / "confusion_test.png")
        client.log_artifact(run["run_id"], str(png), "plots")
    return {**run, **metrics}


def aggregate(runs: list[dict], task: str) -> list[dict]:
    """One row per architecture: mean and std over seeds, best seed by validation; best row first."""
    selection = f"best_val_{TASKS[task].selection_metric}"
    sign = 1 if TASKS[task].greater_is_better else -1
    rows = []
    for architecture in dict.fromkeys(r["architecture"] for r in runs):
        mine = [r for r in runs if r["architecture"] == architecture]
        row = {**mean_std(mine), "architecture": architecture, "seeds": len(mine), "backend": mine[0]["backend"], "num_params": mine[0]["num_params"]}
        best = max(mine, key=lambda r: (sign * r[selection], -r["best_val_loss"]))  # ties: lower val loss
        row["best_seed"], row["best_run_id"], row["best_seed_val"] = best["seed"], best["run_id"], best[selection]
        row["run_ids"] = [r["run_id"] for r in mine]
        rows.append(row)
    rows.sort(key=lambda r: (-sign * r[selection], r["best_val_loss"]))
    return rows


def raw_validation_table(root: Path, dataset: str) -> pd.DataFrame:
    """The validation sequences as they enter a logged model: raw features, not normalized."""
    splits, _ = read_prepared(prepared_dir(root, dataset))
    raw = read_table(raw_dir(root, dataset))
    return raw[raw[SEQUENCE_ID].isin(set(splits["val"][SEQUENCE_ID]))]


def score_model_version(config: Config, root: Path, dataset: str, version: str) -> float:
    """The selection metric of a registered model version on the current validation split."""
    model = mlflow.pyfunc.load_model(f"models:/{registered_model_name(dataset)}/{version}")
    table = raw_validation_table(root, dataset)
    answers = model.predict(table.drop(columns=["label", "split"], errors="ignore"))
    truth = table.groupby(SEQUENCE_ID)["label"].first().loc[answers[SEQUENCE_ID]].to_numpy()
    task = TASKS[config.dataset(dataset).task]
    classes = {c: i for i, c in enumerate(sorted(set(truth) | set(answers["prediction"])))}
    return task.metrics(np.array([classes[p] for p in answers["prediction"]]), np.array([classes[t] for t in truth]))[task.selection_metric]


def decide_champion(config: Config, root: Path, dataset: str, candidate: dict) -> dict:
    """Register the candidate and move the alias only if it beats the champion by the margin."""
    mlflow.set_tracking_uri(tracking.tracking_uri(config, root))
    client = mlflow.MlflowClient()
    name = registered_model_name(dataset)
    metric = TASKS[config.dataset(dataset).task].selection_metric
    margin = config.schedule.promote_margin
    decision = {
        "dataset": dataset,
        "registered_model": name,
        "candidate": {"architecture": candidate["architecture"], "seed": candidate["best_seed"], "run_id": candidate["best_run_id"], f"val_{metric}": candidate["best_seed_val"]},
        "margin": margin,
    }
    try:
        current = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except mlflow.exceptions.MlflowException:
        current = None
    if current is not None and current.run_id == candidate["best_run_id"]:
        return {**decision, "promoted": False, "champion_version": current.version, "reason": "the candidate already is the champion"}
    if current is not None:
        try:
            champion_score = score_model_version(config, root, dataset, current.version)
        except Exception as err:  # a champion that cannot read today's data is no longer usable
            champion_score, why = None, f"the champion (version {current.version}) cannot score the current validation split: {err}"
        decision["champion_before"] = {"version": current.version, "run_id": current.run_id, f"val_{metric}": champion_score}
        if champion_score is not None:
            gain = candidate["best_seed_val"] - champion_score
            if not candidate["best_seed_val"] > champion_score + margin:
                why = f"validation {metric} {candidate['best_seed_val']:.4f} does not beat the champion's {champion_score:.4f} by more than the margin {margin}"
                return {**decision, "promoted": False, "champion_version": current.version, "reason": why}
            why = f"validation {metric} {candidate['best_seed_val']:.4f} beats the champion's {champion_score:.4f} by {gain:.4f} > margin {margin}"
    else:
        why = "no champion yet"
    version = mlflow.register_model(f"runs:/{candidate['best_run_id']}/model", name)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
    for key, value in {"architecture": candidate["architecture"], "seed": candidate["best_seed"], f"val_{metric}": candidate["best_seed_val"], "reason": why}.items():
        client.set_model_version_tag(name, version.version, key, str(value))
    return {**decision, "promoted": True, "champion_version": version.version, "reason": why}


def val_loss_curves(config: Config, root: Path, rows: list[dict]) -> dict[str, list[list[float]]]:
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    return {
        row["architecture"]: [[m.value for m in sorted(client.get_metric_history(run_id, "val_loss"), key=lambda m: m.step)] for run_id in row["run_ids"]]
        for row in rows
    }


def log_comparison(config: Config, root: Path, dataset: str, rows: list[dict], decision: dict, files: list[Path]) -> str:
    """A parent run per comparison in the dataset's experiment; the compared training runs nest under it."""
    uri = tracking.tracking_uri(config, root)
    client = mlflow.MlflowClient(uri)
    experiment = tracking.ensure_experiment(client, config, root, dataset)
    commit = tracking.git_commit(root)
    parent = client.create_run(experiment, run_name=f"compare@{commit[:8]}", tags={"rnnlab.kind": "comparison", "git_commit": commit, "dataset": dataset})
    run_id = parent.info.run_id
    table = pd.DataFrame([{k: v for k, v in r.items() if not isinstance(v, list)} for r in rows])
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_table(table, artifact_file="leaderboard.json")
        mlflow.log_dict(decision, "champion_decision.json")
        for path in files:
            mlflow.log_artifact(str(path))
        mlflow.log_metrics({f"{r['architecture']}.test_accuracy": r["test_accuracy"] for r in rows})
        mlflow.set_tags({"champion_promoted": str(decision["promoted"]), "champion_reason": decision["reason"][:5000]})
    for row in rows:
        for child in row["run_ids"]:
            client.set_tag(child, "mlflow.parentRunId", run_id)
    return run_id


def leaderboard_markdown(tables: dict[str, list[dict]], decisions: dict[str, dict], figures: dict[str, list[str]]) -> str:
    lines = [
        "# Leaderboard",
        "",
        "Test metrics are measured once, here, on each dataset's official test split. The champion is chosen on",
        "validation accuracy (mean over seeds, then the best seed). ± is the standard deviation over seeds.",
        "",
        "## All datasets: test accuracy",
        "",
        "| architecture | " + " | ".join(tables) + " |",
        "|---|" + "---|" * len(tables),
    ]
    architectures = list(dict.fromkeys(r["architecture"] for rows in tables.values() for r in rows))
    for arch in architectures:
        cells = []
        for rows in tables.values():
            row = next((r for r in rows if r["architecture"] == arch), None)
            cells.append(_pm(row, "test_accuracy") if row else "—")
        lines.append(f"| {arch} | " + " | ".join(cells) + " |")
    lines.append("")
    for dataset, rows in tables.items():
        d = decisions[dataset]
        verdict = "promoted" if d["promoted"] else "kept"
        lines += [
            f"## {dataset}",
            "",
            f"Candidate: **{rows[0]['architecture']}** (seed {rows[0]['best_seed']}). Champion `{d['registered_model']}@{CHAMPION_ALIAS}` "
            f"is version {d['champion_version']} ({verdict}: {d['reason']}).",
            "",
            "| architecture | test accuracy | test macro-F1 | val accuracy | parameters | train time (s) | epochs | backend | seeds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['architecture']} | {_pm(r, 'test_accuracy')} | {_pm(r, 'test_macro_f1')} | {_pm(r, 'best_val_accuracy')} "
                f"| {r['num_params']:,} | {r['train_time_s']:.1f} | {r['epochs_trained']:.0f} | {r['backend']} | {r['seeds']} |"
            )
        lines += [""] + [f"![{dataset}]({f})" for f in figures[dataset]] + [""]
    return "\n".join(lines)


def _pm(row: dict, key: str) -> str:
    return f"{row[key]:.4f} ± {row[f'{key}_std']:.4f}" if row["seeds"] > 1 else f"{row[key]:.4f}"


def dataset_figures(config: Config, root: Path, dataset: str, rows: list[dict]) -> list[Path]:
    folder = reports_dir(root) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    return [
        plots.metric_bars(rows, "test_accuracy", f"{dataset}: test accuracy", folder / f"{dataset}_test_accuracy.png"),
        plots.overlaid_curves(val_loss_curves(config, root, rows), "val_loss", f"{dataset}: validation loss per epoch", folder / f"{dataset}_val_loss.png"),
    ]


def write_reports(root: Path, tables: dict[str, list[dict]], decisions: dict[str, dict], figures: dict[str, list[Path]]) -> Path:
    out = reports_dir(root)
    relative = {ds: [Path(f).relative_to(out).as_posix() for f in files] for ds, files in figures.items()}
    (out / "leaderboard.md").write_text(leaderboard_markdown(tables, decisions, relative))
    summary = {ds: {r["architecture"]: {k: r[k] for k in ("test_accuracy", "test_macro_f1", "best_val_accuracy")} for r in rows} for ds, rows in tables.items()}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    (out / DECISIONS_FILE).write_text(json.dumps(decisions, indent=2) + "\n")
    return out / "leaderboard.md"
