"""Does tuning help? Each pipeline pair of some datasets trained with its params.yaml entries and with
the settings `rnnlab tune` found (profiles/tuned.yaml), the same seeds, scored once on the test split:
reports/tuned_vs_untuned.md.

    python benchmarks/tuned_vs_untuned.py train --variant untuned --datasets japanese_vowels [--project PATH]
    python benchmarks/tuned_vs_untuned.py train --variant tuned --datasets japanese_vowels
        (a second process: in parallel)
    python benchmarks/tuned_vs_untuned.py report --datasets japanese_vowels
    python benchmarks/tuned_vs_untuned.py default --untuned-project PATH --tuned-project PATH
        (reports/tuned_default.md)

``default`` compares two projects where `make pipeline` ran on the same machine: one with `rnnlab
profile none` (params.yaml's settings), one with the default's tuned profile, for every dataset the
profile tunes; per pair, each seed's test value from the project's MLflow runs.

Each variant trains into its own folder (study_runs/tuned_vs_untuned/<variant>) with the pipeline's own
training run and test evaluation (``train.train_run``, ``compare.evaluate_test``), so it never touches
the pipeline's runs. The choice of settings used the validation split only; the test numbers here are
reported, never used to choose.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

VARIANTS = ("untuned", "tuned")


def variant_config(project: Path, variant: str, datasets: list[str]):
    import yaml

    from rnnlab.config import Config, load_config

    raw = load_config(project / "params.yaml").model_dump(mode="json")
    raw["pipeline"]["datasets"] = datasets
    tuned = yaml.safe_load((project / "profiles" / "tuned.yaml").read_text())["tuned"]
    raw["tuned"] = {ds: tuned.get(ds, {}) for ds in datasets} if variant == "tuned" else {}
    return Config.model_validate(raw)


def train(project: Path, variant: str, datasets: list[str]) -> None:
    from filelock import FileLock

    from rnnlab import execution, tracking
    from rnnlab.compare import evaluate_test
    from rnnlab.tasks import TASKS
    from rnnlab.train import train_run

    execution.quiet_libraries()  # one line per run, not Lightning's
    config = variant_config(project, variant, datasets)
    (project / "mlflow").mkdir(exist_ok=True)
    with FileLock(project / "mlflow" / "ready.lock"):  # the other variant's process may be making the store too
        tracking.ready_store(config, project, datasets)
    home = project / "study_runs" / "tuned_vs_untuned" / variant
    runs = [(a, ds, s) for a, ds in config.pairs() for s in config.train.seeds]
    results, started = [], time.perf_counter()
    for k, (architecture, dataset, seed) in enumerate(runs, 1):
        summary = train_run(config, project, architecture, dataset, seed, home=home, quiet=True)
        tested = evaluate_test(config, project, dataset, architecture, seed, home)
        metric = TASKS[config.dataset(dataset).task].selection_metric
        results.append(
            {
                "architecture": architecture,
                "dataset": dataset,
                "seed": seed,
                "metric": metric,
                "test": tested[f"test_{metric}"],
                "val": summary[f"best_val_{metric}"],
                "train_time_s": summary["train_time_s"],
            }
        )
        elapsed = time.perf_counter() - started
        print(
            f"[{variant} {k}/{len(runs)}] {architecture} on {dataset} (seed {seed}): test {metric} "
            f"{results[-1]['test']:.4f} ({elapsed:.0f} s, about {elapsed / k * (len(runs) - k):.0f} s left)",
            flush=True,
        )
    out = home / "results.json"
    out.write_text(json.dumps({"tuned": config.tuned, "runs": results}, indent=1))


def sections(path: Path) -> dict[str, str]:
    """An earlier report's sections by dataset: ``## <dataset> ...`` up to the next one."""
    if not path.is_file():
        return {}
    return {part.split(" ", 1)[0]: "## " + part.strip() for part in path.read_text().split("\n## ")[1:]}


def report(project: Path, datasets: list[str], path: Path) -> None:
    from rnnlab.kinds import greater_is_better
    from rnnlab.significance import interval

    found = {
        v: json.loads((project / "study_runs" / "tuned_vs_untuned" / v / "results.json").read_text()) for v in VARIANTS
    }
    lines = [
        "# Tuned against untuned settings",
        "",
        "Each pipeline pair trained with its params.yaml entries "
        "(*untuned*) and with the settings `rnnlab tune` chose on",
        "the validation split (*tuned*, profiles/tuned.yaml), the "
        "same seeds and epoch caps; test split, mean ± 95 % Student-t",
        "interval over seeds. Fit seconds are as each variant's runs measured them; the variants train at different",
        "times, so on a shared machine their costs compare only roughly. Written by `python "
        "benchmarks/tuned_vs_untuned.py report`.",
    ]
    written = sections(path)  # other datasets' sections of an earlier report stay as they are
    for dataset in datasets:
        rows = {v: [r for r in found[v]["runs"] if r["dataset"] == dataset] for v in VARIANTS}
        metric = rows["untuned"][0]["metric"]
        better = greater_is_better(metric)
        table = [
            f"## {dataset} (test {metric} {'↑' if better else '↓'})",
            "",
            "| architecture | untuned | tuned | tuned better? | fit s/run untuned → tuned | tuned settings |",
            "|---|---|---|---|---|---|",
        ]
        for architecture in dict.fromkeys(r["architecture"] for r in rows["untuned"]):
            cells, means, fits = [], {}, {}
            for v in VARIANTS:
                values = [r["test"] for r in rows[v] if r["architecture"] == architecture]
                means[v] = sum(values) / len(values)
                fits[v] = sum(r["train_time_s"] for r in rows[v] if r["architecture"] == architecture) / len(values)
                half = interval(values)
                cells.append(f"{means[v]:.4f}" + (f" ± {half:.4f}" if half is not None else ""))
            gain = (means["tuned"] - means["untuned"]) * (1 if better else -1)
            settings = found["tuned"]["tuned"].get(dataset, {}).get(architecture, {})
            shown = (
                ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(settings.items()))
                or "—"
            )
            table.append(
                f"| {architecture} | {cells[0]} | {cells[1]} | "
                f"{'yes' if gain > 0 else '**no**' if gain < 0 else 'same'} | "
                f"{fits['untuned']:.1f} → {fits['tuned']:.1f} | {shown} |"
            )
        written[dataset] = "\n".join(table)
    path.write_text("\n".join(lines) + "\n\n" + "\n\n".join(written.values()) + "\n")
    print(f"report: {path}")


@functools.cache
def _store(project: Path):
    """A project's configuration and its MLflow client, read once per project."""
    import mlflow

    from rnnlab import tracking
    from rnnlab.config import load_config

    config = load_config(project / "params.yaml")
    return config, mlflow.MlflowClient(tracking.tracking_uri(config, project))


def seed_values(project: Path, dataset: str, architecture: str) -> tuple[list[float], list[str]]:
    """The headline test value of each seed of a pair in a project whose pipeline ran (from its MLflow
    runs, where compare logged them), and the runs' ids."""
    from rnnlab.errors import RnnlabError
    from rnnlab.results import read_run
    from rnnlab.tasks import TASKS

    config, client = _store(project)
    key = f"test_{TASKS[config.dataset(dataset).task].selection_metric}"
    runs = []
    for seed in config.train.seeds:
        try:
            runs.append(read_run(project, dataset, architecture, seed)["run_id"])
        except RnnlabError:  # its folder was emptied by a later, stopped run: its finished MLflow run holds it
            experiment = client.get_experiment_by_name(f"rnnlab/{dataset}").experiment_id
            found = client.search_runs(
                [experiment],
                f"attributes.run_name = '{architecture}-seed{seed}' and attributes.status = 'FINISHED' "
                f"and metrics.{key} > -1e300 and tags.`rnnlab.kind` = 'training'",
            )
            if len(found) != 1:
                raise
            runs.append(found[0].info.run_id)
    return [client.get_run(run).data.metrics[key] for run in runs], runs


def default(untuned: Path, tuned: Path, path: Path) -> None:
    """Two pipelines of one machine: ``untuned`` (``rnnlab profile none``) and ``tuned`` (the default),
    every pair of each tuned dataset, mean ± interval over seeds and Welch's test per pair."""
    from scipy import stats

    from rnnlab.config import load_config
    from rnnlab.kinds import greater_is_better
    from rnnlab.significance import ALPHA, interval, welch_p
    from rnnlab.tasks import TASKS

    config = load_config(tuned / "params.yaml")
    retuned = config.retuned_pairs()
    if load_config(untuned / "params.yaml").tuned:
        raise SystemExit(f"{untuned}: its params.yaml applies tuned settings; run `rnnlab profile none` there")
    lines = [
        "# The default pipeline, untuned against tuned",
        "",
        "Two runs of `make pipeline` on one machine, 3 seeds of every pair, test split: with `rnnlab profile none` "
        "(params.yaml's settings, *untuned*) and with the default's tuned profile (*tuned*). The untuned "
        "one ran second, in a copy of the tuned project, and reused "
        "every run whose settings the profile does not change (the run-level fingerprint), so *same run* rows are "
        "the very same runs; *run again* rows trained the same settings twice on this machine (where a profile entry "
        "spelled them differently) and show whether a run is reproducible from its seed. Mean ± 95 % Student-t "
        "interval over seeds; p: Welch's t-test on the seeds' values "
        f"(3 against 3: only large differences reach p < {ALPHA}). Written by `python "
        "benchmarks/tuned_vs_untuned.py default --untuned-project PATH --tuned-project PATH`.",
    ]
    gains = []
    for dataset in sorted({ds for _, ds in retuned}):
        metric = TASKS[config.dataset(dataset).task].selection_metric
        better = greater_is_better(metric)
        table = [
            "",
            f"## {dataset} (test {metric} {'↑' if better else '↓'})",
            "",
            "| architecture | untuned | tuned | p | tuned better? |",
            "|---|---|---|---|---|",
        ]
        for architecture in sorted(config.architectures_for(dataset)):
            before, before_runs = seed_values(untuned, dataset, architecture)
            after, after_runs = seed_values(tuned, dataset, architecture)
            cells = []
            for values in (before, after):
                half = interval(values)
                cells.append(f"{np.mean(values):.4g}" + (f" ± {half:.2g}" if half is not None else ""))
            if before_runs == after_runs:
                table.append(f"| {architecture} | {cells[0]} | same run | | |")
                continue
            if (architecture, dataset) not in retuned:  # same settings, trained again (a control)
                table.append(f"| {architecture} | {cells[0]} | {cells[1]} (same settings, run again) | | |")
                continue
            gain = (np.mean(after) - np.mean(before)) * (1 if better else -1)
            p = welch_p(np.asarray(before), np.asarray(after))
            gains.append((dataset, architecture, gain, p))
            verdict = (
                "same" if gain == 0 else ("yes" if gain > 0 else "**no**") + (f" (p < {ALPHA})" if p < ALPHA else "")
            )
            table.append(f"| {architecture} | {cells[0]} | {cells[1]} | {p:.2f} | {verdict} |")
        lines += table
    higher = sum(g > 0 for _, _, g, _ in gains)
    lower = sum(g < 0 for _, _, g, _ in gains)
    sign = stats.binomtest(higher, higher + lower, 0.5).pvalue if higher + lower else float("nan")
    lines[3:3] = [
        "",
        f"Pairs the profile changes: {len(gains)}. Higher on test: {higher} "
        f"({sum(g > 0 and p < ALPHA for _, _, g, p in gains)} with p < {ALPHA}); lower: {lower} "
        f"({sum(g < 0 and p < ALPHA for _, _, g, p in gains)} with p < {ALPHA}); equal: {len(gains) - higher - lower}. "
        f"Sign test over the changed pairs (binomial, two-sided): p = {sign:.2g}.",
    ]
    path.write_text("\n".join(lines) + "\n")
    print(f"report: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("train", "report", "default"))
    parser.add_argument("--untuned-project", type=Path, help="default: a project whose pipeline ran untuned")
    parser.add_argument("--tuned-project", type=Path, help="default: a project whose pipeline ran with the profile")
    parser.add_argument("--variant", choices=VARIANTS)
    parser.add_argument("--datasets", nargs="+")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "tuned_vs_untuned.md")
    args = parser.parse_args()
    if args.step == "default":
        if not (args.untuned_project and args.tuned_project):
            parser.error("default needs --untuned-project and --tuned-project")
        default(args.untuned_project, args.tuned_project, ROOT / "reports" / "tuned_default.md")
    elif not args.datasets:
        parser.error(f"{args.step} needs --datasets")
    elif args.step == "train":
        if not args.variant:
            parser.error("train needs --variant")
        train(args.project, args.variant, args.datasets)
    else:
        report(args.project, args.datasets, args.out)


if __name__ == "__main__":
    main()
