"""The scoring endpoint's request and response contract.

A record is a JSON object of feature values; a batch is ``{"instances": [...]}``
or JSON Lines. Every answer is ``{"probability", "model_version",
"missing_features"}``, plus ``unknown_categories`` from a model that can tell (see
:func:`unknown_categories`) and ``risk_basis`` from a model that knows it (:class:`RiskBasis`).
Validation errors carry the HTTP status to answer with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Container, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .features import CATEGORICAL, NUMERICAL, TEXT, categorical_value
from .topics import CallTopics, TopicsError

JSON = "application/json"
JSON_LINES = "application/jsonlines"
_JSON_LINES_ALIASES = {JSON_LINES, "application/x-jsonlines", "application/jsonl", "application/json-lines"}
_ANY = {"*/*", "application/*", ""}

# Texts past this are refused (413) rather than tying a worker up; it is about
# 40 minutes of speech, far beyond a real call's customer side.
MAX_TEXT_CHARS = 50_000
MAX_BATCH_RECORDS = 1_000
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's own InvokeEndpoint payload limit


class RequestError(ValueError):
    """A client error: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def to_json(self) -> bytes:
        return json.dumps({"error": self.message, "status": self.status}).encode()


@dataclass(frozen=True)
class FeatureSpec:
    """Which fields the model reads, by kind. Stored as ``feature_names.json``."""

    numerical: tuple[str, ...] = NUMERICAL
    categorical: tuple[str, ...] = CATEGORICAL
    text: tuple[str, ...] = (TEXT,)

    @property
    def all(self) -> tuple[str, ...]:
        return self.numerical + self.categorical + self.text

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "numerical": list(self.numerical),
            "categorical": list(self.categorical),
            "text": list(self.text),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> FeatureSpec:
        return cls(
            tuple(data.get("numerical", ())), tuple(data.get("categorical", ())), tuple(data.get("text", ()))
        )


@dataclass(frozen=True)
class Record:
    """One validated record: every feature present (``None`` when missing)."""

    features: dict[str, Any]
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedRequest:
    records: list[Record]
    batch: bool
    jsonlines: bool = False
    explain: int | None = None  # how many reasons each prediction carries; None: a plain score


# ``"explain": true`` (or k) at the top of a JSON body asks for the top k reasons per record.
EXPLAIN_DEFAULT_K = 3
EXPLAIN_MAX_K = 20
REASON_KINDS = ("profile", "phrase")


def parse_explain(value: Any) -> int | None:
    """``true`` -> the default k, ``false``/absent -> None, an integer 1..20 -> k; else 400."""
    if value is None or value is False:
        return None
    if value is True:
        return EXPLAIN_DEFAULT_K
    if isinstance(value, int) and 1 <= value <= EXPLAIN_MAX_K:
        return value
    raise RequestError(400, f"'explain' must be true, false or an integer from 1 to {EXPLAIN_MAX_K}")


def _reject_constant(name: str) -> None:
    raise RequestError(400, f"invalid JSON number {name}")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def parse_record(obj: Any, spec: FeatureSpec, *, where: str = "record") -> Record:
    """Validate one record against ``spec``; extra fields are ignored."""
    if not isinstance(obj, Mapping):
        raise RequestError(400, f"{where} must be a JSON object, got {type(obj).__name__}")
    features: dict[str, Any] = {}
    missing: list[str] = []
    for name in spec.all:
        value = obj.get(name)
        if name in spec.categorical:
            try:
                value = categorical_value(value)  # the same coercion training used
            except TypeError:
                raise RequestError(
                    400, f"{where}: categorical field {name!r} must be a string, number, boolean or null"
                ) from None
        if value is None:
            missing.append(name)
        elif name in spec.numerical:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                raise RequestError(400, f"{where}: field {name!r} must be a finite number or null")
            value = float(value)
        elif not isinstance(value, str):
            raise RequestError(400, f"{where}: text field {name!r} must be a string or null")
        elif name in spec.text and len(value) > MAX_TEXT_CHARS:
            raise RequestError(413, f"{where}: field {name!r} is longer than {MAX_TEXT_CHARS} characters")
        features[name] = value
    return Record(features, missing)


def parse_request(body: bytes | str, content_type: str | None, spec: FeatureSpec) -> ParsedRequest:
    """Decode and validate a request body. Raises :class:`RequestError`."""
    mime = (content_type or JSON).split(";")[0].strip().lower()
    if mime not in _JSON_LINES_ALIASES and mime != JSON:
        raise RequestError(415, f"unsupported content type {content_type!r}; use {JSON} or {JSON_LINES}")
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY_BYTES:
            raise RequestError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, "request body is not valid UTF-8") from None
    else:
        text = body

    explain = None  # JSON Lines has no top level to ask for reasons on
    if mime in _JSON_LINES_ALIASES:
        objs = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                objs.append((_decode(line, f"line {number}"), f"line {number}"))
        batch, jsonlines = True, True
    else:
        payload = _decode(text, "body")
        explain = parse_explain(payload.get("explain")) if isinstance(payload, Mapping) else None
        if isinstance(payload, Mapping) and "instances" in payload:
            instances = payload["instances"]
            if not isinstance(instances, list):
                raise RequestError(400, "'instances' must be a list of records")
            objs = [(obj, f"instances[{i}]") for i, obj in enumerate(instances)]
            batch, jsonlines = True, False
        else:
            objs, batch, jsonlines = [(payload, "record")], False, False

    if not objs:
        raise RequestError(400, "the batch is empty")
    if len(objs) > MAX_BATCH_RECORDS:
        raise RequestError(413, f"a batch holds at most {MAX_BATCH_RECORDS} records")
    records = [parse_record(obj, spec, where=where) for obj, where in objs]
    return ParsedRequest(records, batch, jsonlines, explain)


def _decode(text: str, where: str) -> Any:
    try:
        return _loads(text)
    except RequestError:
        raise
    except (ValueError, RecursionError) as exc:
        raise RequestError(400, f"{where} is not valid JSON: {exc}") from None


# A categorical value the model never saw in training is scored as if absent (the one-hot
# encoder ignores it), so a typo ("plan": "Z") would pass silently: answers list such values.
# Bounded, since they echo the caller's input: this many columns at most, each value cut.
MAX_UNKNOWN_CATEGORIES = 20
MAX_UNKNOWN_VALUE_CHARS = 64


def _cut(value: str) -> str:
    return value if len(value) <= MAX_UNKNOWN_VALUE_CHARS else value[: MAX_UNKNOWN_VALUE_CHARS - 1] + "…"


def unknown_categories(features: Mapping[str, Any], known: Mapping[str, Container[str]]) -> dict[str, str]:
    """The record's categorical values outside the model's ``known`` values (column -> values
    seen in training), as ``{column: value}``: values cut to ``MAX_UNKNOWN_VALUE_CHARS``, at most
    ``MAX_UNKNOWN_CATEGORIES`` columns. Missing values are not unknown (``missing_features``
    lists them). ``features`` are a parsed :class:`Record`'s (categorical values canonical)."""
    unknown: dict[str, str] = {}
    for name, values in known.items():
        value = features.get(name)
        if value is None or value in values:
            continue
        unknown[name] = _cut(str(value))
        if len(unknown) == MAX_UNKNOWN_CATEGORIES:
            break
    return unknown


# What "high risk" meant when the model was trained: the precision at its high threshold and
# the customers behind it (metrics.json's thresholds.at_high), so an alert can say "about 6 in
# 10 ... leave within 90 days (measured on 525 customers)" from the model itself. Static per model.
MAX_PERIOD_CHARS = 64
HELD_OUT = frozenset({"out_of_fold", "test"})  # figures measured on customers the fit did not see


@dataclass(frozen=True)
class RiskBasis:
    threshold: float  # the model's high threshold the precision was measured at
    precision: float  # of the customers scored at or above it, the share who churned
    flagged: int | None = None  # customers scored at or above it: what the precision rests on
    customers: int | None = None  # all customers scored
    churners: int | None = None  # churners among them
    period: str | None = None  # the churn label's period ("90 days"); None: not known
    computed_on: str | None = None  # "out_of_fold", "test" or "train" (in-sample: optimistic)

    @property
    def held_out(self) -> bool:
        return self.computed_on in HELD_OUT

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_metrics(cls, metrics: Any) -> RiskBasis | None:
        """From metrics.json (``thresholds.high``, ``thresholds.at_high``, ``churn_period``);
        None when it lacks them (an older or odd file)."""
        thresholds = metrics.get("thresholds") if isinstance(metrics, Mapping) else None
        if not isinstance(thresholds, Mapping) or not isinstance(thresholds.get("at_high"), Mapping):
            return None
        at_high = thresholds["at_high"]
        return parse_risk_basis(
            {
                "threshold": thresholds.get("high"),
                "precision": at_high.get("precision"),
                "flagged": at_high.get("flagged"),
                "customers": at_high.get("customers"),
                "churners": at_high.get("churners"),
                "period": metrics.get("churn_period"),
                "computed_on": thresholds.get("computed_on"),
            }
        )


def parse_risk_basis(value: Any) -> RiskBasis | None:
    """An answer's ``risk_basis``: None when absent, or when the threshold or the precision is not
    a proper figure (the score stands); a malformed optional figure is dropped on its own."""
    if not isinstance(value, Mapping):
        return None
    threshold, precision = value.get("threshold"), value.get("precision")
    if not _fraction(threshold) or not _fraction(precision) or precision == 0:
        return None

    def count(name: str) -> int | None:
        number = value.get(name)
        return number if isinstance(number, int) and not isinstance(number, bool) and number >= 0 else None

    def text(name: str, limit: int) -> str | None:
        words = value.get(name)
        if not isinstance(words, str):
            return None
        words = " ".join(words.split())  # one line: it goes into alert headlines
        return words[:limit] or None

    return RiskBasis(
        float(threshold),
        float(precision),
        count("flagged"),
        count("customers"),
        count("churners"),
        text("period", MAX_PERIOD_CHARS),
        text("computed_on", 32),
    )


def _fraction(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value) and 0 <= value <= 1
    )


def prediction(
    probability: float,
    model_version: str,
    missing: Sequence[str],
    reasons: Sequence[Mapping[str, Any]] | None = None,
    topics: CallTopics | None = None,
    unknown: Mapping[str, str] | None = None,
    basis: RiskBasis | None = None,
) -> dict[str, Any]:
    """One answer; ``reasons`` only when the request asked to explain (model/README.md);
    ``topics`` (the whole call's, ``churn_contracts.topics``) when the model classifies them;
    ``unknown`` (:func:`unknown_categories`, ``{}`` for none) when the model knows its categories;
    ``basis`` (:class:`RiskBasis`) when the model's metrics.json has it."""
    answer: dict[str, Any] = {
        "probability": float(probability),
        "model_version": model_version,
        "missing_features": list(missing),
    }
    if unknown is not None:
        answer["unknown_categories"] = dict(unknown)
    if basis is not None:
        answer["risk_basis"] = basis.to_json()
    if reasons is not None:
        answer["reasons"] = [dict(r) for r in reasons]
    if topics is not None:
        answer["topics"] = topics.to_dict()
    return answer


def negotiate_accept(accept: str | None, *, jsonlines_request: bool = False) -> str:
    """The response content type for an Accept header. Raises 406 if none fits."""
    for option in (accept or "").split(","):
        mime = option.split(";")[0].strip().lower()
        if mime in _ANY:
            return JSON_LINES if jsonlines_request else JSON
        if mime == JSON:
            return JSON
        if mime in _JSON_LINES_ALIASES:
            return JSON_LINES
    raise RequestError(406, f"unsupported accept {accept!r}; use {JSON} or {JSON_LINES}")


def encode_response(predictions: Sequence[Mapping[str, Any]], *, batch: bool, accept: str) -> bytes:
    if accept == JSON_LINES:
        return "".join(json.dumps(p) + "\n" for p in predictions).encode()
    payload: Any = {"predictions": list(predictions)} if batch else predictions[0]
    return json.dumps(payload).encode()


# --- the client side: what the scoring Lambda sends and reads back ---


class ResponseError(ValueError):
    """The endpoint answered 200 with something that is not the prediction contract."""


@dataclass(frozen=True)
class Score:
    probability: float
    model_version: str
    missing_features: list[str]
    # Present when the request asked to explain: {"kind", "name", "value", "effect", "method", ...}.
    reasons: list[dict[str, Any]] = field(default_factory=list)
    # The whole call's topics; None from a model that does not classify them (older artifacts).
    topics: CallTopics | None = None
    topics_problem: str | None = None  # why a malformed ``topics`` was dropped (the score stands)
    # Categorical values the model never saw ({column: value}); None from a model that does not
    # tell (older artifacts), or when the field was malformed (dropped: the score stands).
    unknown_categories: dict[str, str] | None = None
    # What the model's high threshold meant in training; None from an older model or malformed.
    risk_basis: RiskBasis | None = None


def shorten_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """Text that fits the endpoint's limit: the head and the end of the call, joined by an ellipsis.

    The opening (why they called) and the close (what they decided) carry the most signal.
    Returns the text and whether it was shortened.
    """
    if len(text) <= limit:
        return text, False
    marker = " … "
    head = (limit - len(marker)) // 2
    tail = limit - len(marker) - head
    return text[:head] + marker + text[len(text) - tail :], True


def request_record(features: Mapping[str, Any], text: str | None) -> dict[str, Any]:
    """One record for the endpoint: profile features (absent -> null) plus the customer's text.

    Empty text is sent as null, so the model imputes it and reports ``text`` as missing.
    """
    record = dict(features)
    record[TEXT] = shorten_text(text)[0] if text else None
    return record


def parse_score(body: bytes | str) -> Score:
    """The endpoint's answer (a single prediction, or the first of a batch). Raises :class:`ResponseError`."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ResponseError("endpoint response is not JSON") from None
    if (
        isinstance(payload, Mapping)
        and isinstance(payload.get("predictions"), list)
        and payload["predictions"]
    ):
        payload = payload["predictions"][0]
    if not isinstance(payload, Mapping):
        raise ResponseError("endpoint response is not a prediction object")
    probability = payload.get("probability")
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise ResponseError("endpoint response has no numeric 'probability'")
    if not _finite(probability) or not 0.0 <= probability <= 1.0:
        raise ResponseError("endpoint probability is outside [0, 1]")
    missing = payload.get("missing_features") or []
    if not isinstance(missing, list):
        raise ResponseError("'missing_features' is not a list")
    version = payload.get("model_version")
    reasons = parse_reasons(payload.get("reasons"))
    missing_names = [str(m) for m in missing]
    # Topics are enrichment: a malformed document is dropped with its reason, never the score.
    topics, problem = None, None
    if payload.get("topics") is not None:
        try:
            topics = CallTopics.from_dict(payload["topics"])
        except TopicsError as exc:
            problem = str(exc)
    return Score(
        float(probability),
        str(version) if version else "unknown",
        missing_names,
        reasons,
        topics,
        problem,
        parse_unknown_categories(payload.get("unknown_categories")),
        parse_risk_basis(payload.get("risk_basis")),
    )


def parse_unknown_categories(value: Any) -> dict[str, str] | None:
    """An answer's ``unknown_categories``, bounded again here (it echoes input into stored items
    and responses); None when absent or not a ``{column: value}`` object of strings."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return None
    items = list(value.items())[:MAX_UNKNOWN_CATEGORIES]
    return {_cut(name): _cut(category) for name, category in items}


def parse_reasons(value: Any) -> list[dict[str, Any]]:
    """The ``reasons`` of an answer, kept only where their shape is the contract's."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ResponseError("'reasons' is not a list")
    reasons = []
    for reason in value:
        if not isinstance(reason, Mapping) or reason.get("kind") not in REASON_KINDS:
            raise ResponseError("a reason is not an object with kind 'profile' or 'phrase'")
        effect = reason.get("effect")
        if isinstance(effect, bool) or not isinstance(effect, (int, float)) or not _finite(effect):
            raise ResponseError("a reason has no numeric 'effect'")
        if not isinstance(reason.get("name"), str):
            raise ResponseError("a reason has no 'name'")
        reasons.append(dict(reason))
    return reasons
