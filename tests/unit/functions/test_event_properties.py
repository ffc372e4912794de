"""Property tests (issue 10): thousands of events built from the real formats, mutated field by
field, through the real handlers on moto. Every event is handled or rejected with a named outcome;
none raises. The transcript parser gets the same treatment with Transcribe's output documents.

2,000 events per handler take about 20 s of CPU each (marked slow: not in `make test-fast`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from churn_contracts.transcribe import TranscriptError, parse_transcript
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from score_call import handler as score_handler
from start_transcription import handler as start_handler

from tests.conftest import EVENTS, load_format
from tests.unit.functions.conftest import BUCKET, CALLS, PREFIX
from tests.unit.functions.score_support import CannedRuntime, collaborators, env_values

EXAMPLES = 2_000
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same events on every run: a failure reproduces
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _for_this_stack(event: dict[str, Any]) -> dict[str, Any]:
    """A real format pointed at this test stack, so mutations reach past the first checks."""
    event = copy.deepcopy(event)
    if "Records" in event:
        for record in event["Records"]:
            record["s3"]["bucket"]["name"] = BUCKET
    elif event.get("source") == "aws.s3":
        event["detail"]["bucket"]["name"] = BUCKET
    elif event.get("source") == "aws.transcribe":
        event["detail"]["TranscriptionJobName"] = f"{PREFIX}0123456789abcdef0123456789abcdef"
    return event


RECORDING_EVENTS = [
    _for_this_stack(e)
    for e in (
        load_format("eventbridge-s3-object-created.json"),
        load_format("s3-put-notification.json"),
        load_format("s3-put-notification-sam-cli.json"),
        _event("s3-put.json"),
        _event("eventbridge-object-created.json"),
    )
]
JOB_EVENTS = [
    _for_this_stack(e)
    for e in (
        load_format("eventbridge-transcribe-completed.json"),
        load_format("eventbridge-transcribe-failed.json"),
        _event("transcribe-completed.json"),
        _event("transcribe-failed.json"),
    )
]
TRANSCRIPTS = [
    load_format("transcribe-output-channel-identification.json"),
    load_format("transcribe-output-speaker-labels.json"),
]

# Values a hostile or broken producer could put anywhere.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Zs", "Lo"]), max_size=20),  # surrogates too
    st.sampled_from(
        ["", "null", "COMPLETED", "FAILED", "ObjectCreated:Put", "aws:s3", "recordings/", "x" * 300]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _mutate(document: Any, path: tuple, action: str, value: Any) -> Any:
    if not path:
        return value
    document = copy.deepcopy(document)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    else:
        parent[last] = value
    return document


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> Any:
    """A real document with one to three fields replaced by anything, or removed."""
    document = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete"])) if path else "replace"
        document = _mutate(document, path, action, draw(values))
    return document


@pytest.fixture
def start(aws, monkeypatch):
    for name, value in {"CALLS_TABLE": CALLS, "RECORDINGS_BUCKET": BUCKET, "JOB_NAME_PREFIX": PREFIX}.items():
        monkeypatch.setenv(name, value)
    start_handler.reset()
    aws.s3.put_object(Bucket=BUCKET, Key="recordings/C-10042/call 2026-11-28T14:05:31Z.wav", Body=b"RIFF")
    yield aws
    start_handler.reset()


@pytest.fixture
def score(aws, monkeypatch):
    for name, value in env_values(aws.topic_arn).items():
        monkeypatch.setenv(name, value)
    score_handler.reset()
    deps = collaborators(aws, CannedRuntime())
    monkeypatch.setattr(score_handler, "collaborators", lambda: deps)
    yield aws
    score_handler.settings.cache_clear()


@pytest.mark.slow
@PROPERTY
@given(event=mutated(RECORDING_EVENTS))
def test_start_function_handles_or_rejects_every_mutated_event(start, context, event):
    result = start_handler.lambda_handler(event, context)
    assert isinstance(result, dict)
    handled = result["started"] + result["duplicates"] + result["rejected"] + result["failed"]
    assert (
        handled
        or result["ignored"]
        or result.get("invalid")
        or result
        == {
            "started": [],
            "duplicates": [],
            "rejected": [],
            "failed": [],
            "ignored": 0,
        }
    )


@pytest.mark.slow
@PROPERTY
@given(event=mutated(JOB_EVENTS))
def test_score_function_handles_or_rejects_every_mutated_event(score, context, event):
    result = score_handler.lambda_handler(event, context)
    assert result["result"] in {"rejected", "ignored", "duplicate", "transcription-failed"}


@pytest.mark.slow
@PROPERTY
@given(document=mutated(TRANSCRIPTS))
def test_transcript_parser_answers_or_names_the_problem(document):
    try:
        conversation = parse_transcript(document)
    except TranscriptError:
        return
    assert isinstance(conversation.customer_text, str)
