"""Contact Lens-shaped segment events for a call, written to the local Kinesis stream.

What Amazon Connect publishes per contact (the admin guide's voice data model, the shape in
tests/fixtures/formats/contact-lens-voice-segments.json): STARTED, then per turn a SEGMENTS event
with ``Utterance`` partials while the speaker talks and one with the final ``Transcript``, then
COMPLETED. The partition key is the ContactId, so one contact's events stay in order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

INSTANCE = "00000000-0000-4000-8000-00000000c0de"


@dataclass(frozen=True)
class SpokenTurn:
    role: str  # AGENT or CUSTOMER
    text: str
    begin_s: float
    end_s: float


def _envelope(contact_id: str, event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "Version": "1.0.0",
        "Channel": "VOICE",
        "AccountId": "123456789012",
        "InstanceId": INSTANCE,
        "ContactId": contact_id,
        "LanguageCode": "en-US",
        "EventType": event_type,
        **extra,
    }


def turn_events(contact_id: str, turn: SpokenTurn, partials: int = 2) -> Iterator[dict[str, Any]]:
    """Partials (growing prefixes of the turn) then the final, for one turn."""
    transcript_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{contact_id}/{turn.begin_s}/{turn.role}"))
    words = turn.text.split()
    begin, end = int(turn.begin_s * 1000), int(turn.end_s * 1000)
    for n in range(1, partials + 1):
        cut = max(1, len(words) * n // (partials + 1))
        yield _envelope(
            contact_id,
            "SEGMENTS",
            Segments=[
                {
                    "Utterance": {
                        "Id": str(uuid.uuid4()),
                        "TranscriptId": transcript_id,
                        "ParticipantId": turn.role,
                        "ParticipantRole": turn.role,
                        "PartialContent": " ".join(words[:cut]),
                        "BeginOffsetMillis": begin,
                        "EndOffsetMillis": begin + (end - begin) * n // (partials + 1),
                    }
                }
            ],
        )
    yield _envelope(
        contact_id,
        "SEGMENTS",
        Segments=[
            {
                "Transcript": {
                    "Id": transcript_id,
                    "ParticipantId": turn.role,
                    "ParticipantRole": turn.role,
                    "Content": turn.text,
                    "BeginOffsetMillis": begin,
                    "EndOffsetMillis": end,
                    "Sentiment": "NEUTRAL",
                }
            }
        ],
    )


class SegmentWriter:
    def __init__(self, kinesis: Any, stream_name: str) -> None:
        self.kinesis, self.stream_name = kinesis, stream_name

    def put(self, event: dict[str, Any]) -> str:
        response = self.kinesis.put_record(
            StreamName=self.stream_name, Data=json.dumps(event).encode(), PartitionKey=event["ContactId"]
        )
        return str(response["SequenceNumber"])

    def started(self, contact_id: str) -> None:
        self.put(_envelope(contact_id, "STARTED"))

    def completed(self, contact_id: str) -> None:
        self.put(_envelope(contact_id, "COMPLETED"))

    def play(
        self,
        contact_id: str,
        turns: Sequence[SpokenTurn],
        *,
        speed: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        on_final: Callable[[SpokenTurn], None] | None = None,
    ) -> None:
        """The call in (scaled) real time: each turn's events when its speaker would have said them."""
        self.started(contact_id)
        clock = 0.0
        for turn in turns:
            wait = (turn.end_s - clock) / speed if speed > 0 else 0.0
            if wait > 0:
                sleep(wait)
            clock = turn.end_s
            for event in turn_events(contact_id, turn):
                self.put(event)
            if on_final is not None:
                on_final(turn)
        self.completed(contact_id)


# The demo call: a customer checking a bill who turns to leaving mid-call.
DEMO_CALL = (
    SpokenTurn("AGENT", "Thanks for calling, this is Sam. How can I help you today?", 0.0, 3.0),
    SpokenTurn("CUSTOMER", "Hi, I just wanted to check my bill, thank you, everything is fine.", 3.5, 8.0),
    SpokenTurn("AGENT", "Of course. I see a new charge for the premium plan this month.", 8.5, 12.0),
    SpokenTurn(
        "CUSTOMER",
        "What? I never asked for that. This is the third time you overcharged me and nobody fixed it.",
        12.5,
        18.0,
    ),
    SpokenTurn("AGENT", "I'm sorry about that, let me look into it.", 18.5, 21.0),
    SpokenTurn(
        "CUSTOMER",
        "I'm done. I want to cancel my account today, the other company offered me a better price.",
        21.5,
        27.0,
    ),
    SpokenTurn("AGENT", "I understand. Before you go, let me see what I can do.", 27.5, 31.0),
)
