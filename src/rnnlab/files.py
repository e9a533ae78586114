"""Writing files so that a reader never sees half of one: write a sibling temporary file, flush it
to disk, then rename it over the target (a rename within one folder is atomic on POSIX).

A process killed mid-write leaves the old file (or none) and a ``.<name>.partial`` beside it, never
a truncated target; the next write replaces the leftover.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def partial_path(path: Path) -> Path:
    """The temporary sibling a write goes through (hidden, so globs over the folder skip it)."""
    return path.with_name(f".{path.name}.partial")


def write_with(path: Path | str, write: Callable[[Path], Any]) -> Path:
    """Call ``write(temporary_path)``, then move the result over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        write(tmp)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path | str, text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text))


def write_bytes(path: Path | str, data: bytes) -> Path:
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: Path | str, value: Any, **dumps) -> Path:
    return write_text(path, json.dumps(value, **{"indent": 2, **dumps}) + "\n")
