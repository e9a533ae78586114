"""GPU check: one epoch of every configured architecture through the real entry point, per GPU count.

On a machine with GPUs (after `make pipeline` has prepared the data):

    python benchmarks/gpu_check.py                 # devices 1, 2, 4, ... and -1 (all), bf16-mixed, ddp

On the CPU, as a dry run of the same path (2 processes over gloo, 32-bit):

    python benchmarks/gpu_check.py --dry-run

Each training runs as `python -m rnnlab.train` in a scratch copy of the project (params.yaml with
the trainer section rewritten, the prepared data copied), so the project's own models and MLflow
store are untouched. Throughput = training sequences × epochs / wall time of `fit` (start-up of the
extra ranks included). Results: reports/gpu_check.md.
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

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the project's modules without an install (the GPU machine has none)
from rnnlab.config import load_config  # noqa: E402

REPORT = ROOT / "reports" / "gpu_check.md"


def gpu_counts(dry_run: bool) -> list[int]:
    if dry_run:
        return [2]
    import torch

    available = torch.cuda.device_count()
    if available == 0:
        raise SystemExit("no GPU found: run with --dry-run to exercise the same path on the CPU")
    counts = [n for n in (1, 2, 4, 8) if n < available] + [-1]
    return counts


def scratch_project(dataset: str, trainer: dict, work: Path) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["trainer"].update(trainer)
    params["train"].update(max_epochs=1, seeds=[0])
    params["datasets"][dataset]["train"] = {
        **(params["datasets"][dataset].get("train") or {}),
        "max_epochs": 1,
    }  # a dataset's own budget too
    params["tracking"].update(tracking_uri=None, artifact_root=None)
    work.mkdir(parents=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    prepared = ROOT / "data" / "prepared" / dataset
    if not (prepared / "meta.json").is_file():
        raise SystemExit(f"{prepared}: not prepared yet; run `make pipeline` (or `dvc repro prepare@{dataset}`) first")
    shutil.copytree(prepared, work / "data" / "prepared" / dataset)
    return work


def run_one(work: Path, architecture: str, dataset: str) -> dict:
    command = [
        sys.executable,
        "-m",
        "rnnlab.train",
        "--architecture",
        architecture,
        "--dataset",
        dataset,
        "--seed",
        "0",
    ]
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": path}
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": (result.stderr or result.stdout).strip().splitlines()[-1][:300]}
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    meta = json.loads((work / "data" / "prepared" / dataset / "meta.json").read_text())
    sequences = meta.lengths["train"]["sequences"] * (summary["epochs_trained"] or 1)
    return {**summary, "sequences_per_s": sequences / summary["train_time_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, devices 2, 32-bit: the same path without a GPU")
    parser.add_argument(
        "--dataset",
        action="append",
        help="a prepared dataset (repeat for several); default: the first dataset of the pipeline",
    )
    parser.add_argument(
        "--architecture",
        action="append",
        help="only these architectures (repeat for several); default: every one the pipeline trains on the dataset",
    )
    parser.add_argument(
        "--report", type=Path, default=REPORT, help=f"where the table goes (default {REPORT.relative_to(ROOT)})"
    )
    args = parser.parse_args()
    config = load_config(ROOT / "params.yaml")
    datasets = args.dataset or config.pipeline.datasets[:1]
    command = "python benchmarks/gpu_check.py" + (" --dry-run" if args.dry_run else "")
    command += "".join(f" --dataset {d}" for d in args.dataset or []) + "".join(
        f" --architecture {a}" for a in args.architecture or []
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="rnnlab-gpu-check-") as tmp:
        for count in gpu_counts(args.dry_run):
            trainer = (
                {"accelerator": "cpu", "devices": count, "strategy": "ddp", "precision": "32-true", "num_nodes": 1}
                if args.dry_run
                else {
                    "accelerator": "gpu",
                    "devices": count,
                    "strategy": "ddp",
                    "precision": "bf16-mixed",
                    "num_nodes": 1,
                }
            )
            for dataset in datasets:
                work = scratch_project(dataset, trainer, Path(tmp) / f"devices_{count}_{dataset}")
                for architecture in [
                    a for a in config.architectures_for(dataset) if not args.architecture or a in args.architecture
                ]:  # pairs the pipeline trains
                    result = run_one(work, architecture, dataset)
                    rows.append(
                        {"devices": count, "dataset": dataset, "architecture": architecture, **trainer, **result}
                    )
                    print(
                        json.dumps(
                            {
                                k: rows[-1].get(k)
                                for k in (
                                    "devices",
                                    "dataset",
                                    "architecture",
                                    "world_size",
                                    "sequences_per_s",
                                    "error",
                                )
                            }
                        ),
                        flush=True,
                    )
                    args.report.parent.mkdir(parents=True, exist_ok=True)
                    args.report.write_text(
                        render(rows, command, args.dry_run)
                    )  # after every run: a cut-off check keeps what it measured
    print(args.report.read_text())


def render(rows: list[dict], command: str, dry_run: bool) -> str:
    lines = [
        "# GPU check",
        "",
        "One epoch of each architecture the pipeline trains on each "
        f"dataset, through `python -m rnnlab.train`; written by `{command}`"
        + (" — **dry run on the CPU** (gloo, 2 processes): it checks the path, not GPU speed." if dry_run else "."),
        "",
        "| devices | world size | dataset | architecture | precision | sequences / s | wall time of fit (s) | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['devices']} | — | {r['dataset']} | {r['architecture']} "
                f"| {r['precision']} | — | — | failed: {r['error']} |"
            )
        else:
            lines.append(
                f"| {r['devices']} | {r['world_size']} | {r['dataset']} | {r['architecture']} | {r['precision']} | "
                f"{r['sequences_per_s']:,.0f} | {r['train_time_s']:.1f} | ok |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
