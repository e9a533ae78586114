"""PNG figures people would rather look at than read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def learning_curves(history: dict[str, list[float]], title: str, path: Path) -> Path:
    """history: metric name -> one value per epoch. Losses left, other metrics right."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def confusion_matrix(matrix: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    fig, axis = plt.subplots(figsize=(1.0 + 0.55 * len(classes), 0.6 + 0.5 * len(classes)))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    for (i, j), value in np.ndenumerate(matrix):
        axis.text(j, i, int(value), ha="center", va="center", color="white" if value > matrix.max() / 2 else "black", fontsize=8)
    fig.colorbar(image, ax=axis, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def metric_bars(rows: list[dict], metric: str, title: str, path: Path) -> Path:
    """rows: {'architecture', metric, metric + '_std'}; bars with error bars (std over seeds)."""
    names = [r["architecture"] for r in rows]
    values = [r[metric] for r in rows]
    errors = [r.get(f"{metric}_std", 0.0) for r in rows]
    fig, axis = plt.subplots(figsize=(1.6 + 1.1 * len(rows), 3.6))
    bars = axis.bar(names, values, yerr=errors, capsize=4, color="#4C72B0")
    axis.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=3)
    low = min(values)
    axis.set_ylim(max(0.0, low - 0.1 * max(abs(low), 1e-3) - max(errors, default=0)), max(values) * 1.05 + max(errors, default=0))
    axis.set(ylabel=metric, title=title)
    axis.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
