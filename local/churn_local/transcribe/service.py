"""The local Amazon Transcribe: the JSON 1.1 API that boto3 speaks, served on loopback.

Point unmodified code at it with ``AWS_ENDPOINT_URL_TRANSCRIBE``. Jobs read their media
from local AWS (moto) and report completion to its EventBridge, as the real service does.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from flask import Flask, Response, request
from waitress.server import create_server

from .asr import PocketSphinxRecognizer, SpeechRecognizer
from .jobs import BadRequestError, InternalFailureError, JobStore, TranscribeError, Worker, new_job
from .language_model import call_centre_model
from .processing import JobRunner, check_write_access

logger = logging.getLogger(__name__)

TARGET_PREFIX = "Transcribe."
# moto's default account, so ARNs and documents agree with local AWS.
DEFAULT_ACCOUNT_ID = "123456789012"


def create_app(
    store: JobStore, start_job: Callable[[dict[str, Any]], dict[str, Any]], transcripts: dict[str, bytes]
) -> Flask:
    """The WSGI app: one POST route dispatching on X-Amz-Target, plus service-held transcripts."""
    app = Flask(__name__)

    def list_jobs(body: dict[str, Any]) -> dict[str, Any]:
        return store.list(
            status=body.get("Status"),
            name_contains=body.get("JobNameContains"),
            next_token=body.get("NextToken"),
            max_results=body.get("MaxResults"),
        )

    def delete_job(body: dict[str, Any]) -> dict[str, Any]:
        store.delete(_job_name(body))
        return {}

    operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "StartTranscriptionJob": lambda body: {"TranscriptionJob": start_job(body)},
        "GetTranscriptionJob": lambda body: {"TranscriptionJob": store.describe(_job_name(body))},
        "ListTranscriptionJobs": list_jobs,
        "DeleteTranscriptionJob": delete_job,
    }

    @app.post("/")
    def dispatch() -> Response:
        target = request.headers.get("X-Amz-Target", "")
        operation = (
            operations.get(target.removeprefix(TARGET_PREFIX)) if target.startswith(TARGET_PREFIX) else None
        )
        if operation is None:
            return _error("UnknownOperationException", f"Unknown operation {target!r}", 400)
        try:
            body = json.loads(request.get_data() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _error("SerializationException", "The request body is not a JSON object.", 400)
        try:
            return _json(operation(body), 200)
        except TranscribeError as exc:
            return _error(exc.code, exc.message, exc.status)
        except Exception:
            logger.exception("unexpected error in %s", target)
            return _error(InternalFailureError.code, "Internal failure", 500)

    @app.get("/transcripts/<name>")
    def transcript(name: str) -> Response:
        # Stands in for the presigned URL of a transcript the service keeps itself.
        body = transcripts.get(name)
        if body is None:
            return Response("Not Found", status=404)
        return Response(body, status=200, content_type="application/json")

    @app.get("/health")
    def health() -> Response:
        return _json({"status": "ok"}, 200)

    return app


def _job_name(body: dict[str, Any]) -> str:
    name = body.get("TranscriptionJobName")
    if not isinstance(name, str) or not name:
        raise BadRequestError("TranscriptionJobName is required.")
    return name


def _json(payload: dict[str, Any], status: int) -> Response:
    response = Response(json.dumps(payload), status=status, content_type="application/x-amz-json-1.1")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _error(code: str, message: str, status: int) -> Response:
    return _json({"__type": code, "Message": message}, status)


def default_recognizer(language_model: str | Path | None = "call-centre") -> Callable[[], SpeechRecognizer]:
    """A lazy PocketSphinx recogniser: the model is built or loaded on the first ASR job.

    ``language_model``: "call-centre" (built from generated conversations, cached), "general"
    or None (the wheel's English model), or the path of an ARPA/binary model.
    """
    lock = threading.Lock()
    engine: list[SpeechRecognizer] = []

    def get() -> SpeechRecognizer:
        with lock:
            if not engine:
                if language_model == "call-centre":
                    path: str | Path | None = call_centre_model()
                elif language_model in (None, "general"):
                    path = None
                else:
                    path = language_model
                engine.append(PocketSphinxRecognizer(path))
            return engine[0]

    return get


class LocalTranscribe:
    """The local Transcribe service: HTTP API, job store and worker, started and stopped together.

    ``with LocalTranscribe(aws_endpoint_url=moto_url) as svc:`` then set
    ``AWS_ENDPOINT_URL_TRANSCRIBE=svc.url`` for the code under test.
    """

    def __init__(
        self,
        *,
        aws_endpoint_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        recognizer: SpeechRecognizer | Callable[[], SpeechRecognizer] | None = None,
        language_model: str | Path | None = "call-centre",
        event_bus: str = "default",
        max_pending: int = 100,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the local Transcribe serves loopback only")
        self.region = region
        self.store = JobStore(max_pending=max_pending)
        self._transcripts: dict[str, bytes] = {}
        clients = _Clients(aws_endpoint_url, region)
        self._s3 = clients.make("s3")
        if recognizer is None:
            recognizer_factory = default_recognizer(language_model)
        elif hasattr(recognizer, "transcribe"):
            recognizer_factory = lambda: recognizer  # noqa: E731
        else:
            recognizer_factory = recognizer
        runner = JobRunner(
            store=self.store,
            s3=self._s3,
            events=clients.make("events"),
            recognizer=recognizer_factory,
            region=region,
            account_id=account_id,
            service_transcripts=self._transcripts,
            service_url=lambda: self.url,
            event_bus=event_bus,
        )
        self._worker = Worker(runner)
        self._server = create_server(
            create_app(self.store, self._start_job, self._transcripts),
            host=host,
            port=port,
            threads=4,
            ident="local-transcribe",
        )
        self._host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def _start_job(self, body: dict[str, Any]) -> dict[str, Any]:
        job = new_job(body)
        if job.output is not None:
            check_write_access(self._s3, job.output)
        described = self.store.add(job)
        self._worker.submit(job.name)
        return described

    def start(self) -> LocalTranscribe:
        self._worker.start()
        self._thread = threading.Thread(target=self._server.run, name="transcribe-http", daemon=True)
        self._thread.start()
        logger.info("local Transcribe listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop taking requests, let the job in hand finish, stop the worker."""
        # Closing every channel (not just the listener) ends waitress's loop now, instead
        # of after idle keep-alive connections time out.
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.task_dispatcher.shutdown()
        if self._thread is not None:
            self._thread.join(10)
        self._worker.stop()

    def idle(self) -> bool:
        """True when no job is waiting or running."""
        return self._worker.idle()

    def __enter__(self) -> LocalTranscribe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Clients:
    """boto3 clients for local AWS; moto accepts any credentials, so supply some if none are set."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        session = boto3.session.Session()
        self.session = (
            session
            if session.get_credentials() is not None
            else boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106
        )

    def make(self, service: str):
        return self.session.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
