"""The code passes its linter and formatter (ruff, configured in pyproject.toml): `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RUFF = Path(sys.executable).parent / "ruff"
LINTED = ["src", "flows", "tests", "benchmarks"]


def test_ruff_check_is_clean():
    done = subprocess.run([str(RUFF), "check", "--no-cache", *LINTED], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, "make format fixes some of it:\n" + done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_format_leaves_every_file_as_it_is():
    done = subprocess.run(
        [str(RUFF), "format", "--check", "--no-cache", *LINTED], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, "run make format:\n" + done.stdout[-4000:] + done.stderr[-2000:]
