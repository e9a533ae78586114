"""Fault injection for the kill-and-resume tests: callbacks that SIGKILL the training process like a
killed job, switched on by environment variables so that a test can reach a run started by a flow, a
worker or ``python -m rnnlab.train``.

    RNNLAB_KILL_AFTER_EPOCH=E         die once epoch E is checkpointed
    RNNLAB_KILL_BEFORE_CHECKPOINT=E   die once epoch E's metrics are logged, before its checkpoint is written
    RNNLAB_KILL_MARKER=PATH           die only while PATH does not exist, creating it (one kill per test)
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.callbacks import Callback

KILL_AFTER_EPOCH_ENV = "RNNLAB_KILL_AFTER_EPOCH"
KILL_BEFORE_CHECKPOINT_ENV = "RNNLAB_KILL_BEFORE_CHECKPOINT"
KILL_MARKER_ENV = "RNNLAB_KILL_MARKER"


def from_environment(environ: Mapping[str, str] = os.environ) -> list[Callback]:
    """The kill callbacks the environment asks for (none in an ordinary run)."""
    callbacks: list[Callback] = []
    if environ.get(KILL_AFTER_EPOCH_ENV):
        callbacks.append(KillAfterEpoch(int(environ[KILL_AFTER_EPOCH_ENV])))
    if environ.get(KILL_BEFORE_CHECKPOINT_ENV):
        callbacks.append(KillBeforeCheckpoint(int(environ[KILL_BEFORE_CHECKPOINT_ENV])))
    return callbacks


def _die() -> None:
    """SIGKILL this process, like a killed job; once per marker file when RNNLAB_KILL_MARKER is set."""
    marker = os.environ.get(KILL_MARKER_ENV)
    if marker:
        if Path(marker).exists():
            return
        Path(marker).touch()
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterEpoch(Callback):
    """Test hook: die like a killed job once epoch ``epoch`` is checkpointed (as the next one starts;
    ModelCheckpoint saves at the very end of an epoch, after every other callback)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch + 1:
            _die()


class KillBeforeCheckpoint(Callback):
    """Test hook: die once epoch ``epoch``'s validation metrics are logged, before its checkpoint
    (Lightning runs ModelCheckpoint's ``on_validation_end`` after every other callback's)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch and not trainer.sanity_checking:
            _die()
