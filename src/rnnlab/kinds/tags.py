"""tags: a set of tags per sequence (multi-label classification). The ``label`` holds the tag names joined
by "|" ("rock|live"), or NO_ANSWER ("-") for a sequence with none. One sigmoid per tag (logits (B, C), binary
cross-entropy); micro- and macro-F1, the exact-set accuracy and the Hamming loss (the share of wrong tag
decisions), σ > 0.5 reading "has the tag". References: every tag its training prevalence (a tag answered
where most training sequences carry it), and one logistic regression per tag on order-free summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnlab.data.splits import sequence_labels
from rnnlab.data.table import LABEL, NO_ANSWER, SEQUENCE_ID
from rnnlab.errors import DataError
from rnnlab.kinds.base import TaskKind

SEPARATOR = "|"


def tag_sets(labels: pd.Series) -> pd.Series:
    """ "rock|live" -> {"rock", "live"}; NO_ANSWER -> the empty set."""
    return labels.astype(str).map(lambda v: set() if v == NO_ANSWER else set(v.split(SEPARATOR)))


def tag_metrics(logits: np.ndarray, target: np.ndarray, meta) -> dict[str, float]:
    """(N, C) logits and 0/1 targets."""
    from sklearn.metrics import f1_score

    predicted, truth = (logits > 0).astype(int), (target > 0.5).astype(int)
    return {
        "micro_f1": float(f1_score(truth, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "set_accuracy": float((predicted == truth).all(-1).mean()),
        "hamming_loss": float((predicted != truth).mean()),
    }


class Tags(TaskKind):
    name = "tags"
    target = "bits"
    selection_metric = "micro_f1"
    downsamples = True
    head, loss, flatten = "sequence_classifier", "bits_cross_entropy", "per_sequence"

    def fit_target(self, train, splits, settings, fitted, where):
        tags = sorted(set().union(*tag_sets(sequence_labels(train))))
        if len(tags) < 2:
            raise DataError(f"{where}: task tags needs at least two tags in the training split, found {tags}")
        for part, table in splits.items():
            unseen = sorted(set().union(*tag_sets(sequence_labels(table))) - set(tags))
            if unseen:
                raise DataError(f"{where}: tag {unseen[0]!r} appears in the {part} split but not in train")
        return {"classes": tags}

    def encode_targets(self, labels, meta):
        """ "rock|live" -> 1.0 at rock's and live's columns (a tag outside meta.classes is named)."""
        import torch

        index = {t: i for i, t in enumerate(meta.classes)}
        targets = []
        for y in labels:
            row = torch.zeros(len(index), dtype=torch.float32)
            value = str(y[0, 0])
            for tag in [] if value == NO_ANSWER else value.split(SEPARATOR):
                if tag not in index:
                    raise DataError(f"tag {tag!r} is not among the tags the model learned ({', '.join(index)})")
                row[index[tag]] = 1.0
            targets.append(row)
        return targets

    def metrics(self, predicted, target, meta):
        return tag_metrics(predicted, target, meta)

    def references(self, train, test, meta, settings):
        from rnnlab.baselines.references import logistic_regression_per_column

        y_train = np.stack([t.numpy() for t in train.targets])
        y_test = np.stack([t.numpy() for t in test.targets])
        prevalence = y_train.mean(0).clip(1e-6, 1 - 1e-6)
        constant = np.tile(np.log(prevalence / (1 - prevalence)), (len(y_test), 1))  # logits of the prevalence
        return {
            "training prevalence per tag": self.metrics(constant, y_test, meta),
            **logistic_regression_per_column(train, test, y_train, meta, self.metrics),
        }

    def served(self, answers, ids, meta):
        import torch

        probabilities = torch.sigmoid(torch.stack(answers)).numpy()  # (B, C)
        tags = np.asarray(meta.classes)
        out = pd.DataFrame(
            {
                SEQUENCE_ID: ids,
                "prediction": [SEPARATOR.join(tags[p > 0.5]) or NO_ANSWER for p in probabilities],
            }
        )
        for i, name in enumerate(meta.classes):
            out[f"p_{name}"] = probabilities[:, i]
        return out

    def check_imported(self, table, target, where):
        tags = set().union(*tag_sets(table[LABEL].dropna()))
        if len(tags) < 2:
            raise DataError(f"{where}: target column {target!r} holds {len(tags)} tag(s); task tags needs at least two")


KIND = Tags()
