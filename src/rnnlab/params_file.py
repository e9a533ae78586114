"""Editing params.yaml by program (profiles, import) the way a person would: comments, order and
indentation kept, ``null`` written as null."""

from __future__ import annotations

import copy
import io
import re
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


def with_top_level(text: str, key: str, value: str) -> str:
    """``text`` (a YAML file) with top-level ``key`` set to ``value`` (YAML text on one line): that one
    line rewritten, its comment kept in its column (a value written as a block on the lines below, such
    as ``- smoke`` items, is removed with it); every other line as it was. An absent key is added before
    the first top-level key."""
    lines = text.splitlines(keepends=True)
    pattern = re.compile(rf"^{re.escape(key)}:(?P<value>[^#\n]*)(?P<comment>#.*)?$")
    for i, line in enumerate(lines):
        found = pattern.match(line.rstrip("\n"))
        if found:
            start = f"{key}: {value}"
            comment = found["comment"]
            if comment:
                start = start.ljust(found.start("comment") - 1) + " " + comment
            lines[i] = start + ("\n" if line.endswith("\n") else "")
            end = i + 1 + (_block_length(lines[i + 1 :]) if not found["value"].strip() else 0)
            return "".join(lines[: i + 1] + lines[end:])
    first = next((i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_]", line)), len(lines))
    return "".join([*lines[:first], f"{key}: {value}\n", *lines[first:]])


def _block_length(lines: list[str]) -> int:
    """How many of ``lines`` (those after a top-level ``key:`` with nothing after the colon) hold that
    key's block value: indented lines and ``- item`` lines, with blank or comment lines between them."""
    length = 0
    for n, line in enumerate(lines, 1):
        body = line.rstrip("\n")
        if body.strip() and (body[0] in " \t" or re.match(r"^-(\s|$)", body)):
            length = n
        elif body.strip() and not body.startswith("#"):
            break  # the next top-level key (or a document marker)
    return length
