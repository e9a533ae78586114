"""Whether a run is reused, resumed or started afresh, decided by its fingerprint.

- ``last.ckpt`` is written every epoch beside ``resume.json`` (the MLflow run id and a fingerprint of
  the settings, the data, the code the run imports and the library versions). Run again with the
  same fingerprint, training continues from that checkpoint in the same MLflow run and ends where an
  uninterrupted run ends (the RNG state travels in the checkpoint).
- A value already logged for a step is not logged again (:class:`OncePerStepLogger`), so a kill
  between logging an epoch and checkpointing it leaves one value per step.
- A checkpoint that cannot continue (other settings or code, an unreadable file, its MLflow run
  gone) is set aside with one line, and the run starts fresh.
- A finished run is reused, not trained again, while its fingerprint holds: a change to one
  architecture's settings or to one cell's code retrains only the runs that use them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow
import torch
from lightning.pytorch.loggers import MLFlowLogger
from torch import nn

from rnnlab import tracking
from rnnlab.code import code_sha256, model_modules
from rnnlab.config import Config

RESUME_FILE = "resume.json"
TRAINING_CODE = "rnnlab.train"  # the entry point whose imports make up a run's code fingerprint


def fingerprint(config: Config, architecture: str, dataset: str, seed: int, data_sha256: str, model: nn.Module) -> str:
    """What must match for a checkpoint to be resumed or a run reused: settings, seed, the prepared
    data, and the code (the training's modules and those of the model's layers) and library versions."""
    settings = {
        "architecture": config.architecture(architecture, dataset).model_dump(),
        "dataset": config.dataset(dataset).model_dump(),
        "train": config.train_for(dataset, architecture).model_dump(),
        "trainer": config.trainer.model_dump(),
        "seed": seed,
        "data": data_sha256,
        "code": code_sha256(TRAINING_CODE, *model_modules(model)),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def finished_run(out: Path, fp: str, client) -> dict | None:
    """The summary of a finished run in ``out`` made under fingerprint ``fp`` whose MLflow run is
    still there and finished; None when it must be trained (again)."""
    try:
        summary = json.loads((out / "run.json").read_text())
        if json.loads((out / RESUME_FILE).read_text()).get("fingerprint") != fp:
            return None
        info = client.get_run(summary["run_id"]).info
    except (OSError, ValueError, KeyError, mlflow.exceptions.MlflowException):  # nothing finished, or nothing to trust
        return None
    return {**summary, "reused": True} if info.lifecycle_stage == "active" and info.status == "FINISHED" else None


def resumable(out: Path, fp: str, client, quiet: bool = False) -> dict | None:
    """The resume record if ``out`` holds an unfinished training that can continue: the same
    fingerprint, a checkpoint that loads, and its MLflow run still there. Otherwise None, after one
    line saying why when there was something to resume."""
    record, checkpoint = out / RESUME_FILE, out / "last.ckpt"
    if (out / "run.json").is_file() or not checkpoint.is_file():
        return None
    why = None
    try:
        state = json.loads(record.read_text())
        if state.get("fingerprint") != fp:
            why = "its settings, data or code differ from this run's"
        elif client.get_run(state["run_id"]).info.lifecycle_stage != "active":
            why = f"its MLflow run {state['run_id']} is deleted"
        else:
            torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    except mlflow.exceptions.MlflowException:
        why = f"its MLflow run {state['run_id']} is not in the tracking store"
    except Exception as err:  # an unreadable record or checkpoint: nothing to continue from
        why = f"it cannot be read ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    if why is None:
        return state
    if not quiet:
        print(f"not resuming {checkpoint}: {why}; starting fresh", flush=True)
    return None


def abandon(out: Path, client) -> None:
    """Clear a run folder that will not be resumed. Its unfinished MLflow run, if any, is marked
    KILLED rather than left RUNNING as if alive."""
    record = out / RESUME_FILE
    if record.is_file() and not (out / "run.json").is_file():
        try:
            run_id = json.loads(record.read_text())["run_id"]
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, status="KILLED")
        except Exception:  # an unreadable record or a run no longer in the store: nothing to close
            pass
    if out.exists():
        shutil.rmtree(out)


class OncePerStepLogger(MLFlowLogger):
    """MLFlowLogger that skips a metric already logged for that step in the run, so a resumed
    training that repeats a step logged before the kill leaves one value per step."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        super().__init__(tracking_uri=tracking_uri, run_id=run_id)
        self._logged = tracking.logged_steps(mlflow.MlflowClient(tracking_uri), run_id)

    def log_metrics(self, metrics, step=None) -> None:
        fresh = {k: v for k, v in metrics.items() if (k, step or 0) not in self._logged}
        self._logged |= {(k, step or 0) for k in fresh}
        if fresh:
            super().log_metrics(fresh, step)
