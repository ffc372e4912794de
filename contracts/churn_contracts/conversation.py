"""A call as turns, and the one renderer that turns it into the model's text.

Training data and the scoring Lambda both build ``text`` with
:attr:`Conversation.customer_text`; that single renderer is what keeps train and
serve from drifting apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str
    start_time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role.value, "text": self.text, "start_time": self.start_time}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        return cls(Role(data["role"]), str(data["text"]), float(data.get("start_time", 0.0)))


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]

    @property
    def customer_text(self) -> str:
        """The customer's turns in time order, whitespace-normalised, joined by one space.

        No role prefixes: the model reads what the customer said and nothing else,
        which also halves the text the encoder has to embed.
        """
        customer = [t for t in self.turns if t.role is Role.CUSTOMER]
        # sorted() is stable, so turns that share a start time keep their order.
        customer.sort(key=lambda t: t.start_time)
        parts = (" ".join(t.text.split()) for t in customer)
        return " ".join(p for p in parts if p)

    def to_list(self) -> list[dict[str, Any]]:
        return [turn.to_dict() for turn in self.turns]

    @classmethod
    def from_list(cls, turns: Iterable[Mapping[str, Any]]) -> Conversation:
        return cls(tuple(Turn.from_dict(t) for t in turns))
