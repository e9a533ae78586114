"""Neural Programmer (Neelakantan, Le, Sutskever; ICLR 2016, arXiv 1511.04834): the operations and
the soft program over a table.

"Neural programmers can call functions, building programs as they run": at each of its steps the
controller softly selects an operation and a column; every operation runs on the whole table and
their results are mixed by the selection probabilities. Shapes (the package legend, :mod:`rnnlab`):
B examples, O question words, R rows, J columns, H hidden size; 8 operations, ``steps`` program steps.

Operations (the paper's, the ones architectures.md §8 d asks for), with rs_{t−1} the previous row
selector (B, R) and the table (B, R, J):

    sum      Σ_i rs_{t−1}[i] · table[i, j]                 (B, J) a scalar per column
    count    Σ_i rs_{t−1}[i]                               (B,)
    greater  Σ_k β_g(k) [table[i, j] > n_k]                (B, R, J) rows per column
    lesser   Σ_k β_l(k) [table[i, j] < n_k]                (B, R, J)
    and      min(rs_{t−1}[i], rs_{t−2}[i])                 (B, R)
    or       max(rs_{t−1}[i], rs_{t−2}[i])                 (B, R)
    reset    1                                             (B, R)
    print    rs_{t−1}[i] for column j                      (B, R, J) the lookup answer
    keep     rs_{t−1}[i]                                   (B, R) the row selector a scalar step passes on

Step outputs, α^op (B, 8) and α^col (B, J) the selections:

    scalar_t     = α(sum) · Σ_j α^col_j sum_j + α(count) · count
    lookup_t     = α(print) · α^col_j · rs_{t−1}[i]
    rs_t         = α(and)·and + α(or)·or + α(reset)·1 + Σ_j α^col_j (α(greater)·g[:, j] + α(lesser)·l[:, j])
                   + (α(sum) + α(count) + α(print)) · rs_{t−1}

Stated deviation (the last term): in the paper a step that selects a scalar operation (sum, count,
print) produces no rows, so its row selector is 0 — and softly, a step that is 60 % `count` scales
the rows it selects by 0.4. Training found that dimmer and used it: "count rows" was answered as
`sum` over a selector scaled to ~1/50 of the rows (the soft answer close, the argmax program 50×
off), in most seeds. Here a scalar step passes the row selector on unchanged, so no soft mixture can
shrink a selection and the argmax program computes what training shaped. Programs of the paper's
form (row operations, then the answer's operation) give the same answers either way. Measured
(issue 7 notes, 4 seeds each): `rnnlab experiment table_programs` exact answers on 7-row test tables
0.77 → 0.80 (mean; with it every seed answers "count rows" exactly); a prototype on validation
tables 0.71 → 0.87.

Rows beyond a table's own size are masked out of every row selector (a padded row never counts
and never sums). Each comparison with a number n_k of the question is hard; the pivot is a soft
choice β over the question's numbers, so the comparison is the β-mixture of the hard ones and the
gradient reaches β (a comparison with the β-averaged number would give it none).

The answer of a question with a number for answer is scalar_T, the last step's scalar (the
paper's scalar loss reads only it); lookup_T is the answer of a print question (the paper's
second output, with its own cell-wise loss). The table questions generated here all have numbers
for answers, so training reads the scalar alone — a sum must be *computed* with `sum`, not read
off a printed column.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from rnnlab.data.sources.tables import NUMBER_COLUMN
from rnnlab.models.output import Encoded
from rnnlab.nn.attention import masked_softmax
from rnnlab.nn.elman import ElmanCell
from rnnlab.nn.gru import GRUCell
from rnnlab.nn.sequence import run_cell, step_mask

OPERATIONS = ("sum", "count", "greater", "lesser", "and", "or", "reset", "print")
OP = {name: k for k, name in enumerate(OPERATIONS)}
DECIMALS = 1e4  # TableProgrammer rounds the un-standardized values to 1/DECIMALS


class Operations(NamedTuple):
    """Every operation's result on one step (see the module docstring)."""

    sum: Tensor  # (B, J)
    count: Tensor  # (B,)
    greater: Tensor  # (B, R, J) 0/1
    lesser: Tensor  # (B, R, J) 0/1
    and_: Tensor  # (B, R)
    or_: Tensor  # (B, R)
    reset: Tensor  # (B, R)
    print: Tensor  # (B, R, J)
    keep: Tensor  # (B, R)


def run_operations(
    table: Tensor,
    row_mask: Tensor,
    rs_1: Tensor,
    rs_2: Tensor,
    numbers: Tensor,
    beta_greater: Tensor,
    beta_lesser: Tensor,
) -> Operations:
    """All operations at once. table (B, R, J); row_mask (B, R) 1 on real rows; rs_1, rs_2 (B, R)
    the row selectors of steps t−1 and t−2; numbers (B, O) the question's numbers and β (B, O) the
    pivot choice of each comparison."""
    rows = row_mask.to(table.dtype)
    rs_1, rs_2 = rs_1 * rows, rs_2 * rows  # a padded row is never selected
    column = lambda m: m.unsqueeze(-1).expand_as(table)  # noqa: E731  (B, R) -> (B, R, J)
    return Operations(
        sum=torch.einsum("br,brc->bc", rs_1, table),
        count=rs_1.sum(-1),
        greater=_compare(table.unsqueeze(-1) > numbers[:, None, None, :], beta_greater) * rows.unsqueeze(-1),
        lesser=_compare(table.unsqueeze(-1) < numbers[:, None, None, :], beta_lesser) * rows.unsqueeze(-1),
        and_=torch.minimum(rs_1, rs_2),
        or_=torch.maximum(rs_1, rs_2),
        reset=rows,
        print=column(rs_1),
        keep=rs_1,
    )


def _compare(hard: Tensor, beta: Tensor) -> Tensor:
    """(B, R, J, O) hard comparisons with each number, β (B, O) -> their β-mixture (B, R, J)."""
    return torch.einsum("brcn,bn->brc", hard.to(beta.dtype), beta)


def combine(ops: Operations, op_weights: Tensor, column_weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The step's outputs mixed by the selections: op_weights α^op (B, 8) in OPERATIONS order,
    column_weights α^col (B, J) -> scalar (B,), lookup (B, R, J), row selector (B, R)."""
    a = {name: op_weights[:, k] for name, k in OP.items()}  # (B,) each
    scalar = a["sum"] * (column_weights * ops.sum).sum(-1) + a["count"] * ops.count
    lookup = a["print"].view(-1, 1, 1) * column_weights.unsqueeze(1) * ops.print
    compared = a["greater"].view(-1, 1, 1) * ops.greater + a["lesser"].view(-1, 1, 1) * ops.lesser  # (B, R, J)
    rows = (
        a["and"].unsqueeze(-1) * ops.and_
        + a["or"].unsqueeze(-1) * ops.or_
        + a["reset"].unsqueeze(-1) * ops.reset
        + torch.einsum("bc,brc->br", column_weights, compared)
        + (a["sum"] + a["count"] + a["print"]).unsqueeze(-1) * ops.keep  # a scalar step passes the rows on
    )
    return scalar, lookup, rows


class Program(NamedTuple):
    """What the programmer computed: the answer and the selections of every step."""

    answer: Tensor  # (B,) scalar_T, the scalar answer
    lookup: Tensor  # (B, R, J) lookup_T, the answer of a print question (the paper's second output)
    operations: Tensor  # (B, steps, 8) α^op per step
    columns: Tensor  # (B, steps, J) α^col per step


class NeuralProgrammer(torch.nn.Module):
    """Question RNN, history RNN, operation and column selectors, ``steps`` soft steps over the table.

        z_i      = GRU(z_{i−1}, V(w_i))                             question RNN; q = z at the last word
        α^op_t   = softmax(U tanh(W_op [q ; h_{t−1}]))                 U: the operations' embeddings (8, H)
        α^col_t  = softmax(P tanh(W_col [q ; h_{t−1}]))                P: the columns' embeddings (J, H)
        β_op     = softmax_k(z_k · W_piv U_op) over the number words  pivot_op = Σ_k β_op(k) n_k (greater, lesser)
        h_t      = tanh(W_hist [α^opᵀ U ; α^colᵀ P] + W_h h_{t−1} + b)  history RNN (the core's Elman cell)

    ``hard=True`` (evaluation of a discrete program) replaces both softmaxes by their argmax.
    Stated choice: the pivots are chosen once from the question (the paper's β), not per step.
    """

    def __init__(self, vocabulary_size: int, columns: int, hidden_size: int, steps: int = 4) -> None:
        super().__init__()
        H, K = hidden_size, len(OPERATIONS)
        self.steps, self.columns = steps, columns
        self.embedding = torch.nn.Embedding(vocabulary_size, H)
        self.question = GRUCell(H, H, "pytorch")
        self.history = ElmanCell(2 * H, H, "tanh")
        self.operation_embeddings = torch.nn.Parameter(torch.randn(K, H) / H**0.5)  # U
        self.column_embeddings = torch.nn.Parameter(torch.randn(columns, H) / H**0.5)  # P
        self.select_operation = torch.nn.Linear(2 * H, H)  # W_op
        self.select_column = torch.nn.Linear(2 * H, H)  # W_col
        self.pivot = torch.nn.Linear(H, H, bias=False)  # W_piv

    def forward(
        self,
        words: Tensor,
        numbers: Tensor,
        is_number: Tensor,
        question_lengths: Tensor,
        table: Tensor,
        row_mask: Tensor,
        hard: bool = False,
    ) -> Program:
        """words (B, O) ids; numbers (B, O) the value of each number word; is_number (B, O) bool;
        question_lengths (B,); table (B, R, J); row_mask (B, R)."""
        z, final = run_cell(self.question, self.embedding(words), question_lengths)  # (B, O, H)
        q = final.h  # (B, H)
        choose = (
            (lambda logits: torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype))
            if hard
            else (lambda logits: logits.softmax(-1))
        )  # noqa: E731
        has_number = is_number.any(-1, keepdim=True)  # (B, 1): without numbers the pivot is 0
        pivots = {}
        for op in ("greater", "lesser"):
            scores = self.pivot(z) @ self.operation_embeddings[OP[op]]  # (B, O) z_k · W_piv U_op
            pivots[op] = masked_softmax(scores, is_number | ~has_number) * has_number  # β (B, O), 0 without numbers
        h = q.new_zeros(q.shape)
        rows = row_mask.to(table.dtype)
        rs_1 = rs_2 = rows  # before the first step every row is selected (reset)
        operations, columns = [], []
        for _ in range(self.steps):
            state = torch.cat([q, h], -1)  # [q ; h_{t−1}]
            a_op = choose(torch.tanh(self.select_operation(state)) @ self.operation_embeddings.T)  # (B, 8)
            a_col = choose(torch.tanh(self.select_column(state)) @ self.column_embeddings.T)  # (B, J)
            ops = run_operations(table, row_mask, rs_1, rs_2, numbers, pivots["greater"], pivots["lesser"])
            scalar, lookup, rs = combine(ops, a_op, a_col)
            rs_2, rs_1 = rs_1, rs
            h, _ = self.history(
                torch.cat([a_op @ self.operation_embeddings, a_col @ self.column_embeddings], -1),
                type(self.history).state_type(h),
            )
            operations.append(a_op)
            columns.append(a_col)
        return Program(scalar, lookup, torch.stack(operations, 1), torch.stack(columns, 1))


class TableProgrammer(torch.nn.Module):
    """The Neural Programmer as an encoder of the canonical table (source ``table_questions``):
    each sequence is a question (word one-hots, number values) then a table (one step per row).

    The prepared inputs are standardized; the programmer needs the raw values (sums and
    comparisons are in the table's units), so it undoes the dataset's normalizer first. Its summary
    is the answer in the target's standardized units, which the regression head reads.

    Undoing the normalizer in floating point leaves values a few 1e-6 away from the table's own
    (50 comes back as 50.000004), and a comparison with the question's 50 would then say "greater";
    so raw values are rounded to 1/DECIMALS — table values and numbers are taken to have at most
    four decimals.
    """

    def __init__(
        self,
        features: list[str],
        normalizer: dict | None,
        target_scale: dict,
        hidden_size: int,
        steps: int,
    ) -> None:
        super().__init__()
        words = [i for i, f in enumerate(features) if f.startswith("word_")]  # the question word's one-hot
        columns = [i for i, f in enumerate(features) if f.startswith("col_")]
        known = [features[i] for i in words]
        if NUMBER_COLUMN not in known or not columns or "number" not in features or "row" not in features:
            raise ValueError(
                "neural_programmer reads a table_questions dataset (word_*, "
                f"number, row, col_* features); got features {features}"
            )
        self.words, self.columns, self.number, self.row = (
            words,
            columns,
            features.index("number"),
            features.index("row"),
        )
        mean = torch.tensor(normalizer["mean"] if normalizer else [0.0] * len(features), dtype=torch.float64)
        std = torch.tensor(normalizer["std"] if normalizer else [1.0] * len(features), dtype=torch.float64)
        self.register_buffer("mean", mean.float(), persistent=False)
        self.register_buffer("std", std.float(), persistent=False)
        self.target_mean, self.target_std = float(target_scale["mean"]), float(target_scale["std"])
        self.number_word = 1 + known.index(NUMBER_COLUMN)  # its id (id 0 pads)
        self.programmer = NeuralProgrammer(len(words) + 1, len(columns), hidden_size, steps)
        self.input_size, self.output_size = len(features), 1
        self.summary_is_answer = True  # a regression head reads the answer as it is (no affine map on top)

    def parse(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        """x (B, T, D) standardized -> words (B, O), numbers (B, O), is_number (B, O), question lengths (B,),
        table (B, R, J), row mask (B, R)."""
        B, T, _ = x.shape
        raw = (x.double() * self.std.double() + self.mean.double()) * step_mask(lengths, T, x.device).unsqueeze(-1)
        raw = (torch.round(raw * DECIMALS) / DECIMALS).to(
            x.dtype
        )  # a value equal to a question's number compares as equal
        is_row = raw[..., self.row] > 0.5  # (B, T)
        question_lengths = lengths.to(x.device) - is_row.sum(-1)  # the question comes first
        Q, R = int(question_lengths.max()), int(is_row.sum(-1).max())
        in_question = torch.arange(Q, device=x.device)[None, :] < question_lengths[:, None]  # (B, O)
        words = (raw[:, :Q, self.words].argmax(-1) + 1) * in_question  # ids into the vocabulary (0: padding)
        numbers = raw[:, :Q, self.number] * in_question
        is_number = (words == self.number_word) & in_question
        at = (question_lengths[:, None] + torch.arange(R, device=x.device)[None, :]).clamp(
            max=T - 1
        )  # (B, R) row steps
        row_mask = torch.arange(R, device=x.device)[None, :] < is_row.sum(-1, keepdim=True)
        table = raw[..., self.columns].gather(1, at.unsqueeze(-1).expand(B, R, len(self.columns))) * row_mask.unsqueeze(
            -1
        )
        return words, numbers, is_number, question_lengths.cpu(), table, row_mask

    def program(self, x: Tensor, lengths: Tensor, hard: bool = False) -> Program:
        return self.programmer(*self.parse(x, lengths), hard=hard)

    def forward(self, x: Tensor, lengths: Tensor):
        answer = self.program(x, lengths, hard=not self.training).answer  # evaluation runs the discrete program
        summary = ((answer - self.target_mean) / self.target_std).unsqueeze(-1)  # (B, 1) standardized answer
        return Encoded(x.new_zeros(*x.shape[:2], 1), summary, x.new_zeros(()))

    def attention_for(self, query_size: int) -> None:
        return None
