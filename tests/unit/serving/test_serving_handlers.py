"""The four SageMaker handlers, called the way the inference toolkit calls them, on a real model."""

import contextlib
import inspect
import json

import pytest
from churn_contracts.endpoint import (
    JSON,
    JSON_LINES,
    MAX_BATCH_RECORDS,
    MAX_BODY_BYTES,
    MAX_TEXT_CHARS,
    RiskBasis,
)
from churn_contracts.features import MODEL_FEATURES
from churn_model.serving import handlers
from churn_model.serving.handlers import input_fn, model_fn, output_fn, predict_fn

from tests.conftest import ANSWER_FIELDS, SEED_BODY

pytestmark = [pytest.mark.model, pytest.mark.slow]


class TorchServeContext:
    """The slice of TorchServe's Context (ts/context.py) the handlers may touch."""

    def __init__(self):
        self.status = 200
        self.phrase = None

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status, self.phrase = code, phrase


def call(handler, *args, context):
    """Call a handler as sagemaker-inference-toolkit does: one extra parameter gets the context."""
    parameters = len(inspect.signature(handler).parameters)
    if parameters == len(args) + 1:
        return handler(*args, context)
    assert parameters == len(args), f"{handler.__name__} takes {parameters} parameters"
    return handler(*args)


def invoke(model, body, content_type=JSON, accept=JSON):
    """The toolkit's default transform: input_fn -> predict_fn -> output_fn, never raising here."""
    context = TorchServeContext()
    if content_type == JSON and isinstance(body, bytes):
        # The toolkit hands application/json bodies over already decoded (transformer.py).
        with contextlib.suppress(UnicodeDecodeError):
            body = body.decode("utf-8")
    data = call(input_fn, body, content_type, context=context)
    result = call(predict_fn, data, model, context=context)
    payload, response_type = call(output_fn, result, accept, context=context)
    return context.status, response_type, payload


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return call(model_fn, str(tiny_model_dir), context=TorchServeContext())


def test_every_handler_takes_the_optional_context():
    for handler, passed in ((model_fn, 1), (input_fn, 2), (predict_fn, 2), (output_fn, 2)):
        assert len(inspect.signature(handler).parameters) == passed + 1, handler.__name__


def test_seed_example_scores_one_record(model):
    status, content_type, payload = invoke(model, json.dumps(SEED_BODY).encode())
    assert (status, content_type) == (200, JSON)
    answer = json.loads(payload)
    assert set(answer) == ANSWER_FIELDS
    assert answer["unknown_categories"] == {}  # the seed's plan and limit were seen in training
    # What "high risk" meant in training, from the model dir's metrics.json (no period given).
    metrics = json.loads((model.model_dir / "metrics.json").read_text())
    assert answer["risk_basis"] == RiskBasis.from_metrics(metrics).to_json()
    assert answer["risk_basis"]["precision"] == metrics["thresholds"]["at_high"]["precision"]
    assert "period" not in answer["risk_basis"] and metrics["churn_period"] is None
    assert 0.0 <= answer["probability"] <= 1.0
    assert answer["model_version"] == model.model_version
    assert set(answer["missing_features"]) == set(MODEL_FEATURES) - set(SEED_BODY)


def test_probability_matches_the_model_called_directly(model):
    _, _, payload = invoke(model, json.dumps(SEED_BODY))
    record = dict.fromkeys(model.spec.all)
    record.update(
        {name: float(value) if name in model.spec.numerical else value for name, value in SEED_BODY.items()}
    )
    assert json.loads(payload)["probability"] == pytest.approx(float(model.predict_proba([record])[0]))


def test_instances_batch_answers_predictions_in_order(model):
    calm = {**SEED_BODY, "text": "Thanks, everything works and I am glad I stayed."}
    body = json.dumps({"instances": [SEED_BODY, calm, {}]})
    status, content_type, payload = invoke(model, body)
    assert (status, content_type) == (200, JSON)
    predictions = json.loads(payload)["predictions"]
    assert len(predictions) == 3
    assert predictions[2]["missing_features"] == list(model.spec.all)


def test_json_lines_in_and_out_for_batch_transform(model):
    body = (json.dumps(SEED_BODY) + "\n\n" + json.dumps({"plan": "A"}) + "\n").encode()
    status, content_type, payload = invoke(model, body, JSON_LINES, JSON_LINES)
    assert (status, content_type) == (200, JSON_LINES)
    lines = payload.decode().splitlines()
    assert [set(json.loads(line)) for line in lines] == [
        {"probability", "model_version", "missing_features", "unknown_categories", "risk_basis"}
    ] * 2


def test_a_plan_the_model_never_saw_is_listed_alone_and_in_a_batch(model):
    # Issue 24 s5: "plan": "Z" was scored silently; the encoder ignores it, the answer now says so.
    unseen = {**SEED_BODY, "plan": "Z"}
    _, _, payload = invoke(model, json.dumps(unseen))
    alone = json.loads(payload)
    assert alone["unknown_categories"] == {"plan": "Z"}
    _, _, payload = invoke(model, json.dumps({"instances": [SEED_BODY, unseen]}))
    batch = json.loads(payload)["predictions"]
    assert [p["unknown_categories"] for p in batch] == [{}, {"plan": "Z"}]
    assert batch[1]["probability"] == pytest.approx(alone["probability"])


def test_json_lines_request_can_answer_json(model):
    status, content_type, payload = invoke(model, b'{"plan": "A"}\n', JSON_LINES, JSON)
    assert (status, content_type) == (200, JSON)
    assert len(json.loads(payload)["predictions"]) == 1


def test_text_longer_than_the_encoder_window_is_scored_whole(model):
    long_text = "I have called about my bill every week and nobody fixes it. " * 40  # ~500 tokens
    status, _, payload = invoke(model, json.dumps({**SEED_BODY, "text": long_text}))
    assert status == 200 and 0.0 <= json.loads(payload)["probability"] <= 1.0


BAD_INPUTS = [
    # (why, body, content type, accept, status, words the message must hold)
    ("unsupported content type", b"a,b\n1,2", "text/csv", JSON, 415, "content type"),
    ("unsupported accept", json.dumps(SEED_BODY).encode(), JSON, "text/csv", 406, "accept"),
    ("malformed JSON", b'{"plan": "A"', JSON, JSON, 400, "not valid JSON"),
    ("empty body", b"", JSON, JSON, 400, "not valid JSON"),
    ("a list is not a record", b"[1, 2, 3]", JSON, JSON, 400, "JSON object"),
    ("a string is not a record", b'"churn"', JSON, JSON, 400, "JSON object"),
    ("a non-object instance", b'{"instances": [{}, 7]}', JSON, JSON, 400, "instances[1]"),
    ("numerical field as text", b'{"Day Mins": "12"}', JSON, JSON, 400, "'Day Mins'"),
    ("numerical field as bool", b'{"Day Mins": true}', JSON, JSON, 400, "'Day Mins'"),
    ("NaN", b'{"Day Mins": NaN}', JSON, JSON, 400, "NaN"),
    ("categorical as list", b'{"plan": [2]}', JSON, JSON, 400, "'plan'"),
    ("text as list", b'{"text": ["hi"]}', JSON, JSON, 400, "'text'"),
    ("empty batch", b'{"instances": []}', JSON, JSON, 400, "empty"),
    ("empty JSON Lines", b"\n\n", JSON_LINES, JSON_LINES, 400, "empty"),
    ("non-UTF-8 JSON Lines", b'{"text": "\xff\xfe"}\n', JSON_LINES, JSON_LINES, 400, "UTF-8"),
    (
        "JSON Lines naming the line",
        b'{"plan": "A"}\n{"plan": {"x": 1}}\n',
        JSON_LINES,
        JSON_LINES,
        400,
        "line 2",
    ),
    ("lone surrogate in text", b'{"text": "hi \\ud800 there"}', JSON, JSON, 400, "'text'"),
    ("beyond float32", b'{"Day Mins": 1e300}', JSON, JSON, 400, "'Day Mins'"),
    ("integer beyond float", b'{"Day Mins": 1' + b"0" * 400 + b"}", JSON, JSON, 400, "'Day Mins'"),
    ("huge text", json.dumps({"text": "x" * (MAX_TEXT_CHARS + 1)}).encode(), JSON, JSON, 413, "longer"),
    (
        "huge batch",
        json.dumps({"instances": [{}] * (MAX_BATCH_RECORDS + 1)}).encode(),
        JSON,
        JSON,
        413,
        "at most",
    ),
    ("huge body", b" " * (MAX_BODY_BYTES + 1), JSON_LINES, JSON, 413, "larger"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "needle"),
    [row[1:] for row in BAD_INPUTS],
    ids=[row[0] for row in BAD_INPUTS],
)
def test_bad_input_sets_the_status_and_answers_json(model, body, content_type, accept, status, needle):
    answered, response_type, payload = invoke(model, body, content_type, accept)
    assert answered == status
    assert response_type == JSON
    error = json.loads(payload)
    assert error["status"] == status
    assert needle in error["error"]
    assert "Traceback" not in payload.decode()


def test_non_utf8_json_is_400_when_the_body_arrives_as_bytes(model):
    context = TorchServeContext()
    result = predict_fn(input_fn(b'{"text": "\xff"}', JSON, context), model, context)
    payload, _ = output_fn(result, JSON, context)
    assert context.status == 400 and "UTF-8" in json.loads(payload)["error"]


def test_a_failing_model_is_a_json_500_without_the_request_in_the_log(model, caplog):
    class Broken:
        spec = model.spec
        model_version = "broken"

        def predict_proba(self, records):
            raise RuntimeError("weights are gone")

    context = TorchServeContext()
    secret = "my account number is 12345"
    result = predict_fn(input_fn(json.dumps({"text": secret}), JSON, context), Broken(), context)
    payload, content_type = output_fn(result, JSON, context)
    assert context.status == 500 and content_type == JSON
    assert json.loads(payload) == {"error": "the model failed to score the request", "status": 500}
    assert secret not in caplog.text


def test_an_unforeseen_parsing_failure_is_a_client_error(model, monkeypatch):
    def explode(*args):
        raise OverflowError("a body nobody thought of")

    monkeypatch.setattr(handlers, "parse_request", explode)
    context = TorchServeContext()
    payload, _ = output_fn(predict_fn(input_fn(b"{}", JSON), model, context), JSON, context)
    assert context.status == 400 and json.loads(payload)["status"] == 400


def test_without_a_context_errors_still_answer_json(model):
    result = predict_fn(input_fn(b"{", JSON), model)
    payload, content_type = output_fn(result, JSON)
    assert content_type == JSON and json.loads(payload)["status"] == 400


def test_set_status_uses_the_standard_phrase():
    context = TorchServeContext()
    handlers.set_status(context, 415)
    assert (context.status, context.phrase) == (415, "Unsupported Media Type")
    handlers.set_status(object(), 400)  # a context without the method is left alone
