"""The built-in sources: each loads its real, package-shipped dataset into a valid canonical table
with the documented sequences per split, lengths, inputs and classes. One load per source."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.sources import GENERATOR_OPTIONS, SOURCES, stocks, synthetic, text, timeseries
from rnnlab.data.sources import load as load_source
from rnnlab.data.table import LABEL, SEQUENCE_ID, SPEAKER, SPLIT, STEP, TOKEN, feature_columns, validate_table
from rnnlab.errors import DataError

DIGITS = [str(d) for d in range(10)]


@functools.cache
def load(name: str) -> pd.DataFrame:
    """Load a source once per test session (tests only read it) and validate it: one label per sequence when it
    has one, else none."""
    table = SOURCES[name]()

    validate_table(table, f"source {name}", label="sequence" if LABEL in table.columns else None)
    return table


def per_sequence(table: pd.DataFrame) -> pd.DataFrame:
    """One row per sequence: its length and, where present, its label and split."""
    grouped = table.groupby(SEQUENCE_ID, sort=False)
    summary = grouped.size().rename("length").to_frame()
    for column in (LABEL, SPLIT):
        if column in table.columns:
            summary[column] = grouped[column].first()
    return summary


def split_counts(summary: pd.DataFrame) -> dict[str, int]:
    return summary[SPLIT].value_counts().to_dict()


def length_range(summary: pd.DataFrame) -> tuple[int, int]:
    return int(summary["length"].min()), int(summary["length"].max())


def class_counts(summary: pd.DataFrame) -> dict[str, int]:
    return summary[LABEL].value_counts().sort_index().to_dict()


# --- registry -------------------------------------------------------------------------------


NEW_SOURCES = [
    "plaid",
    "basic_motions",
    "amp_peptides",
    "shakespeare",
    "fine_food",
    "sunspots",
    "sp500",
    "djia",
    "mnist_pixels",
    "mnist_pixels_permuted",
    "mnist_rows",
    "digits_rows",
    "copy_memory",
    "adding",
    "copy_bits",
    "associative_recall",
    "cmudict_g2p",
    "reverse_digits",
    "parity",
    "conversations",
    "table_questions",
]


def test_every_family_is_registered():
    assert set(SOURCES) == {"japanese_vowels", *NEW_SOURCES}


@pytest.mark.parametrize("name", NEW_SOURCES)
def test_docstring_opens_with_a_one_line_summary(name):
    doc = SOURCES[name].__doc__
    assert doc and doc.splitlines()[0].strip() and not doc.splitlines()[1].strip()


# --- sensors --------------------------------------------------------------------------------


def test_plaid_is_the_official_537_537_split_of_11_appliances():
    plaid = load("plaid")
    summary = per_sequence(plaid)
    assert feature_columns(plaid) == ["current"]
    assert split_counts(summary) == {"train": 537, "test": 537}
    assert length_range(summary) == (100, 1344)
    assert length_range(summary[summary[SPLIT] == "test"]) == (134, 1000)
    assert sorted(summary[LABEL].unique()) == sorted(f"appliance_{k}" for k in range(11))
    by_split = summary.groupby(SPLIT)[LABEL].nunique().to_dict()
    assert by_split == {"train": 11, "test": 11}
    assert class_counts(summary)["appliance_1"] == 175 and class_counts(summary)["appliance_10"] == 26


def test_basic_motions_is_40_40_of_100_steps_with_6_named_channels():
    basic_motions = load("basic_motions")
    summary = per_sequence(basic_motions)
    assert feature_columns(basic_motions) == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert split_counts(summary) == {"train": 40, "test": 40}
    assert length_range(summary) == (100, 100)
    assert summary.groupby([SPLIT, LABEL]).size().to_dict() == {
        (split, activity): 10
        for split in ("test", "train")
        for activity in ("badminton", "running", "standing", "walking")
    }


# --- genome ---------------------------------------------------------------------------------


def test_amp_peptides_are_5200_balanced_amino_acid_sequences_without_a_split():
    amp_peptides = load("amp_peptides")
    summary = per_sequence(amp_peptides)
    assert SPLIT not in amp_peptides.columns
    assert feature_columns(amp_peptides) == [] and TOKEN in amp_peptides.columns
    assert len(summary) == 5200 and len(amp_peptides) == 171_133
    assert length_range(summary) == (7, 174)
    assert class_counts(summary) == {"AMP": 2600, "UniProt": 2600}
    assert set(amp_peptides[TOKEN].unique()) == set("ACDEFGHIKLMNPQRSTVWY")
    first = amp_peptides[amp_peptides[SEQUENCE_ID] == "peptide-0000"]
    assert "".join(first[TOKEN]) == "GLWSKIKEVGKEAAKAAAKAAGKAALGAVSEAV" and first[LABEL].iloc[0] == "AMP"
    assert length_range(summary[summary[LABEL] == "UniProt"]) == (10, 50)


# --- text -----------------------------------------------------------------------------------


def test_shakespeare_is_31353_character_turns_split_by_play():
    shakespeare = load("shakespeare")
    summary = per_sequence(shakespeare)
    assert list(shakespeare.columns) == [SEQUENCE_ID, STEP, TOKEN, SPLIT]
    assert split_counts(summary) == {"train": 28_015, "test": 3338}
    assert len(shakespeare) == 4_132_130
    assert summary.groupby(SPLIT)["length"].sum().to_dict() == {"train": 3_720_177, "test": 411_953}
    assert length_range(summary) == (2, 3052)
    plays = summary.index.str.split("/").str[0]
    assert plays.nunique() == 38
    assert sorted(plays[summary[SPLIT] == "test"].unique()) == [
        "henry-viii",
        "the-tempest",
        "troilus-and-cressida",
        "two-gentlemen-of-verona",
    ]
    assert shakespeare[TOKEN].nunique() == 74
    assert not set(shakespeare[TOKEN].unique()) & {"\\", "*", "#"}


def test_shakespeare_turns_hold_only_the_spoken_lines():
    shakespeare = load("shakespeare")
    hamlet = shakespeare[shakespeare[SEQUENCE_ID].str.startswith("hamlet/")]
    turns = hamlet.groupby(SEQUENCE_ID, sort=True)[TOKEN].agg("".join)
    assert turns.index[0] == "hamlet/00000"
    assert list(turns.iloc[:3]) == [
        "Who's there?",
        "Nay, answer me: stand, and unfold yourself.",
        "Long live the king!",
    ]
    assert turns.iloc[7] == "For this relief much thanks: 'tis bitter cold,\nAnd I am sick at heart."


def test_parse_turns_follows_the_markdown_layout():
    markdown = "\n".join(
        [
            "# A Play",
            "",
            "## ACT I",
            "",
            "_Enter A and B_",
            "",
            "**A**  ",
            "First line,  ",
            "second line.",
            "",
            "**B**  ",
            "_[Aside]_  ",
            "Quietly \\-- now.",
            "*[Exit.]*",
            "",
            "**A**",
            "",
            "_Exit A, then B,",
            "slowly_",
            "",
            "**B**  ",
            "One.",
            "**A**  ",
            "Two.",
        ]
    )
    assert text.parse_turns(markdown) == ["First line,\nsecond line.", "Quietly -- now.", "One.", "Two."]


def test_fine_food_is_4000_1000_word_sequences_great_or_other():
    fine_food = load("fine_food")
    summary = per_sequence(fine_food)
    assert split_counts(summary) == {"train": 4000, "test": 1000}
    assert length_range(summary) == (10, 1687)
    assert summary.groupby([SPLIT, LABEL]).size().to_dict() == {
        ("test", "great"): 658,
        ("test", "other"): 342,
        ("train", "great"): 2600,
        ("train", "other"): 1400,
    }
    tokens = fine_food[TOKEN]
    assert (tokens == tokens.str.lower()).all() and not tokens.str.contains(r"\s").any()
    assert "br" not in set(tokens.unique())


def test_review_words_splits_words_and_punctuation_and_drops_html():
    review = "Great TEA!<br /><br />I'd buy it again &quot;soon&quot;, 10/10."
    assert text.review_words(review) == [
        "great",
        "tea",
        "!",
        "i'd",
        "buy",
        "it",
        "again",
        '"',
        "soon",
        '"',
        ",",
        "10",
        "/",
        "10",
        ".",
    ]


# --- time series and stocks -----------------------------------------------------------------


def test_sunspots_is_one_series_split_in_time_at_1937():
    sunspots = load("sunspots")
    assert list(sunspots.columns) == [SEQUENCE_ID, STEP, "value", SPLIT]
    assert (sunspots[SEQUENCE_ID] == "sunspots").all() and len(sunspots) == 2820
    assert sunspots[SPLIT].value_counts().to_dict() == {"train": 2256, "test": 564}
    assert (sunspots[SPLIT].iloc[:2256] == "train").all() and (sunspots[SPLIT].iloc[2256:] == "test").all()
    assert sunspots["value"].iloc[0] == 58.0


def test_sunspot_years_survive_float_month_times():
    times = 1936 + np.arange(24) / 12.0 - 1e-9
    assert timeseries._years(times).tolist() == [1936] * 12 + [1937] * 12
    with pytest.raises(DataError, match="consecutive"):
        timeseries._years(np.array([1936.0, 1936.25]))


def test_sp500_is_5030_daily_percent_log_returns():
    sp500 = load("sp500")
    assert list(sp500.columns) == [SEQUENCE_ID, STEP, "log_return"]
    assert (sp500[SEQUENCE_ID] == "sp500").all() and len(sp500) == 5030
    returns = sp500["log_return"]
    assert abs(returns.mean()) < 0.1 and 1.0 < returns.std() < 1.5 and returns.abs().max() < 12


def test_djia_is_37930_daily_percent_log_returns_with_black_monday():
    djia = load("djia")
    assert list(djia.columns) == [SEQUENCE_ID, STEP, "log_return"]
    assert (djia[SEQUENCE_ID] == "djia").all() and len(djia) == 37_930
    assert djia["log_return"].min() == pytest.approx(100 * np.log(1738.74 / 2246.73))


def test_log_returns_drop_missing_prices_and_sort_by_date():
    prices = pd.Series(
        [110.0, np.nan, 100.0, 0.0, 121.0],
        index=pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-01", "2020-01-04", "2020-01-05"]),
    )
    np.testing.assert_allclose(stocks.log_returns(prices, "toy"), 100 * np.log([1.1, 1.1]))


# --- pixels ---------------------------------------------------------------------------------


def test_mnist_pixels_is_5000_digits_of_784_steps():
    mnist_pixels = load("mnist_pixels")
    summary = per_sequence(mnist_pixels)
    assert SPLIT not in mnist_pixels.columns and feature_columns(mnist_pixels) == ["pixel"]
    assert len(summary) == 5000 and length_range(summary) == (784, 784)
    assert class_counts(summary) == {digit: 500 for digit in DIGITS}
    assert mnist_pixels["pixel"].min() == 0.0 and mnist_pixels["pixel"].max() == 1.0


def test_mnist_rows_is_the_same_digits_as_28_rows_of_28():
    mnist_rows = load("mnist_rows")
    mnist_pixels = load("mnist_pixels")
    summary = per_sequence(mnist_rows)
    assert feature_columns(mnist_rows) == [f"col_{j:02d}" for j in range(28)]
    assert len(summary) == 5000 and length_range(summary) == (28, 28)
    assert class_counts(summary) == {digit: 500 for digit in DIGITS}
    sid = "mnist-1234"
    rows = mnist_rows[mnist_rows[SEQUENCE_ID] == sid][feature_columns(mnist_rows)].to_numpy()
    pixels = mnist_pixels[mnist_pixels[SEQUENCE_ID] == sid]["pixel"].to_numpy()
    np.testing.assert_array_equal(rows.reshape(-1), pixels)


def test_digits_rows_is_1797_images_of_8_rows_of_8():
    digits_rows = load("digits_rows")
    summary = per_sequence(digits_rows)
    assert SPLIT not in digits_rows.columns
    assert feature_columns(digits_rows) == [f"col_{j}" for j in range(8)]
    assert len(summary) == 1797 and length_range(summary) == (8, 8)
    assert class_counts(summary) == {
        "0": 178,
        "1": 182,
        "2": 177,
        "3": 183,
        "4": 181,
        "5": 182,
        "6": 181,
        "7": 179,
        "8": 174,
        "9": 180,
    }
    assert digits_rows[feature_columns(digits_rows)].to_numpy().max() == 1.0


def test_mnist_pixels_permuted_is_one_fixed_order_of_the_same_pixels():
    permuted, plain = load("mnist_pixels_permuted"), load("mnist_pixels")
    order = np.random.default_rng(0).permutation(784)
    first = plain[plain[SEQUENCE_ID] == "mnist-0000"]["pixel"].to_numpy()
    assert np.array_equal(permuted[permuted[SEQUENCE_ID] == "mnist-0000"]["pixel"].to_numpy(), first[order])
    assert permuted.groupby(SEQUENCE_ID)[LABEL].first().equals(plain.groupby(SEQUENCE_ID)[LABEL].first())
    assert not np.array_equal(order, np.arange(784))


# --- generated algorithmic tasks ---------------------------------------------------------------


COPY = {"delay": 30, "copy_length": 10, "symbols": 8, "sequences": 50, "seed": 3}


def test_copy_memory_shows_symbols_then_blanks_then_markers_and_labels_the_copy():
    table = load_source("copy_memory", COPY)
    validate_table(table, "copy", label="step")
    first = table[table[SEQUENCE_ID] == "copy-000000"]
    tokens, labels = first[TOKEN].astype(int).to_numpy(), first[LABEL].astype(int).to_numpy()
    assert len(first) == 30 + 2 * 10
    shown = tokens[:10]
    assert ((1 <= shown) & (shown <= 8)).all()
    assert (tokens[10:39] == 0).all() and (tokens[39:] == 9).all()  # delay - 1 blanks, copy_length + 1 markers
    assert (labels[:40] == 0).all() and np.array_equal(labels[40:], shown)
    assert table.groupby(SEQUENCE_ID).size().nunique() == 1 and table[SEQUENCE_ID].nunique() == 50


def test_copy_memory_memoryless_loss_is_the_papers_formula():
    options = synthetic.CopyMemoryOptions(delay=100, copy_length=10, symbols=8, sequences=1, seed=0)
    assert synthetic.memoryless_loss(options) == pytest.approx(10 * np.log(8) / 120)  # 0.173 (Chang et al.; zalando)
    assert synthetic.memoryless_loss(options.model_copy(update={"delay": 200})) == pytest.approx(0.0945, abs=5e-5)


def test_adding_marks_one_value_in_each_half_and_labels_their_sum():
    table = load_source("adding", {"length": 20, "length_spread": 0.5, "sequences": 300, "seed": 1})
    validate_table(table, "adding", label="sequence")
    assert table[LABEL].dtype == np.float64 and feature_columns(table) == ["value", "marker"]
    lengths = table.groupby(SEQUENCE_ID).size()
    assert lengths.min() == 20 and lengths.max() == 30  # variable lengths, both ends drawn
    for _, sequence in table.groupby(SEQUENCE_ID):
        marked = np.flatnonzero(sequence["marker"].to_numpy())
        assert len(marked) == 2 and marked[0] < len(sequence) // 2 <= marked[1]
        assert sequence[LABEL].iloc[0] == pytest.approx(sequence["value"].to_numpy()[marked].sum())
    sums = table.groupby(SEQUENCE_ID)[LABEL].first()
    assert ((sums - 1.0) ** 2).mean() == pytest.approx(1 / 6, abs=0.04)  # predicting 1: Var(U1 + U2)


def test_generators_are_reproducible_from_their_seed():
    assert load_source("copy_memory", COPY).equals(load_source("copy_memory", COPY))
    assert not load_source("copy_memory", COPY).equals(load_source("copy_memory", {**COPY, "seed": 4}))


def test_generator_options_are_checked():
    assert set(GENERATOR_OPTIONS) == {
        "copy_memory",
        "adding",
        "copy_bits",
        "associative_recall",
        "reverse_digits",
        "parity",
        "conversations",
        "table_questions",
    }
    with pytest.raises(ValueError, match="delay"):
        load_source("copy_memory", {**COPY, "delay": 0})


BITS = {
    "bits": 4,
    "min_length": 2,
    "max_length": 5,
    "test_lengths": [5, 10],
    "sequences": 40,
    "test_sequences": 3,
    "seed": 0,
}


def test_copy_bits_shows_vectors_a_delimiter_then_asks_for_them_back():
    table = load_source("copy_bits", BITS)
    validate_table(table, "copy_bits", label="step")
    summary = per_sequence(table)
    assert split_counts(summary) == {"train": 40, "test": 6}
    train_lengths = summary[summary[SPLIT] == "train"]["length"]
    assert set(train_lengths) <= {2 * n + 1 for n in range(2, 6)}
    assert sorted(summary[summary[SPLIT] == "test"]["length"].unique()) == [11, 21]  # 2L + 1 at L = 5, 10
    one = table[table[SEQUENCE_ID] == "copy-test-000043"]  # a test copy of 10 vectors
    bits = one[[f"bit_{j}" for j in range(4)]].to_numpy()
    assert one["delimiter"].tolist() == [0.0] * 10 + [1.0] + [0.0] * 10 and not bits[10:].any()
    shown = ["".join(str(int(b)) for b in row) for row in bits[:10]]
    assert one[LABEL].tolist() == [synthetic.NO_ANSWER] * 11 + shown


def test_associative_recall_answers_the_item_after_the_query():
    options = {
        "bits": 8,
        "item_length": 2,
        "min_items": 2,
        "max_items": 4,
        "test_items": [6],
        "sequences": 30,
        "test_sequences": 2,
        "seed": 5,
    }  # 2^16 items: no repeats
    table = load_source("associative_recall", options)
    validate_table(table, "recall", label="step")
    for _, one in table.groupby(SEQUENCE_ID):
        x = one[[f"bit_{j}" for j in range(8)]].to_numpy()
        items_at = np.flatnonzero(one["item"].to_numpy())
        query_at = np.flatnonzero(one["query"].to_numpy())
        assert len(query_at) == 2 and query_at[1] - query_at[0] == 3  # query flag, the item, answer flag
        items = [x[i + 1 : i + 3] for i in items_at]
        asked = next(k for k, item in enumerate(items) if np.array_equal(item, x[query_at[0] + 1 : query_at[1]]))
        expected = ["".join(str(int(b)) for b in row) for row in items[asked + 1]]
        assert one[LABEL].tolist()[-2:] == expected and set(one[LABEL].tolist()[:-2]) == {synthetic.NO_ANSWER}
    counts = per_sequence(table).groupby(SPLIT).size().to_dict()
    assert counts == {"train": 30, "test": 2}


def test_reverse_digits_labels_each_string_reversed_with_longer_test_strings():
    options = {
        "min_length": 3,
        "max_length": 6,
        "test_min_length": 3,
        "test_max_length": 10,
        "sequences": 200,
        "test_sequences": 100,
        "seed": 2,
    }
    table = load_source("reverse_digits", options)
    validate_table(table, "reverse", label="sequence")
    summary = per_sequence(table)
    assert split_counts(summary) == {"train": 200, "test": 100}
    assert length_range(summary[summary[SPLIT] == "train"]) == (3, 6) and length_range(
        summary[summary[SPLIT] == "test"]
    ) == (3, 10)
    for _, one in table.groupby(SEQUENCE_ID):
        assert one[LABEL].iloc[0].split() == one[TOKEN].tolist()[::-1]
    with pytest.raises(ValueError, match="test_min_length 9 > test_max_length 4"):
        load_source("reverse_digits", {**options, "test_min_length": 9, "test_max_length": 4})


def test_parity_labels_the_parity_of_the_plus_ones_with_k_uniform():
    table = load_source("parity", {"bits": 6, "sequences": 3000, "test_sequences": 500, "seed": 1})
    validate_table(table, "parity", label="sequence")
    x = table[[f"bit_{j}" for j in range(6)]].to_numpy()
    assert set(np.unique(x)) == {-1.0, 0.0, 1.0} and (table[STEP] == 0).all()  # one step per vector
    assert np.array_equal(table[LABEL].astype(int).to_numpy(), (x == 1).sum(1) % 2)
    k = (x != 0).sum(1)
    assert k.min() == 1 and k.max() == 6 and abs(np.bincount(k)[1:].mean() - 3500 / 6) < 100  # k ~ U{1..6}
    assert (table[SPLIT] == "test").sum() == 500


def test_cmudict_g2p_is_117493_words_to_39_phones():
    g2p = load("cmudict_g2p")
    summary = per_sequence(g2p)
    assert len(summary) == 117_493 and SPLIT not in g2p.columns
    assert length_range(summary) == (1, 28)
    phones = set(summary[LABEL].str.split().explode())
    assert len(phones) == 39 and not any(ch.isdigit() for p in phones for ch in p)  # stress digits removed
    cat = g2p[g2p[SEQUENCE_ID] == "cat"]
    assert "".join(cat[TOKEN]) == "cat" and cat[LABEL].iloc[0] == "K AE T"


CONVERSATION = {
    "min_parties": 2,
    "max_parties": 5,
    "min_length": 8,
    "max_length": 30,
    "features": 6,
    "fillers": 2,
    "mood_shift": 0.2,
    "insult": 0.15,
    "noise": 0.0,
    "dialogues": 300,
    "seed": 3,
}


def replay_moods(table: pd.DataFrame, kinds: np.ndarray, shown: dict, insult) -> dict[str, int] | None:
    """Replays the generator's rule with ``insult`` as the insult kind: counts of each case, or None
    at the first utterance whose label the rule does not explain."""
    counts = {"shown": 0, "kept": 0, "insulted": 0}
    for _, dialogue in table.groupby(SEQUENCE_ID, sort=False):
        last, previous = {}, None
        for (s, label), kind in zip(dialogue[[SPEAKER, LABEL]].itertuples(index=False), kinds[dialogue.index]):
            if kind in shown:
                case, expected = "shown", shown[kind]
            elif previous is not None and previous[1] == insult and previous[0] != s:
                case, expected = "insulted", "negative"
            else:
                case, expected = "kept", last[s]
            if label != expected:
                return None
            counts[case] += 1
            last[s], previous = label, (s, kind)
    return counts


def test_conversations_label_each_utterance_with_its_speakers_mood():
    """Without noise each utterance is its kind's prototype, so the moods can be replayed by hand:
    a mood-setting utterance shows its label (a party's first always does); a filler or an insult
    keeps the speaker's last label, unless the utterance before was another party's insult
    (then negative). Exactly one of the non-mood kinds behaves as the insult."""
    table = load_source("conversations", CONVERSATION)
    validate_table(table, "conversations", label="step")
    assert SPEAKER in table.columns and feature_columns(table) == [f"u_{j}" for j in range(6)]
    kinds = np.unique(table[feature_columns(table)].to_numpy(), axis=0, return_inverse=True)[1].ravel()
    assert len(np.unique(kinds)) == 3 + 2 + 1  # three moods, two fillers, the insult
    first = ~table.duplicated([SEQUENCE_ID, SPEAKER])
    shown = dict(zip(kinds[first.to_numpy()], table.loc[first, LABEL]))
    assert sorted(shown.values()) == ["negative", "neutral", "positive"]
    replays = {k: replay_moods(table, kinds, shown, k) for k in set(kinds) - set(shown)}
    consistent = [counts for counts in replays.values() if counts is not None]
    assert len(consistent) == 1 and min(consistent[0].values()) > 50, replays
    per_dialogue = table.groupby(SEQUENCE_ID).agg(parties=(SPEAKER, "max"), length=(STEP, "size"))
    assert per_dialogue["parties"].between(1, 4).all() and per_dialogue["length"].between(8, 30).all()
    assert set(per_dialogue["parties"] + 1) == {2, 3, 4, 5}
    pd.testing.assert_frame_equal(table, load_source("conversations", CONVERSATION))
    with pytest.raises(ValueError, match="need min_parties ≤ max_parties"):
        load_source("conversations", {**CONVERSATION, "min_parties": 6})


def test_table_questions_are_a_question_then_a_table_with_larger_test_tables():
    from rnnlab.data.sources.tables import COLUMNS, FEATURES

    options = {"min_rows": 3, "max_rows": 6, "test_rows": [4, 12], "sequences": 300, "test_sequences": 20, "seed": 0}
    table = load_source("table_questions", options)
    validate_table(table, "tables", label="sequence")
    assert feature_columns(table) == FEATURES and split_counts(per_sequence(table)) == {"train": 300, "test": 40}
    for sid, one in table.groupby(SEQUENCE_ID):
        is_row = one["row"].to_numpy() == 1
        question = int((~is_row).sum())
        assert question >= 2 and not is_row[:question].any() and is_row[question:].all()  # the question, then the rows
        assert (
            one.loc[~is_row, [c for c in FEATURES if c.startswith("word_")]].sum(1) == 1
        ).all()  # one word per question step
        rows = int(is_row.sum())
        assert (3 <= rows <= 6) if sid.startswith("tableq-train") else rows == int(sid.split("test")[1].split("-")[0])
        assert one.loc[is_row, list(COLUMNS)].to_numpy().max() <= 99
    with pytest.raises(ValueError, match="min_rows 7 > max_rows 6"):
        load_source("table_questions", {**options, "min_rows": 7})
