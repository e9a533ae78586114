"""The comparison's statistics, against hand-worked cases and published tables: the Student-t
interval, the test against the best, Friedman's statistic and Nemenyi's critical difference
(Demšar 2006, Table 5: q_0.05 = 2.343 for 3 entries, 2.569 for 4); then the leaderboard that shows them."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rnnlab import significance
from rnnlab.compare import aggregate, write_reports


def test_the_interval_is_the_student_t_interval_of_the_mean():
    # n = 3, s = 0.01: t_{0.975, 2} = 4.3027 (any t table), s/√3 = 0.005774
    assert significance.interval([0.95, 0.96, 0.97]) == pytest.approx(4.3027 * 0.01 / math.sqrt(3), rel=1e-4)
    assert significance.interval([0.5]) is None, "one seed has no interval"
    assert significance.interval([2.0, 2.0, 2.0]) == 0.0


def test_tied_with_best_follows_the_metric_direction_and_needs_two_seeds():
    clear = {"a": [0.95, 0.96, 0.97], "b": [0.80, 0.81, 0.805], "c": [0.96, 0.94, 0.95]}
    p = significance.tied_with_best(clear, greater=True)
    assert p["a"] == 1.0, "the best mean is the reference of the test"
    assert p["b"] < significance.ALPHA <= p["c"]
    # the same numbers as errors (lower is better): b is now the best and a the one far from it
    p = significance.tied_with_best(clear, greater=False)
    assert p["b"] == 1.0 and p["a"] < significance.ALPHA and p["c"] < significance.ALPHA
    assert significance.tied_with_best({"a": [0.9], "b": [0.8]}, greater=True) is None
    # Holm: the smallest raw p is multiplied by the number of comparisons
    two = {"a": [1.0, 1.1, 1.2], "b": [0.0, 0.1, 0.2], "c": [0.5, 0.7, 0.9]}
    from scipy import stats

    raw = sorted(stats.ttest_ind(two["a"], two[x], equal_var=False).pvalue for x in "bc")
    p = significance.tied_with_best(two, greater=True)
    assert sorted([p["b"], p["c"]]) == pytest.approx([2 * raw[0], max(2 * raw[0], raw[1])])


def test_ranks_friedman_and_the_critical_difference_match_hand_worked_values():
    # 4 datasets × 3 entries; "err" is lower-is-better, so its values rank the other way round
    scores = pd.DataFrame(
        {"x": [0.9, 0.8, 0.7, 1.0], "y": [0.8, 0.7, 0.9, 2.0], "z": [0.7, 0.6, 0.5, 3.0]}, index=["a", "b", "c", "err"]
    )
    result = significance.ranks_across(scores, {"a": True, "b": True, "c": True, "err": False})
    assert result.ranks.loc["a"].tolist() == [1, 2, 3] and result.ranks.loc["c"].tolist() == [2, 1, 3]
    assert result.ranks.loc["err"].tolist() == [1, 2, 3]
    assert result.mean_ranks.to_dict() == {"x": 1.25, "y": 1.75, "z": 3.0}
    k, n = 3, 4  # χ²_F = 12N / (k(k+1)) · Σ R_j² − 3N(k+1)
    chi2 = 12 * n / (k * (k + 1)) * (1.25**2 + 1.75**2 + 3.0**2) - 3 * n * (k + 1)
    assert result.friedman_statistic == pytest.approx(chi2)
    assert result.critical_difference == pytest.approx(2.343 * math.sqrt(k * (k + 1) / (6 * n)), abs=1e-3)
    assert result.nemenyi.loc["x", "z"] < result.nemenyi.loc["x", "y"], (
        "the pair further apart in rank is the more different"
    )
    with pytest.raises(ValueError, match="needs ≥ 3 entries on ≥ 2 datasets \\(here 2 on 4\\)"):
        significance.ranks_across(scores[["x", "y"]], {"a": True, "b": True, "c": True, "err": False})


def _runs(task: str, metric: str, values: dict[str, list[float]]) -> list[dict]:
    return [
        {
            "architecture": arch,
            "seed": seed,
            "run_id": f"{arch}{seed}",
            "backend": "fused",
            "num_params": 100,
            "task": task,
            f"test_{metric}": v,
            f"best_val_{metric}": v,
            "best_val_loss": 1.0 - v,
            "train_time_s": 1.0,
            "run_time_s": 2.0,
            "epochs_trained": 3,
        }
        for arch, seeds in values.items()
        for seed, v in enumerate(seeds)
    ]


def test_the_leaderboard_shows_intervals_ties_and_the_critical_difference_diagram(tmp_path):
    accuracies = {
        "vowels": {"lstm": [0.97, 0.96, 0.98], "gru": [0.96, 0.97, 0.95], "rnn": [0.80, 0.81, 0.79]},
        "motions": {"lstm": [0.90, 0.92, 0.91], "gru": [0.85, 0.86, 0.84], "rnn": [0.70, 0.72, 0.71]},
    }
    tables = {ds: aggregate(_runs("classify", "accuracy", v), "classify") for ds, v in accuracies.items()}
    tables["sunspots"] = aggregate(
        _runs("forecast", "mae", {"lstm": [12.0, 12.5, 12.2], "gru": [13.0, 13.1, 13.2], "rnn": [15.0, 15.5, 15.2]}),
        "forecast",
    )
    yardsticks = {
        "vowels": [
            {
                "name": "logistic regression",
                "metric": "accuracy",
                "value": 0.99,
                "origin": "same split",
                "measured": True,
            },
            {"name": "published", "metric": "accuracy", "value": 0.999, "origin": "a paper", "measured": False},
        ],
        "motions": [
            {
                "name": "logistic regression",
                "metric": "accuracy",
                "value": 0.5,
                "origin": "same split",
                "measured": True,
            }
        ],
        "sunspots": [
            {"name": "AR", "metric": "mae", "value": 13.36, "origin": "same split", "measured": True},
            {"name": "naive", "metric": "mae", "value": 14.8, "origin": "same split", "measured": True},
        ],
    }
    decisions = {
        ds: {"registered_model": f"rnnlab-{ds}", "champion_version": "1", "promoted": True, "reason": "no champion yet"}
        for ds in tables
    }
    board = write_reports(tmp_path, tables, decisions, {ds: [] for ds in tables}, yardsticks).read_text()
    assert f"| 0.9700 ± {significance.interval([0.97, 0.96, 0.98]):.4f} |" in board
    assert "| rnn | 0.8000 ± " in board and "worse (p " in board and "**tied** (p " in board
    assert "Friedman χ² = " in board and "| reference | " in board
    # the reference is the best *measured* one: 0.99 on vowels (not the published 0.999), the worst on motions
    # (0.5), and AR's 13.36 MAE on sunspots (not the naive 14.8), between the GRU's 13.1 and the RNN's 15.2
    assert "| reference | 2.67 | 1 | 4 | 3 |" in board
    assert "| lstm | 1.33 | 2 | 1 | 1 |" in board and "| rnn | 3.67 | 4 | 3 | 4 |" in board
    for name in ("critical_difference_architectures.png", "critical_difference_with_references.png"):
        assert (tmp_path / "reports" / "figures" / name).stat().st_size > 5000
        assert f"(figures/{name})" in board
    one_seed = {"vowels": aggregate(_runs("classify", "accuracy", {"lstm": [0.9], "gru": [0.8]}), "classify")}
    board = write_reports(tmp_path, one_seed, {"vowels": decisions["vowels"]}, {"vowels": []}, {}).read_text()
    assert "| lstm | 0.9000 | " in board and "— (1 seed)" in board
    assert "Not computed: the Friedman test needs ≥ 3 entries on ≥ 2 datasets (here 2 on 1)." in board
