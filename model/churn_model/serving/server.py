"""A local SageMaker endpoint: the container contract and the SageMaker Runtime API, on waitress.

Routes:
- ``GET /ping`` and ``POST /invocations``: the inference container contract; the handlers'
  statuses are answered as they are.
- ``POST /endpoints/<name>/invocations``: SageMaker Runtime ``InvokeEndpoint``. A 4xx/5xx from the
  model becomes HTTP 424 ``ModelError`` (``OriginalStatusCode``, ``OriginalMessage``), and a model
  still loading becomes 429 ``ModelNotReadyException``, in the shapes of botocore's
  ``sagemaker-runtime`` service model (error code in ``x-amzn-ErrorType``, modeled fields in the
  JSON body), so ``boto3.client("sagemaker-runtime").invoke_endpoint`` raises the same exceptions
  as on AWS when ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` points here.

Requests go through the same four handlers the container calls. One log line per request:
method, route, status, latency; never a body.
"""

from __future__ import annotations

import argparse
import contextlib
import http
import json
import logging
import os
import re
import signal
import socket
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from churn_contracts.endpoint import JSON, MAX_BODY_BYTES
from waitress import create_server, wasyncore
from waitress.server import BaseWSGIServer

from churn_model.serving.handlers import ScoringModel, input_fn, model_fn, output_fn, predict_fn

logger = logging.getLogger("churn_model.serving.server")  # the same name when run with -m

DEFAULT_PORT = 8080
DEFAULT_VARIANT = "AllTraffic"
_ENDPOINT_ROUTE = re.compile(r"^/endpoints/([^/]+)/invocations$")
# The toolkit substitutes this for a missing or */* Accept (sagemaker-inference-toolkit
# environment.py, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT); done here too so answers match the container.
_DEFAULT_ACCEPT = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

Loader = Callable[[str], ScoringModel]
Headers = list[tuple[str, str]]


@dataclass
class InvocationContext:
    """The part of TorchServe's request context the handlers use."""

    status: int = 200
    phrase: str = ""

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.status, self.phrase = code, phrase


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Headers

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Answer:
        return cls(status, json.dumps(payload).encode(), [("Content-Type", JSON), *headers])


class ModelHost:
    """Loads the model in the background and scores invocations through the four handlers."""

    def __init__(self, model_dir: str, loader: Loader = model_fn) -> None:
        self.model_dir = model_dir
        self._loader = loader
        self._model: ScoringModel | None = None
        self._failure: BaseException | None = None
        self._loaded = threading.Event()
        # One request scores at a time: the tokenizer is not safe to share across threads, and on
        # a few cores torch's own threads already use them all.
        self._scoring = threading.Lock()

    def load(self) -> None:
        started = time.perf_counter()
        try:
            self._model = self._loader(self.model_dir)
            logger.info("model ready in %.1f s", time.perf_counter() - started)
        except BaseException as error:
            self._failure = error
            if isinstance(error, FileNotFoundError):  # not a model directory: the message says it all
                logger.error("model failed to load: %s", error)
            else:
                logger.exception("model failed to load from %s", self.model_dir)
        finally:
            self._loaded.set()

    def start_loading(self) -> threading.Thread:
        thread = threading.Thread(target=self.load, name="model-loader", daemon=True)
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> ScoringModel:
        if not self._loaded.wait(timeout):
            raise TimeoutError(f"the model did not load within {timeout} s")
        if self._model is None:
            raise RuntimeError(f"the model failed to load from {self.model_dir}") from self._failure
        return self._model

    @property
    def state(self) -> str:
        if not self._loaded.is_set():
            return "loading"
        return "ready" if self._model is not None else "failed"

    def replace(self, model_dir: str) -> str:
        """Load another model while this one serves, then swap (no restart): requests in flight
        finish on the old model, the next score on the new; a model that fails to load leaves the
        old one serving. Returns the new model's version."""
        model = self._loader(model_dir)
        with self._scoring:
            self._model, self.model_dir = model, model_dir
        logger.info("model %s now serving, from %s", model.model_version, model_dir)
        return str(model.model_version)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        model = self._model
        assert model is not None
        context = InvocationContext()
        if not accept or accept.strip() == "*/*":
            accept = _DEFAULT_ACCEPT
        data = input_fn(body, content_type, context)
        with self._scoring:
            result = predict_fn(data, model, context)
        payload, response_type = output_fn(result, accept, context)
        return Answer(context.status, payload, [("Content-Type", response_type)])


class EndpointApp:
    """The WSGI application: routing, the SageMaker Runtime error mapping, request logs."""

    def __init__(self, host: ModelHost, *, endpoint_name: str | None = None, variant: str = DEFAULT_VARIANT):
        self.host = host
        self.endpoint_name = endpoint_name
        self.variant = variant

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        try:
            answer, route = self.route(method, path, environ)
        except Exception:
            logger.exception("request failed")
            answer, route = Answer.json(500, {"error": "internal server error", "status": 500}), "?"
        start_response(
            _status_line(answer.status), [*answer.headers, ("Content-Length", str(len(answer.body)))]
        )
        logger.info(
            "%s %s %d %.1fms in=%sB out=%dB",
            method,
            route,
            answer.status,
            (time.perf_counter() - started) * 1000,
            environ.get("CONTENT_LENGTH") or 0,
            len(answer.body),
        )
        return [answer.body]

    def route(self, method: str, path: str, environ: dict[str, Any]) -> tuple[Answer, str]:
        if path == "/ping":
            return self._only(method, "GET", self.ping), path
        if path == "/invocations":
            return self._only(method, "POST", lambda: self.invocations(environ)), path
        match = _ENDPOINT_ROUTE.match(path)
        if match:
            name = match.group(1)
            return self._only(method, "POST", lambda: self.invoke_endpoint(name, environ)), path
        return Answer.json(404, {"error": f"no route {path[:200]!r}", "status": 404}), "-"

    @staticmethod
    def _only(method: str, allowed: str, handle: Callable[[], Answer]) -> Answer:
        if method != allowed:
            return Answer.json(405, {"error": f"use {allowed}", "status": 405}, [("Allow", allowed)])
        return handle()

    # --- container contract ----------------------------------------------------------------
    def ping(self) -> Answer:
        state = self.host.state
        return Answer.json({"ready": 200, "loading": 503, "failed": 500}[state], {"status": state})

    def invocations(self, environ: dict[str, Any]) -> Answer:
        state = self.host.state
        if state != "ready":
            return Answer.json(503, {"error": f"the model is {state}", "status": 503})
        body, too_large = _read_body(environ)
        if too_large is not None:
            return too_large
        return self.host.invoke(body, environ.get("CONTENT_TYPE"), environ.get("HTTP_ACCEPT"))

    # --- SageMaker Runtime InvokeEndpoint ----------------------------------------------------
    def invoke_endpoint(self, name: str, environ: dict[str, Any]) -> Answer:
        request_id = str(uuid.uuid4())
        if self.endpoint_name is not None and name != self.endpoint_name:
            return _aws_error(
                400, "ValidationError", f"Endpoint {name} of account 000000000000 not found.", request_id
            )
        state = self.host.state
        if state == "loading":
            return _aws_error(
                429, "ModelNotReadyException", "Model is not ready yet. Retry the request.", request_id
            )
        if state == "failed":
            return _aws_error(
                503, "ServiceUnavailable", "The model failed to load; see the server log.", request_id
            )
        answer = self.invocations(environ)
        if answer.status >= 400:
            original = answer.body.decode("utf-8", errors="replace")
            side = "client" if answer.status < 500 else "server"
            message = (
                f"Received {side} error ({answer.status}) from primary with message "
                f'"{original}". See the local endpoint server log for more information.'
            )
            fields = {"Message": message, "OriginalStatusCode": answer.status, "OriginalMessage": original}
            return _aws_error(424, "ModelError", message, request_id, fields)
        headers = [*answer.headers, ("x-Amzn-Invoked-Production-Variant", self.variant)]
        return Answer(200, answer.body, [*headers, ("x-amzn-RequestId", request_id)])


def _aws_error(
    status: int, code: str, message: str, request_id: str, fields: dict[str, Any] | None = None
) -> Answer:
    headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    return Answer.json(status, fields or {"Message": message}, headers)


def _read_body(environ: dict[str, Any]) -> tuple[bytes, Answer | None]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b"", Answer.json(400, {"error": "invalid Content-Length", "status": 400})
    if length > MAX_BODY_BYTES:
        message = f"request body is larger than {MAX_BODY_BYTES} bytes"
        return b"", Answer.json(413, {"error": message, "status": 413})
    return environ["wsgi.input"].read(length) if length else b"", None


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


# --- model path --------------------------------------------------------------------------------


def unpack_model(model_path: str | Path, into: Path) -> Path:
    """A model dir as it is, or a model.tar.gz unpacked (safely) into ``into``."""
    model_path = Path(model_path)
    if model_path.is_dir():
        return model_path
    if not model_path.is_file() or not tarfile.is_tarfile(model_path):
        raise FileNotFoundError(f"{model_path} is neither a model directory nor a model.tar.gz")
    with tarfile.open(model_path) as archive:
        archive.extractall(into, filter="data")
    return into


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


# --- the server --------------------------------------------------------------------------------


class LocalEndpointServer:
    """Serve a model dir or model.tar.gz on ``host:port`` (port 0 picks a free one).

    ``with LocalEndpointServer(path) as server:`` starts serving, waits for the model and stops on
    exit; ``server.url`` is what ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` should be set to.
    """

    def __init__(
        self,
        model_path: str | Path,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        endpoint_name: str | None = None,
        variant: str = DEFAULT_VARIANT,
        threads: int = 4,
        loader: Loader = model_fn,
        wait_ready: bool = True,
        ready_timeout: float = 300.0,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="churn-endpoint-")
        model_dir = unpack_model(model_path, Path(self._tmp.name))
        self.model_host = ModelHost(str(model_dir), loader)
        self.app = EndpointApp(self.model_host, endpoint_name=endpoint_name, variant=variant)
        self._server: BaseWSGIServer = create_server(
            self.app,
            sockets=[_bind(host, port)],
            threads=threads,
            # Room for the contract's own 413 past MAX_BODY_BYTES; waitress refuses beyond this.
            max_request_body_size=2 * MAX_BODY_BYTES,
            asyncore_use_poll=True,
            ident="churn-endpoint",
        )
        self._wait_ready = wait_ready
        self._ready_timeout = ready_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = self._server.effective_host
        return f"http://{host}:{self.port}"

    def start(self) -> LocalEndpointServer:
        """Serve in a background thread and load the model; wait for it if ``wait_ready``."""
        self.model_host.start_loading()
        self._thread = threading.Thread(target=self.serve_forever, name="endpoint-server", daemon=True)
        self._thread.start()
        if self._wait_ready:
            self.model_host.wait(self._ready_timeout)
        return self

    def serve_forever(self) -> None:
        """Run the server loop in this thread until :meth:`stop`."""
        logger.info("serving %s on %s", self.model_host.model_dir, self.url)
        map_ = self._server._map
        while not self._stop.is_set() and map_:
            wasyncore.loop(timeout=0.5, use_poll=True, map=map_, count=1)
        # Finish the requests in flight, then close the sockets.
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=10)
        self._server.close()
        logger.info("stopped")

    def replace(self, model_path: str | Path) -> str:
        """Serve another model (a directory or model.tar.gz) from now on, on the same port."""
        into = Path(tempfile.mkdtemp(prefix="model-", dir=self._tmp.name))
        return self.model_host.replace(str(unpack_model(model_path, into)))

    def request_stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler); :meth:`serve_forever` then returns."""
        if self._stop.is_set():
            return
        self._stop.set()
        with contextlib.suppress(OSError):  # OSError: the loop has already closed its sockets
            self._server.pull_trigger()  # wake the loop out of poll()

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(15)
        self._tmp.cleanup()

    def __enter__(self) -> LocalEndpointServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_if_load_fails(server: LocalEndpointServer) -> None:
    try:
        server.model_host.wait()
    except RuntimeError:
        server.request_stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_model.serving.server",
        description="Serve a churn model locally: the SageMaker container contract and InvokeEndpoint.",
    )
    parser.add_argument("--model", default="artifacts/model", help="a model directory or model.tar.gz")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--endpoint-name", default=None, help="answer only this endpoint name (default: any)")
    parser.add_argument("--threads", type=int, default=4, help="request threads (default 4)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = LocalEndpointServer(
            args.model, args.host, args.port, endpoint_name=args.endpoint_name, threads=args.threads
        )
    except (FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    def _terminate(signum: int, frame: FrameType | None) -> None:
        logger.info("%s received, shutting down", signal.Signals(signum).name)
        server.request_stop()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    server.model_host.start_loading()
    threading.Thread(target=_stop_if_load_fails, args=(server,), daemon=True).start()
    print(f"serving on {server.url} (POST /invocations, POST /endpoints/<name>/invocations)", flush=True)
    server.serve_forever()
    server.stop()
    return 0 if server.model_host.state != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
