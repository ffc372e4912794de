"""Issue 24 section 3/5: the safety net is watched, the alarms fire on failures (not on designed
retries or Transcribe's queue), the dashboard shows what they watch, and ops/README.md says what to
do for each one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.unit.test_template_iam import load_template

ROOT = Path(__file__).resolve().parents[2]
T = load_template()
R = T["Resources"]
OPS_README = (ROOT / "ops" / "README.md").read_text()


def alarms() -> dict[str, dict[str, Any]]:
    return {lid: r["Properties"] for lid, r in R.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def emitted_by_the_code() -> set[str]:
    """Metric names the functions emit (Powertools add_metric / single_metric / the handlers' _count)."""
    names: set[str] = set()
    for path in (ROOT / "functions").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'(?:_count|add_metric|single_metric)\(\s*(?:name=)?"([A-Za-z]+)"', text))
    return names


def _series(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric-math expression."""
    if "Metrics" in alarm:
        return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    return [alarm]


def test_a_dead_reconciler_pages_because_missing_data_is_breaching():
    alarm = alarms()["ReconcilerAbsentAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("ChurnAlerts", "ReconcilePasses")
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    # 30 minutes without a pass; the schedule parameter cannot be slower than every 15 minutes.
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 1800
    assert "ReconcilePasses" in emitted_by_the_code()


def test_reconciler_errors_page_whether_it_fails_on_calls_or_crashes():
    alarm = alarms()["ReconcileErrorsAlarm"]
    series = {(m["Namespace"], m["MetricName"]): m for m in _series(alarm)}
    assert set(series) == {("ChurnAlerts", "ReconcileErrors"), ("AWS/Lambda", "Errors")}
    assert series["AWS/Lambda", "Errors"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "ReconcileCallsFunction"}}
    ]
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    assert "FILL(calls, 0)" in expression and "FILL(crashes, 0)" in expression
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)


def test_failed_alert_deliveries_page():
    alarm = alarms()["AlertDeliveryFailuresAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SNS", "NumberOfNotificationsFailed")
    assert alarm["Dimensions"] == [
        {"Name": "TopicName", "Value": {"Fn::GetAtt": ["AlertTopic", "TopicName"]}}
    ]


def test_the_api_5xx_and_throttle_alarms_name_the_deployed_api_and_function():
    api = R["ScoreApi"]["Properties"]
    errors = alarms()["ScoreApi5xxAlarm"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    dimensions = {d["Name"]: d["Value"] for d in errors["Dimensions"]}
    assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}
    throttles = alarms()["ScoreApiThrottlesAlarm"]
    assert (throttles["Namespace"], throttles["MetricName"]) == ("AWS/Lambda", "Throttles")
    assert throttles["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ScoreApiFunction"}}]


def test_the_score_function_alarms_on_real_failures_not_on_its_designed_retries():
    watched = [
        (m.get("Namespace"), m.get("MetricName"), json.dumps(m.get("Dimensions")))
        for a in alarms().values()
        for m in _series(a)
    ]
    assert not [w for w in watched if w[:2] == ("AWS/Lambda", "Errors") and "ScoreCallFunction" in w[2]]
    assert ("ChurnAlerts", "ScoringFailed") in {w[:2] for w in watched}
    assert any(w[0] == "AWS/SQS" and "ScoreCallFailuresQueue" in w[2] for w in watched)


def test_stuck_calls_are_counted_from_the_reconcilers_visits_over_30_minutes():
    alarm = alarms()["CallsStuckAlarm"]
    # A failing call is retried (and counted) every ReconcileAfterMinutes, so 1 of 2 15-minute periods.
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (900, 2, 1)
    assert alarm["Statistic"] == "Maximum" and alarm["TreatMissingData"] == "notBreaching"


def _dashboard() -> dict[str, Any]:
    text, _ = R["PipelineDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "x", text))


def test_the_dashboard_is_valid_json_and_shows_every_custom_metric_an_alarm_watches():
    shown = {
        (row[0], row[1]) for widget in _dashboard()["widgets"] for row in widget["properties"]["metrics"]
    }
    for name, alarm in alarms().items():
        for metric in _series(alarm):
            assert (metric["Namespace"], metric["MetricName"]) in shown, name
    custom = {metric for namespace, metric in shown if namespace == "ChurnAlerts"}
    assert custom <= emitted_by_the_code(), custom - emitted_by_the_code()


def test_every_alarm_has_a_row_in_the_runbook():
    section = OPS_README.split("### Alarms and what to do", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    named = {name for line in rows for name in re.findall(r"`([A-Za-z0-9]+Alarm)`", line.split("|")[1])}
    assert named == set(alarms()), set(alarms()) ^ named
    assert all(len(line.split("|")[3].strip()) > 20 for line in rows)  # an action, not a blank


def test_the_cost_table_counts_transcribe_per_1000_calls_with_region_and_date():
    section = OPS_README.split("### Cost per 1,000 calls, Transcribe included", 1)[1].split("\n## ", 1)[0]
    assert "us-east-1" in section and re.search(r"20\d\d-\d\d-\d\d", section)
    assert "Amazon Transcribe" in section and "per 1,000 calls" in section


def test_alerts_the_bus_refused_page_from_the_score_function_and_the_reconciler():
    alarm = alarms()["AlertEventsFailedAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("ChurnAlerts", "AlertEventsFailed")
    # Both functions count it under the score-call service (Powertools' service dimension).
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "score-call"}]
    for function in ("ScoreCallFunction", "ReconcileCallsFunction"):
        env = R[function]["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "score-call", function
    assert "AlertEventsFailed" in emitted_by_the_code()
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        0,
        "GreaterThanThreshold",
    )
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]
