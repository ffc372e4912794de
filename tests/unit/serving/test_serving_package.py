"""What goes into code/ of model.tar.gz: modules, pins and the vendored-wheels requirements."""

import json
import os
import pickle
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from churn_model.serving import package
from churn_model.serving.package import (
    PackagingError,
    build_model_tarball,
    pickled_module_names,
    pinned_versions,
    requirements_text,
    serving_modules,
)


def test_serving_modules_are_the_handlers_and_what_they_import_not_the_server():
    modules = serving_modules()
    assert {
        "churn_model.serving.handlers",
        "churn_model.serving.inference",
        "churn_model.artifact",
    } <= modules
    assert "churn_model.encoder" in modules  # imported by the pipeline the artifact unpickles
    assert "churn_model.serving.server" not in modules
    assert "churn_model.serving.package" not in modules
    assert "churn_model.train" not in modules


def test_modules_named_in_a_compressed_pickle_are_found(tmp_path):
    from churn_model.encoder import SentenceEncoder

    path = tmp_path / "model.joblib"
    path.write_bytes(zlib.compress(pickle.dumps({"encoder": SentenceEncoder(model_path="encoder")})))
    assert "churn_model.encoder" in pickled_module_names(path)


def test_pins_come_from_model_json_and_torch_is_never_listed(tmp_path):
    (tmp_path / "model.json").write_text(
        json.dumps({"versions": {"scikit-learn": "1.0.2", "torch": "2.6.0"}})
    )
    versions = pinned_versions(tmp_path)
    assert versions["scikit-learn"] == "1.0.2"  # the training version, not the installed one
    assert {"sentence-transformers", "joblib", "numpy"} <= set(versions)
    text = requirements_text(versions)
    assert "scikit-learn==1.0.2" in text.splitlines()
    assert not any(line.startswith("torch") for line in text.splitlines())


def test_vendored_requirements_install_from_the_wheels_folder_only():
    lines = requirements_text({"scikit-learn": "1.9.1"}, vendored=True).splitlines()
    assert "--no-index" in lines
    assert "--find-links wheels" in lines  # pip resolves it against the requirements file's folder


def test_a_module_importing_what_the_container_lacks_is_refused(monkeypatch):
    real = package.imports_of

    def with_matplotlib(name):
        yield from real(name)
        if name == "churn_model.artifact":
            yield "matplotlib.pyplot", True

    monkeypatch.setattr(package, "imports_of", with_matplotlib)
    with pytest.raises(PackagingError, match="matplotlib"):
        package.check_imports(serving_modules(), pinned_versions(package.Path("/nonexistent")))


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(PackagingError, match=r"model\.joblib"):
        build_model_tarball(tmp_path, tmp_path / "out" / "model.tar.gz")
    assert not (tmp_path / "out" / "model.tar.gz").exists()


def test_the_encoder_files_decide_the_extra_pins(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    assert "onnxruntime" not in pinned_versions(tmp_path)
    (tmp_path / "encoder" / "onnx").mkdir(parents=True)
    (tmp_path / "encoder" / "onnx" / "model_qint8.onnx").write_bytes(b"")
    assert "onnxruntime" in pinned_versions(tmp_path)
    assert "model2vec" not in pinned_versions(tmp_path)
    (tmp_path / "encoder" / "churn_static.json").write_text("{}")
    assert "model2vec" in pinned_versions(tmp_path)


def _python312() -> str | None:
    """A working Python 3.12 (the container's), from pyenv or PATH."""
    found = [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    found += [shutil.which("python3.12") or ""]
    for candidate in filter(None, found):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.slow
def test_vendored_wheels_install_with_no_index_beside_the_containers_torch(tmp_path):
    """--vendor-wheels is the way to run with EndpointNetworkIsolation: pip must find every
    requirement in code/wheels alone, as the container does (Python 3.12, torch preinstalled)."""
    python = _python312()
    if python is None:
        pytest.skip("needs Python 3.12, the container's")
    model_dir = tmp_path / "model"
    (model_dir / "encoder" / "onnx").mkdir(parents=True)
    (model_dir / "encoder" / "onnx" / "model_qint8.onnx").write_bytes(b"")
    (model_dir / "model.json").write_text("{}")
    code = model_dir / "code"
    code.mkdir()
    versions = pinned_versions(model_dir)
    package.vendor(code, versions)  # downloads from the package index once (pip caches it)
    venv = tmp_path / "container"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    # The container's own torch, as pip sees it: an installed distribution.
    site = next(venv.glob("lib/python3.12/site-packages"))
    torch_info = site / "torch-2.6.0.dist-info"
    torch_info.mkdir()
    (torch_info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.6.0\n")
    (torch_info / "RECORD").write_text("")
    report = tmp_path / "report.json"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--quiet"]
    result = subprocess.run(
        [*pip, "--report", str(report), "-r", "requirements.txt"],
        cwd=code,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    installed = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"scikit-learn", "sentence-transformers", "onnxruntime"} <= installed
    assert "torch" not in installed  # the container's own is kept
