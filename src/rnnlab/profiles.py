"""Profiles: named changes to params.yaml for a machine size (``profiles/<name>.yaml``: smoke, full, tuned).

params.yaml holds the default profile (every application, sized for a 2-core CPU: reports/pipeline_time.md).
A profile file holds only what differs; params.yaml's ``profile:`` lists the active ones, and every
reader of the config (rnnlab.config.load_config) gets params.yaml with them merged in, in order:
mappings merge key by key, lists and values replace, and an empty mapping (``train: {}``) replaces,
so a profile can clear a dataset's training overrides. A profile's unknown key or bad value stops
the load with one line naming the profile file.

``rnnlab profile NAME [NAME ...]`` validates the composed result first, then rewrites that one line
of params.yaml (its comment kept) and rewrites plan.yaml and params.effective.yaml (rnnlab.plan): the stages declare
their params from params.effective.yaml, so DVC reruns exactly the stages whose values changed.
``rnnlab profile none`` returns to params.yaml as written.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rnnlab import files, params_file
from rnnlab.config import (
    PARAMS_FILE,
    PROFILE_KEY,
    PROFILES_DIR,
    STUDIES_DIR,
    Config,
    available_profiles,
    check_name,
    validated,
    with_profiles,
    with_studies,
)
from rnnlab.errors import ConfigError
from rnnlab.lock import project_lock
from rnnlab.plan import write_plan

NONE = "none"  # `rnnlab profile none`: no profile, params.yaml as written


def available(root: Path) -> list[str]:
    return available_profiles(Path(root) / PROFILES_DIR)


def apply_profile(root: Path, *names: str) -> Config:
    """Make ``names`` (in order; ``none`` alone for none) params.yaml's active profiles; nothing is
    written if the composed result is invalid."""
    root = Path(root)
    names = tuple(n for n in names if n != NONE) if names else ()
    for name in names:
        check_name(name, "rnnlab profile")  # a file name, and a word of params.yaml
        if not (root / PROFILES_DIR / f"{name}.yaml").is_file():
            raise ConfigError(f"no profile {name!r} (available: {', '.join(available(root))})")
    label = " ".join(names) or NONE
    with project_lock(root, f"rnnlab profile {label}"):  # no import or pipeline edits params.yaml meanwhile
        text = params_file.with_top_level((root / PARAMS_FILE).read_text(), PROFILE_KEY, f"[{', '.join(names)}]")
        try:
            raw, origins = with_profiles(yaml.safe_load(text), root / PROFILES_DIR)
            raw, study_origins = with_studies(raw, root / STUDIES_DIR)
            config = validated(raw, {**origins, **study_origins})
        except ConfigError as err:
            raise ConfigError(f"profile {label}: {err}") from None
        files.write_text(root / PARAMS_FILE, text)
        write_plan(root, config)
    return config
