"""Build ``model.tar.gz`` as the SageMaker PyTorch inference container expects it.

Layout::

    model.joblib, feature_names.json, model.json, metrics.json, encoder/...   (the model dir;
                               encoder/onnx/model_qint8.onnx or the static table come with it)
    code/inference.py          the four handlers (SAGEMAKER_PROGRAM, default inference.py)
    code/churn_model/...       the modules serving imports and the pickle refers to
    code/churn_contracts/...   the shared endpoint contract
    code/requirements.txt      exact training versions; never torch (the container has its own)
    code/wheels/               only with --vendor-wheels: every wheel, installed with --no-index

At start-up the container runs ``pip install -r code/requirements.txt`` (sagemaker-pytorch-
inference-toolkit ``torchserve.py``, ``_install_requirements``), which needs network access unless
the wheels are vendored: pip resolves a relative ``--find-links`` against the requirements file.
"""

from __future__ import annotations

import argparse
import ast
import bz2
import gzip
import importlib.metadata as metadata
import json
import logging
import lzma
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import churn_contracts

import churn_model

logger = logging.getLogger("churn_model.serving.package")  # the same name when run with -m

CODE_DIR = "code"
MODEL_FILES = ("model.joblib", "feature_names.json", "model.json")
WHEELS_DIR = "wheels"
# What the pickle and the encoder need, pinned to the training versions; torch stays out.
PINNED = ("scikit-learn", "joblib", "numpy", "sentence-transformers", "transformers", "tokenizers")
# Pinned only when the artifact's encoder needs them: ONNX Runtime for the int8 file (the CPU
# default), model2vec for the static tier.
ENCODER_PINS = {"onnx/model_qint8.onnx": "onnxruntime", "churn_static.json": "model2vec"}
NEVER_SHIPPED = frozenset({"torch"})
# The container: SageMaker PyTorch DLC 2.6, Python 3.12 on x86_64 Linux.
CONTAINER_PYTHON = "312"
# Ubuntu 22.04 (glibc 2.35); pip expands each manylinux tag to the older ones it covers.
CONTAINER_PLATFORMS = ("manylinux_2_35_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")
# Serving's entry points; the modules they import follow from these.
SERVING_ROOTS = ("churn_model.serving.inference", "churn_model.artifact")

_MODULE_NAME = re.compile(rb"churn_model(?:\.[A-Za-z_]\w*)+")


class PackagingError(RuntimeError):
    pass


def write_code_dir(model_dir: str | Path) -> Path:
    """Write ``<model_dir>/code`` (handlers, modules, contracts, requirements); returns its path."""
    model_dir = Path(model_dir)
    code = model_dir / CODE_DIR
    if code.exists():
        shutil.rmtree(code)
    code.mkdir(parents=True)
    package_root = Path(churn_model.__file__).resolve().parent

    modules = serving_modules(model_dir / "model.joblib")
    for name in sorted(modules):
        source = module_file(name)
        target = code / source.resolve().relative_to(package_root.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    shutil.copy2(module_file("churn_model.serving.inference"), code / "inference.py")
    contracts = Path(churn_contracts.__file__).resolve().parent
    shutil.copytree(contracts, code / "churn_contracts", ignore=shutil.ignore_patterns("__pycache__"))

    versions = pinned_versions(model_dir)
    check_imports(modules, versions)
    (code / "requirements.txt").write_text(requirements_text(versions))
    logger.info("wrote %s: %d modules, pins %s", code, len(modules), versions)
    return code


def build_model_tarball(
    model_dir: str | Path, out_path: str | Path, *, vendor_wheels: bool = False, compresslevel: int = 6
) -> Path:
    """Write ``out_path`` (a model.tar.gz) from ``model_dir``, with a fresh ``code/`` inside.

    The model dir itself is left as it is: the archive is staged in a temporary folder.
    """
    model_dir = Path(model_dir)
    missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
    if missing:
        raise PackagingError(f"{model_dir} is not a trained model directory: missing {', '.join(missing)}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="model-tarball-") as staging_name:
        staging = Path(staging_name) / "model"
        shutil.copytree(
            model_dir,
            staging,
            ignore=shutil.ignore_patterns(CODE_DIR, "__pycache__", "*.png"),
            symlinks=False,
        )
        code = write_code_dir(staging)
        if vendor_wheels:
            vendor(code, pinned_versions(model_dir))
        partial = out_path.with_name(out_path.name + ".partial")
        with tarfile.open(partial, "w:gz", compresslevel=compresslevel) as archive:
            for path in sorted(staging.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(staging)), recursive=False, filter=_normalised)
        partial.replace(out_path)
    logger.info("wrote %s (%.1f MB)", out_path, out_path.stat().st_size / 1e6)
    return out_path


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


# --- which modules ---------------------------------------------------------------------------


def serving_modules(pickle_path: Path | None = None) -> set[str]:
    """``churn_model`` modules serving needs: the import closure of the entry points and of every
    module the pickled pipeline names (so unpickling never meets a missing module)."""
    roots = set(SERVING_ROOTS)
    if pickle_path is not None and pickle_path.is_file():
        roots |= {name for name in pickled_module_names(pickle_path) if _exists(name)}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_parents(name))
        todo.extend(imported for imported, _ in imports_of(name) if imported.startswith("churn_model"))
    return {name for name in seen if _exists(name)}


def pickled_module_names(pickle_path: Path) -> set[str]:
    """``churn_model.*`` names that appear in a (possibly compressed) joblib pickle."""
    data = pickle_path.read_bytes()
    for opener in (_zlib, gzip.decompress, bz2.decompress, lzma.decompress):
        try:
            data = opener(data)
            break
        except Exception:  # noqa: S112 - not this compression; try the next
            continue
    names: set[str] = set()
    for match in _MODULE_NAME.finditer(data):
        parts = match.group().decode().split(".")
        names |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    return names


def _zlib(data: bytes) -> bytes:
    return zlib.decompress(data)


def module_file(name: str) -> Path:
    package_root = Path(churn_model.__file__).resolve().parent
    relative = Path(*name.split(".")[1:])
    package_init = package_root / relative / "__init__.py"
    return package_init if package_init.is_file() else (package_root / relative).with_suffix(".py")


def _exists(name: str) -> bool:
    return name.split(".")[0] == "churn_model" and module_file(name).is_file()


def _parents(name: str) -> Iterator[str]:
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def imports_of(name: str) -> Iterator[tuple[str, bool]]:
    """``(module, at_import_time)`` for each import in a churn_model module; function-level and
    ``TYPE_CHECKING`` imports are not at import time."""
    path = module_file(name)
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    eager = set(_eager_nodes(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in eager
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            yield base, id(node) in eager
            for alias in node.names:  # ``from . import module`` imports a module, not a name
                if _exists(f"{base}.{alias.name}"):
                    yield f"{base}.{alias.name}", id(node) in eager


def _eager_nodes(tree: ast.Module) -> Iterator[int]:
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield id(node)
        elif isinstance(node, ast.Try):
            for inner in node.body:
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield id(inner)


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


# --- which versions --------------------------------------------------------------------------


def pinned_versions(model_dir: Path) -> dict[str, str]:
    """Training versions from ``model.json`` (``versions``), else the versions installed here."""
    recorded: dict[str, str] = {}
    model_json = Path(model_dir) / "model.json"
    if model_json.is_file():
        recorded = {
            _canonical(k): str(v) for k, v in json.loads(model_json.read_text()).get("versions", {}).items()
        }
    versions = {}
    encoder = Path(model_dir) / "encoder"
    needed = [*PINNED, *(dist for marker, dist in ENCODER_PINS.items() if (encoder / marker).is_file())]
    for dist in needed:
        version = recorded.get(_canonical(dist))
        if version is None:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                raise PackagingError(f"{dist} is neither recorded in model.json nor installed") from None
        versions[dist] = version
    return versions


def requirements_text(versions: dict[str, str], *, vendored: bool = False) -> str:
    lines = [
        "# Installed by the SageMaker PyTorch container at start-up (pip install -r code/requirements.txt).",
        "# Exact versions used in training; torch is the container's own and is never listed here.",
    ]
    if vendored:
        lines += ["--no-index", f"--find-links {WHEELS_DIR}"]
    lines += [f"{dist}=={version}" for dist, version in versions.items()]
    return "\n".join(lines) + "\n"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_imports(modules: Iterable[str], versions: dict[str, str]) -> None:
    """Fail if a shipped module imports, at import time, a package the container will not have."""
    available = (
        _importable_names(list(versions)) | set(sys.stdlib_module_names) | {"churn_model", "churn_contracts"}
    )
    available |= _importable_names(sorted(NEVER_SHIPPED))
    for name in sorted(modules):
        for imported, eager in imports_of(name):
            top = imported.split(".")[0]
            if not top or top in available:
                continue
            if eager:
                raise PackagingError(f"{name} imports {top!r}, which the serving container will not have")
            # Lazy imports on paths serving does not take (e.g. the packaged encoder when no path is
            # given); the tarball test serves through code/ alone and would catch one that matters.
            logger.debug("%s may import %r lazily; the serving container will not have it", name, top)


def _importable_names(dists: list[str]) -> set[str]:
    """Top-level module names provided by ``dists`` and everything they require, as installed here."""
    by_dist: dict[str, set[str]] = {}
    for module, providers in metadata.packages_distributions().items():
        for provider in providers:
            by_dist.setdefault(_canonical(provider), set()).add(module)
    names: set[str] = set()
    for dist in requirement_closure(dists):
        names |= by_dist.get(dist, set())
    return names


def requirement_closure(dists: Iterable[str], *, exclude: Iterable[str] = ()) -> list[str]:
    """Canonical names of ``dists`` and their installed run-time requirements (no extras)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    environment = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.0"}
    environment |= {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
    excluded = {_canonical(d) for d in exclude}
    seen: list[str] = []
    todo = [_canonical(d) for d in dists]
    while todo:
        dist = todo.pop(0)
        if dist in seen or dist in excluded:
            continue
        seen.append(dist)
        try:
            requirements = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
                todo.append(_canonical(requirement.name))
    return seen


# --- vendored wheels -------------------------------------------------------------------------


def vendor(code: Path, versions: dict[str, str]) -> None:
    """Download every wheel the pins need (torch and its own stack excluded) for the container's
    platform into ``code/wheels`` and make requirements.txt install from there only."""
    wheels = code / WHEELS_DIR
    wheels.mkdir(exist_ok=True)
    # Not traversing into torch: the container's torch brings its own stack (CUDA libraries...).
    needed = requirement_closure(list(versions), exclude=NEVER_SHIPPED)
    specs = []
    for dist in needed:
        pinned = versions.get(dist) or next((v for k, v in versions.items() if _canonical(k) == dist), None)
        specs.append(f"{dist}=={pinned or metadata.version(dist)}")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += [
        "--python-version",
        CONTAINER_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        f"cp{CONTAINER_PYTHON}",
    ]
    command += ["--abi", "abi3", "--abi", "none"]
    for platform in CONTAINER_PLATFORMS:
        command += ["--platform", platform]
    command += ["--platform", "any", "--dest", str(wheels), *specs]
    logger.info("downloading %d wheels for the container into %s", len(specs), wheels)
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter, fixed arguments
    (code / "requirements.txt").write_text(requirements_text(versions, vendored=True))


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_model.serving.package", description="Build model.tar.gz for SageMaker hosting."
    )
    parser.add_argument("--model-dir", default="artifacts/model", help="the trained model directory")
    parser.add_argument("--out", default="artifacts/model.tar.gz", help="where to write the archive")
    parser.add_argument(
        "--vendor-wheels",
        action="store_true",
        help="ship every wheel inside (for endpoints without network access); downloads from PyPI now",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        out = build_model_tarball(args.model_dir, args.out, vendor_wheels=args.vendor_wheels)
    except (PackagingError, FileNotFoundError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
