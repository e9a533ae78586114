"""benchmarks/epoch_caps.py: a shorter cap read off the runs that were made, worked by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from epoch_caps import cap_table, capped, caps_within, flat_caps, tradeoff  # noqa: E402

# Two datasets. "a": one run still improving at its cap, one flat after its second epoch, one that
# stopped early (3 of 4 epochs). "b": one run flat from the start.
RUNS = [
    {"dataset": "a", "fit": 40.0, "val_loss": [4.0, 3.0, 2.0, 1.0]},
    {"dataset": "a", "fit": 8.0, "val_loss": [2.0, 1.0, 1.0, 1.0]},
    {"dataset": "a", "fit": 6.0, "val_loss": [2.0, 1.5, 1.6]},
    {"dataset": "b", "fit": 10.0, "val_loss": [1.0, 1.0]},
]
CAPS = {"a": 4, "b": 2}


def test_a_capped_run_keeps_its_first_epochs_fit_in_proportion_and_their_lowest_loss():
    assert capped(40.0, [4.0, 3.0, 2.0, 1.0], 2) == (20.0, 3.0)
    assert capped(6.0, [2.0, 1.5, 1.6], 4) == (6.0, 1.5), "a run that stopped sooner is unchanged"
    assert capped(6.0, [2.0, 1.5, 1.6], 3) == (6.0, 1.5)


def test_the_table_sums_the_fit_and_measures_each_runs_rise_of_best_validation_loss():
    table = cap_table(RUNS, CAPS)
    assert table["a"][4] == {"fit": 54.0, "saved": 0.0, "median": 0.0, "worst": 0.0, "changed": 0, "runs": 3}
    # cap 2: 20 + 4 + 4 s; best losses 3 (was 1: +200 %), 1 (+0 %), 1.5 (+0 %)
    row = table["a"][2]
    assert row["fit"] == pytest.approx(28.0) and row["saved"] == pytest.approx(26.0)
    assert row["median"] == 0.0 and row["worst"] == pytest.approx(2.0) and row["changed"] == 1
    # cap 1: 10 + 2 + 2 s; rises 3, 1, 1/3: median 1
    row = table["a"][1]
    assert row["fit"] == pytest.approx(14.0) and row["median"] == pytest.approx(1.0) and row["changed"] == 3
    assert table["b"][1] == {"fit": 5.0, "saved": 5.0, "median": 0.0, "worst": 0.0, "changed": 0, "runs": 1}


def test_caps_for_a_tolerance_the_flat_trims_and_the_tradeoff():
    table = cap_table(RUNS, CAPS)
    assert caps_within(table, 0.0) == {"a": 2, "b": 1}
    assert caps_within(table, 1.0) == {"a": 1, "b": 1}
    assert flat_caps(table) == {"a": 4, "b": 1}, "a's cap 3 raises the improving run's best loss by 100 %"
    points = tradeoff(table)
    # a's caps 2-4 have median 0 and its cap 1 median 1: two tolerances, a at 2 then at 1 epoch(s)
    assert [(tolerance, fit) for tolerance, fit, _ in points] == [
        (0.0, pytest.approx(33.0)),
        (1.0, pytest.approx(19.0)),
    ]
