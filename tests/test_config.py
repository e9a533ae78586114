"""params.yaml schema: bad values stop the run before any work, with one line that names the key,
the bad value and what is allowed, and a non-zero exit from every command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnnlab.config import load_config, read_params
from rnnlab.errors import ConfigError
from tests.conftest import ROOT, command_in_this_process

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def write_params(tmp_path: Path, edit) -> Path:
    """The project's params.yaml with its active profiles and study files composed in, edited, as one file
    in ``tmp_path`` (naming no profile: they are in it already)."""
    params, _ = read_params(ROOT / "params.yaml")
    params["profile"] = []
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_project_params_load():
    config = load_config(ROOT / "params.yaml")
    assert config.pipeline.architectures == [
        "rnn",
        "lstm",
        "gru",
        "dglstm",
        "dilated",
        "ntm",
        "attention",
        "act",
        "dialogue_rnn",
        "neural_programmer",
    ]
    assert len(config.train.seeds) >= 3, "the leaderboard's ± needs seeds"
    assert ("dialogue_rnn", "conversations") in config.pairs() and (
        "dialogue_rnn",
        "japanese_vowels",
    ) not in config.pairs()
    assert config.architecture("gru").convention == "course"


def test_entries_state_only_what_differs_from_the_defaults(tmp_path):
    """A dataset entry starts from defaults.datasets (a key it sets wins) with its name as source; an
    architecture entry from its type's defaults in the registry, with its name as type."""
    assert (
        "split_seed" not in PARAMS["datasets"]["japanese_vowels"]
        and "source" not in PARAMS["datasets"]["japanese_vowels"]
    )
    config = load_config(ROOT / "params.yaml")
    vowels = config.dataset("japanese_vowels")
    assert (vowels.source, vowels.split_seed, vowels.max_length, vowels.train) == ("japanese_vowels", 0, None, {})
    assert (
        config.dataset("fine_food").max_length
        == PARAMS["datasets"]["fine_food"]["max_length"]
        != PARAMS["defaults"]["datasets"]["max_length"]
    )
    assert (
        config.architecture("lstm").num_layers,
        config.architecture("lstm").init,
        config.architecture("lstm").backend,
    ) == (1, "pytorch", "auto")
    assert config.architecture("act_parity").type == "act" and config.architecture("act_parity").max_steps == 20

    def moved(p):
        p["defaults"]["datasets"]["split_seed"] = 5
        p["datasets"]["basic_motions"]["split_seed"] = 3

    config = load_config(write_params(tmp_path, moved))
    assert config.dataset("japanese_vowels").split_seed == 5 and config.dataset("basic_motions").split_seed == 3


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda p: p["defaults"]["datasets"].update(split_sed=1),
            r"^params.yaml: defaults.datasets: unknown key 'split_sed' \(allowed: val_fraction, ",
        ),
        (lambda p: p["defaults"]["datasets"].update(source="adding"), r"unknown key 'source'"),
        (lambda p: p["defaults"]["datasets"].pop("split_seed"), r"missing key 'datasets.japanese_vowels.split_seed'"),
        (lambda p: p["train"].update(max_epoch=3), r"unknown key 'train.max_epoch' \(allowed: seeds, max_epochs, "),
        (lambda p: p.update(training={}), r"unknown key 'training' \(allowed: pipeline, datasets, "),
        (lambda p: p["train"].update(batch_size="big"), r"train.batch_size = 'big': Input should be a valid integer"),
        (lambda p: p["train"].update(learning_rate=-1), r"train.learning_rate = -1: Input should be greater than 0"),
        (
            lambda p: p["datasets"]["japanese_vowels"].update(source="vowels"),
            r"datasets.japanese_vowels.source = 'vowels': unknown source \(allowed: japanese_vowels",
        ),
        (
            lambda p: p["architectures"].update(transformer={"hidden_size": 4}),
            r"architectures.transformer.type = 'transformer': unknown architecture "
            r"\(allowed: rnn, lstm, gru, dglstm, dilated, ntm, attention, act, stepwise, "
            r"dialogue_rnn, neural_programmer\)",
        ),
        (
            lambda p: (
                p["pipeline"].update(datasets=["japanese_vowels"])
                or p["pipeline"].update(architectures=["neural_programmer"])
            ),
            r"no architecture in pipeline.architectures supports task 'classify' of dataset 'japanese_vowels'",
        ),
        (
            lambda p: p["experiments"]["table_programs"].update(datasets=["adding"]),
            r"experiments.table_programs: neural_programmer cannot train on adding: neural_programmer "
            r"reads a question and a table, one cell a step: it needs a table_questions dataset",
        ),
        (
            lambda p: p["datasets"]["table_questions"].update(sequence_scale=True),
            r"experiments.table_programs: neural_programmer cannot train on table_questions: neural_programmer "
            r"reads a question and a table, one cell a step: it needs a table_questions dataset read as written "
            r"\(no downsample, frame or sequence_scale\)",
        ),
        (
            lambda p: p["datasets"]["conversations"].pop("speakers"),
            r"datasets.conversations: source 'conversations' writes dialogues \(a speaker column\): set speakers: true",
        ),
        (
            lambda p: p["datasets"]["japanese_vowels"].update(speakers=True),
            r"datasets.japanese_vowels: speakers: source 'japanese_vowels' has no speaker column",
        ),
        (
            lambda p: p["experiments"]["dialogue_parties"].update(datasets=["japanese_vowels"]),
            r"experiments.dialogue_parties: dialogue_rnn cannot train on japanese_vowels: "
            r"dialogue_rnn reads who speaks each utterance: it needs a dialogue dataset",
        ),
        (
            lambda p: p["datasets"]["conversations"]["generator"].update(min_parties=7),
            r"generator: need min_parties ≤ max_parties",
        ),
        (
            lambda p: p["architectures"]["lstm"].update(convention="course"),
            r"unknown key 'architectures.lstm.convention' \(allowed: type, hidden_size, ",
        ),
        (
            lambda p: p["architectures"]["attention"].update(attention="mlp"),
            r"architectures.attention.attention = 'mlp': Input should be 'additive', 'general' or 'dot'",
        ),
        (
            lambda p: p["architectures"]["act"].update(epsilon=1.5),
            r"architectures.act.epsilon = 1.5: Input should be less than 1",
        ),
        (
            lambda p: p["datasets"]["cmudict_g2p"].update(max_length=5),
            r"datasets.cmudict_g2p: max_length must be null for seq2seq",
        ),
        (
            lambda p: p["datasets"]["cmudict_g2p"].pop("target_embedding_size"),
            r"missing key 'datasets.cmudict_g2p.target_embedding_size'",
        ),
        (
            lambda p: p["architectures"]["gru"].update(convention="keras"),
            r"architectures.gru.convention = 'keras': Input should be 'course' or 'pytorch'",
        ),
        (lambda p: p["architectures"]["rnn"].update(backend="cuda"), r"architectures.rnn.backend = 'cuda'"),
        (
            lambda p: p["pipeline"].update(datasets=["timit"]),
            r"pipeline.datasets names 'timit', which is not defined under datasets",
        ),
        (
            lambda p: p["datasets"]["sunspots"].update(task="translate"),
            r"datasets.sunspots.task = 'translate': unknown task \(allowed: classify, label_steps, "
            r"label_bits, regress, ",
        ),
        (
            lambda p: p["datasets"]["copy_memory_100"].pop("generator"),
            r"datasets.copy_memory_100: source 'copy_memory' is generated: set generator \(delay, "
            r"copy_length, symbols, sequences, seed\)",
        ),
        (
            lambda p: p["datasets"]["copy_memory_100"]["generator"].update(length=5),
            r"datasets.copy_memory_100: generator: unknown key 'length' \(allowed: delay, ",
        ),
        (
            lambda p: p["datasets"]["copy_memory_200"]["generator"].update(delay=0),
            r"datasets.copy_memory_200: generator.delay = 0: Input should be greater than 0",
        ),
        (lambda p: p["datasets"]["adding"]["generator"].pop("seed"), r"datasets.adding: generator: missing key 'seed'"),
        (
            lambda p: p["datasets"]["copy_bits"]["generator"].update(min_length=30),
            r"datasets.copy_bits: generator: min_length 30 > max_length 20$",
        ),
        (
            lambda p: p["datasets"]["japanese_vowels"].update(generator={"seed": 1}),
            r"datasets.japanese_vowels: generator: source 'japanese_vowels' is not generated; remove the generator key",
        ),
        (
            lambda p: p["experiments"]["copy_memory"].update(datasets=["timit"]),
            r"experiments.copy_memory.datasets names 'timit', which is not defined under datasets",
        ),
        (
            lambda p: p["experiments"]["pixel_mnist"].update(seeds=[]),
            r"experiments.pixel_mnist.seeds = \[\]: List should have at least 1 item",
        ),
        (
            lambda p: p["datasets"]["sunspots"].update(window=0),
            r"datasets.sunspots.window = 0: Input should be greater than 0",
        ),
        (lambda p: p["datasets"]["sunspots"].update(max_length=10), r"max_length must be null for forecast"),
        (
            lambda p: p["datasets"]["japanese_vowels"].update(window=10),
            r"unknown key 'datasets.japanese_vowels.window' \(allowed: source, val_fraction, ",
        ),
        (lambda p: p["datasets"]["sunspots"].pop("target"), r"missing key 'datasets.sunspots.target'"),
        (
            lambda p: p["datasets"]["shakespeare"]["tokens"].update(min_count=0),
            r"datasets.shakespeare.tokens.min_count = 0",
        ),
        (
            lambda p: p["datasets"]["plaid"]["train"].update(seeds=[1]),
            r"datasets.plaid.train: unknown key 'seeds' \(allowed: batch_size, ",
        ),
        (
            lambda p: p["datasets"]["plaid"]["train"].update(max_epochs=0),
            r"datasets.plaid.train.max_epochs = 0: Input should be greater than 0",
        ),
        (
            lambda p: (
                p["pipeline"].update(architectures=["birnn"])
                or p["architectures"].update(birnn={**p["architectures"]["rnn"], "type": "rnn", "bidirectional": True})
                or p["pipeline"].update(datasets=["shakespeare"])
            ),
            r"no architecture in pipeline.architectures supports task 'language_model' of dataset 'shakespeare'",
        ),
        (
            lambda p: p["pipeline"].update(architectures=["transformer"]),
            r"pipeline.architectures names 'transformer', which is not defined under architectures "
            r"\(defined: rnn, lstm, gru, dglstm, dilated, ",
        ),
        (lambda p: p["train"].pop("seeds"), r"missing key 'train.seeds'"),
        (
            lambda p: p["datasets"]["japanese_vowels"].update(val_fraction=1.5),
            r"datasets.japanese_vowels.val_fraction = 1.5: Input should be less than 1",
        ),
    ],
)
def test_bad_params_name_key_value_and_allowed(tmp_path, edit, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write_params(tmp_path, edit))
    assert "\n" not in str(info.value)


def test_incompatible_pairs_are_skipped_with_the_reason():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["architectures"]["birnn"] = {**params["architectures"]["rnn"], "type": "rnn", "bidirectional": True}
    params["pipeline"]["architectures"] = ["lstm", "birnn"]
    from rnnlab.config import Config

    config = Config.model_validate(params)
    assert ("birnn", "shakespeare") not in config.pairs() and ("lstm", "shakespeare") in config.pairs()
    assert ("birnn", "japanese_vowels") in config.pairs(), "bidirectional is fine where the whole sequence is the input"
    assert [(a, d) for a, d, _ in config.skipped()] == [("birnn", "shakespeare")]
    assert "bidirectional encoder would read the answer" in config.skipped()[0][2]


def test_the_committed_plan_matches_params():
    from rnnlab.plan import check_plan

    check_plan(ROOT, load_config(ROOT / "params.yaml"))


def test_the_committed_lock_records_only_stages_the_pipeline_defines():
    from rnnlab.plan import LOCKED_STAGE, stage_names

    locked = set(LOCKED_STAGE.findall((ROOT / "dvc.lock").read_text()))
    assert locked == set(yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]), "the pattern finds every entry"
    assert locked <= stage_names(ROOT), (
        f"dvc.lock keeps stages dvc.yaml no longer defines: {locked - stage_names(ROOT)}"
    )


def test_writing_the_plan_drops_the_lock_entries_of_stages_no_longer_defined(tmp_path):
    from rnnlab.plan import prune_lock, stage_names

    for name in ("dvc.yaml", "dvc.lock", "plan.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    kept = dict(lock["stages"])
    lock["stages"]["prepare@gone"] = dict(
        lock["stages"]["prepare@japanese_vowels"]
    )  # a dataset taken out of the pipeline
    lock["stages"]["train@lstm-gone"] = dict(lock["stages"]["train"])  # a stage dvc.yaml no longer has
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    assert "prepare@japanese_vowels" in stage_names(tmp_path) and "prepare@gone" not in stage_names(tmp_path)
    assert prune_lock(tmp_path) == ["prepare@gone", "train@lstm-gone"]
    assert yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"] == kept, "every other entry as it was"
    assert prune_lock(tmp_path) == []
    # a foreach over a list plan.yaml does not hold: nothing can be called gone, nothing is dropped
    pipeline = (tmp_path / "dvc.yaml").read_text().replace("${plan.prepare}", "${other.prepare}")
    (tmp_path / "dvc.yaml").write_text(pipeline)
    (tmp_path / "dvc.lock").write_text(
        yaml.safe_dump({**lock, "stages": {**kept, "prepare@gone": dict(kept["compose"])}})
    )
    assert stage_names(tmp_path) is None and prune_lock(tmp_path) == []


def test_a_dataset_changes_only_its_own_training_settings():
    config = load_config(ROOT / "params.yaml")
    assert config.train_for("plaid").max_epochs == PARAMS["datasets"]["plaid"]["train"]["max_epochs"]
    assert config.train_for("japanese_vowels").max_epochs == PARAMS["train"]["max_epochs"]
    assert config.train_for("plaid").seeds == config.train.seeds


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  seeds: [0\n  max_epochs: 3\n")
    with pytest.raises(ConfigError, match=r"params.yaml: line \d+, column \d+ is not valid YAML"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections at the top level, got list"):
        load_config(path)


def test_a_command_stops_before_any_work_with_one_line_and_exit_2(tmp_path):
    path = write_params(tmp_path, lambda p: p["train"].update(batch_size=0))
    (tmp_path / "models").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "rnnlab.train", "--architecture", "lstm", "--dataset", "japanese_vowels", "--seed", "0"],
        cwd=path.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rnnlab: error: params.yaml: train.batch_size = 0: Input should be greater than 0"
    ]
    assert list((tmp_path / "models").iterdir()) == [], "nothing may be written"


def test_unknown_names_on_the_command_line(tmp_path):
    from rnnlab import train

    path = write_params(tmp_path, lambda p: None)
    argv = ["--architecture", "lstmm", "--dataset", "japanese_vowels", "--seed", "0"]
    result = command_in_this_process(train.main, argv, path.parent)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (
        "architecture 'lstmm' is not defined in params.yaml (defined: rnn, lstm, gru, dglstm, dilated, "
        in result.stderr
    )


def profile_project(tmp_path: Path) -> Path:
    """params.yaml, plan.yaml, params.effective.yaml and profiles/ of the project, in ``tmp_path``."""
    import shutil

    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    for file in ("params.yaml", "plan.yaml", "params.effective.yaml"):
        shutil.copy(ROOT / file, tmp_path / file)
    return tmp_path


@pytest.mark.parametrize("name", ["smoke", "full"])
def test_a_profile_is_one_key_of_params_and_applies_when_the_config_loads(tmp_path, name):
    from rnnlab.plan import check_plan
    from rnnlab.profiles import apply_profile

    before = (profile_project(tmp_path) / "params.yaml").read_text()
    default = yaml.safe_load(before)["profile"]  # the committed default's own profiles
    config = apply_profile(tmp_path, name)
    after = (tmp_path / "params.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert [(a.split("#")[0].strip(), b.split("#")[0].strip()) for a, b in changed] == [
        (f"profile: [{', '.join(default)}]", f"profile: [{name}]")
    ], "one line changes; its comment stays"
    assert "# profiles/NAME.yaml merged in" in changed[0][1]
    assert load_config(tmp_path / "params.yaml") == config and config.profile == [name]
    check_plan(tmp_path, config)  # plan.yaml and params.effective.yaml follow the composed values
    effective = yaml.safe_load((tmp_path / "params.effective.yaml").read_text())
    assert effective["pipeline"] == config.pipeline.model_dump() and effective["profile"] == [name]
    changes = yaml.safe_load((ROOT / "profiles" / f"{name}.yaml").read_text())
    assert config.pipeline.datasets == changes["pipeline"]["datasets"]
    if name == "full":  # an empty mapping replaces: the default's training overrides are cleared
        assert config.dataset("plaid").train == {} and config.dataset("mnist_pixels").train["max_epochs"] == 100
    apply_profile(tmp_path, *(default or ["none"]))
    assert (tmp_path / "params.yaml").read_text() == before, "back to params.yaml as written"
    assert (tmp_path / "params.effective.yaml").read_text() == (ROOT / "params.effective.yaml").read_text()


def test_a_profile_list_written_as_a_block_is_replaced_whole(tmp_path):
    """A params.yaml written by a YAML dumper holds ``profile:`` and its names on the lines below;
    rnnlab profile replaces the key and its items, and nothing else."""
    from rnnlab.profiles import apply_profile

    params = yaml.safe_load((profile_project(tmp_path) / "params.yaml").read_text())
    params["profile"] = ["tuned", "smoke"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "profile:\n- tuned\n- smoke\n" in (tmp_path / "params.yaml").read_text()
    config = apply_profile(tmp_path, "full")
    assert config.profile == ["full"] and load_config(tmp_path / "params.yaml") == config
    written = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert written == {**params, "profile": ["full"]}, "every other key as it was"


def test_profiles_apply_in_order(tmp_path):
    from rnnlab.profiles import apply_profile

    (profile_project(tmp_path) / "profiles" / "tiny_lstm.yaml").write_text(
        "architectures:\n  lstm:\n    hidden_size: 8\n"
    )
    config = apply_profile(tmp_path, "smoke", "tiny_lstm")
    assert config.profile == ["smoke", "tiny_lstm"] and config.architecture("lstm").hidden_size == 8
    assert config.train.max_epochs == 4, "smoke's changes stay where the later profile says nothing"
    assert apply_profile(tmp_path, "tiny_lstm", "smoke").architecture("lstm").hidden_size == 16, "the last one wins"


def test_a_profile_that_breaks_params_writes_nothing(tmp_path):
    from rnnlab.profiles import apply_profile

    (profile_project(tmp_path) / "profiles" / "broken.yaml").write_text("train:\n  batch_size: 0\n")
    before = {f: (tmp_path / f).read_text() for f in ("params.yaml", "plan.yaml", "params.effective.yaml")}
    with pytest.raises(
        ConfigError,
        match=r"^profile broken: profiles/broken.yaml: train.batch_size = 0: Input should be greater than 0$",
    ):
        apply_profile(tmp_path, "broken")
    with pytest.raises(ConfigError, match=r"^no profile 'huge' \(available: broken, full, smoke, tuned\)$"):
        apply_profile(tmp_path, "huge")
    assert {f: (tmp_path / f).read_text() for f in before} == before


@pytest.mark.parametrize(
    "profile, message",
    [
        (
            {"train": {"batch_sise": 8}},
            r"^profiles/bad.yaml: unknown key 'train.batch_sise' \(allowed: seeds, max_epochs, batch_size, ",
        ),
        (
            {"datasets": {"sunspots": {"windw": 8}}},
            r"^profiles/bad.yaml: unknown key 'datasets.sunspots.windw' \(allowed: source, val_fraction, ",
        ),
        ({"trian": {}}, r"^profiles/bad.yaml: unknown key 'trian' \(allowed: pipeline, datasets, "),
        ({"datasets": {"sunspots": {"window": 0}}}, r"^profiles/bad.yaml: datasets.sunspots.window = 0: "),
        ({"profile": ["smoke"]}, r"^profiles/bad.yaml: unknown key 'profile' \(a profile does not name profiles; "),
        ({"train": {"batch_size": 8}, "tuned": 3}, r"^profiles/bad.yaml: tuned = 3: Input should be a valid dict"),
    ],
)
def test_a_bad_key_in_a_profile_fails_at_load_naming_the_profile_file(tmp_path, profile, message):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.yaml").write_text(yaml.safe_dump(profile))
    path = write_params(tmp_path, lambda p: p.update(profile=["bad"]))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_params_names_profiles_that_exist(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "small.yaml").write_text("train: {max_epochs: 2}\n")
    with pytest.raises(ConfigError, match=r"^params.yaml: profile: no profile 'huge' \(available: small\)$"):
        load_config(write_params(tmp_path, lambda p: p.update(profile=["small", "huge"])))
    with pytest.raises(ConfigError, match=r"^params.yaml: profile = 3: a profile name or a list of them"):
        load_config(write_params(tmp_path, lambda p: p.update(profile=3)))
    assert load_config(write_params(tmp_path, lambda p: p.update(profile="small"))).train.max_epochs == 2
    message = r"^params.yaml: train.batch_size = 0: "  # a key the profile does not write: params.yaml's
    with pytest.raises(ConfigError, match=message):
        load_config(write_params(tmp_path, lambda p: p.update(profile=["small"]) or p["train"].update(batch_size=0)))


def test_dvc_sees_a_profile_switch_in_exactly_the_stages_that_read_its_values(tmp_path):
    """Real DVC in a copy: the stages declare their params from params.effective.yaml, which compose
    (and rnnlab profile) write from params.yaml and its profiles."""
    import json
    import os

    from rnnlab.paths import copy_project

    root = copy_project(ROOT, tmp_path / "project")
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    run = lambda *cmd: subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)  # noqa: E731
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q", "-f"] if not (root / ".dvc").is_dir() else ["true"]):
        assert run(*cmd).returncode == 0
    (root / "dvc.lock").unlink(missing_ok=True)
    watched = ["compose", "ingest@sunspots", "ingest@basic_motions"]
    for out in ("data/raw/sunspots", "data/raw/basic_motions"):
        (root / out).mkdir(parents=True)
        (root / out / "table.parquet").write_text("placeholder")
    done = run("dvc", "repro", "--single-item", "compose")
    assert done.returncode == 0, done.stdout + done.stderr
    done = run("dvc", "commit", "-f", *watched[1:])
    assert done.returncode == 0, done.stdout + done.stderr

    def stale() -> list[str]:
        status = run("dvc", "status", "--json", *watched)
        assert status.returncode == 0, status.stderr
        return sorted(json.loads(status.stdout))

    assert stale() == [] and stale() == [], "nothing changed: nothing to run"
    (root / "profiles" / "short.yaml").write_text("datasets:\n  sunspots:\n    window: 24\n")
    switched = run(sys.executable, "-m", "rnnlab.cli", "profile", "short")
    assert switched.returncode == 0, switched.stderr
    assert stale() == ["compose", "ingest@sunspots"], "basic_motions reads nothing the profile changes"
    done = run("dvc", "repro", "--single-item", "compose")
    assert done.returncode == 0, done.stdout + done.stderr
    assert stale() == ["ingest@sunspots"] and stale() == ["ingest@sunspots"]
    done = run("dvc", "commit", "-f", "ingest@sunspots")  # as if it ran
    assert done.returncode == 0 and stale() == [], done.stdout + done.stderr
    # an edit of the active profile, then a plain dvc repro: compose rewrites the values, DVC sees them
    (root / "profiles" / "short.yaml").write_text("datasets:\n  sunspots:\n    window: 12\n")
    done = run("dvc", "repro", "--single-item", "compose")
    assert done.returncode == 0, done.stdout + done.stderr
    assert yaml.safe_load((root / "params.effective.yaml").read_text())["datasets"]["sunspots"]["window"] == 12
    assert stale() == ["ingest@sunspots"]
    back = run(sys.executable, "-m", "rnnlab.cli", "profile", "none")
    assert back.returncode == 0, back.stderr
    assert stale() == ["compose", "ingest@sunspots"], "sunspots differs from the window it last ran with"


def test_every_search_space_names_settings_its_architecture_has_and_the_task_allows():
    """The registry's spaces name real settings; a trial's values make a valid config; a causal task
    (each step predicted from the ones before it) never draws a bidirectional encoder."""
    from rnnlab.architectures import ARCHITECTURES
    from rnnlab.search_space import Choice
    from rnnlab.tuning import space_for, trial_config

    for arch in ARCHITECTURES.values():
        assert arch.space and set(arch.space) <= set(arch.params.model_fields) - {"type"}, arch.name
    config = load_config(ROOT / "params.yaml")
    for architecture, dataset in config.pairs():
        space = space_for(config, architecture, dataset)
        values = {name: entry.choices[-1] if isinstance(entry, Choice) else entry.high for name, entry in space.items()}
        trial = trial_config(config, architecture, dataset, values)
        assert trial.train_for(dataset).max_epochs == (config.tune.max_epochs or config.train_for(dataset).max_epochs)
        for name, value in values.items():
            held = getattr(trial.architecture(architecture), name, None)
            assert held == value or getattr(trial.train_for(dataset), name) == value, (architecture, dataset, name)
    causal = space_for(config, "lstm", "shakespeare")["bidirectional"]
    assert causal.choices == [False], "a language model reads only the past"
    assert space_for(config, "lstm", "japanese_vowels")["bidirectional"].choices == [False, True]


def test_an_entry_with_a_base_is_that_entry_with_its_own_keys_merged_in():
    config = load_config(ROOT / "params.yaml")
    p2, p4, conversations = (config.dataset(n) for n in ("conversations_p2", "conversations_p4", "conversations"))
    assert p2.source == p4.source == "conversations" and p4.task == conversations.task
    assert (p4.generator["min_parties"], p4.generator["max_parties"]) == (4, 4)
    assert {k: v for k, v in p4.generator.items() if "parties" not in k} == {
        k: v for k, v in conversations.generator.items() if "parties" not in k
    }
    assert p4.train == {**conversations.train, "num_threads": 1}, "mappings merge key by key, through the chain"
    tau = config.architecture("act_parity_tau1")
    assert (tau.type, tau.time_penalty, tau.max_steps) == ("act", 0.1, config.architecture("act_parity").max_steps)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda p: p["datasets"]["basic_motions"].update(base="vowels"),
            r"^params.yaml: datasets.basic_motions.base = 'vowels': "
            r"not an entry of datasets \(defined: japanese_vowels, ",
        ),
        (
            lambda p: (
                p["architectures"]["gru"].update(base="gru_speakers")
                or p["architectures"]["gru_speakers"].update(base="gru")
            ),
            r"^params.yaml: architectures.gru_speakers.base: "
            r"entries based on each other \(gru -> gru_speakers -> gru\)$",
        ),
    ],
)
def test_a_bad_base_is_named_in_one_line(tmp_path, edit, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write_params(tmp_path, edit))
    assert "\n" not in str(info.value)


def study_project(tmp_path: Path, studies: dict[str, str]) -> Path:
    """params.yaml as the project has it, its profiles and the given study files beside it."""
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (tmp_path / "studies").mkdir()
    for name, text in studies.items():
        (tmp_path / "studies" / f"{name}.yaml").write_text(text)
    return tmp_path / "params.yaml"


STUDY = "study: {datasets: [tiny_parity], architectures: [rnn], seeds: [0]}\n"
TINY = "datasets:\n  tiny_parity: {base: parity, generator: {sequences: 100}}\n"


def test_a_study_file_adds_its_experiment_and_its_own_entries(tmp_path):
    config = load_config(study_project(tmp_path, {"tiny": STUDY + TINY}))
    assert config.experiments["tiny"].datasets == ["tiny_parity"] and list(config.experiments) == ["tiny"]
    assert (
        config.dataset("tiny_parity").generator["sequences"] == 100 and config.dataset("tiny_parity").source == "parity"
    )


@pytest.mark.parametrize(
    "studies, message",
    [
        (
            {"tiny": STUDY + TINY + "models: {}\n"},
            r"^studies/tiny.yaml: unknown key 'models' \(allowed: study, datasets, architectures\)$",
        ),
        ({"tiny": TINY}, r"^studies/tiny.yaml: missing key 'study' "),
        (
            {"tiny": STUDY + TINY, "again": STUDY.replace("rnn", "lstm") + TINY},
            r"^studies/tiny.yaml: datasets.tiny_parity is defined twice \(also in studies/again.yaml\)$",
        ),
        (
            {"tiny": STUDY + "datasets:\n  parity: {task: classify, val_fraction: 0.1}\n"},
            r"^studies/tiny.yaml: datasets.parity is defined twice \(also in params.yaml\)$",
        ),
        (
            {"tiny": STUDY.replace("seeds: [0]", "seeds: []") + TINY},
            r"^studies/tiny.yaml: experiments.tiny.seeds = \[\]: ",
        ),
        (
            {"tiny": STUDY + TINY.replace("sequences: 100", "sequences: 0")},
            r"^studies/tiny.yaml: datasets.tiny_parity: generator.sequences = 0: ",
        ),
        ({"tiny": "study: [\n"}, r"^.*studies/tiny.yaml: line \d+, column \d+ is not valid YAML"),
    ],
)
def test_a_bad_study_file_is_named_in_one_line(tmp_path, studies, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(study_project(tmp_path, studies))
    assert "\n" not in str(info.value)


def test_the_pipeline_entries_live_in_params_yaml(tmp_path):
    path = study_project(tmp_path, {"tiny": STUDY + TINY})
    params = yaml.safe_load(path.read_text())
    params["pipeline"]["datasets"].append("tiny_parity")
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(
        ConfigError, match=r"^studies/tiny.yaml: defines datasets.tiny_parity, which pipeline.datasets names: "
    ):
        load_config(path)


def test_a_params_yaml_entry_does_not_start_from_a_study_entry(tmp_path):
    path = study_project(tmp_path, {"tiny": STUDY + TINY})
    params = yaml.safe_load(path.read_text())
    params["datasets"]["associative_recall"]["base"] = "tiny_parity"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(
        ConfigError, match=r"^params.yaml: datasets.associative_recall.base = 'tiny_parity': an entry of "
    ):
        load_config(path)


def test_retuned_pairs_are_the_tuned_entries_that_change_what_a_pair_trains():
    from rnnlab.config import Config

    raw = load_config(ROOT / "params.yaml").model_dump(mode="json")
    own = raw["architectures"]["gru"]["hidden_size"]
    raw["tuned"] = {
        "japanese_vowels": {"gru": {"hidden_size": own}, "lstm": {"hidden_size": own + 1}},  # a repeat, a change
        "shakespeare": {"gru": {"embedding_size": raw["datasets"]["shakespeare"]["tokens"]["embedding_size"]}},
    }
    config = Config.model_validate(raw)
    assert config.retuned_pairs() == [("lstm", "japanese_vowels")], "the data's own token size is no change"
