"""Neural Programmer operations: with one-hot selections each equals its discrete definition;
padded rows never count; row selectors stay in [0, 1]."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.models.programmer import OPERATIONS, combine, run_operations

TABLE = torch.tensor([[[3.0, 10.0], [7.0, 20.0], [5.0, 30.0], [99.0, 99.0]]])  # (1, R=4, C=2); row 3 is padding
ROWS = torch.tensor([[1, 1, 1, 0]])
RS_1 = torch.tensor([[1.0, 0.0, 1.0, 1.0]])  # rows 0 and 2 selected (and the padded row, which must not count)
RS_2 = torch.tensor([[0.0, 1.0, 1.0, 1.0]])


def step(op: str, column: int, pivot_greater: float = 4.0, pivot_lesser: float = 25.0):
    numbers = torch.tensor([[pivot_lesser, pivot_greater]])  # the question's numbers; β picks one for each comparison
    ops = run_operations(TABLE, ROWS, RS_1, RS_2, numbers, torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]))
    op_weights = torch.nn.functional.one_hot(torch.tensor([OPERATIONS.index(op)]), len(OPERATIONS)).float()
    column_weights = torch.nn.functional.one_hot(torch.tensor([column]), 2).float()
    return combine(ops, op_weights, column_weights)


@pytest.mark.parametrize("column", [0, 1])
def test_each_operation_with_one_hot_selections_is_its_discrete_definition(column):
    values = TABLE[0, :3, column]
    passed_on = [1.0, 0.0, 1.0, 0.0]  # a scalar step passes RS_1 on (the padded row dropped)
    scalar, lookup, rows = step("sum", column)
    assert scalar.item() == values[0] + values[2] and torch.all(lookup == 0) and rows[0].tolist() == passed_on
    scalar, _, rows = step("count", column)
    assert scalar.item() == 2 and rows[0].tolist() == passed_on  # the padded row is selected in RS_1 but never counts
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
    assert torch.equal(lookup[0], expected) and scalar.item() == 0 and rows[0].tolist() == passed_on


def test_soft_selections_mix_the_discrete_results_and_keep_row_selectors_in_unit_range():
    torch.manual_seed(0)
    B, R, C = 5, 6, 3
    table = torch.randint(0, 100, (B, R, C)).float()
    rows = (torch.arange(R)[None, :] < torch.tensor([6, 4, 2, 5, 1])[:, None]).long()
    rs_1, rs_2 = torch.rand(B, R), torch.rand(B, R)
    beta = torch.softmax(torch.randn(B, 2), -1)
    ops = run_operations(table, rows, rs_1, rs_2, torch.tensor([[50.0, 30.0]]).expand(B, 2), beta, beta.flip(-1))
    op_weights = torch.softmax(torch.randn(B, len(OPERATIONS)), -1)
    column_weights = torch.softmax(torch.randn(B, C), -1)
    scalar, lookup, selected = combine(ops, op_weights, column_weights)
    assert torch.all(selected >= 0) and torch.all(selected <= 1 + 1e-6) and torch.all(selected[rows == 0] == 0)
    # the mixture is linear in the selections: it equals the α-weighted sum of the one-hot results
    mixed, mixed_rows = torch.zeros(B), torch.zeros(B, R)  # the row selector too (the scalar operations pass RS_1 on)
    for k, j in itertools.product(range(len(OPERATIONS)), range(C)):
        one_op = torch.nn.functional.one_hot(torch.full((B,), k), len(OPERATIONS)).float()
        one_col = torch.nn.functional.one_hot(torch.full((B,), j), C).float()
        one_scalar, _, one_rows = combine(ops, one_op, one_col)
        mixed += op_weights[:, k] * column_weights[:, j] * one_scalar
        mixed_rows += (op_weights[:, k] * column_weights[:, j]).unsqueeze(-1) * one_rows
    torch.testing.assert_close(scalar, mixed)
    torch.testing.assert_close(selected, mixed_rows)
    assert torch.all(lookup[rows == 0] == 0)
    hard = [(table > 50.0).float(), (table > 30.0).float()]  # a soft pivot mixes the hard comparisons with each number
    torch.testing.assert_close(
        ops.greater, (beta[:, 0, None, None] * hard[0] + beta[:, 1, None, None] * hard[1]) * rows.unsqueeze(-1)
    )


def test_padded_rows_never_sum_or_count_whatever_they_hold():
    table = TABLE.clone()
    table[0, 3] = torch.tensor([1e6, -1e6])
    ops = run_operations(table, ROWS, RS_1, RS_2, torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    assert ops.sum[0].tolist() == [8.0, 40.0] and ops.count.item() == 2.0


def programmer_batch(rows: int = 6):
    from rnnlab.data.sources.tables import NUMBER, VOCABULARY, table_questions

    examples = table_questions(4, 3, rows, seed=0)
    index = {w: i for i, w in enumerate(VOCABULARY)}
    B, Q, R = len(examples), max(len(e.words) for e in examples), max(len(e.table) for e in examples)
    words, numbers, is_number = (
        torch.zeros(B, Q, dtype=torch.long),
        torch.zeros(B, Q),
        torch.zeros(B, Q, dtype=torch.bool),
    )
    table, row_mask = torch.zeros(B, R, 3), torch.zeros(B, R, dtype=torch.long)
    for b, e in enumerate(examples):
        words[b, : len(e.words)] = torch.tensor([index[w] for w in e.words])
        numbers[b, : len(e.words)] = torch.tensor(e.numbers)
        is_number[b, : len(e.words)] = torch.tensor([w == NUMBER for w in e.words])
        table[b, : len(e.table)] = torch.from_numpy(e.table).float()
        row_mask[b, : len(e.table)] = 1
    return words, numbers, is_number, torch.tensor([len(e.words) for e in examples]), table, row_mask


def test_the_programmer_answers_selects_and_reaches_every_parameter():
    from rnnlab.data.sources.tables import VOCABULARY
    from rnnlab.models.programmer import NeuralProgrammer

    torch.manual_seed(0)
    model = NeuralProgrammer(len(VOCABULARY), 3, 16)
    words, numbers, is_number, lengths, table, row_mask = programmer_batch()
    program = model(words, numbers, is_number, lengths, table, row_mask)
    assert (
        program.answer.shape == (4,)
        and program.operations.shape == (4, 4, len(OPERATIONS))
        and program.columns.shape == (4, 4, 3)
    )
    torch.testing.assert_close(program.operations.sum(-1), torch.ones(4, 4))
    program.answer.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())  # the pivot choice too
    hard = model(words, numbers, is_number, lengths, table, row_mask, hard=True)
    assert set(hard.operations.unique().tolist()) == {0.0, 1.0}
    # padding rows with garbage beyond every table changes no answer
    padded_table = torch.cat([table, torch.full((4, 3, 3), 1e4)], 1)
    padded_rows = torch.cat([row_mask, torch.zeros(4, 3, dtype=torch.long)], 1)
    torch.testing.assert_close(
        model(words, numbers, is_number, lengths, padded_table, padded_rows).answer, program.answer
    )


def test_table_questions_answers_follow_their_programs():
    """Replaying each template's program with one-hot selections gives the generator's answer."""
    from rnnlab.data.sources.tables import COLUMNS, table_questions

    for e in table_questions(200, 3, 9, seed=1):
        table = torch.from_numpy(e.table).float()[None]
        rows = torch.ones(1, table.shape[1], dtype=torch.long)
        numbers = torch.tensor([[v for v, w in zip(e.numbers, e.words) if w == "<num>"] or [0.0]])
        columns = [COLUMNS.index(w) for w in e.words if w in COLUMNS]
        pick = {"greater": 0, "lesser": 1 if len(numbers[0]) > 1 else 0}  # the template's number for each comparison
        rs_1 = rs_2 = rows.float()
        compare_columns = iter(columns[1:] if e.program[-1] == "sum" else columns)
        for op in e.program:
            column = columns[0] if op == "sum" else (next(compare_columns) if op in ("greater", "lesser") else 0)
            beta = {k: torch.nn.functional.one_hot(torch.tensor([pick[k]]), numbers.shape[1]).float() for k in pick}
            ops = run_operations(table, rows, rs_1, rs_2, numbers, beta["greater"], beta["lesser"])
            one_op = torch.nn.functional.one_hot(torch.tensor([OPERATIONS.index(op)]), len(OPERATIONS)).float()
            scalar, _, rs = combine(ops, one_op, torch.nn.functional.one_hot(torch.tensor([column]), 3).float())
            rs_2, rs_1 = rs_1, rs
        assert scalar.item() == pytest.approx(e.answer), (e.words, e.program)


def test_table_programmer_reads_back_the_exact_table_and_numbers_from_standardized_inputs():
    """Undoing the normalizer in float32 leaves 50 as 50.000004; the programmer rounds it back, so
    a table value equal to the question's number is neither greater nor less than it."""
    from rnnlab.data.sources.tables import FEATURES, TableQuestionsOptions, table_questions_source
    from rnnlab.models.programmer import TableProgrammer

    table = table_questions_source(
        TableQuestionsOptions(min_rows=5, max_rows=6, test_rows=[7], sequences=30, test_sequences=1, seed=3)
    )
    values = table[FEATURES].to_numpy()
    normalizer = {
        "mean": (values.mean(0) + 0.123).tolist(),
        "std": (values.std(0) * 1.37 + 0.01).tolist(),
    }  # awkward, non-dyadic scales
    with_number = table.loc[table["number"] > 0, "sequence_id"].iloc[0]  # a question with a number in it
    first = table[table["sequence_id"] == with_number]
    raw = first[FEATURES].to_numpy()
    x = torch.tensor((raw - normalizer["mean"]) / normalizer["std"], dtype=torch.float32).unsqueeze(0)
    encoder = TableProgrammer(FEATURES, normalizer, {"mean": 0.0, "std": 1.0}, 8, 4)
    words, numbers, is_number, question_lengths, parsed, row_mask = encoder.parse(x, torch.tensor([len(raw)]))
    rows = raw[raw[:, FEATURES.index("row")] == 1][:, -3:]
    assert torch.equal(parsed[0], torch.tensor(rows, dtype=torch.float32)) and bool(row_mask.all())
    q = int(question_lengths[0])
    assert torch.equal(numbers[0], torch.tensor(raw[:q, FEATURES.index("number")], dtype=torch.float32))
    # a tie: put the question's first number into the table; the comparisons must see equality
    n = float(numbers[0][is_number[0]][0])
    raw_tie = raw.copy()
    raw_tie[q, -3:] = n
    x_tie = torch.tensor((raw_tie - normalizer["mean"]) / normalizer["std"], dtype=torch.float32).unsqueeze(0)
    tied = encoder.parse(x_tie, torch.tensor([len(raw)]))[4]
    assert bool((tied[0, 0] == n).all()) and not bool((tied[0, 0] > n).any()) and not bool((tied[0, 0] < n).any())
