"""Studies of the course's augmentations: attention on reversal, ACT on parity.

    attention_reversal  exact-sequence accuracy per test length (the training range and longer);
                        alignment accuracy — the share of decoder steps i whose strongest attention
                        is on source position L−1−i — and alignment heatmaps (also logged to each
                        training run in MLflow)
    act_parity          test accuracy; mean ponder steps per vector; ponder steps against the number
                        of nonzero entries k; mean ponder steps against the time penalty τ

Same contract as :mod:`rnnlab.experiments.studies`: (markdown, figures, metrics).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import mlflow
import numpy as np
import torch
from matplotlib.figure import Figure

from rnnlab import plots, tracking
from rnnlab.config import Config
from rnnlab.data.batching import encode
from rnnlab.data.meta import DatasetMeta
from rnnlab.evaluate import forward_all, ordered_loader
from rnnlab.experiments.runner import Trained, runs_table
from rnnlab.experiments.studies import _colours, _means, summary_by_architecture

HEATMAP_LENGTHS = (12, 20)  # a test reversal inside the training range and one longer than any seen


# --- attention on reversal -----------------------------------------------------------------------


@torch.no_grad()
def alignments(model, data, batch_size: int) -> list[np.ndarray]:
    """Teacher-forced alignments α (L_out, T) per sequence, in dataset order (None without attention)."""
    model.eval()
    found: list = [None] * len(data)
    loader = ordered_loader(data, batch_size)
    for indices, batch in zip(loader.batch_sampler, loader):
        attention = model(batch.x, batch.lengths, batch.y).attention
        if attention is None:
            return found
        for row, i in enumerate(indices):
            found[i] = attention[row, : len(data.targets[i]), : len(data.inputs[i])].numpy()
    return found


def reversal_alignment_accuracy(weights: np.ndarray) -> float:
    """The share of output steps i < L whose argmax attention is source position L−1−i (the </s> step excluded)."""
    L = weights.shape[1]
    return float((weights[:L].argmax(1) == np.arange(L)[::-1]).mean())


def attention_reversal(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    figures, per_length = [], defaultdict(lambda: defaultdict(list))
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    for r in runs:
        model, splits, meta = r.load(config, root)
        generator = config.dataset(r.dataset).generator
        data = encode(splits["test"], meta)
        batch_size = config.train_for(r.dataset).batch_size
        answers = forward_all(model, data, batch_size, meta.task)
        exact = np.array([torch.equal(a, t) for a, t in zip(answers, data.targets)])
        lengths = np.array(data.lengths)
        seen = lengths <= generator["max_length"]
        r.summary["exact_seen"] = float(exact[seen].mean())
        r.summary["exact_longer"] = float(exact[~seen].mean()) if (~seen).any() else float("nan")
        for n in np.unique(lengths):
            per_length[r.architecture][int(n)].append(float(exact[lengths == n].mean()))
        weights = alignments(model, data, batch_size)
        if weights[0] is None:
            continue
        scores = np.array([reversal_alignment_accuracy(w) for w in weights])
        r.summary["alignment_seen"], r.summary["alignment_longer"] = (
            float(scores[seen].mean()),
            float(scores[~seen].mean()) if (~seen).any() else float("nan"),
        )
        for target_length in HEATMAP_LENGTHS:
            i = int(np.argmin(np.abs(lengths - target_length)))
            path = folder / f"alignment_{r.architecture}_seed{r.seed}_L{lengths[i]}.png"
            source = [meta.vocabulary[t] for t in data.inputs[i].tolist()]
            output = [meta.classes[t] for t in data.targets[i].tolist()]
            plots.alignment(
                weights[i], source, output, f"{r.architecture}, seed {r.seed}: reversing {lengths[i]} digits", path
            )
            client.log_artifact(r.summary["run_id"], str(path), "plots")
            figures.append(path)
    figure = _accuracy_by_length(
        per_length, folder / "exact_by_length.png", max(config.dataset(r.dataset).generator["max_length"] for r in runs)
    )
    keys = {
        "exact_seen": "exact (trained lengths)",
        "exact_longer": "exact (longer)",
        "alignment_seen": "alignment (trained lengths)",
        "alignment_longer": "alignment (longer)",
    }
    body = "\n\n".join(
        [
            "Exact-sequence accuracy of the greedy output on the test split, for test lengths inside the training "
            "range and longer than any training sequence. Alignment accuracy: the share of output steps i whose "
            "strongest attention weight is on source position L−1−i (teacher-forced, the </s> step excluded); 1.0 is "
            "the anti-diagonal. Models without attention have no alignment (—).",
            summary_by_architecture(runs, keys),
            "Every run:",
            runs_table(runs, {**keys, "test_token_error_rate": "token error rate", "train_time_s": "train time (s)"}),
            f"![exact accuracy by length]({name}/{figure.name})",
            *[f"![{p.stem}]({name}/{p.name})" for p in figures],
        ]
    )
    return body, [figure, *figures], _means(runs, list(keys))


def _accuracy_by_length(per_length: dict, path: Path, longest_trained: int) -> Path:
    fig = Figure(figsize=(6.5, 4))
    axis = fig.subplots()
    for colour, (architecture, by_length) in zip(_colours(), per_length.items()):
        n = sorted(by_length)
        axis.plot(n, [np.mean(by_length[k]) for k in n], "o-", color=colour, ms=3, label=architecture)
    axis.axvline(longest_trained + 0.5, color="black", ls="--", lw=1, label="longest training length")
    axis.set(
        xlabel="digits to reverse",
        ylabel="exact-sequence accuracy (test)",
        ylim=(-0.02, 1.02),
        title="reversal: accuracy by length (mean over seeds)",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


# --- ACT on parity --------------------------------------------------------------------------------


@torch.no_grad()
def ponder_steps(model, data, batch_size: int) -> np.ndarray | None:
    """Σ_t N(t) of each sequence (its total ponder steps), in dataset order; None for a model without ACT."""
    model.eval()
    encoder = model.encoder
    embed = getattr(encoder, "embedding", None)  # token inputs: the stack reads their embedding
    stack = getattr(encoder, "stack", None)
    steps = np.zeros(len(data))
    loader = ordered_loader(data, batch_size)
    for indices, batch in zip(loader.batch_sampler, loader):
        _, final = stack(embed(batch.x) if embed is not None else batch.x, batch.lengths)
        if final is None or "steps" not in final._fields:
            return None
        steps[indices] = final.steps.sum(0).numpy()  # over layers and directions
    return steps


def nonzero_entries(splits: dict, meta: DatasetMeta) -> np.ndarray:
    """k per test vector: the entries that were ±1 before standardization."""
    data = encode(splits["test"], meta)
    return np.array([int((np.abs(meta.raw_features(x.numpy()[0])) > 0.5).sum()) for x in data.inputs])


def seen_in_training(splits: dict, meta: DatasetMeta) -> float:
    """The share of test vectors that also occur in the training split (small vectors have few
    possible values: 3^8 = 6,561 at 8 entries, so a large training set holds nearly all of them)."""
    features = meta.features
    train = {row.tobytes() for row in splits["train"][features].to_numpy()}
    return float(np.mean([row.tobytes() in train for row in splits["test"][features].to_numpy()]))


def act_parity(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    by_k: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    penalties: dict[str, float] = {}
    overlap: dict[str, float] = {}
    for r in runs:
        model, splits, meta = r.load(config, root)
        if r.dataset not in overlap:
            overlap[r.dataset] = seen_in_training(splits, meta)
        data = encode(splits["test"], meta)
        steps = ponder_steps(model, data, config.train_for(r.dataset).batch_size)
        if steps is None:
            continue
        penalties[r.architecture] = config.architecture(r.architecture).time_penalty
        r.summary["ponder_steps"] = float(steps.mean())
        k = nonzero_entries(splits, meta)
        for value in np.unique(k):
            by_k[r.architecture][int(value)].append(float(steps[k == value].mean()))
        r.summary["ponder_k_correlation"] = float(np.corrcoef(k, steps)[0, 1]) if steps.std() > 0 else 0.0
    figure = _ponder_figure(by_k, penalties, runs, folder / "ponder.png")
    keys = {
        "test_accuracy": "accuracy (test)",
        "ponder_steps": "mean ponder steps",
        "ponder_k_correlation": "corr(k, ponder steps)",
    }
    bits = ", ".join(
        f"{ds}: {config.dataset(ds).generator['bits']} entries" for ds in dict.fromkeys(r.dataset for r in runs)
    )
    body = "\n\n".join(
        [
            f"Parity of vectors with k ~ U{{1..bits}} entries set to ±1 ({bits}), one input step; the test vectors "
            "are drawn after the training ones. A plain one-step RNN is a one-hidden-layer network; ACT lets the "
            "same cell ponder. Mean ponder steps: N(t) averaged over the test vectors; corr(k, ponder steps): "
            "Pearson correlation between the number of nonzero entries and the steps taken (reported, not asserted: "
            "the paper makes no claim for parity). Test vectors also present in the training split: "
            + ", ".join(f"{ds}: {share:.1%}" for ds, share in overlap.items())
            + " — where this is near 100 %, the test measures whether a model can compute parity on the vectors it "
            "was trained on, not generalisation to unseen ones.",
            summary_by_architecture(runs, keys),
            "Time penalty τ of each ACT model: " + ", ".join(f"{a} τ = {t:g}" for a, t in penalties.items()) + ".",
            "Every run:",
            runs_table(runs, {**keys, "best_val_accuracy": "val accuracy", "train_time_s": "train time (s)"}),
            f"![ponder steps]({name}/{figure.name})",
        ]
    )
    return body, [figure], _means(runs, list(keys))


def _ponder_figure(by_k: dict, penalties: dict[str, float], runs: list[Trained], path: Path) -> Path:
    fig = Figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    for colour, (architecture, steps) in zip(_colours(), by_k.items()):
        k = sorted(steps)
        left.plot(
            k,
            [np.mean(steps[v]) for v in k],
            "o-",
            ms=3,
            color=colour,
            label=f"{architecture} (τ = {penalties[architecture]:g})",
        )
    left.set(xlabel="nonzero entries k", ylabel="mean ponder steps (test)", title="ponder steps against difficulty")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    for architecture, tau in sorted(penalties.items(), key=lambda item: item[1]):
        mine = [r for r in runs if r.architecture == architecture]
        right.scatter([tau] * len(mine), [r.summary["ponder_steps"] for r in mine], color="black", s=18)
        where = (tau, np.mean([r.summary["ponder_steps"] for r in mine]))
        right.annotate(
            f"acc {np.mean([r.summary['test_accuracy'] for r in mine]):.2f}",
            where,
            fontsize=8,
            xytext=(4, 4),
            textcoords="offset points",
        )
    right.set(
        xscale="log",
        xlabel="time penalty τ",
        ylabel="mean ponder steps (test)",
        title="ponder steps against τ (each dot a seed)",
    )
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


ANALYSES = {"attention_reversal": attention_reversal, "act_parity": act_parity}
