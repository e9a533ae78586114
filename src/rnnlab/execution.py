"""Where the pipeline's trainings run: Prefect tasks on a Dask cluster of long-lived workers.

``execution`` in params.yaml picks the cluster. With ``address: null`` the train flow starts a
local Dask cluster of ``workers`` processes for the stage and closes it after; with an address it
joins that scheduler (started by hand, by dask-jobqueue on SLURM, by dask-cuda on a multi-GPU
node) and changes nothing else. Each worker imports torch, Lightning and MLflow once and then
trains one run after another; a run's torch threads come from ``train.num_threads``.

A run on several devices or nodes (``trainer.devices`` > 1 or ``trainer.num_nodes`` > 1) is not
trained inside a worker: it is launched as its own process group (``python -m rnnlab.train``, which
Lightning's DDP or torchrun re-launches per rank), one run at a time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rnnlab.config import Config
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.paths import seed_dir
from rnnlab.results import TRAINING_FILE


@dataclass(frozen=True)
class Run:
    architecture: str
    dataset: str
    seed: int

    def __str__(self) -> str:
        return f"{self.architecture} on {self.dataset} (seed {self.seed})"


def planned_runs(config: Config, root: Path) -> dict[Run, float]:
    """Every (architecture, dataset, seed) the pipeline trains with its expected fit seconds, the
    longest first, so that no worker is left with a long run at the end while the others wait (and
    the progress line can weigh what remains). A run's length is, of what is known:
    the longest fit of an earlier run of the pair in this project; else the pair's mean fit in the
    train stage's record (reports/training.json, committed with the code: a fresh clone orders its
    first pipeline by the runs that made the record); else its data's steps × max_epochs at the
    median pace of its architecture's known pairs (of all known pairs if it has none), since one
    architecture's step can cost several times another's."""
    runs = [Run(a, ds, seed) for a, ds in config.pairs() for seed in config.train.seeds]
    work = {ds: _steps(root, ds) * config.train_for(ds).max_epochs for ds in config.pipeline.datasets}
    recorded = _recorded_times(root)
    known = {}
    for r in runs:
        if (t := _earlier_time(root, r)) is None:
            t = recorded.get((r.architecture, r.dataset))
        if t is not None:
            known[r.architecture, r.dataset] = t
    paces: dict[str | None, list[float]] = {}
    for (a, ds), t in known.items():
        if work[ds] > 0:
            paces.setdefault(a, []).append(t / work[ds])
            paces.setdefault(None, []).append(t / work[ds])
    median = {a: sorted(p)[len(p) // 2] for a, p in paces.items()}

    def length(r: Run) -> float:
        if (r.architecture, r.dataset) in known:
            return known[r.architecture, r.dataset]
        return work[r.dataset] * median.get(r.architecture, median.get(None, 1.0))

    return {r: length(r) for r in sorted(runs, key=length, reverse=True)}


def _steps(root: Path, dataset: str) -> float:
    """Time steps in the training split (sequences × mean length), from the prepared meta."""
    try:
        lengths = json.loads((Path(root) / "data" / "prepared" / dataset / "meta.json").read_text())["lengths"]["train"]
        return float(lengths["sequences"] * lengths["mean"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _earlier_time(root: Path, run: Run) -> float | None:
    """The longest fit of any earlier run of the pair, if one finished."""
    times = []
    for record in seed_dir(root, run.dataset, run.architecture, run.seed).parent.glob("seed_*/run.json"):
        try:
            times.append(float(json.loads(record.read_text())["train_time_s"]))
        except (OSError, ValueError, KeyError):
            continue
    return max(times) if times else None


def _recorded_times(root: Path) -> dict[tuple[str, str], float]:
    """(architecture, dataset) -> mean fit seconds, from the train stage's record, if there is one."""
    try:
        record = json.loads((Path(root) / TRAINING_FILE).read_text())
        return {(a, ds): float(m["train_time_s"]) for ds, pairs in record.items() for a, m in pairs.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def check_local_threads(config: Config, cores: int | None = None) -> None:
    """Workers × torch threads per run must fit the machine: two workers of two threads each on two
    cores train each run several times slower than one worker would."""
    cores = cores or os.cpu_count() or 1
    workers = config.execution.workers
    threads, dataset = max((config.train_for(ds).num_threads, ds) for ds in config.pipeline.datasets)
    if workers * threads > cores:
        where = (
            "train.num_threads"
            if config.train_for(dataset).num_threads == config.train.num_threads
            else f"datasets.{dataset}.train.num_threads"
        )
        raise ConfigError(
            f"params.yaml: execution.workers = {workers} × {where} = {threads} is {workers * threads} threads "
            f"on a machine with {cores} cores; lower one of them so that their product is at most {cores}"
        )


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """One line when nothing answers at the scheduler's address, before anything trains."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return
    except OSError as err:
        reason = err.strerror or type(err).__name__
    raise ConfigError(
        f"params.yaml: execution.address = {address!r}: no Dask scheduler answers there ({reason}); "
        "start one (docs/scaling.md) or set execution.address: null to train on this machine"
    )


def task_runner(config: Config, short_tasks: bool = False):
    """The Prefect task runner a flow submits its runs to. ``short_tasks`` (compare's evaluations, seconds
    each): with one local worker they run in this process, which a cluster of one would only add its
    start-up and a second import of torch to."""
    _exit_on_sigterm()
    alone = short_tasks and not config.execution.address and config.execution.workers == 1
    # a run that spans processes is a process group of its own: one at a time, as short tasks alone are
    if config.trainer.spans_processes() or alone:
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=1)
    import dask
    from prefect_dask import DaskTaskRunner

    if config.execution.address:
        check_address(config.execution.address)
        return DaskTaskRunner(address=config.execution.address)
    check_local_threads(config)
    _workers_report_to_this_api()
    dask.config.set(
        {
            "logging.distributed": "warning",  # the cluster's start and stop, not one line per worker event
            "distributed.worker.daemon": False,  # a run may start processes (DataLoader workers, DDP)
            # a run whose worker died: started again this often
            "distributed.scheduler.allowed-failures": config.execution.retries,
            "distributed.worker.memory.terminate": False,  # a worker is never killed for memory mid-run; the OS decides
        }
    )
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": config.execution.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )


def train_in_worker(root: Path, architecture: str, dataset: str, seed: int) -> dict:
    """One run where this task executes: in this (warm) process, or as its own process group when
    the trainer spans several. Returns the run's summary (``reused`` when it was finished before)."""
    from rnnlab.config import load_config
    from rnnlab.train import train_run

    config = load_config(Path(root) / "params.yaml")
    if config.trainer.spans_processes():
        return launch_process_group(root, architecture, dataset, seed)
    quiet_libraries()
    try:
        return train_run(config, Path(root), architecture, dataset, seed, quiet=True)
    finally:
        release_memory()


def release_memory() -> None:
    """After a task in a long-lived worker: the next one starts from the memory this one held (its
    reference cycles — Trainer, model, optimiser — collected now). The objects that outlive the
    worker's first task (the imported libraries, their caches) are then frozen out of the collector's
    view, so each later collection walks only what later tasks made: about 0.08 s instead of 0.35 s a
    run (benchmarks/worker_overhead.py)."""
    import gc

    gc.collect()
    if not gc.get_freeze_count():
        gc.freeze()


def _workers_report_to_this_api() -> None:
    """Where no PREFECT_API_URL names a server, Prefect runs a temporary one per process; the local workers
    are handed this process's (Prefect's client keeps one per process): each would start its own, and a
    worker the cluster kills at its close would leave that server running."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or os.environ.get("PREFECT_API_URL"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()  # already running if this process has talked to Prefect; stopped when it exits
    os.environ["PREFECT_API_URL"] = server.api_url


def _exit_on_sigterm() -> None:
    """SIGTERM (kill, timeout, a scheduler's cancel) ends the process that runs a flow as an exit does
    (status 143), so a temporary Prefect server it started stops with it and its clean-up runs (by default
    SIGTERM skips the exit handlers that stop the server). Set by every flow that fans out (train,
    compare, tune), whichever engine it uses; a handler set by someone else is kept."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def quiet_libraries() -> None:
    """A worker's terminal shows the flow's one line per run, not each library's chatter per run."""
    import logging

    import lightning.pytorch  # noqa: F401  its import sets its logger to INFO: imported first, so it stays quiet

    for name, level in {
        "distributed": logging.WARNING,
        "lightning.pytorch": logging.WARNING,
        "lightning.fabric": logging.WARNING,
        "mlflow.pyfunc": logging.ERROR,
        "mlflow.system_metrics": logging.WARNING,
        "mlflow.models": logging.ERROR,
    }.items():
        logging.getLogger(name).setLevel(level)


def launch_process_group(root: Path, architecture: str, dataset: str, seed: int) -> dict:
    from rnnlab.results import read_run

    command = [
        sys.executable,
        "-m",
        "rnnlab.train",
        "--architecture",
        architecture,
        "--dataset",
        dataset,
        "--seed",
        str(seed),
    ]
    print("$ " + " ".join(command[1:]), flush=True)
    completed = subprocess.run(command, cwd=root)
    if completed.returncode != 0:
        raise RnnlabError(f"training {architecture} on {dataset} (seed {seed}) exited with {completed.returncode}")
    return read_run(Path(root), dataset, architecture, seed)


def close_unfinished(config: Config, root: Path, runs: list[Run]) -> None:
    """Mark the MLflow run of every run that started but did not finish KILLED (a stopped stage's
    workers die without closing them); their checkpoints stay, so the next stage resumes them."""
    import mlflow

    from rnnlab import tracking
    from rnnlab.training.resume import RESUME_FILE

    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    for run in runs:
        out = seed_dir(root, run.dataset, run.architecture, run.seed)
        try:
            if (out / "run.json").is_file():
                continue
            run_id = json.loads((out / RESUME_FILE).read_text())["run_id"]
            status = client.get_run(run_id).info.status
            if status == "RUNNING":
                client.set_terminated(run_id, status="KILLED")
            if status in ("RUNNING", "KILLED"):  # a worker stopped by the same Ctrl-C may have closed it itself
                print(
                    f"{run}: stopped before it finished; MLflow run {run_id} "
                    "marked KILLED (the next run of the stage resumes it)",
                    flush=True,
                )
        except (OSError, ValueError, KeyError, mlflow.exceptions.MlflowException):
            continue  # never started, or nothing to close


def failure(err: BaseException) -> str:
    """One line for a run that did not finish."""
    if type(err).__name__ == "KilledWorker":  # distributed.scheduler.KilledWorker: every worker it ran on died
        return f"its worker died while training it, every time it was started ({type(err).__name__})"
    if isinstance(err, RnnlabError):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


class Progress:
    """One line per finished task (a run, a tuning study): k of N, what it cost, time elapsed and an
    estimate of what remains.

    With each task's expected cost (``expected``, label -> seconds: the train flow's planned run
    lengths), what remains is the expected cost of the tasks not done, scaled by what the finished
    ones actually cost against what they were expected to (a reused run costs nothing), over the
    workers, and never less than the longest task left. Runs go longest first, so the mean cost of
    the first runs would overstate the rest, and a project whose runs are mostly reused would be
    estimated as if each trained. Without expected costs: the tasks left × the mean cost of those
    done ÷ the workers."""

    def __init__(self, total: int, workers: int, expected: dict[str, float] | None = None) -> None:
        self.total, self.workers, self.done, self.started = total, max(1, workers), 0, time.perf_counter()
        self.seconds: list[float] = []
        self.expected = dict(expected or {})  # the tasks not yet done
        self.spent = self.spent_expected = 0.0  # finished tasks: actual seconds, and what they were expected to take

    def line(self, run: Run, summary: dict | None, error: str | None = None) -> str:
        """A training run's line: trained (its cost), reused, or failed."""
        if error is not None:
            return self.step(str(run), f"FAILED: {error}")
        if summary.get("reused"):
            return self.step(str(run), "reused (finished before with these settings, data and code)", reused=True)
        what = (
            f"trained in {summary['run_time_s']:.1f} s (fit {summary['train_time_s']:.1f} s, "
            f"{summary['epochs_trained']} epochs)"
        )
        return self.step(str(run), what, summary["run_time_s"])

    def step(self, label: str, what: str, seconds: float | None = None, reused: bool = False) -> str:
        """The line of one finished task; ``seconds``: what it cost (None: failed, or ``reused``: it cost
        nothing and shows how much of the rest may be reused too)."""
        self.done += 1
        expected = self.expected.pop(label, None)
        if seconds is not None:
            self.seconds.append(seconds)
        if expected is not None and (seconds is not None or reused):
            self.spent += seconds or 0.0
            self.spent_expected += expected
        elapsed = time.perf_counter() - self.started
        return f"[{self.done}/{self.total}] {label}: {what}; {_clock(elapsed)} elapsed, {self.remaining()}"

    def remaining(self) -> str:
        if self.done == self.total:
            return "done"
        seconds = self.seconds_left()
        return "time left unknown" if seconds is None else f"about {_clock(seconds)} left"

    def seconds_left(self) -> float | None:
        """The estimate of the wall seconds left (None: no task has cost anything yet)."""
        left = self.total - self.done
        if left == 0:
            return 0.0
        if not self.seconds:
            return None
        if self.expected and self.spent_expected > 0:
            scale = self.spent / self.spent_expected
            costs = self.expected.values()
            return scale * max(sum(costs) / self.workers, max(costs))
        return left * (sum(self.seconds) / len(self.seconds)) / self.workers


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
