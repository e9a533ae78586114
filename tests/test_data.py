"""The data path: canonical table validation, the real JapaneseVowels source, splitting, the
normalizer, atomic writes, and length-bucketed batching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.config import DATASET_MODELS, DatasetBase
from rnnlab.data import prepare as steps
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate
from rnnlab.data.sources import SOURCES
from rnnlab.data.store import read_table, staged_folder, write_table
from rnnlab.data.table import sequences_of, table_from_sequences, validate_table
from rnnlab.errors import DataError


def classify_settings(**changes) -> DatasetBase:
    values = dict(
        source="japanese_vowels",
        task="classify",
        val_fraction=0.2,
        test_fraction=None,
        max_sequences=None,
        max_length=None,
        split_seed=0,
        tokens=None,
        train={},
    )
    return DATASET_MODELS["classify"](**{**values, **changes})


def toy_table(n_per_class=6, classes=("a", "b", "c"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sequences, labels, splits, ids = [], [], [], []
    for label in classes:
        for i in range(n_per_class):
            for split in ("train", "test"):
                sequences.append(rng.normal(size=(int(rng.integers(2, 9)), 2)) + (ord(label) - 97))
                labels.append(label)
                splits.append(split)
                ids.append(f"{split}-{label}-{i}")
    return table_from_sequences(sequences, labels, splits, ids, ["f0", "f1"], "toy")


# --- the real source -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vowels() -> pd.DataFrame:
    return SOURCES["japanese_vowels"]()


def test_japanese_vowels_is_the_official_uea_set(vowels):
    validate_table(vowels, "japanese_vowels")
    per_split = vowels.groupby("split")["sequence_id"].nunique().to_dict()
    assert per_split == {"train": 270, "test": 370}
    lengths = vowels.groupby("sequence_id").size()
    assert (lengths.min(), lengths.max()) == (7, 29)
    assert len([c for c in vowels.columns if c.startswith("lpc_")]) == 12
    assert vowels["label"].nunique() == 9


def test_prepare_splits_train_only_and_normalizes_on_train(vowels):
    splits, meta = steps.prepare(vowels, "japanese_vowels", classify_settings())
    sizes = {k: v["sequence_id"].nunique() for k, v in splits.items()}
    assert sizes == {"train": 216, "val": 54, "test": 370}
    assert set(splits["val"]["sequence_id"]).isdisjoint(splits["train"]["sequence_id"])
    assert all(s.startswith("test-") for s in splits["test"]["sequence_id"].unique())
    train_features = splits["train"][meta.features].to_numpy()
    np.testing.assert_allclose(train_features.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(train_features.std(0), 1, atol=1e-9)
    assert abs(splits["test"][meta.features].to_numpy().mean()) > 1e-4  # not refit on test
    val_counts = splits["val"].groupby("sequence_id")["label"].first().value_counts()
    assert val_counts.min() >= 5, "validation split must be stratified"
    assert meta.num_classes == 9 and meta.lengths["test"]["max"] == 29


def test_prepare_is_deterministic_for_a_seed(vowels):
    a, _ = steps.prepare(vowels, "jv", classify_settings(split_seed=3))
    b, _ = steps.prepare(vowels, "jv", classify_settings(split_seed=3))
    c, _ = steps.prepare(vowels, "jv", classify_settings(split_seed=4))
    assert a["val"]["sequence_id"].tolist() == b["val"]["sequence_id"].tolist()
    assert set(a["val"]["sequence_id"]) != set(c["val"]["sequence_id"])


# --- bad input: one clear error each ------------------------------------------------------------


def broken(mutate):
    table = toy_table()
    mutate(table)
    return table


@pytest.mark.parametrize(
    "table, message",
    [
        (lambda: toy_table().drop(columns=["label"]), "toy: missing column 'label'"),
        (lambda: toy_table().iloc[:0], "toy: the table has zero sequences"),
        (
            lambda: broken(lambda t: t.__setitem__("f1", t["f1"].where(t.index != 7, np.nan))),
            r"column 'f1' has nan at sequence 'test-a-0', step \d",
        ),
        (
            lambda: broken(lambda t: t.__setitem__("f0", t["f0"].where(t.index != 3, np.inf))),
            "column 'f0' has inf at sequence",
        ),
        (
            lambda: broken(lambda t: t.__setitem__("f0", t["f0"].astype(object).where(t.index != 4, "n/a"))),
            r"feature column 'f0' is not numeric \(sequence 'train-a-\d', step \d: 'n/a'\)",
        ),
        (lambda: pd.concat([toy_table(), toy_table().iloc[[5]]]), r"duplicate \(sequence_id, step\)"),
        (lambda: toy_table().drop(index=1), r"sequence 'train-a-0' has steps that are not 0..len-1"),
        (
            lambda: broken(lambda t: t.__setitem__("label", t["label"].where(t.index != 1, "z"))),
            "sequence 'train-a-0' has more than one label",
        ),
        (lambda: broken(lambda t: t.__setitem__("split", "dev")), r"column 'split' has values \['dev'\]"),
        (lambda: toy_table()[["sequence_id", "step", "label"]], "no feature columns"),
    ],
)
def test_bad_tables_are_named(table, message):
    with pytest.raises(DataError, match=message):
        validate_table(table(), "toy")


def test_zero_sequences_and_length_zero_from_a_source():
    with pytest.raises(DataError, match="src: the source yielded zero sequences"):
        table_from_sequences([], [], [], [], ["f0"], "src")
    with pytest.raises(DataError, match="src: sequence 's1' has length 0"):
        table_from_sequences(
            [np.ones((3, 1)), np.ones((0, 1))], ["a", "b"], ["train", "train"], ["s0", "s1"], ["f0"], "src"
        )


def test_a_class_with_a_single_training_sequence_cannot_be_stratified():
    table = toy_table()
    lone = table[(table["label"] == "c") & (table["split"] == "train") & (table["sequence_id"] != "train-c-0")].index
    with pytest.raises(
        DataError, match="dataset toy: class 'c' has a single sequence; it cannot be split into train and val"
    ):
        steps.split(table.drop(index=lone), "toy", classify_settings(val_fraction=0.3))


def test_a_test_class_unseen_in_train_is_an_error():
    table = toy_table()
    table.loc[table["sequence_id"] == "test-a-0", "label"] = "new"
    with pytest.raises(DataError, match="class 'new' appears in the test split but not in train"):
        steps.split(table, "toy", classify_settings(val_fraction=0.3))


def test_a_class_only_in_train_is_an_error():
    table = toy_table()
    table = table[~((table["label"] == "c") & (table["split"] == "test"))]
    with pytest.raises(DataError, match="class 'c' appears only in the train split, never in test"):
        steps.split(table, "toy", classify_settings(val_fraction=0.3))


def test_failed_write_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "out"
    write_table(toy_table(), target)
    before = read_table(target)
    with pytest.raises(RuntimeError):
        with staged_folder(target) as staging:
            (staging / "table.parquet").write_text("partial")
            raise RuntimeError("killed mid-write")
    pd.testing.assert_frame_equal(read_table(target), before)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# --- batching ---------------------------------------------------------------------------------


def test_collate_pads_and_keeps_lengths():
    arrays, ids = sequences_of(toy_table(), ["f0", "f1"])
    arrays = [a.astype(np.float32) for a in arrays]
    data = SequenceSet([torch.from_numpy(a) for a in arrays], [torch.tensor(0)] * len(arrays), ids)
    batch = collate([data[i] for i in range(4)])
    lengths = [len(arrays[i]) for i in range(4)]
    assert batch.x.shape == (4, max(lengths), 2)
    assert batch.lengths.tolist() == lengths and batch.lengths.dtype == torch.int64
    for i, n in enumerate(lengths):
        torch.testing.assert_close(batch.x[i, :n], torch.tensor(arrays[i]))
        assert torch.all(batch.x[i, n:] == 0)


def test_bucket_sampler_covers_each_index_once_and_buckets_by_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=1000).tolist()
    sampler = LengthBucketBatchSampler(lengths, batch_size=32, shuffle=True, seed=7, bucket_width=8)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 32
    assert sorted(i for b in batches for i in b) == list(range(1000))
    padding = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)
    random_batches = np.array_split(rng.permutation(1000), 32)
    random_padding = sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in random_batches)
    assert padding < 0.25 * random_padding


def test_bucket_sampler_is_deterministic_per_epoch_and_reshuffles_across_epochs():
    lengths = list(range(1, 101))
    a = LengthBucketBatchSampler(lengths, 8, shuffle=True, seed=1, bucket_width=2)
    b = LengthBucketBatchSampler(lengths, 8, shuffle=True, seed=1, bucket_width=2)
    first = list(a)
    assert first == list(b)
    a.set_epoch(1)
    assert list(a) != first
    ordered = list(LengthBucketBatchSampler(lengths, 8, shuffle=False, seed=0, bucket_width=1))
    assert [i for batch in ordered for i in batch] == list(range(100))


def test_bucket_sampler_shards_disjointly_with_equal_batch_counts():
    lengths = np.random.default_rng(1).integers(1, 50, size=203).tolist()
    world = 3
    shards = [
        list(LengthBucketBatchSampler(lengths, 16, shuffle=True, seed=5, bucket_width=2, num_replicas=world, rank=r))
        for r in range(world)
    ]
    counts = {len(s) for s in shards}
    assert counts == {len(LengthBucketBatchSampler(lengths, 16, True, 5, 2, num_replicas=world, rank=0))}, (
        "same number of batches per rank"
    )
    seen = [i for shard in shards for batch in shard for i in batch]
    assert set(seen) == set(range(203))
    padded = len(seen) - 203
    assert 0 <= padded < 16 * world, "only the padding repeats"
    evaluation = [
        list(
            LengthBucketBatchSampler(
                lengths, 16, shuffle=False, seed=0, bucket_width=1, num_replicas=world, rank=r, pad=False
            )
        )
        for r in range(world)
    ]
    flat = [i for shard in evaluation for batch in shard for i in batch]
    assert sorted(flat) == list(range(203)), "evaluation shards never repeat a sequence"
    tiny = [
        list(LengthBucketBatchSampler([3, 4], 8, shuffle=True, seed=0, bucket_width=1, num_replicas=4, rank=r))
        for r in range(4)
    ]
    assert all(len(s) == 1 for s in tiny)


def five_and_two_steps() -> pd.DataFrame:
    """Sequence a of 5 steps and b of 2, two features each: small enough to read by hand."""
    return pd.DataFrame(
        {
            "sequence_id": ["a"] * 5 + ["b"] * 2,
            "step": [0, 1, 2, 3, 4, 0, 1],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0],
            "y": [0.0, 0.0, 2.0, 2.0, 9.0, 1.0, 3.0],
            "label": ["p"] * 5 + ["q"] * 2,
        }
    )


def test_downsample_averages_each_k_steps_of_a_sequence_by_hand():
    from rnnlab.data.splits import downsample

    table = five_and_two_steps()
    pooled = downsample(table.sample(frac=1.0, random_state=0), 2)  # the order rows arrive in does not matter
    assert pooled.to_dict("list") == {
        "sequence_id": ["a", "a", "a", "b"],
        "step": [0, 1, 2, 0],
        "x": [1.5, 3.5, 5.0, 15.0],
        "y": [0.0, 2.0, 9.0, 2.0],
        "label": ["p", "p", "p", "q"],
    }
    assert downsample(table, None) is table and downsample(table, 1) is table


def test_downsample_comes_before_max_length_and_keeps_every_sequence_whole():
    table = toy_table()
    whole = steps.prepare(table, "toy", classify_settings())[0]
    pooled = steps.prepare(table, "toy", classify_settings(downsample=3, max_length=2))[0]
    for part in ("train", "val", "test"):
        lengths = whole[part].groupby("sequence_id").size()
        expected = np.minimum(np.ceil(lengths / 3), 2).astype(int)
        assert pooled[part].groupby("sequence_id").size().sort_index().tolist() == expected.sort_index().tolist()


def test_frame_puts_each_k_steps_side_by_side_by_hand():
    from rnnlab.data.splits import frame, unframed

    table = five_and_two_steps()
    framed = frame(table.sample(frac=1.0, random_state=0), 2)  # the order rows arrive in does not matter
    assert framed.to_dict("list") == {
        "sequence_id": ["a", "a", "a", "b"],
        "step": [0, 1, 2, 0],
        "x@0": [1.0, 3.0, 5.0, 10.0],
        "x@1": [2.0, 4.0, 5.0, 20.0],  # a's last frame filled out with its last sample
        "y@0": [0.0, 2.0, 9.0, 1.0],
        "y@1": [0.0, 2.0, 9.0, 3.0],
        "label": ["p", "p", "p", "q"],
    }
    assert unframed(["x@0", "x@1", "y@0", "y@1"]) == ["x", "y"]
    assert frame(table, None) is table and frame(table, 1) is table


def test_sequence_scale_divides_each_sequence_by_its_own_size_and_keeps_the_size_by_hand():
    from rnnlab.data.splits import LEVEL_FLOOR, frame, sequence_scaled, source_features

    table = pd.DataFrame(
        {
            "sequence_id": ["a"] * 4 + ["b"] * 2,
            "step": [0, 1, 2, 3, 0, 1],
            "x": [3.0, -3.0, 3.0, -3.0, 0.0, 0.0],  # root mean square 3 in a; b all zero
            "y": [1.0, 1.0, 7.0, 7.0, 2.0, 2.0],  # a: sqrt((1 + 1 + 49 + 49) / 4) = 5; b: 2
            "label": ["p"] * 4 + ["q"] * 2,
        }
    )
    scaled = sequence_scaled(table, True, framed=False)
    assert list(scaled.columns) == ["sequence_id", "step", "x", "y", "x~level", "y~level", "label"]
    np.testing.assert_allclose(scaled["x"], [1.0, -1.0, 1.0, -1.0, 0.0, 0.0])  # b's zeros stay 0
    np.testing.assert_allclose(scaled["y"], [0.2, 0.2, 1.4, 1.4, 1.0, 1.0])
    np.testing.assert_allclose(scaled["x~level"], [np.log(3.0)] * 4 + [np.log(LEVEL_FLOOR)] * 2)
    np.testing.assert_allclose(scaled["y~level"], [np.log(5.0)] * 4 + [np.log(2.0)] * 2)
    # framed: one size per source feature over all its offsets (a's frames [3, -3] twice: 3 again)
    framed = sequence_scaled(frame(table, 2), True, framed=True)
    assert [c for c in framed.columns if "~" in c] == ["x~level", "y~level"]
    np.testing.assert_allclose(framed.loc[framed["sequence_id"] == "a", ["x@0", "x@1"]], [[1.0, -1.0]] * 2)
    np.testing.assert_allclose(framed["y~level"], [np.log(5.0)] * 2 + [np.log(2.0)])
    assert source_features(list(framed.columns[2:-1]), framed=True, scaled=True) == ["x", "y"]
    assert sequence_scaled(table, False, framed=False) is table
    # sizes whose squares overflow a float: the same shape, a finite size
    huge = sequence_scaled(table.assign(x=table["x"] * 1e200), True, framed=False)
    np.testing.assert_allclose(huge["x"], scaled["x"])
    np.testing.assert_allclose(huge["x~level"][:4], np.log(3.0) + 200 * np.log(10.0))
    # a source's own feature may not take a size's name
    with pytest.raises(DataError, match=r"^dataset toy: feature 'x~level' ends in '~level', the name sequence_scale"):
        sequence_scaled(table.rename(columns={"x": "x~level"}), True, framed=False, where="dataset toy")


@pytest.mark.parametrize(
    "changes, longest",
    [
        ({"downsample": 3}, 3),
        ({"frame": 3}, 3),
        ({"downsample": 2, "frame": 2}, 2),
        ({"sequence_scale": True}, 8),
        ({"frame": 2, "sequence_scale": True}, 4),
    ],
)  # toy sequences have at most 8 steps
def test_a_served_sequence_is_read_as_prepare_read_it_before_the_model_sees_it(changes, longest):
    from rnnlab.data.batching import encode
    from rnnlab.serving import model_input

    table = toy_table()
    splits, meta = steps.prepare(table, "toy", classify_settings(**changes), references=False)
    assert meta.reading == (changes.get("downsample"), changes.get("frame"), changes.get("sequence_scale"))
    assert steps.prepare(table, "toy", classify_settings(), references=False)[1].downsample is None
    raw = table[table["split"] == "test"].drop(columns=["split"])  # the test sequences as a user sends them
    served, prepared = model_input(meta, raw, with_targets=True), encode(splits["test"], meta)
    assert len(served.inputs) == len(prepared.inputs) and max(len(x) for x in served.inputs) == longest
    order = {sid: i for i, sid in enumerate(prepared.ids)}
    for sid, x in zip(served.ids, served.inputs):
        torch.testing.assert_close(x, prepared.inputs[order[sid]])


def test_a_prepared_split_back_in_raw_units_is_scored_without_reading_its_steps_twice():
    from rnnlab.evaluate import build_model
    from rnnlab.serving import SequenceModel
    from tests.test_contract import settings_for

    table = toy_table()
    settings = classify_settings(downsample=2, frame=2, sequence_scale=True)
    splits, meta = steps.prepare(table, "toy", settings, references=False)
    model = SequenceModel(build_model(settings_for("gru"), meta).eval(), meta)
    raw = table[table["split"] == "test"].drop(columns=["split"])
    back = splits["test"].copy()  # as compare.raw_split gives it to a champion: prepared steps, raw units
    back[meta.features] = meta.raw_features(back[meta.features].to_numpy())
    assert model.score(back, read=(2, 2, True)) == pytest.approx(model.score(raw))
    with pytest.raises(
        DataError,
        match=r"the model reads steps as \(downsample, frame, sequence_scale\) = \(2, 2, True\), .* \(None, 4, None\)",
    ):
        model.score(back, read=(None, 4, None))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"task": "label_steps"}, r"downsample: averages numeric steps of a sequence with one label .* is label_steps"),
        (
            {"task": "label_steps", "downsample": None, "frame": 2},
            r"frame: groups numeric steps of a sequence with one label .* is label_steps",
        ),
        (
            {"task": "label_steps", "downsample": None, "sequence_scale": True},
            r"sequence_scale: scales numeric steps of a sequence with one label .* is label_steps",
        ),
        (
            {"source": "imported", "test_fraction": 0.2, "speakers": True, "downsample": None, "sequence_scale": True},
            r"sequence_scale: scales steps, and a dialogue's steps are utterances by different speakers",
        ),
        (
            {
                "downsample": None,
                "sequence_scale": True,
                "tokens": {"embedding_size": 4, "min_count": 1, "max_vocabulary": 8},
            },
            r"sequence_scale: scales numeric steps .* this dataset is classify with tokens",
        ),
        (
            {"source": "imported", "test_fraction": 0.2, "speakers": True},
            r"downsample: averages steps, and a dialogue's steps are utterances by different speakers",
        ),
        (
            {"tokens": {"embedding_size": 4, "min_count": 1, "max_vocabulary": 8}},
            r"this dataset is classify with tokens",
        ),
    ],
)
def test_downsample_is_refused_where_steps_carry_labels_or_symbols(changes, message):
    from pydantic import ValidationError

    from rnnlab.config import DATASET_MODELS

    values = {**classify_settings().model_dump(), "downsample": 2, **changes}
    with pytest.raises(ValidationError, match=message):
        DATASET_MODELS[values["task"]].model_validate(values)
