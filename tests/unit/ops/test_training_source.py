"""The training job's requirements.txt names everything the staged source folder imports (issue 24).

A clean virtualenv with the DLC's torch plus requirements.txt is what SageMaker builds; making one
here costs minutes of the shared machine, so this checks the same thing statically: every import
in the staged folder (module level and inside functions, as the ONNX encoder's are) is the
standard library, the folder's own packages, the DLC's torch, or a distribution that
requirements.txt installs (directly or as one of their declared dependencies, per the installed
metadata). tests/integration/test_training_source_devices.py runs the job under that rule.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from churn_ops import training_source
from packaging.markers import default_environment
from packaging.requirements import Requirement

LOCAL = set(training_source.PACKAGES)
DLC = {"torch"}  # the PyTorch training DLC's own build: never installed by the job


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere under ``folder``, with the files that import them."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(folder)))
    return found


def requirement_names(folder: Path) -> set[str]:
    text = (folder / training_source.REQUIREMENTS).read_text()
    return {
        _canonical(Requirement(line).name) for line in text.splitlines() if line and not line.startswith("#")
    }


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(names: set[str]) -> set[str]:
    """``names`` and every distribution they require (no extras), as pip would install them."""
    environment = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(_canonical(requirement.name))
    return seen


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return training_source.stage(tmp_path_factory.mktemp("source") / "code")


def test_every_module_the_folder_imports_is_installed_by_the_requirements(staged: Path) -> None:
    providers = metadata.packages_distributions()
    installed = installed_closure(requirement_names(staged))
    missing = {}
    for module, files in imported_modules(staged).items():
        if module in sys.stdlib_module_names or module in LOCAL or module in DLC:
            continue
        distributions = {_canonical(d) for d in providers.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(files)}) is not installed here at all"
        if not distributions & installed:
            missing[module] = sorted(files)
    assert missing == {}, f"requirements.txt does not install: {missing}"


def test_the_onnx_encoder_and_its_export_are_installed_on_every_device(staged: Path) -> None:
    # CPU training encodes with ONNX Runtime; every run exports the int8 file into the artifact,
    # which onnxruntime.quantization and torch.onnx.export need onnx for.
    names = requirement_names(staged)
    assert {"onnxruntime", "onnx"} <= names
    assert "onnxruntime" in imported_modules(staged)
    for distribution, why in training_source.RUN_TIME_ONLY.items():
        assert distribution in names and why


def test_requirements_never_replace_the_dlcs_torch_and_are_exact_pins(staged: Path) -> None:
    lines = [
        line for line in (staged / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert not requirement_names(staged) & training_source.FORBIDDEN
    pins = training_source.model_pins()
    for line in lines:
        name, version = line.split("==")
        assert pins[name] == version, line


def test_the_analysis_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "lazy.py").write_text("def f():\n    from onnxruntime.quantization import quantize_dynamic\n")
    (tmp_path / "top.py").write_text("import numpy as np\nfrom . import sibling\n")
    assert imported_modules(tmp_path) == {"onnxruntime": {"lazy.py"}, "numpy": {"top.py"}}
