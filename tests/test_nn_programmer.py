"""Neural Programmer operations: with one-hot selections each equals its discrete definition;
padded rows never count; row selectors stay in [0, 1]."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.nn.programmer import OPERATIONS, combine, run_operations

TABLE = torch.tensor([[[3.0, 10.0], [7.0, 20.0], [5.0, 30.0], [99.0, 99.0]]])  # (1, R=4, C=2); row 3 is padding
ROWS = torch.tensor([[1, 1, 1, 0]])
RS_1 = torch.tensor([[1.0, 0.0, 1.0, 1.0]])  # rows 0 and 2 selected (and the padded row, which must not count)
RS_2 = torch.tensor([[0.0, 1.0, 1.0, 1.0]])


def step(op: str, column: int, pivot_greater: float = 4.0, pivot_lesser: float = 25.0):
    ops = run_operations(TABLE, ROWS, RS_1, RS_2, torch.tensor([pivot_greater]), torch.tensor([pivot_lesser]))
    op_weights = torch.nn.functional.one_hot(torch.tensor([OPERATIONS.index(op)]), len(OPERATIONS)).float()
    column_weights = torch.nn.functional.one_hot(torch.tensor([column]), 2).float()
    return combine(ops, op_weights, column_weights)


@pytest.mark.parametrize("column", [0, 1])
def test_each_operation_with_one_hot_selections_is_its_discrete_definition(column):
    values = TABLE[0, :3, column]
    scalar, lookup, rows = step("sum", column)
    assert scalar.item() == values[0] + values[2] and torch.all(lookup == 0) and torch.all(rows == 0)
    scalar, _, _ = step("count", column)
    assert scalar.item() == 2  # the padded row is selected in RS_1 but never counts
    _, _, rows = step("greater", column)
    assert rows[0].tolist() == [float(v > 4.0) for v in values] + [0.0]
    _, _, rows = step("lesser", column)
    assert rows[0].tolist() == [float(v < 25.0) for v in values] + [0.0]
    _, _, rows = step("and", column)
    assert rows[0].tolist() == [0.0, 0.0, 1.0, 0.0]
    _, _, rows = step("or", column)
    assert rows[0].tolist() == [1.0, 1.0, 1.0, 0.0]
    _, _, rows = step("reset", column)
    assert rows[0].tolist() == [1.0, 1.0, 1.0, 0.0]
    scalar, lookup, rows = step("print", column)
    expected = torch.zeros(4, 2)
    expected[[0, 2], column] = 1.0
    assert torch.equal(lookup[0], expected) and scalar.item() == 0 and torch.all(rows == 0)


def test_soft_selections_mix_the_discrete_results_and_keep_row_selectors_in_unit_range():
    torch.manual_seed(0)
    B, R, C = 5, 6, 3
    table = torch.randint(0, 100, (B, R, C)).float()
    rows = (torch.arange(R)[None, :] < torch.tensor([6, 4, 2, 5, 1])[:, None]).long()
    rs_1, rs_2 = torch.rand(B, R), torch.rand(B, R)
    ops = run_operations(table, rows, rs_1, rs_2, torch.full((B,), 50.0), torch.full((B,), 30.0))
    op_weights = torch.softmax(torch.randn(B, len(OPERATIONS)), -1)
    column_weights = torch.softmax(torch.randn(B, C), -1)
    scalar, lookup, selected = combine(ops, op_weights, column_weights)
    assert torch.all(selected >= 0) and torch.all(selected <= 1 + 1e-6) and torch.all(selected[rows == 0] == 0)
    # the mixture is linear in the selections: it equals the α-weighted sum of the one-hot results
    mixed = torch.zeros(B)
    for k, j in itertools.product(range(len(OPERATIONS)), range(C)):
        one_op = torch.nn.functional.one_hot(torch.full((B,), k), len(OPERATIONS)).float()
        one_col = torch.nn.functional.one_hot(torch.full((B,), j), C).float()
        mixed += op_weights[:, k] * column_weights[:, j] * combine(ops, one_op, one_col)[0]
    torch.testing.assert_close(scalar, mixed)
    assert torch.all(lookup[rows == 0] == 0)


def test_padded_rows_never_sum_or_count_whatever_they_hold():
    table = TABLE.clone()
    table[0, 3] = torch.tensor([1e6, -1e6])
    ops = run_operations(table, ROWS, RS_1, RS_2, torch.tensor([0.0]), torch.tensor([0.0]))
    assert ops.sum[0].tolist() == [8.0, 40.0] and ops.count.item() == 2.0
