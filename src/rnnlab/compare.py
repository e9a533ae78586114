"""Compare: test-set evaluation (once, here), leaderboards, plots, and the champion decision.

Model selection uses validation metrics only. The candidate of a dataset is the architecture with
the best mean validation metric over seeds, and within it the seed with the best validation
metric (ties: lower validation loss). It replaces the registered champion only if, on the *current*
validation split, it beats the champion by ``schedule.promote_margin``; the champion is re-scored
on that split, so a change of data never compares numbers measured on different sequences.
Test metrics are reported beside all this, never used to choose.

Order, so that a crash at any point leaves nothing that a rerun reads wrongly: decide every
dataset (the registry only read), register the promoted candidates (a version from the same run is
reused), write the reports (each file atomically), and only then move the ``champion`` aliases.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import torch

from rnnlab import files, plots, significance, tracking
from rnnlab.config import Config
from rnnlab.data.batching import encode
from rnnlab.data.prepare import read_prepared
from rnnlab.data.table import LABEL, SEQUENCE_ID
from rnnlab.errors import DataError, RnnlabError
from rnnlab.evaluate import build_model, predict
from rnnlab.kinds import KINDS, greater_is_better
from rnnlab.paths import prepared_dir, reports_dir, seed_dir
from rnnlab.results import mean_std, read_run
from rnnlab.tracking import CHAMPION_ALIAS, registered_model_name
from rnnlab.yardsticks import PUBLISHED

DECISIONS_FILE = "champions.json"
# The registry's answers for "no such model" and "no such alias" (every other error is a real failure).
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def load_trained(
    config: Config, root: Path, dataset: str, architecture: str, seed: int, home: Path | None = None
) -> tuple[dict, torch.nn.Module, dict, dict]:
    """(run summary, model with its best checkpoint's weights in eval mode, prepared splits, meta);
    ``home``: the runs' folder (the pipeline's by default, a study's own)."""
    run = read_run(root, dataset, architecture, seed, home)
    splits, meta = read_prepared(prepared_dir(root, dataset))
    model = build_model(
        config.architecture(architecture, dataset), meta, config.train_for(dataset, architecture).embedding_size
    )
    state = torch.load(
        seed_dir(root, dataset, architecture, seed, home) / run["checkpoint"], map_location="cpu", weights_only=True
    )["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    return run, model.eval(), splits, meta


def evaluate_test(
    config: Config, root: Path, dataset: str, architecture: str, seed: int, home: Path | None = None
) -> dict:
    """Test metrics of one trained run, logged into its MLflow run (metrics and the task kind's pictures)."""
    run, model, splits, meta = load_trained(config, root, dataset, architecture, seed, home)
    predicted, target = predict(model, encode(splits["test"], meta), meta.task, config.train.batch_size)
    metrics = {f"test_{k}": v for k, v in meta.kind.metrics(predicted, target, meta).items()}
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    for key, value in metrics.items():
        client.log_metric(run["run_id"], key, value)
    with tempfile.TemporaryDirectory() as tmp:
        title = f"{architecture} on {dataset} (seed {seed}), test"
        for png in meta.kind.test_pictures(meta, predicted, target, title, Path(tmp)):
            client.log_artifact(run["run_id"], str(png), "plots")
    return {**run, **metrics}


def aggregate(runs: list[dict], task: str) -> list[dict]:
    """One row per architecture: mean, std and 95 % interval over seeds, best seed by validation, and
    ``tied_p``: whether the seeds' headline test values can be told from the best mean's (Holm-adjusted
    Welch p; None with fewer than 2 seeds); best row (on validation) first."""
    selection = f"best_val_{KINDS[task].selection_metric}"
    headline_key = f"test_{KINDS[task].selection_metric}"
    sign = 1 if KINDS[task].greater_is_better else -1
    rows = []
    for architecture in dict.fromkeys(r["architecture"] for r in runs):
        mine = [r for r in runs if r["architecture"] == architecture]
        row = {
            **mean_std(mine),
            "architecture": architecture,
            "task": task,
            "seeds": len(mine),
            "backend": mine[0]["backend"],
            "num_params": mine[0]["num_params"],
        }
        for key in [k for k in row if k.startswith(("test_", "best_val_")) and not k.endswith("_std")]:
            row[f"{key}_ci"] = significance.interval([r[key] for r in mine])
        best = max(mine, key=lambda r: (sign * r[selection], -r["best_val_loss"]))  # ties: lower val loss
        row["best_seed"], row["best_run_id"], row["best_seed_val"] = best["seed"], best["run_id"], best[selection]
        row["run_ids"] = [r["run_id"] for r in mine]
        row["seed_values"] = [r[headline_key] for r in mine]
        rows.append(row)
    tied = significance.tied_with_best(
        {r["architecture"]: r["seed_values"] for r in rows}, KINDS[task].greater_is_better
    )
    for row in rows:
        row["tied_p"] = None if tied is None else tied[row["architecture"]]
    rows.sort(key=lambda r: (-sign * r[selection], r["best_val_loss"]))
    return rows


def tuning_seconds(config: Config, root: Path, dataset: str) -> dict[str, float]:
    """architecture -> the seconds its study took (reports/tuning.json), for each architecture of
    ``dataset`` whose study the pipeline trains by: the tuned profile is on (params.yaml's tuned section
    holds its entries), whether the study changed the pair's settings or kept params.yaml's."""
    path = reports_dir(root) / "tuning.json"
    studies = json.loads(path.read_text()).get(dataset, {}) if path.is_file() and config.tuned else {}
    return {arch: s["tuning_time_s"] for arch, s in studies.items() if "tuning_time_s" in s}


def raw_split(root: Path, dataset: str, part: str) -> tuple[pd.DataFrame, tuple]:
    """A prepared split back in raw units, as a logged model takes it (it applies its own encoding),
    and how its steps were read (``DatasetMeta.reading``: a model does not read them again)."""
    splits, meta = read_prepared(prepared_dir(root, dataset))
    table = splits[part].copy()
    if meta.normalizer:
        table[meta.features] = meta.raw_features(table[meta.features].to_numpy())
    if meta.kind.target == "value":
        table[LABEL] = meta.destandardized(table[LABEL])
    return table, meta.reading


def score_model_version(config: Config, root: Path, dataset: str, version: str) -> float:
    """The selection metric of a registered model version on the current validation split.
    DataError when that model cannot answer this data (another task, labels it never learned,
    columns it does not find)."""
    mlflow.set_tracking_uri(tracking.tracking_uri(config, root))  # models:/ resolves in the project's registry
    model = mlflow.pyfunc.load_model(f"models:/{registered_model_name(dataset)}/{version}").unwrap_python_model()
    task = config.dataset(dataset).task
    table, read = raw_split(root, dataset, "val")
    metrics = model.score(table, config.train.batch_size, task=task, read=read)
    return metrics[KINDS[task].selection_metric]


def decide_champion(config: Config, root: Path, dataset: str, candidate: dict) -> dict:
    """Whether the candidate replaces the champion, and why; the registry is only read.

    Promote when there is no champion, when the champion cannot answer the current data, or when
    the candidate beats it on the current validation split by more than the margin. Any other
    failure to re-score the champion stops compare with one line: a locked store or a bug must not
    promote."""
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    name = registered_model_name(dataset)
    task = KINDS[config.dataset(dataset).task]
    metric = task.selection_metric
    margin = config.schedule.promote_margin
    decision = {
        "dataset": dataset,
        "registered_model": name,
        "candidate": {
            "architecture": candidate["architecture"],
            "seed": candidate["best_seed"],
            "run_id": candidate["best_run_id"],
            f"val_{metric}": candidate["best_seed_val"],
        },
        "margin": margin,
        "val_sequences": int(
            read_prepared(prepared_dir(root, dataset))[0]["val"][SEQUENCE_ID].nunique()
        ),  # what the choice rests on
    }
    try:
        current = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except mlflow.exceptions.MlflowException as err:
        if err.error_code not in NOT_FOUND:
            raise RnnlabError(
                f"compare stopped: cannot read the champion of {dataset}: {_first_line(err)}; no champion was changed"
            ) from None
        current = None
    if current is None:
        return {**decision, "promoted": True, "champion_version": None, "reason": "no champion yet"}
    if current.run_id == candidate["best_run_id"]:
        return {
            **decision,
            "promoted": False,
            "champion_version": current.version,
            "reason": "the candidate already is the champion",
        }
    try:
        champion_score = score_model_version(config, root, dataset, current.version)
    except DataError as err:  # the one failure that makes a champion unusable: it cannot answer today's data
        decision["champion_before"] = {"version": current.version, "run_id": current.run_id, f"val_{metric}": None}
        why = f"the champion (version {current.version}) cannot score the current validation split: {err}"
        return {**decision, "promoted": True, "champion_version": None, "reason": why}
    except Exception as err:
        raise RnnlabError(
            f"compare stopped: re-scoring the champion of {dataset} (version {current.version}) failed with "
            f"{type(err).__name__}: {_first_line(err)}; no champion was changed"
        ) from err
    decision["champion_before"] = {
        "version": current.version,
        "run_id": current.run_id,
        f"val_{metric}": champion_score,
    }
    value = candidate["best_seed_val"]
    gain = (value - champion_score) * (1 if task.greater_is_better else -1)
    beats = (
        value > champion_score + margin if task.greater_is_better else value < champion_score - margin
    )  # no rounding of a difference
    if not beats:
        why = (
            f"validation {metric} {value:.4f} does not beat the champion's "
            f"{champion_score:.4f} by more than the margin {margin}"
        )
        return {**decision, "promoted": False, "champion_version": current.version, "reason": why}
    why = f"validation {metric} {value:.4f} beats the champion's {champion_score:.4f} by {gain:.4f} > margin {margin}"
    return {**decision, "promoted": True, "champion_version": None, "reason": why}


def register_candidate(config: Config, root: Path, decision: dict) -> dict:
    """The decision with the version its candidate is registered as (only for a promotion). A version
    already registered from the same run is reused, so a compare killed between registering and
    moving the alias leaves no second copy when it runs again."""
    if not decision["promoted"]:
        return decision
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    name, candidate = decision["registered_model"], decision["candidate"]
    existing = [v for v in _versions(client, name) if v.run_id == candidate["run_id"]]
    if existing:
        version = min(existing, key=lambda v: int(v.version)).version
    else:
        mlflow.set_tracking_uri(tracking.tracking_uri(config, root))
        version = mlflow.register_model(f"runs:/{candidate['run_id']}/model", name).version
    for key, value in {**candidate, "reason": decision["reason"]}.items():
        if key != "run_id":
            client.set_model_version_tag(name, version, key, str(value))
    return {**decision, "champion_version": version}


def move_alias(config: Config, root: Path, decision: dict) -> None:
    """Point ``champion`` at the decided version: the last step of compare, after its reports."""
    if decision["promoted"]:
        client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
        client.set_registered_model_alias(decision["registered_model"], CHAMPION_ALIAS, decision["champion_version"])


def _versions(client, name: str) -> list:
    try:
        return list(client.search_model_versions(f"name = '{name}'"))
    except mlflow.exceptions.MlflowException as err:
        if err.error_code in NOT_FOUND:
            return []
        raise


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def val_loss_curves(config: Config, root: Path, rows: list[dict]) -> dict[str, list[list[float]]]:
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    return {
        row["architecture"]: [
            tracking.metric_history(client, run_id, ["val_loss"])["val_loss"] for run_id in row["run_ids"]
        ]
        for row in rows
    }


def log_comparison(
    config: Config, root: Path, dataset: str, rows: list[dict], decision: dict, files: list[Path]
) -> str:
    """A parent run per comparison in the dataset's experiment; the compared training runs nest under it."""
    uri = tracking.tracking_uri(config, root)
    client = mlflow.MlflowClient(uri)
    experiment = tracking.ensure_experiment(client, config, root, dataset)
    commit = tracking.git_commit(root)
    parent = client.create_run(
        experiment,
        run_name=f"compare@{commit[:8]}",
        tags={"rnnlab.kind": "comparison", "git_commit": commit, "dataset": dataset},
    )
    run_id = parent.info.run_id
    table = pd.DataFrame([{k: v for k, v in r.items() if not isinstance(v, list)} for r in rows])
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_table(table, artifact_file="leaderboard.json")
        mlflow.log_dict(decision, "champion_decision.json")
        for path in files:
            mlflow.log_artifact(str(path))
        metric = f"test_{KINDS[rows[0]['task']].selection_metric}"
        mlflow.log_metrics({f"{r['architecture']}.{metric}": r[metric] for r in rows})
        mlflow.set_tags({"champion_promoted": str(decision["promoted"]), "champion_reason": decision["reason"][:5000]})
    for row in rows:
        for child in row["run_ids"]:
            client.set_tag(child, "mlflow.parentRunId", run_id)
    return run_id


METRIC_NAMES = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "weighted_f1": "weighted F1",
    "bits_per_token": "bits/token",
    "mae": "MAE",
    "rmse": "RMSE",
    "mse": "MSE",
    "direction_accuracy": "direction acc.",
    "exact_accuracy": "exact-answer acc.",
    "sequence_accuracy": "exact-sequence acc.",
    "token_error_rate": "token error rate",
}


def metric_keys(rows: list[dict]) -> list[str]:
    """The task's metrics, selection metric first, as they appear in the rows (``test_<name>``)."""
    task = KINDS[rows[0]["task"]]
    names = [k.removeprefix("test_") for k in rows[0] if k.startswith("test_") and not k.endswith(("_std", "_ci"))]
    return sorted(names, key=lambda n: n != task.selection_metric)


def headline(task_name: str) -> str:
    task = KINDS[task_name]
    return f"{METRIC_NAMES.get(task.selection_metric, task.selection_metric)} {'↑' if task.greater_is_better else '↓'}"


def leaderboard_markdown(
    tables: dict[str, list[dict]],
    decisions: dict[str, dict],
    figures: dict[str, list[str]],
    yardsticks: dict[str, list[dict]],
    across: list[dict],
) -> str:
    lines = [
        "# Leaderboard",
        "",
        "Test metrics are measured once, here, on each dataset's test split. Models are chosen on the validation",
        "split only: the champion is the architecture with the best mean validation metric over seeds, then its best",
        "seed. ± is the half-width of the 95 % Student-t interval of the mean over seeds (none for one seed).",
        "↑ higher is better, ↓ lower is better. Times are means per run:",
        "fit is the model's `fit`; a whole run adds building, logging and the model's pictures and files;",
        "tuning is the seconds `rnnlab tune` spent on the pair (reports/tuning.md), whether its study changed its "
        "settings or kept them; — where it has no study or the tuned profile is off.",
        "",
        "## All datasets: each dataset's headline test metric",
        "",
        "| architecture | " + " | ".join(f"{ds} ({headline(rows[0]['task'])})" for ds, rows in tables.items()) + " |",
        "|---|" + "---|" * len(tables),
    ]
    architectures = list(dict.fromkeys(r["architecture"] for rows in tables.values() for r in rows))
    for arch in architectures:
        cells = []
        for rows in tables.values():
            row = next((r for r in rows if r["architecture"] == arch), None)
            cells.append(_pm(row, f"test_{KINDS[row['task']].selection_metric}") if row else "—")
        lines.append(f"| {arch} | " + " | ".join(cells) + " |")
    lines += ["", "## Yardsticks: the best architecture beside references on the same test split", ""]
    lines += yardstick_lines(tables, yardsticks)
    lines += across_lines(across)
    for dataset, rows in tables.items():
        d = decisions[dataset]
        task = KINDS[rows[0]["task"]]
        verdict = "promoted" if d["promoted"] else "kept"
        names = metric_keys(rows)
        lines += [
            "",
            f"## {dataset} ({rows[0]['task']})",
            "",
            f"Candidate: **{rows[0]['architecture']}** (seed {rows[0]['best_seed']}), "
            f"chosen on {d.get('val_sequences', '?')} validation sequences. Champion "
            f"`{d['registered_model']}@{CHAMPION_ALIAS}` is version "
            f"{d['champion_version']} ({verdict}: {d['reason']}).",
            "",
            f"*vs best*: {significance.TIED_TEST} (α = {significance.ALPHA}) on test "
            f"{METRIC_NAMES.get(task.selection_metric, task.selection_metric)}; **tied** means these seeds cannot "
            "tell the architecture from the best.",
            "",
            "| architecture | "
            + " | ".join(f"test {METRIC_NAMES.get(n, n)}" for n in names)
            + f" | vs best | val {METRIC_NAMES.get(task.selection_metric, task.selection_metric)} | parameters | fit "
            "s/run | whole run s/run | tuning s | epochs | backend | seeds |",
            "|---|" + "---|" * (len(names) + 10),
        ]
        for r in rows:
            lines.append(
                f"| {r['architecture']} | "
                + " | ".join(_pm(r, f"test_{n}") for n in names)
                + f" | {_versus_best(r)} | {_pm(r, f'best_val_{task.selection_metric}')} | {r['num_params']:,} | "
                f"{r['train_time_s']:.1f} | {_seconds(r.get('run_time_s'))} | {_seconds(r.get('tuning_time_s'))} | "
                f"{r['epochs_trained']:.0f} | "
                f"{r['backend']} | {r['seeds']} |"
            )
        lines += [""] + [f"![{dataset}]({f})" for f in figures[dataset]]
    return "\n".join(lines) + "\n"


def yardstick_lines(tables: dict[str, list[dict]], yardsticks: dict[str, list[dict]]) -> list[str]:
    lines = [
        "| dataset | metric | best rnnlab model (test) | reference | reference value | rnnlab better? |",
        "|---|---|---|---|---|---|",
    ]
    for dataset, rows in tables.items():
        task = KINDS[rows[0]["task"]]
        best = rows[0]  # chosen on validation, not on these test numbers
        for ref in yardsticks.get(dataset, []):
            key = f"test_{ref['metric']}"
            if key not in best:
                continue
            greater = greater_is_better(ref["metric"])
            ours = best[key]
            wins = ours > ref["value"] if greater else ours < ref["value"]
            lines.append(
                f"| {dataset} | {METRIC_NAMES.get(ref['metric'], ref['metric'])} {'↑' if greater else '↓'} | "
                f"{best['architecture']} {_pm(best, key)} | {ref['name']} ({ref['origin']}) | {ref['value']:.4f} | "
                f"{'yes' if wins else '**no**'} |"
            )
        if not yardsticks.get(dataset):
            lines.append(
                f"| {dataset} | {headline(task.name)} | {best['architecture']} | no reference for this split | — | — |"
            )
    return lines


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _pm(row: dict, key: str) -> str:
    half = row.get(f"{key}_ci")
    return f"{row[key]:.4f}" if half is None else f"{row[key]:.4f} ± {half:.4f}"


def _versus_best(row: dict) -> str:
    p = row.get("tied_p")
    if p is None:
        return "— (1 seed)" if row["seeds"] < 2 else "—"
    if p == 1.0:
        return "best"
    return f"**tied** (p {p:.2g})" if p >= significance.ALPHA else f"worse (p {p:.2g})"


REFERENCE_ENTRY = "reference"  # in the rankings: the best reference prepare measured on the dataset's test split


def across_datasets(tables: dict[str, list[dict]], yardsticks: dict[str, list[dict]]) -> list[dict]:
    """The leaderboard's two rankings across datasets: the architectures run on every dataset, over
    every dataset; and the same with ``REFERENCE_ENTRY`` (per dataset the best of the references
    measured by prepare on its headline metric) over the datasets that have one. Each view holds its
    ``significance.Ranks``, or ``reason`` when the Friedman test cannot be run."""
    architectures = list(dict.fromkeys(r["architecture"] for rows in tables.values() for r in rows))
    common = [a for a in architectures if all(any(r["architecture"] == a for r in rows) for rows in tables.values())]
    scores, greater, reference = {}, {}, {}
    for dataset, rows in tables.items():
        task = KINDS[rows[0]["task"]]
        key = f"test_{task.selection_metric}"
        scores[dataset] = {r["architecture"]: r[key] for r in rows if r["architecture"] in common}
        greater[dataset] = task.greater_is_better
        measured = [
            y["value"]
            for y in yardsticks.get(dataset, [])
            if y.get("measured") and y["metric"] == task.selection_metric
        ]
        if measured:
            reference[dataset] = max(measured) if task.greater_is_better else min(measured)
    table = pd.DataFrame.from_dict(scores, orient="index")[common] if common else pd.DataFrame(index=list(tables))
    with_reference = table.loc[list(reference)].assign(**{REFERENCE_ENTRY: pd.Series(reference)})
    views = [
        {"title": "Architectures across datasets", "file": "critical_difference_architectures.png", "scores": table},
        {
            "title": "Architectures and the best measured reference across datasets",
            "file": "critical_difference_with_references.png",
            "scores": with_reference,
        },
    ]
    left_out = [a for a in architectures if a not in common]
    for view in views:
        view["left_out"] = left_out
        try:
            view["ranks"] = significance.ranks_across(view["scores"], greater)
        except ValueError as err:
            view["reason"] = str(err)
    return views


def across_lines(views: list[dict]) -> list[str]:
    lines = [
        "",
        "## Across datasets: ranks, the Friedman test and the Nemenyi post-hoc test",
        "",
        "Each entry's rank on each dataset's headline test metric (1 = best, ties averaged). The Friedman test asks",
        "whether all entries rank alike; the Nemenyi test compares each pair; in the critical-difference diagram a",
        f"bar joins the entries it cannot separate (α = {significance.ALPHA}). "
        f"*{REFERENCE_ENTRY}*: on each dataset, the best of the",
        "references prepare measured on its test split (the yardsticks above).",
    ]
    for view in views:
        lines += ["", f"### {view['title']}", ""]
        if view["left_out"]:
            lines.append(f"Left out (not run on every dataset): {', '.join(view['left_out'])}.")
            lines.append("")
        if "ranks" not in view:
            lines.append(f"Not computed: {view['reason']}.")
            continue
        ranks = view["ranks"]
        datasets = list(ranks.ranks.index)
        lines += [
            f"Friedman χ² = {ranks.friedman_statistic:.2f}, p = {ranks.friedman_p:.3g} over {len(datasets)} datasets; "
            f"critical difference of mean ranks {ranks.critical_difference:.2f}.",
            "",
            "| entry | mean rank | " + " | ".join(datasets) + " |",
            "|---|---|" + "---|" * len(datasets),
        ]
        for entry, mean in ranks.mean_ranks.items():
            lines.append(
                f"| {entry} | {mean:.2f} | " + " | ".join(f"{ranks.ranks.loc[d, entry]:g}" for d in datasets) + " |"
            )
        lines += ["", f"![{view['title']}](figures/{view['file']})"]
    return lines


def dataset_figures(config: Config, root: Path, dataset: str, rows: list[dict]) -> list[Path]:
    folder = reports_dir(root) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    metric = f"test_{KINDS[rows[0]['task']].selection_metric}"
    return [
        plots.metric_bars(rows, metric, f"{dataset}: {metric.replace('_', ' ')}", folder / f"{dataset}_{metric}.png"),
        plots.overlaid_curves(
            val_loss_curves(config, root, rows),
            "val_loss",
            f"{dataset}: validation loss per epoch",
            folder / f"{dataset}_val_loss.png",
        ),
    ]


def dataset_yardsticks(root: Path, config: Config, dataset: str) -> list[dict]:
    """References on this dataset's test split: baselines measured by prepare, and published figures
    for the split the source defines (only when its test split is used whole)."""
    _, meta = read_prepared(prepared_dir(root, dataset))
    found = [
        {
            "name": name,
            "metric": metric,
            "value": value,
            "origin": "measured by prepare on the same split",
            "measured": True,
        }
        for name, metrics in meta.baselines.get("test", {}).items()
        for metric, value in metrics.items()
    ]
    published = PUBLISHED.get(config.dataset(dataset).source, [])
    return found + [{**ref, "origin": f"published: {ref['origin']}", "measured": False} for ref in published]


def write_reports(
    root: Path,
    tables: dict[str, list[dict]],
    decisions: dict[str, dict],
    figures: dict[str, list[Path]],
    yardsticks: dict[str, list[dict]],
) -> Path:
    out = reports_dir(root)
    across = across_datasets(tables, yardsticks)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for view in across:
        if "ranks" in view:
            plots.critical_difference(view["ranks"], view["title"], out / "figures" / view["file"])
    relative = {ds: [Path(f).relative_to(out).as_posix() for f in files] for ds, files in figures.items()}
    files.write_text(out / "leaderboard.md", leaderboard_markdown(tables, decisions, relative, yardsticks, across))
    summary = {
        ds: {
            r["architecture"]: {
                k: r[k] for k in r if k.startswith(("test_", "best_val_")) and not k.endswith(("_std", "_ci"))
            }
            for r in rows
        }
        for ds, rows in tables.items()
    }
    files.write_json(out / "metrics.json", summary, sort_keys=True)
    files.write_json(out / DECISIONS_FILE, decisions)
    return out / "leaderboard.md"
