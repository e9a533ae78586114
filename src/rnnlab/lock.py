"""The project lock: one command at a time edits params.yaml, plan.yaml or dvc.lock.

``make pipeline``, the scheduled retrain, ``rnnlab import``, ``rnnlab profile`` and ``rnnlab plan``
each hold it while they run. DVC drops its own lock while a stage's command runs, so without this
one a retrain starting during ``make pipeline`` would run the same stages at once and one would
fail mid-way. The lock is an OS file lock (``filelock``: ``flock`` on POSIX) on
``.run/project.lock``: the kernel releases it when its holder dies, so a killed command never
leaves the project locked. Who holds it is written beside it, for the message others get.

A holder's child processes (``make pipeline`` -> ``rnnlab plan``, ``dvc repro`` -> its stages)
inherit ``RNNLAB_PROJECT_LOCK`` naming the locked project and pass through.

    python -m rnnlab.lock "make pipeline" -- COMMAND ...   run COMMAND holding the lock
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rnnlab.errors import RnnlabError
from rnnlab.files import write_json

HELD_ENV = "RNNLAB_PROJECT_LOCK"  # the root a parent process holds the lock of


class ProjectBusy(RnnlabError):
    """Another command holds the project lock."""


def lock_path(root: Path) -> Path:
    return Path(root) / ".run" / "project.lock"


def holder(root: Path) -> str:
    """Who holds the lock, in words (as its holder wrote it)."""
    try:
        record = json.loads((lock_path(root).with_suffix(".holder")).read_text())
        return f"{record['what']} (pid {record['pid']}, since {record['since']})"
    except (OSError, ValueError, KeyError):
        return "another rnnlab command"


@contextmanager
def project_lock(root: Path, what: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the project lock while the block runs; ``ProjectBusy`` (one line) if another command
    holds it for more than ``wait_s`` seconds."""
    root = Path(root).resolve()
    if os.environ.get(HELD_ENV) == str(root):  # a parent holds it for us
        yield
        return
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        raise ProjectBusy(f"{root}: {holder(root)} is changing the project; {what} waits for it to finish") from None
    info = path.with_suffix(".holder")
    write_json(info, {"what": what, "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
    os.environ[HELD_ENV] = str(root)
    try:
        yield
    finally:
        os.environ.pop(HELD_ENV, None)
        info.unlink(missing_ok=True)
        lock.release()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print('usage: python -m rnnlab.lock "WHAT" -- COMMAND ...', file=sys.stderr)
        return 2
    from rnnlab.config import project_root

    try:
        with project_lock(project_root(), argv[0]):
            return subprocess.run(argv[2:]).returncode
    except RnnlabError as err:
        print(f"rnnlab: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
