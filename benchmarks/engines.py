"""Local Prefect task runners with 2 long-lived worker processes, compared on this machine.

Options: Prefect's ProcessPoolTaskRunner, prefect-dask's DaskTaskRunner on a LocalCluster of
processes, prefect-ray's RayTaskRunner on a local Ray instance (only where ``prefect_ray``
imports). Each repeat runs in a fresh child process against an ephemeral Prefect API in a
temporary PREFECT_HOME; the API server is started by a warm-up flow before anything is timed.
Per repeat it measures:

  start-up   seconds from calling the flow (runner start included) to the first result of a
             trivial task;
  overhead   median seconds of a trivial task submit -> result once warm (20 in sequence);
  imports    6 concurrent tasks importing torch, lightning and mlflow: the worker pids seen and
             whether each pid paid the import only on its first call (plus the import seconds);
  memory     RSS and PSS summed over the flow process, its descendants and, for Ray, the
             processes of its session (the Prefect API server excluded), workers idle after
             the imports.

Options alternate within each round of repeats. Medians over the repeats go into the block of
reports/engines.md that this script owns; rows for options not measured in this run are kept,
so .venv and a Ray-enabled venv can each fill in their own rows.

    python benchmarks/engines.py [--engines process dask ray] [--repeats 3] [--timeout 200]
                                 [--report PATH]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "engines.md"
BEGIN, END = "<!-- engines:begin -->", "<!-- engines:end -->"
WORKERS = 2
PACKAGES = {
    "process": ["prefect"],
    "dask": ["prefect", "prefect-dask", "dask", "distributed"],
    "ray": ["prefect", "prefect-ray", "ray"],
}
COMMON = ["torch", "lightning", "mlflow", "psutil"]
LABELS = {
    "process": "ProcessPoolTaskRunner",
    "dask": "DaskTaskRunner (LocalCluster, processes)",
    "ray": "RayTaskRunner (local)",
}


def available(engine: str) -> bool:
    if engine != "ray":
        return True
    try:
        import prefect_ray  # noqa: F401
    except ImportError:
        return False
    return True


# --- child: one repeat of one option ------------------------------------------------------


@task(cache_policy=NO_CACHE, persist_result=False)
def trivial(i: int) -> int:
    return i


@task(cache_policy=NO_CACHE, persist_result=False)
def load_stack(i: int) -> dict:
    """Imports the training stack; says whether this worker process had imported it already."""
    first = "lightning" not in sys.modules
    t = time.perf_counter()
    import lightning  # noqa: F401
    import mlflow  # noqa: F401
    import torch

    return {
        "pid": os.getpid(),
        "first": first,
        "seconds": time.perf_counter() - t,
        "daemon": multiprocessing.current_process().daemon,
        "torch_threads": torch.get_num_threads(),
    }


@flow
def warm_up() -> None:
    trivial(0)


def make_runner(engine: str, ray_dir: str):
    if engine == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=WORKERS)
    if engine == "dask":
        import dask
        from prefect_dask import DaskTaskRunner

        # Dask workers are daemonic by default and then cannot start DataLoader processes.
        dask.config.set({"distributed.worker.daemon": False})
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={"n_workers": WORKERS, "threads_per_worker": 1, "processes": True},
        )
    from prefect_ray import RayTaskRunner

    # A private temp dir marks this run's Ray processes, so they are found even if re-parented.
    return RayTaskRunner(init_kwargs={"num_cpus": WORKERS, "include_dashboard": False, "_temp_dir": ray_dir})


def tree_memory(ray_dir: str) -> dict:
    """RSS/PSS (MiB) of this process, its descendants and the Ray session's processes."""
    me = psutil.Process()
    procs = {p.pid: p for p in [me, *me.children(recursive=True)]}
    for p in psutil.process_iter(["cmdline"]):
        if ray_dir in " ".join(p.info["cmdline"] or []):
            procs.setdefault(p.pid, p)
            procs.update((c.pid, c) for c in p.children(recursive=True))
    rss = pss = 0
    n = 0
    for p in procs.values():
        try:
            if p.ppid() == me.pid and "uvicorn" in " ".join(p.cmdline()):
                continue  # this benchmark's ephemeral Prefect API server
            mem = p.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss, pss, n = rss + mem.rss, pss + mem.pss, n + 1
    return {"rss_mib": rss / 2**20, "pss_mib": pss / 2**20, "processes": n}


def bench(t0: float, ray_dir: str) -> dict:
    """The flow body: t0 is taken just before the flow (and so its task runner) starts."""
    trivial.submit(0).result()
    startup = time.perf_counter() - t0
    overhead = []
    for i in range(20):
        t = time.perf_counter()
        trivial.submit(i).result()
        overhead.append(time.perf_counter() - t)
    calls = [f.result() for f in [load_stack.submit(i) for i in range(6)]]
    time.sleep(2)  # workers idle, imports done
    return {"startup_s": startup, "overhead_s": statistics.median(overhead), "calls": calls, **tree_memory(ray_dir)}


def one_repeat(engine: str, out: Path) -> None:
    from prefect.server.api.server import SubprocessASGIServer

    ray_dir = str(out.parent / "ray")
    warm_up()  # starts the ephemeral API server outside every timing
    # Worker processes without PREFECT_API_URL would each start a temporary API server of their own.
    os.environ["PREFECT_API_URL"] = SubprocessASGIServer().api_url
    run = flow(name=f"engines-{engine}", task_runner=make_runner(engine, ray_dir))(bench)
    out.write_text(json.dumps(run(time.perf_counter(), ray_dir)))


# --- parent: repeats, summary, report -----------------------------------------------------


def run_repeat(engine: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="prefect-home-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
        out, log = Path(home) / "result.json", Path(home) / "log.txt"
        with log.open("w") as fh:
            # cwd=home: no prefect.toml/.env of the project is picked up.
            child = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--child", engine, str(out)],
                cwd=home,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if child.returncode != 0 or not out.exists():
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"{engine}: child exited {child.returncode}\n{tail}")
        return json.loads(out.read_text())


def summarize(repeats: list[dict]) -> dict:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in repeats)

    pids = [len({c["pid"] for c in r["calls"]}) for r in repeats]
    once = all(
        sum(c["first"] for c in r["calls"] if c["pid"] == pid) == 1
        for r in repeats
        for pid in {c["pid"] for c in r["calls"]}
    )
    calls = [c for r in repeats for c in r["calls"]]
    later = [c["seconds"] for c in calls if not c["first"]]
    return {
        "startup_s": med("startup_s"),
        "overhead_s": med("overhead_s"),
        "rss_mib": med("rss_mib"),
        "pss_mib": med("pss_mib"),
        "processes": med("processes"),
        "pids": pids,
        "import_once": once,
        "import_first_s": statistics.median(c["seconds"] for c in calls if c["first"]),
        "import_later_s": statistics.median(later) if later else None,
        "daemon": sorted({c["daemon"] for c in calls}),
        "torch_threads": sorted({c["torch_threads"] for c in calls}),
    }


def versions(engine: str) -> str:
    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    names = PACKAGES[engine] + COMMON
    return ", ".join([f"Python {sys.version.split()[0]}"] + [f"{n} {v(n)}" for n in names])


def render(rows: dict) -> str:
    header = (
        "| option | start-up s | per-task overhead s | pids seen (per repeat) / import paid once "
        "per pid? | import time, first / later call on a pid | idle RSS MiB (PSS), processes "
        "| daemonic workers / torch threads |"
    )
    lines = [BEGIN, header, "|---|---|---|---|---|---|---|"]
    for engine in (e for e in LABELS if e in rows):
        s = rows[engine]["summary"]
        later = "-" if s["import_later_s"] is None else f"{s['import_later_s'] * 1e6:.0f} µs"
        lines.append(
            f"| {LABELS[engine]} | {s['startup_s']:.2f} | {s['overhead_s']:.3f} "
            f"| {', '.join(map(str, s['pids']))} / {'yes' if s['import_once'] else 'no'} "
            f"| {s['import_first_s']:.2f} s / {later} "
            f"| {s['rss_mib']:.0f} ({s['pss_mib']:.0f}), {s['processes']:.0f} "
            f"| {'/'.join(map(str, s['daemon']))} / {'/'.join(map(str, s['torch_threads']))} |"
        )
    lines.append("")
    for engine in (e for e in LABELS if e in rows):
        r = rows[engine]
        load = statistics.median(x.get("load_1min", float("nan")) for x in r["repeats"])
        lines.append(
            f"- {LABELS[engine]}: `{r['command']}` ({r['date']}, {len(r['repeats'])} "
            f"repeats, median 1-min load {load:.1f} on {os.cpu_count()} cores); "
            f"{r['versions']}"
        )
    lines += ["", f"<!-- data {json.dumps(rows)} -->", END]
    return "\n".join(lines)


def write_report(report: Path, measured: dict) -> None:
    text = report.read_text() if report.exists() else f"# Task runners\n\n{BEGIN}\n{END}\n"
    found = re.search(r"<!-- data (.*) -->", text)
    rows = {**(json.loads(found.group(1)) if found else {}), **measured}
    head, rest = text.split(BEGIN, 1)
    report.write_text(head + render(rows) + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", nargs="+", choices=list(LABELS), default=list(LABELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=200, help="seconds per repeat")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return one_repeat(args.child[0], Path(args.child[1]))

    engines = []
    for engine in args.engines:
        if available(engine):
            engines.append(engine)
        else:
            print(f"{engine}: skipped, prefect_ray is not importable in {sys.prefix}")
    repeats = {engine: [] for engine in engines}
    # Options alternate within each round, so they share the machine's load alike.
    for i in range(args.repeats):
        for engine in engines:
            load = os.getloadavg()[0]
            r = run_repeat(engine, args.timeout) | {"load_1min": load}
            repeats[engine].append(r)
            print(
                f"{engine} #{i + 1}: start-up {r['startup_s']:.2f} s, overhead "
                f"{r['overhead_s']:.3f} s, RSS {r['rss_mib']:.0f} MiB (load {load:.1f})",
                flush=True,
            )
    python = sys.executable.replace(f"{ROOT}/", "")
    measured = {
        engine: {
            "summary": summarize(runs),
            "repeats": runs,
            "versions": versions(engine),
            "command": " ".join([python, "benchmarks/engines.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d"),
        }
        for engine, runs in repeats.items()
    }
    if measured:
        write_report(args.report, measured)
        print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
