"""Hostile or impossible input: a pickle that would run code, requests a served model cannot or
should not answer, and table edge cases a CSV export produces. Each is refused with one line
naming the file or input and what is wrong (or read as the user meant), and nothing runs or is written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

from rnnlab.config import DATASET_MODELS, load_config
from rnnlab.data import prepare as steps
from rnnlab.data.sources.dialogue import read_feature_pickle
from rnnlab.data.table import validate_table
from rnnlab.errors import DataError, exit_on_user_error
from rnnlab.evaluate import build_model
from rnnlab.importer import canonical, dataset_entry, read_file
from rnnlab.kinds import KINDS
from tests.conftest import ROOT
from tests.test_contract import settings_for
from tests.test_import import project, run_import, snapshot, user_table  # noqa: F401 (project: a fixture)

# --- 11: pickles -------------------------------------------------------------------------------------------


class Payload:
    """Unpickling this calls ``call(*args)``: what a hostile "feature file" does."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def hostile_pickle(path, payload):
    """conv-emotion's 9-item layout with the payload hidden in a dialogue's features."""
    items = ({"a": ["a_0"]}, {"a": ["M"]}, {"a": [0]}, {"a": [payload]}, {}, {}, {}, ["a"], [])
    with open(path, "wb") as handle:
        pickle.dump(items, handle)
    return path


def payloads(marker):
    return {
        "os.system": (Payload(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        "builtins.exec": (Payload(exec, f"open({str(marker)!r}, 'w').write('ran')"), "builtins.exec"),
        "a class": (Payload(subprocess.Popen, ["touch", str(marker)]), "subprocess.Popen"),
    }


@pytest.mark.parametrize("case", ["os.system", "builtins.exec", "a class"])
def test_a_pickle_naming_code_is_refused_before_anything_runs(tmp_path, case):
    marker = tmp_path / "marker"
    payload, name = payloads(marker)[case]
    path = hostile_pickle(tmp_path / "IEMOCAP_features_raw.pkl", payload)
    with pytest.raises(DataError) as refused:
        read_feature_pickle(path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{path}: refused to load {name}:"), message
    assert not marker.exists(), "the pickle's code ran"


def test_a_hostile_pickle_gets_one_line_from_rnnlab_import_and_nothing_is_written(project, tmp_path):  # noqa: F811
    marker = tmp_path / "marker"
    path = hostile_pickle(tmp_path / "MELD_features_raw.pkl", payloads(marker)["os.system"][0])
    before = snapshot(project)
    result = run_import(project, path, task="label_steps", target="label", name="my_hostile")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"MELD_features_raw.pkl: refused to load {os.system.__module__}.system" in lines[0]
    assert not marker.exists() and snapshot(project) == before


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_the_conv_emotion_layout_still_loads_at_every_protocol_and_from_numpy_1(tmp_path, protocol):
    """Numpy arrays (float32 features, one-hot speakers), sets of video ids, as numpy 1.x or 2.x pickled them."""
    rng = np.random.default_rng(0)
    videos = ["v0", "v1", "v2"]
    speakers = {v: [np.eye(2, dtype=np.float32)[i % 2] for i in range(4)] for v in videos}  # MELD: one-hot speakers
    labels = {v: [int(y) for y in rng.integers(0, 7, size=4)] for v in videos}
    text = {v: rng.normal(size=(4, 5)).astype(np.float32) for v in videos}
    items = (
        {v: [f"{v}_{i}" for i in range(4)] for v in videos},
        speakers,
        labels,
        text,
        text,
        ["s"] * 3,
        {"v0", "v1"},
        {"v2"},
        {v: [0] * 4 for v in videos},
    )
    data = pickle.dumps(items, protocol=protocol)
    path = tmp_path / "MELD_features_raw.pkl"
    path.write_bytes(data)
    table = read_feature_pickle(path)
    assert table["sequence_id"].nunique() == 3 and set(table["split"]) == {"train", "test"}
    features = table.loc[table["sequence_id"] == "v2", [f"u_{j}" for j in range(5)]]
    np.testing.assert_allclose(features.to_numpy(), text["v2"])
    if protocol == 2:  # numpy 1.x wrote numpy.core.multiarray (numpy 2 reads it through numpy._core)
        old = tmp_path / "old.pkl"
        old.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
        assert b"numpy.core.multiarray" in old.read_bytes()
        pd.testing.assert_frame_equal(read_feature_pickle(old), table)


def test_predict_model_is_documented_as_trusted_input():
    from rnnlab import predict
    from rnnlab.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(out.getvalue().split())  # argparse wraps the help text
    assert re.search(r"--model MODEL .*trusted models only: loading a model runs its code", text), text
    assert "trusted input only" in predict.__doc__ and "runs whatever" in predict.__doc__


# --- 12: the served model ------------------------------------------------------------------------------------

LIMITS = {"max_rows": 40, "max_sequences": 4, "max_steps": 8}
COLUMNS = "(expected: sequence_id, step, ax, ay)"


@pytest.fixture(scope="module")
def served():
    """A small untrained classifier over the user table's features, as train logs it (with limits)."""
    from rnnlab.serving import SequenceModel

    table = canonical(user_table(), "classify", "activity", "toy")
    settings = DATASET_MODELS["classify"].model_validate(dataset_entry("classify", "activity", table, 24))
    _, meta = steps.prepare(table, "toy", settings)
    meta.dataset = "toy"
    model = build_model(settings_for("gru"), meta).eval()
    request = table[table["split"] == "test"].drop(columns=["label", "split"])
    return SequenceModel(model, meta, limits=LIMITS), SequenceModel(model, meta), request


def request_of(table, sequences):
    return table[table["sequence_id"].isin(table["sequence_id"].unique()[:sequences])]


def synthetic(sequences, length):
    """A well-formed request of ``sequences`` × ``length`` rows."""
    return pd.DataFrame(
        {
            "sequence_id": np.repeat([f"s{i}" for i in range(sequences)], length),
            "step": np.tile(np.arange(length), sequences),
            "ax": 0.0,
            "ay": 0.0,
        }
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.drop(columns=["sequence_id"]), f"missing input column(s) 'sequence_id' {COLUMNS}"),
        (lambda t: t.drop(columns=["step", "ay"]), f"missing input column(s) 'step', 'ay' {COLUMNS}"),
        (lambda t: synthetic(3, 14), "42 rows exceed the limit of 40 per request (serving.max_rows in params.yaml)"),
        (
            lambda t: synthetic(5, 2),
            "5 sequences exceed the limit of 4 per request (serving.max_sequences in params.yaml)",
        ),
        (
            lambda t: synthetic(1, 9),
            "sequence 's0' has 9 steps, over the limit of 8 per sequence (serving.max_steps in params.yaml)",
        ),
    ],
    ids=["no sequence_id", "no step", "rows", "sequences", "steps"],
)
def test_a_request_without_its_columns_or_over_a_limit_gets_one_sentence(served, edit, message):
    limited, _, request = served
    with pytest.raises(DataError) as refused:
        limited.predict(None, edit(request_of(request, 3)))
    assert str(refused.value) == f"input for toy: {message}"


def test_a_model_logged_without_limits_answers_any_size(served):
    limited, unlimited, request = served
    assert unlimited.meta.limits is None and limited.meta.limits == LIMITS
    assert len(unlimited.predict(None, request)) == request["sequence_id"].nunique() > LIMITS["max_sequences"]
    assert len(limited.predict(None, request_of(request, 3))) == 3


def test_the_limits_come_from_params_yaml():
    serving = load_config(ROOT / "params.yaml").serving
    assert serving.max_rows >= serving.max_steps and serving.max_sequences > 1
    assert set(serving.model_dump()) == set(LIMITS)


def test_a_request_error_is_one_line_from_the_command_line(served):
    limited, _, request = served

    @exit_on_user_error
    def command():
        limited.predict(None, request.drop(columns=["step"]))

    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        command()
    assert exit_.value.code == 2
    assert err.getvalue() == f"rnnlab: error: input for toy: missing input column(s) 'step' {COLUMNS}\n"


def test_the_scoring_server_answers_bad_input_with_400_and_one_sentence(served, tmp_path):
    """MLflow's own scoring app (what `mlflow models serve` runs), in process: a missing column and a
    request over a limit come back as 400 with the sentence and no stack trace; good input as 200."""
    import mlflow
    from mlflow.pyfunc import scoring_server

    with warnings.catch_warnings():  # starlette asks for httpx2; the httpx installed here works
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    limited, _, request = served
    mlflow.pyfunc.save_model(str(tmp_path / "model"), python_model=limited, pip_requirements=[])
    client = TestClient(scoring_server.init(mlflow.pyfunc.load_model(str(tmp_path / "model"))))

    def post(table):
        body = json.dumps({"dataframe_split": table.to_dict(orient="split")})
        return client.post("/invocations", content=body, headers={"Content-Type": "application/json"})

    good = post(request_of(request, 2))
    assert good.status_code == 200 and len(good.json()["predictions"]) == 2
    for table, sentence in [
        (request_of(request, 2).drop(columns=["sequence_id"]), f"missing input column(s) 'sequence_id' {COLUMNS}"),
        (synthetic(5, 2), "5 sequences exceed the limit of 4 per request (serving.max_sequences in params.yaml)"),
    ]:
        answer = post(table)
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE" and body["message"] == f"input for toy: {sentence}"
        assert "stack_trace" not in body and "Traceback" not in answer.text


# --- 15: table edge cases --------------------------------------------------------------------------------


def dry_import(path, task="classify", target="activity"):
    """What `rnnlab import` checks before it writes anything: read, canonical, validate, prepare."""
    table = canonical(read_file(path), task, target, str(path))
    validate_table(table, str(path), KINDS[task].label_mode)
    settings = DATASET_MODELS[task].model_validate(dataset_entry(task, target, table, 24))
    return table, steps.prepare(table, str(path), settings)[1]


def refused_line(project, path, **options):  # noqa: F811
    before = snapshot(project)
    result = run_import(project, path, **options)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("rnnlab: error: "), result.stderr
    assert snapshot(project) == before, "a failed import must leave the project as it was"
    return lines[0]


def test_an_empty_sequence_id_is_named_by_its_row(project, tmp_path):  # noqa: F811
    table = user_table()
    table["sequence_id"] = table["sequence_id"].where(table.index != 3)
    path = tmp_path / "ids.csv"
    table.to_csv(path, index=False)
    assert refused_line(project, path).endswith("ids.csv: column 'sequence_id' is empty at row 3 (step 3)")
    whole = user_table()
    whole["sequence_id"] = whole["sequence_id"].mask(whole["sequence_id"] == "train-walk-1")  # a whole sequence
    whole.to_parquet(tmp_path / "ids.parquet", index=False)
    with pytest.raises(DataError, match=r"ids.parquet: column 'sequence_id' is empty at row \d+ \(step 0\)"):
        dry_import(tmp_path / "ids.parquet")


def test_a_csv_written_with_pandas_index_is_refused(project, tmp_path):  # noqa: F811
    path = tmp_path / "indexed.csv"
    user_table().to_csv(path)  # index=True: an unnamed first column 0..n-1
    line = refused_line(project, path)
    assert "indexed.csv: column 'Unnamed: 0' has no name in the header" in line and "would become a feature" in line


def test_na_none_and_null_in_a_csv_are_tokens_and_classes(tmp_path):
    words = ["NA", "None", "null", "nan", "cat", "N/A"]
    rows = [
        {
            "sequence_id": f"s{i}",
            "step": j,
            "token": words[(i + j) % len(words)],
            "mood": ["NA", "None", "null"][i % 3],
            "split": "test" if i % 4 == 3 else "train",
        }
        for i in range(24)
        for j in range(4)
    ]
    path = tmp_path / "words.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    table, meta = dry_import(path, target="mood")
    assert set(table["token"]) == set(words) and sorted(meta.classes) == ["NA", "None", "null"]
    assert {"NA", "None", "null", "nan"} <= set(meta.vocabulary)
    numbers = user_table()
    numbers.loc[5, "ax"] = np.nan  # pandas writes an empty cell: still a missing number
    numbers.to_csv(tmp_path / "numbers.csv", index=False)
    with pytest.raises(DataError, match=r"numbers.csv: column 'ax' has nan at sequence 'train-walk-0', step 5"):
        dry_import(tmp_path / "numbers.csv")
    empty = pd.DataFrame(rows)
    empty.loc[2, "token"] = None  # an empty cell is a missing token
    empty.to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DataError, match=r"empty.csv: column 'token' is empty at sequence 's0', step 2"):
        dry_import(tmp_path / "empty.csv", target="mood")


def test_a_classification_with_one_class_is_refused(project, tmp_path):  # noqa: F811
    table = user_table()
    table["activity"] = "walk"
    path = tmp_path / "one.csv"
    table.to_csv(path, index=False)
    line = refused_line(project, path)
    assert line.endswith(
        "one.csv: target column 'activity' holds one class ('walk') on every row; task classify needs at least two"
    )
    steps_table = user_table().assign(activity="walk")
    steps_table.to_parquet(tmp_path / "one.parquet", index=False)
    with pytest.raises(DataError, match="target column 'activity' holds one class"):
        dry_import(tmp_path / "one.parquet", task="label_steps")
