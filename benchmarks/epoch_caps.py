"""What a shorter epoch cap would save and what it would cost, per dataset, from the runs a pipeline left:
reports/epoch_caps.md and reports/epoch_caps/tradeoff.png.

After `make pipeline` (or with ``--project`` naming a project that ran it):

    python benchmarks/epoch_caps.py [--project PATH] [--budget-min 45] [--other-stages-min 7.4] [--train-ratio 1.10]

Nothing trains. Training is deterministic for a seed, so a run capped at E epochs would have trained
exactly the first E epochs of the run that was made (early stopping included: a run that stopped
sooner is unchanged). For every dataset and every cap E below its own, each run of the dataset is
read again up to epoch E: its fit shrinks in proportion to the epochs it keeps (``train_time_s`` ×
kept ÷ trained; the first epoch's set-up is counted as an epoch's share), and its best validation loss
becomes the lowest of its first E epochs (``val_loss`` in MLflow: the quantity that picks the
checkpoint and stops the run). Only the validation split is read.

The budget: the pipeline fits ``--budget-min`` when the train stage fits what the other stages leave,
and the train stage takes ``--train-ratio`` × (summed fit ÷ workers) (both from reports/pipeline_time.md),
so the summed fit must come down to workers × (budget − other stages) ÷ ratio. The report gives, for a
rising tolerance τ, the caps that cost each dataset at most τ of median validation loss, and the
smallest τ whose caps bring the fit within the budget; and each dataset's *flat* trim, the shortest
cap that changes no run's best validation loss by more than 1 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import mlflow
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from rnnlab import files, plots, tracking  # noqa: E402
from rnnlab.config import load_config  # noqa: E402
from rnnlab.results import read_run  # noqa: E402

REPORT = ROOT / "reports" / "epoch_caps.md"
FIGURE = ROOT / "reports" / "epoch_caps" / "tradeoff.png"
FLAT = 0.01  # a trim is flat when no run's best validation loss rises by more than this fraction


def capped(fit: float, val_losses: list[float], cap: int) -> tuple[float, float]:
    """(fit seconds, best validation loss) of a run had it been capped at ``cap`` epochs."""
    trained = len(val_losses)
    kept = min(trained, cap)
    return fit * kept / trained, min(val_losses[:kept])


def cap_table(runs: list[dict], caps: dict[str, int]) -> dict[str, dict[int, dict]]:
    """Per dataset and cap 1..its own: the runs' summed fit, what the cap saves, and the relative rise of
    each run's best validation loss (median, worst, how many runs it changes). ``runs``: dicts with
    ``dataset``, ``fit`` (seconds) and ``val_loss`` (one value per epoch)."""
    by_dataset = defaultdict(list)
    for run in runs:
        by_dataset[run["dataset"]].append(run)
    table = {}
    for dataset, rows in by_dataset.items():
        full = sum(r["fit"] for r in rows)
        table[dataset] = {}
        for cap in range(1, caps[dataset] + 1):
            fits, rises = [], []
            for r in rows:
                fit, best = capped(r["fit"], r["val_loss"], cap)
                whole = min(r["val_loss"])
                fits.append(fit)
                rises.append((best - whole) / abs(whole) if whole else float(best != whole))
            table[dataset][cap] = {
                "fit": sum(fits),
                "saved": full - sum(fits),
                "median": statistics.median(rises),
                "worst": max(rises),
                "changed": sum(rise > 0 for rise in rises),
                "runs": len(rows),
            }
    return table


def caps_within(table: dict[str, dict[int, dict]], tolerance: float) -> dict[str, int]:
    """Each dataset's shortest cap whose median rise of best validation loss is at most ``tolerance``."""
    return {ds: min(cap for cap, row in rows.items() if row["median"] <= tolerance) for ds, rows in table.items()}


def flat_caps(table: dict[str, dict[int, dict]]) -> dict[str, int]:
    """Each dataset's shortest cap that raises no run's best validation loss by more than ``FLAT``."""
    return {ds: min(cap for cap, row in rows.items() if row["worst"] <= FLAT) for ds, rows in table.items()}


def tradeoff(table: dict[str, dict[int, dict]]) -> list[tuple[float, float, dict[str, int]]]:
    """(tolerance, summed fit, caps) for every tolerance at which some dataset's cap changes, lowest first."""
    tolerances = sorted({row["median"] for rows in table.values() for row in rows.values()})
    points = []
    for tolerance in tolerances:
        caps = caps_within(table, tolerance)
        points.append((tolerance, sum(table[ds][cap]["fit"] for ds, cap in caps.items()), caps))
    return points


def read_runs(project: Path) -> tuple[list[dict], dict[str, int], object]:
    config = load_config(project / "params.yaml")
    client = mlflow.MlflowClient(tracking.tracking_uri(config, project))
    runs, caps = [], {}
    for architecture, dataset in config.pairs():
        caps[dataset] = max(caps.get(dataset, 0), config.train_for(dataset, architecture).max_epochs)
        for seed in config.train.seeds:
            run = read_run(project, dataset, architecture, seed)
            losses = tracking.metric_history(client, run["run_id"], ["val_loss"])["val_loss"]
            runs.append(
                {"dataset": dataset, "architecture": architecture, "fit": run["train_time_s"], "val_loss": losses}
            )
    return runs, caps, config


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def figure(points, target_min: float, full_min: float, path: Path) -> Path:
    fig = Figure(figsize=(7, 4))
    axis = fig.subplots()
    axis.step([p[1] / 60 for p in points], [100 * p[0] for p in points], where="post", marker=".")
    axis.axvline(target_min, color="tab:red", linestyle="--", label=f"fits the budget ({target_min:.0f} min)")
    axis.axvline(full_min, color="tab:gray", linestyle=":", label=f"the default's caps ({full_min:.0f} min)")
    axis.set(
        xlabel="runs' summed fit (min)",
        ylabel="median rise of best val loss, worst dataset (%)",
        title="Shorter epoch caps: fit saved against validation loss",
    )
    axis.set_yscale("symlog", linthresh=1.0)  # 0 to 1 % linear, then logarithmic: rises span 0 to thousands of %
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    return plots.save(fig, path)


def write_report(args, table, caps, config, runs) -> None:
    workers = config.execution.workers
    full = sum(r["fit"] for r in runs)
    target = workers * (args.budget_min - args.other_stages_min) * 60 / args.train_ratio
    points = tradeoff(table)
    within = [p for p in points if p[1] <= target]
    flat = flat_caps(table)
    lines = [
        "# Shorter epoch caps: what they save and what they cost",
        "",
        f"The default's {len(runs)} runs (every pair, seeds {', '.join(map(str, config.train.seeds))}) as "
        f"`make pipeline` left them (the runs reports/pipeline_time.md times), each read again up to a shorter cap "
        "(benchmarks/epoch_caps.py: training is deterministic, so a capped run is the first epochs of the run "
        "that was made; its fit shrinks with the epochs it keeps; its best validation loss is the lowest of "
        "those epochs). Validation split only. *Rise*: a run's best validation loss under the cap over its "
        "best under the default's, minus 1.",
        "",
        f"Runs' summed fit with the default's caps: **{full / 60:.1f} min**. To fit {args.budget_min:g} min "
        f"with the other stages at {args.other_stages_min:g} min and the train stage at "
        f"{args.train_ratio:.2f} × (summed fit ÷ {workers} workers) (reports/pipeline_time.md), the summed fit "
        f"must come down to **{target / 60:.1f} min** ({pct(1 - target / full)} less).",
        "",
        "## Flat trims",
        "",
        f"The shortest cap of each dataset that raises no run's best validation loss by more than {pct(FLAT)}: "
        "where the validation curve is flat long before the cap.",
        "",
        "| dataset | cap | flat cap | fit saved, all seeds (min) | runs changed |",
        "|---|---|---|---|---|",
    ]
    flat_saved = 0.0
    for ds in sorted(table):
        row = table[ds][flat[ds]]
        flat_saved += row["saved"]
        lines.append(
            f"| {ds} | {caps[ds]} | {flat[ds]} | {row['saved'] / 60:.1f} | {row['changed']} of {row['runs']} |"
        )
    lines += [
        "",
        f"Together the flat trims save {flat_saved / 60:.1f} min of fit: summed fit "
        f"{(full - flat_saved) / 60:.1f} min against the {target / 60:.1f} min the budget allows.",
        "",
        "## The caps the budget would take",
        "",
    ]
    if within:
        tolerance, fit, chosen = within[0]
        lines += [
            f"The smallest tolerance whose caps bring the summed fit within {target / 60:.1f} min: every dataset "
            f"at the shortest cap whose median rise is at most **{pct(tolerance)}** (summed fit {fit / 60:.1f} min).",
            "",
            "| dataset | cap | budget's cap | fit saved (min) | median rise | worst rise | runs changed |",
            "|---|---|---|---|---|---|---|",
        ]
        for ds in sorted(chosen):
            row = table[ds][chosen[ds]]
            lines.append(
                f"| {ds} | {caps[ds]} | {chosen[ds]} | {row['saved'] / 60:.1f} | {pct(row['median'])} | "
                f"{pct(row['worst'])} | {row['changed']} of {row['runs']} |"
            )
    else:
        lines.append(f"No set of shorter caps brings the summed fit within {target / 60:.1f} min.")
    lines += [
        "",
        "## The trade-off",
        "",
        "![summed fit against the tolerance](epoch_caps/tradeoff.png)",
        "",
        "| tolerance (median rise, worst dataset) | summed fit (min) |",
        "|---|---|",
    ]
    step = max(1, len(points) // 12)
    shown = sorted(
        set(range(0, len(points), step)) | {len(points) - 1} | ({points.index(within[0])} if within else set())
    )
    for tolerance, fit, _ in (points[i] for i in shown):
        lines.append(f"| {pct(tolerance)} | {fit / 60:.1f} |")
    lines += [
        "",
        f"Command: `python benchmarks/epoch_caps.py --budget-min {args.budget_min:g} "
        f"--other-stages-min {args.other_stages_min:g} --train-ratio {args.train_ratio:g}` "
        "(in the project that ran `make pipeline`).",
        "",
    ]
    figure(points, target / 60, full / 60, args.figure)
    files.write_text(args.report, "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="a project that ran make pipeline")
    parser.add_argument("--budget-min", type=float, default=45.0)
    parser.add_argument("--other-stages-min", type=float, default=7.4, help="ingest, prepare, compare: not train")
    parser.add_argument("--train-ratio", type=float, default=1.10, help="train stage ÷ (summed fit ÷ workers)")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    args = parser.parse_args()
    if args.budget_min <= args.other_stages_min:
        parser.error("--budget-min: more than --other-stages-min")
    if args.train_ratio < 1:
        parser.error("--train-ratio: at least 1 (a stage never beats its workers' fit)")
    runs, caps, config = read_runs(args.project.resolve())
    write_report(args, cap_table(runs, caps), caps, config, runs)
    print(f"wrote {args.report} and {args.figure}")


if __name__ == "__main__":
    main()
