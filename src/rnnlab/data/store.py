"""Reading and writing stage outputs atomically: a stage that fails leaves nothing half-written."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from rnnlab.errors import DataError

TABLE_FILE = "table.parquet"


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty sibling folder; on success it replaces ``target``, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def write_table(table: pd.DataFrame, folder: Path) -> Path:
    with staged_folder(folder) as staging:
        table.to_parquet(staging / TABLE_FILE, index=False)
    return Path(folder) / TABLE_FILE


def read_table(folder: Path) -> pd.DataFrame:
    path = Path(folder) / TABLE_FILE
    if not path.is_file():
        raise DataError(f"{path}: not found; run the ingest stage first")
    return pd.read_parquet(path)
