"""Where `make pipeline`'s time goes, from the runs it left: reports/pipeline_time.md.

    make pipeline 2>&1 | python benchmarks/pipeline_time.py --stamp > pipeline.log   # a fresh clone, .venv built
    python benchmarks/pipeline_time.py --log pipeline.log [--second SECONDS] [--load AVERAGE] [--project PATH]

``--stamp`` copies its input to its output with each line's arrival time in front (UNIX seconds);
``--log`` reads such a log: the wall time (first line to last) and each DVC stage's, from the line
that starts it to the one where DVC records it in dvc.lock or turns to the next stage. ``--wall SECONDS``
stands in for a log.

Reads every run.json of the pipeline's runs (models/<dataset>/<architecture>/runs/seed_<n>/) of
the seeds in params.yaml and reports: the runs' summed fit (`train_time_s`) and whole-run
(`run_time_s`) seconds, the median cost of a run beyond its fit, how busy the workers were
(wall ÷ (summed fit ÷ workers)), the pairs and architectures that take the most time, and the
runs' measured times replayed through the order the train flow submits them in (``planned_runs``)
for several worker counts, and the progress line's estimate of the time left, replayed against
the time that was in fact left; with a log, the wall time of each kind of stage.
"""

from __future__ import annotations

import argparse
import heapq
import json
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from rnnlab.config import load_config  # noqa: E402
from rnnlab.execution import Progress, planned_runs  # noqa: E402
from rnnlab.results import TRAINING_FILE  # noqa: E402

REPLAY_WORKERS = (2, 4, 8, 16)


def cpu() -> str:
    """The processor and its cores, as the machine names them (runs on other machines compare only roughly)."""
    import os
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return f"{names[0] if names else platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def schedule(order, seconds: dict, workers: int, reused: frozenset = frozenset()) -> list[tuple[float, object]]:
    """(end, run) of each of ``order``, earliest end first, if each run goes to the first free worker
    (as Dask hands out tasks in submission order) and takes the seconds it took (a ``reused`` run: none)."""
    free = [0.0] * workers
    ends = []
    for run in order:
        end = heapq.heappop(free) + (0.0 if run in reused else seconds[run.architecture, run.dataset, run.seed])
        ends.append((end, run))
        heapq.heappush(free, end)
    return sorted(ends, key=lambda end_run: end_run[0])


def replay(order, seconds: dict, workers: int) -> float:
    """When the last of ``order`` ends (:func:`schedule`)."""
    return schedule(order, seconds, workers)[-1][0]


def replay_progress(
    planned: dict, seconds: dict, workers: int, reused: set, weigh: bool = True
) -> list[tuple[float, float, float]]:
    """The progress line's estimate as the runs finish, replayed: ``planned`` (run -> expected
    seconds, in submission order) handed to the first free worker, each taking its measured seconds
    (a reused run: none). Returns (share of runs done, estimated seconds left, seconds in fact left)
    at each finish. ``weigh=False``: the estimate without expected lengths (the mean of those done)."""
    ends = schedule(planned, seconds, workers, frozenset(reused))
    last = ends[-1][0]
    progress = Progress(len(ends), workers, {str(run): length for run, length in planned.items()} if weigh else None)
    points = []
    for k, (end, run) in enumerate(ends, 1):
        if run in reused:
            progress.step(str(run), "", reused=True)
        else:
            progress.step(str(run), "", seconds[run.architecture, run.dataset, run.seed])
        estimate = progress.seconds_left()
        if estimate is not None and k < len(ends):
            points.append((k / len(ends), estimate, last - end))
    return points


def between_runs(project: Path, config, runs: list[dict]) -> list[float]:
    """Seconds each worker sat between one run's end and its next run's start (MLflow's start and end
    times of the runs, each run given to the worker whose last run ended latest before it started)."""
    import mlflow

    from rnnlab import tracking

    client = mlflow.MlflowClient(tracking.prepare_store(config, project))
    spans = sorted((info.start_time, info.end_time) for info in (client.get_run(r["run_id"]).info for r in runs))
    last_end = [None] * config.execution.workers
    gaps = []
    for start, end in spans:
        free = [i for i, e in enumerate(last_end) if e is None or e <= start]
        if not free:  # the runs overlap more than the workers allow: not this pipeline's runs
            raise SystemExit(f"{project}: more runs at once than {len(last_end)} workers; not one train stage's runs")
        worker = max(free, key=lambda i: -1 if last_end[i] is None else last_end[i])
        if last_end[worker] is not None:
            gaps.append((start - last_end[worker]) / 1000)
        last_end[worker] = end
    return gaps


def fresh_clone_orders(project: Path, config) -> dict[str, dict]:
    """The order a fresh clone's first pipeline submits its runs in, with the committed record of
    this run (reports/training.json) and without it (the data's size alone)."""
    orders = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, record in (("the record's fit times", True), ("the data's size alone", False)):
            root = Path(tmp) / name
            for meta in (project / "data" / "prepared").glob("*/meta.json"):
                (root / meta.parent.relative_to(project)).mkdir(parents=True)
                shutil.copy(meta, root / meta.relative_to(project))
            if record:
                (root / TRAINING_FILE).parent.mkdir(parents=True)
                shutil.copy(project / TRAINING_FILE, root / TRAINING_FILE)
            orders[name] = planned_runs(config, root)
    return orders


def stamp() -> None:
    """Each line of stdin to stdout, its arrival time (UNIX seconds) in front."""
    import time

    for line in sys.stdin:
        sys.stdout.write(f"{time.time():.3f} {line}")
        sys.stdout.flush()


def stage_times(log: Path) -> tuple[float, dict[str, list[float]], float]:
    """(wall seconds, {stage kind: each stage's seconds}, seconds outside every stage) of a stamped
    ``make pipeline`` log. A stage runs from DVC's "Running stage 'NAME'" line to the next line in which DVC
    records it in dvc.lock or turns to another stage (DVC writes no lock line where the entry is unchanged);
    its kind is NAME up to an ``@`` (ingest@sunspots -> ingest)."""
    stamped = []
    for number, line in enumerate(log.read_text().splitlines(), 1):
        when, _, text = line.partition(" ")
        try:
            stamped.append((float(when), text))
        except ValueError:
            raise SystemExit(
                f"{log}:{number}: not a stamped line (UNIX seconds, a space, the text): {line[:80]!r}"
            ) from None
    if not stamped:
        raise SystemExit(f"{log}: empty")
    stages: dict[str, list[float]] = defaultdict(list)
    running = None
    for when, text in stamped:
        ends = text.startswith(("Running stage '", "Updating lock file", "Stage '"))
        if ends and running is not None:
            stages[running[0]].append(when - running[1])
            running = None
        if text.startswith("Running stage '"):
            running = (text.split("'")[1].split("@")[0], when)
    if running is not None:
        raise SystemExit(f"{log}: stage {running[0]!r} never finished; the pipeline did not run to its end")
    wall = stamped[-1][0] - stamped[0][0]
    return wall, dict(stages), wall - sum(sum(v) for v in stages.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="the project that ran the pipeline")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--wall", type=float, help="seconds `make pipeline` took")
    source.add_argument("--log", type=Path, help="a `make pipeline` log written through --stamp")
    source.add_argument("--stamp", action="store_true", help="copy stdin to stdout, each line's time in front")
    parser.add_argument("--second", type=float, default=None, help="seconds a second `make pipeline` took")
    parser.add_argument("--load", default=None, help="the machine's load while it ran, as measured (free text)")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "pipeline_time.md")
    args = parser.parse_args()
    if args.stamp:
        stamp()
        return
    stages, outside = {}, None
    if args.log is not None:
        args.wall, stages, outside = stage_times(args.log)
    config = load_config(args.project / "params.yaml")
    runs = []
    for architecture, dataset in config.pairs():
        for seed in config.train.seeds:
            record = args.project / "models" / dataset / architecture / "runs" / f"seed_{seed}" / "run.json"
            if not record.is_file():
                raise SystemExit(f"{record}: missing; the pipeline has not finished this run")
            runs.append(json.loads(record.read_text()))
    workers = config.execution.workers
    fit = sum(r["train_time_s"] for r in runs)
    whole = [r for r in runs if "run_time_s" in r]
    beyond = statistics.median(r["run_time_s"] - r["train_time_s"] for r in whole) if whole else float("nan")
    gaps = between_runs(args.project, config, runs)
    by_pair, by_arch = defaultdict(float), defaultdict(float)
    for r in runs:
        by_pair[(r["architecture"], r["dataset"])] += r["train_time_s"]
        by_arch[r["architecture"]] += r["train_time_s"]
    lines = [
        "# Where `make pipeline`'s time goes",
        "",
        f"The default (active profiles: {', '.join(config.profile) or 'none'}; "
        f"{len(config.retuned_pairs())} pairs with tuned settings): {len(config.pairs())} "
        f"(architecture, dataset) pairs × {len(config.train.seeds)} "
        f"seeds = {len(runs)} runs, {workers} local workers × {config.train.num_threads} torch thread(s) per run, on "
        f"a fresh clone with `.venv` built, on {cpu()}."
        + (f" Machine load while it ran: {args.load}." if args.load else ""),
        "",
        "| measure | value |",
        "|---|---|",
        f"| `make pipeline`, wall | {args.wall / 60:.1f} min ({args.wall:.0f} s) |",
        f"| runs' fit (`train_time_s`), summed | {fit / 60:.1f} min |",
        f"| the same ÷ {workers} workers | {fit / workers / 60:.1f} min |",
        f"| wall ÷ (summed fit ÷ workers) | {args.wall / (fit / workers):.2f} |",
        "| runs' whole time (`run_time_s`), summed | "
        f"{sum(r['run_time_s'] for r in whole) / 60:.1f} min ({len(whole)} runs) |",
        f"| median of `run_time_s − train_time_s` | {beyond:.2f} s |",
        "| a worker between two runs (one's end to the next's start, MLflow's times), median | "
        f"{statistics.median(gaps):.2f} s |",
        f"| workers' time between runs, summed ÷ {workers} workers | {sum(gaps) / workers / 60:.1f} min |",
    ]
    if args.second is not None:
        lines.append(f"| a second `make pipeline` (nothing to do) | {args.second:.1f} s |")
    if stages:
        lines += [
            "",
            "## Wall time by stage",
            "",
            "Each DVC stage from the line that starts it to the one where DVC records it in dvc.lock or turns to "
            "the next stage (a stage's own "
            "process: its imports, its Prefect flow, its work); *outside the stages*: the Prefect server's start, "
            "`rnnlab plan`, DVC reading the pipeline and checking what is stale.",
            "",
            "| stage | stages | wall (min) | share of the wall | each, median (s) |",
            "|---|---|---|---|---|",
        ]
        for kind, seconds in sorted(stages.items(), key=lambda item: -sum(item[1])):
            lines.append(
                f"| {kind} | {len(seconds)} | {sum(seconds) / 60:.1f} | {sum(seconds) / args.wall:.0%} | "
                f"{statistics.median(seconds):.1f} |"
            )
        lines.append(f"| outside the stages | | {outside / 60:.1f} | {outside / args.wall:.0%} | |")
    lines += [
        "",
        "## Fit time by architecture (all datasets and seeds)",
        "",
        "| architecture | fit summed (min) | share |",
        "|---|---|---|",
    ]
    for arch, seconds in sorted(by_arch.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {arch} | {seconds / 60:.1f} | {seconds / fit:.0%} |")
    lines += [
        "",
        "## The 15 longest pairs (fit, all seeds)",
        "",
        "| architecture | dataset | fit summed (s) | epochs per run |",
        "|---|---|---|---|",
    ]
    epochs = defaultdict(list)
    for r in runs:
        epochs[(r["architecture"], r["dataset"])].append(r["epochs_trained"])
    for (arch, ds), seconds in sorted(by_pair.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"| {arch} | {ds} | {seconds:.0f} | {', '.join(str(e) for e in epochs[(arch, ds)])} |")
    lines += [
        "",
        "## By dataset: fit time and where the validation loss was best",
        "",
        "Epoch cap and patience from params.yaml; *best epoch* is the epoch of the lowest validation "
        "loss (0-based, the checkpoint kept), *stopped early* counts the runs that patience ended "
        "before the cap, *best in the last 10 %* the runs whose best epoch lies in the last tenth of "
        "the cap (still improving when the cap ended them: a trim would cost them).",
        "",
        "| dataset | runs | fit summed (min) | epoch cap | patience | best "
        "epoch, median (range) | stopped early | best in the last 10 % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_dataset = defaultdict(list)
    for r in runs:
        by_dataset[r["dataset"]].append(r)
    for ds, group in sorted(by_dataset.items(), key=lambda kv: -sum(r["train_time_s"] for r in kv[1])):
        train = config.train_for(ds)
        best = [r["best_epoch"] for r in group]
        early = sum(r["epochs_trained"] < train.max_epochs for r in group)
        late = sum(r["best_epoch"] + 1 > 0.9 * train.max_epochs for r in group)
        lines.append(
            f"| {ds} | {len(group)} | {sum(r['train_time_s'] for r in group) / 60:.1f} | {train.max_epochs} | "
            f"{train.patience} | {statistics.median(best):.0f} ({min(best)}–{max(best)}) | {early} | {late} |"
        )
    seconds = {(r["architecture"], r["dataset"], r["seed"]): r.get("run_time_s", r["train_time_s"]) for r in runs}
    orders = fresh_clone_orders(args.project, config)
    lines += [
        "",
        "## The run order, replayed",
        "",
        "Each run's measured `run_time_s` replayed in the order a fresh clone's train flow submits the "
        "runs (`rnnlab.execution.planned_runs`), each run to the first free worker: with this run's "
        "record (`reports/training.json`, committed, so the next fresh clone orders by it) and with the "
        "data's size alone (steps × epoch cap). The record holds this very run's times, so the first "
        "column is the best such an order can do. Gaps between runs and the stage's start are not "
        "in it; the bound is the larger of (summed time ÷ workers) and the longest run.",
        "",
        "| workers | " + " | ".join(f"ordered by {name} (min)" for name in orders) + " | bound (min) |",
        "|---|" + "---|" * len(orders) + "---|",
    ]
    for n in REPLAY_WORKERS:
        bound = max(sum(seconds.values()) / n, max(seconds.values()))
        ends = " | ".join(f"{replay(order, seconds, n) / 60:.1f}" for order in orders.values())
        lines.append(f"| {n} | {ends} | {bound / 60:.1f} |")
    planned = orders["the record's fit times"]
    retuned = set(config.retuned_pairs())
    passes = {
        "a fresh clone (every run trains)": set(),
        "the same pipeline with `rnnlab profile none` (only the tuned pairs train; every other run is reused)": {
            run for run in planned if (run.architecture, run.dataset) not in retuned
        },
    }
    lines += [
        "",
        "## The progress line's estimate, replayed",
        "",
        f"The same replay on {workers} workers: after each finished run, the time left as the progress line "
        "estimates it (`rnnlab.execution.Progress`: the expected length of the runs not done — the order's "
        "lengths, from the record — scaled by what the finished runs took against theirs, over the workers) "
        "against the time that was in fact left; a reused run is taken as instant. *Mean of the first runs* "
        "is the estimate that weighs nothing (the runs left × the mean cost of the trained runs done ÷ the "
        "workers): runs go longest first, so it overstates what is left, by far when most runs are reused. "
        "The record holds this very run's times, so the fresh clone's rows are the best case. Where most runs "
        "are reused the estimate runs low: the reused runs sit mostly among the long first runs, so the share "
        "of the runs done that cost nothing is larger than the share among those left; the runs that will be "
        "reused are not known before their worker computes their fingerprint.",
        "",
        "| pass | runs done | left in fact (min) | estimated (min) | mean of the first runs (min) |",
        "|---|---|---|---|---|",
    ]
    for name, reused in passes.items():
        points = replay_progress(planned, seconds, workers, reused)
        plain = replay_progress(planned, seconds, workers, reused, weigh=False)
        for share in (0.1, 0.25, 0.5, 0.75, 0.9):
            i = min(range(len(points)), key=lambda j: abs(points[j][0] - share))
            j = min(range(len(plain)), key=lambda j: abs(plain[j][0] - share))
            lines.append(
                f"| {name} | {points[i][0]:.0%} | {points[i][2] / 60:.1f} | {points[i][1] / 60:.1f} | "
                f"{plain[j][1] / 60:.1f} |"
            )
    command = (
        (
            "python benchmarks/pipeline_time.py --log pipeline.log"
            if stages
            else f"python benchmarks/pipeline_time.py --wall {args.wall:.0f}"
        )
        + (f" --second {args.second:.1f}" if args.second is not None else "")
        + (" --load ..." if args.load else "")
    )
    run = (
        "`make pipeline 2>&1 | python benchmarks/pipeline_time.py --stamp > pipeline.log`"
        if stages
        else "`/usr/bin/time -f %e make pipeline`"
    )
    lines += ["", f"Command: {run} on a fresh clone, then `{command}`.", ""]
    args.report.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
