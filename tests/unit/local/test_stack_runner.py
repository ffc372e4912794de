"""The runner: Lambda's async retries, timeouts and on-failure records, and event delivery
from S3 and EventBridge through the template's rules, against a real moto server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from churn_local.aws import LocalAws, client
from churn_local.runner import AsyncInvoker, DestinationSender, FunctionProcess, Outcome
from churn_local.spec import deploy
from churn_local.stack import Endpoints, LocalStack, function_environment

REGION = "us-east-1"


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _receive_all(sqs, queue_url: str, wait_s: int = 1) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.fixture
def flaky(project: Path, local_aws: LocalAws, tmp_path: Path, request: pytest.FixtureRequest):
    # A fresh stack name per test keeps queues apart on the shared server.
    spec = deploy(
        project / "template.yaml", local_aws.url, stack_name=f"t{abs(hash(request.node.name)) % 10**8}"
    )
    function = spec.function("FlakyFunction")
    env = function_environment(function, Endpoints(local_aws.url, region=REGION))
    env["FLAKY_COUNTER"] = str(tmp_path / "counter")
    process = FunctionProcess(function, env, log_sink=lambda fn, line: None)
    sender = DestinationSender(lambda service: client(service, local_aws.url, REGION))
    invoker = AsyncInvoker(function, process, sender, retry_delays_s=(0, 0))
    yield invoker, spec.queue("FailureQueue").url, client("sqs", local_aws.url, REGION)
    process.close()


def test_a_failing_handler_is_retried_until_it_succeeds(flaky) -> None:
    invoker, failure_queue, sqs = flaky

    outcome = invoker.invoke_async({"detail-type": "x", "detail": {"fail_times": 2}})

    assert outcome.ok
    assert [i.ok for i in outcome.invocations] == [False, False, True]
    assert outcome.invocations[-1].result["calls"] == 3
    assert _receive_all(sqs, failure_queue, wait_s=0) == []


def test_retries_exhausted_send_lambdas_on_failure_record(flaky) -> None:
    invoker, failure_queue, sqs = flaky
    event = {"detail-type": "x", "detail": {"fail_times": 99}}

    outcome = invoker.invoke_async(event)

    assert not outcome.ok and outcome.condition == "RetriesExhausted"
    assert len(outcome.invocations) == 3  # one try + MaximumRetryAttempts 2
    [record] = _receive_all(sqs, failure_queue)
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:" + invoker.spec.name + ":$LATEST")
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "failure number 3"
    assert record["responsePayload"]["stackTrace"]


def test_a_timed_out_handler_is_killed_and_the_next_event_gets_a_fresh_environment(flaky) -> None:
    invoker, _, _ = flaky

    slow = invoker.process.invoke({"detail": {"sleep": 5}})
    fast = invoker.process.invoke({"detail": {}})

    assert not slow.ok and slow.error["errorType"] == "Sandbox.Timedout"
    assert slow.duration_s < 4
    assert fast.ok and fast.result["calls"] == 2


def test_an_old_event_is_not_run(flaky) -> None:
    invoker, failure_queue, sqs = flaky

    outcome = invoker.invoke_async({"detail": {}}, received_at=time.time() - 7 * 3600)

    assert outcome.condition == "EventAgeExceeded" and outcome.invocations == ()
    [record] = _receive_all(sqs, failure_queue)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_an_import_error_is_reported_as_lambda_does(project: Path, local_aws: LocalAws) -> None:
    (project / "handlers" / "broken.py").write_text("import not_a_module_anywhere\n")
    spec = deploy(project / "template.yaml", local_aws.url, stack_name="import-error")
    function = spec.function("FlakyFunction")
    broken = type(function)(**{**function.__dict__, "handler": "broken.handler"})
    process = FunctionProcess(broken, function_environment(broken, Endpoints(local_aws.url)), lambda *_: None)
    try:
        invocation = process.invoke({})
    finally:
        process.close()
    assert invocation.error["errorType"] == "Runtime.ImportModuleError"


def _wait_for(predicate, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_events_flow_from_s3_and_eventbridge_through_the_templates_rules(
    project: Path, tmp_path: Path
) -> None:
    outcomes: list[Outcome] = []
    logs: list[tuple[str, str]] = []
    stack = LocalStack(
        project / "template.yaml",
        transcribe=False,
        retry_delays_s=(0,),
        on_outcome=outcomes.append,
        log_sink=lambda fn, line: logs.append((fn, line)),
    )
    with stack:
        s3, sqs = stack.client("s3"), stack.client("sqs")
        bucket = stack.spec.buckets[0].name
        s3.put_object(Bucket=bucket, Key="recordings/c1/a b+c.wav", Body=b"RIFF")
        s3.put_object(Bucket=bucket, Key="elsewhere/c1/x.wav", Body=b"RIFF")
        s3.put_object(Bucket=bucket, Key="recordings/c1/poison.wav", Body=b"RIFF")
        stack.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.transcribe",
                    "DetailType": "Transcribe Job State Change",
                    "Detail": json.dumps(
                        {"TranscriptionJobName": "churn-dev-1", "TranscriptionJobStatus": "COMPLETED"}
                    ),
                },
                {
                    "Source": "aws.transcribe",
                    "DetailType": "Transcribe Job State Change",
                    "Detail": json.dumps(
                        {"TranscriptionJobName": "other-1", "TranscriptionJobStatus": "COMPLETED"}
                    ),
                },
            ]
        )
        _wait_for(lambda: len(outcomes) >= 3)
        time.sleep(1.5)  # anything unexpected would arrive now
        failures = _receive_all(sqs, stack.spec.queue("FailureQueue").url)
        table = stack.client("dynamodb")
        item = table.get_item(
            TableName=stack.spec.table("CallsTable").name, Key={"job_name": {"S": "recordings/c1/a b+c.wav"}}
        )["Item"]

    by_function = {}
    for outcome in outcomes:
        by_function.setdefault(outcome.function, []).append(outcome)
    assert sorted(len(v) for v in by_function.values()) == [1, 2]
    record_outcomes = by_function["RecordFunction"]
    keys = sorted(o.event["detail"]["object"]["key"] for o in record_outcomes)
    assert keys == ["recordings/c1/a b+c.wav", "recordings/c1/poison.wav"]
    delivered = record_outcomes[0].event
    assert delivered["source"] == "aws.s3" and delivered["detail-type"] == "Object Created"
    assert delivered["detail"]["reason"] == "PutObject"  # moto says "ObjectCreated"
    assert "version-id" not in delivered["detail"]["object"]
    assert item["marker"] == {"S": "from-layer"} and item["stage"] == {"S": "dev"}
    [flaky_outcome] = by_function["FlakyFunction"]
    assert flaky_outcome.event["detail"]["TranscriptionJobName"] == "churn-dev-1"
    assert flaky_outcome.event["account"] == "123456789012"
    # Each function ran as its own role: the record function's calls were allowed by its policy.
    assert not any("[local IAM] denied" in line for _, line in logs)
    [failure] = failures
    assert failure["requestPayload"]["detail"]["object"]["key"] == "recordings/c1/poison.wav"
    assert failure["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts: 1
    assert any(fn == "RecordFunction" and "record handler got Object Created" in line for fn, line in logs)


def test_a_versioned_buckets_event_keeps_its_version_id(formats_dir: Path) -> None:
    from churn_local.runner import normalize_event

    # AWS sends a version-id for a versioned bucket (the recordings bucket is one); moto's "null"
    # for an unversioned bucket is the only one removed.
    event = json.loads((formats_dir / "eventbridge-s3-object-created-versioned.json").read_text())
    delivered = normalize_event(json.loads(json.dumps(event)), "123456789012")
    assert delivered["detail"]["object"]["version-id"] == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    event["detail"]["object"]["version-id"] = "null"
    assert "version-id" not in normalize_event(event, "123456789012")["detail"]["object"]


def test_a_record_the_role_may_not_send_is_lost_as_on_lambda(flaky) -> None:
    invoker, failure_queue, sqs = flaky
    spec = invoker.spec
    assert any("sqs:SendMessage" in json.dumps(p) for p in spec.policies)  # SQSSendMessagePolicy
    without = tuple(p for p in spec.policies if "sqs:SendMessage" not in json.dumps(p))
    invoker.spec = type(spec)(**{**spec.__dict__, "policies": without or ({"Statement": []},)})

    outcome = invoker.invoke_async({"detail": {"fail_times": 5}})

    assert outcome.condition == "RetriesExhausted"
    assert invoker.counts["destination_failures"] == 1
    assert _receive_all(sqs, failure_queue) == []


def test_an_event_waiting_for_its_retry_does_not_hold_back_the_next(flaky) -> None:
    # Lambda's async queue retries a failed event later and runs the next one meanwhile; run
    # one at a time, each retry wait stalled the whole route (bench-chaos at 1,000 calls).
    from churn_local.runner import EventRunner

    invoker, _, sqs = flaky
    finished: list[Outcome] = []
    invoker._retry_delays = (1.0, 1.0)
    invoker._on_outcome = finished.append
    queue_url = sqs.create_queue(QueueName=f"delivery-{time.time_ns()}")["QueueUrl"]
    runner = EventRunner(sqs, "123456789012")
    runner.add_route(queue_url, invoker)
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"detail": {"fail_times": 99}, "n": 1}))
    runner.start()
    try:
        _wait_for(lambda: runner.busy)  # the failing event is in its first retry wait
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"detail": {"fail_times": 0}, "n": 2}))
        _wait_for(lambda: len(finished) == 2)
    finally:
        runner.stop()

    assert [o.event["n"] for o in finished] == [2, 1]
    assert [o.ok for o in finished] == [True, False]
    assert runner.busy == 0
