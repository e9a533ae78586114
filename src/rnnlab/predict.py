"""Prediction from files with a registered model (``rnnlab predict``).

``--model`` is trusted input only: an MLflow pyfunc is a cloudpickle, and loading one runs whatever
code it holds. Point it at models this project (or someone you trust) logged, never at a downloaded one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnnlab import tracking
from rnnlab.config import load_config, project_root
from rnnlab.errors import DataError, RnnlabError

FORMATS = {".csv": (pd.read_csv, "to_csv"), ".parquet": (pd.read_parquet, "to_parquet")}


def _format(path: Path, role: str) -> tuple:
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"{path}: the {role} must be .csv or .parquet, got {path.suffix or 'no extension'!r}")
    return FORMATS[path.suffix.lower()]


def champion_uri(dataset: str) -> str:
    return f"models:/{tracking.registered_model_name(dataset)}@{tracking.CHAMPION_ALIAS}"


def predict_file(dataset: str, source: Path, target: Path, model_uri: str | None = None) -> int:
    import mlflow

    read, _ = _format(source, "input")
    _, write = _format(target, "output")
    if not source.is_file():
        raise DataError(f"{source}: input file not found")
    root = project_root()
    config = load_config(root / "params.yaml")
    config.dataset(dataset)
    mlflow.set_tracking_uri(tracking.tracking_uri(config, root))
    uri = model_uri or champion_uri(dataset)
    try:
        model = mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as err:
        raise RnnlabError(f"cannot load {uri}: {str(err).splitlines()[0]} (run `make pipeline` first)") from None
    try:
        table = read(source)
    except Exception as err:
        raise DataError(f"{source}: cannot be read as {source.suffix[1:]}: {err}") from None
    answers = model.predict(table)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    getattr(answers, write)(tmp, index=False)
    tmp.replace(target)  # nothing half-written
    return len(answers)
