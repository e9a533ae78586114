"""The logged model: an MLflow pyfunc that takes the canonical sequence table and answers.

It carries everything prediction needs — the network, the input columns, the normalizer or the
vocabulary fitted on the training split, the class names or the target's scale — so
``models:/rnnlab-<dataset>@champion`` works alone: from ``rnnlab predict``, from Python, or from
``mlflow models serve`` over HTTP.

Input: long format, one row per time step: ``sequence_id``, ``step`` and the dataset's feature
columns (or ``token``); target columns are allowed and ignored. Output, sorted by ``sequence_id``, is
the task kind's (``TaskKind.served``):

    classify        one row per sequence: prediction, p_<class> probabilities
    label_steps     one row per step: step, prediction
    label_bits      one row per step: step, prediction (a bit string)
    language_model  one row per sequence: the most likely next token, its probability
    forecast        one row per sequence: the target's next value, in its own units
    regress         one row per sequence: the predicted value, in the target's own units
    seq2seq         one row per sequence: the output symbols, space-separated (as the label is written)
    tags            one row per sequence: the tags joined by "|" ("-" for none), p_<tag> probabilities

A request is bounded by params.yaml's ``serving`` section (rows, sequences, steps per sequence), copied
into the model when it is logged; a model logged without limits takes any size. Unusable input
raises ``RequestError``: ``rnnlab predict`` prints its one line, and the MLflow scoring server
answers HTTP 400 with that line as the message and no stack trace.
"""

from __future__ import annotations

from dataclasses import replace

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from torch import nn

from rnnlab.data.batching import SequenceSet, encode
from rnnlab.data.meta import DatasetMeta
from rnnlab.data.prepare import check_parties, normalize
from rnnlab.data.splits import read_steps, source_features
from rnnlab.data.table import LABEL, SEQUENCE_ID, SPEAKER, STEP, TOKEN, speaker_index, validate_table
from rnnlab.errors import DataError
from rnnlab.evaluate import forward_all, predict

PREDICT_BATCH_SIZE = 64  # inference batches: memory only, results do not depend on it
LIMITS = ("max_rows", "max_sequences", "max_steps")  # params.yaml serving.<key>; meta.limits holds them


class RequestError(MlflowException, DataError):
    """Input a served model cannot answer: a DataError for ``rnnlab predict`` and, for the scoring
    server, an MlflowException with INVALID_PARAMETER_VALUE (HTTP 400, no stack_trace field). The
    server prefixes a caught exception's message with a dump of the request data; this message
    stays the one sentence it was made with, so the client reads only what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self.args[0] if self.args else ""

    @message.setter
    def message(self, value: str) -> None:
        pass  # the sentence is fixed at construction (args[0])


class SequenceModel(mlflow.pyfunc.PythonModel):
    def __init__(self, model: nn.Module, meta: DatasetMeta, limits: dict | None = None) -> None:
        """``limits``: params.yaml's serving section (max_rows, max_sequences, max_steps); None = no limit."""
        self.model = model.eval()
        # what prediction reads: the split sizes and the references measured on them stay with the run
        self.meta = replace(
            meta,
            lengths={},
            baselines={},
            tuning_split=None,
            limits=None if limits is None else {k: int(limits[k]) for k in LIMITS},
        )

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return predict_table(self.model, self.meta, pd.DataFrame(model_input))
        except RequestError:
            raise
        except DataError as err:
            raise RequestError(str(err)) from None

    def score(
        self,
        table: pd.DataFrame,
        batch_size: int = PREDICT_BATCH_SIZE,
        task: str | None = None,
        read: tuple | None = None,
    ) -> dict[str, float]:
        """The task's metrics on a labelled table in raw units (as ingest wrote it, or with its steps
        already ``read``: see ``model_input``), with this model's own encoding.
        DataError when this model cannot answer this data: another ``task``, labels it never learned,
        steps read another way."""
        where = f"scoring a model of {self.meta.dataset}"
        if task is not None and task != self.meta.task:
            raise DataError(f"{where}: the model answers task {self.meta.task!r}, the data is {task!r}")
        if self.meta.kind.target == "class" and LABEL in table.columns:
            unknown = sorted(set(table[LABEL].astype(str)) - set(map(str, self.meta.classes)))
            if unknown:
                raise DataError(
                    f"{where}: label(s) {', '.join(map(repr, unknown[:5]))} are not among the classes it learned"
                )
        data = model_input(self.meta, table, with_targets=True, read=read)
        prediction, target = predict(self.model, data, self.meta.task, batch_size)
        return self.meta.kind.metrics(prediction, target, self.meta)


def input_columns(meta: DatasetMeta, read: bool = False) -> list[str]:
    """The columns a request holds: the source's own (a framed dataset's features before framing);
    ``read``: the columns of steps already read as prepare reads them (a prepared split's)."""
    features = (
        list(meta.features) if read else source_features(meta.features, bool(meta.frame), bool(meta.sequence_scale))
    )
    return [TOKEN] if meta.vocabulary else features + ([SPEAKER] if meta.parties else [])


def check_columns(meta: DatasetMeta, table: pd.DataFrame, read: bool = False) -> None:
    """The columns this model reads are all there: sequence_id, step and its input columns."""
    required = [SEQUENCE_ID, STEP, *input_columns(meta, read)]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            f"input for {meta.dataset}: missing input column(s) {', '.join(map(repr, missing))} "
            f"(expected: {', '.join(required)})"
        )


def check_limits(meta: DatasetMeta, table: pd.DataFrame) -> None:
    """A request within the model's limits (meta.limits, from params.yaml's serving section); none if absent."""
    limits = meta.limits
    if not limits:
        return
    where = f"input for {meta.dataset}"
    if len(table) > limits["max_rows"]:
        raise DataError(
            f"{where}: {len(table)} rows exceed the limit of {limits['max_rows']} per request "
            f"(serving.max_rows in params.yaml)"
        )
    lengths = table.groupby(SEQUENCE_ID, sort=False, dropna=False).size()
    if len(lengths) > limits["max_sequences"]:
        raise DataError(
            f"{where}: {len(lengths)} sequences exceed the limit of {limits['max_sequences']} per request "
            f"(serving.max_sequences in params.yaml)"
        )
    if len(lengths) and lengths.max() > limits["max_steps"]:
        raise DataError(
            f"{where}: sequence {lengths.idxmax()!r} has {lengths.max()} steps, over the limit of "
            f"{limits['max_steps']} per sequence (serving.max_steps in params.yaml)"
        )


def model_input(meta: DatasetMeta, table: pd.DataFrame, with_targets: bool, read: tuple | None = None) -> SequenceSet:
    """Check a raw table has what this model reads, then read its steps (``downsample``, ``frame``,
    ``sequence_scale``), normalize and encode it as training did. ``read``: how the table's steps were
    already read (``DatasetMeta.reading``, a prepared split back in raw units); it must be the model's own."""
    where = f"input for {meta.dataset}"
    if read is not None and tuple(read) != meta.reading:
        raise DataError(
            f"{where}: the model reads steps as (downsample, frame, sequence_scale) = {meta.reading}, "
            f"the table's steps were read as {tuple(read)}"
        )
    check_columns(meta, table, read is not None)
    targets = [LABEL] if with_targets and meta.kind.target != "token" else []
    table = table[[SEQUENCE_ID, STEP, *input_columns(meta, read is not None), *targets]]
    validate_table(table, where, meta.kind.label_mode if with_targets else None)
    if read is None:  # read its steps as prepare did
        table = read_steps(table, *meta.reading, where)
    table = normalize(table, meta.normalizer, meta.target_scale)
    if meta.parties:  # speaker names -> party indices, as prepare did
        table = table.assign(**{SPEAKER: speaker_index(table, where)})
        check_parties(table, meta.parties, where)
    return encode(table, meta, with_targets=with_targets)


def predict_table(model: nn.Module, meta: DatasetMeta, table: pd.DataFrame) -> pd.DataFrame:
    check_columns(meta, table)
    check_limits(meta, table)
    data = model_input(meta, table, with_targets=False)
    answers = forward_all(model, data, PREDICT_BATCH_SIZE, meta.task)
    return meta.kind.served(answers, data.ids, meta)
