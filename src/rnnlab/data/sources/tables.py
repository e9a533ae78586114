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

Not yet a registered source: the canonical-table form (question steps, then row steps) is the next
step of issue 7 (see its notes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLUMNS = ("col_a", "col_b", "col_c")
SYNONYMS = {"sum": ("sum", "total"), "count": ("count", "number of"), "greater": ("greater than", "above"), "less": ("less than", "below")}
NUMBER = "<num>"
VOCABULARY = ("<pad>", NUMBER, "rows", "where", "and", *COLUMNS, *sorted({w for words in SYNONYMS.values() for phrase in words for w in phrase.split()}))


@dataclass(frozen=True)
class Example:
    words: tuple[str, ...]  # the question, numbers replaced by NUMBER
    numbers: tuple[float, ...]  # the value of each word (0 for non-numbers)
    table: np.ndarray  # (R, C)
    answer: float
    program: tuple[str, ...]  # the template's operation per step


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
            words, answer, program = (*say("sum"), COLUMNS[x]), table[:, x].sum(), ("reset", "reset", "reset", "sum")
        elif template == 1:
            words = (*say("sum"), COLUMNS[x], "where", COLUMNS[y], *say("greater"), NUMBER)
            answer, program = table[table[:, y] > n, x].sum(), ("reset", "reset", "greater", "sum")
        elif template == 2:
            words = (*say("count"), "rows", "where", COLUMNS[y], *say("less"), NUMBER)
            answer, program = float((table[:, y] < n).sum()), ("reset", "reset", "lesser", "count")
        elif template == 3:
            words = (*say("count"), "rows", "where", COLUMNS[y], *say("greater"), NUMBER, "and", COLUMNS[z], *say("less"), NUMBER)
            answer, program = float(((table[:, y] > n) & (table[:, z] < m)).sum()), ("greater", "lesser", "and", "count")
        else:
            words, answer, program = (*say("count"), "rows"), float(rows), ("reset", "reset", "reset", "count")
        values, pending = [], [n, m]
        for w in words:
            values.append(pending.pop(0) if w == NUMBER else 0.0)
        examples.append(Example(words, tuple(values), table, float(answer), program))
    return examples
