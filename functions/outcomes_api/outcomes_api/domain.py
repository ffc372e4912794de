"""The domain: record an outcome once, read a customer's history, use a one-click link once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from churn_contracts.outcomes import LinkClaim, Outcome, VerifyMac, parse_outcome, read_link_token


class Store(Protocol):
    def put(self, outcome: Outcome, item: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...
    def history(self, customer_id: str) -> list[dict[str, Any]]: ...
    def put_from_link(self, claim: LinkClaim, outcome: Outcome, item: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class Recorded:
    outcome: dict[str, Any]
    created: bool


def view(item: Mapping[str, Any]) -> dict[str, Any]:
    return Outcome.from_item(item).view(str(item.get("recorded_at") or "") or None)


def record(
    customer_id: str, fields: Mapping[str, Any], store: Store, now: datetime, source: str = "api"
) -> Recorded:
    outcome = parse_outcome(customer_id, fields, source, today=now.date())
    stored, created = store.put(outcome, outcome.to_item(now))
    return Recorded(view(stored), created)


def history(customer_id: str, store: Store) -> list[dict[str, Any]]:
    """Oldest first, as the sort key orders them."""
    return [view(item) for item in store.history(customer_id)]


def check_link(token: str, verify: VerifyMac, now: datetime) -> LinkClaim:
    return read_link_token(token, verify, now)


def use_link(token: str, verify: VerifyMac, store: Store, now: datetime) -> tuple[LinkClaim, Recorded]:
    """Verify, then record the link's outcome and burn the link together (LinkUsedError on reuse)."""
    claim = read_link_token(token, verify, now)
    fields: dict[str, Any] = {"outcome": claim.outcome, "date": now.date().isoformat(), "by": "email link"}
    if claim.call_id is not None:
        fields["call_id"] = claim.call_id
    outcome = parse_outcome(claim.customer_id, fields, "link", today=now.date())
    item = outcome.to_item(now)
    created = store.put_from_link(claim, outcome, item)
    return claim, Recorded(outcome.view(item["recorded_at"]), created)
