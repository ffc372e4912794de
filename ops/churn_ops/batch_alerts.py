"""Alert on customers a bulk rescore newly puts at high risk: an explicit opt-in, never automatic.

    python -m churn_ops.batch_alerts scores.jsonl --previous last-week.jsonl              # who would be alerted
    python -m churn_ops.batch_alerts scores.jsonl --previous last-week.jsonl --alert-new-high-risk \\
        [--stack-name churn-alerts | local stack] [--quiet-days 7]

Newly high-risk: high in this run (``churn_model.batch`` output or Batch Transform's joined
output), not high in ``--previous`` (when given), and whose newest call the pipeline has not
already alerted on. Each goes through the pipeline's own customer quiet window
(``score_call.adapters.suppression.AlertWindow``: claim, publish, mark delivered, release on a
failed publish) and its publisher and alert message (``score_call``), so a customer alerted by the
pipeline within the window is not alerted again, and the same batch alert is never sent twice: its
claim is keyed by the run, the customer and the call, and a re-run finds it delivered.

Without ``--alert-new-high-risk`` it only prints who would be alerted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
# The score function's package is not installed (it ships as the Lambda's code): use it from the repo.
for _path in (ROOT / "functions" / "score_call", ROOT / "functions" / "shared"):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from churn_contracts.calls import CallStatus  # noqa: E402
from churn_contracts.profile import item_to_record  # noqa: E402
from churn_contracts.risk import RiskLevel  # noqa: E402
from score_call.adapters.alerts import AlertPublisher  # noqa: E402
from score_call.adapters.suppression import AlertWindow  # noqa: E402
from score_call.alert import Alert  # noqa: E402

LOCAL_STATE = Path(".local-stack") / "state.json"
LEASE = timedelta(minutes=5)
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto's


@dataclass(frozen=True)
class Candidate:
    customer_id: str
    call_id: str | None
    job_name: str | None
    probability: float
    model_version: str
    previous: float | None


@dataclass
class AlertReport:
    candidates: int = 0
    sent: list[str] = field(default_factory=list)
    already_sent: int = 0
    suppressed: int = 0  # the quiet window is held by another alert of the customer
    busy: int = 0  # another alert of the customer is being published right now
    already_alerted_by_pipeline: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "sent": len(self.sent)}


def _results(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            result = line.get("SageMakerOutput", line) if isinstance(line, dict) else None
            if isinstance(result, dict) and "probability" in result and line.get("customer_id") is not None:
                yield {**result, **{k: line.get(k) for k in ("customer_id", "call_id", "job_name")}}


def newly_high(scores: Path, previous: Path | None, high: float) -> Iterator[Candidate]:
    """High now and, with a previous run, not high then (or absent from it)."""
    before: dict[str, float] = {}
    if previous is not None:
        before = {str(r["customer_id"]): float(r["probability"]) for r in _results(previous)}
    for result in _results(scores):
        p = float(result["probability"])
        customer = str(result["customer_id"])
        was = before.get(customer)
        if p >= high and (was is None or was < high):
            yield Candidate(
                customer,
                result.get("call_id"),
                result.get("job_name"),
                p,
                str(result.get("model_version")),
                was,
            )


def batch_job_name(scores: Path, candidate: Candidate) -> str:
    """The claim's key: this run's alert for this customer's call, the same on every re-run."""
    digest = hashlib.sha256(
        "|".join(
            [candidate.model_version, candidate.customer_id, str(candidate.call_id), scores.name]
        ).encode()
    ).hexdigest()[:16]
    return f"batch-{digest}"


@dataclass(frozen=True)
class Targets:
    calls: Any
    profiles: Any
    window: AlertWindow
    publisher: AlertPublisher
    thresholds: Mapping[str, float]


def send_alerts(
    scores: Path, candidates: Sequence[Candidate], targets: Targets, *, now: datetime
) -> AlertReport:
    report = AlertReport(candidates=len(candidates))
    for candidate in candidates:
        call = (
            targets.calls.get_item(Key={"job_name": candidate.job_name}).get("Item")
            if candidate.job_name
            else None
        )
        if call and call.get("status") == CallStatus.ALERTED.value:
            report.already_alerted_by_pipeline += 1
            continue
        name = batch_job_name(scores, candidate)
        claim = targets.window.claim(candidate.customer_id, name, now, now + LEASE)
        if claim.delivered_message_id:
            report.already_sent += 1
            continue
        if claim.busy:
            report.busy += 1
            continue
        if not claim.granted:
            report.suppressed += 1
            continue
        profile = targets.profiles.get_item(Key={"customer_id": candidate.customer_id}).get("Item")
        try:
            message_id = targets.publisher.publish(_alert(candidate, name, call or {}, profile, targets, now))
        except Exception:
            targets.window.release(candidate.customer_id, name)
            report.failed += 1
            continue
        targets.window.mark_delivered(candidate.customer_id, name, message_id, now)
        report.sent.append(message_id)
    return report


def _alert(
    candidate: Candidate,
    name: str,
    call: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
    targets: Targets,
    now: datetime,
) -> Alert:
    record = item_to_record(profile or {})
    return Alert(
        customer_id=candidate.customer_id,
        call_id=str(candidate.call_id or ""),
        job_name=str(candidate.job_name or name),
        probability=candidate.probability,
        risk_level=RiskLevel.HIGH.value,
        medium_threshold=float(targets.thresholds["medium"]),
        high_threshold=float(targets.thresholds["high"]),
        profile_found=profile is not None,
        plan=record.get("plan"),
        limit=record.get("limit"),
        account_length=record.get("Account Length"),
        customer_service_calls=record.get("CustServ Calls"),
        missing_features=[],
        excerpt=None,  # bulk alerts carry no transcript text
        recording_uri=call.get("recording_uri"),
        transcript_uri=str(call.get("transcript_uri") or ""),
        model_version=f"{candidate.model_version} (bulk rescore)",
        scored_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _thresholds(scores: Path, high: float | None, medium: float | None) -> dict[str, float]:
    run_file = scores.with_name(scores.name + ".run.json")
    values = json.loads(run_file.read_text()).get("thresholds", {}) if run_file.is_file() else {}
    from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD

    return {
        "medium": medium
        if medium is not None
        else float(values.get("medium", DEFAULT_MEDIUM_RISK_THRESHOLD)),
        "high": high if high is not None else float(values.get("high", DEFAULT_HIGH_RISK_THRESHOLD)),
    }


def targets_from_args(args: argparse.Namespace, thresholds: Mapping[str, float]) -> Targets:
    """The stack's tables and topic: deployed (--stack-name) or the running local stack."""
    if args.stack_name:
        from churn_ops.stack import stack_outputs

        session = boto3.session.Session(region_name=args.region)
        outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
        endpoint = None
    else:
        state = json.loads(Path(args.state_file).read_text())
        endpoint = state["endpoints"]["aws"]
        session = boto3.session.Session(region_name=state["endpoints"]["region"], **LOCAL_CREDENTIALS)
        outputs = state.get("outputs") or {}
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    return Targets(
        calls=dynamodb.Table(outputs["CallsTableName"]),
        profiles=dynamodb.Table(outputs["ProfilesTableName"]),
        window=AlertWindow(
            dynamodb.Table(outputs["CustomerAlertsTableName"]), timedelta(days=args.quiet_days)
        ),
        publisher=AlertPublisher(session.client("sns", endpoint_url=endpoint), outputs["AlertTopicArn"]),
        thresholds=thresholds,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churn_ops.batch_alerts", description=__doc__.split("\n\n")[0])
    p.add_argument("scores", type=Path, help="a bulk-scoring output")
    p.add_argument(
        "--previous", type=Path, default=None, help="the previous run: alert only on the newly high"
    )
    p.add_argument("--alert-new-high-risk", action="store_true", help="send the alerts (default: list them)")
    p.add_argument("--stack-name", default=None, help="a deployed stack (default: the running local stack)")
    p.add_argument("--region", default=None)
    p.add_argument("--state-file", default=str(LOCAL_STATE))
    p.add_argument("--quiet-days", type=float, default=7, help="the stack's AlertSuppressionDays (default 7)")
    p.add_argument("--high-threshold", type=float, default=None, help="default: the run's")
    p.add_argument("--medium-threshold", type=float, default=None, help="default: the run's")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    thresholds = _thresholds(args.scores, args.high_threshold, args.medium_threshold)
    candidates = list(newly_high(args.scores, args.previous, thresholds["high"]))
    if not args.alert_new_high_risk:
        for c in candidates:
            print(
                json.dumps(
                    {"customer_id": c.customer_id, "probability": c.probability, "previous": c.previous}
                )
            )
        print(
            f"{len(candidates)} newly high-risk; nothing sent (pass --alert-new-high-risk)", file=sys.stderr
        )
        return 0
    targets = targets_from_args(args, thresholds)
    report = send_alerts(args.scores, candidates, targets, now=datetime.now(UTC))
    print(json.dumps(report.to_dict(), indent=2))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
