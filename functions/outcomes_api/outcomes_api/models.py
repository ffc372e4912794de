"""Request and response models (pydantic): validation and the OpenAPI document.

Strict like the rest of /v1: no coercion, no unknown fields."""

from typing import Annotated, Literal

from churn_contracts.outcomes import MAX_TEXT
from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[0-9A-Za-z._-]+$"
MAX_ID_CHARS = 128
OutcomeKind = Literal["contacted", "offer_accepted", "offer_declined", "saved", "churned", "stayed"]
Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_CHARS)]


class OutcomeRequest(BaseModel):
    """What happened to the customer. The same outcome (customer, outcome, date, call) recorded
    twice, by any route, is one record."""

    model_config = ConfigDict(extra="forbid", strict=True)

    outcome: OutcomeKind
    date: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$", description="The day it happened (YYYY-MM-DD); not in the future."
    )
    call_id: Id | None = Field(default=None, description="The alerted call (its call_id in /v1/calls).")
    offer_id: Id | None = None
    by: str | None = Field(default=None, max_length=MAX_TEXT, description="Who recorded it.")
    note: str | None = Field(default=None, max_length=MAX_TEXT)


class OutcomeRecord(BaseModel):
    customer_id: str
    outcome: OutcomeKind
    date: str
    source: Literal["api", "link", "import"]
    dedupe_key: str = Field(description="Equal for the same customer, outcome, date and call.")
    call_id: str | None = None
    offer_id: str | None = None
    by: str | None = None
    note: str | None = None
    recorded_at: str | None = None


class OutcomeAnswer(BaseModel):
    outcome: OutcomeRecord
    created: bool = Field(description="False when this outcome was already recorded (nothing changed).")


class OutcomeHistory(BaseModel):
    outcomes: list[OutcomeRecord] = Field(description="Oldest first.")


class ErrorBody(BaseModel):
    """Every 4xx: what is wrong and, where one field is to blame, which."""

    error: str
    field: str | None = None
