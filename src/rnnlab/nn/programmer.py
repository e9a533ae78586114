"""Neural Programmer (Neelakantan, Le, Sutskever; ICLR 2016, arXiv 1511.04834): the operations and
the soft program over a table.

"Neural programmers can call functions, building programs as they run": at each of T steps the
controller softly selects an operation and a column; every operation runs on the whole table and
their results are mixed by the selection probabilities. Shapes: B examples, Q question words,
R rows, C columns, K operations, T steps, H hidden size.

Operations (the paper's, the ones architectures.md §8 d asks for), with rs_{t−1} the previous row
selector (B, R) and the table (B, R, C):

    sum      Σ_i rs_{t−1}[i] · table[i, j]                 (B, C) a scalar per column
    count    Σ_i rs_{t−1}[i]                               (B,)
    greater  table[i, j] > pivot_g                         (B, R, C) rows per column
    lesser   table[i, j] < pivot_l                         (B, R, C)
    and      min(rs_{t−1}[i], rs_{t−2}[i])                 (B, R)
    or       max(rs_{t−1}[i], rs_{t−2}[i])                 (B, R)
    reset    1                                             (B, R)
    print    rs_{t−1}[i] for column j                      (B, R, C) the lookup answer

Step outputs, α^op (B, K) and α^col (B, C) the selections:

    scalar_t     = α(sum) · Σ_j α^col_j sum_j + α(count) · count
    lookup_t     = α(print) · α^col_j · rs_{t−1}[i]
    rs_t         = α(and)·and + α(or)·or + α(reset)·1 + Σ_j α^col_j (α(greater)·g[:, j] + α(lesser)·l[:, j])

Rows beyond a table's own size are masked out of every row selector (a padded row never counts
and never sums). The comparisons are hard (as in the paper): their pivots are chosen softly
among the question's numbers, so the gradient reaches the selections, not the values.

Not yet here (issue 7, see its notes): the question RNN and selectors as a registered encoder of
the canonical table, the synthetic table generator, gradient noise in training, the study.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

OPERATIONS = ("sum", "count", "greater", "lesser", "and", "or", "reset", "print")
OP = {name: k for k, name in enumerate(OPERATIONS)}


class Operations(NamedTuple):
    """Every operation's result on one step (see the module docstring)."""

    sum: Tensor  # (B, C)
    count: Tensor  # (B,)
    greater: Tensor  # (B, R, C) 0/1
    lesser: Tensor  # (B, R, C) 0/1
    and_: Tensor  # (B, R)
    or_: Tensor  # (B, R)
    reset: Tensor  # (B, R)
    print: Tensor  # (B, R, C)


def run_operations(table: Tensor, row_mask: Tensor, rs_1: Tensor, rs_2: Tensor, pivot_greater: Tensor, pivot_lesser: Tensor) -> Operations:
    """All operations at once. table (B, R, C); row_mask (B, R) 1 on real rows; rs_1, rs_2 (B, R)
    the row selectors of steps t−1 and t−2; pivots (B,)."""
    rows = row_mask.to(table.dtype)
    rs_1, rs_2 = rs_1 * rows, rs_2 * rows  # a padded row is never selected
    column = lambda m: m.unsqueeze(-1).expand_as(table)  # noqa: E731  (B, R) -> (B, R, C)
    return Operations(
        sum=torch.einsum("br,brc->bc", rs_1, table),
        count=rs_1.sum(-1),
        greater=(table > pivot_greater.view(-1, 1, 1)).to(table.dtype) * rows.unsqueeze(-1),
        lesser=(table < pivot_lesser.view(-1, 1, 1)).to(table.dtype) * rows.unsqueeze(-1),
        and_=torch.minimum(rs_1, rs_2),
        or_=torch.maximum(rs_1, rs_2),
        reset=rows,
        print=column(rs_1),
    )


def combine(ops: Operations, op_weights: Tensor, column_weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The step's outputs mixed by the selections: op_weights α^op (B, K) in OPERATIONS order,
    column_weights α^col (B, C) -> scalar (B,), lookup (B, R, C), row selector (B, R)."""
    a = {name: op_weights[:, k] for name, k in OP.items()}  # (B,) each
    scalar = a["sum"] * (column_weights * ops.sum).sum(-1) + a["count"] * ops.count
    lookup = a["print"].view(-1, 1, 1) * column_weights.unsqueeze(1) * ops.print
    compared = a["greater"].view(-1, 1, 1) * ops.greater + a["lesser"].view(-1, 1, 1) * ops.lesser  # (B, R, C)
    rows = (
        a["and"].unsqueeze(-1) * ops.and_
        + a["or"].unsqueeze(-1) * ops.or_
        + a["reset"].unsqueeze(-1) * ops.reset
        + torch.einsum("bc,brc->br", column_weights, compared)
    )
    return scalar, lookup, rows
