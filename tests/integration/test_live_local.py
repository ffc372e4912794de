"""Live calls on the local stack (issue 23): segments into the local Kinesis, the live function
behind a local event source mapping, the agents' WebSocket, the tiny model's endpoint."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.local, pytest.mark.model]


@pytest.fixture(scope="module")
def call_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every AWS call the live functions' workers make, checked against their own roles."""
    return tmp_path_factory.mktemp("live-iam") / "calls.jsonl"


@pytest.fixture(scope="module")
def live(tiny_model_dir: Path, call_log: Path) -> Iterator[Any]:
    from churn_local.live.run import LiveLocal, live_stack
    from churn_model.serving.server import LocalEndpointServer

    with (
        LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as server,
        live_stack(server.url, call_log=call_log) as stack,
        LiveLocal(stack, rescore_seconds=0) as harness,
    ):
        yield harness


class Agent:
    def __init__(self, url: str, contact_id: str) -> None:
        from churn_local.live.agent import follow

        self.messages: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=follow, args=(url, contact_id, self.messages.append, self.stop), daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def _wait_for_subscriber(live: Any, contact_id: str) -> None:
    table = live.stack.table(live.resources.connections_table)
    for _ in range(100):
        if table.query(
            KeyConditionExpression="contact_id = :c", ExpressionAttributeValues={":c": contact_id}
        )["Items"]:
            return
        time.sleep(0.05)
    raise AssertionError("the agent never subscribed")


def test_a_call_is_scored_as_it_goes_and_the_agent_sees_each_change(live: Any) -> None:
    from churn_local.live.producer import DEMO_CALL

    agent = Agent(live.socket.url, "it-contact-1")
    _wait_for_subscriber(live, "it-contact-1")
    live.seed_contact("it-contact-1", "C-IT-1")
    live.writer.play("it-contact-1", DEMO_CALL, speed=0)
    live.wait_idle(
        settle_s=1.5, timeout_s=60, until=lambda: (live.contact("it-contact-1") or {}).get("final")
    )
    agent.close()
    item = live.contact("it-contact-1")
    assert item["status"] == "COMPLETED" and item["customer_turns"] == 3
    assert 1 <= item["scores"] <= 3  # endpoint calls <= customer turns
    updates = [m for m in agent.messages if m["type"] == "churn-risk"]
    levels = [m["risk_level"] for m in updates]
    assert levels and levels[-1] == item["risk_level"]
    assert all(a != b for a, b in itertools.pairwise(levels))  # one message per change
    assert len({m["dedupe_key"] for m in updates}) == len(updates)
    # Connected before the first score: the current-state answer said so.
    (current,) = [m for m in agent.messages if m["type"] == "churn-risk-current"]
    assert current["contact_id"] == "it-contact-1"


def test_an_agent_who_connects_mid_call_gets_the_current_risk_at_once(live: Any) -> None:
    from churn_local.live.producer import DEMO_CALL, turn_events

    live.seed_contact("it-contact-4", "C-IT-4")
    turning = list(DEMO_CALL[:4])  # up to the customer's complaint; the call goes on
    for turn in turning:
        for event in turn_events("it-contact-4", turn):
            live.writer.put(event)
    live.wait_idle(
        settle_s=1.5, timeout_s=60, until=lambda: (live.contact("it-contact-4") or {}).get("scores")
    )
    item = live.contact("it-contact-4")
    agent = Agent(live.socket.url, "it-contact-4")
    for _ in range(100):
        if agent.messages:
            break
        time.sleep(0.05)
    agent.close()
    (message,) = agent.messages  # nothing else happened on the call meanwhile
    assert message["type"] == "churn-risk-current"
    assert message["risk_level"] == item["risk_level"] and message["risk_level"] is not None
    assert message["dedupe_key"] == f"it-contact-4:{item['scores']}"
    assert message["customer_turns"] == item["scored_turns"]


def test_a_poison_record_goes_to_the_failure_queue_and_the_rest_is_processed(live: Any) -> None:
    from churn_local.live.producer import SpokenTurn, turn_events

    kinesis, sqs = live.stack.client("kinesis"), live.stack.client("sqs")
    stream = live.resources.stream_name
    kinesis.put_record(StreamName=stream, Data=b"\x00not a contact lens event", PartitionKey="it-poison")
    final = list(turn_events("it-contact-2", SpokenTurn("CUSTOMER", "I want to cancel today.", 1.0, 3.0)))[-1]
    for _ in range(2):  # delivered twice
        kinesis.put_record(StreamName=stream, Data=json.dumps(final).encode(), PartitionKey="it-contact-2")
    live.wait_idle(
        settle_s=1.5, timeout_s=60, until=lambda: (live.contact("it-contact-2") or {}).get("scores")
    )
    item = live.contact("it-contact-2")
    assert item["customer_turns"] == 1 and item["scores"] == 1
    messages = []
    for _ in range(20):
        messages += sqs.receive_message(QueueUrl=live.resources.failures_queue_url, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if messages:
            break
    (message,) = messages
    info = json.loads(message["Body"])["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == live.resources.stream_arn
    assert "not a contact lens" not in message["Body"]


def test_a_gone_agent_is_removed_when_the_next_update_comes(live: Any) -> None:
    from churn_local.live.producer import SpokenTurn, turn_events

    table = live.stack.table(live.resources.connections_table)
    # A subscription whose WebSocket is long gone (the desktop crashed without a $disconnect).
    table.put_item(
        Item={"contact_id": "it-contact-3", "connection_id": "gone-1", "agent": "x", "expires_at": 2**31}
    )
    final = list(turn_events("it-contact-3", SpokenTurn("CUSTOMER", "Thanks, all good.", 1.0, 2.0)))[-1]
    live.writer.put(final)
    live.wait_idle(
        settle_s=1.5,
        timeout_s=60,
        until=lambda: (
            not table.get_item(Key={"contact_id": "it-contact-3", "connection_id": "gone-1"}).get("Item")
        ),
    )
    assert not table.get_item(Key={"contact_id": "it-contact-3", "connection_id": "gone-1"}).get("Item")


@pytest.mark.slow
def test_the_live_decoder_turns_a_wav_into_contact_lens_segments(tmp_path: Path) -> None:
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    from churn_contracts.conversation import Role, Turn
    from churn_local.live.asr import decode_live
    from churn_local.transcribe.recordings import synthesize_call
    from live_score.events import parse_segment_event

    wav = tmp_path / "call.wav"
    synthesize_call(
        [
            Turn(Role.AGENT, "Thanks for calling, how can I help?", 0.0),
            Turn(Role.CUSTOMER, "I want to cancel my account today.", 3.0),
        ],
        wav,
    )
    events: list[dict[str, Any]] = []
    finals = decode_live(wav, "asr-contact", events.append, speed=0)
    parsed = [parse_segment_event(e) for e in events]  # the live function reads every one
    assert parsed[0].event_type == "STARTED" and parsed[-1].event_type == "COMPLETED"
    customer = [s for e in parsed for s in e.customer_finals]
    assert finals >= 2 and customer and "cancel" in customer[-1].content
    partial_ids = {
        s["Utterance"]["TranscriptId"] for e in events for s in e.get("Segments", []) if "Utterance" in s
    }
    final_ids = {s.id for e in parsed for s in e.finals}
    assert partial_ids and partial_ids <= final_ids  # every partial belongs to a turn that became final


def _segment_record(live: Any, contact_id: str, text: str) -> dict[str, Any]:
    """One final customer segment as the event source mapping hands it to the function."""
    from churn_local.live.poller import lambda_record
    from churn_local.live.producer import SpokenTurn, turn_events

    final = list(turn_events(contact_id, SpokenTurn("CUSTOMER", text, 1.0, 3.0)))[-1]
    record = {
        "PartitionKey": contact_id,
        "SequenceNumber": "49" + "0" * 54,
        "Data": json.dumps(final).encode(),
    }
    return lambda_record(record, "shardId-000000000000", live.resources.stream_arn, live.stack.region)


def test_the_live_functions_run_as_their_template_roles_and_every_call_is_allowed(
    live: Any, call_log: Path
) -> None:
    """Runs after the module's calls: each live function made its calls as its own role, none refused."""
    from churn_local.iam import read_records

    records = read_records(str(call_log))
    made = {(r["function"], r["operation"]) for r in records}
    assert {
        ("LiveScoreFunction", "GetItem"),
        ("LiveScoreFunction", "PutItem"),
        ("LiveScoreFunction", "InvokeEndpoint"),
        ("LiveScoreFunction", "PutEvents"),
        ("AgentConnectFunction", "PutItem"),
        ("AgentPushFunction", "Query"),
        ("AgentPushFunction", "PostToConnection"),
        ("AgentPushFunction", "DeleteItem"),  # the gone agent
        ("AgentCurrentFunction", "GetItem"),
        ("AgentCurrentFunction", "PostToConnection"),
    } <= made
    assert [r for r in records if r["refused"]] == []
    # The push went to the deployed API id and stage, which the role's ManageConnections names.
    pushes = [r for r in records if r["operation"] == "PostToConnection"]
    assert all(r["params"]["Endpoint"].endswith("/agentsocketapi-local/live") for r in pushes)


def test_without_put_item_on_the_contacts_table_the_live_function_is_refused(
    live: Any, tmp_path: Path
) -> None:
    """The same function with its role's dynamodb:PutItem on the contacts table taken away: the record
    fails (the batch is retried), nothing is stored, and the refusal is AWS's AccessDeniedException."""
    import dataclasses

    from churn_local.iam import read_records
    from churn_local.runner import FunctionProcess
    from churn_local.stack import function_environment, function_identity

    stack = live.stack
    spec = stack.spec.function("LiveScoreFunction")
    contacts_arn = stack.spec.table("LiveContactsTable").arn
    assert contacts_arn

    def without_put(statement: dict[str, Any]) -> dict[str, Any]:
        if statement.get("Resource") != contacts_arn:
            return statement
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        return {**statement, "Action": [a for a in actions if a != "dynamodb:PutItem"]}

    policies = tuple(
        {**policy, "Statement": [without_put(s) for s in policy["Statement"]]} for policy in spec.policies
    )
    assert policies != spec.policies
    narrowed = dataclasses.replace(spec, policies=policies)
    log = tmp_path / "calls.jsonl"
    identity = function_identity(stack.spec, narrowed, stack.endpoints, tmp_path, record=log)
    environment = function_environment(narrowed, stack.endpoints, identity)
    environment.update(live._overrides(environment))
    lines: list[str] = []
    process = FunctionProcess(narrowed, environment, lambda _, line: lines.append(line))
    try:
        record = _segment_record(live, "it-contact-denied", "I want to cancel my contract today.")
        invocation = process.invoke({"Records": [record]})
    finally:
        process.close()
    # Its only record failed, so the batch fails as a whole (Powertools), and the mapping retries it.
    assert not invocation.ok and invocation.error["errorType"] == "BatchProcessingError"
    assert "AccessDeniedException" in json.dumps(invocation.error)
    assert live.contact("it-contact-denied") is None
    refused = [r for r in read_records(str(log)) if r["refused"]]
    assert [(r["operation"], r["refused"][0][0]) for r in refused] == [("PutItem", "dynamodb:PutItem")]
    assert refused[0]["refused"][0][1] == contacts_arn
    assert any("[local IAM] denied dynamodb:PutItem" in line for line in lines)
