"""The ``rnnlab`` command.

rnnlab check            validate params.yaml (one line per problem, exit 2) and plan.yaml
rnnlab plan             write plan.yaml: the stages dvc.yaml expands (make pipeline runs it)
rnnlab architectures    the registered architectures and the tasks they support
rnnlab sources          the built-in data sources
rnnlab import FILE --name N --task K --target C   a user's CSV/Parquet as a DVC-tracked dataset
rnnlab profile NAME ... make profiles/NAME.yaml (smoke, full, tuned) active: merged into params.yaml at load
rnnlab train --architecture A --dataset D --seed S   one training run (as the pipeline does)
rnnlab predict --dataset D --input FILE --output FILE  predictions of the dataset's champion
rnnlab experiment NAME  run a study (studies/NAME.yaml); report in reports/experiments/
rnnlab tune [--dataset D ...] [--architecture A ...]   Optuna studies of the pipeline's pairs; reports/tuning.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.errors import exit_on_user_error
from rnnlab.kinds import KINDS


def _check(args) -> None:
    import os

    from rnnlab.config import launch_problem, load_config, project_root
    from rnnlab.errors import ConfigError
    from rnnlab.plan import check_plan

    config = load_config()
    if problem := launch_problem(config.trainer, os.environ):
        raise ConfigError(problem)
    runs = len(config.pairs()) * len(config.train.seeds)
    print(
        f"params.yaml is valid: {len(config.pipeline.datasets)} dataset(s), {len(config.pipeline.architectures)} "
        f"architecture(s), {len(config.pairs())} compatible pair(s), {runs} training run(s)"
    )
    for architecture, dataset, why in config.skipped():
        print(f"  not trained: {architecture} on {dataset}: {why}")
    check_plan(project_root(), config)


def _plan(args) -> None:
    from rnnlab.config import load_config, project_root
    from rnnlab.lock import project_lock
    from rnnlab.plan import write_plan

    load_config()  # a bad params.yaml stops here, before anything (the lock's folder too) is written
    with project_lock(project_root(), "rnnlab plan"):
        config = load_config()
        path = write_plan(project_root(), config)
    print(
        f"{path.name}: {len(config.pairs())} (architecture, dataset) pair(s) over {len(config.pipeline.datasets)} "
        f"dataset(s), {len(config.pairs()) * len(config.train.seeds)} run(s) with the seeds"
    )
    for architecture, dataset, why in config.skipped():
        print(f"  not trained: {architecture} on {dataset}: {why}")


def _architectures(args) -> None:
    from rnnlab.architectures import ARCHITECTURES

    for arch in ARCHITECTURES.values():
        print(f"{arch.name:8s} tasks: {', '.join(sorted(arch.tasks)):12s} {arch.summary}")


def _profile(args) -> None:
    from rnnlab.config import project_root
    from rnnlab.profiles import apply_profile

    config = apply_profile(project_root(), *args.names)
    print(
        f"params.yaml: profile {config.profile}: {len(config.pipeline.datasets)} dataset(s), "
        f"{len(config.pairs())} (architecture, dataset) pair(s) x {len(config.train.seeds)} seed(s); plan.yaml and "
        "params.effective.yaml rewritten (rnnlab profile none: params.yaml as written)"
    )


def _import(args) -> None:
    from rnnlab.config import project_root
    from rnnlab.importer import import_file

    meta = import_file(project_root(), Path(args.file), args.name, args.task, args.target, args.window)
    sizes = ", ".join(f"{k} {v['sequences']}" for k, v in meta.lengths.items())
    print(
        f"imported {args.file} as dataset {args.name!r} ({args.task}; {sizes} sequences): data/raw/{args.name} is "
        f"tracked by DVC (data/raw/{args.name}.dvc), params.yaml and plan.yaml list it. Next: git add "
        f"data/raw/{args.name}.dvc params.yaml plan.yaml; make pipeline"
    )


def _sources(args) -> None:
    from rnnlab.data.sources import SOURCES

    for name, loader in SOURCES.items():
        summary = (loader.__doc__ or "").strip().splitlines()[0] if loader.__doc__ else ""
        print(f"{name:16s} {(loader.__module__ or '').rsplit('.', 1)[-1]:11s} {summary}")


def _train(args) -> None:
    from rnnlab.train import main as train_main

    train_main(["--architecture", args.architecture, "--dataset", args.dataset, "--seed", str(args.seed)])


def _experiment(args) -> None:
    from rnnlab.config import load_config, project_root
    from rnnlab.experiments import run_experiment

    report = run_experiment(load_config(), project_root(), args.name)
    print(f"report: {report} (MLflow experiment rnnlab/study-{args.name}; make ui)")


def _tune(args) -> None:
    from rnnlab.config import load_config, project_root
    from rnnlab.lock import project_lock
    from rnnlab.tuning import pairs_to_tune, tune_pairs

    config, root = load_config(), project_root()
    pairs = pairs_to_tune(config, root, args.dataset, args.architecture)
    with project_lock(root, "rnnlab tune"):  # the prepared data stay as they are while trials read them
        tune_pairs(config, root, pairs)
    print("report: reports/tuning.md (MLflow: each study a parent run, its trials nested; make ui)")


def _predict(args) -> None:
    from rnnlab.predict import predict_file

    rows = predict_file(args.dataset, Path(args.input), Path(args.output), args.model)
    print(f"{rows} sequence(s) predicted -> {args.output}")


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rnnlab", description="A reproducible laboratory for recurrent neural networks."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate params.yaml and plan.yaml").set_defaults(run=_check)
    commands.add_parser(
        "plan", help="write plan.yaml: the compatible (architecture, dataset) pairs dvc.yaml runs"
    ).set_defaults(run=_plan)
    commands.add_parser("architectures", help="list registered architectures").set_defaults(run=_architectures)
    importer = commands.add_parser("import", help="add a CSV or Parquet file (long format) as a DVC-tracked dataset")
    importer.add_argument(
        "file", help="one row per step: sequence_id, step, features or token, the target; optional split"
    )
    importer.add_argument("--name", required=True, help="the dataset's name in params.yaml")
    importer.add_argument("--task", required=True, help=" | ".join(KINDS))
    importer.add_argument("--target", required=True, help="the column to predict (forecast: a numeric feature column)")
    importer.add_argument(
        "--window", type=int, default=24, help="forecast only: steps of history per example, written to params.yaml"
    )
    importer.set_defaults(run=_import)
    profile = commands.add_parser(
        "profile",
        help="set params.yaml's active profiles: profiles/NAME.yaml (smoke, full, tuned) merged in at load, in order",
    )
    profile.add_argument("names", nargs="+", metavar="NAME", help="a profile, several applied in order, or none")
    profile.set_defaults(run=_profile)
    commands.add_parser("sources", help="list built-in data sources").set_defaults(run=_sources)
    train = commands.add_parser("train", help="train one (architecture, dataset, seed)")
    train.add_argument("--architecture", required=True)
    train.add_argument("--dataset", required=True)
    train.add_argument("--seed", type=int, required=True)
    train.set_defaults(run=_train)
    predict = commands.add_parser("predict", help="predict with the registered champion of a dataset")
    predict.add_argument("--dataset", required=True)
    predict.add_argument("--input", required=True, help="canonical sequence table, .csv or .parquet")
    predict.add_argument("--output", required=True, help=".csv or .parquet: one row per sequence")
    predict.add_argument(
        "--model",
        default=None,
        help=(
            "a model URI instead of models:/rnnlab-<dataset>@champion; "
            "trusted models only: loading a model runs its code"
        ),
    )
    predict.set_defaults(run=_predict)
    experiment = commands.add_parser("experiment", help="run a study (studies/NAME.yaml)")
    experiment.add_argument(
        "name", help="a study: a file studies/NAME.yaml, e.g. copy_memory, adding_depth, pixel_mnist"
    )
    experiment.set_defaults(run=_experiment)
    tune = commands.add_parser(
        "tune", help="an Optuna study per (architecture, dataset), the same budget for each (params.yaml: tune)"
    )
    tune.add_argument("--dataset", action="append", help="a pipeline dataset (repeat for more; default: every one)")
    tune.add_argument(
        "--architecture",
        action="append",
        help="a pipeline architecture (repeat for more; default: every one the dataset takes)",
    )
    tune.set_defaults(run=_tune)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
