"""The local endpoint server: container routes, the SageMaker Runtime API through boto3, fuzzing."""

import http.client
import json
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from churn_contracts.endpoint import JSON, JSON_LINES, MAX_TEXT_CHARS, parse_score
from churn_model.serving.server import LocalEndpointServer

from tests.conftest import ANSWER_FIELDS, SEED_BODY

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    # boto3 signs requests, so it needs credentials; none leave this machine.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with LocalEndpointServer(tiny_model_dir, port=0, threads=4) as running:
        yield running


def runtime(url, **config):
    return boto3.client("sagemaker-runtime", endpoint_url=url, config=Config(**config) if config else None)


def post(server, path, body, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers or {"Content-Type": JSON})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get(server, path):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_binds_loopback_and_pings(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert get(server, "/ping") == (200, b'{"status": "ready"}')


def test_invoke_endpoint_with_boto3(server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
    client = boto3.client("sagemaker-runtime")  # unmodified: the endpoint comes from the environment
    response = client.invoke_endpoint(
        EndpointName="churn-endpoint", Body=json.dumps(SEED_BODY), ContentType=JSON
    )
    assert response["ContentType"] == JSON
    assert response["InvokedProductionVariant"] == "AllTraffic"
    answer = json.loads(response["Body"].read())
    assert set(answer) == ANSWER_FIELDS
    assert answer["model_version"] == "tiny-test-model" and answer["unknown_categories"] == {}
    assert parse_score(json.dumps(answer)).risk_basis.computed_on == "out_of_fold"
    # A plan the model never saw comes back listed, read by the Lambdas' own contract reader.
    response = client.invoke_endpoint(
        EndpointName="churn-endpoint", Body=json.dumps({**SEED_BODY, "plan": "Z"}), ContentType=JSON
    )
    assert parse_score(response["Body"].read()).unknown_categories == {"plan": "Z"}


def test_invoke_endpoint_json_lines_batch(server):
    body = "".join(json.dumps(r) + "\n" for r in (SEED_BODY, {"plan": "A"}, {}))
    response = runtime(server.url).invoke_endpoint(
        EndpointName="churn", Body=body, ContentType=JSON_LINES, Accept=JSON_LINES
    )
    assert response["ContentType"] == JSON_LINES
    assert len(response["Body"].read().decode().splitlines()) == 3


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        (b'{"plan": ', JSON, JSON, 400),
        (b'{"Day Mins": "many"}', JSON, JSON, 400),
        (b"a,b", "text/csv", JSON, 415),
        (json.dumps(SEED_BODY).encode(), JSON, "text/html", 406),
        (json.dumps({"text": "a" * (MAX_TEXT_CHARS + 1)}).encode(), JSON, JSON, 413),
    ],
)
def test_model_errors_map_to_model_error_424(server, body, content_type, accept, status):
    client = runtime(server.url)
    with pytest.raises(client.exceptions.ModelError) as raised:
        client.invoke_endpoint(EndpointName="churn", Body=body, ContentType=content_type, Accept=accept)
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == status
    assert json.loads(response["OriginalMessage"])["status"] == status
    assert f"({status})" in response["Error"]["Message"]


def test_container_route_answers_handler_statuses_as_they_are(server):
    status, headers, body = post(server, "/invocations", b"[]")
    assert status == 400 and headers["Content-Type"] == JSON and json.loads(body)["status"] == 400
    status, _, _ = post(server, "/invocations", b"x", {"Content-Type": "text/plain"})
    assert status == 415
    status, _, body = post(server, "/invocations", json.dumps({"instances": [SEED_BODY]}).encode())
    assert status == 200 and len(json.loads(body)["predictions"]) == 1


def test_unknown_route_and_wrong_method(server):
    assert get(server, "/nope")[0] == 404
    assert get(server, "/invocations")[0] == 405
    assert post(server, "/ping", b"{}")[0] == 405


def test_one_log_line_per_request_without_the_text(server, caplog):
    secret = "my card number is 4111 1111 1111 1111"
    with caplog.at_level(logging.INFO, logger="churn_model.serving.server"):
        post(server, "/invocations", json.dumps({**SEED_BODY, "text": secret}).encode())
        post(server, "/invocations", json.dumps({"text": secret, "plan": [5]}).encode())
    lines = [r.getMessage() for r in caplog.records if r.name == "churn_model.serving.server"]
    assert len(lines) == 2
    assert lines[0].startswith("POST /invocations 200 ") and "ms" in lines[0]
    assert lines[1].startswith("POST /invocations 400 ")
    assert "4111" not in caplog.text


def test_concurrent_requests_all_answered(server):
    good = json.dumps(SEED_BODY).encode()
    bodies = [good if i % 2 == 0 else b"{broken" for i in range(16)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda b: post(server, "/invocations", b), bodies))
    assert [status for status, _, _ in results] == [200 if i % 2 == 0 else 400 for i in range(16)]
    probabilities = {json.loads(body)["probability"] for status, _, body in results if status == 200}
    assert len(probabilities) == 1  # the same record scores the same under concurrency


def hostile_bodies(seed=7, count=300):
    """Malformed and hostile requests: (body, content type, accept)."""
    rng = random.Random(seed)
    fields = [*SEED_BODY, "Day Mins", "State", "Location", "text", "instances"]
    values = [
        None,
        True,
        False,
        0,
        -1,
        1e308,
        -1e308,
        3.5e38,
        10**30,
        10**400,
        2**63,
        "",
        " ",
        "\x00",
        "\ud800",
        "\udfff",
        "🙂" * 50,
        "\u202e" + "gnihtemos",
        "a" * 5000,
        "é" * 300,
        [],
        {},
        [1],
        {"a": 1},
        "NaN",
        "1e999",
    ]
    # Mostly acceptable headers, so that most bodies reach the parser and many reach the model.
    content_types = (
        [JSON] * 6 + [JSON_LINES] * 2 + ["application/json; charset=latin-1", "text/csv", "", "\x7f"]
    )
    accepts = (
        [JSON] * 4 + ["*/*"] * 3 + [JSON_LINES, "", "text/html", "application/*", "application/json;q=0"]
    )
    valid = json.dumps(SEED_BODY)
    hostile_texts = [
        "\x00" * 200,
        "🙂" * 300,
        " \t\n" * 300,
        "\u202e\u200d\ufeff" * 100,
        "<script>alert(1)</script>",
        "' OR 1=1; --",
        "\U0010ffff" * 50,
        "a" * 3000,
        "word " * 300,
        "",
    ]
    for _ in range(count):
        kind = rng.randrange(10)
        if kind >= 8:
            yield (
                json.dumps({**SEED_BODY, "text": rng.choice(hostile_texts)}).encode(),
                JSON,
                rng.choice(accepts),
            )
            continue
        if kind == 0:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:
            body = valid[: rng.randrange(len(valid))].encode()
        elif kind == 2:
            depth = rng.choice([10, 1000, 100_000])
            body = (
                (rng.choice("[{") * depth).encode()
                if rng.random() < 0.5
                else ("[" * depth + "]" * depth).encode()
            )
        elif kind == 3:
            record = {rng.choice(fields): rng.choice(values) for _ in range(rng.randrange(1, 6))}
            body = json.dumps(record, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
        elif kind == 4:
            instances = [
                rng.choice([{}, SEED_BODY, 1, "x", None, [], {"text": rng.choice(values)}]) for _ in range(5)
            ]
            body = json.dumps({"instances": rng.choice([instances, {}, "x", None, []])}).encode()
        elif kind == 5:
            body = rng.choice(
                [
                    b"NaN",
                    b"Infinity",
                    b"-Infinity",
                    b"1" * 5000,
                    b'{"a":1}{"b":2}',
                    b"\xef\xbb\xbf{}",
                    b"null",
                ]
            )
        elif kind == 6:
            body = b"\n".join(
                rng.choice([valid.encode(), b"{", b"[]", b"", b"\xff", b"{}"]) for _ in range(4)
            )
        else:
            body = json.dumps(
                {"text": "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(300))}
            ).encode()
        yield body, rng.choice(content_types), rng.choice(accepts)


def test_fuzzing_never_gets_a_5xx_and_the_server_stays_up(server):
    client = runtime(server.url, retries={"max_attempts": 0})
    for count, (body, content_type, accept) in enumerate(hostile_bodies()):
        headers = {"Content-Type": content_type, "Accept": accept}
        status, _, answer = post(server, "/invocations", body, headers)
        assert status < 500, (count, body[:80], content_type, accept, answer[:200])
        if count % 10 == 0:  # the InvokeEndpoint route too, through botocore's parser
            try:
                client.invoke_endpoint(
                    EndpointName="fuzz", Body=body, ContentType=content_type or JSON, Accept=accept or JSON
                )
            except ClientError as error:
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] < 500, (count, body[:80])
                assert error.response.get("OriginalStatusCode", 0) < 500, (count, body[:80])
    assert get(server, "/ping")[0] == 200
    assert post(server, "/invocations", json.dumps(SEED_BODY).encode())[0] == 200


def test_garbage_on_the_socket_does_not_take_the_server_down(server):
    import socket

    for garbage in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(1024)
            assert not reply.startswith((b"HTTP/1.1 5", b"HTTP/1.0 5"))
    assert get(server, "/ping")[0] == 200


class Gate:
    """A loader that holds the model back until released, to observe a server still loading."""

    def __init__(self):
        self.release = threading.Event()

    def __call__(self, model_dir):
        self.release.wait(30)
        raise RuntimeError("this model never loads")


def test_not_ready_then_failed_as_sagemaker_answers(tiny_model_dir):
    gate = Gate()
    with LocalEndpointServer(
        tiny_model_dir, port=0, loader=gate, wait_ready=False, endpoint_name="churn"
    ) as server:
        client = runtime(server.url, retries={"max_attempts": 0})
        assert get(server, "/ping")[0] == 503
        with pytest.raises(client.exceptions.ModelNotReadyException):
            client.invoke_endpoint(EndpointName="churn", Body=b"{}", ContentType=JSON)
        assert post(server, "/invocations", b"{}")[0] == 503
        with pytest.raises(client.exceptions.ValidationError):
            client.invoke_endpoint(EndpointName="another", Body=b"{}", ContentType=JSON)

        gate.release.set()
        with pytest.raises(RuntimeError, match="failed to load"):
            server.model_host.wait(10)
        assert get(server, "/ping")[0] == 500
        with pytest.raises(client.exceptions.ServiceUnavailable):
            client.invoke_endpoint(EndpointName="churn", Body=b"{}", ContentType=JSON)
