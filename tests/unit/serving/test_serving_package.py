"""What goes into code/ of model.tar.gz: modules, pins and the vendored-wheels requirements."""

import json
import pickle
import zlib

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
