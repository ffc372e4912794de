"""A function scales out to several warm environments, as Lambda does, up to its concurrency limit."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from churn_local.runner import FunctionPool, pool_size
from churn_local.spec import FunctionSpec

from .conftest import function_spec

HANDLER = """import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("exit"):
        os._exit(1)
    return {"pid": os.getpid(), "slot": os.environ.get("SLOT")}
"""


def spec(code: Path, reserved: int | None = None) -> FunctionSpec:
    return function_spec(code, "sleep", reserved_concurrency=reserved)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    return tmp_path


def run_at_once(pool: FunctionPool, events: list[dict]) -> list:
    with ThreadPoolExecutor(len(events)) as executor:
        return list(executor.map(pool.invoke, events))


def test_events_at_once_run_in_separate_environments_up_to_the_limit(code: Path) -> None:
    pool = FunctionPool(spec(code), lambda index: {**os.environ, "SLOT": str(index)}, lambda *_: None, size=2)
    try:
        run_at_once(pool, [{}, {}])  # warm both, so the timing below is not start-up
        started = time.monotonic()
        invocations = run_at_once(pool, [{"sleep": 1.0}] * 4)
        wall = time.monotonic() - started
    finally:
        pool.close()

    assert all(i.ok for i in invocations)
    assert pool.peak == 2
    # Four 1 s events on two environments: two rounds, not four, and never a third environment.
    assert 1.9 < wall < 3.5
    assert {i.result["slot"] for i in invocations} == {"0", "1"}
    assert len({i.result["pid"] for i in invocations}) == 2


def test_one_event_at_a_time_keeps_one_warm_environment(code: Path) -> None:
    pool = FunctionPool(spec(code), dict(os.environ), lambda *_: None, size=4)
    try:
        pids = {pool.invoke({}).result["pid"] for _ in range(5)}
    finally:
        pool.close()
    assert len(pids) == 1 and pool.peak == 1 and pool.starts == 1


def test_an_environment_that_dies_is_replaced_and_the_others_keep_running(code: Path) -> None:
    pool = FunctionPool(spec(code), dict(os.environ), lambda *_: None, size=2)
    try:
        results: list = []
        slow = threading.Thread(target=lambda: results.append(pool.invoke({"sleep": 1.0})))
        slow.start()
        time.sleep(0.3)  # the slow event holds one environment; the crash takes the other
        crashed = pool.invoke({"exit": True})
        slow.join()
        after = run_at_once(pool, [{"sleep": 0.5}] * 2)  # both environments, the dead one restarted
    finally:
        pool.close()

    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert results[0].ok
    assert all(i.ok for i in after)
    assert pool.peak == 2 and pool.starts == 3


def test_the_pool_is_never_larger_than_the_reserved_concurrency(code: Path, monkeypatch) -> None:
    monkeypatch.setenv("CHURN_LOCAL_CONCURRENCY", "8")
    assert pool_size(spec(code)) == 8
    assert pool_size(spec(code, reserved=3)) == 3
    assert pool_size(spec(code, reserved=3), limit=2) == 2
    monkeypatch.setenv("CHURN_LOCAL_CONCURRENCY", "0")
    assert pool_size(spec(code)) == 1


def test_a_closed_pool_refuses_new_events(code: Path) -> None:
    pool = FunctionPool(spec(code), dict(os.environ), lambda *_: None, size=1)
    pool.invoke({})
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.invoke({})


def test_the_deployed_reserved_concurrency_bounds_the_local_pool() -> None:
    from churn_local.aws import LocalAws
    from churn_local.spec import deploy

    root = Path(__file__).resolve().parents[3]
    with LocalAws() as aws:
        stack = deploy(root / "template.yaml", aws.url, parameters={"ScoreCallConcurrency": "2"})
    score, start = stack.function("ScoreCallFunction"), stack.function("StartTranscriptionFunction")
    assert (score.reserved_concurrency, start.reserved_concurrency) == (2, None)
    assert (pool_size(score, limit=4), pool_size(start, limit=4)) == (2, 4)


def test_a_warmed_pool_runs_its_first_event_in_the_environment_it_started(code: Path) -> None:
    pool = FunctionPool(spec(code), dict(os.environ), lambda *_: None, size=4)
    try:
        pool.warm()
        pool.warm()  # once: a second call starts nothing
        started = pool.environments[0]._process
        first = pool.invoke({})
    finally:
        pool.close()
    assert started is not None and first.result["pid"] == started.pid
    assert pool.peak == 1 and pool.starts == 1
