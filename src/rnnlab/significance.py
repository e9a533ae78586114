"""The statistics of the comparison, computed with scipy, statsmodels and scikit-posthocs.

    interval        the 95 % Student-t interval of a mean over seeds: x̄ ± t_{0.975, n-1} · s / √n
    tied_with_best  per dataset, Welch's t-test of each architecture's seeds against those of the
                    best mean, p-values Holm-adjusted over the architectures compared: an
                    architecture whose adjusted p ≥ α cannot be told from the best on these seeds
    ranks_across    across datasets, each entry's rank per dataset (1 = best, ties averaged), the
                    Friedman test that all entries rank alike, and the Nemenyi post-hoc test of each pair

Scores are oriented by the metric's direction (``tasks.greater_is_better``) before anything is ranked
or called best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05  # the significance level of every test below
TIED_TEST = "Welch's t-test on the seeds' test values against the best mean, Holm-adjusted"


def interval(values) -> float | None:
    """Half-width of the ``CONFIDENCE`` Student-t interval of the mean of ``values``; None below 2 values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return None
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * stats.sem(values))


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    if np.var(a) == 0 and np.var(b) == 0:  # no spread on either side: different means are a difference
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def tied_with_best(seeds: dict[str, list[float]], greater: bool) -> dict[str, float] | None:
    """Holm-adjusted p-value of each entry against the best mean (the best gets 1.0); None when an
    entry has fewer than 2 seeds (no test has anything to work with)."""
    from statsmodels.stats.multitest import multipletests

    if len(seeds) < 2 or min(len(v) for v in seeds.values()) < 2:
        return None
    sign = 1.0 if greater else -1.0
    best = max(seeds, key=lambda name: sign * float(np.mean(seeds[name])))
    others = [name for name in seeds if name != best]
    raw = [welch_p(np.asarray(seeds[best], float), np.asarray(seeds[name], float)) for name in others]
    adjusted = multipletests(raw, alpha=ALPHA, method="holm")[1]
    return {best: 1.0, **{name: float(p) for name, p in zip(others, adjusted)}}


@dataclass(frozen=True)
class Ranks:
    """Entries ranked on each dataset (``ranks``: datasets × entries, 1 = best) and the tests on them."""

    ranks: pd.DataFrame
    friedman_statistic: float
    friedman_p: float
    nemenyi: pd.DataFrame  # entries × entries: p-values of the pairwise post-hoc test
    critical_difference: float  # the Nemenyi CD at ALPHA: mean ranks further apart than this differ

    @property
    def mean_ranks(self) -> pd.Series:
        return self.ranks.mean().sort_values()


def ranks_across(scores: pd.DataFrame, greater: dict[str, bool]) -> Ranks:
    """``scores``: datasets × entries, each cell a mean test value on the dataset's headline metric;
    ``greater``: per dataset, whether larger is better. Needs ≥ 3 entries and ≥ 2 datasets, no gaps."""
    import scikit_posthocs

    if scores.shape[1] < 3 or scores.shape[0] < 2:
        raise ValueError(
            f"the Friedman test needs ≥ 3 entries on ≥ 2 datasets (here {scores.shape[1]} on {scores.shape[0]})"
        )
    if scores.isna().any().any():
        raise ValueError("every entry needs a value on every dataset (the Friedman test takes complete blocks)")
    oriented = scores.apply(lambda row: row if greater[row.name] else -row, axis=1)  # larger is better everywhere
    ranks = oriented.apply(lambda row: pd.Series(stats.rankdata(-row.to_numpy()), index=row.index), axis=1)
    statistic, p = stats.friedmanchisquare(*(oriented[c].to_numpy() for c in oriented.columns))
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(oriented.to_numpy())
    nemenyi.index = nemenyi.columns = list(scores.columns)
    k, n = scores.shape[1], scores.shape[0]
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / np.sqrt(2)
    return Ranks(ranks, float(statistic), float(p), nemenyi, float(q * np.sqrt(k * (k + 1) / (6 * n))))
