"""One LightningModule for every architecture, ``train_run`` and ``python -m rnnlab.train``.

The train flow calls :func:`train_run` inside long-lived worker processes, one run after another
(a fresh model, Trainer and MLflow run each time). A run on several devices or nodes is started
as this module's own process instead (``python -m rnnlab.train``), so Lightning's DDP can
re-launch it per rank (or torchrun/SLURM can start it on many nodes) without re-running a Prefect
flow. Every value comes from params.yaml; the command line only says *which* run.

- One MLflow run per training: only global rank 0 creates (or resumes) it and logs to it.
- Batches are length-bucketed and sharded per rank; validation metrics are computed from every
  rank's predictions gathered together, so they equal a single-process pass over the whole split.
- Interrupted training resumes: ``last.ckpt`` is written every epoch beside ``resume.json`` (the
  MLflow run id and a fingerprint of the settings, the data, the code the run imports and the
  library versions). Run again with the same fingerprint, training continues from that checkpoint
  in the same MLflow run and ends where an uninterrupted run ends (the RNG state travels in the
  checkpoint); a value already logged for a step is not logged again, so a kill between logging an
  epoch and checkpointing it leaves one value per step. A checkpoint that cannot continue (other
  settings or code, an unreadable file, its MLflow run gone) is set aside with one line, and the
  run starts fresh.
- A finished run is reused, not trained again, while its fingerprint holds: a change to one
  architecture's settings or to one cell's code retrains only the runs that use them.
- Each run logs ``train_time_s`` (inside ``fit``) and ``run_time_s`` (from the call to its last
  write but closing the run): what a run costs beyond fitting is their difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import mlflow
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger
from torch import nn
from torch.utils.data import DataLoader

from rnnlab import files, plots, tracking
from rnnlab.code import code_sha256, model_modules
from rnnlab.config import Config, TrainConfig, load_config, project_root
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate, encode
from rnnlab.data.prepare import read_prepared
from rnnlab.errors import RnnlabError, exit_on_user_error
from rnnlab.evaluate import build_model, confusion, count_parameters, predict
from rnnlab.generate import generate_samples
from rnnlab.models.seq2seq import decoded
from rnnlab.paths import prepared_dir, seed_dir
from rnnlab.serving import SequenceModel
from rnnlab.tasks import TASKS

MONITOR = "val_loss"  # early stopping and checkpoint selection: validation split only
SYSTEM_METRICS_INTERVAL_S = 1  # MLflow samples CPU and memory this often (default 10 s: most runs here are shorter)
RESUME_FILE = "resume.json"
TRAINING_CODE = "rnnlab.train"  # the entry point whose imports make up a run's code fingerprint
PROMPT_TOKENS = 16  # language models continue the first tokens of validation sequences
# Fault injection for the kill-and-resume tests: SIGKILL this process once the given epoch is
# checkpointed, or once its metrics are logged but before its checkpoint is written.
KILL_AFTER_EPOCH_ENV = "RNNLAB_KILL_AFTER_EPOCH"
KILL_BEFORE_CHECKPOINT_ENV = "RNNLAB_KILL_BEFORE_CHECKPOINT"
KILL_MARKER_ENV = "RNNLAB_KILL_MARKER"  # set: kill only while this file does not exist, creating it (one kill per test)

# Lightning 2.6.6 with torch 2.13 warns from its own pytree helper on every batch.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


class SequenceModule(L.LightningModule):
    """Trains any model whose forward(x, lengths) returns a ModelOutput.

    The loss is the task's loss plus the model's ``aux_loss`` (zero for plain RNNs; ACT's ponder
    cost, for instance), so no architecture needs a case here.
    """

    def __init__(
        self,
        model: nn.Module,
        meta: dict,
        learning_rate: float,
        weight_decay: float,
        gradient_noise: float = 0.0,
        huber_delta: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.meta = meta
        self.task = TASKS[meta["task"]]
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.gradient_noise = gradient_noise
        self.huber_delta = huber_delta if self.task.target == "value" else None
        self.target_std = float(meta.get("target_scale", {}).get("std", 1.0))  # Huber's δ is in the target's own units
        self._val_parts: list[tuple[torch.Tensor, torch.Tensor, float]] = []

    def forward(self, x, lengths):
        return self.model(x, lengths)

    def loss(self, prediction, target, reduction: str = "mean"):
        """The task's loss; for value targets Huber's instead of the squared error when huber_delta is set.

        Huber's loss is taken in the target's own units (targets are standardized: both sides are
        multiplied back by the target's std), so δ reads as the data does — the Neural Programmer's
        δ = 10 is ten answer units, and a count and a sum of a hundred get gradients of the same size.
        """
        if self.huber_delta is not None:
            s = self.target_std
            return F.huber_loss(prediction * s, target * s, reduction=reduction, delta=self.huber_delta)
        return self.task.loss(prediction, target, reduction=reduction)

    def on_before_optimizer_step(self, optimizer) -> None:
        """Annealed gradient noise (Neelakantan et al. 2015): g += N(0, η / (1 + t)^0.55), before clipping."""
        if self.gradient_noise > 0:
            std = (self.gradient_noise / (1 + self.global_step) ** 0.55) ** 0.5
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.add_(torch.randn_like(p.grad), alpha=std)

    def training_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths, batch.y)  # the target is offered for teacher forcing
        loss = self.loss(out.prediction, batch.y)
        total = loss + out.aux_loss
        if not _finite_everywhere(total):  # every rank stops together: one alone would hang the others
            raise RnnlabError(
                f"training stopped: the loss is {total.item()} at epoch {self.current_epoch}, batch {batch_idx} "
                f"(try a lower train.learning_rate or train.gradient_clip)"
            )
        size = len(batch.lengths)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        if out.aux_loss.requires_grad:
            self.log("train_aux_loss", out.aux_loss, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        return total

    def validation_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths, batch.y)
        loss_sum = self.loss(out.prediction, batch.y, reduction="sum")
        if self.task.decodes:  # the loss is teacher-forced; the metrics score what the model writes alone
            out = self.model(batch.x, batch.lengths)
        prediction, target = self.task.flatten(out.prediction, batch.y)  # real targets only
        self._val_parts.append((prediction.detach().float().cpu(), target.cpu(), float(loss_sum)))

    def on_validation_epoch_end(self):
        parts = _gather(self._val_parts)  # every rank's predictions: metrics of the whole split
        self._val_parts = []
        predicted = torch.cat([p for p, _, _ in parts]).numpy()
        target = torch.cat([t for _, t, _ in parts]).numpy()
        self.log("val_loss", sum(s for _, _, s in parts) / len(target))
        for name, value in self.task.metrics(predicted, target, self.meta).items():
            self.log(f"val_{name}", value)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rnnlab_rng"] = {"torch": torch.get_rng_state()}  # dropout draws continue exactly on resume

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "rnnlab_rng" in checkpoint:
            torch.set_rng_state(checkpoint["rnnlab_rng"]["torch"])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)


def _finite_everywhere(value: torch.Tensor) -> bool:
    """True when ``value`` is finite on this rank and, under DDP, on every other rank too."""
    finite = torch.isfinite(value.detach()).all().to(torch.int32).reshape(1)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item())


def _gather(parts: list) -> list:
    if not (dist.is_available() and dist.is_initialized()):
        return parts
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, parts)
    return [part for rank_parts in everyone for part in rank_parts]


class SequenceData(L.LightningDataModule):
    """Length-bucketed loaders, sharded by the trainer's rank and world size."""

    def __init__(self, train_set: SequenceSet, val_set: SequenceSet, train_cfg: TrainConfig, seed: int) -> None:
        super().__init__()
        self.train_set, self.val_set, self.train_cfg, self.seed = train_set, val_set, train_cfg, seed

    def _loader(self, data: SequenceSet, shuffle: bool) -> DataLoader:
        batch_size = self.train_cfg.batch_size
        if not shuffle:  # evaluation: at least one batch per rank, or a rank would skip the gather
            batch_size = max(1, min(batch_size, -(-len(data) // self.trainer.world_size)))
        sampler = LengthBucketBatchSampler(
            data.lengths,
            batch_size,
            shuffle=shuffle,
            seed=self.seed,
            bucket_width=self.train_cfg.bucket_width if shuffle else 1,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            pad=shuffle,
        )
        return DataLoader(data, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)


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


class OncePerStepLogger(MLFlowLogger):
    """MLFlowLogger that skips a metric already logged for that step in the run, so a resumed
    training that repeats a step logged before the kill leaves one value per step."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        super().__init__(tracking_uri=tracking_uri, run_id=run_id)
        client = mlflow.MlflowClient(tracking_uri)
        self._logged = {
            (m.key, m.step)
            for key in client.get_run(run_id).data.metrics
            for m in client.get_metric_history(run_id, key)
        }

    def log_metrics(self, metrics, step=None) -> None:
        fresh = {k: v for k, v in metrics.items() if (k, step or 0) not in self._logged}
        self._logged |= {(k, step or 0) for k in fresh}
        if fresh:
            super().log_metrics(fresh, step)


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


def build_trainer(
    config: Config, train_cfg: TrainConfig, out: Path, quiet: bool = False, extra: tuple[Callback, ...] = ()
) -> L.Trainer:
    trainer_cfg = config.trainer
    # A run in one process uses one device: "auto" would start DDP over every GPU of a worker.
    devices = trainer_cfg.devices if trainer_cfg.spans_processes() or isinstance(trainer_cfg.devices, list) else 1
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=out,
            filename="best",
            monitor=MONITOR,
            mode="min",
            save_top_k=1,
            save_last=True,
            enable_version_counter=False,
        ),
        EarlyStopping(monitor=MONITOR, mode="min", patience=train_cfg.patience),
        *extra,
    ]
    if os.environ.get(KILL_AFTER_EPOCH_ENV):
        callbacks.append(KillAfterEpoch(int(os.environ[KILL_AFTER_EPOCH_ENV])))
    if os.environ.get(KILL_BEFORE_CHECKPOINT_ENV):
        callbacks.append(KillBeforeCheckpoint(int(os.environ[KILL_BEFORE_CHECKPOINT_ENV])))
    return L.Trainer(
        max_epochs=train_cfg.max_epochs,
        accelerator=trainer_cfg.accelerator,
        devices=devices,
        num_nodes=trainer_cfg.num_nodes,
        strategy=trainer_cfg.strategy,
        precision=trainer_cfg.precision,
        logger=False,  # rank 0 attaches its MLflow logger below
        callbacks=callbacks,
        gradient_clip_val=train_cfg.gradient_clip,
        deterministic=train_cfg.deterministic,
        enable_model_summary=False,
        enable_progress_bar=not quiet,
        log_every_n_steps=1,
        default_root_dir=out,
        use_distributed_sampler=False,  # SequenceData shards its own length-bucketed batches
    )


def train_run(
    config: Config,
    root: Path,
    architecture: str,
    dataset: str,
    seed: int,
    home: Path | None = None,
    quiet: bool = False,
    callbacks: tuple[Callback, ...] = (),
    tags: dict[str, str] | None = None,
    prepared: Path | None = None,
) -> dict | None:
    """Train one (architecture, dataset, seed); log it to MLflow; write run.json.

    ``home``: the folder of the runs (``paths.models_home``, the pipeline's, by default; a study passes its own);
    ``quiet``: no progress bar (a worker's runs report one line each); ``callbacks``: more Lightning callbacks
    (a tuning trial's pruner); ``tags``: more tags of the MLflow run; ``prepared``: another prepared folder of
    the dataset (a tuning trial's re-drawn validation split). Returns the summary on global rank 0 (``reused``
    true when a finished run with the same fingerprint was there), None on the other ranks.
    """
    started = time.perf_counter()
    arch_params, train_cfg = config.architecture(architecture, dataset), config.train_for(dataset, architecture)
    config.dataset(dataset)
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(train_cfg.num_threads)
    prepared = prepared or prepared_dir(root, dataset)
    splits, meta = read_prepared(prepared)
    train_set, val_set = (encode(splits[s], meta) for s in ("train", "val"))
    model = build_model(arch_params, meta)
    module = SequenceModule(
        model, meta, train_cfg.learning_rate, train_cfg.weight_decay, train_cfg.gradient_noise, train_cfg.huber_delta
    )

    out = seed_dir(root, dataset, architecture, seed, home)
    data_sha256 = tracking.folder_sha256(prepared)  # hashed once: resume fingerprint and run tag
    fp = fingerprint(config, architecture, dataset, seed, data_sha256, model)
    uri = tracking.prepare_store(config, root)
    client = mlflow.MlflowClient(uri)
    if (done := finished_run(out, fp, client)) is not None:  # every rank reads the same files: all return here
        return done
    trainer = build_trainer(config, train_cfg, out, quiet, callbacks)
    if trainer.global_rank != 0:  # rank 0 decided before launching the others; its resume.json says what
        resume = resumable(out, fp, client, quiet=True)
        trainer.fit(
            module,
            datamodule=SequenceData(train_set, val_set, train_cfg, seed),
            ckpt_path=out / "last.ckpt" if resume else None,
        )
        _write_weight_hash(out, trainer.global_rank, model)
        return None

    resume = resumable(out, fp, client)
    if not resume:
        _abandon(out, client)
        out.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    experiment_id = tracking.ensure_experiment(client, config, root, dataset)
    mlflow.set_system_metrics_sampling_interval(SYSTEM_METRICS_INTERVAL_S)
    mlflow.set_system_metrics_samples_before_logging(1)
    if resume:
        active = mlflow.start_run(run_id=resume["run_id"], log_system_metrics=True)
        print(
            f"resuming {architecture} on {dataset} (seed {seed}) from "
            f"{out / 'last.ckpt'} in MLflow run {resume['run_id']}",
            flush=True,
        )
    else:
        active = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"{architecture}-seed{seed}",
            tags={
                **tracking.run_tags(config, root, architecture, dataset, seed, prepared, data_sha256),
                **(tags or {}),
            },
            log_system_metrics=True,  # CPU, memory (and GPU where present) beside the training curves
        )
        mlflow.log_params(tracking.run_params(config, architecture, dataset))
        files.write_json(out / RESUME_FILE, {"fingerprint": fp, "run_id": active.info.run_id}, indent=None)
    run_id = active.info.run_id
    trainer.loggers = [OncePerStepLogger(tracking_uri=uri, run_id=run_id)]
    try:
        fit_started = time.perf_counter()
        trainer.fit(
            module,
            datamodule=SequenceData(train_set, val_set, train_cfg, seed),
            ckpt_path=out / "last.ckpt" if resume else None,
        )
        train_time = time.perf_counter() - fit_started  # of this process: a resumed run counts its own part
        _write_weight_hash(out, 0, model)
        summary = _finish(
            config, root, out, architecture, dataset, seed, trainer, module, meta, val_set, run_id, train_time, started
        )
    except BaseException:
        mlflow.end_run(status="KILLED")
        raise
    mlflow.end_run()
    return summary


def _abandon(out: Path, client) -> None:
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


def _finish(
    config, root, out, architecture, dataset, seed, trainer, module, meta, val_set, run_id, train_time, started
) -> dict:
    """Reload the best checkpoint, score it on validation in one process, log everything, write run.json."""
    checkpoint = trainer.checkpoint_callback
    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(best["state_dict"])
    model = module.model
    predicted, target = predict(model, val_set, meta["task"], config.train_for(dataset, architecture).batch_size)
    val_metrics = {f"best_val_{k}": v for k, v in TASKS[meta["task"]].metrics(predicted, target, meta).items()}
    summary = {
        "architecture": architecture,
        "dataset": dataset,
        "seed": seed,
        "run_id": run_id,
        "experiment": tracking.experiment_name(dataset),
        "checkpoint": Path(checkpoint.best_model_path).name,
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_trained": int(trainer.current_epoch),
        "steps_trained": int(trainer.global_step),  # optimizer steps: the iteration budget actually used
        "num_params": count_parameters(model),
        "train_time_s": train_time,
        "world_size": trainer.world_size,
        "backend": getattr(getattr(model.encoder, "stack", None), "backend", "n/a"),
        "task": meta["task"],
        **val_metrics,
    }
    _log_results(config, root, run_id, model, summary, (predicted, target, val_set), meta)
    summary["run_time_s"] = time.perf_counter() - started  # to the last write but closing the run
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    if "run_time_s" not in client.get_run(run_id).data.metrics:  # once, even when finished again after a kill
        client.log_metric(run_id, "run_time_s", summary["run_time_s"])
    files.write_json(out / "run.json", summary)  # run.json before the unlink: a kill between leaves a finished run
    (out / "last.ckpt").unlink(missing_ok=True)
    return summary


def _write_weight_hash(out: Path, rank: int, model: nn.Module) -> None:
    """Each rank's final weights, hashed: DDP must leave them identical everywhere."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    (out / "ranks").mkdir(parents=True, exist_ok=True)
    files.write_text(out / "ranks" / f"rank_{rank}.sha256", digest.hexdigest() + "\n")


def _log_results(
    config: Config, root: Path, run_id: str, model: nn.Module, summary: dict, val_answers, meta: dict
) -> None:
    """Final metrics, learning curves, the task's pictures and the model, into the training run."""
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    logged = client.get_run(run_id).data.metrics  # a run finished again after a kill here keeps one value each
    for key in (
        "best_epoch",
        "epochs_trained",
        "steps_trained",
        "num_params",
        "train_time_s",
        *[k for k in summary if k.startswith("best_val_")],
    ):
        if key not in logged:
            client.log_metric(run_id, key, float(summary[key]))
    metric_names = [k.removeprefix("best_val_") for k in summary if k.startswith("best_val_") and k != "best_val_loss"]
    curves = ["train_loss", "val_loss", *[f"val_{name}" for name in metric_names]]
    history = {
        name: [m.value for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)]
        for name in curves
    }
    title = f"{summary['architecture']} on {summary['dataset']} (seed {summary['seed']})"
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            plots.learning_curves({k: v for k, v in history.items() if v}, title, Path(tmp) / "learning_curves.png")
        ]
        files += task_pictures(
            model, meta, val_answers, title, Path(tmp), config.dataset(summary["dataset"]), summary["seed"]
        )
        for path in files:
            client.log_artifact(run_id, str(path), "plots" if path.suffix == ".png" else "samples")
    mlflow.pyfunc.log_model(  # into the active run
        name="model",
        python_model=SequenceModel(model.eval(), meta, limits=config.serving.model_dump()),
        pip_requirements=[f"{p}=={_version(p)}" for p in tracking.MODEL_REQUIREMENTS_PACKAGES],
        code_paths=[str(Path(__file__).resolve().parent)],  # the rnnlab package travels with the model
    )


def task_pictures(
    model: nn.Module, meta: dict, val_answers, title: str, folder: Path, settings, seed: int
) -> list[Path]:
    """What a person would look at for this task: a confusion matrix, or text the model wrote."""
    predicted, target, val_set = val_answers
    if meta["task"] in ("classify", "label_steps"):
        matrix = confusion(predicted, target, meta["num_classes"])
        return [
            plots.confusion_matrix(
                matrix, meta["classes"], f"validation confusion: {title}", folder / "confusion_val.png"
            )
        ]
    if meta["task"] == "language_model":
        prompts = [x[:PROMPT_TOKENS] for x in val_set.inputs[: settings.generate.samples]]
        text = generate_samples(model, meta["vocabulary"], prompts, settings.generate, seed)
        path = folder / "generated.txt"
        path.write_text(
            f"# {title}: {settings.generate.samples} samples of {settings.generate.length} tokens at temperature "
            f"{settings.generate.temperature}\n\n" + "\n\n---\n\n".join(text) + "\n"
        )
        return [path]
    if meta["task"] == "seq2seq":
        return seq2seq_pictures(model, meta, val_set, title, folder)
    return []


SEQ2SEQ_SHOWN = 3  # validation examples whose output is written out and whose alignment is drawn


@torch.no_grad()
def seq2seq_pictures(model: nn.Module, meta: dict, val_set, title: str, folder: Path) -> list[Path]:
    """The greedy output of a few validation sequences beside the target, and (with attention)
    their teacher-forced alignments as heatmaps."""
    model.eval()
    order = sorted(range(len(val_set)), key=lambda i: val_set.lengths[i])
    shown = [order[int(q * (len(order) - 1))] for q in np.linspace(0.2, 0.9, SEQ2SEQ_SHOWN)]  # short to long
    batch = collate([val_set[i] for i in shown])
    written = model(batch.x, batch.lengths).prediction
    forced = model(batch.x, batch.lengths, batch.y).attention  # (B, L, T) or None
    source_of = (
        (lambda ids: [meta["vocabulary"][t] for t in ids])
        if meta.get("vocabulary")
        else (lambda ids: [str(t) for t in range(len(ids))])
    )
    lines, files = [], []
    for row, i in enumerate(shown):
        source = source_of(val_set.inputs[i].tolist())
        target = [meta["classes"][t] for t in val_set.targets[i].tolist()]
        output = [meta["classes"][t] for t in decoded(written[row]).tolist()]
        lines.append(f"source: {' '.join(source)}\ntarget: {' '.join(target)}\noutput: {' '.join(output)}")
        if forced is not None:
            weights = forced[row, : len(target), : len(source)].numpy()
            files.append(
                plots.alignment(weights, source, target, f"alignment: {title}", folder / f"alignment_val_{row}.png")
            )
    path = folder / "outputs.txt"
    path.write_text(f"# {title}: greedy outputs of validation sequences\n\n" + "\n\n".join(lines) + "\n")
    return [*files, path]


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package).split("+")[0]


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rnnlab.train",
        description="Train one (architecture, dataset, seed) with the values in params.yaml.",
    )
    parser.add_argument("--architecture", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    root = project_root()
    config = load_config(root / "params.yaml")
    from rnnlab.config import launch_problem
    from rnnlab.errors import ConfigError

    if problem := launch_problem(config.trainer, os.environ):  # before Lightning starts waiting for other nodes
        raise ConfigError(problem)
    summary = train_run(config, root, args.architecture, args.dataset, args.seed)
    if summary is not None and summary.get("reused"):
        print(
            f"{args.architecture} on {args.dataset} (seed {args.seed}): "
            "finished before with these settings, data and code; reused",
            flush=True,
        )
    elif summary is not None:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
