"""ReconcileCallsFunction: finish the calls the events left behind (a schedule, every 5 minutes).

Transcribe's state-change events are best effort and an invocation can die mid-way. This
finds calls in flight (TRANSCRIBING, SCORING, alert PENDING) not updated for a while, through
the sparse ``by-open-status`` index (no scans), asks Transcribe where it needs to, and
finishes each through the same domain code as the event path, so it never sends a second alert.
It ships in the score function's code (same package, same domain), with its own handler and role.

Three things keep it honest (issue 24):
- A call's age counts from when it was opened (``created_at``), not from ``updated_at``, which
  every retry rewrites: a call the reconciler fails on pass after pass is counted in
  ``CallsStuck`` once it has been open longer than ``STUCK_AFTER_SECONDS``.
- Calls whose Transcribe job still waits (QUEUED, in the deferred queue) or runs (IN_PROGRESS)
  are passed over without using the pass's work budget, and moved to the back of the index
  (``touch``), so thousands of deferred jobs at the front cannot starve a lost event behind them.
  They are counted as ``CallsDeferred``, never as stuck: the queue is Transcribe's design.
- Every completed pass counts ``ReconcilePasses`` (the dead-reconciler alarm breaches on its
  absence) and ``ReconcileErrors`` (zeros included). No single read, query or call fails the
  pass (a throttled GetItem among hundreds used to, so every pass of a busy table died and its
  scheduled invocation was dropped after Lambda's retries), and the pass stops before the
  function's timeout, so a slow dependency ends a pass early instead of failing it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_contracts.calls import CallItem, OpenStatus
from churn_lambda.logs import safe_reason

from . import handler as score_handler
from .models import Result
from .observability import NAMESPACE, logger, metrics, tracer
from .service import reconcile_call

# Calls worked on (asked about, scored, alerted) per status and pass.
MAX_CALLS_PER_RUN = 500
# In-flight names read from the index per status and pass: room to page past waiting jobs.
MAX_NAMES_PER_RUN = 5000
# Stop a pass with this much of the invocation left (the function's timeout is 300 s).
RESERVE_MS = 20_000
# Transcribe job states that are Transcribe's to finish, not ours.
WAITING = {"QUEUED", "IN_PROGRESS"}
DEFERRED = "QUEUED"
# Nearest the alert first: a pending alert is one publish from the retention team, and must not
# wait behind hundreds of transcription takeovers when a backlog fills the pass (bench-chaos at
# 1,000 calls: alerts pending for minutes while passes ran out of time on TRANSCRIBING calls).
PASS_ORDER = (OpenStatus.ALERT_PENDING, OpenStatus.SCORING, OpenStatus.TRANSCRIBING)
# Results that moved a call on (the others leave it where it was).
_FINISHED = {
    Result.TRANSCRIPTION_FAILED,
    Result.SCORING_FAILED,
    Result.SCORED,
    Result.ALERTED,
    Result.SUPPRESSED,
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _opened_at(call: CallItem) -> datetime | None:
    """When the call was opened: the first write of its item (``updated_at`` on items without it)."""
    return call.created_at or call.updated_at


def reconcile(
    clock: Callable[[], datetime] = _utc_now,
    max_calls: int = MAX_CALLS_PER_RUN,
    *,
    max_names: int = MAX_NAMES_PER_RUN,
    time_left_ms: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """One pass over every in-flight status; returns counts (also logged and emitted as metrics)."""
    config, deps = score_handler.settings(), score_handler.collaborators()
    calls = deps.calls
    moment = clock()
    look_before = moment - timedelta(seconds=config.reconcile_after_seconds)
    stuck_before = moment - timedelta(seconds=config.stuck_after_seconds)
    results: Counter[str] = Counter()
    stuck: Counter[str] = Counter()
    reconciled = errors = deferred = waiting = 0
    out_of_time = False

    def failed(name: str, exc: Exception) -> None:
        nonlocal errors
        errors += 1
        logger.warning(
            "Could not reconcile a call",
            extra={"job_name": name, "error": type(exc).__name__, "reason": safe_reason(exc)},
        )

    for status in PASS_ORDER:
        if out_of_time:
            break
        worked = 0
        try:
            names = calls.in_flight(status.value, look_before, max(max_calls, max_names))
        except Exception as exc:  # a throttled query: this status waits for the next pass, not the others
            failed(f"<{status.value} calls>", exc)
            continue
        for name in names:
            if worked >= max_calls:
                break
            if time_left_ms is not None and time_left_ms() < RESERVE_MS:
                out_of_time = True
                break
            try:
                call = calls.get(name)
            except Exception as exc:  # a throttled read fails this call, never the pass
                failed(name, exc)
                continue
            if call is None or call.open_status is None:
                continue
            opened = _opened_at(call)
            old = opened is not None and opened < stuck_before
            if status is OpenStatus.TRANSCRIBING:
                try:
                    job = deps.jobs.get(name)
                except Exception as exc:  # Transcribe unreachable: this call, not the pass
                    failed(name, exc)
                    stuck[status.value] += old
                    worked += 1
                    continue
                if job is not None and job.status in WAITING:
                    # Transcribe's to finish: passed over (no work budget), moved to the back.
                    waiting += 1
                    deferred += job.status == DEFERRED
                    try:
                        calls.touch(name, moment)
                    except Exception as exc:  # best effort: it is only looked at again sooner
                        logger.info(
                            "Could not move a waiting call down the index",
                            extra={"error": type(exc).__name__},
                        )
                    continue
            worked += 1
            try:
                outcome = reconcile_call(call, config, deps, now=clock)
            except Exception as exc:  # one bad call must not stop the pass
                failed(name, exc)
                outcome = None
            if outcome is not None:
                results[outcome.result.value] += 1
                score_handler.report(outcome)
                if outcome.result in _FINISHED:
                    reconciled += 1
                    continue
            if old:
                stuck[status.value] += 1
    metrics.add_metric(name="CallsReconciled", unit=MetricUnit.Count, value=reconciled)
    metrics.add_metric(name="CallsStuck", unit=MetricUnit.Count, value=sum(stuck.values()))
    metrics.add_metric(name="CallsDeferred", unit=MetricUnit.Count, value=deferred)
    metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=errors)
    metrics.add_metric(name="ReconcilePasses", unit=MetricUnit.Count, value=1)
    for status in OpenStatus:
        # One series per status, zeros included, so the alarm always has data.
        with single_metric(
            name="CallsStuck", unit=MetricUnit.Count, value=stuck[status.value], namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="status", value=status.value)
    summary = {
        "reconciled": reconciled,
        "stuck": {k: v for k, v in stuck.items() if v},
        "deferred": deferred,
        "waiting": waiting,
        "errors": errors,
        "results": dict(results),
        "out_of_time": out_of_time,
    }
    logger.info("Reconciled", extra=summary)
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reconcile(clock=score_handler._now, time_left_ms=context.get_remaining_time_in_millis)
