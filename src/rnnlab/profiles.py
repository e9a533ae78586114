"""Profiles: named changes to params.yaml for a machine size (``profiles/<name>.yaml``).

params.yaml holds the default profile (every application, sized for a 2-core CPU in 30 minutes).
A profile file holds only what differs: mappings merge key by key, lists and values replace, and
an empty mapping (``train: {}``) replaces, so a profile can clear a dataset's training overrides.
``rnnlab profile NAME`` validates the result first, then rewrites params.yaml (comments kept)
and plan.yaml, so DVC reruns exactly the stages whose values changed; ``git checkout params.yaml``
returns to the default.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rnnlab import files, params_file
from rnnlab.config import PARAMS_FILE, STUDIES_DIR, Config, one_line, with_studies
from rnnlab.errors import ConfigError
from rnnlab.lock import project_lock
from rnnlab.params_file import merge
from rnnlab.plan import write_plan

PROFILES_DIR = "profiles"


def available(root: Path) -> list[str]:
    return sorted(p.stem for p in (Path(root) / PROFILES_DIR).glob("*.yaml"))


def apply_profile(root: Path, name: str) -> Config:
    """Rewrite params.yaml with profile ``name`` applied; nothing is written if the result is invalid."""
    root = Path(root)
    path = root / PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no profile {name!r} (available: {', '.join(available(root))})")
    changes = yaml.safe_load(path.read_text()) or {}
    if not isinstance(changes, dict):
        raise ConfigError(f"{path}: expected a mapping of params.yaml sections")
    with project_lock(root, f"rnnlab profile {name}"):  # no import or pipeline edits params.yaml meanwhile
        params = params_file.load(root / PARAMS_FILE)  # comments and order kept
        merge(params, changes)
        text = params_file.dump(params)
        try:
            config = Config.model_validate(with_studies(yaml.safe_load(text), root / STUDIES_DIR)[0])
        except Exception as err:  # pydantic's ValidationError or our ConfigError: one line either way
            message = one_line(err, "", Config) if hasattr(err, "errors") else str(err)
            raise ConfigError(f"profile {name}: {message}") from None
        files.write_text(root / PARAMS_FILE, text)
        write_plan(root, config)
    return config
