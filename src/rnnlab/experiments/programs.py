"""The Neural Programmer study: exact answers by table size, and the programs it runs.

    table_programs   exact-answer accuracy (|answer − truth| < 0.5, in the answer's units) on test
                     tables of each size — some larger than any trained — for the Neural Programmer
                     and an LSTM reading the question and the table row by row; and, for the
                     programmer, program accuracy: the operations of its discrete program (argmax
                     selections) against the template's, all four steps and the answer step alone.

Same contract as :mod:`rnnlab.experiments.studies`: (markdown, figures, metrics).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from rnnlab.config import Config
from rnnlab.data.batching import encode
from rnnlab.data.sources.tables import TEMPLATE_PROGRAMS, TEMPLATES, TableQuestionsOptions, examples_of
from rnnlab.evaluate import forward_all, ordered_loader
from rnnlab.experiments.runner import Trained, runs_table
from rnnlab.experiments.studies import _means, plot_by_architecture, summary_by_architecture
from rnnlab.models.programmer import OPERATIONS


def table_size(sequence_id: str) -> int:
    """Test ids are tableq-test<rows>-<index>."""
    return int(re.match(r"tableq-test(\d+)-", sequence_id).group(1))


@torch.no_grad()
def chosen_programs(encoder, data, batch_size: int) -> list[tuple[str, ...]]:
    """The discrete program (argmax operation per step) the programmer runs on each test example, in dataset order."""
    encoder.eval()
    found: list = [None] * len(data)
    loader = ordered_loader(data, batch_size)
    for indices, batch in zip(loader.batch_sampler, loader):
        operations = encoder.program(batch.x, batch.lengths, hard=True).operations.argmax(-1)  # (B, T)
        for row, i in enumerate(indices):
            found[i] = tuple(OPERATIONS[k] for k in operations[row].tolist())
    return found


def score(r: Trained, config: Config, root: Path, examples: dict) -> tuple[dict[str, float], dict[str, str]]:
    """Exact answers per test size and per template; for the programmer, program accuracy and the
    program it runs most often on each template (template -> "op op op op (share)"). ``examples``:
    sequence id -> the generator's Example of the run's dataset."""
    model, splits, meta = r.load(config, root)
    batch_size = config.train_for(r.dataset).batch_size

    def exact_answers(data) -> np.ndarray:
        predicted = meta.destandardized(torch.stack(forward_all(model, data, batch_size, meta.task)).double().numpy())
        truth = meta.destandardized(torch.stack(data.targets).double().numpy())
        return np.abs(predicted - truth) < 0.5

    data = encode(splits["test"], meta)
    exact = exact_answers(data)
    sizes = np.array([table_size(sid) for sid in data.ids])
    scores = {f"exact_R{n}": float(exact[sizes == n].mean()) for n in sorted(set(sizes))}
    scores["val_exact"] = float(exact_answers(encode(splits["val"], meta)).mean())  # what picks among seeds
    template = np.array([examples[sid].template for sid in data.ids])
    scores |= {f"exact_{t}": float(exact[template == t].mean()) for t in TEMPLATES if (template == t).any()}
    programs: dict[str, str] = {}
    if hasattr(model.encoder, "program"):
        chosen = chosen_programs(model.encoder, data, batch_size)
        full = np.array([c == examples[sid].program for c, sid in zip(chosen, data.ids)])
        last = np.array([c[-1] == examples[sid].program[-1] for c, sid in zip(chosen, data.ids)])
        scores |= {"program_accuracy": float(full.mean()), "answer_op_accuracy": float(last.mean())}
        for t in TEMPLATES:
            ran = Counter(c for c, sid in zip(chosen, data.ids) if examples[sid].template == t)
            if ran:
                program, count = ran.most_common(1)[0]
                programs[t] = f"{' '.join(program)} ({count / sum(ran.values()):.0%})"
    return scores, programs


def table_programs(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    programs = []  # (run, template -> the program it runs most often)
    examples = {
        ds: {sid: e for sid, _, e in examples_of(TableQuestionsOptions.model_validate(config.dataset(ds).generator))}
        for ds in dict.fromkeys(r.dataset for r in runs)
    }  # generated once per dataset
    for r in runs:
        scores, chosen = score(r, config, root, examples[r.dataset])
        r.summary.update(scores)
        if chosen:
            programs.append((r, chosen))
    sizes = sorted({int(k[7:]) for r in runs for k in r.summary if k.startswith("exact_R")})
    trained = {
        ds: (config.dataset(ds).generator["min_rows"], config.dataset(ds).generator["max_rows"])
        for ds in dict.fromkeys(r.dataset for r in runs)
    }
    keys = {f"exact_R{n}": f"exact, {n} rows" for n in sizes} | {
        "program_accuracy": "program acc.",
        "answer_op_accuracy": "answer-op acc.",
    }
    figure = _sizes_figure(runs, sizes, folder / "table_programs.png")
    body = "\n\n".join(
        [
            "Exact-answer accuracy on test tables of each size (training tables: "
            + ", ".join(f"{ds} {a}–{b} rows" for ds, (a, b) in trained.items())
            + "). Program accuracy: the programmer's discrete program (argmax operation at each "
            "of its steps) equals the template's; answer-op accuracy: its last operation (sum "
            "or count) does. Several programs can give the same answer (an `or` of all rows "
            "is a `reset`), so program accuracy is a lower bound on programs that are right.",
            summary_by_architecture(runs, keys),
            "The run validation picks among the seeds (most exact answers on the validation tables — restarts "
            "chosen on validation, never on test):",
            runs_table(picked_by_validation(runs), {"val_exact": "val exact", **keys}),
            f"![exact answers by table size]({name}/{figure.name})",
            "Exact answers per question template (all test sizes together):",
            summary_by_architecture(runs, {f"exact_{t}": t for t in TEMPLATES}),
            "The program each programmer run executes most often on each template (share of that template's test "
            "questions); the template's own program is "
            + "; ".join(f"{t}: `{' '.join(p)}`" for t, p in TEMPLATE_PROGRAMS.items())
            + ":",
            _programs_table(programs),
            "Every run:",
            runs_table(
                runs,
                {
                    **{f"exact_R{n}": f"exact {n}" for n in sizes},
                    "program_accuracy": "program acc.",
                    "val_exact": "val exact",
                    "best_val_loss": "best val loss",
                    "train_time_s": "train time (s)",
                },
            ),
        ]
    )
    return body, [figure], _means(runs, [*(f"exact_R{n}" for n in sizes), "program_accuracy"])


def picked_by_validation(runs: list[Trained]) -> list[Trained]:
    """Per (dataset, architecture), the seed with the most exact answers on the validation tables
    (the validation loss is a poor guide here: in Huber's linear range one sum off by a few hundred weighs
    more than dozens of counts off by one; the first study's lowest-loss seed had the fewest exact answers)."""
    best: dict[tuple[str, str], Trained] = {}
    for r in runs:
        key = (r.dataset, r.architecture)
        if key not in best or r.summary["val_exact"] > best[key].summary["val_exact"]:
            best[key] = r
    return list(best.values())


def _programs_table(programs: list[tuple[Trained, dict[str, str]]]) -> str:
    lines = ["| architecture | seed | " + " | ".join(TEMPLATES) + " |", "|---" * (2 + len(TEMPLATES)) + "|"]
    for r, chosen in programs:
        lines.append(f"| {r.architecture} | {r.seed} | " + " | ".join(chosen.get(t, "—") for t in TEMPLATES) + " |")
    return "\n".join(lines)


def _sizes_figure(runs: list[Trained], sizes: list[int], path: Path) -> Path:
    fig = Figure(figsize=(6, 4))
    axis = fig.subplots()
    plot_by_architecture(axis, runs, lambda r: {n: r.summary[f"exact_R{n}"] for n in sizes})
    axis.set(xlabel="rows in the test table", ylabel="exact answers", ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


ANALYSES = {"table_programs": table_programs}
