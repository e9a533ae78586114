"""A training run, ``train_run``, and the same run as its own process, ``python -m rnnlab.train``.

The train flow calls :func:`train_run` inside long-lived worker processes, one run after another
(a fresh model, Trainer and MLflow run each time). A run on several devices or nodes is started
as this module's own process instead (``python -m rnnlab.train``), so Lightning's DDP can
re-launch it per rank (or torchrun/SLURM can start it on many nodes) without re-running a Prefect
flow. Every value comes from params.yaml; the command line only says *which* run.

- One MLflow run per training: only global rank 0 creates (or resumes) it and logs to it.
- The parts come from :mod:`rnnlab.training`: the LightningModule (validation metrics over every
  rank's predictions), the data module (length-bucketed batches sharded per rank), the decision to
  reuse, resume or start afresh by fingerprint, and the run's end (the best checkpoint scored and
  logged with its pictures and model).
- Each run logs ``train_time_s`` (inside ``fit``) and ``run_time_s`` (from the call to its last
  write but closing the run): what a run costs beyond fitting is their difference.

The modules this one imports, followed through theirs, are a run's code in its fingerprint
(``rnnlab.training.resume.TRAINING_CODE``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import lightning as L
import mlflow
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from rnnlab import files, tracking
from rnnlab.config import Config, TrainConfig, load_config, project_root
from rnnlab.data.batching import encode
from rnnlab.data.prepare import read_prepared
from rnnlab.errors import exit_on_user_error
from rnnlab.evaluate import build_model
from rnnlab.paths import prepared_dir, seed_dir
from rnnlab.training import faults
from rnnlab.training.data import SequenceData
from rnnlab.training.finish import finish, write_weight_hash
from rnnlab.training.module import SequenceModule
from rnnlab.training.resume import RESUME_FILE, OncePerStepLogger, abandon, fingerprint, finished_run, resumable

MONITOR = "val_loss"  # early stopping and checkpoint selection: validation split only
SYSTEM_METRICS_INTERVAL_S = 1  # MLflow samples CPU and memory this often (default 10 s: most runs here are shorter)

# A run's folder holds its resume.json before Lightning saves the first checkpoint there: expected, not a warning.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


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
        *faults.from_environment(),
    ]
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
    model = build_model(arch_params, meta, train_cfg.embedding_size)
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
        write_weight_hash(out, trainer.global_rank, model)
        return None

    resume = resumable(out, fp, client)
    if not resume:
        abandon(out, client)
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
        kind = "training" if home is None else "study"  # the pipeline's runs, or a study's or benchmark's own
        active = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"{architecture}-seed{seed}",
            tags={
                **tracking.run_tags(config, root, architecture, dataset, seed, prepared, data_sha256, kind),
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
        write_weight_hash(out, 0, model)
        summary = finish(
            config, root, out, architecture, dataset, seed, trainer, module, meta, val_set, run_id, train_time, started
        )
    except BaseException:
        mlflow.end_run(status="KILLED")
        raise
    mlflow.end_run()
    return summary


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
