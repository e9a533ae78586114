"""Faults an unlucky user meets: a kill mid-write, two commands at once, a stale checkpoint, a tree
that differs from its commit. Each test sets the fault up for real (processes, files, git, an MLflow
store) and checks that nothing is lost, half-written or misread; the training-level cases (a kill
between logging and checkpointing, studies beside the pipeline, champion promotion) live with the
suites that train: test_distributed, test_experiments, test_pipeline_e2e."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab import files
from rnnlab.lock import HELD_ENV, ProjectBusy, project_lock
from tests.conftest import ROOT, make_meta
from tests.test_import import project, run_import, snapshot, user_table  # noqa: F401 (project: a fixture)

HOLD = (
    "import sys, time\n"
    "from rnnlab.lock import project_lock\n"
    "with project_lock(sys.argv[1], sys.argv[2]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(120)"
)


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds ``root``'s project lock until the test ends (or kills it)."""
    started = []

    def hold(root: Path, what: str = "a long command") -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(root), what], stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait()


# --- the project lock ---------------------------------------------------------------------------


def test_a_second_command_is_refused_with_one_line_naming_the_holder(tmp_path, holder):
    process = holder(tmp_path, "make pipeline")
    with pytest.raises(ProjectBusy) as busy:
        with project_lock(tmp_path, "rnnlab import"):
            pytest.fail("the lock was held by another process")
    message = str(busy.value)
    assert "\n" not in message and f"make pipeline (pid {process.pid}" in message and "rnnlab import waits" in message


def test_a_killed_holder_leaves_the_project_unlocked(tmp_path, holder):
    process = holder(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait()
    with project_lock(tmp_path, "the next command"):
        assert os.environ[HELD_ENV] == str(tmp_path.resolve())
    assert HELD_ENV not in os.environ


def test_the_holders_children_pass_through_and_others_wait(tmp_path):
    """`python -m rnnlab.lock` runs its command holding the lock: a child that asks for it again (as
    `rnnlab plan` does inside `make pipeline`) goes through instead of waiting for its parent."""
    inner = (
        f"from rnnlab.lock import project_lock\nwith project_lock({str(tmp_path)!r}, 'inner'):\n    print('inner ran')"
    )
    (tmp_path / "params.yaml").write_text(json.dumps({}))  # what project_root() looks for
    done = subprocess.run(
        [sys.executable, "-m", "rnnlab.lock", "outer", "--", sys.executable, "-c", inner],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "inner ran", done.stderr


def test_an_import_while_another_command_holds_the_lock_writes_nothing(project, tmp_path, holder):  # noqa: F811 (project: the fixture imported from test_import)
    csv = tmp_path / "motions.csv"
    user_table().to_csv(csv, index=False)
    before = snapshot(project)
    holder(project, "rnnlab profile smoke")
    result = run_import(project, csv, name="while_busy")
    assert result.returncode == 2
    assert "rnnlab profile smoke (pid" in result.stderr and result.stderr.count("\n") == 1
    assert snapshot(project) == before


def test_an_import_never_replaces_or_deletes_a_folder_that_was_there(project, tmp_path):  # noqa: F811 (project: the fixture imported from test_import)
    """A user's own folder at data/raw/<name> is refused before anything is written; a folder left by
    a killed import of the same name (its table only) survives an import that then fails (DVC cannot
    track it here), with params.yaml and plan.yaml as they were."""
    csv = tmp_path / "motions.csv"
    user_table().to_csv(csv, index=False)
    folder = project / "data" / "raw" / "had_it"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine\n")
    before = snapshot(project)
    refused = run_import(project, csv, name="had_it")
    assert (
        refused.returncode == 2
        and "data/raw/had_it already exists and holds files rnnlab did not write (notes.txt)" in refused.stderr
    )
    assert (folder / "notes.txt").read_text() == "mine\n" and snapshot(project) == before

    (folder / "notes.txt").unlink()
    (folder / "table.parquet").write_bytes(b"left by a killed import")
    dvc = project / ".dvc"
    shutil.move(dvc, tmp_path / "dvc-config")  # not a DVC project any more: `dvc add` fails
    try:
        failed = run_import(project, csv, name="had_it")
    finally:
        shutil.move(tmp_path / "dvc-config", dvc)
    assert failed.returncode == 2 and "dvc add data/raw/had_it failed" in failed.stderr, failed.stderr
    assert folder.is_dir() and snapshot(project)[:2] == before[:2]
    assert not (project / "data" / "raw" / "had_it.dvc").exists()
    shutil.rmtree(folder)


def test_an_import_writes_params_last_so_a_retry_after_a_kill_goes_through(project, tmp_path):  # noqa: F811 (project: the fixture imported from test_import)
    """What a kill just before params.yaml leaves (the table written and tracked by DVC, params.yaml
    untouched) does not stop the same import from completing."""
    csv = tmp_path / "motions.csv"
    user_table().to_csv(csv, index=False)
    from rnnlab.data.store import write_table
    from rnnlab.importer import _dvc_add, canonical

    folder = project / "data" / "raw" / "retried"
    write_table(canonical(user_table(), "classify", "activity", "x"), folder)
    _dvc_add(project, folder)
    result = run_import(project, csv, name="retried")
    assert result.returncode == 0, result.stderr
    assert "retried" in (project / "params.yaml").read_text() and (project / "data" / "raw" / "retried.dvc").is_file()
    assert not list(project.glob(".*.partial"))
    subprocess.run(["git", "checkout", "params.yaml", "plan.yaml"], cwd=project, check=True)


# --- atomic files -------------------------------------------------------------------------------


def test_a_write_that_dies_midway_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "leaderboard.md"
    files.write_text(target, "the old leaderboard\n")

    def half_then_die(tmp: Path) -> None:
        tmp.write_text("the new lead")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_with(target, half_then_die)
    assert target.read_text() == "the old leaderboard\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaderboard.md"], "no partial file left behind"


def test_a_figure_is_written_whole_under_its_own_name(tmp_path):
    from rnnlab import plots

    path = plots.learning_curves({"val_loss": [3.0, 2.0, 1.5]}, "curves", tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "curves.png"
    ]


# --- lineage: what "dirty" means ----------------------------------------------------------------


def test_dirty_means_code_or_params_differ_not_the_pipelines_own_outputs(tmp_path):
    from rnnlab.tracking import changed_sources, git_commit

    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    for rel in ("dvc.lock", "plan.yaml", "reports/leaderboard.md", "params.yaml", "src/rnnlab/nn/lstm.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("committed\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    for rel in ("dvc.lock", "plan.yaml", "reports/leaderboard.md"):  # what `make pipeline` rewrites
        (tmp_path / rel).write_text("rewritten by the pipeline\n")
    assert changed_sources(tmp_path) == [] and not git_commit(tmp_path).endswith("-dirty")
    (tmp_path / "params.yaml").write_text("edited\n")
    assert changed_sources(tmp_path) == ["params.yaml"] and git_commit(tmp_path).endswith("-dirty")
    assert changed_sources(tmp_path.parent / "not-a-checkout-anywhere") is None


# --- the code a run is fingerprinted with -------------------------------------------------------


def _code_hash(src: Path, *entries: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(src)}
    probe = (
        "import sys, rnnlab.code as c\n"
        "assert c.PACKAGE_DIR.parent == __import__('pathlib').Path(sys.argv[1]), c.PACKAGE_DIR\n"
        "print(c.code_sha256(*sys.argv[2:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(src), *entries], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_code_fingerprint_follows_the_modules_a_run_uses_and_nothing_else(tmp_path):
    """A run's code: the training's modules plus those of its model's layers. An edit to the NTM's
    memory changes the NTM's fingerprint and not the LSTM's; an edit to the CLI changes neither, nor one
    to the leaderboard's statistics or to a module whose effect reaches a run through its settings or
    its prepared data (rnnlab.code.OUTSIDE_A_RUN)."""
    from rnnlab.code import model_modules, modules_used
    from rnnlab.config import load_config
    from rnnlab.evaluate import build_model

    training = set(modules_used("rnnlab.train"))
    for module in (
        "rnnlab.registry",
        "rnnlab.data.batching",
        "rnnlab.tasks",
        "rnnlab.serving",
    ):
        assert module in training, module
    assert (
        not {
            "rnnlab.cli",
            "rnnlab.compare",
            "rnnlab.nn.ntm",
            "rnnlab.nn.memory",
            "rnnlab.nn.act",
            "rnnlab.nn.depth_gated",
            "rnnlab.models.dialogue",
            "rnnlab.models.programmer",
        }
        & training
    )
    config = load_config(ROOT / "params.yaml")
    meta = make_meta(task="classify", num_features=2, features=["a", "b"], num_classes=3, classes=["x", "y", "z"])
    ntm = model_modules(build_model(config.architecture("ntm"), meta))
    assert "rnnlab.nn.ntm" in ntm and "rnnlab.nn.memory" in modules_used("rnnlab.train", *ntm)
    lstm = model_modules(build_model(config.architecture("lstm"), meta))
    assert "rnnlab.nn.memory" not in modules_used("rnnlab.train", *lstm)
    assert {"rnnlab.nn.lstm", "rnnlab.nn.stack", "rnnlab.models.encoder"} <= set(modules_used("rnnlab.train", *lstm))

    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "rnnlab", src / "rnnlab", ignore=shutil.ignore_patterns("__pycache__"))
    before = {name: _code_hash(src, "rnnlab.train", *modules) for name, modules in (("ntm", ntm), ("lstm", lstm))}
    with open(src / "rnnlab" / "cli.py", "a") as unused:
        unused.write("\n# a comment in a module no training imports\n")
    with open(src / "rnnlab" / "nn" / "memory.py", "a") as memory:
        memory.write("\n# a comment in the NTM's memory\n")
    for settled in (
        "significance.py",
        "params_file.py",
        "search_space.py",
        "data/sources/speech.py",
        "baselines/ngram.py",
    ):
        with open(src / "rnnlab" / settled, "a") as outside:  # the statistics, or reached by the settings or the data
            outside.write("\n# a comment in a module whose effect on a run the fingerprint holds otherwise\n")
    assert _code_hash(src, "rnnlab.train", *lstm) == before["lstm"]
    assert _code_hash(src, "rnnlab.train", *ntm) != before["ntm"]
    with open(src / "rnnlab" / "nn" / "stack.py", "a") as shared:
        shared.write("\n# a comment in the stacker every recurrent model uses\n")
    assert _code_hash(src, "rnnlab.train", *lstm) != before["lstm"]


def test_a_checkpoint_that_cannot_continue_starts_fresh_saying_why(tmp_path, capsys):
    """resumable() answers for each way a left-over checkpoint can be unusable, with one line each."""
    import mlflow
    import torch

    from rnnlab.training.resume import RESUME_FILE, abandon, resumable

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("rnnlab/x", artifact_location=(tmp_path / "artifacts").as_uri())
    alive = client.create_run(experiment).info.run_id
    out = tmp_path / "seed_0"
    out.mkdir()
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 1}, out / "last.ckpt")

    def record(run_id: str, fp: str = "same") -> None:
        (out / RESUME_FILE).write_text(json.dumps({"fingerprint": fp, "run_id": run_id}))

    record(alive)
    assert resumable(out, "same", client) == {"fingerprint": "same", "run_id": alive}
    cases = {
        "its settings, data or code differ": lambda: record(alive, "other code"),
        "is not in the tracking store": lambda: record("0" * 32),
        "cannot be read": lambda: (record(alive), (out / "last.ckpt").write_bytes(b"half a checkpoint")),
    }
    for why, make in cases.items():
        make()
        capsys.readouterr()
        assert resumable(out, "same", client) is None, why
        line = capsys.readouterr().out
        assert line.count("\n") == 1 and why in line and line.rstrip().endswith("starting fresh"), line
    torch.save({"state_dict": {}}, out / "last.ckpt")
    record(alive)
    client.delete_run(alive)
    assert resumable(out, "same", client) is None and "is deleted" in capsys.readouterr().out

    unfinished = client.create_run(experiment).info.run_id  # a training killed mid-run: RUNNING forever
    record(unfinished)
    abandon(out, client)
    assert client.get_run(unfinished).info.status == "KILLED" and not out.exists()
