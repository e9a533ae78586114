"""Fingerprints of the code a run uses: the rnnlab modules an entry point imports (followed
statically, function-local imports included) and the versions of the libraries it trains with.

A checkpoint or a finished run is reused only under the same fingerprint, so a change to any
module a training imports, or an upgrade of torch or Lightning, never resumes or reuses a run
made by other code.
"""

from __future__ import annotations

import ast
import hashlib
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGE = "rnnlab"
LIBRARIES = ("torch", "lightning", "mlflow", "numpy", "pandas")  # their versions change what a run computes


PACKAGE_DIR = Path(__file__).resolve().parent


def _source(module: str) -> Path | None:
    """The file of an rnnlab module, found without importing it (None: not a module of the package)."""
    parts = module.split(".")[1:]
    for path in (PACKAGE_DIR.joinpath(*parts, "__init__.py"), PACKAGE_DIR.joinpath(*parts).with_suffix(".py") if parts else None):
        if path is not None and path.is_file():
            return path
    return None


def _imports(module: str, path: Path) -> set[str]:
    """rnnlab modules named by ``import`` statements anywhere in the file (``from rnnlab import x``
    names module ``rnnlab.x`` when it is one)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


@lru_cache(maxsize=None)
def modules_used(entry: str) -> tuple[str, ...]:
    """Every rnnlab module ``entry`` imports, directly or through others, itself included; sorted.
    A package's ``__init__`` counts as used whenever one of its modules is (Python runs it)."""
    seen: dict[str, Path] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _source(name)
        if path is None:  # a name imported from a module, not a module
            continue
        seen[name] = path
        parents = [name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]
        todo += [*_imports(name, path), *parents]
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def code_sha256(entry: str) -> str:
    """Hash of the source of every module ``entry`` uses, with the Python and library versions."""
    digest = hashlib.sha256()
    for name in modules_used(entry):
        digest.update(name.encode())
        digest.update(_source(name).read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    digest.update(platform.python_version().encode())
    return digest.hexdigest()
