"""What each study measures beyond the task's own test metrics, and the pictures it draws.

    copy_memory    recall accuracy on the copied symbols; per-step cross-entropy against the
                   memoryless loss copy_length·ln(symbols)/(delay + 2·copy_length)
    adding_depth   test MSE against the training mean (1/6 for U[0,1] values); gradient norm of the
                   first recurrent layer over the top one, at initialisation and after training
    pixel_mnist    test accuracy, unpermuted and permuted
    ntm_copy       bit errors per sequence at each test length (1x, 2x, 3x the training lengths);
                   read and write weightings of a memory cell over a test copy, as heatmaps
    epoch_budget   a pipeline dataset trained past its epoch cap: the validation curve against the
                   task's reference on the same validation split, what the cap leaves, and its cost
    (any other)    the task's test metrics

An analysis returns (markdown, figures, metrics): the report's body, PNG files it wrote into
``folder``, and numbers to log on the study's MLflow run.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from rnnlab import plots, tracking
from rnnlab.config import Config
from rnnlab.data.batching import collate, encode
from rnnlab.data.meta import DatasetMeta
from rnnlab.data.prepare import read_prepared
from rnnlab.data.sources.synthetic import CopyMemoryOptions, bit_errors, memoryless_loss
from rnnlab.data.symbols import IGNORE
from rnnlab.data.table import NO_ANSWER
from rnnlab.errors import ConfigError
from rnnlab.evaluate import build_model, forward_all
from rnnlab.experiments.runner import Trained, runs_table
from rnnlab.nn.sequence import run_cell
from rnnlab.paths import prepared_dir
from rnnlab.results import mean_std
from rnnlab.tasks import TASKS

GRADIENT_PROBE_SEQUENCES = 256  # training sequences in the batch whose gradient is measured
# A recurrent layer's parameters: "...cells.<i>.<name>" (stacked) or "...layers.<i>.<name>" (one deep cell).
LAYER_PARAMETER = re.compile(r"(?:cells|layers)\.(\d+)\.[^.]+$")


# --- shared pieces -------------------------------------------------------------------------------


def history(config: Config, root: Path, run_id: str, metric: str) -> list[float]:
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    return tracking.metric_history(client, run_id, [metric])[metric]


def by_dataset(runs: list[Trained]) -> dict[str, list[Trained]]:
    grouped: dict[str, list[Trained]] = defaultdict(list)
    for r in runs:
        grouped[r.dataset].append(r)
    return grouped


def summary_by_architecture(runs: list[Trained], keys: dict[str, str]) -> str:
    """Mean ± std over seeds per (dataset, architecture) of the given summary keys."""
    lines = ["| dataset | architecture | seeds | " + " | ".join(keys.values()) + " |", "|---" * (3 + len(keys)) + "|"]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r.dataset, r.architecture)].append(r.summary)
    for (dataset, architecture), summaries in groups.items():
        stats = mean_std(summaries)
        cells = [f"{stats[k]:.4g} ± {stats.get(k + '_std', 0.0):.2g}" if k in stats else "—" for k in keys]
        lines.append(f"| {dataset} | {architecture} | {len(summaries)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves_figure(
    panels: dict[str, dict[str, list[list[float]]]],
    ylabel: str,
    path: Path,
    reference: dict[str, float] | None = None,
    log: bool = False,
    reference_label: str = "reference",
) -> Path:
    """One panel per dataset: per architecture one line per seed; an optional horizontal reference."""
    fig = Figure(figsize=(5.2 * len(panels), 4))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for axis, (dataset, curves) in zip(axes, panels.items()):
        for colour, (architecture, seeds) in zip(_colours(), curves.items()):
            for i, values in enumerate(seeds):
                axis.plot(
                    np.arange(1, len(values) + 1),
                    values,
                    color=colour,
                    lw=1.3,
                    alpha=0.85,
                    label=architecture if i == 0 else None,
                )
        if reference and dataset in reference:
            axis.axhline(reference[dataset], color="black", ls="--", lw=1, label=reference_label)
        axis.set(xlabel="epoch", ylabel=ylabel, title=dataset)
        if log:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    return plots.save(fig, path)


def _colours() -> list[str]:
    import matplotlib

    return matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] * 4


def plot_by_architecture(axis, runs: list[Trained], points: Callable[[Trained], dict[float, float]]) -> None:
    """One line per architecture through its runs' (x, value) points: the mean over seeds at each x, ± their std."""
    for colour, architecture in zip(_colours(), dict.fromkeys(r.architecture for r in runs)):
        values: dict[float, list[float]] = defaultdict(list)
        for r in runs:
            if r.architecture == architecture:
                for x, value in points(r).items():
                    values[x].append(value)
        xs = sorted(values)
        axis.errorbar(
            xs,
            [np.mean(values[x]) for x in xs],
            yerr=[np.std(values[x]) for x in xs],
            color=colour,
            marker="o",
            capsize=3,
            label=architecture,
        )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)


def curves(config: Config, root: Path, runs: list[Trained], metric: str) -> dict[str, dict[str, list[list[float]]]]:
    panels: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        panels[r.dataset][r.architecture].append(history(config, root, r.summary["run_id"], metric))
    return panels


# --- copy memory ---------------------------------------------------------------------------------


def recall_scores(
    model: nn.Module, splits: dict, meta: DatasetMeta, copy_length: int, batch_size: int
) -> dict[str, float]:
    """Test cross-entropy per step (nats, every step) and accuracy on the last ``copy_length`` steps."""
    data = encode(splits["test"], meta)
    answers = forward_all(model, data, batch_size, meta.task)  # (T, C) logits of each sequence
    logits, targets = torch.cat(answers), torch.cat(data.targets)
    recalled = torch.stack([a[-copy_length:].argmax(-1) == t[-copy_length:] for a, t in zip(answers, data.targets)])
    return {
        "test_cross_entropy": F.cross_entropy(logits.double(), targets).item(),
        "test_recall_accuracy": recalled.double().mean().item(),
    }


def copy_memory(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    memoryless = {}
    for r in runs:
        options = CopyMemoryOptions.model_validate(config.dataset(r.dataset).generator)
        memoryless[r.dataset] = memoryless_loss(options)
        model, splits, meta = r.load(config, root)
        r.summary.update(
            recall_scores(model, splits, meta, options.copy_length, config.train_for(r.dataset).batch_size)
        )
        r.summary["memoryless_loss"] = memoryless[r.dataset]
    figure = curves_figure(
        curves(config, root, runs, "val_loss"),
        "validation cross-entropy per step (nats)",
        folder / "copy_memory_val_loss.png",
        memoryless,
        log=True,
        reference_label="memoryless loss",
    )
    body = "\n\n".join(
        [
            "Recall accuracy: the share of the copied symbols (the last `copy_length` steps) predicted right on the "
            "test split; chance is 1/symbols. Cross-entropy: nats per step over every test step; the memoryless loss "
            "is the best a model that remembers nothing can do (blanks right, the symbols guessed uniformly).",
            summary_by_architecture(
                runs,
                {
                    "test_recall_accuracy": "recall accuracy (test)",
                    "test_cross_entropy": "cross-entropy (test)",
                    "memoryless_loss": "memoryless loss",
                },
            ),
            "Every run:",
            runs_table(
                runs,
                {
                    "test_recall_accuracy": "recall acc.",
                    "test_cross_entropy": "CE (test)",
                    "memoryless_loss": "memoryless",
                    "best_val_loss": "best val loss",
                },
            ),
            f"![validation loss]({name}/{figure.name})",
        ]
    )
    return body, [figure], _means(runs, ["test_recall_accuracy", "test_cross_entropy"])


# --- adding problem at depth ---------------------------------------------------------------------


def layer_gradient_norms(model: nn.Module, batch, task: str) -> list[float]:
    """‖∂L/∂θ_layer‖ for each recurrent layer, bottom first, on one batch (the task's loss)."""
    model.train()
    model.zero_grad()
    out = model(batch.x, batch.lengths, batch.y)  # as in training: the target is offered (only decoders read it)
    TASKS[task].loss(out.prediction, batch.y).backward()
    squares: dict[int, float] = defaultdict(float)
    for parameter_name, parameter in model.named_parameters():
        match = LAYER_PARAMETER.search(parameter_name)
        if match and parameter.grad is not None:
            squares[int(match.group(1))] += float(parameter.grad.double().pow(2).sum())
    model.zero_grad()
    model.eval()
    return [math.sqrt(squares[i]) for i in sorted(squares)]


def gradient_profile(config: Config, root: Path, r: Trained, splits: dict, meta: DatasetMeta) -> dict[str, list[float]]:
    """Per-layer gradient norms at initialisation (the run's own initial weights) and after training."""
    data = encode(splits["train"], meta)
    batch = collate([data[i] for i in range(min(GRADIENT_PROBE_SEQUENCES, len(data)))])
    L.seed_everything(r.seed, verbose=False)  # as train_run does before building: the same initial weights
    initial = build_model(
        config.architecture(r.architecture, meta.dataset),
        meta,
        config.train_for(meta.dataset, r.architecture).embedding_size,
    )
    trained, _, _ = r.load(config, root)
    return {
        "init": layer_gradient_norms(initial, batch, meta.task),
        "trained": layer_gradient_norms(trained, batch, meta.task),
    }


def adding_depth(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    prepared = {
        ds: read_prepared(prepared_dir(root, ds)) for ds in dict.fromkeys(r.dataset for r in runs)
    }  # (splits, meta), read once
    profiles = {}
    for r in runs:
        splits, meta = prepared[r.dataset]
        r.summary["reference_mse"] = meta.baselines["test"]["training mean"]["mse"]
        profile = profiles[(r.dataset, r.architecture, r.seed)] = gradient_profile(config, root, r, splits, meta)
        for when, norms in profile.items():
            r.summary[f"gradient_ratio_{when}"] = norms[0] / norms[-1]
    std = {ds: meta.target_scale["std"] for ds, (_, meta) in prepared.items()}
    loss_panels = {ds: dict(c) for ds, c in curves(config, root, runs, "val_loss").items()}
    for ds in loss_panels:  # the loss is on the standardized target: back to the target's units
        loss_panels[ds] = {
            a: [[v * std[ds] ** 2 for v in seed] for seed in seeds] for a, seeds in loss_panels[ds].items()
        }
    reference = {r.dataset: r.summary["reference_mse"] for r in runs}
    figures = [
        curves_figure(
            loss_panels,
            "validation MSE",
            folder / "adding_val_mse.png",
            reference,
            log=True,
            reference_label="predict the training mean",
        ),
        _gradient_figure(profiles, folder / "adding_gradient_norms.png"),
    ]
    body = "\n\n".join(
        [
            "Test MSE in the target's units; the reference predicts the training mean (1/6 "
            "for sums of two U[0,1] values). Gradient ratio: ‖∂L/∂θ‖ of the first recurrent "
            f"layer over the top layer's, on one batch of {GRADIENT_PROBE_SEQUENCES} "
            "training sequences, with the run's initial weights and with its best weights.",
            summary_by_architecture(
                runs,
                {
                    "test_mse": "MSE (test)",
                    "reference_mse": "training mean MSE",
                    "gradient_ratio_init": "grad ratio first/top, init",
                    "gradient_ratio_trained": "grad ratio, trained",
                },
            ),
            "Every run:",
            runs_table(
                runs,
                {
                    "test_mse": "MSE (test)",
                    "reference_mse": "mean MSE",
                    "gradient_ratio_init": "ratio init",
                    "gradient_ratio_trained": "ratio trained",
                },
            ),
            f"![validation MSE]({name}/{figures[0].name})",
            f"![gradient norms]({name}/{figures[1].name})",
        ]
    )
    return body, figures, _means(runs, ["test_mse", "gradient_ratio_init", "gradient_ratio_trained"])


def _gradient_figure(profiles: dict, path: Path) -> Path:
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    colours = dict(zip(dict.fromkeys(a for _, a, _ in profiles), _colours()))
    for axis, when in zip(axes, ("init", "trained")):
        for (_dataset, architecture, seed), profile in profiles.items():
            norms = profile[when]
            axis.plot(
                np.arange(1, len(norms) + 1),
                norms,
                marker="o",
                color=colours[architecture],
                alpha=0.85,
                label=f"{architecture} seed {seed}",
            )
        axis.set(
            xlabel="layer (1 = bottom)",
            title=f"gradient norm per layer, {'at initialisation' if when == 'init' else 'best weights'}",
        )
        axis.set_yscale("log")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("‖∂L/∂θ_layer‖")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return plots.save(fig, path)


# --- NTM copy: bit errors per length, and what the heads look at -------------------------------------


def bit_errors_per_sequence(model: nn.Module, data, meta: DatasetMeta, batch_size: int) -> list[int]:
    """Wrong bits of each sequence over its answer steps (labels other than NO_ANSWER): a sigmoid
    per bit (label_bits) reads 1 above 0.5; a softmax over patterns (label_steps) its argmax pattern."""
    answers = forward_all(model, data, batch_size, meta.task)
    if meta.kind.target == "bits":
        return [
            int(((logits > 0) != (target > 0.5))[(target != IGNORE).all(-1)].sum())
            for logits, target in zip(answers, data.targets)
        ]
    names = meta.classes
    errors = []
    for logits, target in zip(answers, data.targets):
        predicted = logits.argmax(-1).tolist()
        errors.append(
            sum(bit_errors(names[p], names[t]) for p, t in zip(predicted, target.tolist()) if names[t] != NO_ANSWER)
        )
    return errors


def head_weightings(cell: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Run a memory cell over one sequence x (T, D) and keep every step's read and write weighting (T, I)."""
    kept: dict[str, list] = {"write": [], "read": []}

    def step(p_t, state):
        y, new = cell.recurrence(p_t, state)
        kept["write"].append(new.write_weights[0, 0])
        kept["read"].append(new.read_weights[0, 0])
        return y, new

    with torch.no_grad():
        run_cell(cell, x[None], torch.tensor([len(x)]), step=step)
    return {k: torch.stack(v).numpy() for k, v in kept.items()}


def ntm_copy(config: Config, root: Path, name: str, runs: list[Trained], folder: Path) -> tuple[str, list[Path], dict]:
    figures, lengths_seen = [], set()
    for r in runs:
        model, splits, meta = r.load(config, root)
        data = encode(splits["test"], meta)
        per_sequence = bit_errors_per_sequence(model, data, meta, config.train_for(r.dataset).batch_size)
        copy_lengths = [(len(x) - 1) // 2 for x in data.inputs]  # 2L + 1 steps
        for length in sorted(set(copy_lengths)):
            lengths_seen.add(length)
            mine = [e for e, n in zip(per_sequence, copy_lengths) if n == length]
            r.summary[f"bit_errors_L{length}"] = float(np.mean(mine))
        cell = getattr(getattr(model.encoder, "stack", None), "cells", [None])[0]
        if cell is not None and hasattr(cell.state_type, "_fields") and "write_weights" in cell.state_type._fields:
            longest_trained = config.dataset(r.dataset).generator["max_length"]
            shown = next(
                (i for i, n in enumerate(copy_lengths) if n == longest_trained), 0
            )  # a copy as long as any in training
            path = folder / f"weightings_{r.architecture}_seed{r.seed}.png"
            _weightings_figure(
                head_weightings(cell, data.inputs[shown]),
                f"{r.architecture}, seed {r.seed}: a test copy of length {copy_lengths[shown]}",
                path,
            )
            mlflow.MlflowClient(tracking.tracking_uri(config, root)).log_artifact(
                r.summary["run_id"], str(path), "plots"
            )
            figures.append(path)
    keys = {f"bit_errors_L{n}": f"bit errors / sequence, length {n}" for n in sorted(lengths_seen)}
    body = "\n\n".join(
        [
            "Bit errors per sequence: wrong bits over the answer steps of each test sequence (an answer of no "
            "pattern counts as all zeros), mean over the test sequences of each length. Training lengths: "
            + ", ".join(
                f"{ds}: {config.dataset(ds).generator['min_length']}–{config.dataset(ds).generator['max_length']}"
                for ds in dict.fromkeys(r.dataset for r in runs)
            )
            + ".",
            summary_by_architecture(runs, keys),
            "Every run:",
            runs_table(
                runs,
                {
                    **{k: h.replace("bit errors / sequence, length", "errors @") for k, h in keys.items()},
                    "best_val_loss": "best val loss",
                },
            ),
            *[f"![{p.stem}]({name}/{p.name})" for p in figures],
        ]
    )
    return body, figures, _means(runs, list(keys))


def _weightings_figure(weightings: dict[str, np.ndarray], title: str, path: Path) -> Path:
    """Write and read weightings over time (rows × steps): a copy writes down a diagonal, then reads it back."""
    fig = Figure(figsize=(9, 4))
    axes = fig.subplots(1, 2, sharey=True)
    for axis, (kind, w) in zip(axes, weightings.items()):
        image = axis.imshow(w.T, aspect="auto", cmap="Greys", vmin=0, vmax=1, origin="upper")
        axis.set(xlabel="step", title=f"{kind} weighting")
    axes[0].set_ylabel("memory row")
    fig.colorbar(image, ax=axes, fraction=0.03)
    fig.suptitle(title)
    return plots.save(fig, path)


# --- pixel MNIST and anything else ---------------------------------------------------------------


def pixel_mnist(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    figure = curves_figure(
        curves(config, root, runs, "val_accuracy"), "validation accuracy", folder / "pixel_mnist_val_accuracy.png"
    )
    body = "\n\n".join(
        [
            summary_by_architecture(runs, {"test_accuracy": "accuracy (test)", "test_macro_f1": "macro-F1 (test)"}),
            "Every run:",
            runs_table(
                runs,
                {
                    "test_accuracy": "accuracy (test)",
                    "best_val_accuracy": "val accuracy",
                    "train_time_s": "train time (s)",
                },
            ),
            f"![validation accuracy]({name}/{figure.name})",
        ]
    )
    return body, [figure], _means(runs, ["test_accuracy"])


# --- an epoch cap: what it leaves on the table ----------------------------------------------------


def epoch_budget(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    """Each study dataset is a pipeline dataset (its *twin*: the same source) with a longer epoch cap. Per
    run: the validation metric after every epoch, the best of it within the twin's cap (what the pipeline
    keeps), the best over the whole run, and the first epoch whose value beats the task's reference (the
    n-gram, AR model or logistic regression of the yardsticks) fitted on the training split and scored on
    the same validation split. The test value of the run's best checkpoint is reported, never used."""
    panels: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    read: dict[str, tuple] = {}  # dataset -> (meta, reference name, its validation value, its test value)
    rows, metrics = [], {}
    for r in runs:
        settings = config.dataset(r.dataset)
        twin = next((d for d in config.pipeline.datasets if config.dataset(d).source == settings.source), None)
        if twin is None:
            raise ConfigError(
                f"studies/{name}.yaml: {r.dataset} reads source {settings.source!r}, which no dataset of "
                "pipeline.datasets reads: the epoch_budget analysis compares a dataset with the pipeline's own"
            )
        cap = config.train_for(twin, r.architecture).max_epochs
        if r.dataset not in read:  # once per dataset: its splits, and the reference fitted on train, scored on val
            splits, meta = read_prepared(prepared_dir(root, r.dataset))
            metric = meta.kind.selection_metric
            scored = meta.kind.references(encode(splits["train"], meta), encode(splits["val"], meta), meta, settings)
            found = next((k for k, v in scored.items() if metric in v), None)  # None: the kind has no reference
            on_test = meta.baselines.get("test", {}).get(found, {}).get(metric)
            read[r.dataset] = (meta, found, scored[found][metric] if found else None, on_test)
        meta, reference_name, reference, on_test = read[r.dataset]
        metric = meta.kind.selection_metric
        values = history(config, root, r.summary["run_id"], f"val_{metric}")
        panels[r.dataset][r.architecture].append(values)
        curve = along_the_curve(values, cap, reference, meta.kind.greater_is_better)
        beats = curve["first_epoch_past_reference"]
        rows.append(
            f"| {r.dataset} | {r.architecture} | {r.seed} | {twin}: {cap} | {curve['best_within_cap']:.4f} | "
            f"{curve['best']:.4f} (epoch {curve['best_epoch']} of {len(values)}) | {_number(reference)} | "
            f"{beats if beats is not None else '—'} | {r.summary['train_time_s'] / len(values):.1f} | "
            f"{r.summary[f'test_{metric}']:.4f} | {_number(on_test)} |"
        )
        metrics[f"epochs_to_beat_reference/{r.dataset}/{r.architecture}/{r.seed}"] = float(beats or 0)
    reference_name = next((found for _, found, _, _ in read.values() if found), "reference")
    figure = curves_figure(
        {d: dict(c) for d, c in panels.items()},
        f"validation {metric}",
        folder / f"{name}_val_{metric}.png",
        reference={d: value for d, (_, _, value, _) in read.items() if value is not None},
        reference_label=f"{reference_name} (validation)",
    )
    table = [
        f"| dataset | architecture | seed | pipeline dataset: epoch cap | best val {metric} within the cap "
        f"| best val {metric} (epoch) | {reference_name} on val | first epoch past it | fit s per epoch "
        f"| test {metric} of the best checkpoint | {reference_name} on test |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    body = "\n\n".join(["\n".join(table), f"![validation {metric}]({name}/{figure.name})"])
    return body, [figure], metrics


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def along_the_curve(values: list[float], cap: int, reference: float | None, greater: bool) -> dict:
    """A validation curve (one value per epoch, epoch 1 first) read against an epoch cap and a reference:
    the best value within the cap, the best overall and its epoch (the first, on a tie), and the first
    epoch strictly better than the reference (None: never, or no reference)."""
    best_of, better = (max, float.__gt__) if greater else (min, float.__lt__)
    best = best_of(values)
    return {
        "best_within_cap": best_of(values[:cap]),
        "best": best,
        "best_epoch": values.index(best) + 1,
        "first_epoch_past_reference": None
        if reference is None
        else next((epoch for epoch, v in enumerate(values, 1) if better(float(v), float(reference))), None),
    }


def generic(config: Config, root: Path, name: str, runs: list[Trained], folder: Path) -> tuple[str, list[Path], dict]:
    metrics = sorted({k for r in runs for k in r.summary if k.startswith("test_")})
    figure = curves_figure(curves(config, root, runs, "val_loss"), "validation loss", folder / f"{name}_val_loss.png")
    body = "\n\n".join(
        [summary_by_architecture(runs, {k: k for k in metrics}), f"![validation loss]({name}/{figure.name})"]
    )
    return body, [figure], _means(runs, metrics)


def _means(runs: list[Trained], keys: list[str]) -> dict[str, float]:
    """study metrics: <key>/<dataset>/<architecture> = mean over seeds."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in runs:
        groups[(r.dataset, r.architecture)].append(r.summary)
    return {
        f"{k}/{ds}/{a}": float(np.mean([s[k] for s in summaries]))
        for (ds, a), summaries in groups.items()
        for k in keys
        if all(k in s for s in summaries)
    }


ANALYSES = {
    "copy_memory": copy_memory,
    "adding_depth": adding_depth,
    "pixel_mnist": pixel_mnist,
    "ntm_copy": ntm_copy,
    "epoch_budget": epoch_budget,
}
