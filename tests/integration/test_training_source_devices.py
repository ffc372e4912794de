"""The staged training job run as the DLC would, with only what requirements.txt installs (issue 24).

A SageMaker training container has the DLC's torch plus what the job's requirements.txt installs.
Building such a virtualenv here costs minutes of the shared machine, so the job runs with
``python -S`` (no site-packages) on a folder of links to the installed files of exactly those
distributions: torch and its dependencies, and the requirements and theirs. Anything else fails to
import as it would in the container (an optional import sees it absent). Before issue 24 the CPU
run died on ``No module named 'onnxruntime'``.

Per training device (CPU: the ONNX int8 encoder; GPU: PyTorch, run here on the CPU as the GPU
instance runs it), the artifact must serve every endpoint mode: ``cpu`` and ``serverless`` load
the int8 encoder it carries (no fp32 fallback), ``gpu`` the PyTorch weights.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from churn_ops import training_source
from churn_ops.best_flags import BEST_HYPERPARAMETERS
from packaging.markers import default_environment
from packaging.requirements import Requirement

pytestmark = [pytest.mark.slow, pytest.mark.model]

# (training device, the flags a job on that device trains with here)
DEVICES = {
    "cpu": ["--device", "cpu"],  # the default backend on a CPU: ONNX Runtime int8
    "gpu": ["--device", "cpu", "--encoder-backend", "torch", "--precision", "fp32"],  # as on CUDA
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: set[str]) -> set[str]:
    environment = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            specs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in specs:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(_canonical(requirement.name))
    return seen


def container_site(staged: Path, view: Path) -> Path:
    """A site-packages holding only what the container would: links to the installed files of
    torch (and its dependencies), pip, setuptools and the requirements (and theirs)."""
    lines = (staged / training_source.REQUIREMENTS).read_text().splitlines()
    wanted = {_canonical(Requirement(line).name) for line in lines if line and not line.startswith("#")}
    installed = _closure(wanted | {"torch", "pip", "setuptools"})
    view.mkdir(parents=True)
    for distribution in metadata.distributions():
        if _canonical(distribution.metadata["Name"]) not in installed:
            continue
        for file in distribution.files or []:
            top = file.parts[0]
            link = view / top
            if top != ".." and not top.endswith(".pth") and not link.exists():
                link.symlink_to(Path(distribution.locate_file(top)).resolve())
    return view


def _environment(root: Path, staged: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_") and k != "PYTHONPATH"}
    env.update(
        SM_MODEL_DIR=str(root / "opt/ml/model"),
        SM_CHANNEL_TRAIN=str(root / "opt/ml/input/data/train"),
        SM_CHANNEL_TEST=str(root / "opt/ml/input/data/test"),
        SM_OUTPUT_DATA_DIR=str(root / "opt/ml/output/data"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        # A fresh container has no export cache: the int8 file must be built by this run.
        CHURN_ENCODER_BUILD_DIR=str(root / "encoder-build"),
        # python -S: no site-packages, no .pth files (the project's editable install); only the
        # staged folder and the container's packages are importable.
        PYTHONPATH=str(container_site(staged, root / "site-packages")),
    )
    return env


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "churn_model.data.generate",
            "--rows",
            "120",
            "--test-fraction",
            "0.3",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def test_the_container_view_refuses_what_requirements_do_not_install(tmp_path: Path) -> None:
    staged = training_source.stage(tmp_path / "code")
    (staged / "sagemaker_entry.py").write_text("import moto\n")  # a dev dependency, never in the job
    done = subprocess.run(
        [sys.executable, "-S", training_source.ENTRY_SCRIPT],
        cwd=staged,
        env=_environment(tmp_path, staged),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "No module named 'moto'" in done.stderr


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_the_job_trains_on_each_device_with_only_its_requirements_and_serves_every_endpoint_mode(
    device: str, data: Path, tmp_path: Path
) -> None:
    staged = training_source.stage(tmp_path / "code")
    env = _environment(tmp_path, staged)
    for channel in ("train", "test"):
        folder = Path(env[f"SM_CHANNEL_{channel.upper()}"])
        folder.mkdir(parents=True)
        shutil.copy(data / f"{channel}.jsonl", folder)
        shutil.copy(data / "oracle.json", folder)
    hyperparameters = {**BEST_HYPERPARAMETERS, "n-estimators": "20", "batch-size": "64"}
    args = [item for name, value in hyperparameters.items() for item in (f"--{name}", value)]

    done = subprocess.run(
        [
            sys.executable,
            "-S",
            training_source.ENTRY_SCRIPT,
            *args,
            *DEVICES[device],
            "--no-progress",
            "--no-checks",
        ],
        cwd=staged,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    model_dir = Path(env["SM_MODEL_DIR"])
    # EndpointMode gpu: the PyTorch weights; cpu and serverless: the int8 export, built by this run.
    assert any((model_dir / "encoder").glob("*.safetensors"))
    assert (model_dir / "encoder" / "onnx" / "model_qint8.onnx").is_file(), f"no int8 export from {device}"
    served = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from churn_model.artifact import load_model, encoders;"
            "m = load_model(sys.argv[1], device='cpu');"
            "print(sorted({e.resolved_backend for e in encoders(m.pipeline)}))",
            str(model_dir),
        ],
        env={k: v for k, v in env.items() if k not in ("CHURN_ENCODER_BUILD_DIR", "PYTHONPATH")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert served.returncode == 0, served.stderr[-2000:]
    assert served.stdout.strip().splitlines()[-1] == "['onnx']", served.stdout + served.stderr[-1000:]
    assert "has no ONNX encoder" not in served.stderr
