"""The end of a training run: the best checkpoint reloaded and scored on validation in one
process, its numbers, learning curves, the task's pictures and the model logged into its MLflow
run, and ``run.json`` written. Each rank also writes a hash of its final weights (DDP must leave
them identical everywhere).

A run finished again after a kill during these writes logs each value once, and ``run_time_s``
(from the call to train to the last write but closing the run) beside ``train_time_s`` (inside
``fit``): what a run costs beyond fitting is their difference.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import mlflow
import torch
from torch import nn

from rnnlab import files, plots, tracking
from rnnlab.code import PACKAGE_DIR
from rnnlab.config import Config
from rnnlab.data.meta import DatasetMeta
from rnnlab.evaluate import count_parameters, predict
from rnnlab.serving import SequenceModel


def finish(
    config, root, out, architecture, dataset, seed, trainer, module, meta, val_set, run_id, train_time, started
) -> dict:
    """Reload the best checkpoint, score it on validation in one process, log everything, write run.json."""
    checkpoint = trainer.checkpoint_callback
    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    module.load_state_dict(best["state_dict"])
    model = module.model
    predicted, target = predict(model, val_set, meta.task, config.train_for(dataset, architecture).batch_size)
    val_metrics = {f"best_val_{k}": v for k, v in meta.kind.metrics(predicted, target, meta).items()}
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
        "task": meta.task,
        **val_metrics,
    }
    log_results(config, root, run_id, model, summary, (predicted, target, val_set), meta)
    summary["run_time_s"] = time.perf_counter() - started  # to the last write but closing the run
    client = mlflow.MlflowClient(tracking.tracking_uri(config, root))
    if "run_time_s" not in client.get_run(run_id).data.metrics:  # once, even when finished again after a kill
        client.log_metric(run_id, "run_time_s", summary["run_time_s"])
    files.write_json(out / "run.json", summary)  # run.json before the unlink: a kill between leaves a finished run
    (out / "last.ckpt").unlink(missing_ok=True)
    return summary


def write_weight_hash(out: Path, rank: int, model: nn.Module) -> None:
    """Each rank's final weights, hashed: DDP must leave them identical everywhere."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    (out / "ranks").mkdir(parents=True, exist_ok=True)
    files.write_text(out / "ranks" / f"rank_{rank}.sha256", digest.hexdigest() + "\n")


def log_results(
    config: Config, root: Path, run_id: str, model: nn.Module, summary: dict, val_answers, meta: DatasetMeta
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
    history = tracking.metric_history(client, run_id, curves)
    title = f"{summary['architecture']} on {summary['dataset']} (seed {summary['seed']})"
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = [
            plots.learning_curves({k: v for k, v in history.items() if v}, title, Path(tmp) / "learning_curves.png")
        ]
        artifacts += meta.kind.validation_pictures(
            model, meta, val_answers, title, Path(tmp), config.dataset(summary["dataset"]), summary["seed"]
        )
        for path in artifacts:
            client.log_artifact(run_id, str(path), "plots" if path.suffix == ".png" else "samples")
    mlflow.pyfunc.log_model(  # into the active run
        name="model",
        python_model=SequenceModel(model.eval(), meta, limits=config.serving.model_dump()),
        pip_requirements=[f"{p}=={_version(p)}" for p in tracking.MODEL_REQUIREMENTS_PACKAGES],
        code_paths=[str(PACKAGE_DIR)],  # the rnnlab package travels with the model
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package).split("+")[0]
