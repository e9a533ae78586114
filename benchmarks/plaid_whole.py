"""PLAID as the data are: the first 150 samples of each signature against the whole signature read as
the mean of every N samples (``downsample``) or as N samples side by side per step (``frame``), at
two epoch budgets, and each signature over its own size (``sequence_scale``: the currents' sizes span
1e-4 to 460 A); reports/plaid_whole.md.

    python benchmarks/plaid_whole.py [--architectures rnn lstm gru] [--seeds 0 1 2]

Every variant is the pipeline's ``plaid`` entry with a few keys changed, prepared and trained with the
pipeline's own code (``prepare.prepare``, ``train.train_run``, ``compare.evaluate_test``) in a scratch
copy of the project, so the project's data, runs and MLflow store are not touched. The table shows the
validation accuracy the choice rests on and the test accuracy, which is reported, never used to choose.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# name -> (what it is, the keys changed on the pipeline's plaid entry)
VARIANTS = {
    "first150_e12": (
        "first 150 samples, 12 epochs",
        {
            "max_length": 150,
            "downsample": None,
            "frame": None,
            "sequence_scale": False,
            "train": {"max_epochs": 12, "patience": 4},
        },
    ),
    "mean8_e12": (
        "whole, mean of 8 samples, 12 epochs",
        {
            "max_length": None,
            "downsample": 8,
            "frame": None,
            "sequence_scale": False,
            "train": {"max_epochs": 12, "patience": 4},
        },
    ),
    "mean8_e40": (
        "whole, mean of 8 samples, 40 epochs",
        {
            "max_length": None,
            "downsample": 8,
            "frame": None,
            "sequence_scale": False,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "mean4_e40": (
        "whole, mean of 4 samples, 40 epochs",
        {
            "max_length": None,
            "downsample": 4,
            "frame": None,
            "sequence_scale": False,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "frame8_e40": (
        "whole, 8 samples side by side, 40 epochs",
        {
            "max_length": None,
            "downsample": None,
            "frame": 8,
            "sequence_scale": False,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "frame16_e40": (
        "whole, 16 samples side by side, 40 epochs",
        {
            "max_length": None,
            "downsample": None,
            "frame": 16,
            "sequence_scale": False,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "frame16_scaled_e40": (
        "whole, 16 samples side by side, each over its own size, 40 epochs",
        {
            "max_length": None,
            "downsample": None,
            "frame": 16,
            "sequence_scale": True,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "frame8_scaled_e40": (
        "whole, 8 samples side by side, each over its own size, 40 epochs",
        {
            "max_length": None,
            "downsample": None,
            "frame": 8,
            "sequence_scale": True,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
    "frame4_scaled_e40": (
        "whole, 4 samples side by side, each over its own size, 40 epochs",
        {
            "max_length": None,
            "downsample": None,
            "frame": 4,
            "sequence_scale": True,
            "train": {"max_epochs": 40, "patience": 10},
        },
    ),
}


def run(project: Path, architectures: list[str], seeds: list[int]) -> list[dict]:
    import yaml

    from rnnlab.compare import evaluate_test
    from rnnlab.config import load_config
    from rnnlab.data import prepare
    from rnnlab.data.sources import SOURCES
    from rnnlab.data.store import write_table
    from rnnlab.train import train_run

    params = yaml.safe_load((project / "params.yaml").read_text())
    for name, (_, changes) in VARIANTS.items():
        params["datasets"][f"plaid_{name}"] = {"base": "plaid", "source": "plaid", **changes}
    params["pipeline"]["datasets"] = [f"plaid_{name}" for name in VARIANTS]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    config = load_config(project / "params.yaml")
    table = SOURCES["plaid"]()
    for name in VARIANTS:
        dataset = f"plaid_{name}"
        write_table(table, project / "data" / "raw" / dataset)
        prepare.write_prepared(
            project / "data" / "prepared" / dataset, *prepare.prepare(table, dataset, config.dataset(dataset))
        )
    home = project / "study_runs" / "plaid_whole"
    runs = [(name, a, s) for name in VARIANTS for a in architectures for s in seeds]
    results, started = [], time.perf_counter()
    for k, (name, architecture, seed) in enumerate(runs, 1):
        dataset = f"plaid_{name}"
        summary = train_run(config, project, architecture, dataset, seed, home=home, quiet=True)
        tested = evaluate_test(config, project, dataset, architecture, seed, home)
        meta = json.loads((project / "data" / "prepared" / dataset / "meta.json").read_text())
        results.append(
            {
                "variant": name,
                "architecture": architecture,
                "seed": seed,
                "val": summary["best_val_accuracy"],
                "test": tested["test_accuracy"],
                "epochs": summary["epochs_trained"],
                "train_time_s": summary["train_time_s"],
                "steps": meta["lengths"]["train"],
            }
        )
        elapsed = time.perf_counter() - started
        print(
            f"[{k}/{len(runs)}] {architecture} on {VARIANTS[name][0]} (seed {seed}): val {results[-1]['val']:.3f} "
            f"test {results[-1]['test']:.3f} ({elapsed:.0f} s, about {elapsed / k * (len(runs) - k):.0f} s left)",
            flush=True,
        )
    return results


def report(results: list[dict], path: Path) -> None:
    from rnnlab.significance import interval

    def cell(values: list[float]) -> str:
        half = interval(values)
        return f"{sum(values) / len(values):.3f}" + (f" ± {half:.3f}" if half is not None else "")

    architectures = list(dict.fromkeys(r["architecture"] for r in results))
    seeds = sorted({r["seed"] for r in results})
    lines = [
        "# PLAID: the first 150 samples or the whole signature, averaged, framed or scaled",
        "",
        "Each variant is the pipeline's `plaid` entry with the keys shown changed; "
        f"{', '.join(architectures)} × seeds {', '.join(map(str, seeds))}, trained and scored by the pipeline's "
        "own code. Accuracy as mean ± 95 % Student-t interval over seeds; the choice rests on validation, "
        "test is reported. Written by `python benchmarks/plaid_whole.py`.",
        "",
        "| variant | steps per signature (train: min / mean / max) | architecture | val accuracy | test accuracy "
        "| epochs trained | fit s/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (what, _) in VARIANTS.items():
        rows = [r for r in results if r["variant"] == name]
        steps = rows[0]["steps"]
        shape = f"{steps['min']} / {steps['mean']:.0f} / {steps['max']}"
        for architecture in architectures:
            mine = [r for r in rows if r["architecture"] == architecture]
            lines.append(
                f"| {what} | {shape} | {architecture} | {cell([r['val'] for r in mine])} | "
                f"{cell([r['test'] for r in mine])} | {sum(r['epochs'] for r in mine) / len(mine):.0f} | "
                f"{sum(r['train_time_s'] for r in mine) / len(mine):.1f} |"
            )
    val = {name: [r["val"] for r in results if r["variant"] == name] for name in VARIANTS}
    best = max(val, key=lambda name: sum(val[name]) / len(val[name]))
    lines += [
        "",
        f"Best mean validation accuracy over every architecture and seed: **{VARIANTS[best][0]}** "
        f"({sum(val[best]) / len(val[best]):.3f}).",
    ]
    path.write_text("\n".join(lines) + "\n")
    print(f"report: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "plaid_whole.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rnnlab-plaid-") as scratch:
        from rnnlab.paths import copy_project

        results = run(copy_project(ROOT, Path(scratch)), args.architectures, args.seeds)
    (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=1))
    report(results, args.out)


if __name__ == "__main__":
    main()
