"""Compare: test-set evaluation (once, here), leaderboard, plots, champion selection.

Model selection uses validation metrics only: the champion of a dataset is the architecture with
the best mean validation metric over seeds, and within it the seed with the best validation
metric. Test metrics are reported beside it, never used to choose.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import torch

from rnnlab import plots, tracking
from rnnlab.config import Config
from rnnlab.data.batching import SequenceSet
from rnnlab.data.prepare import read_prepared
from rnnlab.evaluate import build_model, confusion, predict
from rnnlab.paths import prepared_dir, reports_dir, seed_dir
from rnnlab.results import read_run
from rnnlab.tasks import TASKS

CHAMPION_ALIAS = "champion"
MODEL_PREFIX = "rnnlab-"


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
    """One row per architecture: mean and std over seeds, best seed by validation."""
    selection = f"best_val_{TASKS[task].selection_metric}"
    sign = 1 if TASKS[task].greater_is_better else -1
    rows = []
    for architecture in dict.fromkeys(r["architecture"] for r in runs):
        mine = [r for r in runs if r["architecture"] == architecture]
        row = {"architecture": architecture, "seeds": len(mine), "backend": mine[0]["backend"], "num_params": mine[0]["num_params"]}
        for key in [k for k, v in mine[0].items() if isinstance(v, (int, float)) and k not in ("seed", "num_params")]:
            values = np.array([r[key] for r in mine])
            row[key], row[f"{key}_std"] = float(values.mean()), float(values.std())
        best = max(mine, key=lambda r: (sign * r[selection], -r["best_val_loss"]))  # ties: lower val loss
        row["best_seed"], row["best_run_id"] = best["seed"], best["run_id"]
        rows.append(row)
    rows.sort(key=lambda r: (-sign * r[selection], r["best_val_loss"]))
    return rows


def promote_champion(config: Config, root: Path, dataset: str, row: dict) -> dict:
    """Register the chosen run's model as ``rnnlab-<dataset>`` and point the alias at it."""
    mlflow.set_tracking_uri(tracking.tracking_uri(config, root))
    client = mlflow.MlflowClient()
    name = registered_model_name(dataset)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except mlflow.exceptions.MlflowException:
        current = None
    if current is not None and current.run_id == row["best_run_id"]:
        return {"name": name, "version": current.version, "run_id": current.run_id, "changed": False}
    version = mlflow.register_model(f"runs:/{row['best_run_id']}/model", name)
    client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
    client.set_model_version_tag(name, version.version, "architecture", row["architecture"])
    return {"name": name, "version": version.version, "run_id": row["best_run_id"], "changed": True}


def leaderboard_markdown(tables: dict[str, list[dict]], champions: dict[str, dict], figures: dict[str, str]) -> str:
    lines = [
        "# Leaderboard",
        "",
        "Test metrics are measured once, here, on each dataset's official test split; the champion is chosen",
        "by validation accuracy (mean over seeds). ± is the standard deviation over seeds.",
        "",
    ]
    for dataset, rows in tables.items():
        champion = champions[dataset]
        lines += [
            f"## {dataset}",
            "",
            f"Champion: **{rows[0]['architecture']}** (seed {rows[0]['best_seed']}) — registered as "
            f"`{champion['name']}` version {champion['version']}, alias `{CHAMPION_ALIAS}`.",
            "",
            "| architecture | test accuracy | test macro-F1 | val accuracy | parameters | train time (s) | epochs | backend | seeds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['architecture']} | {_pm(r, 'test_accuracy')} | {_pm(r, 'test_macro_f1')} | {_pm(r, 'best_val_accuracy')} "
                f"| {r['num_params']:,} | {r['train_time_s']:.1f} | {r['epochs_trained']:.0f} | {r['backend']} | {r['seeds']} |"
            )
        lines += ["", f"![test accuracy on {dataset}]({figures[dataset]})", ""]
    return "\n".join(lines)


def _pm(row: dict, key: str) -> str:
    return f"{row[key]:.4f} ± {row[f'{key}_std']:.4f}" if row["seeds"] > 1 else f"{row[key]:.4f}"


def write_reports(root: Path, tables: dict[str, list[dict]], champions: dict[str, dict]) -> Path:
    out = reports_dir(root)
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    for dataset, rows in tables.items():
        png = plots.metric_bars(rows, "test_accuracy", f"{dataset}: test accuracy (mean ± std over seeds)", figures_dir / f"{dataset}_test_accuracy.png")
        figures[dataset] = png.relative_to(out).as_posix()
    (out / "leaderboard.md").write_text(leaderboard_markdown(tables, champions, figures))
    summary = {ds: {r["architecture"]: {k: r[k] for k in ("test_accuracy", "test_macro_f1", "best_val_accuracy")} for r in rows} for ds, rows in tables.items()}
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return out / "leaderboard.md"
