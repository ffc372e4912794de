import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Real-world reference formats, copied into the repo with their sources (see its README).
FORMATS = ROOT / "tests" / "fixtures" / "formats"
EVENTS = ROOT / "events"

# The seed's example endpoint request: it must keep working unchanged.
SEED_BODY = {
    "CustServ Calls": 10.0,
    "Account Length": 66,
    "plan": "B",
    "limit": "limited",
    "text": "I'm not happy with the service at all.",
}
# The fields of one record's answer from a model that knows its risk basis (metrics.json).
ANSWER_FIELDS = {"probability", "model_version", "missing_features", "unknown_categories", "risk_basis"}


# --- The repo stands alone -------------------------------------------------------
# A clone elsewhere has no sibling folders. Every file the tests open or list
# beside the repo, rather than in it, is recorded and fails the session.
_OUTSIDE_READS: list[str] = []
_TEMP = os.path.realpath(tempfile.gettempdir())


def reads_beside_repo(path: object, root: Path = ROOT, temp: str = _TEMP) -> bool:
    """True for a path in the repo's parent folder tree but outside the repo itself."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        return False
    full = os.path.realpath(os.path.join(os.getcwd(), path))
    parent, repo = str(root.parent), str(root)
    inside = lambda base: full == base or full.startswith(base + os.sep)  # noqa: E731
    return inside(parent) and not inside(repo) and not inside(temp)


def _audit(event: str, args: tuple) -> None:
    if event in ("open", "os.listdir", "os.scandir") and args and reads_beside_repo(args[0]):
        _OUTSIDE_READS.append(f"{event} {args[0]}")


sys.addaudithook(_audit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OUTSIDE_READS:
        sys.stderr.write("\nTests read outside the repo (a clone has no such files):\n")
        sys.stderr.write("".join(f"  {line}\n" for line in sorted(set(_OUTSIDE_READS))[:20]))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def load_format(name: str) -> dict:
    return json.loads((FORMATS / name).read_text())


@pytest.fixture
def formats_dir() -> Path:
    if not FORMATS.is_dir():
        pytest.fail(f"reference formats not found at {FORMATS}")
    return FORMATS


# --- A tiny trained churn model, shared by unit and integration runs -------------
# Trained once (a few hundred generated rows, a 30-tree forest, the real MiniLM
# encoder) and kept under .pytest_cache, keyed by a digest of the training code,
# so later pytest processes reuse it. A file lock stops two processes training at once.
TINY_MODEL_ROWS = 300
TINY_MODEL_TREES = 30


def _training_code_digest() -> str:
    import hashlib

    digest = hashlib.sha256()
    package = ROOT / "model" / "churn_model"
    sources = [
        p for p in sorted(package.rglob("*")) if p.suffix in (".py", ".jsonl") and "serving" not in p.parts
    ]
    sources += sorted((ROOT / "contracts" / "churn_contracts").glob("*.py"))
    sources.append(Path(__file__))  # this fixture's own recipe
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _train_tiny_model(target: Path) -> None:
    import os
    import shutil

    from churn_model.data.generate import write_dataset
    from churn_model.train import TrainConfig, train_model

    work = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    data = work / "data"
    # train.jsonl, test.jsonl and oracle.json, as the generator's command writes them.
    write_dataset(data, rows=TINY_MODEL_ROWS, test_fraction=0.2, seed=2024)
    # The forest on the call's intent: the tiny model the serving and explain tests were written
    # for; auto's choice is covered by its own tests (test_text_feature_choice.py).
    config = TrainConfig(
        classifier="rf", text_features="intent", n_estimators=TINY_MODEL_TREES, seed=0, progress=False
    )
    train_model(
        data / "train.jsonl",
        work / "model",
        test_path=data / "test.jsonl",
        config=config,
        model_version="tiny-test-model",
    )
    shutil.rmtree(data)
    (work / "model").rename(target)
    shutil.rmtree(work, ignore_errors=True)


def _prune_tiny_models(cache: Path, *, keep: Path, older_than_s: float = 1800) -> None:
    """Drop models of older code (90 MB each) that no recent run has created."""
    import shutil
    import time

    for stale in cache.glob("tiny-model-*"):
        if stale.is_dir() and stale != keep and time.time() - stale.stat().st_mtime > older_than_s:
            shutil.rmtree(stale, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """A small trained model directory (all profile features and the call text)."""
    import fcntl

    pytest.importorskip("sklearn")
    pytest.importorskip("sentence_transformers")
    cache = ROOT / ".pytest_cache"
    cache.mkdir(exist_ok=True)
    target = cache / f"tiny-model-{_training_code_digest()}"
    if (target / "model.json").is_file():
        return target
    with (cache / "tiny-model.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (target / "model.json").is_file():
                _train_tiny_model(target)
                _prune_tiny_models(cache, keep=target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
