"""What each (architecture, dataset) pair of the pipeline costs per epoch, and what the default's caps make of
it: reports/pair_cost.md. The budget of the default profile is read against this table.

After the data are prepared (`dvc repro prepare`, or `make pipeline`; or `--prepared` naming a project that has):

    python benchmarks/pair_cost.py [--epochs 2] [--prepared PATH] [--architectures ...] [--datasets ...]

Every pair of the pipeline trains ``--epochs`` epochs (at least 2), seed 0, through the real train flow in a
scratch copy of the project (benchmarks/scaling.py's), with the execution section's workers and threads.
Per-epoch cost: the median time between the ends of successive validation epochs (MLflow's timestamps of
``val_loss``), so the first epoch's set-up — a compiled backend's compilation, paid once per worker and
shape — is not in it; it is reported on its own, as the first epoch's excess. The projection multiplies the
per-epoch cost by each pair's epoch cap: an upper bound, since early stopping ends many runs sooner.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from scaling import own_prefect, run_stage, scratch_project  # noqa: E402

from rnnlab.config import load_config  # noqa: E402

REPORT = ROOT / "reports" / "pair_cost.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--prepared", type=Path, default=ROOT, help="a project whose data/prepared holds the datasets")
    parser.add_argument("--datasets", nargs="+", default=None, help="default: the pipeline's")
    parser.add_argument("--architectures", nargs="+", default=None, help="default: the pipeline's")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs: at least 2 (an epoch's cost is measured between two epochs' ends)")
    config = load_config(ROOT / "params.yaml")
    datasets = args.datasets or config.pipeline.datasets
    architectures = args.architectures or config.pipeline.architectures
    root = scratch_project(args.prepared.resolve(), datasets)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pipeline"] = {"datasets": datasets, "architectures": architectures}
    params["train"].update(seeds=[0], max_epochs=args.epochs, patience=args.epochs)
    for dataset in datasets:  # a dataset's own cap would override the one above
        params["datasets"][dataset].setdefault("train", {}).update(max_epochs=args.epochs, patience=args.epochs)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with own_prefect(root) as env:
        wall, runs = run_stage(root, env)
        epoch_seconds(root, runs)
    write_report(args, config, runs, wall)


def epoch_seconds(root: Path, runs: list[dict]) -> None:
    """Each run's epoch cost (median gap between its validation epochs' ends) and its first epoch's excess."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    for run in runs:
        ends = sorted(m.timestamp for m in client.get_metric_history(run["run_id"], "val_loss"))
        run["epoch_s"] = statistics.median(b - a for a, b in zip(ends, ends[1:])) / 1000
        run["first_extra_s"] = max(0.0, run["train_time_s"] - run["epochs_trained"] * run["epoch_s"])


def write_report(args, config, runs: list[dict], wall: float) -> None:
    per_epoch = {(r["architecture"], r["dataset"]): r["epoch_s"] for r in runs}
    first_extra = defaultdict(float)
    for r in runs:
        first_extra[r["architecture"]] = max(first_extra[r["architecture"]], r["first_extra_s"])
    architectures = [a for a in config.pipeline.architectures if any(a == k[0] for k in per_epoch)]
    datasets = [d for d in config.pipeline.datasets if any(d == k[1] for k in per_epoch)]
    seeds, workers = len(config.train.seeds), config.execution.workers
    at_cap = {(a, d): c * config.train_for(d, a).max_epochs for (a, d), c in per_epoch.items()}
    by_dataset, by_arch = defaultdict(float), defaultdict(float)
    for (a, d), seconds in at_cap.items():
        by_dataset[d] += seconds
        by_arch[a] += seconds
    total = sum(at_cap.values())
    lines = [
        "# What each pair costs",
        "",
        f"Every pair of the pipeline trained {args.epochs} epoch(s), seed 0, through the train flow "
        f"({workers} workers × {config.train.num_threads} thread(s) per run, {len(runs)} runs in {wall:.0f} s). "
        "Per-epoch fit: the median time between the ends of successive validation epochs. *At cap*: per-epoch "
        "fit × the pair's epoch cap in params.yaml, an upper bound (early stopping ends many runs sooner). "
        "*First epoch's excess*: the most any of the architecture's runs spent beyond its epochs (set-up, and a "
        "compiled backend's compilation, paid once per worker and shape).",
        "",
        "## Seconds of fit per epoch",
        "",
        "| dataset | " + " | ".join(architectures) + " | epoch cap | at cap, one seed (min) |",
        "|---|" + "---|" * (len(architectures) + 2),
    ]
    for d in datasets:
        cells = [f"{per_epoch[(a, d)]:.1f}" if (a, d) in per_epoch else "—" for a in architectures]
        cap = config.train_for(d).max_epochs
        lines.append(f"| {d} | " + " | ".join(cells) + f" | {cap} | {by_dataset[d] / 60:.1f} |")
    lines += [
        "",
        "## At the caps",
        "",
        "| architecture | fit at cap, one seed (min) | share | first epoch's excess, most (s) |",
        "|---|---|---|---|",
    ]
    for a, seconds in sorted(by_arch.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {a} | {seconds / 60:.1f} | {seconds / total:.0%} | {first_extra[a]:.0f} |")
    lines += [
        "",
        f"One seed of every pair at its cap: {total / 60:.0f} min of fit; the default's {seeds} seeds on "
        f"{workers} workers: {total * seeds / workers / 60:.0f} min of train stage at most.",
        "",
        f"Command: `python benchmarks/pair_cost.py --epochs {args.epochs}"
        + (f" --datasets {' '.join(args.datasets)}" if args.datasets else "")
        + (f" --architectures {' '.join(args.architectures)}" if args.architectures else "")
        + "`",
        "",
    ]
    args.report.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
