"""`rnnlab tune`: an Optuna study per (architecture, dataset), the same budget for every architecture.

Each trial draws the architecture's settings (``Architecture.space`` in rnnlab.architectures, or params.yaml's
``tune.space``) and the optimiser's (``search_space.TRAIN_SPACE``), then trains exactly as the pipeline
does (``train.train_run``: the same module, checkpoint and MLflow run) for at most ``tune.max_epochs``
epochs (by default the dataset's own cap), with the seed ``tune.seed``. The objective is the pipeline's
own selection value: the validation metric of the checkpoint with the lowest validation loss. The median
pruner stops a trial whose validation metric falls behind the median of earlier trials at the same epoch
(Lightning callback from optuna-integration). TPE draws the settings, seeded; the first trial of every
study is params.yaml's own settings (the space widened to hold them), so a tuned pair is never worse on
validation than its entry. profiles/tuned.yaml keeps the best trial whose fit took at most
``tune.max_cost`` × that first trial's, or ``tune.max_extra_s`` seconds more where that is more
(:func:`within_cost`), where more seeds confirm it is better and, by the median of their fits, no dearer
than that limit (:func:`confirm`). The test split is never read.

A study lives in ``tuning/<dataset>/<architecture>/``: Optuna's journal file (one writer at a time, appended
line by line, so a kill loses nothing written) and one folder per trial. Run again, a study goes on:
finished and pruned trials count towards its dataset's budget (``tune.trials``, or ``tune.dataset_trials``);
a trial that was running when its process died is marked failed and its settings are tried again, once.
In MLflow each trial is a run nested under the study's parent run (``rnnlab.kind = tuning``) in the
dataset's experiment. Several pairs tune side by side, each study a task on the execution engine
(:func:`tune_pairs`). The untuned trial is never pruned: it is what the profile's cost is measured against.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.futures import as_completed

from rnnlab import architectures, execution, files, tracking
from rnnlab.config import Config
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.kinds import KINDS, greater_is_better
from rnnlab.paths import prepared_dir, reports_dir
from rnnlab.search_space import INPUT_KEYS, INPUT_SPACES, TRAIN_SPACE, Choice, Range, Space

TUNING_DIR = "tuning"
JOURNAL = "study.journal"
RESULTS_FILE = "tuning.json"  # in reports/: every finished study's outcome; tuning.md is written from it
PROFILE = "tuned"  # profiles/tuned.yaml: every tuned pair's best settings, as params.yaml's tuned section
CONFIRMED = "confirmed"  # the study's user attribute: trial number -> seed -> its values on the validation splits


def study_dir(root: Path, dataset: str, architecture: str) -> Path:
    return Path(root) / TUNING_DIR / dataset / architecture


def space_for(config: Config, architecture: str, dataset: str) -> Space:
    """What a trial of ``architecture`` on ``dataset`` draws: the architecture's space and the train space,
    params.yaml's ``tune.space`` entries replacing them, and no choice the task rules out (both
    directions where each step is predicted from the steps before it). A range or list of choices that
    does not hold the pair's own params.yaml setting is widened to hold it, so the study's first trial
    can be exactly that setting (BasicMotions trains with batches of 8, the train space draws 16–64)."""
    params = config.architecture(architecture)
    settings, kind = config.dataset(dataset), config.data_kind(dataset)
    inputs = INPUT_SPACES["tokens"] if settings.tokens is not None else {}
    space: Space = {
        **architectures.get(params.type).space,
        **TRAIN_SPACE,
        **inputs,
        **{k: v for k, v in config.tune.space.get(architecture, {}).items() if k in inputs or k not in INPUT_KEYS},
    }
    for name, entry in list(space.items()):
        if isinstance(entry, Choice) and name in type(params).model_fields:
            allowed = [
                c
                for c in entry.choices
                if architectures.incompatibility(params.model_copy(update={name: c}), settings.task, kind) is None
            ]
            if not allowed:
                raise ConfigError(
                    f"tune.space.{architecture}.{name}: no choice of "
                    f"{entry.choices} can train on {dataset} ({settings.task})"
                )
            space[name] = Choice(choices=allowed)
    for name, value in own_values(config, architecture, dataset, list(space)).items():
        entry = space[name]
        if isinstance(entry, Choice) and value not in entry.choices:
            space[name] = Choice(choices=[*entry.choices, value])
        elif isinstance(entry, Range) and not entry.low <= value <= entry.high and (value > 0 or not entry.log):
            space[name] = Range(low=min(entry.low, value), high=max(entry.high, value), log=entry.log)
    return space


def own_values(config: Config, architecture: str, dataset: str, names: list[str]) -> dict:
    """The pair's params.yaml settings of ``names`` (its architecture entry and train section, not what an
    earlier tuning chose; a token embedding's size as the data has it where the run sets none)."""
    base = trial_config(config, architecture, dataset, {})
    arch, train = base.architecture(architecture, dataset), base.train_for(dataset, architecture)
    values = {}
    for name in names:
        value = getattr(arch, name) if name in type(arch).model_fields else getattr(train, name)
        if name == "embedding_size" and value is None:
            value = config.dataset(dataset).tokens.embedding_size
        values[name] = value
    return values


def trial_config(config: Config, architecture: str, dataset: str, values: dict) -> Config:
    """``config`` with a trial's values: the architecture's settings, and the dataset's train section
    with the tuning budget (max_epochs, patience) and the optimiser's values."""
    raw = config.model_dump(mode="json")
    raw["tuned"].get(dataset, {}).pop(architecture, None)  # a trial starts from the entries, not from an earlier tuning
    # A trial trains one pipeline pair. Its values change the architecture's entry for every dataset, so a
    # study's pair that the entry could train before (an LSTM on a language model, once bidirectional) may be
    # ruled out: the studies are not the trial's to validate.
    raw["experiments"] = {}
    arch_fields = type(config.architecture(architecture)).model_fields
    raw["architectures"][architecture].update({k: v for k, v in values.items() if k in arch_fields})
    train = raw["datasets"][dataset]["train"]
    train.update({k: v for k, v in values.items() if k in TRAIN_SPACE or k in INPUT_KEYS})
    train.update(epoch_budget(config, dataset))
    return Config.model_validate(raw)


def epoch_budget(config: Config, dataset: str) -> dict[str, int]:
    """A trial's epoch cap and patience on ``dataset``: tune's, or where it sets none the dataset's own."""
    own = config.train_for(dataset)
    return {"max_epochs": config.tune.max_epochs or own.max_epochs, "patience": config.tune.patience or own.patience}


def entry_values(config: Config, architecture: str, dataset: str, space: Space) -> dict:
    """The settings params.yaml gives the pair, for each entry of ``space`` that holds them."""
    values = {}
    for name, value in own_values(config, architecture, dataset, list(space)).items():
        entry = space[name]
        if value in entry.choices if isinstance(entry, Choice) else entry.low <= value <= entry.high:
            values[name] = value
    return values


def check_pair(config: Config, architecture: str, dataset: str) -> None:
    """One line if the pipeline's plan does not train ``architecture`` on ``dataset``."""
    config.dataset(dataset)
    config.architecture(architecture)
    if (architecture, dataset) in config.pairs():
        return
    why = next((w for a, d, w in config.skipped() if (a, d) == (architecture, dataset)), None)
    if why is None:
        missing = "dataset" if dataset not in config.pipeline.datasets else "architecture"
        why = f"the {missing} is not in pipeline.{missing}s"
    raise ConfigError(f"cannot tune {architecture} on {dataset}: {why}")


def check_prepared(root: Path, dataset: str) -> None:
    """One line if ``dataset`` has not been prepared: tuning trains on the pipeline's prepared data."""
    if not prepared_dir(root, dataset).is_dir():
        raise RnnlabError(
            f"{prepared_dir(root, dataset)}: missing; prepare the data "
            f"first (dvc repro prepare@{dataset}, or make pipeline)"
        )


def pairs_to_tune(
    config: Config, root: Path, datasets: list[str] | None, architectures: list[str] | None
) -> list[tuple[str, str]]:
    """(architecture, dataset) pairs, every one checked before any trains (in the plan, its data
    prepared): by default every pipeline dataset with every architecture the plan trains on it."""
    pairs = []
    for dataset in datasets or config.pipeline.datasets:
        config.dataset(dataset)
        if dataset not in config.pipeline.datasets:
            raise ConfigError(f"cannot tune on {dataset}: the dataset is not in pipeline.datasets")
        pairs += [(a, dataset) for a in (architectures or config.architectures_for(dataset))]
    for architecture, dataset in pairs:
        check_pair(config, architecture, dataset)
    for dataset in dict.fromkeys(d for _, d in pairs):
        check_prepared(root, dataset)
    return list(dict.fromkeys(pairs))  # a pair named twice is one study


def validation_splits(config: Config, root: Path, dataset: str) -> list[Path]:
    """The prepared folders a trial trains on: the pipeline's own; and where its validation split holds
    fewer than ``tune.small_validation`` sequences (and is not a split in time), ``tune.repeats - 1``
    more whose validation part is drawn again from the pipeline's train ∪ val (seeds 1, 2, ...;
    stratified by class for classification; the same size). They keep the encoding fitted on the
    pipeline's train part, and their test part is empty: tuning never reads test."""
    from rnnlab.data.prepare import read_prepared, write_prepared
    from rnnlab.data.splits import draw
    from rnnlab.data.table import SEQUENCE_ID

    base = prepared_dir(root, dataset)
    splits, meta = read_prepared(base)
    val_size = splits["val"][SEQUENCE_ID].nunique()
    if config.tune.repeats == 1 or meta.kind.splits_in_time or val_size >= config.tune.small_validation:
        return [base]
    source = data_identity(base)
    pool = pd.concat([splits["train"], splits["val"]], ignore_index=True)
    fraction = val_size / pool[SEQUENCE_ID].nunique()
    folders = [base]
    for repeat in range(1, config.tune.repeats):
        folder = Path(root) / TUNING_DIR / dataset / "splits" / f"split_{repeat}"
        made = (
            json.loads((folder / "meta.json").read_text()).get("tuning_split", {})
            if (folder / "meta.json").is_file()
            else {}
        )
        if made != {"repeat": repeat, "from": source}:
            train, val = draw(pool, fraction, meta.kind.stratify, repeat, f"tuning split {repeat} of {dataset}", "val")
            write_prepared(
                folder,
                {"train": train, "val": val, "test": splits["test"].iloc[0:0]},
                replace(meta, tuning_split={"repeat": repeat, "from": source}),
            )
        folders.append(folder)
    return folders


def data_identity(folder: Path) -> str:
    """The hash of what a study's trials read from a prepared folder: its train and validation parts and its
    meta.json without ``baselines``, the test part's reference scores. Those come from least-squares fits
    (AR, ridge) whose last digits differ from one CPU to another, and tuning never reads them or the test
    part, so a study recorded on one machine goes on, or is re-chosen from, on another."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("train.parquet", "val.parquet"):
        digest.update((Path(folder) / name).read_bytes())
    meta = json.loads((Path(folder) / "meta.json").read_text())
    meta.pop("baselines", None)
    digest.update(json.dumps(meta, sort_keys=True).encode())
    return digest.hexdigest()


def _budget(config: Config, dataset: str, space: Space, data_sha256: str) -> dict:
    """What a study's trials must share to be counted together: the budget, the space and the data."""
    tune = config.tune
    return {
        "trials": tune.trials_for(dataset),
        **epoch_budget(config, dataset),
        "seed": tune.seed,
        "repeats": tune.repeats,
        "small_validation": tune.small_validation,
        "space": {k: v.model_dump() for k, v in sorted(space.items())},
        "data_sha256": data_sha256,
    }


def tune_pair(config: Config, root: Path, architecture: str, dataset: str, log=print) -> dict:
    """Run (or continue) the study of one pair until its dataset's trials have finished or been pruned;
    return its outcome (:func:`record_result` writes it into the reports)."""
    import mlflow
    import optuna
    from optuna.trial import TrialState
    from optuna_integration import PyTorchLightningPruningCallback

    from rnnlab.train import train_run

    check_pair(config, architecture, dataset)
    check_prepared(root, dataset)
    task = KINDS[config.dataset(dataset).task]
    space = space_for(config, architecture, dataset)
    folder = study_dir(root, dataset, architecture)
    folder.mkdir(parents=True, exist_ok=True)
    budget = _budget(config, dataset, space, data_identity(prepared_dir(root, dataset)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / JOURNAL)))
    study = optuna.create_study(
        study_name=f"{dataset}/{architecture}",
        storage=storage,
        load_if_exists=True,
        direction="maximize" if task.greater_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=config.tune.sampler_seed, n_startup_trials=config.tune.startup_trials),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=config.tune.startup_trials, n_warmup_steps=config.tune.warmup_epochs
        ),
    )
    shared = lambda b: {k: v for k, v in b.items() if k != "trials"}  # noqa: E731  more trials only extend a study
    recorded = dict(study.user_attrs.get("budget", budget))
    if recorded["data_sha256"] != budget["data_sha256"] and recorded["data_sha256"] == tracking.folder_sha256(
        prepared_dir(root, dataset)
    ):
        recorded["data_sha256"] = budget["data_sha256"]  # recorded as the whole folder's hash: the same data
    if shared(recorded) != shared(budget):
        raise ConfigError(
            f"{folder}: this study was run with another epoch cap, seed, search space or data; its trials cannot be "
            f"counted with new ones (delete {folder} to start it afresh, or restore the settings it was run with)"
        )
    study.set_user_attr("budget", budget)
    uri = tracking.prepare_store(config, root)
    client = mlflow.MlflowClient(uri)
    experiment = tracking.ensure_experiment(client, config, root, dataset)
    parent = study.user_attrs.get("mlflow_parent_run_id")
    if parent is not None and tracking.run_status(client, parent) is None:
        log(f"[tune {architecture} on {dataset}] the MLflow store has no parent run {parent}: a new one holds trials")
        parent = None
    if parent is None:
        parent = client.create_run(
            experiment,
            run_name=f"tune {architecture}",
            tags={
                "rnnlab.kind": "tuning",
                "architecture": architecture,
                "dataset": dataset,
                "git_commit": tracking.git_commit(root),
            },
        ).info.run_id
        client.log_param(parent, "trials", budget["trials"])
        client.log_param(parent, "max_epochs_per_trial", budget["max_epochs"])
        client.log_param(parent, "space", json.dumps(budget["space"])[:6000])
        study.set_user_attr("mlflow_parent_run_id", parent)
    if not study.trials:  # the first trial is params.yaml's own settings: tuning can only match or beat them
        study.enqueue_trial(entry_values(config, architecture, dataset, space), user_attrs={"untuned": True})
    _requeue_the_dead(study, folder, client)
    prepared = validation_splits(config, root, dataset)
    if len(prepared) > 1:
        client.set_tag(parent, "validation_splits", str(len(prepared)))

    def objective(trial: optuna.Trial) -> float:
        values = {name: entry.suggest(trial, name) for name, entry in space.items()}
        trial_cfg = trial_config(config, architecture, dataset, values)
        home = folder / f"trial_{trial.number}"
        metric = f"val_{task.selection_metric}"
        summaries = []
        # the untuned trial is the profile's reference: its curve feeds the pruner's median, it is never pruned
        watch = _report_only() if trial.user_attrs.get("untuned") else PyTorchLightningPruningCallback
        for k, split in enumerate(prepared):  # the pruner watches the first split's epochs
            tags = {
                "mlflow.parentRunId": parent,
                "rnnlab.kind": "trial",
                "optuna.trial": str(trial.number),
                "rnnlab.split": str(k),
            }
            pruner = (watch(trial, monitor=metric),) if k == 0 else ()
            try:
                summaries.append(
                    train_run(
                        trial_cfg,
                        root,
                        architecture,
                        dataset,
                        config.tune.seed,
                        home=home / f"split_{k}",
                        quiet=True,
                        callbacks=pruner,
                        tags=tags,
                        prepared=split,
                    )
                )
            except optuna.TrialPruned:
                for run_id in _runs_of(home):
                    client.set_tag(run_id, "rnnlab.trial_state", "pruned")
                shutil.rmtree(home, ignore_errors=True)  # its checkpoints: a pruned trial is never refit
                raise
        values_per_split = [s[f"best_val_{task.selection_metric}"] for s in summaries]
        trial.set_user_attr("run_id", summaries[0]["run_id"])
        trial.set_user_attr("split_values", values_per_split)
        trial.set_user_attr("train_time_s", sum(s["train_time_s"] for s in summaries) / len(summaries))
        trial.set_user_attr("epochs_trained", summaries[0]["epochs_trained"])
        return float(np.mean(values_per_split))

    done = lambda: [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]  # noqa: E731
    started = time.perf_counter()
    while len(done()) < budget["trials"]:
        ran: list = []
        study.optimize(objective, n_trials=1, callbacks=[lambda _, trial, ran=ran: ran.append(trial)])
        last = ran[0]
        shown = (
            f"{last.value:.4f}"
            if last.state == TrialState.COMPLETE
            else f"{last.state.name.lower()} after epoch {last.last_step}"
        )
        best = f"{study.best_value:.4f}" if any(t.state == TrialState.COMPLETE for t in study.trials) else "—"
        elapsed = time.perf_counter() - started
        log(
            f"[tune {architecture} on {dataset}] trial {last.number}: {shown} "
            f"({len(done())}/{budget['trials']} done, best {best}, {elapsed:.0f} s)",
            flush=True,
        )
    return _finish(config, root, study, architecture, dataset, parent, client)


def _report_only():
    """A Lightning callback that reports each epoch's validation value to the trial, as the pruning
    callback does, and never prunes it."""
    from lightning.pytorch.callbacks import Callback

    class ReportOnly(Callback):
        def __init__(self, trial, monitor: str):
            self.trial, self.monitor = trial, monitor

        def on_validation_end(self, trainer, pl_module) -> None:
            value = trainer.callback_metrics.get(self.monitor)
            if not trainer.sanity_checking and value is not None:
                self.trial.report(float(value), step=trainer.current_epoch)

    return ReportOnly


def tune_pairs(config: Config, root: Path, pairs: list[tuple[str, str]]) -> list[dict]:
    """Every pair's study, each recorded as it finishes (by this process only: reports/tuning.json,
    tuning.md and profiles/tuned.yaml have one writer), one progress line per study.

    Several pairs tune side by side on the execution engine (:mod:`rnnlab.execution`, the train
    stage's): each study is a Prefect task in a long-lived Dask worker, and its trials run one after
    another there, since TPE draws each trial from the results of those before it (trials drawn in
    parallel would depend on timing, not only on the sampler's seed). One pair tunes in this process:
    a study alone has nothing to run beside it."""
    if len(pairs) == 1:
        (architecture, dataset), progress = pairs[0], execution.Progress(1, 1)
        result = tune_pair(config, root, architecture, dataset)
        record_result(root, result)
        print(progress.step(f"{architecture} on {dataset}", _outcome(result), result["tuning_time_s"]), flush=True)
        return [result]
    return _tune_flow.with_options(task_runner=execution.task_runner(config))(str(root), [list(p) for p in pairs])


@task(task_run_name="tune {architecture} on {dataset}")
def _study(root: str, architecture: str, dataset: str) -> dict:
    from rnnlab.config import load_config

    execution.quiet_libraries()
    try:
        return tune_pair(load_config(Path(root) / "params.yaml"), Path(root), architecture, dataset)
    finally:
        execution.release_memory()


@flow(name="tune", log_prints=True)
def _tune_flow(root: str, pairs: list[list[str]]) -> list[dict]:
    from rnnlab.config import load_config

    config, datasets = load_config(Path(root) / "params.yaml"), list(dict.fromkeys(d for _, d in pairs))
    tracking.ready_store(config, Path(root), datasets)  # made once, before the workers write
    for dataset in datasets:  # a dataset's redrawn validation splits, shared by its studies: drawn once, here
        validation_splits(config, Path(root), dataset)
    progress = execution.Progress(len(pairs), 1 if config.trainer.spans_processes() else config.execution.workers)
    futures = {_study.submit(root, architecture, dataset): (architecture, dataset) for architecture, dataset in pairs}
    results, failures = [], []
    for future in as_completed(list(futures)):
        label = "{} on {}".format(*futures[future])
        try:
            result = future.result()
        except Exception as err:  # one study's failure is reported; the others go on
            message = execution.failure(err)
            failures.append(f"{label}: {message}")
            print(progress.step(label, f"FAILED: {message}"), flush=True)
            continue
        record_result(Path(root), result)
        results.append(result)
        print(progress.step(label, _outcome(result), result["tuning_time_s"]), flush=True)
    if failures:
        raise RnnlabError(f"tune: {len(failures)} of {len(pairs)} studies failed — " + "; ".join(failures))
    return results


def _outcome(result: dict) -> str:
    confirmation = result.get("confirmation")
    return (
        f"best {result['metric']} {result['best_value']:.4f} (trial {result['best_trial']}; "
        f"{result['trials_complete']} finished, {result['trials_pruned']} pruned, {result['tuning_time_s']:.0f} s)"
        + (f"; profile: {_confirmed(confirmation)}" if confirmation else "")
    )


def _runs_of(home: Path) -> list[str]:
    """The MLflow runs a trial's folder records (one per validation split it reached)."""
    from rnnlab.training.resume import RESUME_FILE

    return [json.loads(record.read_text())["run_id"] for record in sorted(home.rglob(RESUME_FILE))]


def _requeue_the_dead(study, folder: Path, client) -> None:
    """Trials left running by a process that died: failed now, their MLflow runs KILLED, and their
    settings tried again once (so a kill loses no trial and counts none twice)."""
    from optuna.trial import TrialState

    requeued = set(study.user_attrs.get("requeued", []))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if trial.number in requeued:
            continue
        for run_id in _runs_of(folder / f"trial_{trial.number}"):
            if tracking.run_status(client, run_id) == "RUNNING":  # None: a store that no longer holds it
                client.set_terminated(run_id, status="KILLED")
        marks = {"untuned": True} if trial.user_attrs.get("untuned") else None  # the settings, drawn or not
        study.enqueue_trial(trial.system_attrs.get("fixed_params", trial.params), user_attrs=marks)
        requeued.add(trial.number)
    study.set_user_attr("requeued", sorted(requeued))


def _finish(config: Config, root: Path, study, architecture: str, dataset: str, parent: str, client) -> dict:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    seconds = tuning_seconds(trials)
    best = study.best_trial
    untuned = untuned_reference(trials)
    greater = KINDS[config.dataset(dataset).task].greater_is_better
    candidate = within_cost(complete, untuned, config.tune.max_cost, greater, config.tune.max_extra_s)
    chosen, confirmation = candidate, None
    if (
        config.tune.confirm_seeds
        and candidate is not None
        and untuned is not None
        and candidate.number != untuned.number
    ):
        confirmation = confirm(config, root, study, architecture, dataset, parent, (candidate, untuned))
        if not confirmation["kept_candidate"]:
            chosen = untuned  # the profile keeps params.yaml's settings
    result = {
        "architecture": architecture,
        "dataset": dataset,
        "metric": f"val_{KINDS[config.dataset(dataset).task].selection_metric}",
        "best_value": best.value,
        "best_params": best.params,
        "best_trial": best.number,
        "best_run_id": best.user_attrs.get("run_id"),
        "trials_complete": len(complete),
        "trials_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "trials_failed": sum(t.state == TrialState.FAIL for t in trials),
        "tuning_time_s": seconds,
        "best_train_time_s": best.user_attrs.get("train_time_s"),
        "best_epochs": best.user_attrs.get("epochs_trained"),
        "untuned_trial": untuned.number if untuned else None,
        "untuned_value": untuned.value if untuned else None,
        "untuned_train_time_s": untuned.user_attrs.get("train_time_s") if untuned else None,
        "max_cost": config.tune.max_cost,
        "max_extra_s": config.tune.max_extra_s,
        "chosen_trial": chosen.number if chosen else None,
        "chosen_value": chosen.value if chosen else None,
        "chosen_params": chosen.params if chosen else None,
        "chosen_train_time_s": chosen.user_attrs.get("train_time_s") if chosen else None,
        "chosen_epochs": chosen.user_attrs.get("epochs_trained") if chosen else None,
        "confirmation": confirmation,
        "budget": {k: v for k, v in study.user_attrs["budget"].items() if k != "space"},
        "space": study.user_attrs["budget"]["space"],
    }
    client.log_metric(parent, "best_value", best.value)
    client.log_metric(parent, "tuning_time_s", seconds)
    for name, value in best.params.items():
        client.set_tag(parent, f"best.{name}", str(value))
    if chosen:
        client.log_metric(parent, "chosen_value", chosen.value)
        client.set_tag(parent, "chosen_trial", str(chosen.number))
    client.set_terminated(parent, status="FINISHED")
    return result


def tuning_seconds(trials: list) -> float:
    """The seconds of the trials that ran to their end or were pruned. A trial whose process died is
    failed when its study goes on, so its span would reach that moment (hours later, perhaps); how long
    it ran is not known, and it is not counted."""
    from optuna.trial import TrialState

    return sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.datetime_complete and t.datetime_start
    )


def confirm(config: Config, root: Path, study, architecture: str, dataset: str, parent: str, trials: tuple) -> dict:
    """Train each of ``trials`` (the best trial within the cost limit, the untuned one) with
    ``tune.confirm_seeds`` more seeds on the validation splits its trial was scored on (the pipeline's, and
    the redrawn ones where validation is small), as real MLflow runs nested under the study's parent. A
    seed's value is its mean over the splits, as a trial's is; the candidate is kept where its mean over
    the seeds beats the untuned settings' and, by the median over the seeds, its fit is within the cost
    limit (:func:`decide`). Each seed's values are kept in the
    study's journal as they land, so a killed confirmation goes on and a recorded one trains nothing again."""
    from rnnlab.train import train_run

    task = KINDS[config.dataset(dataset).task]
    seeds = [config.tune.seed + k for k in range(1, config.tune.confirm_seeds + 1)]
    prepared = validation_splits(config, root, dataset)
    stored = dict(study.user_attrs.get(CONFIRMED, {}))
    values, fits = [], []
    for trial in trials:
        done = dict(stored.get(str(trial.number), {}))
        for seed in seeds:
            if str(seed) in done:
                continue
            summaries = [
                train_run(
                    trial_config(config, architecture, dataset, trial.params),
                    root,
                    architecture,
                    dataset,
                    seed,
                    home=study_dir(root, dataset, architecture) / f"confirm_{trial.number}" / f"split_{k}",
                    quiet=True,
                    tags={
                        "mlflow.parentRunId": parent,
                        "rnnlab.kind": "confirmation",
                        "optuna.trial": str(trial.number),
                        "rnnlab.split": str(k),
                    },
                    prepared=split,
                )
                for k, split in enumerate(prepared)
            ]
            done[str(seed)] = {
                "split_values": [s[f"best_val_{task.selection_metric}"] for s in summaries],
                "train_time_s": float(np.mean([s["train_time_s"] for s in summaries])),
            }
            stored[str(trial.number)] = done
            study.set_user_attr(CONFIRMED, stored)
        values.append([trial.value, *(float(np.mean(done[str(s)]["split_values"])) for s in seeds)])
        fits.append([trial.user_attrs["train_time_s"], *(done[str(s)]["train_time_s"] for s in seeds)])
    candidate, untuned = trials
    return {
        "seeds": [config.tune.seed, *seeds],
        "splits": len(prepared),
        "candidate_trial": candidate.number,
        "candidate_values": values[0],
        "candidate_mean": float(np.mean(values[0])),
        "candidate_train_time_s": fits[0],
        "untuned_values": values[1],
        "untuned_mean": float(np.mean(values[1])),
        "untuned_train_time_s": fits[1],
        **decide(values, fits, config.tune.max_cost, config.tune.max_extra_s, task.greater_is_better),
    }


def decide(
    values: list[list[float]], fits: list[list[float]], max_cost: float | None, max_extra_s: float, greater: bool
) -> dict:
    """The confirmation's verdict on the candidate (``values[0]``, ``fits[0]``: one per seed) against the
    untuned settings (``values[1]``, ``fits[1]``): ``better`` (:func:`keeps_candidate`), the median of its
    fit over the cost limit seed by seed (:func:`fit_over_limit`; None without a limit) and
    ``kept_candidate``, both conditions met."""
    better = keeps_candidate(values[0], values[1], greater)
    over = None if max_cost is None else float(np.median(fit_over_limit(fits[0], fits[1], max_cost, max_extra_s)))
    return {"better": better, "fit_over_limit_median": over, "kept_candidate": better and (over is None or over <= 1.0)}


def _over(seconds: float, limit: float) -> float:
    """``seconds`` over ``limit``; a limit of 0 s: within it only for 0 s."""
    if limit > 0:
        return seconds / limit
    return 1.0 if seconds <= 0 else float("inf")


def cost_limit(untuned_fit: float, max_cost: float | None, max_extra_s: float = 0.0) -> float | None:
    """The fit seconds a tuned trial may take against its untuned settings' ``untuned_fit``: ``max_cost`` ×
    that or, where ``max_extra_s`` is set, that many seconds more, whichever is more (None: no limit)."""
    if max_cost is None:
        return None
    return max(max_cost * untuned_fit, untuned_fit + max_extra_s) if max_extra_s else max_cost * untuned_fit


def fit_over_limit(
    candidate: list[float], untuned: list[float], max_cost: float, max_extra_s: float = 0.0
) -> list[float]:
    """The candidate's fit over the limit its untuned settings' fit sets (:func:`cost_limit`), seed by seed;
    the profile keeps a candidate whose median is at most 1. One reading varies with what else the machine ran
    at that moment, so the check takes the median of several. The first reading, the trial's own seed, is
    within the limit by construction (the candidate was picked among the trials within it), so with two
    confirmation seeds the median is within the limit where at least one of them is."""
    return [_over(c, cost_limit(u, max_cost, max_extra_s)) for c, u in zip(candidate, untuned)]


def keeps_candidate(candidate: list[float], untuned: list[float], greater: bool) -> bool:
    """Whether tuned settings replace params.yaml's: their mean over the seeds is better (a tie keeps
    params.yaml's, which the reader already knows)."""
    gap = float(np.mean(candidate)) - float(np.mean(untuned))
    return gap > 0 if greater else gap < 0


def untuned_reference(trials: list):
    """The finished trial of params.yaml's own settings that the profile's cost is measured against: of
    several (settings measured again), the fastest fit, the one least disturbed by other work on the
    machine and so the strictest limit. A study from before the untuned mark: its first enqueued trial."""
    from optuna.trial import TrialState

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    fit = lambda t: t.user_attrs.get("train_time_s", float("inf"))  # noqa: E731
    untuned = min((t for t in complete if t.user_attrs.get("untuned")), key=fit, default=None)
    if untuned is None and not any("untuned" in t.user_attrs for t in trials):
        untuned = next((t for t in complete if "fixed_params" in t.system_attrs), None)
    return untuned


def within_cost(complete: list, untuned, max_cost: float | None, greater: bool, max_extra_s: float = 0.0):
    """The best of the finished trials whose fit took at most the cost limit (:func:`cost_limit`: ``max_cost``
    × the untuned trial's fit, or ``max_extra_s`` more, whichever is more; the untuned trial always qualifies);
    with no limit, the best. None where a limit is set but the study holds no finished untuned trial to
    measure it against (the pair then keeps its params.yaml settings)."""
    if max_cost is not None and (untuned is None or untuned.user_attrs.get("train_time_s") is None):
        return None
    limit = None if max_cost is None else cost_limit(untuned.user_attrs["train_time_s"], max_cost, max_extra_s)
    cheap = [
        t for t in complete if limit is None or t is untuned or t.user_attrs.get("train_time_s", float("inf")) <= limit
    ]
    return (max if greater else min)(cheap, key=lambda t: (t.value, -t.number) if greater else (t.value, t.number))


def changes_settings(result: dict) -> bool:
    """Whether a study's outcome replaces its pair's params.yaml settings: a trial other than the untuned
    one was chosen. A pair that keeps its settings gets no profile entry, so a later edit of params.yaml
    reaches it."""
    return result.get("chosen_params") is not None and result.get("chosen_trial") != result.get("untuned_trial")


def record_result(root: Path, result: dict) -> Path:
    """Add one study's outcome to reports/tuning.json; rewrite reports/tuning.md and profiles/tuned.yaml from it."""
    import yaml

    from rnnlab.profiles import PROFILES_DIR

    path = reports_dir(root) / RESULTS_FILE
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.setdefault(result["dataset"], {})[result["architecture"]] = result
    files.write_json(path, results, sort_keys=True)
    files.write_text(path.with_suffix(".md"), tuning_markdown(results))
    chosen = {  # a pair that keeps its params.yaml settings (or could not measure the cost) has no entry
        ds: {a: dict(sorted(r["chosen_params"].items())) for a, r in sorted(pairs.items()) if changes_settings(r)}
        for ds, pairs in sorted(results.items())
    }
    chosen = {ds: entries for ds, entries in chosen.items() if entries}
    files.write_text(
        Path(root) / PROFILES_DIR / f"{PROFILE}.yaml",
        "# Written by `rnnlab tune` from reports/tuning.json: each tuned pair's best settings on its validation "
        "split\n# among the trials whose fit took at most tune.max_cost × its untuned settings' (or tune.max_extra_s "
        "more), where more "
        "seeds confirmed it\n# (reports/tuning.md). A pair whose study kept params.yaml's settings has no entry.\n"
        f"# `rnnlab profile {PROFILE}` merges them into params.yaml's tuned section when the config loads; "
        "make pipeline then trains with them.\n" + yaml.safe_dump({"tuned": chosen}, sort_keys=False),
    )
    return path


def tuning_markdown(results: dict) -> str:
    lines = [
        "# Tuning",
        "",
        "One Optuna study per (architecture, dataset) with the same budget for every architecture of a dataset:",
        "the trials and the per-trial epoch cap below, TPE seeded, the median pruner, selection on the validation",
        "split only (the value is the pipeline's own: the validation metric of the lowest-validation-loss checkpoint).",
        "The first trial of every study is params.yaml's own settings (*untuned*). profiles/tuned.yaml keeps the",
        "best trial whose fit took at most `tune.max_cost` × the untuned trial's, or `tune.max_extra_s` seconds more",
        "where that is more (a pair whose runs fit in seconds), so training with the profile costs about what the",
        "untuned settings do; a dearer *best* is reported here with its cost. That trial won among",
        "many on one training seed, so it is confirmed before it replaces the untuned settings: both are trained",
        "with `tune.confirm_seeds` more seeds on the validation splits the trials were scored on, and the *profile*",
        "keeps it only where its mean over the seeds is better and, by the median over the seeds, its fit is within",
        "that limit of the untuned settings' (*confirmed*: its mean vs the untuned mean; *kept*: which one; a",
        "seed's value is its mean over the splits, as a trial's is).",
        "Fit seconds are a trial's own, measured while the studies ran side by side; the confirmation gives the",
        "candidate's fit over the untuned settings' once per seed (the trial's seed first: the ratio the first",
        "cost check was applied to; the confirmation seeds trained both at about the same moment); the profile's",
        "cost check takes the median over the seeds of the candidate's fit over the limit the untuned fit sets;",
        "*tuning s* sums the spans of",
        "the trials that finished or were pruned (a trial interrupted by a kill is not counted: how long it ran is",
        "not known). Written by `rnnlab tune`.",
    ]
    for dataset, pairs in sorted(results.items()):
        metric = next(iter(pairs.values()))["metric"]
        greater = greater_is_better(metric)
        rows = sorted(pairs.values(), key=lambda r: r["best_value"], reverse=greater)
        budget = rows[0]["budget"]
        # the trials each study ran: more than its budget where the budget was lowered after they ran
        ran = {r["architecture"]: r["trials_complete"] + r["trials_pruned"] for r in rows}
        usual = Counter(ran.values()).most_common(1)[0][0]
        other = ", ".join(f"{a}: {n}" for a, n in ran.items() if n != usual)
        trials = f"{usual} trials" + (f" ({other})" if other else "")
        costs = sorted(
            {(r.get("max_cost"), r.get("max_extra_s") or 0) for r in rows},
            key=lambda c: (c[0] is None, c[0] or 0, c[1]),
        )
        limit = "; profile: fit ≤ " + " / ".join(_limit(*c) for c in costs)
        lines += [
            "",
            f"## {dataset}",
            "",
            f"Budget per architecture: {trials} of at most {budget['max_epochs']} epochs (patience "
            f"{budget['patience']}), training seed {budget['seed']}. Value: {metric}{limit}.",
            "",
            "| architecture | untuned: value, fit s | profile: trial, value, fit s | best: trial, value, fit s, epochs "
            "| confirmed over seeds: trial, mean vs untuned mean, fit × untuned's per seed "
            "| trials finished / pruned | tuning s "
            "| profile settings |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            chosen = r.get("chosen_params") or {}
            settings = ", ".join(f"{k}={_short(v)}" for k, v in sorted(chosen.items())) or "params.yaml's"
            untuned = (
                f"{r['untuned_value']:.4f}, {_seconds(r['untuned_train_time_s'])}"
                if r.get("untuned_value") is not None
                else "—"
            )
            profile = (
                f"{r['chosen_trial']}, {r['chosen_value']:.4f}, {_seconds(r['chosen_train_time_s'])}"
                if r.get("chosen_trial") is not None
                else "none: no untuned trial to measure the cost against"
            )
            best = (
                f"{r['best_trial']}, {r['best_value']:.4f}, {_seconds(r.get('best_train_time_s'))}, "
                f"{r.get('best_epochs') if r.get('best_epochs') is not None else '—'}"
            )
            lines.append(
                f"| {r['architecture']} | {untuned} | {profile} | {best} | {_confirmed(r.get('confirmation'))} | "
                f"{r['trials_complete']} / "
                f"{r['trials_pruned']} | {r['tuning_time_s']:.0f} | {settings} |"
            )
        lines += ["", "Search spaces:", ""]
        lines += [
            f"- {r['architecture']}: " + "; ".join(f"{k} {_entry(v)}" for k, v in r["space"].items()) for r in rows
        ]
    return "\n".join(lines) + "\n"


def _confirmed(confirmation: dict | None) -> str:
    if not confirmation:
        return "—"
    if confirmation["kept_candidate"]:
        kept = "kept"
    elif confirmation.get("better"):  # better on validation, but dearer than the limit by the median
        median = confirmation.get("fit_over_limit_median")  # absent from a result recorded without it
        kept = "untuned kept: dearer than the limit" + (f" (median fit / limit {median:.3f})" if median else "")
    else:
        kept = "untuned kept"
    return (
        f"{confirmation['candidate_trial']}, {confirmation['candidate_mean']:.4f} vs "
        f"{confirmation['untuned_mean']:.4f} over seeds {', '.join(map(str, confirmation['seeds']))}: {kept}; "
        "fit × untuned's: " + ", ".join(f"{ratio:.2f}" for ratio in fit_ratios(confirmation))
    )


def fit_ratios(confirmation: dict) -> list[float]:
    """The candidate's fit over the untuned settings', seed by seed: how much dearer the profile's settings
    train, read several times. First the trial's seed (the two trials' own fits, measured at different
    moments: the reading the cost limit was applied to), then each confirmation seed's (both trained at
    about the same moment)."""
    return [
        _over(candidate, untuned)
        for candidate, untuned in zip(confirmation["candidate_train_time_s"], confirmation["untuned_train_time_s"])
    ]


def _limit(max_cost: float | None, max_extra_s: float) -> str:
    if max_cost is None:
        return "any"
    return f"{max_cost:g} × untuned" + (f" or untuned + {max_extra_s:g} s" if max_extra_s else "")


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _entry(entry: dict) -> str:
    if "choices" in entry:
        return "{" + ", ".join(str(c) for c in entry["choices"]) + "}"
    return f"[{entry['low']}, {entry['high']}]" + (" log" if entry.get("log") else "")
