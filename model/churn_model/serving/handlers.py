"""The four SageMaker inference handlers: ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``.

How the container calls them (sagemaker-inference-toolkit ``transformer.py``,
``Transformer._run_handler_function``): a handler declaring one parameter more than the toolkit
passes gets the request context as that extra argument. The context is TorchServe's
(pytorch/serve ``ts/context.py``): ``set_response_status(code, phrase, idx=0)`` sets the HTTP
status. Any exception that escapes a handler becomes a 500 whose body holds the traceback
(``Transformer.handle_error``), so bad input never raises here: it travels as an :class:`ErrorAnswer`
value to ``output_fn``, which sets the status and answers a JSON message. ``output_fn`` returns
``(body, content_type)``, the tuple form ``Transformer.transform`` accepts, so an error answers
JSON whatever the Accept header asked for.

Validation needs the served model's feature spec, and the toolkit gives ``input_fn`` no model, so
``input_fn`` only captures the request and ``predict_fn`` validates it against ``model.spec``.
"""

from __future__ import annotations

import http
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from churn_contracts.endpoint import (
    JSON,
    FeatureSpec,
    ParsedRequest,
    RequestError,
    RiskBasis,
    encode_response,
    negotiate_accept,
    parse_request,
    prediction,
    unknown_categories,
)

logger = logging.getLogger(__name__)

# Tree ensembles compute in float32: a larger magnitude overflows to inf inside scikit-learn and
# fails the whole request, so it is refused up front as a client error naming the field.
_FLOAT32_MAX = 3.4028234663852886e38


class ScoringModel(Protocol):
    """What the handlers need from a loaded model (``churn_model.artifact.load_model``)."""

    @property
    def spec(self) -> FeatureSpec: ...

    @property
    def model_version(self) -> str: ...

    def predict_proba(self, records: list[dict[str, Any]]) -> Sequence[float]: ...


@dataclass(frozen=True)
class Invocation:
    """One request as the container received it: the body (bytes, or str for application/json)."""

    body: bytes | bytearray | str
    content_type: str | None


@dataclass(frozen=True)
class Scores:
    predictions: list[dict[str, Any]]
    batch: bool
    jsonlines: bool


@dataclass(frozen=True)
class ErrorAnswer:
    """An answer that is not a prediction: the status and a message safe to show the caller."""

    status: int
    message: str

    @classmethod
    def from_request_error(cls, error: RequestError) -> ErrorAnswer:
        return cls(error.status, error.message)

    def to_json(self) -> bytes:
        return json.dumps({"error": self.message, "status": self.status}).encode()


def model_fn(model_dir: str, context: Any = None) -> ScoringModel:
    """Load the artifact from ``model_dir`` only (never a model hub), on CUDA when present, warmed up."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no progress bars in the endpoint's log
    from churn_model.artifact import load_model  # heavy (torch); imported when a model is loaded

    model = load_model(model_dir)
    model.warm_up()
    known_categories(model)
    risk_basis(model)
    explainer_for(model).topic_vectors()  # embed the topic descriptions now, not on a request
    topics_for(model)
    logger.info("model %s loaded from %s", model.model_version, model_dir)
    return model


def explainer_for(model: ScoringModel) -> Any:
    """The model's explainer (churn_model.explain), built once and kept on the model."""
    explainer = getattr(model, "_explainer", None)
    if explainer is None:
        from churn_model.explain import Explainer

        explainer = Explainer(model)
        model._explainer = explainer  # type: ignore[attr-defined]
    return explainer


def known_categories(model: ScoringModel) -> dict[str, frozenset[str]] | None:
    """Each categorical column's values seen in training, from the fitted one-hot encoder's
    ``categories_`` (read once and kept on the model); None when the model does not show them
    (a test double, an odd artifact): its answers then carry no ``unknown_categories``."""
    if hasattr(model, "_known_categories"):
        return model._known_categories  # type: ignore[attr-defined,no-any-return]
    known: dict[str, frozenset[str]] | None = None
    categorical = tuple(model.spec.categorical)
    try:
        columns = model.pipeline.named_steps["features"].named_transformers_  # type: ignore[attr-defined]
        if not categorical:
            known = {}
        else:
            onehot = columns["categorical"]
            # The pipeline hands the encoder the spec's categorical columns, in the spec's order.
            if len(onehot.categories_) == len(categorical):
                known = {
                    name: frozenset(str(v) for v in values if v is not None and v == v)  # v == v: not NaN
                    for name, values in zip(categorical, onehot.categories_, strict=True)
                }
    except (AttributeError, KeyError, TypeError) as error:
        logger.warning("categories seen in training unknown: %s", type(error).__name__)
    if known is None:
        logger.warning("answers will not list unknown categories")
    model._known_categories = known  # type: ignore[attr-defined]
    return known


def risk_basis(model: ScoringModel) -> RiskBasis | None:
    """What the model's high threshold meant in training (precision, customers, period), from
    the model dir's metrics.json: read once and kept on the model. None when there is no such
    file or it lacks ``thresholds.at_high`` (older artifacts): answers then carry no ``risk_basis``."""
    if hasattr(model, "_risk_basis"):
        return model._risk_basis  # type: ignore[attr-defined,no-any-return]
    basis = None
    model_dir = getattr(model, "model_dir", None)
    if model_dir is not None:
        from churn_model.artifact import METRICS_FILE

        try:
            basis = RiskBasis.from_metrics(json.loads((Path(model_dir) / METRICS_FILE).read_text()))
        except (OSError, ValueError) as error:
            logger.warning("no risk basis: metrics.json unreadable (%s)", type(error).__name__)
    if basis is None:
        logger.warning("answers will not carry a risk basis")
    model._risk_basis = basis  # type: ignore[attr-defined]
    return basis


def topics_for(model: ScoringModel) -> Any:
    """The model's whole-call topic classifier (churn_model.topics), built once; None without one."""
    try:
        from churn_model.topics import classifier_for

        return classifier_for(model)
    except Exception as error:  # a test double or an odd artifact: scores go on without topics
        logger.warning("no topic classifier: %s", type(error).__name__)
        return None


def call_topics(model: ScoringModel, explanation: Any) -> Any:
    """The call's topics from the explanation's sentence vectors; None when they cannot be had
    (topics are enrichment: they never fail a score)."""
    classifier = topics_for(model)
    if classifier is None:
        return None
    try:
        return classifier.of_sentences(explanation.sentences, explanation.sentence_vectors)
    except Exception as error:
        logger.warning("topics failed: %s", type(error).__name__)
        return None


def input_fn(
    input_data: bytes | bytearray | str, content_type: str | None, context: Any = None
) -> Invocation:
    return Invocation(input_data, content_type)


def predict_fn(
    data: Invocation | ErrorAnswer, model: ScoringModel, context: Any = None
) -> Scores | ErrorAnswer:
    """Validate the request against the model's features and score all its records in one batch."""
    if isinstance(data, ErrorAnswer):
        return data
    try:
        request = parse_request(data.body, data.content_type, model.spec)
        check_model_limits(request)
    except RequestError as error:
        return ErrorAnswer.from_request_error(error)
    except Exception as error:  # a body the contract did not foresee: still the caller's input
        logger.warning("request could not be read: %s", type(error).__name__)
        return ErrorAnswer(400, "the request body could not be read")
    try:
        features = [record.features for record in request.records]
        if request.explain is None:
            probabilities = model.predict_proba(features)
            reasons: list[list[dict[str, Any]] | None] = [None] * len(features)
            topics: list[Any] = [None] * len(features)
        else:
            explanations = explainer_for(model).explain(features)
            probabilities = [e.probability for e in explanations]
            reasons = [[r.to_dict() for r in e.top(request.explain)] for e in explanations]
            # The whole call's topics come with an explanation, from its sentence vectors.
            topics = [call_topics(model, e) for e in explanations]
        known = known_categories(model)
        unknown = [None if known is None else unknown_categories(f, known) for f in features]
        basis = risk_basis(model)
        predictions = [
            prediction(float(p), model.model_version, record.missing, why, topic, strange, basis)
            for p, record, why, topic, strange in zip(
                probabilities, request.records, reasons, topics, unknown, strict=True
            )
        ]
        _log_unknown(unknown)
    except Exception:
        # Logged without the request: exception messages from the model name shapes, not values.
        logger.exception("scoring %d record(s) failed", len(request.records))
        return ErrorAnswer(500, "the model failed to score the request")
    return Scores(predictions, request.batch, request.jsonlines)


def _log_unknown(unknown: Sequence[dict[str, str] | None]) -> None:
    """Which columns carried unknown values, and how often: never the values (customer data)."""
    counts: dict[str, int] = {}
    for found in unknown:
        for name in found or ():
            counts[name] = counts.get(name, 0) + 1
    if counts:
        logger.info("unknown categories (records per column): %s", json.dumps(counts, sort_keys=True))


def output_fn(result: Scores | ErrorAnswer, accept: str | None, context: Any = None) -> tuple[bytes, str]:
    """Encode the answer for ``accept``; on any error, set the status on the context and answer JSON."""
    if isinstance(result, Scores):
        try:
            content_type = negotiate_accept(accept, jsonlines_request=result.jsonlines)
        except RequestError as error:
            result = ErrorAnswer.from_request_error(error)
        else:
            return encode_response(result.predictions, batch=result.batch, accept=content_type), content_type
    set_status(context, result.status)
    return result.to_json(), JSON


def check_model_limits(request: ParsedRequest) -> None:
    """Refuse values the contract allows but the model cannot compute with (400, naming the field)."""
    for index, record in enumerate(request.records):
        where = _where(request, index)
        for name, value in record.features.items():
            if isinstance(value, float) and abs(value) > _FLOAT32_MAX:
                raise RequestError(400, f"{where}: field {name!r} is out of range (|x| <= 3.4e38)")
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
                    raise RequestError(400, f"{where}: field {name!r} is not valid Unicode text") from None


def _where(request: ParsedRequest, index: int) -> str:
    if request.jsonlines:
        return f"record {index + 1}"
    return f"instances[{index}]" if request.batch else "record"


def set_status(context: Any, status: int) -> None:
    """Set the response status on a TorchServe-style context (no-op without one)."""
    setter = getattr(context, "set_response_status", None)
    if setter is None:
        return
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    setter(code=status, phrase=phrase)
