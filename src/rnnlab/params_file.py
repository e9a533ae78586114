"""Editing params.yaml by program (profiles, import) the way a person would: comments, order and
indentation kept, ``null`` written as null."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def _editor() -> YAML:
    editor = YAML()  # round-trip mode
    editor.width = 4096
    editor.indent(mapping=2, sequence=4, offset=2)
    editor.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return editor


def load(path: Path):
    return _editor().load(Path(path).read_text())


def dump(params) -> str:
    buffer = io.StringIO()
    _editor().dump(params, buffer)
    return buffer.getvalue()


def merge(base, changes):
    """``changes`` applied to ``base`` in place: mappings key by key, anything else (and {}) replaced."""
    for key, value in changes.items():
        if isinstance(value, dict) and value and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: ``base`` with ``changes`` merged in as ``merge`` does; neither is modified."""
    return merge(copy.deepcopy(dict(base)), copy.deepcopy(dict(changes)))
