"""One LightningModule for every architecture, and ``python -m rnnlab.train``.

The train flow starts this module as its own process for each (architecture, dataset, seed), so
Lightning's DDP can re-launch it per rank without re-running a Prefect flow. Every value comes
from params.yaml; the command line only says *which* run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import mlflow
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import MLFlowLogger
from torch import nn
from torch.utils.data import DataLoader

from rnnlab import plots, tracking
from rnnlab.config import Config, load_config, project_root
from rnnlab.data.batching import LengthBucketBatchSampler, SequenceSet, collate
from rnnlab.data.prepare import read_prepared
from rnnlab.errors import exit_on_user_error
from rnnlab.evaluate import build_model, confusion, count_parameters, ordered_loader, predict
from rnnlab.paths import prepared_dir, seed_dir
from rnnlab.serving import SequenceModel
from rnnlab.tasks import TASKS

MONITOR = "val_loss"  # early stopping and checkpoint selection: validation split only
SYSTEM_METRICS_INTERVAL_S = 1  # MLflow samples CPU and memory this often (default 10 s: most runs here are shorter)

# Lightning 2.6.6 with torch 2.13 warns from its own pytree helper on every batch.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


class SequenceModule(L.LightningModule):
    """Trains any model whose forward(x, lengths) returns a ModelOutput.

    The loss is the task's loss plus the model's ``aux_loss`` (zero for plain RNNs; ACT's ponder
    cost, for instance), so no architecture needs a case here.
    """

    def __init__(self, model: nn.Module, task: str, learning_rate: float, weight_decay: float) -> None:
        super().__init__()
        self.model = model
        self.task = TASKS[task]
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self._val_decisions: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x, lengths):
        return self.model(x, lengths)

    def training_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths)
        loss = self.task.loss(out.prediction, batch.y)
        size = len(batch.y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=size)
        if out.aux_loss.requires_grad:
            self.log("train_aux_loss", out.aux_loss, on_step=False, on_epoch=True, batch_size=size)
        return loss + out.aux_loss

    def validation_step(self, batch, batch_idx):
        out = self.model(batch.x, batch.lengths)
        self.log("val_loss", self.task.loss(out.prediction, batch.y), on_epoch=True, batch_size=len(batch.y), sync_dist=True)
        self._val_decisions.append((self.task.decide(out.prediction).cpu(), batch.y.cpu()))

    def on_validation_epoch_end(self):
        predicted, target = (torch.cat(parts).numpy() for parts in zip(*self._val_decisions))
        self._val_decisions.clear()
        for name, value in self.task.metrics(predicted, target).items():
            self.log(f"val_{name}", value, sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)


def train_loader(data: SequenceSet, config: Config, seed: int) -> DataLoader:
    sampler = LengthBucketBatchSampler(data.lengths, config.train.batch_size, shuffle=True, seed=seed, bucket_width=config.train.bucket_width)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate)


def train_run(config: Config, root: Path, architecture: str, dataset: str, seed: int) -> dict:
    """Train one (architecture, dataset, seed); log it to MLflow; write run.json. Returns its summary."""
    arch_params, train_cfg = config.architecture(architecture), config.train
    config.dataset(dataset)
    L.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(train_cfg.num_threads)
    splits, meta = read_prepared(prepared_dir(root, dataset))
    train_set, val_set = (SequenceSet.from_table(splits[s], meta["classes"]) for s in ("train", "val"))
    model = build_model(arch_params, meta)
    module = SequenceModule(model, meta["task"], train_cfg.learning_rate, train_cfg.weight_decay)

    uri = tracking.prepare_store(config, root)
    mlflow.set_tracking_uri(uri)
    experiment_id = tracking.ensure_experiment(mlflow.MlflowClient(uri), config, root, dataset)
    mlflow.set_system_metrics_sampling_interval(SYSTEM_METRICS_INTERVAL_S)
    mlflow.set_system_metrics_samples_before_logging(1)
    active = mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{architecture}-seed{seed}",
        tags=tracking.run_tags(config, root, architecture, dataset, seed, prepared_dir(root, dataset)),
        log_system_metrics=True,  # CPU, memory (and GPU where present) beside the training curves
    )
    try:
        summary = _fit_and_log(config, root, architecture, dataset, seed, module, model, meta, train_set, val_set, active.info.run_id)
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run()
    return summary


def _fit_and_log(config, root, architecture, dataset, seed, module, model, meta, train_set, val_set, run_id) -> dict:
    train_cfg = config.train
    logger = MLFlowLogger(tracking_uri=tracking.tracking_uri(config, root), run_id=run_id)
    logger.log_hyperparams(tracking.run_params(config, architecture, dataset))

    out = seed_dir(root, dataset, architecture, seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    checkpoint = ModelCheckpoint(dirpath=out, filename="best", monitor=MONITOR, mode="min", save_top_k=1, enable_version_counter=False)
    trainer = L.Trainer(
        max_epochs=train_cfg.max_epochs,
        accelerator=train_cfg.accelerator,
        devices=train_cfg.devices,
        logger=logger,
        callbacks=[checkpoint, EarlyStopping(monitor=MONITOR, mode="min", patience=train_cfg.patience)],
        gradient_clip_val=train_cfg.gradient_clip,
        deterministic=train_cfg.deterministic,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=out,
        use_distributed_sampler=False,
    )
    started = time.perf_counter()
    trainer.fit(module, train_loader(train_set, config, seed), ordered_loader(val_set, train_cfg.batch_size))
    train_time = time.perf_counter() - started

    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(best["state_dict"])
    predicted, target = predict(model, val_set, meta["task"], train_cfg.batch_size)
    val_metrics = {f"best_val_{k}": v for k, v in TASKS[meta["task"]].metrics(predicted, target).items()}
    summary = {
        "architecture": architecture,
        "dataset": dataset,
        "seed": seed,
        "run_id": run_id,
        "experiment": tracking.experiment_name(dataset),
        "checkpoint": checkpoint.best_model_path and Path(checkpoint.best_model_path).name,
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_trained": int(trainer.current_epoch),
        "num_params": count_parameters(model),
        "train_time_s": train_time,
        "backend": getattr(getattr(model.encoder, "stack", None), "backend", "n/a"),
        **val_metrics,
    }
    _log_results(config, root, run_id, model, summary, confusion(predicted, target, meta["num_classes"]), meta)
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _log_results(config: Config, root: Path, run_id: str, model: nn.Module, summary: dict, matrix, meta: dict) -> None:
    """Final metrics, learning curves, confusion matrix and the model, into the training run."""
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    for key in ("best_epoch", "epochs_trained", "num_params", "train_time_s", *[k for k in summary if k.startswith("best_val_")]):
        client.log_metric(run_id, key, float(summary[key]))
    history = {
        name: [m.value for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)]
        for name in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1")
    }
    title = f"{summary['architecture']} on {summary['dataset']} (seed {summary['seed']})"
    with tempfile.TemporaryDirectory() as tmp:
        client.log_artifact(run_id, str(plots.learning_curves({k: v for k, v in history.items() if v}, title, Path(tmp) / "learning_curves.png")), "plots")
        client.log_artifact(run_id, str(plots.confusion_matrix(matrix, meta["classes"], f"validation confusion: {title}", Path(tmp) / "confusion_val.png")), "plots")
    mlflow.pyfunc.log_model(  # into the active run
        name="model",
        python_model=SequenceModel(model, meta),
        pip_requirements=[f"{p}=={_version(p)}" for p in tracking.MODEL_REQUIREMENTS_PACKAGES],
        code_paths=[str(Path(__file__).resolve().parent)],  # the rnnlab package travels with the model
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package).split("+")[0]


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.train", description="Train one (architecture, dataset, seed) with the values in params.yaml.")
    parser.add_argument("--architecture", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    root = project_root()
    summary = train_run(load_config(root / "params.yaml"), root, args.architecture, args.dataset, args.seed)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
