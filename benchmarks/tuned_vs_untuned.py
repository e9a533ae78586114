"""Does tuning help? Two runs of `make pipeline` on one machine, one with `rnnlab profile none`
(params.yaml's settings) and one with the default's tuned profile (profiles/tuned.yaml), compared pair
by pair on the test split: reports/tuned_default.md.

    python benchmarks/tuned_vs_untuned.py --untuned-project PATH --tuned-project PATH

For every dataset the profile tunes, every pair: each seed's test value and fit seconds from the
project's MLflow runs, mean ± 95 % interval over seeds, Welch's test per changed pair and a sign test
over them, and the settings the profile gives the pair. The choice of settings used the validation
split only; the test numbers here are reported, never used to choose.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


@functools.cache
def _store(project: Path):
    """A project's configuration and its MLflow client, read once per project."""
    import mlflow

    from rnnlab import tracking
    from rnnlab.config import load_config

    config = load_config(project / "params.yaml")
    return config, mlflow.MlflowClient(tracking.tracking_uri(config, project))


def seed_values(project: Path, dataset: str, architecture: str) -> tuple[list[float], list[float], list[str]]:
    """The headline test value and the fit seconds of each seed of a pair in a project whose pipeline ran
    (from its MLflow runs, where compare logged them), and the runs' ids."""
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
    metrics = [client.get_run(run).data.metrics for run in runs]
    return [m[key] for m in metrics], [m.get("train_time_s", float("nan")) for m in metrics], runs


def settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(settings.items()))


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
    unplanned = sorted(set(retuned) - set(config.pairs()))
    if unplanned:
        raise SystemExit(f"{tuned}: the profile tunes pairs the pipeline does not train: {unplanned}")
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
        "benchmarks/tuned_vs_untuned.py --untuned-project PATH --tuned-project PATH`.",
    ]
    gains = []
    for dataset in sorted({ds for _, ds in retuned}):
        metric = TASKS[config.dataset(dataset).task].selection_metric
        better = greater_is_better(metric)
        table = [
            "",
            f"## {dataset} (test {metric} {'↑' if better else '↓'})",
            "",
            "| architecture | untuned | tuned | p | tuned better? | fit s/run untuned → tuned | tuned settings |",
            "|---|---|---|---|---|---|---|",
        ]
        for architecture in sorted(config.architectures_for(dataset)):
            before, before_fit, before_runs = seed_values(untuned, dataset, architecture)
            after, after_fit, after_runs = seed_values(tuned, dataset, architecture)
            fits = f"{np.mean(before_fit):.1f} → {np.mean(after_fit):.1f}"
            cells = []
            for values in (before, after):
                half = interval(values)
                cells.append(f"{np.mean(values):.4g}" + (f" ± {half:.2g}" if half is not None else ""))
            if before_runs == after_runs:
                table.append(f"| {architecture} | {cells[0]} | same run | | | {np.mean(before_fit):.1f} | |")
                continue
            if (architecture, dataset) not in retuned:  # same settings, trained again (a control)
                table.append(f"| {architecture} | {cells[0]} | {cells[1]} (same settings, run again) | | | {fits} | |")
                continue
            gain = (np.mean(after) - np.mean(before)) * (1 if better else -1)
            p = welch_p(np.asarray(before), np.asarray(after))
            gains.append((dataset, architecture, gain, p))
            verdict = (
                "same" if gain == 0 else ("yes" if gain > 0 else "**no**") + (f" (p < {ALPHA})" if p < ALPHA else "")
            )
            shown = settings_text(config.tuned[dataset][architecture])
            table.append(f"| {architecture} | {cells[0]} | {cells[1]} | {p:.2f} | {verdict} | {fits} | {shown} |")
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
    parser.add_argument("--untuned-project", type=Path, required=True, help="a project whose pipeline ran untuned")
    parser.add_argument("--tuned-project", type=Path, required=True, help="a project whose pipeline ran tuned")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "tuned_default.md")
    args = parser.parse_args()
    default(args.untuned_project, args.tuned_project, args.out)


if __name__ == "__main__":
    main()
