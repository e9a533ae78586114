"""Scaling of the train stage: the same set of runs on 1 worker × N threads and on N workers × 1 thread.

After `make pipeline` has prepared the data (or with `--prepared` naming a project that has):

    python benchmarks/scaling.py                       # 2 cores: 1 worker × 2 threads vs 2 workers × 1 thread
    python benchmarks/scaling.py --datasets japanese_vowels sunspots --architectures lstm gru --workers 1 2 4

Each configuration trains every run from scratch through the real train flow (`python flows/train.py`
on a local Dask cluster, a Prefect server of its own) in a scratch copy of the project, so the
project's models and MLflow store are untouched. Reported per configuration: the stage's wall time,
the runs' summed `train_time_s` (fit) and `run_time_s` (the whole run), and the wall-time ratio to
the first configuration. On a machine with GPUs, `--gpu` sets `trainer.accelerator: gpu` and gives
each worker one GPU (`CUDA_VISIBLE_DEVICES` per worker is Dask's to set: run one worker per GPU with
dask-cuda and pass its address instead). Results: reports/scaling.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "scaling.md"
DEFAULT_DATASETS = ["japanese_vowels", "basic_motions", "sunspots", "amp_peptides"]
DEFAULT_ARCHITECTURES = ["rnn", "lstm", "gru", "dglstm", "dilated", "attention"]


def scratch_project(prepared_from: Path, datasets: list[str]) -> Path:
    """A copy of the project's tracked files with the datasets' prepared data, in a temporary folder."""
    from rnnlab.paths import copy_project

    dest = copy_project(ROOT, Path(tempfile.mkdtemp(prefix="rnnlab-scaling-")))
    for dataset in datasets:
        source = prepared_from / "data" / "prepared" / dataset
        if not (source / "meta.json").is_file():
            raise SystemExit(f"{source}: not prepared; run `make pipeline` first or pass --prepared PROJECT")
        shutil.copytree(source, dest / "data" / "prepared" / dataset)
    return dest


def configure(
    root: Path, datasets: list[str], architectures: list[str], seeds: list[int], workers: int, threads: int, gpu: bool
) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pipeline"] = {"datasets": datasets, "architectures": architectures}
    params["train"].update(seeds=seeds, num_threads=threads)
    for dataset in datasets:  # a dataset's own thread count would override the configuration's
        params["datasets"][dataset].get("train", {}).pop("num_threads", None)
    params["execution"].update(address=None, workers=workers)
    if gpu:
        params["trainer"].update(accelerator="gpu", devices=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@contextlib.contextmanager
def own_prefect(root: Path):
    """A Prefect server of the scratch project's own, and the environment its flows run in; on exit the server
    stops and the scratch project is removed."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(root / ".prefect"),
        "RNNLAB_PREFECT_PORT": str(4300 + os.getpid() % 500),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    service = [sys.executable, "-m", "rnnlab.services"]
    subprocess.run([*service, "start", "prefect"], cwd=root, env=env, check=True, capture_output=True)
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{env['RNNLAB_PREFECT_PORT']}/api"
    try:
        yield env
    finally:
        subprocess.run([*service, "stop", "prefect"], cwd=root, env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def run_stage(root: Path, env: dict) -> tuple[float, list[dict]]:
    for folder in ("models", "mlflow"):
        shutil.rmtree(root / folder, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "flows/train.py"], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the train flow failed ({done.returncode}):\n{done.stderr[-3000:]}")
    runs = [json.loads(p.read_text()) for p in sorted((root / "models").glob("*/*/runs/seed_*/run.json"))]
    return wall, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS)
    parser.add_argument("--architectures", nargs="+", default=DEFAULT_ARCHITECTURES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--workers", nargs="+", type=int, default=None, help="worker counts (default: 1 and the core count)"
    )
    parser.add_argument("--prepared", type=Path, default=ROOT, help="a project whose data/prepared holds the datasets")
    parser.add_argument("--gpu", action="store_true", help="one GPU per run (workers = GPUs)")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    worker_counts = args.workers or sorted({1, cores})
    root = scratch_project(args.prepared.resolve(), args.datasets)
    rows = []
    with own_prefect(root) as env:
        for workers in worker_counts:
            threads = 1 if args.gpu else max(1, cores // workers)
            configure(root, args.datasets, args.architectures, args.seeds, workers, threads, args.gpu)
            wall, runs = run_stage(root, env)
            row = {
                "workers": workers,
                "threads": threads,
                "runs": len(runs),
                "wall_s": wall,
                "fit_s": sum(r["train_time_s"] for r in runs),
                "run_s": sum(r["run_time_s"] for r in runs),
                "beyond_s": statistics.median(r["run_time_s"] - r["train_time_s"] for r in runs),
            }
            rows.append(row)
            print(
                f"{workers} worker(s) × {threads} thread(s): {len(runs)} runs in {wall:.0f} s (fit "
                f"{row['fit_s']:.0f} s summed)",
                flush=True,
            )
    write_report(args, rows, cores)


def write_report(args, rows: list[dict], cores: int) -> None:
    first = rows[0]["wall_s"]
    lines = [
        "# Scaling of the train stage",
        "",
        f"The same {rows[0]['runs']} runs ({', '.join(args.architectures)} on {', '.join(args.datasets)}, seeds "
        f"{', '.join(map(str, args.seeds))}) trained from scratch through the train flow on a local Dask cluster, "
        f"once per configuration, on {cores} cores{' with GPUs' if args.gpu else ''} "
        f"({platform.processor() or platform.machine()}).",
        "Wall: the stage from start to end (cluster start-up and shutdown included). Fit and whole run: the runs' "
        "`train_time_s` and `run_time_s` summed. Beyond fit: the median over runs of "
        "`run_time_s − train_time_s` (what a run costs besides fitting). Runs per minute: runs ÷ wall.",
        "",
        "| workers × threads per run | runs | wall (s) | runs per minute "
        "| fit summed (s) | whole runs summed (s) | beyond fit, median (s) | wall ÷ first row's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} × {r['threads']} | {r['runs']} | {r['wall_s']:.0f} | "
            f"{60 * r['runs'] / r['wall_s']:.1f} | {r['fit_s']:.0f} | {r['run_s']:.0f} | {r['beyond_s']:.2f} | "
            f"{r['wall_s'] / first:.2f} |"
        )
    command = "python benchmarks/scaling.py " + " ".join(
        [
            f"--datasets {' '.join(args.datasets)}",
            f"--architectures {' '.join(args.architectures)}",
            f"--seeds {' '.join(map(str, args.seeds))}",
        ]
        + ([f"--workers {' '.join(map(str, args.workers))}"] if args.workers else [])
        + (["--gpu"] if args.gpu else [])
    )
    lines += ["", f"Command: `{command}`", ""]
    args.report.write_text("\n".join(lines))
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()
