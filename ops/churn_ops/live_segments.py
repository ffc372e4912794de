"""Amazon Transcribe streaming results -> Contact Lens real-time segment events (pure, stdlib only).

For audio that does not come through Amazon Connect, ``churn_ops.live_producer`` streams it through
Transcribe streaming; this module turns each ``TranscriptEvent`` (the API reference's JSON shape:
``Transcript.Results[].Alternatives[].Items[]``) into the events the live function reads from the
stream, the same shape Contact Lens writes (tests/fixtures/formats/contact-lens-voice-segments.json):

- a result with ``IsPartial: true`` -> an ``Utterance`` (the live function only counts these);
  ``IsPartial: false`` -> a final ``Transcript``, the only kind that goes into the customer's text;
- the speaker: ``ChannelId`` (channel identification, one channel per party) or each item's
  ``Speaker`` (speaker labels; one result may hold several speakers, split into one segment per
  run of the same speaker) -> ``ParticipantRole`` through a mapping the caller gives;
- times in seconds from the start of the Transcribe session -> milliseconds from the start of the
  contact (``offset_ms`` for a session started mid-call, e.g. after a reconnect);
- ids derived from the contact, the ``ResultId`` and the speaker run, never random: writing the same
  result twice (a retried PutRecord, a replayed event) gives the same segment ids, and the live
  function keeps a segment id once. Partials of a result share its final's id as ``TranscriptId``.

Nothing here logs: segment contents are the customer's speech.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# One namespace for the ids this producer makes (uuid5 of a name in it is deterministic).
_NAMESPACE = uuid.UUID("3f0c6a52-8f5e-4d0b-9b7e-6c1d2a4e5f70")
ROLES = frozenset({"AGENT", "CUSTOMER", "SYSTEM"})


class TranscriptEventError(ValueError):
    """A TranscriptEvent that is not in the documented shape; the message names fields, not text."""


@dataclass(frozen=True)
class SpeakerMap:
    """Which Transcribe channel or speaker label is which party.

    With channel identification the mapping is known from the wiring (the demo WAVs put the customer
    on channel 0). With speaker labels Transcribe numbers speakers in the order it hears them, so the
    caller supplies the mapping it knows (e.g. the agent speaks first in its greeting).
    """

    channels: Mapping[str, str] = field(default_factory=lambda: {"ch_0": "CUSTOMER", "ch_1": "AGENT"})
    speakers: Mapping[str, str] = field(default_factory=lambda: {"0": "AGENT", "1": "CUSTOMER"})

    def __post_init__(self) -> None:
        for role in (*self.channels.values(), *self.speakers.values()):
            if role not in ROLES:
                raise ValueError(f"participant role must be one of {sorted(ROLES)}, not {role!r}")


@dataclass(frozen=True)
class _Run:
    speaker: str | None
    text: str
    begin_s: float
    end_s: float


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TranscriptEventError(f"{name} is not a non-negative number of seconds")
    return float(value)


def _join(words: list[tuple[str, str]]) -> str:
    out = ""
    for kind, content in words:
        if kind == "punctuation" or not out:
            out += content
        else:
            out += " " + content
    return out


def _runs(result: Mapping[str, Any], where: str) -> list[_Run]:
    alternatives = result.get("Alternatives")
    alternatives = [] if alternatives is None else alternatives
    if not isinstance(alternatives, list):
        raise TranscriptEventError(f"{where}.Alternatives is not a list")
    if not alternatives:
        return []
    best = alternatives[0]  # Transcribe orders alternatives best first
    if not isinstance(best, Mapping):
        raise TranscriptEventError(f"{where}.Alternatives[0] is not an object")
    transcript = best.get("Transcript") or ""
    if not isinstance(transcript, str):
        raise TranscriptEventError(f"{where}.Alternatives[0].Transcript is not a string")
    begin = _number(result.get("StartTime", 0.0), f"{where}.StartTime")
    end = _number(result.get("EndTime", begin), f"{where}.EndTime")
    items = best.get("Items") or []
    if not isinstance(items, list):
        raise TranscriptEventError(f"{where}.Alternatives[0].Items is not a list")
    if not any(isinstance(i, Mapping) and i.get("Speaker") is not None for i in items):
        # No speaker labels: the result is one speaker (its channel, or the only one).
        return [_Run(None, transcript.strip(), begin, end)] if transcript.strip() else []
    runs: list[_Run] = []
    words: list[tuple[str, str]] = []
    speaker: str | None = None
    run_begin = run_end = begin
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("Content"), str):
            raise TranscriptEventError(f"{where}.Alternatives[0].Items[{index}] has no Content string")
        kind = item.get("Type", "pronunciation")
        label = item.get("Speaker")
        # Punctuation carries no Speaker: it belongs to the word before it.
        if kind != "punctuation" and label is not None and label != speaker and words:
            runs.append(_Run(speaker, _join(words), run_begin, run_end))
            words = []
        if not words:
            run_begin = _number(item.get("StartTime", run_end), f"{where}.Items[{index}].StartTime")
        if kind != "punctuation" and label is not None:
            speaker = str(label)
        words.append((str(kind), item["Content"]))
        run_end = _number(item.get("EndTime", run_begin), f"{where}.Items[{index}].EndTime")
    if words:
        runs.append(_Run(speaker, _join(words), run_begin, run_end))
    return runs


@dataclass
class SegmentConverter:
    """One contact's Transcribe session -> Contact Lens-shaped events (STARTED ... COMPLETED/FAILED)."""

    contact_id: str
    speakers: SpeakerMap = field(default_factory=SpeakerMap)
    instance_id: str = ""
    account_id: str = ""
    language_code: str = "en-US"
    offset_ms: int = 0

    def _envelope(self, event_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "Version": "1.0.0",
            "Channel": "VOICE",
            "AccountId": self.account_id,
            "InstanceId": self.instance_id,
            "ContactId": self.contact_id,
            "LanguageCode": self.language_code,
            "EventType": event_type,
            **extra,
        }

    def started(self) -> dict[str, Any]:
        return self._envelope("STARTED")

    def completed(self) -> dict[str, Any]:
        return self._envelope("COMPLETED")

    def failed(self, reason: str) -> dict[str, Any]:
        # A short machine reason (an exception's class), never a transcript.
        return self._envelope("FAILED", FailureReason=reason[:200])

    def _role(self, channel: Any, speaker: str | None, where: str) -> str:
        if speaker is not None:
            role = self.speakers.speakers.get(speaker)
            if role is None:
                raise TranscriptEventError(f"{where}: speaker label {speaker!r} has no participant role")
            return role
        if channel is not None:
            role = self.speakers.channels.get(str(channel))
            if role is None:
                raise TranscriptEventError(f"{where}: ChannelId {channel!r} has no participant role")
            return role
        raise TranscriptEventError(f"{where} has neither ChannelId nor item Speaker labels")

    def _id(self, *parts: object) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in (self.contact_id, *parts))))

    def _segments(self, result: Mapping[str, Any], where: str) -> Iterator[dict[str, Any]]:
        result_id = result.get("ResultId")
        if not isinstance(result_id, str) or not result_id:
            raise TranscriptEventError(f"{where}.ResultId is missing")
        partial = result.get("IsPartial", False)
        if not isinstance(partial, bool):
            raise TranscriptEventError(f"{where}.IsPartial is not a boolean")
        for index, run in enumerate(_runs(result, where)):
            role = self._role(result.get("ChannelId"), run.speaker, where)
            begin = self.offset_ms + round(run.begin_s * 1000)
            end = max(begin, self.offset_ms + round(run.end_s * 1000))
            final_id = self._id(result_id, index)
            if partial:
                yield {
                    "Utterance": {
                        "Id": self._id(result_id, index, "partial", end, run.text),
                        "TranscriptId": final_id,
                        "ParticipantId": role,
                        "ParticipantRole": role,
                        "PartialContent": run.text,
                        "BeginOffsetMillis": begin,
                        "EndOffsetMillis": end,
                    }
                }
            else:
                yield {
                    "Transcript": {
                        "Id": final_id,
                        "ParticipantId": role,
                        "ParticipantRole": role,
                        "Content": run.text,
                        "BeginOffsetMillis": begin,
                        "EndOffsetMillis": end,
                    }
                }

    def segments_event(self, transcript_event: Mapping[str, Any]) -> dict[str, Any] | None:
        """A TranscriptEvent -> one SEGMENTS event, or None when it holds no speech (empty results)."""
        if not isinstance(transcript_event, Mapping) or not isinstance(
            transcript_event.get("Transcript"), Mapping
        ):
            raise TranscriptEventError("TranscriptEvent has no Transcript object")
        results = transcript_event["Transcript"].get("Results")
        results = [] if results is None else results
        if not isinstance(results, list):
            raise TranscriptEventError("Transcript.Results is not a list")
        segments: list[dict[str, Any]] = []
        for index, result in enumerate(results):
            if not isinstance(result, Mapping):
                raise TranscriptEventError(f"Results[{index}] is not an object")
            segments.extend(self._segments(result, f"Results[{index}]"))
        return self._envelope("SEGMENTS", Segments=segments) if segments else None


def sdk_event_to_wire(event: Any) -> dict[str, Any]:
    """The amazon-transcribe SDK's TranscriptEvent object -> the API reference's JSON shape.

    The SDK parses the wire JSON into plain objects (amazon_transcribe.model); this is the inverse
    for the fields the converter reads, so the converter is tested on the documented shape alone.
    """
    results = []
    for r in getattr(event.transcript, "results", None) or []:
        alternatives = []
        for a in r.alternatives or []:
            items = [
                {
                    key: value
                    for key, value in (
                        ("Content", i.content),
                        ("StartTime", i.start_time),
                        ("EndTime", i.end_time),
                        ("Type", i.item_type),
                        ("Speaker", i.speaker),
                    )
                    if value is not None
                }
                for i in a.items or []
            ]
            alternatives.append({"Transcript": a.transcript, "Items": items})
        wire = {
            "ResultId": r.result_id,
            "StartTime": r.start_time,
            "EndTime": r.end_time,
            "IsPartial": r.is_partial,
            "Alternatives": alternatives,
        }
        if r.channel_id is not None:
            wire["ChannelId"] = r.channel_id
        results.append(wire)
    return {"Transcript": {"Results": results}}
