"""What a long-lived worker pays between two runs for collecting the last run's memory:
reports/worker_overhead.md.

    python benchmarks/worker_overhead.py [--dataset japanese_vowels] [--architecture gru] [--runs 6] [--prepared PATH]

One process trains runs one after another as a train-stage worker does (``rnnlab.execution``: the
libraries imported once, ``train_run`` per run, then a full collection of the garbage the run left),
in a scratch copy of the project. The runs alternate between two states of Python's collector: every
object alive after the last collection frozen out of its view (``gc.freeze``, what
``execution.release_memory`` does after a worker's first task), or not (``gc.unfreeze``: every
collection walks every object of the imported libraries too). Measured in the same process, in turn,
so the machine's load falls on both alike; the first run (imports, caches) is not counted.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from pipeline_time import cpu  # noqa: E402
from scaling import scratch_project  # noqa: E402

from rnnlab.config import load_config  # noqa: E402
from rnnlab.execution import quiet_libraries  # noqa: E402
from rnnlab.train import train_run  # noqa: E402

REPORT = ROOT / "reports" / "worker_overhead.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="japanese_vowels")
    parser.add_argument("--architecture", default="gru")
    parser.add_argument("--runs", type=int, default=6, help="runs measured in each state")
    parser.add_argument("--prepared", type=Path, default=ROOT, help="a project whose data/prepared holds the dataset")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    if args.runs < 1:
        raise SystemExit(f"--runs must be ≥ 1, got {args.runs}")
    root = scratch_project(args.prepared.resolve(), [args.dataset])
    config = load_config(root / "params.yaml")
    quiet_libraries()
    train_run(config, root, args.architecture, args.dataset, 0, quiet=True)  # imports and caches, not counted
    gc.collect()
    seconds: dict[bool, list[float]] = {False: [], True: []}
    tracked: dict[bool, list[int]] = {False: [], True: []}
    fits: list[float] = []
    for i in range(2 * args.runs):
        frozen = i % 2 == 1
        gc.freeze() if frozen else gc.unfreeze()
        summary = train_run(config, root, args.architecture, args.dataset, i + 1, quiet=True)
        fits.append(summary["train_time_s"])
        tracked[frozen].append(len(gc.get_objects()))
        started = time.perf_counter()
        gc.collect()
        seconds[frozen].append(time.perf_counter() - started)
        state = "frozen" if frozen else "not frozen"
        print(f"run {i + 1}: fit {fits[-1]:.1f} s, collection {seconds[frozen][-1]:.3f} s ({state})", flush=True)
    plain, frozen = statistics.median(seconds[False]), statistics.median(seconds[True])
    lines = [
        "# Between two runs of a worker: collecting the last run's memory",
        "",
        f"{args.architecture} on {args.dataset}, {2 * args.runs} runs one after another in one process as a "
        f"train-stage worker trains them (after one run not counted), on {cpu()}; the runs' fit: median "
        f"{statistics.median(fits):.1f} s. After each run, one full collection (`gc.collect()`), with the objects "
        "that outlived the earlier runs frozen out of the collector's view (`gc.freeze()` before the run) or not "
        "(`gc.unfreeze()`), in turn. `rnnlab.execution.release_memory` freezes once, after a worker's first task, "
        "so its later collections also walk what later runs left alive (their own caches, a few thousand objects).",
        "",
        "| collector | runs | objects it walks, median | collection after a run, median (s) |",
        "|---|---|---|---|",
        f"| everything in view | {args.runs} | {statistics.median(tracked[False]):,.0f} | {plain:.3f} |",
        f"| earlier survivors frozen | {args.runs} | {statistics.median(tracked[True]):,.0f} | {frozen:.3f} |",
        "",
        f"Frozen ÷ everything in view: {frozen / plain:.2f}.",
        "",
        f"Command: `python benchmarks/worker_overhead.py --dataset {args.dataset} --architecture {args.architecture} "
        f"--runs {args.runs}` (after `make pipeline`, or with `--prepared` naming a project that ran it).",
        "",
    ]
    args.report.write_text("\n".join(lines))
    print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
