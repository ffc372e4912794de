"""The domain: score a customer on request, read calls. Plain Python over its collaborators.

Nothing here stores a score or sends an alert: the API answers questions, the pipeline acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from churn_contracts.calls import CallItem, timestamp
from churn_contracts.endpoint import FeatureSpec, parse_record, request_record, shorten_text
from churn_contracts.features import PROFILE_FEATURES
from churn_contracts.profile import item_to_record
from churn_contracts.risk import RiskThresholds

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
    # Categorical values the model never saw ({column: value}); None from a model that does not tell.
    unknown_categories: dict[str, str] | None = None


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
    unknown_categories: dict[str, str] | None = None


def build_record(query: ScoreQuery, profiles: Profiles) -> tuple[dict[str, Any], bool, bool]:
    """The endpoint record (the shared contract's shape), whether a profile was found, whether cut."""
    if query.customer_id is not None:
        item = profiles.get(query.customer_id)
        if item is None and not query.allow_missing_profile:
            raise UnknownCustomerError(query.customer_id)
        features, found = item_to_record(item or {}), item is not None
    else:
        given = query.profile or {}
        features, found = {name: given.get(name) for name in PROFILE_FEATURES}, True
    # The pipeline's own record builder and shortening (head and end of the call), so an API
    # score and a pipeline score of the same words cannot drift.
    text, truncated = shorten_text(query.text)
    record = request_record(features, text)
    # The endpoint's own request validation, run here too: a record it would refuse is the
    # caller's error (4xx) and never costs an endpoint call.
    parse_record(record, FeatureSpec())
    return record, found, truncated


def score(query: ScoreQuery, thresholds: RiskThresholds, profiles: Profiles, scorer: Scorer) -> ScoreAnswer:
    record, found, truncated = build_record(query, profiles)
    result = scorer.score(record, query.explain)
    level = thresholds.level(result.probability)
    return ScoreAnswer(
        probability=result.probability,
        risk_level=level.value,
        model_version=result.model_version,
        missing_features=result.missing_features,
        profile_found=found,
        text_truncated=truncated,
        reasons=result.reasons if query.explain else None,
        unknown_categories=result.unknown_categories,
    )


def call_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A call item (read with the shared codec) as the API shows it: the listed fields only."""
    call = CallItem.from_item(item)
    view: dict[str, Any] = {"call_id": call.job_name}
    if call.customer_id is not None:
        view["customer_id"] = call.customer_id
    if call.call_id is not None:
        view["source_call_id"] = call.call_id
    for name in CALL_FIELDS:
        value = getattr(call, name)
        if value is None or (name == "alert_suppressed" and "alert_suppressed" not in item):
            continue
        view[name] = timestamp(value) if isinstance(value, datetime) else value
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
