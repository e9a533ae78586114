"""Task kinds: heads over every registered encoder, losses and metrics by hand, and the data each
task is trained on (forecast windows without look-ahead, language-model shifts, per-step labels)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab import architectures
from rnnlab.baselines.references import measure_references
from rnnlab.config import DATASET_MODELS, DatasetBase, ForecastDataset, LanguageModelDataset
from rnnlab.data import prepare as steps
from rnnlab.data.batching import collate, encode
from rnnlab.data.splits import cut as cut_steps
from rnnlab.data.symbols import IGNORE
from rnnlab.data.table import table_from_sequences, table_from_tokens
from rnnlab.errors import DataError
from rnnlab.evaluate import build_model, evaluate
from rnnlab.generate import generate_samples
from rnnlab.kinds import KINDS
from rnnlab.serving import predict_table
from rnnlab.tasks import TASKS
from tests.conftest import dataset_batch, make_meta
from tests.test_contract import settings_for

COMMON = dict(val_fraction=0.2, max_sequences=None, split_seed=0, train={})


def forecast_settings(**changes) -> ForecastDataset:
    values = dict(
        source="sunspots",
        task="forecast",
        test_fraction=0.25,
        max_length=None,
        tokens=None,
        target="y",
        window=4,
        ar_order=2,
        **COMMON,
    )
    return ForecastDataset(**{**values, **changes})


def lm_settings(**changes) -> LanguageModelDataset:
    values = dict(
        source="shakespeare",
        task="language_model",
        test_fraction=0.25,
        max_length=None,
        tokens={"embedding_size": 4, "min_count": 1, "max_vocabulary": 50},
        generate={"samples": 2, "length": 5, "temperature": 1.0},
        ngram_order=3,
        **COMMON,
    )
    return LanguageModelDataset(**{**values, **changes})


def series_table(n: int = 60) -> pd.DataFrame:
    t = np.arange(n, dtype=float)
    return table_from_sequences([np.stack([t * 10, np.sin(t)], axis=1)], None, None, ["s"], ["y", "x"], "toy")


# --- data per task ------------------------------------------------------------------------------------


def test_forecast_windows_read_only_the_past_and_split_in_time():
    raw = series_table()  # y_t = 10 t: each window's values name their steps
    parts, baselines = steps.split(raw, "toy", forecast_settings())
    test_start, val_start = 60 - 15, 45 - 9
    for part, (lo, hi) in {"train": (4, val_start), "val": (val_start, test_start), "test": (test_start, 60)}.items():
        targets = parts[part].groupby("sequence_id")["label"].first().to_numpy() / 10
        np.testing.assert_array_equal(targets, np.arange(lo, hi))
        for sid, window in parts[part].groupby("sequence_id"):
            t = int(sid.split("@")[1])
            np.testing.assert_array_equal(
                window["y"].to_numpy() / 10, np.arange(t - 4, t)
            )  # the 4 steps before the target
    naive = baselines["test"]["naive last value"]
    assert naive == {"mae": pytest.approx(10.0), "rmse": pytest.approx(10.0)}, "y grows by 10 per step"
    assert baselines["test"]["AR(2), fit before the test part"]["mae"] < 1e-6, "a linear trend is AR(2)-exact"


def test_forecast_split_column_must_run_forward_in_time():
    raw = series_table()
    raw["split"] = np.where(raw["step"] >= 50, "test", "train")
    raw.loc[55, "split"] = "train"
    with pytest.raises(DataError, match="sequence 's' goes back from test to train at step 55"):
        steps.split(raw, "toy", forecast_settings(test_fraction=None))
    with pytest.raises(DataError, match="forecast target column 'z' is not a numeric feature column"):
        steps.split(series_table(), "toy", forecast_settings(target="z"))


def test_forecast_metrics_are_in_the_series_units():
    meta = make_meta(task="forecast", target_scale={"mean": 100.0, "std": 10.0}, target_signed=False)
    metrics = TASKS["forecast"].metrics(np.array([0.0, 1.0]), np.array([0.5, 0.0]), meta)
    assert metrics == {
        "mae": pytest.approx(7.5),
        "rmse": pytest.approx(math.sqrt((25 + 100) / 2)),
        "mse": pytest.approx((25 + 100) / 2),
    }
    signed = TASKS["forecast"].metrics(
        np.array([0.5, -0.5]),
        np.array([1.0, 0.5]),
        make_meta(target_scale={"mean": 0.0, "std": 1.0}, target_signed=True),
    )
    assert signed["direction_accuracy"] == 0.5


def lm_table() -> pd.DataFrame:
    words = ["abcab", "cabca", "bcabc", "abca", "cab", "abcabc", "bca", "cabcab"] * 2
    return table_from_tokens(words, None, None, [f"t{i:02d}" for i in range(len(words))], "toy")


def test_language_model_reads_tokens_before_and_predicts_the_next():
    splits, meta = steps.prepare(lm_table(), "toy", lm_settings())
    assert meta.vocabulary[:2] == ["<pad>", "<unk>"] and set(meta.vocabulary[2:]) == set("abc")
    data = encode(splits["train"], meta)
    tokens = splits["train"].sort_values(["sequence_id", "step"]).groupby("sequence_id")["token"].agg("".join)
    index = {t: i for i, t in enumerate(meta.vocabulary)}
    for x, y, sid in zip(data.inputs, data.targets, data.ids):
        ids = [index[c] for c in tokens[sid]]
        assert x.tolist() == ids[:-1] and y.tolist() == ids[1:]
    batch = collate([data[0], data[len(data) - 1]])
    assert (batch.y == IGNORE).sum() == abs(len(data.targets[0]) - len(data.targets[-1])), "padding targets are ignored"


def test_language_model_pieces_and_vocabulary_limits():
    cut = cut_steps(lm_table(), lm_settings(max_length=2), KINDS["language_model"])
    assert cut.groupby("sequence_id").size().max() == 2 and "t00#2" in set(cut["sequence_id"])
    with pytest.raises(DataError, match="column 'token' has 3 distinct tokens .* more than max_vocabulary = 4"):
        steps.prepare(lm_table(), "toy", lm_settings(tokens={"embedding_size": 4, "min_count": 1, "max_vocabulary": 4}))
    with pytest.raises(DataError, match="task language_model needs a 'token' column"):
        steps.split(series_table(), "toy", lm_settings())


def test_per_step_labels_are_kept_per_step():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(int(n), 1)) for n in rng.integers(3, 8, size=20)]
    labels = [np.where(s[:, 0] > 0, "up", "down") for s in sequences]
    raw = table_from_sequences(sequences, labels, None, [f"s{i}" for i in range(20)], ["x"], "toy")
    settings = DATASET_MODELS["label_steps"](
        source="japanese_vowels", task="label_steps", test_fraction=0.25, max_length=None, tokens=None, **COMMON
    )
    splits, meta = steps.prepare(raw, "toy", settings)
    data = encode(splits["test"], meta)
    assert all(len(x) == len(y) for x, y in zip(data.inputs, data.targets))
    assert torch.equal(
        torch.cat(data.targets),
        torch.tensor([meta.classes.index(v) for v in splits["test"].sort_values(["sequence_id", "step"])["label"]]),
    )


def bits_table(labels_of=lambda s: np.where(s > 0, "10", "01")) -> pd.DataFrame:
    """Sequences of one feature; the first step of each has no answer ("-"), the others a 2-bit label."""
    rng = np.random.default_rng(1)
    sequences = [rng.normal(size=(int(n), 1)) for n in rng.integers(3, 8, size=20)]
    labels = [np.r_[["-"], labels_of(s[1:, 0])] for s in sequences]
    return table_from_sequences(sequences, labels, None, [f"s{i}" for i in range(20)], ["x"], "toy")


def bits_settings() -> DatasetBase:
    return DATASET_MODELS["label_bits"](
        source="japanese_vowels", task="label_bits", test_fraction=0.25, max_length=None, tokens=None, **COMMON
    )


def test_label_bits_targets_loss_and_metrics_by_hand():
    splits, meta = steps.prepare(bits_table(), "toy", bits_settings())
    assert meta.classes == ["bit_0", "bit_1"] and meta.num_classes == 2
    data = encode(splits["test"], meta)
    first = data.targets[0]
    assert (
        torch.all(first[0] == IGNORE)
        and set(first[1:].flatten().tolist()) <= {0.0, 1.0}
        and torch.all(first[1:].sum(-1) == 1)
    )
    logits = torch.tensor(
        [[[9.0, 9.0], [2.0, -1.0], [-3.0, 4.0]]]
    )  # one sequence: no answer, then "10" right, "01" right
    target = torch.tensor([[[IGNORE, IGNORE], [1.0, 0.0], [1.0, 1.0]]])
    by_hand = (
        -(
            np.log(1 / (1 + np.exp(-2.0)))
            + np.log(1 / (1 + np.exp(-1.0)))
            + np.log(1 / (1 + np.exp(3.0)))
            + np.log(1 / (1 + np.exp(-4.0)))
        )
        / 4
    )
    assert TASKS["label_bits"].loss(logits, target).item() == pytest.approx(by_hand)  # the unanswered step adds nothing
    prediction, flat = TASKS["label_bits"].flatten(logits, target)
    metrics = TASKS["label_bits"].metrics(prediction.numpy(), flat.numpy(), meta)
    assert metrics == {
        "bit_error_rate": 0.25,
        "step_accuracy": 0.5,
        "bit_errors_per_step": 0.5,
    }  # one wrong bit of four


def test_label_bits_predictions_are_bit_strings_and_scores_count_answer_steps_only():
    raw = bits_table()
    splits, meta = steps.prepare(raw, "toy", bits_settings())
    model = build_model(settings_for("lstm"), meta).eval()
    answer = predict_table(model, meta, raw[raw["sequence_id"] == "s0"].drop(columns=["label"]))
    assert (
        list(answer.columns) == ["sequence_id", "step", "prediction"]
        and answer["prediction"].str.fullmatch("[01]{2}").all()
    )
    data = encode(splits["test"], meta)
    metrics = evaluate(model, data, meta, 8)
    answer_steps = sum(len(t) - 1 for t in data.targets)  # every sequence's first step has no answer
    assert set(metrics) == {"bit_error_rate", "step_accuracy", "bit_errors_per_step"}
    assert metrics["bit_errors_per_step"] * answer_steps == pytest.approx(
        round(metrics["bit_error_rate"] * 2 * answer_steps)
    )


def test_label_bits_refuses_labels_that_are_not_bits_of_one_width():
    with pytest.raises(
        DataError, match=r"task label_bits needs each label to be bits of one width \('\d+'\) or '-'; found '012'"
    ):
        steps.prepare(bits_table(lambda v: np.where(v > 0, "012", "011")), "toy", bits_settings())
    with pytest.raises(DataError, match=r"found '1'"):
        steps.prepare(bits_table(lambda v: np.where(v > 0, "10", "1")), "toy", bits_settings())
    with pytest.raises(DataError, match=r"task label_bits needs answer steps, but every label is '-'"):
        steps.prepare(bits_table(lambda v: np.full(len(v), "-")), "toy", bits_settings())


# --- heads over every encoder ------------------------------------------------------------------------


META = {
    "classify": make_meta(task="classify", num_features=3, num_classes=4),
    "label_steps": make_meta(task="label_steps", num_features=3, num_classes=4),
    "label_bits": make_meta(task="label_bits", num_features=3, num_classes=4),
    "tags": make_meta(task="tags", num_features=3, num_classes=4),
    "forecast": make_meta(task="forecast", num_features=3, num_classes=0),
    "regress": make_meta(task="regress", num_features=3, num_classes=0),
    "language_model": make_meta(
        task="language_model", num_features=3, num_classes=6, vocabulary=["<pad>", "<unk>", "a", "b", "c", "d"]
    ),
    "seq2seq": make_meta(
        task="seq2seq",
        num_features=3,
        num_classes=7,
        target_embedding_size=4,
        max_output_ratio=1.5,
        vocabulary=["<pad>", "<unk>", "a", "b", "c", "d"],
    ),
}


@pytest.mark.parametrize(
    "arch, task", [(a, t) for a, spec in architectures.ARCHITECTURES.items() for t in TASKS if t in spec.tasks]
)
def test_every_head_composes_with_every_encoder(arch, task):
    data = architectures.get(arch).data  # a dialogue or table-question model reads its kind of data
    lengths = torch.tensor([5, 2, 4])
    x = torch.randint(2, 6, (3, 5)) if META[task].vocabulary else torch.randn(3, 5, 3, dtype=torch.float64)
    meta = META[task]
    if data:
        x, lengths, extra = dataset_batch(data, B=3)
        meta = replace(extra, **{k: getattr(meta, k) for k in ("task", "num_classes", "vocabulary")})
        meta.num_features = x.shape[-1]
    model = build_model(settings_for(arch), meta).double().eval()
    y = {
        "classify": torch.tensor([0, 1, 3]),
        "tags": torch.tensor([[0.0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]]),
        "forecast": torch.randn(3, dtype=torch.float64),
        "regress": torch.randn(3, dtype=torch.float64),
    }.get(task)
    if task == "label_bits":  # a 0/1 vector per step; padding and a step without an answer are IGNORE
        y = torch.randint(0, 2, (3, x.shape[1], 4)).double()
        y[torch.arange(x.shape[1])[None, :] >= lengths[:, None]] = IGNORE
        y[:, 0] = IGNORE
    elif y is None:  # per step: padded with IGNORE; a seq2seq target of 6 output steps, the last </s>
        steps = 6 if task == "seq2seq" else x.shape[1]
        y = torch.randint(4 if task == "seq2seq" else 0, META[task].num_classes, (3, steps))
        y[torch.arange(steps)[None, :] >= lengths[:, None]] = IGNORE
    prediction = model(x, lengths, y).prediction
    T = x.shape[1]
    expected = {
        "classify": (3, 4),
        "tags": (3, 4),
        "label_steps": (3, T, 4),
        "label_bits": (3, T, 4),
        "forecast": (3,),
        "regress": (3,),
        "language_model": (3, T, 6),
        "seq2seq": (3, 6, 7),
    }[task]
    assert prediction.shape == expected
    loss = TASKS[task].loss(prediction, y)
    assert torch.isfinite(loss)
    loss.backward()


@pytest.mark.parametrize(
    "arch", [a for a, spec in architectures.ARCHITECTURES.items() if "language_model" in spec.tasks]
)
def test_language_model_predictions_never_read_the_future(arch):
    """Changing tokens after step t changes no prediction at steps <= t (the causal property the
    task needs; a bidirectional encoder fails it and is refused by the config)."""
    model = build_model(settings_for(arch, bidirectional=False), META["language_model"]).double().eval()
    x = torch.randint(2, 6, (2, 8))
    lengths = torch.tensor([8, 8])
    before = model(x, lengths).prediction
    changed = x.clone()
    changed[:, 5:] = (changed[:, 5:] - 1) % 4 + 2
    after = model(changed, lengths).prediction
    torch.testing.assert_close(after[:, :5], before[:, :5], atol=1e-12, rtol=0)
    assert not torch.allclose(after[:, 5:], before[:, 5:])


def test_the_bidirectional_variant_would_read_the_future():
    model = build_model(settings_for("lstm", bidirectional=True), META["language_model"]).double().eval()
    x = torch.randint(2, 6, (1, 8))
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] - 1) % 4 + 2
    lengths = torch.tensor([8])
    assert not torch.allclose(model(x, lengths).prediction[:, :5], model(changed, lengths).prediction[:, :5])
    assert architectures.incompatibility(settings_for("lstm", bidirectional=True), "language_model") is not None


def test_bits_per_token_of_uniform_logits_is_log2_of_the_vocabulary():
    metrics = TASKS["language_model"].metrics(np.zeros((10, 8), dtype=np.float32), np.arange(10) % 8, {})
    assert metrics["bits_per_token"] == pytest.approx(3.0)


def test_generation_is_seeded_and_continues_the_prompt():
    meta = META["language_model"]
    model = build_model(settings_for("gru"), meta).eval()
    settings = lm_settings().generate
    prompt = [torch.tensor([2, 3, 4])]
    a = generate_samples(model, meta.vocabulary, prompt, settings, seed=1)
    assert a == generate_samples(model, meta.vocabulary, prompt, settings, seed=1)
    assert a[0].startswith("abc ⟫ ") and len(a[0].split("⟫ ")[1]) == settings.length


def test_served_answers_per_task():
    raw = series_table()
    splits, meta = steps.prepare(raw, "toy", forecast_settings())
    model = build_model(settings_for("lstm"), meta).eval()
    window = raw[raw["step"] < 4].drop(columns=[])
    answer = predict_table(model, meta, window)
    assert list(answer.columns) == ["sequence_id", "prediction"] and len(answer) == 1
    metrics = evaluate(model, encode(splits["test"], meta), meta, 8)
    assert set(metrics) == {"mae", "rmse", "mse"}

    lm_splits, lm_meta = steps.prepare(lm_table(), "toy", lm_settings())
    lm = build_model(settings_for("lstm"), lm_meta).eval()
    answers = predict_table(lm, lm_meta, lm_table())
    assert set(answers["prediction"]) <= set(lm_meta.vocabulary) and (answers["probability"] > 0).all()


# --- regression: one number per sequence ------------------------------------------------------------


def regress_settings(**changes) -> DatasetBase:
    values = dict(
        source="adding",
        task="regress",
        test_fraction=0.25,
        max_length=None,
        tokens=None,
        generator={"length": 10, "length_spread": 0.5, "sequences": 80, "seed": 0},
        **COMMON,
    )
    return DATASET_MODELS["regress"](**{**values, **changes})


def sums_table(n: int = 80) -> pd.DataFrame:
    """Sequences of 3–7 values; the label is 100 + their sum (a number, in its own units)."""
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(int(rng.integers(3, 8)), 2)) for _ in range(n)]
    table = table_from_sequences(sequences, None, None, [f"s{i:02d}" for i in range(n)], ["a", "b"], "toy")
    table["label"] = table.groupby("sequence_id")["a"].transform("sum") + 100.0
    return table


def test_regression_standardizes_the_label_on_train_and_scores_in_its_units():
    splits, meta = steps.prepare(sums_table(), "toy", regress_settings())
    train_labels = (
        sums_table()
        .set_index("sequence_id")
        .loc[splits["train"]["sequence_id"].unique(), "label"]
        .groupby(level=0)
        .first()
    )
    assert meta.target_scale["mean"] == pytest.approx(train_labels.mean()) and meta.classes == []
    data = encode(splits["train"], meta)
    assert data.targets[0].dtype == torch.float32 and abs(float(torch.stack(data.targets).mean())) < 1e-5
    metrics = TASKS["regress"].metrics(
        np.array([1.0, -1.0]),
        np.array([0.0, 0.0]),
        make_meta(target_scale={"mean": 100.0, "std": 2.0}, target_signed=False),
    )
    assert metrics == {"mae": pytest.approx(2.0), "rmse": pytest.approx(2.0), "mse": pytest.approx(4.0)}
    references = measure_references(splits, meta, regress_settings())["test"]
    ridge, mean = references["ridge regression on mean/std/min/max/first/last"], references["training mean"]
    assert ridge["mse"] < mean["mse"]  # the summaries' mean times the length is the sum: a linear model gets most of it


def test_whole_number_answers_are_also_scored_rounded_by_hand():
    assert steps.prepare(sums_table(), "toy", regress_settings())[1].target_whole is None  # fractional sums
    counts = sums_table().assign(label=lambda t: np.floor(t["label"]))
    assert steps.prepare(counts, "toy", regress_settings())[1].target_whole is True
    # standardized by mean 10 and std 2: answers 12.8, 9.0 and 7.4 round to 13, 9 and 7; the truth is 13, 9, 8
    meta = make_meta(target_scale={"mean": 10.0, "std": 2.0}, target_signed=False, target_whole=True)
    metrics = TASKS["regress"].metrics(np.array([1.4, -0.5, -1.3]), np.array([1.5, -0.5, -1.0]), meta)
    assert metrics["exact_accuracy"] == pytest.approx(2 / 3)
    assert metrics["mae"] == pytest.approx((0.2 + 0.0 + 0.6) / 3)


def test_regression_answers_in_the_label_units():
    splits, meta = steps.prepare(sums_table(), "toy", regress_settings())
    model = build_model(settings_for("gru"), meta).eval()
    answers = predict_table(model, meta, sums_table())
    assert list(answers.columns) == ["sequence_id", "prediction"] and len(answers) == 80
    assert (
        abs(answers["prediction"].mean() - meta.target_scale["mean"]) < 5 * meta.target_scale["std"]
    )  # de-normalized: near 100, not near 0


def test_regression_label_must_be_a_number():
    table = sums_table()
    table["label"] = np.where(table["sequence_id"] == "s03", "high", table["label"].astype(str))
    with pytest.raises(DataError, match="task regress needs a numeric label; column 'label' holds 'high'"):
        steps.split(table, "toy", regress_settings())
    as_text = sums_table().assign(label=lambda t: t["label"].astype(str))  # numbers written as text are numbers
    splits, meta = steps.prepare(as_text, "toy", regress_settings())
    assert splits["train"]["label"].dtype == np.float64 and meta.target_scale["mean"] > 90


def test_seq2seq_output_symbols_must_not_be_reserved():
    from rnnlab.config import Seq2SeqDataset
    from rnnlab.data.table import table_from_tokens

    words = [list("ab"), list("ba"), list("aab"), list("bb"), list("aa")]
    labels = ["X Y", "Y X", "X X Y", "</s> Y", "X X"]
    raw = table_from_tokens(words, labels, None, [f"w{i}" for i in range(5)], "toy")
    settings = Seq2SeqDataset(
        source="japanese_vowels",
        task="seq2seq",
        val_fraction=0.2,
        test_fraction=None,
        max_sequences=None,
        max_length=None,
        split_seed=0,
        tokens={"embedding_size": 4, "min_count": 1, "max_vocabulary": 8},
        train={},
        target_embedding_size=4,
    )
    with pytest.raises(DataError, match="output symbol '</s>' \\(sequence 'w3'\\) is reserved"):
        steps.finalize({"train": raw, "val": raw, "test": raw}, "toy", settings, {})


def test_one_place_knows_which_way_each_metric_improves_and_the_reference_verdict_reads_it():
    """Every metric a task reports has a direction; the verdict against a reference follows it
    (a weighted F1 of 0.959 beats a majority class's 0.013; an MAE of 12 beats 13.36)."""
    from rnnlab.compare import yardstick_lines
    from rnnlab.kinds import GREATER_IS_BETTER, greater_is_better

    logits, labels = np.array([[2.0, 0.1], [0.2, 1.0], [1.5, 0.3]]), np.array([0, 1, 1])
    reported = set(TASKS["classify"].metrics(logits, labels, {}))
    reported |= set(
        TASKS["forecast"].metrics(
            np.array([0.1, -0.2]),
            np.array([0.0, 0.3]),
            make_meta(target_scale={"mean": 0.0, "std": 2.0}, target_signed=True),
        )
    )
    reported |= set(TASKS["language_model"].metrics(logits.astype(np.float32), labels, {}))
    reported |= set(TASKS["label_bits"].metrics(logits, (labels[:, None] == np.array([0, 1])).astype(np.float32), {}))
    reported |= set(TASKS["tags"].metrics(logits, (labels[:, None] == np.array([0, 1])).astype(np.float32), {}))
    assert reported <= set(GREATER_IS_BETTER), reported - set(GREATER_IS_BETTER)
    assert all(task.selection_metric in GREATER_IS_BETTER for task in TASKS.values())
    assert greater_is_better("test_weighted_f1") and not greater_is_better("best_val_mae")
    with pytest.raises(KeyError, match="'test_perplexity': its direction is not known"):
        greater_is_better("test_perplexity")
    ours = {"architecture": "gru", "task": "classify", "seeds": 1, "test_weighted_f1": 0.959, "test_accuracy": 0.96}
    forecast = {"architecture": "lstm", "task": "forecast", "seeds": 1, "test_mae": 12.0}
    lines = yardstick_lines(
        {"vowels": [ours], "sunspots": [forecast]},
        {
            "vowels": [{"name": "majority class", "metric": "weighted_f1", "value": 0.013, "origin": "same split"}],
            "sunspots": [{"name": "AR(34)", "metric": "mae", "value": 13.36, "origin": "same split"}],
        },
    )
    assert lines[2].startswith("| vowels | weighted F1 ↑ |") and lines[2].endswith("| yes |"), lines[2]
    assert lines[3].startswith("| sunspots | MAE ↓ |") and lines[3].endswith("| yes |"), lines[3]
