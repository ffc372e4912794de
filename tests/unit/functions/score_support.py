"""Helpers for the score function's tests: a canned endpoint, transcripts, profiles, calls."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.conversation import Role, Turn
from churn_contracts.endpoint import FeatureSpec, RequestError, parse_request, prediction
from churn_contracts.profile import record_to_item
from churn_contracts.transcribe import build_transcript
from churn_lambda.retry import Backoff
from score_call.adapters.alerts import AlertPublisher
from score_call.adapters.calls import CallsRepository
from score_call.adapters.endpoint import EndpointScorer
from score_call.adapters.profiles import ProfileStore
from score_call.adapters.suppression import AlertWindow
from score_call.adapters.transcribe import TranscriptionJobs
from score_call.adapters.transcripts import TranscriptStore
from score_call.config import Settings, load_settings
from score_call.service import Collaborators

from tests.unit.functions.conftest import BUCKET, CALLS, CUSTOMER_ALERTS, PREFIX, PROFILES

ANGRY = [
    Turn(Role.AGENT, "Thank you for calling, how can I help?", 0.0),
    Turn(Role.CUSTOMER, "I want to cancel my contract. Your network dropped my calls all week.", 3.0),
    Turn(Role.AGENT, "I am sorry to hear that.", 9.0),
    Turn(Role.CUSTOMER, "Sorry is not enough, I am switching to another provider.", 12.0),
]
HAPPY = [
    Turn(Role.AGENT, "Thanks for calling, what can I do for you?", 0.0),
    Turn(Role.CUSTOMER, "Just checking my bill, thank you, all good.", 2.5),
]
NEUTRAL = [
    Turn(Role.AGENT, "Hello, how can I help?", 0.0),
    Turn(Role.CUSTOMER, "What does the international add-on cost?", 2.0),
]

GOLD_PROFILE = {
    "plan": "gold",
    "limit": "unlimited",
    "State": "OH",
    "Location": "urban",
    "Account Length": 128,
    "CustServ Calls": 4,
    "Day Mins": 180.5,
    "Day Calls": 110,
}


def env_values(topic_arn: str) -> dict[str, str]:
    return {
        "CALLS_TABLE": CALLS,
        "PROFILES_TABLE": PROFILES,
        "CUSTOMER_ALERTS_TABLE": CUSTOMER_ALERTS,
        "ALERT_TOPIC_ARN": topic_arn,
        "ENDPOINT_NAME": "churn-risk",
        "JOB_NAME_PREFIX": PREFIX,
        "RECORDINGS_BUCKET": BUCKET,
        "MEDIUM_RISK_THRESHOLD": "0.35",
        "HIGH_RISK_THRESHOLD": "0.6",
        "ALERT_SUPPRESSION_DAYS": "7",
        "CUSTOMER_CHANNEL": "ch_0",
        "CUSTOMER_SPEAKER": "spk_1",
        "PII_REDACTION": "false",
        "ALERT_EXCERPTS": "true",
        "EXCERPT_MAX_CHARS": "280",
        "CALL_RETENTION_DAYS": "365",
        "POWERTOOLS_SERVICE_NAME": "score-call",
    }


class CannedRuntime:
    """A SageMaker Runtime stand-in for unit tests: validates the request with the endpoint's own
    contract and answers by what the customer said (canned, as the flow test uses the real model)."""

    def __init__(self, errors: list[ClientError] | None = None, model_version: str = "test-model-1") -> None:
        self.requests: list[dict[str, Any]] = []
        self.errors = list(errors or [])
        self.model_version = model_version

    def invoke_endpoint(
        self, *, EndpointName: str, ContentType: str, Accept: str, Body: bytes
    ) -> dict[str, Any]:
        self.requests.append(json.loads(Body))
        if self.errors:
            raise self.errors.pop(0)
        try:
            (record,) = parse_request(Body, ContentType, FeatureSpec()).records
        except RequestError as exc:
            raise model_error(exc.status, exc.message) from None
        text = (record.features.get("text") or "").lower()
        p = 0.92 if "cancel" in text else 0.08 if "thank" in text else 0.5
        body = json.dumps(prediction(p, self.model_version, record.missing)).encode()
        return {"Body": io.BytesIO(body), "ContentType": "application/json"}


def client_error(code: str, status: int, message: str = "", **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return ClientError(response, "InvokeEndpoint")


def model_error(original_status: int, message: str) -> ClientError:
    return client_error(
        "ModelError",
        424,
        "Received client error from primary with message ...",
        OriginalStatusCode=original_status,
        OriginalMessage=message,
    )


def collaborators(aws, runtime: CannedRuntime, settings: Settings | None = None) -> Collaborators:
    settings = settings or load_settings(env_values(aws.topic_arn))
    return Collaborators(
        jobs=TranscriptionJobs(aws.transcribe),
        transcripts=TranscriptStore(aws.s3),
        profiles=ProfileStore(aws.dynamodb.Table(PROFILES)),
        scorer=EndpointScorer(runtime, settings.endpoint_name, Backoff(attempts=3, base_s=0.0, cap_s=0.0)),
        calls=CallsRepository(aws.dynamodb.Table(CALLS)),
        alert_window=AlertWindow(
            aws.dynamodb.Table(CUSTOMER_ALERTS), timedelta(days=settings.alert_suppression_days)
        ),
        publisher=AlertPublisher(aws.sns, aws.topic_arn),
    )


def add_profile(aws, customer_id: str, record: dict[str, Any] = GOLD_PROFILE) -> None:
    aws.dynamodb.Table(PROFILES).put_item(Item=record_to_item(customer_id, record))


def transcribed_call(
    aws, customer_id: str, call_id: str, turns: list[Turn], *, mode: str = "channels", document: Any = None
) -> str:
    """What the start function and Transcribe leave behind: the call item, a COMPLETED job, the transcript."""
    job_name = f"{PREFIX}{customer_id}-{call_id}-0123456789ab"
    key = f"recordings/{customer_id}/{call_id}.wav"
    aws.dynamodb.Table(CALLS).put_item(
        Item={
            "job_name": job_name,
            "customer_id": customer_id,
            "call_id": call_id,
            "recording_uri": f"s3://{BUCKET}/{key}",
            "status": "TRANSCRIBING",
            # As the start function writes it: in flight, so on the reconciler's index.
            "open_status": "TRANSCRIBING",
            "created_at": "2026-11-28T14:05:31.000Z",
            "updated_at": "2026-11-28T14:05:31.000Z",
        }
    )
    output_key = f"transcripts/{job_name}.json"
    aws.transcribe.start_transcription_job(
        TranscriptionJobName=job_name,
        LanguageCode="en-US",
        MediaFormat="wav",
        Media={"MediaFileUri": f"s3://{BUCKET}/{key}"},
        OutputBucketName=BUCKET,
        OutputKey=output_key,
        Settings={"ChannelIdentification": True},
    )
    for _ in range(3):  # moto advances QUEUED -> IN_PROGRESS -> COMPLETED one read at a time
        aws.transcribe.get_transcription_job(TranscriptionJobName=job_name)
    if document is None:
        document = build_transcript(turns, job_name=job_name, mode=mode)
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    aws.s3.put_object(Bucket=BUCKET, Key=output_key, Body=body)
    return job_name


def completion(job_name: str, status: str = "COMPLETED", reason: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"TranscriptionJobName": job_name, "TranscriptionJobStatus": status}
    if reason:
        detail["FailureReason"] = reason
    return {
        "version": "0",
        "id": "8f3b2a61-4c7d-4e2a-9b1f-0d6e5c4a3b29",
        "detail-type": "Transcribe Job State Change",
        "source": "aws.transcribe",
        "account": "123456789012",
        "time": "2026-11-28T14:11:02Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
