"""The contacts table (DynamoDB): one item per live contact, written with an optimistic lock.

DynamoDB's TTL deletes an expired item within days, not at its ``expires_at``: an item read
past its expiry is treated as absent, and may be overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..models import ContactState, ContactStatus, StateConflictError

TTL_ATTRIBUTE = "expires_at"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _num(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 6)))


# The attributes of a contact item that hold no speech (turns stay out).
SUMMARY_FIELDS = (
    "contact_id",
    "status",
    "risk_level",
    "probability",
    "scored_turns",
    "scores",
    "last_scored_epoch",
    "final",
    TTL_ATTRIBUTE,
)


@dataclass(frozen=True)
class ContactsRepository:
    table: Any  # a boto3 DynamoDB Table resource
    ttl: timedelta

    def get(self, contact_id: str, now: datetime) -> ContactState | None:
        item = self.table.get_item(Key={"contact_id": contact_id}, ConsistentRead=True).get("Item")
        if not item or int(item.get(TTL_ATTRIBUTE, 0)) <= int(now.timestamp()):
            return None
        turns = {
            str(key): (int(value["b"]), str(value["t"])) for key, value in (item.get("turns") or {}).items()
        }
        probability = item.get("probability")
        return ContactState(
            contact_id=contact_id,
            instance_id=str(item.get("instance_id", "")),
            status=ContactStatus(item.get("status", ContactStatus.LIVE.value)),
            customer_id=item.get("customer_id") or None,
            customer_looked_up=bool(item.get("customer_looked_up", False)),
            turns=turns,
            scored_turns=int(item.get("scored_turns", 0)),
            scores=int(item.get("scores", 0)),
            probability=None if probability is None else float(probability),
            risk_level=item.get("risk_level"),
            model_version=item.get("model_version"),
            notified_level=item.get("notified_level"),
            notified_scores=int(item.get("notified_scores", 0)),
            last_scored_epoch=float(item.get("last_scored_epoch", 0)),
            pending=bool(item.get("pending", False)),
            final=bool(item.get("final", False)),
            reason=item.get("reason"),
            version=int(item.get("version", 0)),
        )

    def summary(self, contact_id: str, now: datetime) -> dict[str, Any] | None:
        """The contact's score without its text: what an agent who connects mid-call is shown.

        A projection, so the agents' functions never read the customer's turns."""
        item = self.table.get_item(
            Key={"contact_id": contact_id},
            ConsistentRead=True,
            ProjectionExpression=", ".join(f"#{n}" for n in SUMMARY_FIELDS),
            ExpressionAttributeNames={f"#{n}": n for n in SUMMARY_FIELDS},
        ).get("Item")
        if not item or int(item.get(TTL_ATTRIBUTE, 0)) <= int(now.timestamp()):
            return None
        return item

    def save(self, state: ContactState, now: datetime) -> None:
        """Write the state if nobody else did since it was read; the version moves on by one."""
        item: dict[str, Any] = {
            "contact_id": state.contact_id,
            "instance_id": state.instance_id,
            "status": state.status.value,
            "customer_looked_up": state.customer_looked_up,
            "turns": {key: {"b": begin, "t": text} for key, (begin, text) in state.turns.items()},
            "customer_turns": len(state.turns),
            "scored_turns": state.scored_turns,
            "scores": state.scores,
            "notified_scores": state.notified_scores,
            "last_scored_epoch": _num(state.last_scored_epoch),
            "pending": state.pending,
            "final": state.final,
            "version": state.version + 1,
            "updated_at": now.isoformat(),
            TTL_ATTRIBUTE: int((now + self.ttl).timestamp()),
        }
        optional = {
            "customer_id": state.customer_id,
            "probability": _num(state.probability),
            "risk_level": state.risk_level,
            "model_version": state.model_version,
            "notified_level": state.notified_level,
            "reason": state.reason,
        }
        item.update({key: value for key, value in optional.items() if value is not None})
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression=(
                    "attribute_not_exists(contact_id) OR version = :version OR #ttl <= :now"
                ),
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":version": state.version, ":now": int(now.timestamp())},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise StateConflictError(f"contact {state.contact_id} changed under us") from None
            raise
        state.version += 1
