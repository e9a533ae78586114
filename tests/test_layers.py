"""How the package is layered, checked from its source: imports point down (nn <- models <- the rest;
data never reads models), the configuration loads without torch, every architecture has a builder,
and every DVC stage declares, as deps, every rnnlab module its command imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnnlab import code
from tests.conftest import ROOT

PACKAGE = ROOT / "src" / "rnnlab"


def imported(path: Path) -> set[str]:
    """Every rnnlab module a file names in an import, function-local ones included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "rnnlab" or n.startswith("rnnlab.")}


@pytest.mark.parametrize(
    "layer, allowed",
    [
        ("nn", ("rnnlab.nn",)),  # the cells and their driver stand alone
        ("data", ("rnnlab.data", "rnnlab.errors", "rnnlab.baselines", "rnnlab.kinds")),
        # a task kind reads data and draws pictures; it never reads models or the training code
        (
            "kinds",
            ("rnnlab.kinds", "rnnlab.data", "rnnlab.errors", "rnnlab.baselines", "rnnlab.plots", "rnnlab.generate"),
        ),
    ],
)
def test_a_layer_imports_only_what_lies_below_it(layer, allowed):
    wrong = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in imported(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert not wrong, f"imports from above the {layer}/ layer: {sorted(wrong)}"


def test_the_configuration_loads_without_torch():
    probe = (
        "import sys; from rnnlab.config import load_config; load_config(); "
        "print(sorted(m for m in ('torch', 'lightning', 'mlflow', 'prefect') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_every_architecture_has_a_builder():
    from rnnlab.architectures import ARCHITECTURES
    from rnnlab.registry import BUILDERS

    assert list(BUILDERS) == list(ARCHITECTURES)


def stages() -> list[tuple[str, dict]]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return [(name, body.get("do", body)) for name, body in spec.items()]


@pytest.mark.parametrize("stage, body", stages(), ids=[name for name, _ in stages()])
def test_every_stage_declares_the_code_its_command_imports(stage, body):
    """What the stage's flow imports, followed through every module (function-local imports too):
    each file must lie under a declared dep, or DVC would not rerun the stage when it changes."""
    words = body["cmd"].split()
    flow = next((word for word in words if word.startswith("flows/")), None)
    entries = set()  # the modules it imports, and the submodules it names (from rnnlab import tracking)
    if flow is None:  # python -m rnnlab.<module>
        entries = {words[words.index("-m") + 1]}
        flow = code.module_file(next(iter(entries))).relative_to(ROOT).as_posix()
    for node in ast.walk(ast.parse((ROOT / flow).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnnlab"):
            entries |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    files = {code.module_file(m).relative_to(ROOT).as_posix() for m in code.modules_used(*sorted(entries), whole=True)}
    deps = [d for d in body["deps"] if isinstance(d, str)]
    assert flow in deps
    missing = sorted(f for f in files if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps))
    assert not missing, f"dvc.yaml stage {stage} runs code it does not declare: {missing}"
