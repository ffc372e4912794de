"""The domain: score a customer on request, read calls. Plain Python over its collaborators.

Nothing here stores a score or sends an alert: the API answers questions, the pipeline acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from churn_contracts.calls import risk_level
from churn_contracts.endpoint import MAX_TEXT_CHARS, FeatureSpec, parse_record
from churn_contracts.features import PROFILE_FEATURES, TEXT
from churn_contracts.profile import item_to_record

# What a call item may show through the API: status and score, never transcript text (excerpt)
# or where the transcript and recording live.
CALL_FIELDS = (
    "status",
    "created_at",
    "updated_at",
    "scored_at",
    "probability",
    "risk_level",
    "model_version",
    "missing_features",
    "profile_found",
    "failure_reason",
    "alert_suppressed",
    "alerted_at",
)


class UnknownCustomerError(LookupError):
    """No profile for the customer, and the caller did not allow a profile-less score."""


class CallNotFoundError(LookupError):
    """No call item with this id."""


class InvalidCursorError(ValueError):
    """A page cursor this API did not issue (or issued for another customer)."""


class ModelRejectedError(ValueError):
    """The model container refused the input (InvokeEndpoint's 424 ModelError with a 4xx)."""


class EndpointUnavailableError(RuntimeError):
    """The endpoint throttled or failed after the few retries an API caller can wait for."""


@dataclass(frozen=True)
class Score:
    probability: float
    model_version: str
    missing_features: list[str]
    reasons: list[Any] | None = None


@dataclass(frozen=True)
class CallPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


class Profiles(Protocol):
    def get(self, customer_id: str) -> dict[str, Any] | None: ...


class Scorer(Protocol):
    def score(self, record: Mapping[str, Any], explain: bool | int = False) -> Score: ...


class Calls(Protocol):
    def get(self, call_id: str) -> dict[str, Any] | None: ...
    def list_for_customer(self, customer_id: str, limit: int, cursor: str | None) -> CallPage: ...


@dataclass(frozen=True)
class ScoreQuery:
    text: str
    profile: Mapping[str, Any] | None = None
    customer_id: str | None = None
    allow_missing_profile: bool = False
    explain: bool | int = False


@dataclass(frozen=True)
class ScoreAnswer:
    probability: float
    risk_level: str
    model_version: str
    missing_features: list[str]
    profile_found: bool
    text_truncated: bool
    reasons: list[Any] | None = None


@dataclass(frozen=True)
class Thresholds:
    medium: float
    high: float


def shorten_text(text: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """Text past the endpoint's limit keeps its start, cut at a word boundary; flagged as cut."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut, True


def build_record(query: ScoreQuery, profiles: Profiles) -> tuple[dict[str, Any], bool, bool]:
    """The endpoint record (the shared contract's shape), whether a profile was found, whether cut."""
    if query.customer_id is not None:
        item = profiles.get(query.customer_id)
        if item is None and not query.allow_missing_profile:
            raise UnknownCustomerError(query.customer_id)
        record, found = item_to_record(item or {}), item is not None
    else:
        given = query.profile or {}
        record, found = {name: given.get(name) for name in PROFILE_FEATURES}, True
    text, truncated = shorten_text(query.text)
    record[TEXT] = text
    # The endpoint's own request validation, run here too: a record it would refuse is the
    # caller's error (4xx) and never costs an endpoint call.
    parse_record(record, FeatureSpec())
    return record, found, truncated


def score(query: ScoreQuery, thresholds: Thresholds, profiles: Profiles, scorer: Scorer) -> ScoreAnswer:
    record, found, truncated = build_record(query, profiles)
    result = scorer.score(record, query.explain)
    level = risk_level(result.probability, thresholds.medium, thresholds.high)
    return ScoreAnswer(
        probability=result.probability,
        risk_level=level.value,
        model_version=result.model_version,
        missing_features=result.missing_features,
        profile_found=found,
        text_truncated=truncated,
        reasons=result.reasons if query.explain else None,
    )


def call_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A call item as the API shows it: the listed fields only, numbers as floats."""
    view: dict[str, Any] = {"call_id": str(item.get("job_name", ""))}
    if item.get("customer_id") is not None:
        view["customer_id"] = str(item["customer_id"])
    if item.get("call_id") is not None:
        view["source_call_id"] = str(item["call_id"])
    for name in CALL_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, (list, set, tuple)):
            value = [str(v) for v in value]
        view[name] = value
    return view


@dataclass(frozen=True)
class CallsAnswer:
    calls: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def get_call(call_id: str, calls: Calls) -> dict[str, Any]:
    item = calls.get(call_id)
    if item is None:
        raise CallNotFoundError(call_id)
    return call_view(item)


def customer_calls(customer_id: str, limit: int, cursor: str | None, calls: Calls) -> CallsAnswer:
    page = calls.list_for_customer(customer_id, limit, cursor)
    return CallsAnswer([call_view(item) for item in page.items], page.next_cursor)
