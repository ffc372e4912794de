"""The API's request and response models (pydantic): validation and the OpenAPI document.

Requests are strict (no "12" for 12, no unknown fields), so typos and type slips surface as 400s
instead of being coerced or ignored.
"""

from typing import Annotated, Any, Literal

from churn_contracts.endpoint import EXPLAIN_MAX_K, MAX_UNKNOWN_CATEGORIES, MAX_UNKNOWN_VALUE_CHARS
from churn_contracts.features import CATEGORICAL, NUMERICAL
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    create_model,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[0-9A-Za-z._-]+$"
MAX_ID_CHARS = 128
MAX_EXPLAIN = EXPLAIN_MAX_K

CustomerId = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_CHARS)]
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _identifier(name: str) -> str:
    return name.lower().replace(" ", "_")


# The model computes in float32 and refuses larger magnitudes (churn_model.serving.handlers;
# a test keeps the two equal): the document says so, and the API refuses them itself (400),
# instead of a schema-valid request coming back 422 from the endpoint.
FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_INT = int(FLOAT32_MAX)
ProfileNumber = (
    Annotated[StrictFloat, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
    | Annotated[StrictInt, Field(ge=-_FLOAT32_INT, le=_FLOAT32_INT)]
)

# The profile's fields are the feature names (with spaces), from the shared names table.
_profile_fields: dict[str, Any] = {
    _identifier(name): (ProfileNumber | None, Field(default=None, alias=name)) for name in NUMERICAL
}
_profile_fields.update(
    {_identifier(name): (str | None, Field(default=None, alias=name, max_length=256)) for name in CATEGORICAL}
)
Profile = create_model(
    "Profile",
    __config__=ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, populate_by_name=False),
    __doc__="The customer's profile: feature name -> value; absent or null is a missing value.",
    **_profile_fields,
)


_PRESENT = {"not": {"type": "null"}}
# What _one_source checks, stated in the document (JSON Schema 2020-12, OpenAPI 3.1) so clients
# and generated tests know it: exactly one of the two sources, and allow_missing_profile only
# with customer_id.
_ONE_SOURCE = {
    "oneOf": [
        {"required": ["profile"], "properties": {"profile": _PRESENT}},
        {"required": ["customer_id"], "properties": {"customer_id": _PRESENT}},
    ],
    "if": {"required": ["allow_missing_profile"], "properties": {"allow_missing_profile": {"const": True}}},
    "then": {"required": ["customer_id"], "properties": {"customer_id": _PRESENT}},
}


class ScoreRequest(BaseModel):
    """Exactly one of ``profile`` and ``customer_id`` (the profile then comes from the profiles table)."""

    model_config = ConfigDict(**_STRICT, json_schema_extra=_ONE_SOURCE)

    text: str = Field(description="What the customer said; past the endpoint's limit it is shortened.")
    profile: Profile | None = None  # type: ignore[valid-type]
    customer_id: CustomerId | None = None
    allow_missing_profile: StrictBool = Field(
        default=False, description="With customer_id: score without a profile when none is stored."
    )
    explain: StrictBool | Annotated[StrictInt, Field(ge=1, le=MAX_EXPLAIN)] = Field(
        default=False, description="Ask the endpoint for reasons: true, or the number of reasons."
    )

    @field_validator("explain", mode="before")
    @classmethod
    def _integral_number(cls, value: Any) -> Any:
        # JSON Schema (and so the document) counts 12.0 as an integer; strict mode alone would not.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "ScoreRequest":
        if (self.profile is None) == (self.customer_id is None):
            raise ValueError("give exactly one of 'profile' and 'customer_id'")
        if self.allow_missing_profile and self.customer_id is None:
            raise ValueError("'allow_missing_profile' applies to 'customer_id' only")
        return self

    def profile_record(self) -> dict[str, Any] | None:
        if self.profile is None:
            return None
        return self.profile.model_dump(by_alias=True)


class ScoreResponse(BaseModel):
    probability: float = Field(ge=0, le=1)
    risk_level: Literal["low", "medium", "high"]
    model_version: str
    missing_features: list[str]
    profile_found: bool = Field(description="False when scored without a stored profile.")
    text_truncated: bool = Field(description="The text was longer than the endpoint takes and was cut.")
    reasons: list[dict[str, Any]] | None = Field(
        default=None,
        description="When 'explain' was asked for: {kind: profile|phrase, name, value, effect, ...}, strongest first.",
    )
    unknown_categories: dict[str, Annotated[str, Field(max_length=MAX_UNKNOWN_VALUE_CHARS)]] | None = Field(
        default=None,
        max_length=MAX_UNKNOWN_CATEGORIES,
        description=(
            "Profile values the model never saw in training, by feature name ({'plan': 'Z'}): scored "
            "as if absent. Empty when there are none; null from a model that does not report them. "
            "Long values are cut (ending in an ellipsis)."
        ),
    )


class Call(BaseModel):
    """One call's status and score; never anything from the transcript."""

    call_id: str
    customer_id: str | None = None
    source_call_id: str | None = Field(default=None, description="The call id in the recording's key.")
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    scored_at: str | None = None
    probability: float | None = None
    risk_level: str | None = None
    model_version: str | None = None
    missing_features: list[str] | None = None
    profile_found: bool | None = None
    failure_reason: str | None = None
    alert_suppressed: bool | None = None
    alerted_at: str | None = None


class CallsPage(BaseModel):
    calls: list[Call]
    next_cursor: str | None = Field(default=None, description="Pass as 'cursor' for the next page.")


class ErrorBody(BaseModel):
    """Every 4xx (and 503): what is wrong and, where one field is to blame, which."""

    error: str
    field: str | None = None
