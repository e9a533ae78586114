"""Whole training runs of one architecture with the reference and the compiled backend:
reports/compiled_runs.md.

    python benchmarks/compiled_runs.py [--architecture ntm] [--datasets sunspots ...] [--prepared PATH]

Each dataset's seed-0 run trains as the default trains it (its settings, epoch cap and patience from
params.yaml with the active profiles), through ``rnnlab train`` in a process of its own, in a scratch copy
of the project, one torch thread: with ``backend: reference`` (the Python loop), then ``backend: compiled``
with an empty torch compile cache (a machine's first run: every graph compiled, for each batch shape),
then ``compiled`` again with the cache that run left (every later run on the machine). The fit
(``train_time_s``) includes the compilation; the best validation loss shows the backends train the same
model (equal up to float rounding, which the steps compound).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from pipeline_time import cpu  # noqa: E402
from scaling import scratch_project  # noqa: E402

from rnnlab.config import load_config  # noqa: E402

REPORT = ROOT / "reports" / "compiled_runs.md"
PASSES = (("reference", "—"), ("compiled", "empty"), ("compiled", "left by the run above"))


def train_once(root: Path, architecture: str, dataset: str, backend: str, cache: Path) -> dict:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["architectures"][architecture]["backend"] = backend
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_dir = root / "models" / dataset / architecture / "runs" / "seed_0"
    shutil.rmtree(run_dir, ignore_errors=True)  # a finished run of the same settings would be reused
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "rnnlab.cli", "train", "--architecture", architecture, "--dataset", dataset]
    started = time.perf_counter()
    done = subprocess.run([*command, "--seed", "0"], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{architecture} on {dataset} ({backend}): exit {done.returncode}\n{done.stderr[-3000:]}")
    return {**json.loads((run_dir / "run.json").read_text()), "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="ntm")
    parser.add_argument("--datasets", nargs="+", default=["sunspots"])
    parser.add_argument("--prepared", type=Path, default=ROOT, help="a project whose data/prepared holds the datasets")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    root = scratch_project(args.prepared.resolve(), args.datasets)
    rows = []
    for dataset in args.datasets:
        cache = Path(tempfile.mkdtemp(prefix="rnnlab-compile-cache-"))
        for backend, cache_state in PASSES:
            run = train_once(root, args.architecture, dataset, backend, cache)
            rows.append((dataset, backend, cache_state, run))
            print(f"{dataset} {backend} (cache {cache_state}): fit {run['train_time_s']:.1f} s", flush=True)
    config = load_config(root / "params.yaml")
    lines = [
        f"# {args.architecture}: whole runs with the reference and the compiled backend",
        "",
        f"Seed 0 of each dataset as the default trains it (params.yaml with profiles "
        f"{', '.join(config.profile) or 'none'}), `rnnlab train` in a process of its own, 1 torch thread, "
        f"on {cpu()}. *Compile cache*: torch's on-disk cache of compiled graphs when the run started "
        "(empty: a machine's first run of these shapes; a later run finds the graphs there). The fit includes "
        "the compilation.",
        "",
        "| dataset | backend | compile cache | fit (s) | process wall (s) | epochs | best val loss | fit ÷ reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reference = {}
    for dataset, backend, cache_state, run in rows:
        reference.setdefault(dataset, run["train_time_s"])
        lines.append(
            f"| {dataset} | {backend} | {cache_state} | {run['train_time_s']:.1f} | {run['wall_s']:.1f} | "
            f"{run['epochs_trained']} | {run['best_val_loss']:.5f} | {run['train_time_s'] / reference[dataset]:.2f} |"
        )
    command = (
        f"python benchmarks/compiled_runs.py --architecture {args.architecture} --datasets {' '.join(args.datasets)}"
    )
    lines += [
        "",
        f"Command: `{command}` (after `make pipeline`, or with `--prepared` naming a project that ran it).",
        "",
    ]
    args.report.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
