"""The documentation stays in step with the code: generated tables, README length, relative links.

Fast: nothing trains and nothing is downloaded; the tables are rendered from the registries and
params.yaml exactly as ``python -m rnnlab.doc_tables`` (``make docs``) writes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rnnlab import doc_tables
from tests.conftest import ROOT

README_MAX_LINES = 250
DOCS = sorted((ROOT / "docs").glob("*.md"))
# [text](target) and ![alt](target); the target ends at whitespace or ')'
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = ("http://", "https://", "mailto:")


def test_generated_tables_are_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in doc_tables.rendered(ROOT).items()
        if path.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{', '.join(stale)}: the generated tables differ from the registries and params.yaml; "
        f"run `make docs` (or `.venv/bin/python -m rnnlab.doc_tables`) and commit the result"
    )


def test_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}): move detail to docs/"


def test_readme_keeps_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make pipeline" in readme and "make test" in readme


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code blocks hold no links
    return [t for t in LINK.findall(text) if not t.startswith(EXTERNAL)]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces as '-'."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(path: Path) -> None:
    broken = []
    for target in _relative_links(path):
        file, _, anchor = target.partition("#")
        linked = path.parent / file if file else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to files or headings that do not exist: {', '.join(broken)}"


def test_every_docs_file_is_reachable_from_the_readme() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _relative_links(ROOT / "README.md")}
    missing = [str(p.relative_to(ROOT)) for p in DOCS if p.resolve() not in linked]
    assert not missing, f"README.md does not link to {', '.join(missing)}"
