"""What happened to a customer after a call: the outcome record, its dedupe key, the outcomes
table's item shape, and the signed one-click links of the alert email.

Stdlib only: the outcomes API, the score function (which makes the links), the CRM import and the
training-data builder all read and write outcomes through this one module, so an outcome recorded
by the API, by an email link and by an import has the same key and is stored once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

OUTCOMES = ("contacted", "offer_accepted", "offer_declined", "saved", "churned", "stayed")
# What each outcome says about churn: 1 left, 0 kept; None says nothing about it by itself.
CHURN_LABEL: Mapping[str, int | None] = {
    "contacted": None,
    "offer_accepted": None,
    "offer_declined": None,
    "saved": 0,
    "stayed": 0,
    "churned": 1,
}
SOURCES = ("api", "link", "import")
# The alert email's buttons -> the outcome each records.
LINK_OUTCOMES: Mapping[str, str] = {"contacted": "contacted", "saved": "saved", "lost": "churned"}
LINK_PURPOSE = "outcome-link"
LINK_VERSION = 1
MAC_ALGORITHM = "HMAC_SHA_256"
DEFAULT_LINK_DAYS = 14

ID_PATTERN = re.compile(r"^[0-9A-Za-z._-]{1,128}$")
MAX_TEXT = 500  # note and by
MAX_TOKEN_CHARS = 1024
# The table's sort key: outcomes by date (history in order), link markers apart.
OUTCOME_PREFIX = "outcome#"
LINK_PREFIX = "link#"


class OutcomeError(ValueError):
    """An outcome that cannot be recorded; ``field`` names the part at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class LinkError(ValueError):
    """A one-click link that is malformed, altered, expired or for another purpose."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class Outcome:
    customer_id: str
    outcome: str
    date: date
    call_id: str | None = None
    offer_id: str | None = None
    by: str | None = None
    note: str | None = None
    source: str = "api"

    @property
    def dedupe_key(self) -> str:
        """Same customer, outcome, day and call: the same outcome, whoever reported it and how."""
        parts = [self.customer_id, self.outcome, self.date.isoformat(), self.call_id or ""]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    @property
    def sort_key(self) -> str:
        return f"{OUTCOME_PREFIX}{self.date.isoformat()}#{self.dedupe_key}"

    def to_item(self, recorded_at: datetime) -> dict[str, Any]:
        item: dict[str, Any] = {
            "customer_id": self.customer_id,
            "sk": self.sort_key,
            "outcome": self.outcome,
            "date": self.date.isoformat(),
            "dedupe_key": self.dedupe_key,
            "source": self.source,
            "recorded_at": recorded_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        for name in ("call_id", "offer_id", "by", "note"):
            value = getattr(self, name)
            if value is not None:
                item[name] = value
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Outcome:
        return cls(
            customer_id=str(item["customer_id"]),
            outcome=str(item["outcome"]),
            date=date.fromisoformat(str(item["date"])),
            call_id=_opt(item.get("call_id")),
            offer_id=_opt(item.get("offer_id")),
            by=_opt(item.get("by")),
            note=_opt(item.get("note")),
            source=str(item.get("source") or "api"),
        )

    def view(self, recorded_at: str | None = None) -> dict[str, Any]:
        """The outcome as the API and the exports show it."""
        shown: dict[str, Any] = {
            "customer_id": self.customer_id,
            "outcome": self.outcome,
            "date": self.date.isoformat(),
            "source": self.source,
            "dedupe_key": self.dedupe_key,
        }
        for name in ("call_id", "offer_id", "by", "note"):
            if getattr(self, name) is not None:
                shown[name] = getattr(self, name)
        if recorded_at is not None:
            shown["recorded_at"] = recorded_at
        return shown


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_outcome(
    customer_id: Any, fields: Mapping[str, Any], source: str, today: date | None = None
) -> Outcome:
    """One outcome from untrusted fields (API body, CSV row, JSON line); OutcomeError names the field.

    A date in the future is refused (an outcome is something that happened); one more than ten years
    back is a typo."""
    unknown = sorted(set(fields) - {"outcome", "date", "call_id", "offer_id", "by", "note", "customer_id"})
    if unknown:
        raise OutcomeError("unknown field", unknown[0])
    if not isinstance(customer_id, str) or not ID_PATTERN.match(customer_id):
        raise OutcomeError("invalid customer_id", "customer_id")
    outcome = fields.get("outcome")
    if outcome not in OUTCOMES:
        raise OutcomeError(f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
    raw_date = fields.get("date")
    if not isinstance(raw_date, str):
        raise OutcomeError("date must be a YYYY-MM-DD string", "date")
    try:
        when = date.fromisoformat(raw_date)
    except ValueError:
        raise OutcomeError("date must be a YYYY-MM-DD string", "date") from None
    if len(raw_date) != 10:
        raise OutcomeError("date must be a YYYY-MM-DD string", "date")
    today = today or datetime.now(UTC).date()
    if when > today + timedelta(days=1):  # a day's grace for time zones
        raise OutcomeError("date is in the future", "date")
    if when < today - timedelta(days=3660):
        raise OutcomeError("date is more than ten years ago", "date")
    values: dict[str, str | None] = {}
    for name in ("call_id", "offer_id"):
        value = fields.get(name)
        if value is not None and (not isinstance(value, str) or not ID_PATTERN.match(value)):
            raise OutcomeError(f"invalid {name}", name)
        values[name] = value
    for name in ("by", "note"):
        value = fields.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise OutcomeError(f"{name} must be a string of at most {MAX_TEXT} characters", name)
        values[name] = value or None
    if source not in SOURCES:
        raise OutcomeError("unknown source", "source")
    return Outcome(customer_id, outcome, when, source=source, **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- one-click links
# A link carries a payload and a MAC over it, both base64url: ``<payload>.<mac>``. The MAC comes
# from KMS (GenerateMac/VerifyMac with the stack's HMAC key), so no secret ever sits in a
# function's environment and only the score function may mint links; the API may only verify.

Mac = Callable[[bytes], bytes]  # message -> MAC (KMS GenerateMac)
VerifyMac = Callable[[bytes, bytes], bool]  # (message, MAC) -> valid (KMS VerifyMac)


@dataclass(frozen=True)
class LinkClaim:
    customer_id: str
    call_id: str | None
    button: str  # contacted | saved | lost
    expires_at: datetime
    nonce: str

    @property
    def outcome(self) -> str:
        return LINK_OUTCOMES[self.button]

    @property
    def marker_key(self) -> str:
        """The table's record that this link was used (single use)."""
        return f"{LINK_PREFIX}{self.nonce}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link_token(
    mac: Mac,
    customer_id: str,
    call_id: str | None,
    button: str,
    now: datetime,
    days: int = DEFAULT_LINK_DAYS,
    nonce: str | None = None,
) -> str:
    if button not in LINK_OUTCOMES:
        raise ValueError(f"no link for {button!r}")
    if not ID_PATTERN.match(customer_id) or (call_id is not None and not ID_PATTERN.match(call_id)):
        raise ValueError("customer_id or call_id is not an id")
    payload = {
        "v": LINK_VERSION,
        "p": LINK_PURPOSE,
        "c": customer_id,
        "j": call_id,
        "o": button,
        "e": int((now + timedelta(days=days)).timestamp()),
        "n": nonce or secrets.token_urlsafe(12),
    }
    message = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(message)}.{_b64(mac(message))}"


def make_links(
    mac: Mac,
    base_url: str,
    customer_id: str,
    call_id: str | None,
    now: datetime,
    days: int = DEFAULT_LINK_DAYS,
) -> dict[str, str]:
    """The alert email's buttons: button -> URL (``base_url`` ends where the token goes)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return {
        button: base + make_link_token(mac, customer_id, call_id, button, now, days)
        for button in LINK_OUTCOMES
    }


def read_link_token(token: str, verify: VerifyMac, now: datetime) -> LinkClaim:
    """The claim of a link this stack signed; LinkError (4xx) for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkError("this is not an outcome link")
    encoded, encoded_mac = token.split(".")
    try:
        message, signature = _unb64(encoded), _unb64(encoded_mac)
    except (binascii.Error, ValueError):
        raise LinkError("this is not an outcome link") from None
    # The MAC first: nothing in an unsigned payload is trusted, not even its expiry.
    if not message or not signature or not verify(message, signature):
        raise LinkError("this link was altered or was not issued by this system", 403)
    try:
        payload = json.loads(message)
    except ValueError:
        raise LinkError("this is not an outcome link") from None
    # Signed, but for another purpose or format: the key may sign other things one day.
    if not isinstance(payload, dict) or payload.get("v") != LINK_VERSION or payload.get("p") != LINK_PURPOSE:
        raise LinkError("this link is not an outcome link", 403)
    try:
        claim = LinkClaim(
            customer_id=str(payload["c"]),
            call_id=None if payload.get("j") is None else str(payload["j"]),
            button=str(payload["o"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
            nonce=str(payload["n"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        raise LinkError("this is not an outcome link") from None
    if claim.button not in LINK_OUTCOMES:
        raise LinkError("this link is not an outcome link", 403)
    if now >= claim.expires_at:
        raise LinkError("this link has expired; record the outcome through the API", 410)
    return claim
