"""`rnnlab import`: a user's file becomes a dataset, or one clear error naming the file, the
sequence or row and the column — and nothing is written (params.yaml, plan.yaml, data/ untouched)."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from rnnlab.cli import main
from tests.conftest import command_in_this_process, copy_project


def user_table(n_per_class: int = 6, classes=("walk", "run", "sit"), seed: int = 0) -> pd.DataFrame:
    """A user's export: variable-length sequences, their own column names, a train/test split."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, label in enumerate(classes):
        for i in range(n_per_class):
            for split in ("train", "test"):
                for step in range(int(rng.integers(3, 9))):
                    rows.append(
                        {
                            "sequence_id": f"{split}-{label}-{i}",
                            "step": step,
                            "ax": rng.normal() + c,
                            "ay": rng.normal(),
                            "activity": label,
                            "split": split,
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("import_project"))
    git = lambda *a: subprocess.run(["git", *a], cwd=root, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy")
    return root


def run_import(root, path, *extra, task="classify", target="activity", name="mine"):
    """`rnnlab import` in this process (as the console script runs it): exit code and output."""
    argv = ["import", str(path), "--name", name, "--task", task, "--target", target, *extra]
    return command_in_this_process(main, argv, root)


def snapshot(root):
    return (
        (root / "params.yaml").read_text(),
        (root / "plan.yaml").read_text(),
        sorted(p.name for p in (root / "data").glob("**/*")) if (root / "data").exists() else [],
    )


def mutate(edit):
    table = user_table()
    changed = edit(table)
    return table if changed is None else changed


BAD = {
    "missing column": (
        lambda t: t.drop(columns=["step"]),
        r"bad.csv: missing column 'step' \(columns: sequence_id, ax, ay, label, split\)",
    ),
    "duplicate step": (
        lambda t: t.__setitem__("step", t["step"].where(t.index != 1, 0)),
        r"bad.csv: duplicate \(sequence_id, step\) = \('train-walk-0', 0\) at row 1",
    ),
    "gap in step": (
        lambda t: t.__setitem__("step", t["step"].where(t.index != 2, 20)),
        r"bad.csv: sequence 'train-walk-0' has steps that are not 0..len-1",
    ),
    "non-numeric": (
        lambda t: t.__setitem__("ay", t["ay"].astype(object).where(t.index != 4, "abc")),
        r"bad.csv: feature column 'ay' is not numeric \(sequence 'train-walk-0', step \d: 'abc'\)",
    ),
    "nan": (
        lambda t: t.__setitem__("ax", t["ax"].where(t.index != 3, np.nan)),
        r"bad.csv: column 'ax' has nan at sequence 'train-walk-0', step 3",
    ),
    "inf": (
        lambda t: t.__setitem__("ax", t["ax"].where(t.index != 3, np.inf)),
        r"bad.csv: column 'ax' has inf at sequence 'train-walk-0', step 3",
    ),
    "class in one split": (
        lambda t: t.__setitem__("activity", t["activity"].mask(t["sequence_id"] == "test-sit-0", "jump")),
        r"bad.csv: class 'jump' appears in the test split but not in train",
    ),
    "class only in train": (
        lambda t: t.drop(index=t.index[(t["activity"] == "sit") & (t["split"] == "test")], inplace=True),
        r"bad.csv: class 'sit' appears only in the train split, never in test",
    ),
    "class with one sequence": (
        lambda t: t.drop(
            index=t.index[(t["activity"] == "sit") & (t["split"] == "train") & (t["sequence_id"] != "train-sit-0")],
            inplace=True,
        ),
        r"bad.csv: class 'sit' has a single sequence; it cannot be split into train and val",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_get_one_clear_error_and_nothing_is_written(project, tmp_path, case):
    edit, message = BAD[case]
    path = tmp_path / "bad.csv"
    mutate(edit).to_csv(path, index=False)
    before = snapshot(project)
    result = run_import(project, path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert snapshot(project) == before, "a failed import must leave the project as it was"


def test_empty_file_wrong_format_and_missing_target(project, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty.csv: the file is empty" in run_import(project, empty).stderr
    header_only = tmp_path / "header.csv"
    header_only.write_text("sequence_id,step,ax,activity\n")
    assert "header.csv: the table has zero sequences" in run_import(project, header_only).stderr
    text = tmp_path / "data.json"
    text.write_text("{}")
    assert (
        "data.json: rnnlab import reads .csv, .parquet or conv-emotion's .pkl feature files, got '.json'"
        in run_import(project, text).stderr
    )
    good = tmp_path / "good.csv"
    user_table().to_csv(good, index=False)
    missing = run_import(project, good, target="activty")
    assert (
        missing.returncode == 2
        and "good.csv: target column 'activty' does not exist (columns: sequence_id, step, ax, ay, activity, split)"
        in missing.stderr
    )


def test_a_runaway_token_vocabulary_is_refused(project, tmp_path):
    rows = [
        {"sequence_id": f"s{i}", "step": j, "word": f"w{i}-{j}", "mood": "a" if i % 2 else "b"}
        for i in range(40)
        for j in range(5)
    ]
    path = tmp_path / "ids.parquet"
    pd.DataFrame(rows).rename(columns={"word": "token"}).to_parquet(path, index=False)
    result = run_import(project, path, target="mood")
    assert result.returncode == 2
    assert "ids.parquet: column 'token' has" in result.stderr and "(a runaway vocabulary" in result.stderr


def test_a_good_file_is_tracked_and_listed(project, tmp_path):
    path = tmp_path / "good.parquet"
    user_table().to_parquet(path, index=False)
    result = run_import(project, path, name="my_moves")
    assert result.returncode == 0, result.stderr
    assert (project / "data" / "raw" / "my_moves.dvc").is_file()
    stored = pd.read_parquet(project / "data" / "raw" / "my_moves" / "table.parquet")
    assert "label" in stored.columns and "activity" not in stored.columns
    from rnnlab.config import load_config
    from rnnlab.plan import check_plan

    config = load_config(project / "params.yaml")
    assert config.pipeline.datasets[-1] == "my_moves" and config.dataset("my_moves").source == "imported"
    assert ("lstm", "my_moves") in config.pairs()
    check_plan(project, config)
    again = run_import(project, path, name="my_moves")
    assert again.returncode == 2 and "a dataset of that name is already in params.yaml" in again.stderr


def test_a_numeric_target_imports_as_a_regression(project, tmp_path):
    table = user_table()
    table["score"] = table.groupby("sequence_id")["ax"].transform("mean").round(3)  # one number per sequence
    path = tmp_path / "scores.csv"
    table.drop(columns=["activity"]).to_csv(path, index=False)
    result = run_import(project, path, task="regress", target="score", name="my_scores")
    assert result.returncode == 0, result.stderr
    stored = pd.read_parquet(project / "data" / "raw" / "my_scores" / "table.parquet")
    assert stored["label"].dtype == np.float64  # kept as numbers, not class names
    from rnnlab.config import load_config

    assert load_config(project / "params.yaml").dataset("my_scores").task == "regress"
    bad = tmp_path / "words.csv"
    table.drop(columns=["score"]).to_csv(bad, index=False)
    refused = run_import(project, bad, task="regress", target="activity", name="my_words")
    assert (
        refused.returncode == 2 and "task regress needs a numeric label; column 'label' holds 'walk'" in refused.stderr
    )


def test_a_symbol_sequence_target_imports_as_seq2seq(project, tmp_path):
    words = {
        "cat": "K AE T",
        "dog": "D AO G",
        "tack": "T AE K",
        "god": "G AA D",
        "act": "AE K T",
        "coat": "K OW T",
        "goat": "G OW T",
        "toad": "T OW D",
        "dot": "D AA T",
        "cod": "K AA D",
        "tag": "T AE G",
        "gad": "G AE D",
    }
    rows = [
        {"sequence_id": w, "step": i, "token": letter, "phones": phones}
        for w, phones in words.items()
        for i, letter in enumerate(w)
    ]
    path = tmp_path / "g2p.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    result = run_import(project, path, task="seq2seq", target="phones", name="my_g2p")
    assert result.returncode == 0, result.stderr
    from rnnlab.config import load_config

    settings = load_config(project / "params.yaml").dataset("my_g2p")
    assert settings.task == "seq2seq" and settings.target_embedding_size == 32 and settings.tokens is not None
    rows = [
        {**row, "phones": "   "} if row["sequence_id"] == "cat" else row for row in rows
    ]  # a word with no output symbols
    bad = tmp_path / "bad_g2p.parquet"
    pd.DataFrame(rows).to_parquet(bad)
    before = snapshot(project)
    refused = run_import(project, bad, task="seq2seq", target="phones", name="my_bad_g2p")
    assert (
        refused.returncode == 2
        and "task seq2seq needs output symbols in 'label'; sequence 'cat' has none" in refused.stderr
    )
    assert snapshot(project) == before


def iemocap_pickle(path, train=6, test=3, seed=0):
    """A file in the layout of conv-emotion's IEMOCAP_features_raw.pkl (9 items), small and random."""
    import pickle

    rng = np.random.default_rng(seed)
    videos = [f"Ses0{i}" for i in range(train + test)]
    speakers, labels, text = {}, {}, {}
    for v in videos:
        n = int(rng.integers(6, 12))
        speakers[v] = list(rng.choice(["M", "F"], size=n))
        labels[v] = [int(y) for y in (np.arange(n) + int(rng.integers(0, 6))) % 6]  # every class in every split
        text[v] = [rng.normal(size=100) for _ in range(n)]
    ids = {v: [f"{v}_{i}" for i in range(len(text[v]))] for v in videos}
    items = (ids, speakers, labels, text, text, text, ids, videos[:train], videos[train:])
    with open(path, "wb") as handle:
        pickle.dump(items, handle)
    return path


def test_dialogue_features_import_with_speakers(project, tmp_path):
    """conv-emotion's IEMOCAP pickle becomes a dialogue dataset: speakers on, a party one-hot after
    the 100 text features, classes named, the file's own train/test split."""
    result = run_import(
        project,
        iemocap_pickle(tmp_path / "IEMOCAP_features_raw.pkl"),
        task="label_steps",
        target="label",
        name="my_iemocap",
    )
    assert result.returncode == 0, result.stderr
    from rnnlab.config import load_config
    from rnnlab.data.store import read_table

    config = load_config(project / "params.yaml")
    assert config.dataset("my_iemocap").speakers and ("dialogue_rnn", "my_iemocap") in config.pairs()
    table = read_table(project / "data" / "raw" / "my_iemocap")
    assert set(table["speaker"]) == {"M", "F"} and set(table["label"]) == {
        "happy",
        "sad",
        "neutral",
        "angry",
        "excited",
        "frustrated",
    }
    assert table.groupby("split")["sequence_id"].nunique().to_dict() == {"train": 6, "test": 3}

    bad = tmp_path / "other.pkl"
    with open(bad, "wb") as handle:
        import pickle

        pickle.dump(({}, {}, {}), handle)
    before = snapshot(project)
    refused = run_import(project, bad, task="label_steps", target="label", name="my_other")
    assert (
        refused.returncode == 2
        and "other.pkl: expected conv-emotion's 9-item feature pickle (IEMOCAP or MELD), got tuple of 3 items"
        in refused.stderr
    )
    assert snapshot(project) == before


def test_a_test_dialogue_with_more_parties_than_training_is_refused(project, tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for d in range(12):
        split, parties = ("test", 3) if d >= 8 else ("train", 2)
        for step in range(6):
            rows.append(
                {
                    "sequence_id": f"d{d}",
                    "step": step,
                    "u": rng.normal(),
                    "speaker": f"p{step % parties}",
                    "mood": ["a", "b"][step % 2],
                    "split": split,
                }
            )
    path = tmp_path / "talk.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    refused = run_import(project, path, task="label_steps", target="mood", name="my_talk")
    assert (
        refused.returncode == 2
        and "talk.csv: test: dialogue 'd8' has 3 parties; the training dialogues have at most 2" in refused.stderr
    )
