"""Faults of params.yaml that must stop before anything runs, with one line naming the key and the rule:
names that would run as shell code in dvc.yaml's commands, impossible seeds and trainer settings,
plan keys shared by two pairs, a multi-node setting outside a launcher, a deleted MLflow experiment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rnnlab import cli
from rnnlab.config import load_config
from rnnlab.errors import ConfigError
from tests.conftest import ROOT
from tests.test_config import write_params

LAUNCHER_VARIABLES = (
    "TORCHELASTIC_RUN_ID",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "GROUP_RANK",
    "NODE_RANK",
    "SLURM_NTASKS",
    "SLURM_JOB_NAME",
    "LSB_JOBID",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
)


def bad_error(tmp_path: Path, edit) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write_params(tmp_path, edit))
    message = str(info.value)
    assert "\n" not in message
    return message


# --- finding 10: names from params.yaml become shell words, folders and DVC stage names ---

BAD_NAMES = ["x$(touch p)", "../x", "Upper", "yes", "n" * 300, "two words"]


def as_dataset(name):
    def edit(p):
        p["datasets"][name] = {**p["datasets"]["japanese_vowels"], "source": "japanese_vowels"}
        p["pipeline"]["datasets"] = [name]

    return edit


def as_architecture(name):
    def edit(p):
        p["architectures"][name] = {**p["architectures"]["lstm"], "type": "lstm"}
        p["pipeline"]["architectures"] = [name]

    return edit


def as_experiment(name):
    def edit(p):
        p["experiments"][name] = p["experiments"]["copy_memory"]

    return edit


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("section, edit", [("datasets", as_dataset), ("architectures", as_architecture)])
def test_a_name_outside_the_rule_stops_plan_with_one_line(tmp_path, monkeypatch, capsys, name, section, edit):
    write_params(tmp_path, edit(name))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["plan"])  # what writes the names into plan.yaml, which dvc.yaml's shell commands expand
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert f"{section} key {name[:40]!r}" in lines[0] and "[a-z][a-z0-9_]{0,63}" in lines[0]
    assert len(name) <= 80 or f"({len(name)} characters)" in lines[0], "a long name is shown cut, with its length"
    assert not (tmp_path / "plan.yaml").exists(), "the name never reaches plan.yaml"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"], "nothing ran: no file p"
    assert not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize("name", ["x$(touch p)", "on"])
def test_an_experiment_name_outside_the_rule(tmp_path, name):
    message = bad_error(tmp_path, as_experiment(name))
    assert f"experiments key {name!r}" in message and "[a-z][a-z0-9_]{0,63}" in message


def test_an_unquoted_yaml_keyword_key_is_named_as_yaml_read_it(tmp_path):
    path = write_params(tmp_path, as_dataset("yes"))
    path.write_text(path.read_text().replace("'yes':", "yes:"))  # YAML 1.1 reads it as the boolean true
    with pytest.raises(ConfigError, match=r"datasets key True: .*yes, no, on, off") as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_the_name_rule_is_one_function_for_every_caller():
    from rnnlab.config import NAME_PATTERN, check_name

    assert check_name("a" * 64, "--name") == "a" * 64 and check_name("lstm_2", "--name") == "lstm_2"
    for bad in ("a" * 65, "ab\n", "null", "off", "_a", "1a", "a-b", "a.b", ""):
        with pytest.raises(ConfigError, match=r"^--name "):
            check_name(bad, "--name")
        assert NAME_PATTERN.match(bad) is None or bad in ("null", "off")


def test_every_shipped_name_follows_the_rule():
    from rnnlab.config import Config, with_profiles

    for profile in ("smoke", "full", "tuned"):
        params = {**yaml.safe_load((ROOT / "params.yaml").read_text()), "profile": [profile]}
        Config.model_validate(with_profiles(params, ROOT / "profiles")[0])
    load_config(ROOT / "params.yaml")


# --- finding 14: impossible settings fail in `rnnlab check`, not later with a traceback ---


def train(**changes):
    return lambda p: p["train"].update(changes)


def trainer(**changes):
    return lambda p: p["trainer"].update(changes)


SEED_RANGE = "a seed must be in 0..4294967295"
CPU_COUNT = "accelerator cpu takes a count"


@pytest.mark.parametrize(
    "edit, message",
    [
        (train(seeds=[-1]), rf"^params.yaml: train.seeds.0 = -1: {SEED_RANGE}"),
        (train(seeds=[0, 2**32]), rf"^params.yaml: train.seeds.1 = 4294967296: {SEED_RANGE}"),
        (train(seeds=[0, 1, 0]), r"^params.yaml: train.seeds = \[0, 1, 0\]: seed 0 is listed twice"),
        (
            lambda p: p["experiments"]["g2p"].update(seeds=[1, 1]),
            r"^params.yaml: experiments.g2p.seeds = \[1, 1\]: seed 1 is listed twice",
        ),
        (
            lambda p: p["datasets"]["plaid"].update(split_seed=-1),
            rf"^params.yaml: datasets.plaid.split_seed = -1: {SEED_RANGE}",
        ),
        (trainer(devices=0), r"^params.yaml: trainer.devices = 0: .*a count ≥ 1, -1 \(every GPU\)"),
        (trainer(devices=[]), r"^params.yaml: trainer.devices = \[\]: .*a non-empty list"),
        (trainer(devices=-2), r"^params.yaml: trainer.devices = -2: "),
        (trainer(accelerator="gpu", devices=[0, 0]), r"^params.yaml: trainer.devices = \[0, 0\]: .*distinct"),
        (trainer(accelerator="gpu", devices=[-1]), r"^params.yaml: trainer.devices = \[-1\]: "),
        (trainer(accelerator="cpu", devices=-1), rf"^params.yaml: trainer.devices = -1: {CPU_COUNT}"),
        (trainer(accelerator="cpu", devices=[0]), rf"^params.yaml: trainer.devices = \[0\]: {CPU_COUNT}"),
        (
            trainer(accelerator="cpu", precision="16-mixed"),
            r"^params.yaml: trainer.precision = '16-mixed': fp16 mixed precision needs a GPU.*bf16-mixed",
        ),
    ],
)
def test_impossible_settings_stop_with_one_line(tmp_path, edit, message):
    import re

    assert re.search(message, bad_error(tmp_path, edit))


@pytest.mark.parametrize(
    "settings",
    [
        {"accelerator": "cpu", "precision": "bf16-mixed"},
        {"accelerator": "gpu", "devices": [0, 1]},
        {"accelerator": "gpu", "devices": -1},
        {"accelerator": "cpu", "devices": 2},
        {"accelerator": "auto", "devices": "auto"},
    ],
)
def test_possible_trainer_settings_load(tmp_path, settings):
    loaded = load_config(write_params(tmp_path, lambda p: p["trainer"].update(settings))).trainer
    assert loaded.model_dump().items() >= settings.items()


def test_two_pairs_with_one_plan_key_stop_the_plan():
    from rnnlab.config import PipelineConfig
    from rnnlab.plan import plan

    config = load_config(ROOT / "params.yaml")
    datasets = {"c": config.datasets["japanese_vowels"], "b-c": config.datasets["basic_motions"]}
    architectures = {"a-b": config.architectures["lstm"], "a": config.architectures["gru"]}
    pipeline = PipelineConfig.model_construct(datasets=["c", "b-c"], architectures=["a-b", "a"])
    clashing = config.model_copy(update={"datasets": datasets, "architectures": architectures, "pipeline": pipeline})
    assert ("a-b", "c") in clashing.pairs() and ("a", "b-c") in clashing.pairs()
    clash = r"architecture 'a-b' on dataset 'c' and architecture 'a' on dataset 'b-c' both make stage key 'a-b-c'"
    with pytest.raises(ConfigError, match=clash) as info:
        plan(clashing)
    assert "\n" not in str(info.value)
    assert list(plan(config)["plan"]["train"]) == [f"{a}-{ds}" for a, ds in config.pairs()]


@pytest.fixture
def no_launcher(monkeypatch):
    for variable in LAUNCHER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_several_nodes_need_a_launcher(tmp_path):
    from rnnlab.config import launch_problem

    two = load_config(write_params(tmp_path, lambda p: p["trainer"].update(num_nodes=2))).trainer
    one = load_config(ROOT / "params.yaml").trainer
    problem = launch_problem(two, {})
    assert problem is not None and "\n" not in problem and "trainer.num_nodes = 2" in problem
    assert launch_problem(one, {}) is None
    torchrun = {"WORLD_SIZE": "4", "LOCAL_RANK": "0", "GROUP_RANK": "1", "TORCHELASTIC_RUN_ID": "x"}
    by_hand = {"NODE_RANK": "1", "MASTER_ADDR": "n0", "MASTER_PORT": "29500"}
    for environ in (torchrun, {"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "train"}, by_hand):
        assert launch_problem(two, environ) is None, environ
    interactive = {"SLURM_NTASKS": "4", "SLURM_JOB_NAME": "interactive"}  # srun --pty bash: Lightning sees no launcher
    assert launch_problem(two, interactive) is not None


def test_check_refuses_several_nodes_without_a_launcher(tmp_path, monkeypatch, capsys, no_launcher):
    write_params(tmp_path, lambda p: p["trainer"].update(num_nodes=2))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainer.num_nodes = 2" in err[0]


def test_train_refuses_several_nodes_without_a_launcher(tmp_path, monkeypatch, capsys, no_launcher):
    import rnnlab.train

    def must_not_train(*args, **kwargs):
        raise AssertionError("training started; Lightning would wait for the other nodes")

    write_params(tmp_path, lambda p: p["trainer"].update(num_nodes=2))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(rnnlab.train, "train_run", must_not_train)
    with pytest.raises(SystemExit) as exit_info:
        rnnlab.train.main(["--architecture", "lstm", "--dataset", "japanese_vowels", "--seed", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "trainer.num_nodes = 2" in err[0]


# --- a deleted MLflow experiment: restored, so training can log its runs ---


def test_a_deleted_experiment_is_restored_with_one_line(tmp_path, capsys):
    from mlflow import MlflowClient

    from rnnlab import tracking

    config = load_config(ROOT / "params.yaml")
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    first = tracking.ensure_experiment(client, config, tmp_path, "japanese_vowels")
    capsys.readouterr()
    client.delete_experiment(first)
    again = tracking.ensure_experiment(client, config, tmp_path, "japanese_vowels")
    assert again == first
    assert client.get_experiment(again).lifecycle_stage == "active"
    client.create_run(again)  # MLflow refuses this in a deleted experiment
    said = capsys.readouterr()
    lines = (said.out + said.err).strip().splitlines()
    assert len(lines) == 1 and "restored" in lines[0] and tracking.experiment_name("japanese_vowels") in lines[0]
    assert tracking.ensure_experiment(client, config, tmp_path, "japanese_vowels") == first
    assert capsys.readouterr().err == "", "an active experiment is used silently"


def test_experiments_open_on_the_training_runs_view(tmp_path):
    """MLflow 3's UI opens an experiment without a kind on its GenAI traces page; rnnlab's say they hold
    model development (the runs table). One made elsewhere without a kind gets it; a kind set in the UI stays."""
    from mlflow import MlflowClient

    from rnnlab import tracking

    config = load_config(ROOT / "params.yaml")
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    made = tracking.ensure_experiment(client, config, tmp_path, "japanese_vowels")
    assert client.get_experiment(made).tags["mlflow.experimentKind"] == "custom_model_development"
    bare = client.create_experiment(tracking.experiment_name("sunspots"))
    assert "mlflow.experimentKind" not in client.get_experiment(bare).tags
    assert tracking.ensure_experiment(client, config, tmp_path, "sunspots") == bare
    assert client.get_experiment(bare).tags["mlflow.experimentKind"] == "custom_model_development"
    client.set_experiment_tag(bare, "mlflow.experimentKind", "forecasting")
    tracking.ensure_experiment(client, config, tmp_path, "sunspots")
    assert client.get_experiment(bare).tags["mlflow.experimentKind"] == "forecasting"


def test_each_experiment_holds_a_comparison_view_of_its_training_runs_that_mlflow_can_search(tmp_path):
    """The saved view `make ui` links (mlflow.sharedViewState.rnnlab): its filter is one MLflow's search
    takes and that finds the training runs only, sorted by the task's validation selection metric in its
    direction; an experiment made without it (or with an older one) gets the current one."""
    from mlflow import MlflowClient

    from rnnlab import tracking

    config = load_config(ROOT / "params.yaml")
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    key = f"mlflow.sharedViewState.{tracking.COMPARISON_VIEW}"
    views = {}
    for dataset, metric, ascending in (("japanese_vowels", "accuracy", False), ("sunspots", "mae", True)):
        experiment = tracking.ensure_experiment(client, config, tmp_path, dataset)
        views[dataset] = json.loads(json.loads(client.get_experiment(experiment).tags[key])["state"])
        assert views[dataset]["orderByKey"] == f"metrics.`best_val_{metric}`"
        assert views[dataset]["orderByAsc"] is ascending, "best first: accuracy grows, MAE shrinks"
        assert views[dataset]["columnOrder"][:3] == [
            "tags.`architecture`",
            "tags.`seed`",
            f"metrics.`best_val_{metric}`",
        ]
        assert {"tags.`architecture`", "tags.`seed`", f"metrics.`test_{metric}`"} <= set(
            views[dataset]["selectedColumns"]
        )
    experiment = client.get_experiment_by_name(tracking.experiment_name("japanese_vowels")).experiment_id
    prepared = tmp_path / "data" / "prepared" / "japanese_vowels"
    prepared.mkdir(parents=True)
    trained = client.create_run(
        experiment, tags=tracking.run_tags(config, tmp_path, "lstm", "japanese_vowels", 0, prepared, "sha")
    )
    client.create_run(experiment, tags={"rnnlab.kind": "trial", "architecture": "lstm", "seed": "0"})
    client.create_run(experiment, tags={"rnnlab.kind": "tuning"})
    found = client.search_runs([experiment], views["japanese_vowels"]["searchFilter"])
    assert [r.info.run_id for r in found] == [trained.info.run_id]
    client.set_experiment_tag(experiment, key, "{}")
    tracking.ensure_experiment(client, config, tmp_path, "japanese_vowels")
    assert client.get_experiment(experiment).tags[key] == tracking.comparison_view("classify")
    assert tracking.comparison_url("http://127.0.0.1:5000", experiment).endswith(
        f"/#/experiments/{experiment}/runs?workflowType=machine_learning&viewStateShareKey=rnnlab"
    )
