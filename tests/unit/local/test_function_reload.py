"""A warm local function picks up edited code at its next invocation, and runs on its runtime."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from churn_local.runner import FunctionProcess, code_stamp, runtime_interpreter
from churn_local.spec import FunctionSpec

from .conftest import function_spec

ROOT = Path(__file__).resolve().parents[3]
HANDLER = """import os, sys
from helper import VERSION

def handler(event, context):
    return {{"answer": "{answer}", "helper": VERSION, "pid": os.getpid(), "python": list(sys.version_info[:2])}}
"""


def spec(code: Path, layer: Path, runtime: str = "") -> FunctionSpec:
    return function_spec(code, layer_paths=(layer,), runtime=runtime)


def write(path: Path, text: str, bump_s: int = 0) -> None:
    path.write_text(text)
    if bump_s:  # a later mtime even on file systems with coarse timestamps
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump_s * 1_000_000_000))


@pytest.fixture
def function(tmp_path: Path):
    code, layer = tmp_path / "code", tmp_path / "layer"
    code.mkdir()
    layer.mkdir()
    write(code / "app.py", HANDLER.format(answer="v1"))
    write(layer / "helper.py", "VERSION = 1\n")
    logs: list[str] = []
    process = FunctionProcess(
        spec(code, layer), dict(os.environ), log_sink=lambda fn, line: logs.append(line)
    )
    yield code, layer, process, logs
    process.close()


def test_an_edit_to_the_handler_or_a_layer_is_run_at_the_next_invocation(function):
    code, layer, process, logs = function
    first = process.invoke({}).result
    assert process.invoke({}).result["pid"] == first["pid"], "unchanged code stays warm"

    write(code / "app.py", HANDLER.format(answer="v2"), bump_s=2)
    second = process.invoke({}).result
    assert second["answer"] == "v2" and second["pid"] != first["pid"]
    assert "[local] code changed: starting a fresh environment" in logs

    write(layer / "helper.py", "VERSION = 2\n", bump_s=4)
    assert process.invoke({}).result["helper"] == 2
    assert process.starts == 3


def test_a_new_module_counts_as_a_change(tmp_path: Path):
    (tmp_path / "a.py").write_text("")
    before = code_stamp([tmp_path])
    (tmp_path / "b.py").write_text("")
    assert code_stamp([tmp_path]) != before


def test_the_runtimes_interpreter_is_found_or_the_reason_given(tmp_path: Path):
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert runtime_interpreter(here, tmp_path) == (sys.executable, None)
    python, why = runtime_interpreter("python3.99", tmp_path)
    assert python == sys.executable and "not 3.99: no .venv-fn399 (make functions-py313 builds it)" in why


@pytest.mark.skipif(not (ROOT / ".venv-fn313" / "bin" / "python").is_file(), reason="no .venv-fn313 here")
def test_a_python313_function_runs_on_python313(tmp_path: Path, monkeypatch):
    code, layer = tmp_path / "code", tmp_path / "layer"
    code.mkdir()
    layer.mkdir()
    write(code / "app.py", HANDLER.format(answer="x"))
    write(layer / "helper.py", "VERSION = 1\n")
    # The function's folder sits outside the repo here, so name the interpreter as a user would.
    monkeypatch.setenv("CHURN_LOCAL_PYTHON", str(ROOT / ".venv-fn313" / "bin" / "python"))
    process = FunctionProcess(spec(code, layer, "python3.13"), dict(os.environ))
    monkeypatch.delenv("CHURN_LOCAL_PYTHON")
    try:
        assert process.invoke({}).result["python"] == [3, 13]
    finally:
        process.close()
    assert runtime_interpreter("python3.13", ROOT / "functions" / "score_call")[0].endswith(
        ".venv-fn313/bin/python"
    )
