"""ReconcileCallsFunction: finish the calls the events left behind (a schedule, every 5 minutes).

Transcribe's state-change events are best effort and an invocation can die mid-way. This
finds calls in flight (TRANSCRIBING, SCORING, alert PENDING) not updated for a while, through
the sparse ``by-open-status`` index (no scans), asks Transcribe where it needs to, and
finishes each through the same domain code as the event path, so it never sends a second alert.
It ships in the score function's code (same package, same domain), with its own handler and role.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_contracts.calls import OpenStatus
from churn_lambda.logs import safe_reason

from . import handler as score_handler
from .models import Result
from .observability import NAMESPACE, logger, metrics, tracer
from .service import reconcile_call

MAX_CALLS_PER_RUN = 500
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


def reconcile(clock: Callable[[], datetime] = _utc_now, max_calls: int = MAX_CALLS_PER_RUN) -> dict[str, Any]:
    """One pass over every in-flight status; returns counts (also logged and emitted as metrics)."""
    config, deps = score_handler.settings(), score_handler.collaborators()
    calls = deps.calls
    moment = clock()
    look_before = moment - timedelta(seconds=config.reconcile_after_seconds)
    stuck_before = moment - timedelta(seconds=config.stuck_after_seconds)
    results: Counter[str] = Counter()
    stuck: Counter[str] = Counter()
    reconciled = errors = 0
    for status in OpenStatus:
        for name in calls.in_flight(status.value, look_before, max_calls):
            call = calls.get(name)
            if call is None or call.open_status is None:
                continue
            try:
                outcome = reconcile_call(call, config, deps, now=clock)
            except Exception as exc:  # one bad call must not stop the pass
                errors += 1
                logger.warning(
                    "Could not reconcile a call",
                    extra={"job_name": name, "error": type(exc).__name__, "reason": safe_reason(exc)},
                )
                outcome = None
            if outcome is not None:
                results[outcome.result.value] += 1
                score_handler.report(outcome)
                if outcome.result in _FINISHED:
                    reconciled += 1
                    continue
            if call.updated_at is not None and call.updated_at < stuck_before:
                stuck[status.value] += 1
    metrics.add_metric(name="CallsReconciled", unit=MetricUnit.Count, value=reconciled)
    metrics.add_metric(name="CallsStuck", unit=MetricUnit.Count, value=sum(stuck.values()))
    if errors:
        metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=errors)
    for status in OpenStatus:
        # One series per status, zeros included, so the alarm always has data.
        with single_metric(
            name="CallsStuck", unit=MetricUnit.Count, value=stuck[status.value], namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="status", value=status.value)
    summary = {"reconciled": reconciled, "stuck": dict(stuck), "errors": errors, "results": dict(results)}
    logger.info("Reconciled", extra=summary)
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reconcile(clock=score_handler._now)
