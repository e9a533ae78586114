"""The DialogueRNN study: per-utterance mood as the number of parties grows.

    dialogue_parties   weighted F1 (the paper's metric) and accuracy on the test dialogues, split
                       into each party's first utterance (which always shows its mood) and its later
                       ones (mostly fillers: their label is a mood shown turns ago, or an insult's
                       effect) — the later ones are what a per-party state is for.

Same contract as :mod:`rnnlab.experiments.studies`: (markdown, figures, metrics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import f1_score

from rnnlab.config import Config
from rnnlab.data.batching import encode
from rnnlab.data.meta import DatasetMeta
from rnnlab.data.table import SPEAKER, sequences_of
from rnnlab.evaluate import forward_all
from rnnlab.experiments.runner import Trained, runs_table
from rnnlab.experiments.studies import _means, plot_by_architecture, summary_by_architecture


def first_utterances(speakers: np.ndarray) -> np.ndarray:
    """(T,) party indices -> (T,) True where a party speaks for the first time in the dialogue."""
    seen: set = set()
    first = np.zeros(len(speakers), dtype=bool)
    for t, s in enumerate(speakers.tolist()):
        first[t] = s not in seen
        seen.add(s)
    return first


def utterance_scores(model, splits: dict, meta: DatasetMeta, batch_size: int) -> dict[str, float]:
    """Test accuracy on first and on later utterances, and the weighted F1 of the later ones."""
    data = encode(splits["test"], meta)
    speakers, _ = sequences_of(splits["test"], [SPEAKER])  # same order as data (sorted by sequence_id)
    predicted = np.concatenate([a.argmax(-1).numpy() for a in forward_all(model, data, batch_size, meta.task)])
    target = np.concatenate([t.numpy() for t in data.targets])
    first = np.concatenate([first_utterances(s[:, 0]) for s in speakers])
    right = predicted == target
    return {
        "first_accuracy": float(right[first].mean()),
        "later_accuracy": float(right[~first].mean()),
        "later_weighted_f1": float(f1_score(target[~first], predicted[~first], average="weighted")),
        "later_share": float((~first).mean()),
    }


def dialogue_parties(
    config: Config, root: Path, name: str, runs: list[Trained], folder: Path
) -> tuple[str, list[Path], dict]:
    parties = {}
    for r in runs:
        model, splits, meta = r.load(config, root)
        r.summary.update(utterance_scores(model, splits, meta, config.train_for(r.dataset).batch_size))
        generator = config.dataset(r.dataset).generator
        parties[r.dataset] = (generator["min_parties"], generator["max_parties"])
    keys = {
        "test_weighted_f1": "weighted F1",
        "test_accuracy": "accuracy",
        "first_accuracy": "acc. first utterances",
        "later_accuracy": "acc. later utterances",
        "later_weighted_f1": "weighted F1, later",
        "later_share": "share later",
    }
    figure = _parties_figure(runs, parties, folder / "dialogue_parties.png")
    body = "\n\n".join(
        [
            "Each party's first utterance shows its mood; its later utterances mostly do not (a "
            "new mood with probability `mood_shift`, otherwise a filler or an insult), so their "
            "label is a mood shown turns ago or the effect of the previous speaker's insult. An "
            "utterance-only model can only guess those; a model must remember per party.",
            summary_by_architecture(runs, keys),
            f"![weighted F1 and later-utterance accuracy against the number of parties]({name}/{figure.name})",
            "Every run:",
            runs_table(
                runs,
                {
                    "test_weighted_f1": "weighted F1",
                    "later_accuracy": "acc. later",
                    "best_val_accuracy": "val accuracy",
                    "train_time_s": "train time (s)",
                },
            ),
        ]
    )
    return body, [figure], _means(runs, ["test_weighted_f1", "later_accuracy"])


def _parties_figure(runs: list[Trained], parties: dict, path: Path) -> Path:
    """Weighted F1 (all utterances) and accuracy on later utterances against P, mean ± std over seeds."""
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for axis, key, label in zip(
        axes, ("test_weighted_f1", "later_accuracy"), ("weighted F1, all test utterances", "accuracy, later utterances")
    ):
        plot_by_architecture(axis, runs, lambda r, key=key: {sum(parties[r.dataset]) / 2: r.summary[key]})
        axis.set(xlabel="parties per dialogue", ylabel=label, ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


ANALYSES = {"dialogue_parties": dialogue_parties}
