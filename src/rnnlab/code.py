"""Fingerprints of the code a run uses: the rnnlab modules it imports (followed statically,
function-local imports included) and the versions of the libraries it trains with.

A run's code is the training's own modules (``rnnlab.train`` and what it imports) plus the modules
of the layers its model is made of. The registry, which imports every architecture's layers to list
them, is followed into everything but those layers (``rnnlab.nn``, ``rnnlab.models``), and a
package's ``__init__`` counts for its own text and for the names taken from it, not for every
submodule it re-exports: so a change to the NTM's memory retrains the NTM, not the LSTM. A
checkpoint or a finished run is reused only under the same fingerprint, so changed code, or an
upgrade of torch or Lightning, never resumes or reuses a run made by other code.
"""

from __future__ import annotations

import ast
import hashlib
import platform
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGE = "rnnlab"
LIBRARIES = ("torch", "lightning", "mlflow", "numpy", "pandas")  # their versions change what a run computes
CATALOGUE = "rnnlab.registry"  # imports every architecture's layers to list them; a run's own come from its model
LAYERS = ("rnnlab.nn", "rnnlab.models")
# Modules the training imports whose every effect on a run reaches it by another road the fingerprint
# already holds: its settings (params_file reads them, search_space declares what tuning may set) or
# its prepared data (data.sources makes the raw tables, baselines the references prepare measures into
# the meta); and the leaderboard's statistics (significance), which no run computes. An edit to one
# of them retrains nothing.
OUTSIDE_A_RUN = (
    "rnnlab.params_file",
    "rnnlab.search_space",
    "rnnlab.data.sources",
    "rnnlab.baselines",
    "rnnlab.significance",
)


PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(module: str) -> Path | None:
    """The file of an rnnlab module, found without importing it (None: not a module of the package)."""
    parts = module.split(".")[1:]
    for path in (
        PACKAGE_DIR.joinpath(*parts, "__init__.py"),
        PACKAGE_DIR.joinpath(*parts).with_suffix(".py") if parts else None,
    ):
        if path is not None and path.is_file():
            return path
    return None


def _from_imports(module: str, path: Path):
    """(base module, imported name, bound name) of every ``from ... import`` in the file; relative
    bases resolved against the module's package."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                yield base, alias.name, alias.asname or alias.name


@cache
def _exports(package: str) -> dict[str, str]:
    """Name -> the module a package's ``__init__`` takes it from (``from rnnlab.nn import LSTMCell``
    uses ``rnnlab.nn.lstm``)."""
    path = module_file(package)
    if path is None or path.name != "__init__.py":
        return {}
    return {
        bound: (f"{base}.{name}" if module_file(f"{base}.{name}") else base)
        for base, name, bound in _from_imports(package, path)
    }


def _imports(module: str, path: Path, whole: bool = False) -> set[str]:
    """rnnlab modules named by ``import`` statements anywhere in the file (``from rnnlab import x``
    names module ``rnnlab.x`` when it is one, and a name a package re-exports names its module)."""
    found = {
        alias.name
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    for base, name, _ in _from_imports(module, path):
        found.add(base)
        found.add(f"{base}.{name}" if module_file(f"{base}.{name}") else _exports(base).get(name, base))
    found = {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}
    if module == CATALOGUE and not whole:
        found = {name for name in found if not any(name == p or name.startswith(p + ".") for p in LAYERS)}
    return found


@cache
def modules_used(*entries: str, whole: bool = False) -> tuple[str, ...]:
    """Every rnnlab module the ``entries`` import, directly or through others, themselves included;
    sorted. The packages they sit in count too (Python runs each ``__init__``), for their own text.
    ``whole``: the registry followed into every layer too (what a process loads, not what a run uses)."""
    followed: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in followed or path is None:  # seen, or a name imported from a module, not a module
            continue
        followed.add(name)
        todo += _imports(name, path, whole)
    packages = {name.rsplit(".", i)[0] for name in followed for i in range(1, name.count(".") + 1)}
    return tuple(sorted(followed | packages))


def model_modules(model) -> tuple[str, ...]:
    """The rnnlab modules of the layers a model is made of (its cells, encoder and head)."""
    return tuple(sorted({type(m).__module__ for m in model.modules() if type(m).__module__.startswith(PACKAGE + ".")}))


@cache
def code_sha256(*entries: str) -> str:
    """Hash of the source of every module the ``entries`` use but those :data:`OUTSIDE_A_RUN`, with the
    Python and library versions."""
    digest = hashlib.sha256()
    for name in modules_used(*entries):
        if any(name == outside or name.startswith(outside + ".") for outside in OUTSIDE_A_RUN):
            continue
        digest.update(name.encode())
        digest.update(module_file(name).read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    digest.update(platform.python_version().encode())
    return digest.hexdigest()
