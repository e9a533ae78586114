"""seq2seq: a symbol sequence out per sequence in. The ``label`` holds the output symbols, space-separated
("K AE T"); the model writes its own output (teacher-forced loss; metrics of the greedy output, flattened to
token ids with each sequence ending at </s>): exact-sequence accuracy (a G2P model's word accuracy) and the
token error rate (its phoneme error rate). Pictures: greedy outputs beside their targets, and attention's
alignments."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from rnnlab.data.splits import sequence_labels
from rnnlab.data.symbols import END_ID, TARGET_SPECIALS, UNK_ID
from rnnlab.data.table import SEQUENCE_ID
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind

SHOWN = 3  # validation examples whose output is written out and whose alignment is drawn


def split_at_end(ids: np.ndarray) -> list[np.ndarray]:
    """Flat ids, each sequence closed by </s> -> the sequences without it."""
    ids = ids.astype(np.int64)
    ends = np.flatnonzero(ids == END_ID)
    return [ids[a + 1 : b] for a, b in zip(np.r_[-1, ends[:-1]], ends)]


def edit_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1), one row at a time."""
    a, b = a.tolist(), b.tolist()
    row = list(range(len(b) + 1))
    for i, symbol in enumerate(a, 1):
        previous, row = row, [i]
        for j in range(1, len(b) + 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (symbol != b[j - 1])))
    return row[-1]


def sequence_metrics(predicted: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    """Exact-sequence accuracy and the token error rate (edit distance over reference tokens), over whole
    output sequences."""
    outputs, references = split_at_end(predicted), split_at_end(target)
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} decoded sequences for {len(references)} references")
    edits = sum(edit_distance(o, r) for o, r in zip(outputs, references))
    return {
        "sequence_accuracy": float(np.mean([np.array_equal(o, r) for o, r in zip(outputs, references)])),
        "token_error_rate": edits / max(1, sum(len(r) for r in references)),
    }


def decoded(logits):
    """One sequence's (L, V) logits -> its greedy ids up to and including the first </s>
    (an </s> is appended if the decoder never wrote one)."""
    import torch

    ids = logits.argmax(-1)
    ends = (ids == END_ID).nonzero()
    if len(ends):
        return ids[: int(ends[0]) + 1]
    return torch.cat([ids, ids.new_full((1,), END_ID)])


class Seq2Seq(TaskKind):
    name = "seq2seq"
    target = "sequence"
    per_step = True
    decodes = True
    selection_metric = "sequence_accuracy"
    head, loss, flatten = "decoder", "step_cross_entropy", "per_output_sequence"

    def fit_target(self, train, splits, settings, fitted, where):
        return output_vocabulary(train, where) | {"target_embedding_size": settings.target_embedding_size}

    def encode_targets(self, labels, meta):
        """ "K AE T" -> ids of K, AE, T, </s> (a symbol never seen in training -> <unk>)."""
        import torch

        classes = {c: i for i, c in enumerate(meta.classes)}
        return [
            torch.tensor([classes.get(s, UNK_ID) for s in str(y[0, 0]).split()] + [END_ID], dtype=torch.int64)
            for y in labels
        ]

    def metrics(self, predicted, target, meta):
        return sequence_metrics(predicted, target, meta)

    def served(self, answers, ids, meta):
        symbols = np.asarray(meta.classes)
        return pd.DataFrame(
            {SEQUENCE_ID: ids, "prediction": [" ".join(symbols[a[:-1].numpy()]) for a in answers]}
        )  # </s> dropped

    def validation_pictures(self, model, meta, val_answers, title, folder, settings, seed):
        return seq2seq_pictures(model, meta, val_answers[2], title, folder)

    def import_entry(self, target, table, window):
        return {"target_embedding_size": 32}


KIND = Seq2Seq()


def output_vocabulary(train: pd.DataFrame, where: str) -> dict:
    """A seq2seq target's symbols (the label split on whitespace) after <pad>, <unk>, <s>, </s>, most
    frequent first; and the largest (output length + 1) / input length, which bounds greedy decoding."""
    labels = sequence_labels(train).astype(str)
    outputs = labels.str.split()
    empty = outputs.str.len() == 0
    if empty.any():
        raise DataError(
            f"{where}: task seq2seq needs output symbols in 'label'; "
            f"sequence {empty.index[empty.to_numpy()][0]!r} has none"
        )
    counts = Counter(symbol for output in outputs for symbol in output)
    reserved = sorted(set(counts) & set(TARGET_SPECIALS))
    if reserved:
        holder = labels.index[outputs.apply(lambda o: reserved[0] in o).to_numpy()][0]
        raise DataError(
            f"{where}: output symbol {reserved[0]!r} (sequence {holder!r}) is reserved "
            f"({', '.join(TARGET_SPECIALS)}); rename it in 'label'"
        )
    lengths = train.groupby(SEQUENCE_ID).size().loc[labels.index]
    return {
        "classes": list(TARGET_SPECIALS) + sorted(counts, key=lambda t: (-counts[t], t)),
        "max_output_ratio": float(((outputs.str.len() + 1) / lengths).max()),
    }


def seq2seq_pictures(model, meta, val_set, title: str, folder: Path) -> list[Path]:
    """The greedy output of a few validation sequences beside the target, and (with attention)
    their teacher-forced alignments as heatmaps."""
    import torch

    import rnnlab.plots as plots
    from rnnlab.data.batching import collate

    model.eval()
    order = sorted(range(len(val_set)), key=lambda i: val_set.lengths[i])
    shown = [order[int(q * (len(order) - 1))] for q in np.linspace(0.2, 0.9, SHOWN)]  # short to long
    batch = collate([val_set[i] for i in shown])
    with torch.no_grad():
        written = model(batch.x, batch.lengths).prediction
        forced = model(batch.x, batch.lengths, batch.y).attention  # (B, L, T) or None
    source_of = (
        (lambda ids: [meta.vocabulary[t] for t in ids])
        if meta.vocabulary
        else (lambda ids: [str(t) for t in range(len(ids))])
    )
    lines, files = [], []
    for row, i in enumerate(shown):
        source = source_of(val_set.inputs[i].tolist())
        target = [meta.classes[t] for t in val_set.targets[i].tolist()]
        output = [meta.classes[t] for t in decoded(written[row]).tolist()]
        lines.append(f"source: {' '.join(source)}\ntarget: {' '.join(target)}\noutput: {' '.join(output)}")
        if forced is not None:
            weights = forced[row, : len(target), : len(source)].numpy()
            files.append(
                plots.alignment(weights, source, target, f"alignment: {title}", folder / f"alignment_val_{row}.png")
            )
    path = folder / "outputs.txt"
    path.write_text(f"# {title}: greedy outputs of validation sequences\n\n" + "\n\n".join(lines) + "\n")
    return [*files, path]
