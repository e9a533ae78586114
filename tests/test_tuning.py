"""`rnnlab tune` on a shrunken budget, real parts only: a real Optuna study (journal file), real
Lightning trials, real MLflow runs nested under the study's parent run; a study killed mid-trial
goes on without losing or double-counting a trial; bad settings stop it with one line before anything runs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, command_in_this_process, copy_project

pytestmark = pytest.mark.slow

BUDGET = {
    "trials": 3,
    "max_epochs": 3,
    "patience": 3,
    "seed": 0,
    "sampler_seed": 0,
    "startup_trials": 1,
    "warmup_epochs": 1,
    "repeats": 1,
    "small_validation": 500,
    "space": {},
    "confirm_seeds": 1,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from rnnlab.config import load_config
    from rnnlab.data import prepare
    from rnnlab.data.sources import SOURCES

    root = copy_project(tmp_path_factory.mktemp("tuning"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pipeline"] = {"datasets": ["japanese_vowels"], "architectures": ["lstm", "gru"]}
    params["datasets"]["japanese_vowels"]["max_sequences"] = 120
    params["tune"] = BUDGET
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    config = load_config(root / "params.yaml")
    splits, meta = prepare.prepare(SOURCES["japanese_vowels"](), "japanese_vowels", config.dataset("japanese_vowels"))
    prepare.write_prepared(root / "data" / "prepared" / "japanese_vowels", splits, meta)
    return root


def tune(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`rnnlab tune ARGS` in ``root``, run by this test process (``tune_process``: a process of its own)."""
    from rnnlab import cli

    return command_in_this_process(cli.main, ["tune", *args], root)


def tune_process(root: Path, *args: str, **env) -> subprocess.CompletedProcess:
    """`rnnlab tune ARGS` as a process of its own (one a test kills mid-trial)."""
    return subprocess.run(
        [sys.executable, "-m", "rnnlab.cli", "tune", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **env},
    )


def journal(root: Path, architecture: str):
    import optuna

    from rnnlab.tuning import JOURNAL, study_dir

    path = study_dir(root, "japanese_vowels", architecture) / JOURNAL
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return optuna.load_study(study_name=f"japanese_vowels/{architecture}", storage=storage)


def mlflow_client(root: Path):
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")


def test_a_study_trains_real_trials_nested_under_its_parent_run(project):
    from optuna.trial import TrialState

    done = tune(project, "--dataset", "japanese_vowels", "--architecture", "lstm")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[1/1] lstm on japanese_vowels: best val_accuracy " in done.stdout
    study = journal(project, "lstm")
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == len(study.trials) == BUDGET["trials"]
    assert study.direction.name == "MAXIMIZE", "accuracy grows"
    # the first trial is params.yaml's own entry; then TPE's draws, which differ, inside the registry's space
    from rnnlab.config import load_config

    entry = load_config(project / "params.yaml").model_copy(update={"tuned": {}})  # what the profile's tuning leaves
    assert study.trials[0].params["hidden_size"] == entry.architecture("lstm", "japanese_vowels").hidden_size
    assert study.trials[0].params["learning_rate"] == entry.train_for("japanese_vowels", "lstm").learning_rate
    assert len({t.params["hidden_size"] for t in study.trials}) > 1
    assert all(16 <= t.params["hidden_size"] <= 128 and t.params["batch_size"] in (16, 32, 64) for t in study.trials)

    result = json.loads((project / "reports" / "tuning.json").read_text())["japanese_vowels"]["lstm"]
    assert result["best_value"] == study.best_value and result["best_params"] == study.best_params
    assert result["trials_complete"] + result["trials_pruned"] == BUDGET["trials"]
    assert "| lstm | " in (project / "reports" / "tuning.md").read_text()
    profile = yaml.safe_load((project / "profiles" / "tuned.yaml").read_text())["tuned"]
    chosen = study.trials[result["chosen_trial"]]
    assert result["chosen_params"] == chosen.params
    if chosen.number == result["untuned_trial"]:  # params.yaml's settings kept: no entry, a later edit reaches the pair
        assert "lstm" not in profile.get("japanese_vowels", {})
    else:
        assert profile["japanese_vowels"]["lstm"] == chosen.params
    untuned = study.trials[result["untuned_trial"]]
    assert result["untuned_trial"] == 0 and result["untuned_train_time_s"] == untuned.user_attrs["train_time_s"]
    affordable = [
        t
        for t in finished
        if t.state == TrialState.COMPLETE and t.user_attrs["train_time_s"] <= 1.25 * untuned.user_attrs["train_time_s"]
    ]
    best_affordable = max(affordable + [untuned], key=lambda t: (t.value, -t.number))
    # the best trial no dearer than the untuned, kept only where a second seed confirms it
    confirmation = result["confirmation"]
    if best_affordable.number == untuned.number:
        assert confirmation is None and chosen.number == untuned.number, "the untuned settings won: nothing to confirm"
    else:
        assert confirmation["candidate_trial"] == best_affordable.number and confirmation["seeds"] == [0, 1]
        assert confirmation["candidate_values"][0] == best_affordable.value
        assert confirmation["untuned_values"][0] == untuned.value
        better = sum(confirmation["candidate_values"]) > sum(confirmation["untuned_values"])
        over = [  # each seed's fit over its limit: 1.25 × the untuned fit on that seed (the test budget: no extra s)
            c / (1.25 * u) for c, u in zip(confirmation["candidate_train_time_s"], confirmation["untuned_train_time_s"])
        ]
        kept = better and statistics.median(over) <= 1.0  # by the median over the seeds (two here: their mean)
        assert confirmation["better"] is better and confirmation["kept_candidate"] is kept
        assert confirmation["fit_over_limit_median"] == pytest.approx(statistics.median(over))
        assert chosen.number == (best_affordable if kept else untuned).number
        assert study.user_attrs["confirmed"].keys() == {str(best_affordable.number), str(untuned.number)}
    applied = subprocess.run(
        [sys.executable, "-m", "rnnlab.cli", "profile", "tuned"], cwd=project, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    from rnnlab.config import load_config

    config = load_config(project / "params.yaml")
    assert config.architecture("lstm", "japanese_vowels").hidden_size == chosen.params["hidden_size"]
    assert config.train_for("japanese_vowels", "lstm").learning_rate == chosen.params["learning_rate"]
    untuned = next(ds for ds in config.datasets if ds not in profile)
    assert config.architecture("lstm", untuned) == config.architecture("lstm"), (
        "a dataset the profile does not name keeps its entries"
    )

    client = mlflow_client(project)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    parent = client.get_run(study.user_attrs["mlflow_parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["rnnlab.kind"] == "tuning"
    assert parent.data.metrics["best_value"] == pytest.approx(study.best_value)
    trials = client.search_runs([experiment.experiment_id], filter_string="tags.`rnnlab.kind` = 'trial'")
    assert len(trials) == BUDGET["trials"]
    confirming = client.search_runs([experiment.experiment_id], filter_string="tags.`rnnlab.kind` = 'confirmation'")
    assert len(confirming) == (0 if confirmation is None else 2), "one more seed of each of the two settings"
    for run in confirming:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.data.tags["seed"] == "1"
        mine = run.data.tags["optuna.trial"] == str(confirmation["candidate_trial"])
        values = confirmation["candidate_values" if mine else "untuned_values"]
        assert run.data.metrics["best_val_accuracy"] == pytest.approx(values[1])
        assert not [k for k in run.data.metrics if k.startswith("test_")], "confirming never reads the test split"
    for run in trials:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        trial = study.trials[int(run.data.tags["optuna.trial"])]
        assert run.data.params["arch.hidden_size"] == str(trial.params["hidden_size"]), (
            "the run trained what the trial drew"
        )
        assert run.data.params["train.max_epochs"] == str(BUDGET["max_epochs"]), "the tuning budget, not the pipeline's"
        assert not [k for k in run.data.metrics if k.startswith("test_")], "tuning never reads the test split"
        if trial.state == TrialState.COMPLETE:
            assert run.data.metrics["best_val_accuracy"] == pytest.approx(trial.value)

    again = tune(project, "--dataset", "japanese_vowels", "--architecture", "lstm")
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads((project / "reports" / "tuning.json").read_text())["japanese_vowels"]["lstm"]
    assert rerun["confirmation"] == confirmation and rerun["chosen_trial"] == result["chosen_trial"]
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`rnnlab.kind` != 'tuning'")
    assert len(runs) == len(trials) + len(confirming), "a finished study and its confirmation train nothing again"


def test_a_study_killed_mid_trial_goes_on_without_losing_or_double_counting(project):
    from optuna.trial import TrialState

    marker = project / "killed-once"
    killed = tune_process(
        project,
        "--dataset",
        "japanese_vowels",
        "--architecture",
        "gru",
        RNNLAB_KILL_AFTER_EPOCH="0",
        RNNLAB_KILL_MARKER=str(marker),
    )
    assert killed.returncode != 0 and marker.exists()
    study = journal(project, "gru")
    assert [t.state for t in study.trials] == [TrialState.RUNNING], "the process died inside the first trial"
    drawn = study.trials[0].params

    again = tune(project, "--dataset", "japanese_vowels", "--architecture", "gru")
    assert again.returncode == 0, again.stderr[-3000:]
    study = journal(project, "gru")
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.FAIL and study.trials[1].params == drawn, (
        "the killed trial's settings are tried again"
    )
    assert (
        sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states) == BUDGET["trials"]
        and len(states) == BUDGET["trials"] + 1
    )
    client = mlflow_client(project)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.architecture = 'gru' and tags.`rnnlab.kind` = 'trial'"
    )
    assert sorted(r.info.status for r in runs).count("KILLED") >= 1 and not [
        r for r in runs if r.info.status == "RUNNING"
    ]
    killed_run = [r for r in runs if r.data.tags["optuna.trial"] == "0"]
    assert len(killed_run) == 1 and killed_run[0].info.status == "KILLED"

    # run once more: the budget is spent, nothing trains
    third = tune(project, "--dataset", "japanese_vowels", "--architecture", "gru")
    assert third.returncode == 0 and len(journal(project, "gru").trials) == BUDGET["trials"] + 1

    # a larger budget for this dataset extends the study: one more trial, the earlier ones counted
    before = [(t.number, t.state, t.value) for t in journal(project, "gru").trials]
    old_parent = journal(project, "gru").user_attrs["mlflow_parent_run_id"]
    journal(project, "gru").set_user_attr("mlflow_parent_run_id", "0" * 32)  # as if mlflow/ had been replaced
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(
        yaml.safe_dump(
            {**params, "tune": {**params["tune"], "dataset_trials": {"japanese_vowels": BUDGET["trials"] + 1}}}
        )
    )
    try:
        fourth = tune(project, "--dataset", "japanese_vowels", "--architecture", "gru")
    finally:
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert fourth.returncode == 0, fourth.stderr[-3000:]
    extended = journal(project, "gru")
    assert len(extended.trials) == BUDGET["trials"] + 2 and extended.trials[-1].state in (
        TrialState.COMPLETE,
        TrialState.PRUNED,
    )
    assert [(t.number, t.state, t.value) for t in extended.trials[:-1]] == before, "the earlier trials kept"
    parent = extended.user_attrs["mlflow_parent_run_id"]
    assert parent not in ("0" * 32, old_parent) and "the MLflow store has no parent run" in fourth.stdout, fourth.stdout
    assert client.get_run(parent).data.tags["rnnlab.kind"] == "tuning"


def test_a_study_resumes_after_its_mlflow_store_was_replaced(project, tmp_path):
    """A tuning folder can outlive the MLflow store its trials were logged to (mlflow/ deleted, another
    tracking URI): the dead trial is still tried again, and a run the store does not hold is skipped."""
    import optuna
    from optuna.trial import TrialState

    from rnnlab import tracking
    from rnnlab.training.resume import RESUME_FILE
    from rnnlab.tuning import _requeue_the_dead

    client = mlflow_client(project)  # the store the module's studies made (its tables exist)
    alive = client.create_run(client.create_experiment("store-replaced")).info.run_id
    assert tracking.run_status(client, alive) == "RUNNING" and tracking.run_status(client, "0" * 32) is None
    study = optuna.create_study()
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0.0, 1.0)})  # its process died mid-trial
    for k, run_id in enumerate(("0" * 32, alive)):  # one run from the old store, one from this one
        (tmp_path / f"trial_{dead.number}" / f"split_{k}").mkdir(parents=True)
        (tmp_path / f"trial_{dead.number}" / f"split_{k}" / RESUME_FILE).write_text(json.dumps({"run_id": run_id}))
    _requeue_the_dead(study, tmp_path, client)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.WAITING]
    assert study.trials[1].system_attrs["fixed_params"] == study.trials[0].params, "the same settings again"
    assert tracking.run_status(client, alive) == "KILLED"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tune": {**BUDGET, "trials": 0}}, "params.yaml: tune.trials = 0: Input should be greater than 0"),
        (
            {"tune": {**BUDGET, "dataset_trials": {"nowhere": 3}}},
            "tune.dataset_trials names dataset 'nowhere', which is not defined under datasets",
        ),
        (
            {"tune": {**BUDGET, "space": {"lstm": {"width": {"low": 8, "high": 64}}}}},
            "tune.space.lstm: lstm has no setting 'width' to tune (allowed: hidden_size,",
        ),
        (
            {"tune": {**BUDGET, "space": {"lstm": {"hidden_size": {"low": 64, "high": 64}}}}},
            "tune.space.lstm.hidden_size: empty range: low 64 must be below high 64",
        ),
        (
            {"tune": {**BUDGET, "space": {"lstm": {"dropout": {"choices": []}}}}},
            "tune.space.lstm.dropout.choices = []: List should have at least 1 item",
        ),
        (
            {"tuned": {"japanese_vowels": {"lstm": {"embedding_size": 16}}}},
            "tuned.japanese_vowels.lstm.embedding_size: japanese_vowels reads numbers, not tokens",
        ),
        (
            {"train": {**yaml.safe_load((ROOT / "params.yaml").read_text())["train"], "embedding_size": 16}},
            "train.embedding_size: japanese_vowels reads numbers, not tokens",
        ),
    ],
)
def test_bad_tuning_settings_stop_with_one_line(project, tmp_path, change, message):
    bad = copy_project(tmp_path / "bad")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.update(change)
    (bad / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = tune(bad, "--dataset", "japanese_vowels")
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (bad / "tuning").exists() and not (bad / "mlflow").exists(), "nothing ran"


def test_the_command_as_a_process_of_its_own_stops_with_one_line_and_exit_2(project, tmp_path):
    """The cases above run the command's code in this process; as a process of its own, a bad budget
    is also one line on stderr and exit status 2 (no warning or log line beside it), and nothing runs."""
    bad = copy_project(tmp_path / "bad")
    params = yaml.safe_load((project / "params.yaml").read_text())
    (bad / "params.yaml").write_text(yaml.safe_dump({**params, "tune": {**BUDGET, "trials": 0}}, sort_keys=False))
    done = tune_process(bad, "--dataset", "japanese_vowels")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "rnnlab: error: params.yaml: tune.trials = 0: Input should be greater than 0"
    ], done.stderr
    assert not (bad / "tuning").exists() and not (bad / "mlflow").exists(), "nothing ran"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--dataset", "japanese_vowels", "--architecture", "ntm"],
            "cannot tune ntm on japanese_vowels: the architecture is not in pipeline.architectures",
        ),
        (["--dataset", "sunspots"], "cannot tune on sunspots: the dataset is not in pipeline.datasets"),
        (["--dataset", "nowhere"], "dataset 'nowhere' is not defined in params.yaml"),
    ],
)
def test_tuning_a_pair_the_plan_rules_out_stops_with_one_line(project, args, message):
    done = tune(project, *args)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_study_will_not_mix_trials_of_another_budget(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    changed = {**params, "tune": {**BUDGET, "max_epochs": 4}}
    (project / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    try:
        done = tune(project, "--dataset", "japanese_vowels", "--architecture", "lstm")
    finally:
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert done.returncode == 2 and "this study was run with another epoch cap, seed, search space or data" in (
        done.stderr
    ), done.stderr


def test_a_trial_behind_the_median_is_pruned_and_its_run_says_so(project, tmp_path):
    """Two trials queued before TPE draws: a learning rate that trains, then one too small to move the
    weights; the second falls behind the first's validation accuracy after the warm-up epoch and stops.
    A third, as far behind but marked as the untuned settings (the reference the profile's cost is
    measured against), trains to its end."""
    import shutil

    import optuna
    from optuna.trial import TrialState

    from rnnlab.tuning import JOURNAL, study_dir

    root = copy_project(tmp_path / "prune")
    params = yaml.safe_load((project / "params.yaml").read_text())
    space = {"learning_rate": {"choices": [1e-2, 1e-9]}}
    params["tune"] = {
        **BUDGET,
        "trials": 3,
        "max_epochs": 4,
        "patience": 4,
        "warmup_epochs": 1,
        "space": {"lstm": space},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(project / "data" / "prepared", root / "data" / "prepared")
    folder = study_dir(root, "japanese_vowels", "lstm")
    folder.mkdir(parents=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / JOURNAL)))
    study = optuna.create_study(study_name="japanese_vowels/lstm", storage=storage, direction="maximize")
    fixed = {
        "hidden_size": 64,
        "num_layers": 1,
        "dropout": 0.0,
        "bidirectional": False,
        "weight_decay": 0.0,
        "batch_size": 16,
    }
    study.enqueue_trial({**fixed, "learning_rate": 1e-2})
    study.enqueue_trial({**fixed, "learning_rate": 1e-9})
    study.enqueue_trial({**fixed, "learning_rate": 1e-9}, user_attrs={"untuned": True})

    done = tune(root, "--dataset", "japanese_vowels", "--architecture", "lstm")
    assert done.returncode == 0, done.stderr[-3000:]
    trials = journal(root, "lstm").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE], done.stdout
    assert trials[2].value < trials[0].value and trials[2].user_attrs["epochs_trained"] == params["tune"]["max_epochs"]
    assert len(trials[2].intermediate_values) == params["tune"]["max_epochs"], "its curve feeds the pruner's median"
    assert trials[1].last_step < params["tune"]["max_epochs"] - 1, "stopped before its epoch cap"
    assert f"trial 1: pruned after epoch {trials[1].last_step}" in done.stdout, done.stdout
    client = mlflow_client(root)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    pruned = client.search_runs([experiment.experiment_id], filter_string="tags.`optuna.trial` = '1'")
    assert (
        len(pruned) == 1 and pruned[0].data.tags["rnnlab.trial_state"] == "pruned" and pruned[0].info.status == "KILLED"
    )
    assert not (folder / "trial_1").exists(), "a pruned trial's checkpoints are not kept"


def test_a_small_validation_split_is_drawn_again_and_a_trial_scores_the_mean(project, tmp_path):
    """24 validation sequences (< small_validation): each trial trains on the pipeline's split and on one
    drawn again from train ∪ val, the same size, stratified; its value is the mean; test is never there."""
    import shutil

    import pandas as pd

    from rnnlab.data.prepare import read_prepared
    from rnnlab.data.table import LABEL, SEQUENCE_ID
    from rnnlab.tuning import study_dir

    root = copy_project(tmp_path / "repeats")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["tune"] = {**BUDGET, "trials": 2, "max_epochs": 2, "repeats": 2, "small_validation": 25, "max_cost": None}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(project / "data" / "prepared", root / "data" / "prepared")
    done = tune(root, "--dataset", "japanese_vowels", "--architecture", "gru")
    assert done.returncode == 0, done.stderr[-3000:]

    base, _ = read_prepared(root / "data" / "prepared" / "japanese_vowels")
    again, meta = read_prepared(root / "tuning" / "japanese_vowels" / "splits" / "split_1")
    ids = lambda frame: set(frame[SEQUENCE_ID])  # noqa: E731
    assert len(again["test"]) == 0 and meta.tuning_split["repeat"] == 1
    assert ids(again["train"]) | ids(again["val"]) == ids(base["train"]) | ids(base["val"]), (
        "drawn from the training part only"
    )
    assert not ids(again["train"]) & ids(again["val"]) and ids(again["val"]) != ids(base["val"])
    assert len(ids(again["val"])) == len(ids(base["val"])) == 24
    labels = lambda frame: frame.groupby(SEQUENCE_ID)[LABEL].first().value_counts().sort_index()  # noqa: E731
    assert (labels(again["val"]) - labels(base["val"])).abs().max() <= 1, "stratified by class"

    trial = journal(root, "gru").trials[0]
    assert len(trial.user_attrs["split_values"]) == 2
    assert trial.value == pytest.approx(sum(trial.user_attrs["split_values"]) / 2)
    client = mlflow_client(root)
    experiment = client.get_experiment_by_name("rnnlab/japanese_vowels")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`rnnlab.kind` = 'trial' and tags.`optuna.trial` = '0'"
    )
    assert sorted(r.data.tags["rnnlab.split"] for r in runs) == ["0", "1"]
    by_split = {r.data.tags["rnnlab.split"]: r.data.metrics["best_val_accuracy"] for r in runs}
    assert [by_split["0"], by_split["1"]] == pytest.approx(trial.user_attrs["split_values"])
    assert (study_dir(root, "japanese_vowels", "gru") / "trial_0" / "split_1").is_dir()
    pd.testing.assert_frame_equal(again["test"], base["test"].iloc[0:0])

    # the drawn trial (seeded) beat the untuned one: a second seed of each, on both splits, scored as a trial is
    confirmation = json.loads((root / "reports" / "tuning.json").read_text())["japanese_vowels"]["gru"]["confirmation"]
    assert confirmation["splits"] == 2 and confirmation["candidate_trial"] == 1
    confirming = client.search_runs([experiment.experiment_id], filter_string="tags.`rnnlab.kind` = 'confirmation'")
    scores = {
        (r.data.tags["optuna.trial"], r.data.tags["rnnlab.split"]): r.data.metrics["best_val_accuracy"]
        for r in confirming
    }
    assert sorted(scores) == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    assert confirmation["candidate_values"][1] == pytest.approx((scores["1", "0"] + scores["1", "1"]) / 2)
    assert confirmation["untuned_values"][1] == pytest.approx((scores["0", "0"] + scores["0", "1"]) / 2)


def test_a_pair_whose_study_keeps_its_own_settings_has_no_profile_entry(tmp_path):
    """profiles/tuned.yaml holds only the pairs whose chosen trial is not the untuned one, so an edit of
    params.yaml still reaches every other pair; a dataset with none of them is not named."""
    from rnnlab.config import load_config
    from rnnlab.tuning import record_result

    for name in ("params.yaml", "profiles/tuned.yaml", "profiles/smoke.yaml", "profiles/full.yaml"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "reports").mkdir()
    recorded = json.loads((ROOT / "reports" / "tuning.json").read_text())["japanese_vowels"]["dglstm"]
    for dataset, architecture, chosen, params in (
        ("japanese_vowels", "gru", 3, {"hidden_size": 20, "learning_rate": 0.01}),
        ("japanese_vowels", "lstm", 0, {"hidden_size": 64, "learning_rate": 0.003}),  # the untuned trial won
        ("sunspots", "lstm", 0, {"hidden_size": 64}),
    ):
        record_result(
            tmp_path,
            {
                **recorded,
                "dataset": dataset,
                "architecture": architecture,
                "untuned_trial": 0,
                "chosen_trial": chosen,
                "chosen_params": params,
            },
        )
    profile = yaml.safe_load((tmp_path / "profiles" / "tuned.yaml").read_text())["tuned"]
    assert profile == {"japanese_vowels": {"gru": {"hidden_size": 20, "learning_rate": 0.01}}}
    raw = yaml.safe_load((tmp_path / "params.yaml").read_text())
    raw["architectures"]["lstm"]["hidden_size"] = 33  # a later edit of params.yaml
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**raw, "profile": ["tuned"]}, sort_keys=False))
    config = load_config(tmp_path / "params.yaml")
    assert config.architecture("lstm", "japanese_vowels").hidden_size == 33, "kept settings: the edit reaches it"
    assert config.architecture("gru", "japanese_vowels").hidden_size == 20


def test_the_profile_keeps_the_best_trial_no_dearer_than_the_untuned_settings_by_hand():
    """tune.max_cost: the untuned trial fits in 10 s; at 1.25 × a trial may take 12.5 s. Accuracy: the
    dearest trial is best (0.95 in 20 s), the profile takes 0.93 (12 s); MAE: the cheapest lowest."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from rnnlab.tuning import untuned_reference, within_cost

    def trial(number, value, seconds, fixed=False):
        made = create_trial(
            state=TrialState.COMPLETE,
            value=value,
            params={"learning_rate": 0.001 * (number + 1)},
            distributions={"learning_rate": FloatDistribution(1e-4, 1e-1)},
            user_attrs={"train_time_s": seconds},
            system_attrs={"fixed_params": {"learning_rate": 0.001}} if fixed else {},
        )
        made.number = number
        return made

    untuned = trial(0, 0.90, 10.0, fixed=True)
    trials = [untuned, trial(1, 0.95, 20.0), trial(2, 0.93, 12.0), trial(3, 0.92, 5.0), trial(4, 0.93, 12.5)]
    assert within_cost(trials, untuned, 1.25, greater=True).number == 2, "ties go to the earlier trial"
    assert within_cost(trials, untuned, None, greater=True).number == 1, "no limit: the best"
    assert within_cost(trials, untuned, 0.1, greater=True).number == 0, "the untuned trial always qualifies"
    assert within_cost(trials, untuned, 1.25, greater=False).number == 0, "MAE: 0.90 is the lowest"
    assert within_cost(trials, None, 1.25, greater=True) is None, "no untuned trial to measure the cost against"
    assert within_cost(trials, None, None, greater=True).number == 1, "no limit, no untuned trial: the best"
    # or 10 s more than the untuned fit where that is more: 20 s is within 10 + 10, so the dearest is the best
    assert within_cost(trials, untuned, 1.25, greater=True, max_extra_s=10.0).number == 1
    assert within_cost(trials, untuned, 1.25, greater=True, max_extra_s=9.9).number == 2, "20 s > 19.9 s"
    assert within_cost(trials, untuned, 2.0, greater=True, max_extra_s=1.0).number == 1, "2 × 10 s is more than 11 s"

    # the untuned settings measured twice (once beside other work): the faster fit sets the limit
    marked = [trial(k, 0.90, seconds, fixed=True) for k, seconds in ((5, 30.0), (6, 11.0))]
    for t in marked:
        t.user_attrs["untuned"] = True
    assert untuned_reference([trials[1], *marked, trials[2]]).number == 6
    assert untuned_reference(trials).number == 0, "a study from before the mark: its enqueued first trial"


def test_the_report_gives_the_confirmations_fit_ratio_seed_by_seed():
    """The cost limit reads one trial's fit against one untuned fit; the confirmation reads the pair again
    on each seed: 12/10, 30/10 and 9/12 here, the trial's seed first."""
    from rnnlab.tuning import _confirmed, fit_ratios

    confirmation = {
        "seeds": [0, 1, 2],
        "candidate_trial": 4,
        "candidate_values": [0.93, 0.92, 0.94],
        "candidate_mean": 0.93,
        "candidate_train_time_s": [12.0, 30.0, 9.0],
        "untuned_values": [0.90, 0.91, 0.89],
        "untuned_mean": 0.90,
        "untuned_train_time_s": [10.0, 10.0, 12.0],
        "kept_candidate": True,
    }
    assert fit_ratios(confirmation) == [1.2, 3.0, 0.75]
    assert _confirmed(confirmation).endswith("kept; fit × untuned's: 1.20, 3.00, 0.75")


def test_a_confirmed_candidate_is_kept_only_where_it_is_better_and_its_median_fit_is_within_the_limit():
    """The trial's seed alone (1.2 here) passed the 1.25 limit; the confirmation seeds read 1.3 and 1.4,
    so the median, 1.3 × the untuned fit (1.04 × the limit), is over it and the untuned settings stay.
    1.2, 3.0, 0.75: median 1.2, kept."""
    from rnnlab.tuning import _confirmed, decide, fit_over_limit

    def verdict(candidate_fits, untuned_fits, max_cost=1.25, max_extra_s=0.0, values=((0.93,) * 3, (0.90,) * 3)):
        return decide([list(v) for v in values], [candidate_fits, untuned_fits], max_cost, max_extra_s, True)

    untuned = [10.0, 10.0, 10.0]
    assert verdict([12.0, 30.0, 7.5], untuned)["kept_candidate"]
    dearer = verdict([12.0, 13.0, 14.0], untuned)
    assert dearer == {"better": True, "fit_over_limit_median": pytest.approx(13.0 / 12.5), "kept_candidate": False}
    assert verdict([12.5, 12.5, 90.0], untuned)["kept_candidate"], "at the limit is within it"
    assert verdict([50.0, 50.0, 50.0], untuned, None) == {
        "better": True,
        "fit_over_limit_median": None,
        "kept_candidate": True,
    }, "no limit"
    worse = verdict([10.0] * 3, untuned, values=((0.90,) * 3, (0.93,) * 3))
    assert not worse["better"] and not worse["kept_candidate"], "within the limit but worse"
    # 10 s more allowed: 20 s is within it (2 × the untuned fit), 21 s is not; on 100 s runs 1.25 × is more
    assert verdict([20.0, 21.0, 19.0], untuned, max_extra_s=10.0)["kept_candidate"]
    assert not verdict([21.0, 21.0, 19.0], untuned, max_extra_s=10.0)["kept_candidate"]
    hundred = [100.0] * 3
    assert verdict([125.0, 125.0, 0.0], hundred, max_extra_s=10.0)["kept_candidate"]
    assert not verdict([126.0] * 3, hundred, max_extra_s=10.0)["kept_candidate"]
    # the median of fit over limit, not of fit over untuned fit: seeds whose untuned fits differ rank apart
    # (ratios 3.0, 1.2, 1.6 -> median ratio 1.6; over the limits 1.0, 0.86, 1.07 -> median 1.0: kept)
    assert verdict([15.0, 30.0, 32.0], [5.0, 25.0, 20.0], max_extra_s=10.0)["fit_over_limit_median"] == 1.0
    # an untuned fit of 0 s: a limit of 0 s without extra seconds takes only a 0 s fit
    assert fit_over_limit([0.0, 1.0], [0.0, 0.0], 1.25) == [1.0, float("inf")]
    shown = {
        "seeds": [0, 1, 2],
        "candidate_trial": 4,
        "candidate_mean": 0.93,
        "candidate_train_time_s": [12.0, 13.0, 14.0],
        "untuned_mean": 0.90,
        "untuned_train_time_s": [10.0, 10.0, 10.0],
        **dearer,
    }
    assert (
        "untuned kept: dearer than the limit (median fit / limit 1.040); fit × untuned's: 1.20, 1.30, 1.40"
        in _confirmed(shown)
    )
    assert "0.9300 vs 0.9000 over seeds 0, 1, 2: untuned kept; fit" in _confirmed({**shown, **worse})


def test_tuning_seconds_count_the_trials_that_finished_or_were_pruned_not_one_a_kill_interrupted():
    """A trial whose process died is failed when the study goes on, a day later here: its span (from its
    start to that moment) is not how long it ran, so the study's seconds leave it out (60 + 30 s)."""
    from datetime import datetime, timedelta

    from optuna.trial import FrozenTrial, TrialState

    from rnnlab.tuning import tuning_seconds

    start = datetime(2026, 1, 1, 12, 0, 0)

    def trial(number, state, begins, seconds):
        return FrozenTrial(
            number=number,
            state=state,
            value=0.5 if state == TrialState.COMPLETE else None,
            values=None,
            datetime_start=start + timedelta(seconds=begins),
            datetime_complete=start + timedelta(seconds=begins + seconds),
            params={},
            distributions={},
            user_attrs={},
            system_attrs={},
            intermediate_values={0: 0.4},
            trial_id=number,
        )

    trials = [
        trial(0, TrialState.COMPLETE, 0, 60.0),
        trial(1, TrialState.PRUNED, 60, 30.0),
        trial(2, TrialState.FAIL, 90, 30 * 3600.0),  # killed mid-run, failed when the study resumed
    ]
    assert tuning_seconds(trials) == 90.0


def test_a_studys_data_is_what_its_trials_read_not_the_test_parts_reference_scores(project, tmp_path):
    """data_identity: the same train and validation parts with other test-part baselines (least-squares
    fits whose last digits vary with the CPU) are the same data; one validation row less is not."""
    import shutil

    import pandas as pd

    from rnnlab.tuning import data_identity

    base = project / "data" / "prepared" / "japanese_vowels"
    other = shutil.copytree(base, tmp_path / "other")
    meta = json.loads((other / "meta.json").read_text())
    meta["baselines"]["test"]["logistic regression on mean/std/min/max/first/last"]["accuracy"] += 1e-15
    (other / "meta.json").write_text(json.dumps(meta))
    assert data_identity(other) == data_identity(base)
    val = pd.read_parquet(other / "val.parquet")
    val.iloc[1:].to_parquet(other / "val.parquet", index=False)
    assert data_identity(other) != data_identity(base)


def test_tuned_settings_replace_the_untuned_only_where_their_mean_over_seeds_is_better():
    from rnnlab.tuning import keeps_candidate

    assert keeps_candidate([0.95, 0.90, 0.91], [0.92, 0.91, 0.90], greater=True), "0.920 beats 0.910"
    assert not keeps_candidate([0.99, 0.85, 0.86], [0.92, 0.91, 0.90], greater=True), "a lucky first seed: 0.900"
    assert not keeps_candidate([0.91, 0.91, 0.91], [0.92, 0.90, 0.91], greater=True), "a tie keeps params.yaml's"
    assert keeps_candidate([13.0, 14.0], [14.0, 14.0], greater=False), "MAE: 13.5 is below 14.0"
    assert not keeps_candidate([13.0, 16.0], [14.0, 14.0], greater=False), "MAE: 14.5 is not"


def test_a_dataset_of_tokens_also_tunes_its_embedding_size_and_a_run_builds_with_the_size_drawn():
    """INPUT_SPACES: symbols (shakespeare) add train.embedding_size to the space, numbers (japanese_vowels)
    do not; the untuned trial holds the dataset's own size; a trial's size reaches the built model."""
    from rnnlab.config import load_config
    from rnnlab.evaluate import build_model
    from rnnlab.tuning import entry_values, space_for, trial_config
    from tests.conftest import make_meta

    config = load_config(ROOT / "params.yaml")
    assert "embedding_size" not in space_for(config, "gru", "japanese_vowels")
    space = space_for(config, "gru", "shakespeare")
    assert (space["embedding_size"].low, space["embedding_size"].high) == (8, 64)
    own = config.dataset("shakespeare").tokens.embedding_size
    assert entry_values(config, "gru", "shakespeare", space)["embedding_size"] == own
    trial = trial_config(config, "gru", "shakespeare", {"embedding_size": 12, "hidden_size": 20})
    assert trial.train_for("shakespeare", "gru").embedding_size == 12
    assert config.train_for("shakespeare", "gru").embedding_size is None, "the pipeline's runs read the data's size"
    meta = make_meta(task="language_model", num_features=own, vocabulary=["a", "b", "c"])
    model = build_model(trial.architecture("gru", "shakespeare"), meta, 12)
    assert model.encoder.embedding.embedding_dim == 12
    assert build_model(config.architecture("gru"), meta).encoder.embedding.embedding_dim == own


def test_the_first_trial_is_exactly_the_pairs_own_settings_even_outside_the_registrys_ranges():
    """BasicMotions trains with batches of 8; the train space draws 16, 32 or 64: the space is widened to
    hold 8, and the enqueued first trial is params.yaml's setting, not what an earlier tuning chose."""
    from rnnlab.config import Config, load_config
    from rnnlab.tuning import entry_values, space_for

    config = load_config(ROOT / "params.yaml")
    space = space_for(config, "gru", "basic_motions")
    assert space["batch_size"].choices == [16, 32, 64, 8]
    assert set(entry_values(config, "gru", "basic_motions", space)) == set(space), "every setting enqueued"
    assert entry_values(config, "gru", "basic_motions", space)["batch_size"] == 8
    raw = config.model_dump(mode="json")
    raw["tuned"] = {"basic_motions": {"gru": {"batch_size": 64, "hidden_size": 20}}}
    retuned = Config.model_validate(raw)
    assert retuned.architecture("gru", "basic_motions").hidden_size == 20, "the tuned profile applies to training"
    again = entry_values(retuned, "gru", "basic_motions", space_for(retuned, "gru", "basic_motions"))
    assert (again["batch_size"], again["hidden_size"]) == (8, config.architecture("gru").hidden_size)


def test_a_dataset_can_have_its_own_number_of_trials_the_same_for_each_of_its_architectures():
    from rnnlab.config import Config, load_config
    from rnnlab.tuning import _budget, space_for

    raw = load_config(ROOT / "params.yaml").model_dump(mode="json")
    raw["tune"] = {**raw["tune"], "trials": 12, "dataset_trials": {"fine_food": 4}}
    config = Config.model_validate(raw)
    for architecture in ("lstm", "ntm"):
        budget = _budget(config, "fine_food", space_for(config, architecture, "fine_food"), "sha")
        assert budget["trials"] == 4
    assert _budget(config, "sunspots", space_for(config, "lstm", "sunspots"), "sha")["trials"] == 12


def test_the_committed_studies_are_the_ones_reports_tuning_describes():
    """tuning/<dataset>/<architecture>/study.journal is committed with reports/tuning.json: each recorded
    pair's journal holds its trials, its best value and the untuned reference the profile measured against."""
    import optuna

    from rnnlab.tuning import JOURNAL, study_dir, untuned_reference

    recorded = json.loads((ROOT / "reports" / "tuning.json").read_text())
    for dataset, pairs in recorded.items():
        for architecture, result in pairs.items():
            path = study_dir(ROOT, dataset, architecture) / JOURNAL
            storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
            study = optuna.load_study(study_name=f"{dataset}/{architecture}", storage=storage)
            finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
            assert len(finished) == result["trials_complete"] + result["trials_pruned"], (dataset, architecture)
            assert study.best_value == result["best_value"], (dataset, architecture)
            reference = untuned_reference(study.trials)
            assert (reference.number if reference else None) == result["untuned_trial"], (dataset, architecture)


def test_the_leaderboard_shows_a_studys_seconds_for_every_studied_pair_while_the_profile_is_on(tmp_path):
    from rnnlab.compare import tuning_seconds
    from rnnlab.config import Config, load_config

    (tmp_path / "reports").mkdir()
    studies = {"japanese_vowels": {"gru": {"tuning_time_s": 90.0}, "lstm": {"tuning_time_s": 60.0}}}
    (tmp_path / "reports" / "tuning.json").write_text(json.dumps(studies))
    raw = load_config(ROOT / "params.yaml").model_dump(mode="json")
    raw["tuned"] = {"japanese_vowels": {"gru": {"hidden_size": 20}}}  # lstm's study kept its settings: no entry
    on = Config.model_validate(raw)
    assert tuning_seconds(on, tmp_path, "japanese_vowels") == {"gru": 90.0, "lstm": 60.0}
    assert tuning_seconds(on, tmp_path, "sunspots") == {}, "no study"
    off = Config.model_validate({**raw, "tuned": {}})  # rnnlab profile none
    assert tuning_seconds(off, tmp_path, "japanese_vowels") == {}
