"""What every task kind is and does, and the behaviour most kinds share.

A task kind is the kind of answer a dataset asks for (a class per sequence, the next token, a value, ...).
Each kind is one module of this package holding one ``TaskKind`` subclass: its facts (class
attributes) and its behaviour (methods), which the rest of rnnlab calls instead of testing the
kind's name:

    prepare      check_columns, read_labels, split, cut, fit_target   (rnnlab.data.prepare)
    batches      encode_targets                                        (rnnlab.data.batching)
    training     head, loss, flatten: names of the torch pieces in rnnlab.tasks
    scoring      metrics (numpy, on the flat real targets), selection_metric and its direction
    references   references: non-recurrent models measured on the same test split
    serving      served: a model's answers as the table a user reads
    pictures     validation_pictures, test_pictures: what a person looks at
    import       import_entry: the keys ``rnnlab import`` writes into params.yaml for this kind

The module imports no torch: the configuration reads the facts; the behaviour that needs torch,
plots or scikit-learn imports them when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from rnnlab.data.splits import split_sequences
from rnnlab.data.table import LABEL, STEP

if TYPE_CHECKING:
    from rnnlab.data.meta import DatasetMeta


class TaskKind:
    """The defaults are those of a kind with one label per sequence whose labels are class names."""

    name: ClassVar[str]
    # What a target is: "class" (an index into meta.classes), "value" (a standardized number),
    # "token", "bits" (a 0/1 vector, meta.classes names the bits) or "sequence" (ids into meta.classes,
    # the target vocabulary, closed by </s>).
    target: ClassVar[str]
    per_step: ClassVar[bool] = False  # one target per step (padded with IGNORE) or one per sequence
    causal: ClassVar[bool] = False  # step t's prediction may read steps <= t only: no bidirectional encoder
    decodes: ClassVar[bool] = False  # writes its own output: teacher-forced loss, metrics of the greedy output
    selection_metric: ClassVar[str]  # the validation metric that picks the champion
    # Where the label lives in the canonical table: "sequence" (one per sequence), "step", or None (no label column).
    label_mode: ClassVar[str | None] = "sequence"
    # The canonical column ``rnnlab import`` renames the user's target column to (None: it stays a feature).
    label_column: ClassVar[str | None] = LABEL
    labels_are_names: ClassVar[bool] = True  # labels read as text (class names), not numbers
    stratify: ClassVar[bool] = False  # splits drawn stratified by the sequence's label
    checks_classes: ClassVar[bool] = False  # every class of val and test is seen in train (and, stratified, tested)
    downsamples: ClassVar[bool] = False  # ``downsample`` may average its numeric steps (one label per sequence)
    splits_in_time: ClassVar[bool] = False  # its split runs forward in time: validation cannot be redrawn
    # The torch pieces (rnnlab.tasks): the head put on the encoder, the loss, and which predictions count.
    head: ClassVar[str]
    loss: ClassVar[str]
    flatten: ClassVar[str]

    # --- prepare ---------------------------------------------------------------------------------------

    def check_columns(self, raw: pd.DataFrame, settings, where: str) -> None:
        """The columns this kind needs are there (one line naming what is missing)."""

    def read_labels(self, raw: pd.DataFrame, where: str) -> pd.DataFrame:
        """The raw table with its labels as this kind reads them."""
        return raw

    def split(self, raw: pd.DataFrame, settings, where: str) -> tuple[dict[str, pd.DataFrame], dict]:
        """train / val / test tables, and any baselines measured while splitting."""
        return split_sequences(raw, settings, where, self), {}

    def cut(self, df: pd.DataFrame, max_length: int) -> pd.DataFrame:
        """``max_length``: each sequence's first steps."""
        return df[df[STEP] < max_length]

    def fit_target(
        self, train: pd.DataFrame, splits: dict[str, pd.DataFrame], settings, fitted: dict, where: str
    ) -> dict:
        """The meta fields of the target, fitted on the training split (``fitted``: the input encoding
        already fitted: features, normalizer, vocabulary). Default: the sorted class names."""
        return {"classes": sorted(train[LABEL].astype(str).unique())}

    # --- batches ---------------------------------------------------------------------------------------

    def encode(self, inputs: list, labels: Callable[[], list[np.ndarray]], meta: DatasetMeta) -> tuple[list, list]:
        """Input tensors and each sequence's (T, 1) labels (read when called) -> (inputs, target tensors)."""
        return inputs, self.encode_targets(labels(), meta)

    def encode_targets(self, labels: list[np.ndarray], meta: DatasetMeta) -> list:
        """Each sequence's (T, 1) labels -> its target tensor. Default: the class index per sequence."""
        import torch

        classes = {c: i for i, c in enumerate(meta.classes)}
        return [torch.tensor(classes[str(y[0, 0])], dtype=torch.int64) for y in labels]

    # --- scoring ---------------------------------------------------------------------------------------

    def metrics(self, predicted: np.ndarray, target: np.ndarray, meta: DatasetMeta) -> dict[str, float]:
        """Metrics of the flat predictions of the real targets."""
        raise NotImplementedError

    @property
    def greater_is_better(self) -> bool:
        """The direction of the selection metric."""
        from rnnlab.kinds import greater_is_better

        return greater_is_better(self.selection_metric)

    # --- references, serving, pictures, import -----------------------------------------------------------

    def references(self, train, test, meta: DatasetMeta, settings) -> dict[str, dict[str, float]]:
        """Non-recurrent references' test metrics, by name (``train``/``test``: encoded sequence sets)."""
        return {}

    def served(self, answers: list, ids: list, meta: DatasetMeta) -> pd.DataFrame:
        """A model's answers (one tensor per sequence) as the table ``rnnlab predict`` and the server return."""
        raise NotImplementedError

    def validation_pictures(self, model, meta: DatasetMeta, val_answers, title: str, folder: Path, settings, seed: int):
        """What a person would look at after training (files written into ``folder``)."""
        return []

    def test_pictures(self, meta: DatasetMeta, predicted, target, title: str, folder: Path) -> list[Path]:
        """What a person would look at on the test split (files written into ``folder``)."""
        return []

    def size_facts(self, settings) -> list[str]:
        """How a dataset entry of this kind sizes its sequences, in words (the data tables of docs/)."""
        return [] if settings.max_length is None else [f"the first {settings.max_length} steps"]

    def import_entry(self, target: str, table: pd.DataFrame, window: int) -> dict:
        """The keys of a new dataset's params.yaml entry that belong to this kind."""
        return {}

    def check_imported(self, table: pd.DataFrame, target: str, where: str) -> None:
        """An imported table's target, checked as this kind reads it."""

    def __repr__(self) -> str:
        return f"<task kind {self.name}>"
