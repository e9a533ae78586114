"""PNG figures people would rather look at than read.

Figures are built with matplotlib's object API (``Figure``), never pyplot, so importing rnnlab
changes no global backend: a notebook keeps its inline plots, a server needs no display.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from rnnlab import files

DPI = 110


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically: a reader never finds half a picture."""
    return files.write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))


def learning_curves(history: dict[str, list[float]], title: str, path: Path) -> Path:
    """history: metric name -> one value per epoch. Losses left, other metrics right."""
    fig = Figure(figsize=(10, 3.8))
    left, right = fig.subplots(1, 2)
    for name, values in sorted(history.items()):
        axis = left if name.endswith("loss") else right
        axis.plot(np.arange(1, len(values) + 1), values, label=name, marker="." if len(values) < 30 else None)
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    right.set(xlabel="epoch", title="validation metrics")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


# Past this many classes a confusion matrix is drawn as a picture only: no counts in the cells, at most
# this many tick labels, and a figure no larger than MAX_CONFUSION_INCHES a side.
MAX_ANNOTATED_CLASSES = 30
MAX_CONFUSION_INCHES = 14.0


def confusion_matrix(matrix: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    n = len(classes)
    fig = Figure(figsize=(min(1.0 + 0.55 * n, MAX_CONFUSION_INCHES), min(0.6 + 0.5 * n, MAX_CONFUSION_INCHES)))
    axis = fig.subplots()
    image = axis.imshow(matrix, cmap="Blues")
    ticks = range(0, n, max(1, -(-n // MAX_ANNOTATED_CLASSES)))
    axis.set_xticks(ticks, [classes[i] for i in ticks], rotation=45, ha="right")
    axis.set_yticks(ticks, [classes[i] for i in ticks])
    axis.set(xlabel="predicted", ylabel="true", title=title)
    if n <= MAX_ANNOTATED_CLASSES:
        for (i, j), value in np.ndenumerate(matrix):
            axis.text(
                j,
                i,
                int(value),
                ha="center",
                va="center",
                color="white" if value > matrix.max() / 2 else "black",
                fontsize=8,
            )
    fig.colorbar(image, ax=axis, fraction=0.046)
    fig.tight_layout()
    return save(fig, path)


def metric_bars(rows: list[dict], metric: str, title: str, path: Path) -> Path:
    """rows: {'architecture', metric, metric + '_std'}; bars with error bars (std over seeds)."""
    names = [r["architecture"] for r in rows]
    values = [r[metric] for r in rows]
    errors = [r.get(f"{metric}_std", 0.0) for r in rows]
    fig = Figure(figsize=(1.6 + 1.1 * len(rows), 3.6))
    axis = fig.subplots()
    bars = axis.bar(names, values, yerr=errors, capsize=4, color="#4C72B0")
    axis.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=3)
    low = min(values)
    axis.set_ylim(
        max(0.0, low - 0.1 * max(abs(low), 1e-3) - max(errors, default=0)), max(values) * 1.05 + max(errors, default=0)
    )
    axis.set(ylabel=f"{metric} (mean ± std over seeds)", title=title)
    axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def overlaid_curves(curves: dict[str, list[list[float]]], metric: str, title: str, path: Path) -> Path:
    """curves: architecture -> one value list per seed. One colour per architecture, a line per seed."""
    fig = Figure(figsize=(7, 4))
    axis = fig.subplots()
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, runs), colour in zip(curves.items(), colours * 4):
        for i, values in enumerate(runs):
            axis.plot(
                np.arange(1, len(values) + 1),
                values,
                color=colour,
                alpha=0.85,
                linewidth=1.4,
                label=name if i == 0 else None,
            )
    axis.set(xlabel="epoch", ylabel=metric, title=title)
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    return save(fig, path)


def forecast(actual: np.ndarray, predicted: np.ndarray, target: str, title: str, path: Path) -> Path:
    """One-step-ahead forecasts beside the values that came, in test order, with the error below."""
    fig = Figure(figsize=(10, 4.5))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    steps = np.arange(len(actual))
    top.plot(steps, actual, label="actual", lw=1)
    top.plot(steps, predicted, label="forecast", lw=1)
    top.set(ylabel=target, title=title)
    top.legend()
    bottom.plot(steps, predicted - actual, lw=0.8, color="tab:red")
    bottom.set(xlabel="test step", ylabel="error")
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str, path: Path) -> Path:
    """A regression's answers against the truth; a perfect model lies on the diagonal."""
    fig = Figure(figsize=(4.6, 4.4))
    axis = fig.subplots()
    axis.scatter(actual, predicted, s=6, alpha=0.5)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    axis.plot([low, high], [low, high], color="black", lw=0.8, label="perfect")
    axis.set(xlabel="actual", ylabel="predicted", title=title)
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    return save(fig, path)


def alignment(weights: np.ndarray, source: list[str], output: list[str], title: str, path: Path) -> Path:
    """An attention alignment α (output steps × source steps) as a heatmap, symbols on the axes."""
    fig = Figure(figsize=(max(4.0, 0.32 * len(source) + 2), max(3.5, 0.32 * len(output) + 1.5)))
    axis = fig.subplots()
    image = axis.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    axis.set_xticks(range(len(source)), source, fontsize=7)
    axis.set_yticks(range(len(output)), output, fontsize=7)
    axis.set(xlabel="source", ylabel="output (teacher-forced)", title=title)
    fig.colorbar(image, ax=axis, fraction=0.04)
    fig.tight_layout()
    return save(fig, path)


def critical_difference(ranks, title: str, path: Path) -> Path:
    """Demšar's diagram of ``ranks`` (``significance.Ranks``): the mean rank of each entry on one axis,
    entries the Nemenyi test cannot separate joined by a bar, drawn by scikit-posthocs."""
    import scikit_posthocs  # imports seaborn and pyplot: only where this picture is drawn

    from rnnlab.significance import ALPHA

    fig = Figure(figsize=(9, 2.2 + 0.3 * len(ranks.ranks.columns)))
    ax = fig.subplots()
    scikit_posthocs.critical_difference_diagram(
        ranks.mean_ranks, ranks.nemenyi, alpha=ALPHA, ax=ax, cd=ranks.critical_difference
    )
    fig.suptitle(title, fontsize=11)
    fig.text(
        0.5,
        0.01,
        f"mean rank over {len(ranks.ranks)} datasets (1 = best); Friedman p = {ranks.friedman_p:.3g}\n"
        f"a bar joins entries the Nemenyi test cannot separate (α = {ALPHA}; critical difference "
        f"{ranks.critical_difference:.2f})",
        ha="center",
        va="bottom",
        fontsize=8,
    )
    fig.subplots_adjust(top=0.72, bottom=0.2, left=0.18, right=0.82)
    return save(fig, path)
