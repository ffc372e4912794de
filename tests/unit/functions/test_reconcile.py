"""Issue 24 section 5: the reconciler counts what it cannot finish and is not starved by deferred jobs.

Sequences on moto through the real handlers: the endpoint down for two hours of passes (the call
is counted stuck from when it was opened, however often each pass rewrote ``updated_at``), then
back (finished, once); a window full of Transcribe's deferred jobs ahead of a lost event (the lost
one is still reconciled in the first pass, the deferred ones are not stuck); a pass that runs out
of time ends early and completes instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from churn_contracts.calls import OpenStatus
from churn_lambda.retry import Backoff
from score_call import handler, reconcile
from score_call.adapters.alerts import AlertPublisher
from score_call.adapters.calls import CallsRepository
from score_call.adapters.endpoint import EndpointScorer
from score_call.adapters.profiles import ProfileStore
from score_call.adapters.suppression import AlertWindow
from score_call.adapters.transcribe import TranscriptionJobs
from score_call.adapters.transcripts import TranscriptStore
from score_call.config import load_settings
from score_call.service import Collaborators

from tests.unit.functions.conftest import BUCKET, CALLS, CUSTOMER_ALERTS, PREFIX, PROFILES, emitted_metrics
from tests.unit.functions.faults import Fault, Faulty, throttled
from tests.unit.functions.score_support import (
    ANGRY,
    CannedRuntime,
    add_profile,
    client_error,
    env_values,
    transcribed_call,
)

T0 = datetime(2026, 11, 28, 14, 11, 3, tzinfo=UTC)
OPENED = "2026-11-28T14:05:31.000Z"  # transcribed_call's created_at
NO_WAIT = Backoff(attempts=2, base_s=0.0, cap_s=0.0)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class Endpoint(CannedRuntime):
    """The canned endpoint, which can be taken down (every invocation answers 503)."""

    down = False

    def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        if self.down:
            self.requests.append({})
            raise client_error("ServiceUnavailable", 503, "endpoint unavailable")
        return super().invoke_endpoint(**kwargs)


@dataclass
class Transcribe:
    """moto's Transcribe, except that the named jobs still wait in Transcribe's deferred queue
    (moto moves every job to COMPLETED within three reads; real deferred jobs wait for hours)."""

    target: Any
    queued: set[str] = field(default_factory=set)
    reads: list[str] = field(default_factory=list)

    def get_transcription_job(self, *, TranscriptionJobName: str) -> dict[str, Any]:
        self.reads.append(TranscriptionJobName)
        if TranscriptionJobName in self.queued:
            return {
                "TranscriptionJob": {
                    "TranscriptionJobName": TranscriptionJobName,
                    "TranscriptionJobStatus": "QUEUED",
                }
            }
        return self.target.get_transcription_job(TranscriptionJobName=TranscriptionJobName)


@dataclass
class Reconciler:
    aws: Any
    clock: Clock
    endpoint: Endpoint
    transcribe: Transcribe
    calls_table: Faulty
    context: Any
    capsys: Any

    def run(self, at: datetime, **kwargs: Any) -> dict[str, Any]:
        self.clock.moment = at
        if not kwargs:
            return reconcile.lambda_handler({"source": "aws.events"}, self.context)
        try:  # a smaller window or a shorter time than the handler's: the pass itself
            return reconcile.reconcile(clock=self.clock, **kwargs)
        finally:
            reconcile.metrics.flush_metrics()

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(envelope["Message"]) for envelope in self.aws.alerts()]

    def metrics(self) -> dict[str, list[float]]:
        return emitted_metrics(self.capsys.readouterr().out)


@pytest.fixture
def reconciler(aws, monkeypatch, context, capsys) -> Reconciler:
    for name, value in env_values(aws.topic_arn).items():
        monkeypatch.setenv(name, value)
    handler.reset()
    settings = load_settings(env_values(aws.topic_arn))
    clock = Clock(T0)
    endpoint = Endpoint()
    transcribe = Transcribe(aws.transcribe)
    calls_table = Faulty(aws.dynamodb.Table(CALLS))
    deps = Collaborators(
        jobs=TranscriptionJobs(transcribe),
        transcripts=TranscriptStore(aws.s3),
        profiles=ProfileStore(aws.dynamodb.Table(PROFILES)),
        scorer=EndpointScorer(endpoint, settings.endpoint_name, NO_WAIT, sleep=lambda _s: None),
        calls=CallsRepository(calls_table),
        alert_window=AlertWindow(
            aws.dynamodb.Table(CUSTOMER_ALERTS), timedelta(days=settings.alert_suppression_days)
        ),
        publisher=AlertPublisher(aws.sns, aws.topic_arn),
        bookkeeping=NO_WAIT,
        sleep=lambda _s: None,
    )
    monkeypatch.setattr(handler, "collaborators", lambda: deps)
    monkeypatch.setattr(handler, "_now", clock)
    yield Reconciler(aws, clock, endpoint, transcribe, calls_table, context, capsys)
    handler.settings.cache_clear()


def test_a_call_the_reconciler_keeps_failing_on_is_counted_stuck_and_alarmed_then_finished_once(reconciler):
    """Endpoint down for 2 hours: 24 passes, 5 minutes apart. The issue's run: 13 errors, CallsStuck 0."""
    add_profile(reconciler.aws, "C-21")
    job = transcribed_call(reconciler.aws, "C-21", "down", ANGRY)  # the COMPLETED event was lost
    reconciler.endpoint.down = True
    stuck, errors, passes = [], [], []
    for n in range(24):
        summary = reconciler.run(T0 + timedelta(minutes=10 + 5 * n))
        metrics = reconciler.metrics()
        stuck.append(metrics["CallsStuck"][-1])  # flushed last: the service-wide series the alarm watches
        errors.append(metrics["ReconcileErrors"][0])
        passes.append(metrics["ReconcilePasses"][0])
        assert summary["reconciled"] == 0
    item = reconciler.aws.call(job)
    assert item["created_at"] == OPENED and item["updated_at"] > OPENED  # each retry rewrote it
    assert item["status"] == "SCORING" and item["open_status"] == "SCORING"
    # Each attempt makes it recent again, so it is retried every third pass (ReconcileAfterMinutes
    # 10, passes every 5), and fails each time...
    assert sum(errors) == 8 and all(p == 1 for p in passes)
    # ...and once open for an hour it is counted stuck, on every pass that looks at it, till it ends.
    opened = datetime(2026, 11, 28, 14, 5, 31, tzinfo=UTC)
    late = [stuck[n] for n in range(24) if T0 + timedelta(minutes=10 + 5 * n) - opened > timedelta(hours=1)]
    assert max(stuck) == 1 and sum(late) >= len(late) // 3 and stuck[:6] == [0.0] * 6
    # CallsStuckAlarm: the Maximum of 1 of 2 15-minute periods, so every 30 minutes (six passes)
    # of the late passes must hold a 1.
    assert all(max(late[i : i + 6]) == 1 for i in range(len(late) - 5))
    assert reconciler.alerts() == []

    reconciler.endpoint.down = False
    summary = reconciler.run(T0 + timedelta(hours=3))
    assert summary["reconciled"] == 1 and summary["stuck"] == {} and summary["errors"] == 0
    assert [a["job_name"] for a in reconciler.alerts()] == [job]
    assert reconciler.run(T0 + timedelta(hours=4))["reconciled"] == 0
    assert reconciler.alerts() == []


def _deferred_call(aws: Any, n: int) -> str:
    """A call whose job waits in Transcribe's deferred queue, opened before the lost one."""
    job = f"{PREFIX}C-3{n:03d}-deferred-{n:012x}"
    stamp = (datetime(2026, 11, 28, 9, 0, tzinfo=UTC) + timedelta(seconds=n)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    aws.dynamodb.Table(CALLS).put_item(
        Item={
            "job_name": job,
            "customer_id": f"C-3{n:03d}",
            "call_id": "deferred",
            "recording_uri": f"s3://{BUCKET}/recordings/C-3{n:03d}/deferred.wav",
            "status": "TRANSCRIBING",
            "open_status": "TRANSCRIBING",
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
    return job


def test_deferred_jobs_ahead_in_the_window_do_not_starve_a_lost_event_behind_them(reconciler):
    deferred = [_deferred_call(reconciler.aws, n) for n in range(12)]
    reconciler.transcribe.queued.update(deferred)
    add_profile(reconciler.aws, "C-22")
    lost = transcribed_call(reconciler.aws, "C-22", "lost", ANGRY)
    # A window of 5 calls: the 12 deferred ones (hours older) come first on the index.
    summary = reconciler.run(T0 + timedelta(minutes=15), max_calls=5)
    assert summary["reconciled"] == 1 and summary["deferred"] == 12
    assert summary["stuck"] == {}  # five hours in Transcribe's queue is not stuck
    assert [a["job_name"] for a in reconciler.alerts()] == [lost]
    metrics = reconciler.metrics()
    assert metrics["CallsDeferred"] == [12.0] and metrics["CallsStuck"][-1] == 0.0
    # Passed over and moved down the index: the next pass (within ReconcileAfterMinutes) skips them.
    reads = len(reconciler.transcribe.reads)
    assert reconciler.run(T0 + timedelta(minutes=20), max_calls=5)["deferred"] == 0
    assert len(reconciler.transcribe.reads) == reads
    # Once Transcribe runs them, they are finished like any other call.
    reconciler.transcribe.queued.clear()
    assert reconciler.run(T0 + timedelta(minutes=40), max_calls=5)["reconciled"] == 0  # no transcripts yet
    for job in deferred:
        assert reconciler.aws.call(job)["open_status"] == "TRANSCRIBING"


def test_the_window_still_pages_past_deferred_jobs_when_names_are_capped(reconciler):
    deferred = [_deferred_call(reconciler.aws, n) for n in range(8)]
    reconciler.transcribe.queued.update(deferred)
    add_profile(reconciler.aws, "C-23")
    lost = transcribed_call(reconciler.aws, "C-23", "lost", ANGRY)
    # Names capped below the deferred count: this pass sees deferred ones only, and moves them back...
    first = reconciler.run(T0 + timedelta(minutes=15), max_calls=2, max_names=5)
    assert first["reconciled"] == 0 and first["deferred"] == 5
    # ...so the next pass reaches the rest and the lost call behind them.
    second = reconciler.run(T0 + timedelta(minutes=20), max_calls=2, max_names=5)
    assert second["reconciled"] == 1 and second["deferred"] == 3
    assert [a["job_name"] for a in reconciler.alerts()] == [lost]


def test_a_pass_that_runs_out_of_time_stops_early_and_still_reports(reconciler):
    add_profile(reconciler.aws, "C-24")
    transcribed_call(reconciler.aws, "C-24", "late", ANGRY)
    summary = reconciler.run(T0 + timedelta(minutes=15), time_left_ms=lambda: reconcile.RESERVE_MS - 1)
    assert summary["out_of_time"] is True and summary["reconciled"] == 0
    metrics = reconciler.metrics()
    assert metrics["ReconcilePasses"] == [1.0] and metrics["ReconcileErrors"] == [0.0]


def test_throttled_reads_fail_their_call_or_status_never_the_pass(reconciler):
    """bench-chaos at 1,000 calls: one throttled GetItem (or Query) among hundreds failed the whole
    pass, Lambda's retries failed the same way, and the scheduled invocation was dropped."""
    add_profile(reconciler.aws, "C-25")
    add_profile(reconciler.aws, "C-26")
    first = transcribed_call(reconciler.aws, "C-25", "first", ANGRY)
    second = transcribed_call(reconciler.aws, "C-26", "second", ANGRY)
    reconciler.calls_table.faults.append(
        Fault(
            "get_item", lambda: throttled("GetItem"), when=lambda kw: kw["Key"]["job_name"] == first, times=99
        )
    )
    reconciler.calls_table.faults.append(
        Fault(
            "query", lambda: throttled("Query"), when=lambda kw: ":open" in str(kw) and "SCORING" in str(kw)
        )
    )
    summary = reconciler.run(T0 + timedelta(minutes=15))
    assert summary["reconciled"] == 1 and summary["errors"] == 2
    assert [a["job_name"] for a in reconciler.alerts()] == [second]
    metrics = reconciler.metrics()
    assert metrics["ReconcilePasses"] == [1.0] and metrics["ReconcileErrors"] == [2.0]
    # The next pass, unthrottled, finishes the other.
    reconciler.calls_table.faults.clear()
    assert reconciler.run(T0 + timedelta(minutes=30))["reconciled"] == 1
    assert [a["job_name"] for a in reconciler.alerts()] == [first]


def test_a_pass_short_of_time_finishes_the_calls_nearest_their_alert_first(reconciler):
    """bench-chaos at 1,000 calls under load: passes ran out of time on a backlog of TRANSCRIBING
    takeovers while calls one step from their alert waited behind them, pass after pass."""
    assert set(reconcile.PASS_ORDER) == set(OpenStatus)
    add_profile(reconciler.aws, "C-27")
    nearly = transcribed_call(reconciler.aws, "C-27", "nearly", ANGRY)
    reconciler.endpoint.down = True
    reconciler.run(T0 + timedelta(minutes=15))  # its scoring fails: the call now waits in SCORING
    assert reconciler.aws.call(nearly)["open_status"] == "SCORING"
    reconciler.endpoint.down = False
    add_profile(reconciler.aws, "C-28")
    transcribed_call(reconciler.aws, "C-28", "later", ANGRY)  # a lost completion, older on the index

    budget = iter([60_000])  # time for one call, then none
    summary = reconciler.run(T0 + timedelta(minutes=40), time_left_ms=lambda: next(budget, 0))

    assert summary["out_of_time"] is True and summary["reconciled"] == 1
    assert [a["job_name"] for a in reconciler.alerts()] == [nearly]
