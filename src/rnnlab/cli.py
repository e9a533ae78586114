"""The ``rnnlab`` command.

    rnnlab check            validate params.yaml (one line per problem, exit 2)
    rnnlab architectures    the registered architectures and the tasks they support
    rnnlab sources          the built-in data sources
    rnnlab train --architecture A --dataset D --seed S   one training run (as the pipeline does)
    rnnlab predict --dataset D --input FILE --output FILE  predictions of the dataset's champion
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnlab.errors import exit_on_user_error


def _check(args) -> None:
    from rnnlab.config import load_config

    config = load_config()
    pairs = len(config.pipeline.architectures) * len(config.pipeline.datasets) * len(config.train.seeds)
    print(f"params.yaml is valid: {len(config.pipeline.datasets)} dataset(s), {len(config.pipeline.architectures)} architecture(s), {pairs} training run(s)")


def _architectures(args) -> None:
    from rnnlab.registry import ARCHITECTURES

    for arch in ARCHITECTURES.values():
        print(f"{arch.name:8s} tasks: {', '.join(sorted(arch.tasks)):12s} {arch.summary}")


def _sources(args) -> None:
    from rnnlab.data.sources import SOURCES

    for name, loader in SOURCES.items():
        print(f"{name:18s} {(loader.__module__ or '').rsplit('.', 1)[-1]}")


def _train(args) -> None:
    from rnnlab.train import main as train_main

    train_main(["--architecture", args.architecture, "--dataset", args.dataset, "--seed", str(args.seed)])


def _predict(args) -> None:
    from rnnlab.predict import predict_file

    rows = predict_file(args.dataset, Path(args.input), Path(args.output), args.model)
    print(f"{rows} sequence(s) predicted -> {args.output}")


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab", description="A reproducible laboratory for recurrent neural networks.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate params.yaml").set_defaults(run=_check)
    commands.add_parser("architectures", help="list registered architectures").set_defaults(run=_architectures)
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
    predict.add_argument("--model", default=None, help="a model URI instead of models:/rnnlab-<dataset>@champion")
    predict.set_defaults(run=_predict)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
