"""Synthetic tables with template questions: the Neural Programmer's data (architectures.md §8 d).

Each example: a table of R rows × 3 integer columns (0–99), a question from one of five templates,
the answer (a number) and the template's program — the operation of each of the 4 steps:

    sum col_X                                               reset reset reset sum
    sum col_X where col_Y greater than N                    reset reset greater sum
    count rows where col_Y less than N                      reset reset lesser count
    count rows where col_Y greater than N and col_Z less than M      greater lesser and count
    count rows                                              reset reset reset count

Words vary among synonyms ("sum"/"total", "greater than"/"above", ...), so the same program has
several phrasings. Row counts vary per table (R uniform in [min_rows, max_rows]); tables larger
than any trained one test whether the row-wise operations generalise.

As a canonical table (``table_questions_source``), each example is one sequence: its question's
words, then its table's rows (see there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from rnnlab.data.table import LABEL, table_from_sequences

COLUMNS = ("col_a", "col_b", "col_c")
SYNONYMS = {
    "sum": ("sum", "total"),
    "count": ("count", "number of"),
    "greater": ("greater than", "above"),
    "less": ("less than", "below"),
}
NUMBER = "<num>"
VOCABULARY = (
    "<pad>",
    NUMBER,
    "rows",
    "where",
    "and",
    *COLUMNS,
    *sorted({w for words in SYNONYMS.values() for phrase in words for w in phrase.split()}),
)


TEMPLATE_PROGRAMS = {  # each template's name and program, in the generator's order
    "sum col": ("reset", "reset", "reset", "sum"),
    "sum where >": ("reset", "reset", "greater", "sum"),
    "count where <": ("reset", "reset", "lesser", "count"),
    "count where > and <": ("greater", "lesser", "and", "count"),
    "count rows": ("reset", "reset", "reset", "count"),
}
TEMPLATES = tuple(TEMPLATE_PROGRAMS)


@dataclass(frozen=True)
class Example:
    words: tuple[str, ...]  # the question, numbers replaced by NUMBER
    numbers: tuple[float, ...]  # the value of each word (0 for non-numbers)
    table: np.ndarray  # (R, J)
    answer: float
    program: tuple[str, ...]  # the template's operation per step
    template: str  # the template's name (TEMPLATES)


def table_questions(count: int, min_rows: int, max_rows: int, seed: int) -> list[Example]:
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        rows = int(rng.integers(min_rows, max_rows + 1))
        table = rng.integers(0, 100, size=(rows, len(COLUMNS))).astype(np.float64)
        x, y, z = (int(c) for c in rng.permutation(len(COLUMNS)))
        n, m = (float(v) for v in rng.integers(10, 90, size=2))
        say = lambda key: tuple(SYNONYMS[key][int(rng.integers(0, len(SYNONYMS[key])))].split())  # noqa: E731
        template = int(rng.integers(0, 5))
        if template == 0:
            words, answer = (*say("sum"), COLUMNS[x]), table[:, x].sum()
        elif template == 1:
            words, answer = (
                (*say("sum"), COLUMNS[x], "where", COLUMNS[y], *say("greater"), NUMBER),
                table[table[:, y] > n, x].sum(),
            )
        elif template == 2:
            words, answer = (*say("count"), "rows", "where", COLUMNS[y], *say("less"), NUMBER), (table[:, y] < n).sum()
        elif template == 3:
            words = (
                *say("count"),
                "rows",
                "where",
                COLUMNS[y],
                *say("greater"),
                NUMBER,
                "and",
                COLUMNS[z],
                *say("less"),
                NUMBER,
            )
            answer = ((table[:, y] > n) & (table[:, z] < m)).sum()
        else:
            words, answer = (*say("count"), "rows"), rows
        values, pending = [], [n, m]
        for w in words:
            values.append(pending.pop(0) if w == NUMBER else 0.0)
        name = TEMPLATES[template]
        examples.append(Example(words, tuple(values), table, float(answer), TEMPLATE_PROGRAMS[name], name))
    return examples


class TableQuestionsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_rows: PositiveInt  # training tables have min_rows..max_rows rows
    max_rows: PositiveInt
    test_rows: list[PositiveInt] = Field(
        min_length=1
    )  # test tables of exactly these sizes (some larger than any trained)
    sequences: PositiveInt  # training examples
    test_sequences: PositiveInt  # per test size
    seed: int

    @model_validator(mode="after")
    def _range(self) -> TableQuestionsOptions:
        if self.min_rows > self.max_rows:
            raise ValueError(f"min_rows {self.min_rows} > max_rows {self.max_rows}")
        return self


WORD_COLUMNS = [f"word_{w.strip('<>')}" for w in VOCABULARY[1:]]  # one-hot of the question word (no <pad>)
NUMBER_COLUMN = WORD_COLUMNS[VOCABULARY.index(NUMBER) - 1]  # the word column that says "a number stands here"
FEATURES = [*WORD_COLUMNS, "number", "row", *COLUMNS]


def examples_of(options: TableQuestionsOptions) -> list[tuple[str, str, Example]]:
    """(id, split, example) of every example, the same for the same options."""
    o = options
    out = [
        (f"tableq-train-{i:06d}", "train", e)
        for i, e in enumerate(table_questions(o.sequences, o.min_rows, o.max_rows, o.seed))
    ]
    for k, rows in enumerate(o.test_rows):
        out += [
            (f"tableq-test{rows}-{i:05d}", "test", e)
            for i, e in enumerate(table_questions(o.test_sequences, rows, rows, o.seed + 1 + k))
        ]
    return out


def table_questions_source(options: TableQuestionsOptions) -> pd.DataFrame:
    """Generated table questions (the Neural Programmer's task), each a sequence: its question, then its table.

    Question steps: the word's one-hot (``word_*``) and ``number`` (a number word's value); then
    one step per table row: ``row`` = 1 and the row's values (``col_a``, ``col_b``, ``col_c``).
    Label: the answer (task regress). Split: training tables of min_rows..max_rows rows;
    ``test_sequences`` examples per size in ``test_rows``. Ids ``tableq-<split>-<index>``.
    """
    sequences, labels, splits, ids = [], [], [], []
    width = len(FEATURES)
    for sid, split, e in examples_of(options):
        x = np.zeros((len(e.words) + len(e.table), width))
        for t, (word, value) in enumerate(zip(e.words, e.numbers)):
            x[t, VOCABULARY.index(word) - 1] = 1.0
            x[t, width - 5] = value
        x[len(e.words) :, width - 4] = 1.0
        x[len(e.words) :, width - 3 :] = e.table
        sequences.append(x)
        labels.append(e.answer)
        splits.append(split)
        ids.append(sid)
    table = table_from_sequences(sequences, labels, splits, ids, FEATURES, "source table_questions")
    table[LABEL] = table[LABEL].astype(np.float64)
    return table
