"""Amazon Transcribe batch output <-> :class:`Conversation`.

Handles the three shapes Transcribe writes: channel identification
(``channel_labels``), speaker diarization (``speaker_labels``) and a plain
transcript with neither.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .conversation import Conversation, Role, Turn

# Amazon Connect puts the customer on the first channel; in mono calls the
# agent usually speaks first, so the customer is the second speaker.
DEFAULT_CUSTOMER_CHANNEL = "ch_0"
DEFAULT_CUSTOMER_SPEAKER = "spk_1"


class TranscriptError(ValueError):
    """The document is not a usable Transcribe output."""


class MalformedTranscriptError(TranscriptError):
    """The document lacks the structure Transcribe writes (``results``, ``items``)."""


class EmptyTranscriptError(TranscriptError):
    """The document is well formed but holds no spoken words."""


@dataclass(frozen=True)
class _Token:
    speaker: str
    start_time: float
    content: str
    is_punctuation: bool


def parse_transcript(
    document: Mapping[str, Any],
    *,
    customer_channel: str = DEFAULT_CUSTOMER_CHANNEL,
    customer_speaker: str = DEFAULT_CUSTOMER_SPEAKER,
) -> Conversation:
    """Group a Transcribe output document into turns.

    Raises :class:`MalformedTranscriptError` or :class:`EmptyTranscriptError`.
    """
    if not isinstance(document, Mapping):
        raise MalformedTranscriptError("transcript document is not a JSON object")
    results = document.get("results")
    if not isinstance(results, Mapping):
        raise MalformedTranscriptError("transcript document has no 'results' object")

    if isinstance(results.get("channel_labels"), Mapping):
        tokens = _channel_tokens(results["channel_labels"])
        customer = customer_channel
    elif isinstance(results.get("speaker_labels"), Mapping):
        tokens = _speaker_tokens(_items(results), results["speaker_labels"])
        customer = customer_speaker
    else:
        tokens = _plain_tokens(_items(results), results)
        customer = "customer"

    turns = _group(tokens, customer)
    if not turns:
        raise EmptyTranscriptError("transcript contains no spoken words")
    return Conversation(tuple(turns))


def _items(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = results.get("items", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise MalformedTranscriptError("'results.items' is not a list of objects")
    return items


def _content(item: Mapping[str, Any]) -> str:
    try:
        return str(item["alternatives"][0]["content"])
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedTranscriptError("an item has no 'alternatives[0].content'") from exc


def _time(value: Any, default: float) -> float:
    try:
        moment = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return moment if math.isfinite(moment) else default


def _tokens(items: Iterable[Mapping[str, Any]], speaker_of) -> list[_Token]:
    """Punctuation has no time or speaker of its own: it follows the word before it."""
    tokens: list[_Token] = []
    for item in items:
        punctuation = item.get("type") == "punctuation"
        if punctuation and tokens:
            prev = tokens[-1]
            speaker, start = prev.speaker, prev.start_time
        else:
            start = _time(item.get("start_time"), tokens[-1].start_time if tokens else 0.0)
            speaker = speaker_of(item, start)
        tokens.append(_Token(speaker, start, _content(item), punctuation))
    return tokens


def _channel_tokens(channel_labels: Mapping[str, Any]) -> list[_Token]:
    channels = channel_labels.get("channels")
    if not isinstance(channels, list):
        raise MalformedTranscriptError("'channel_labels.channels' is not a list")
    tokens: list[_Token] = []
    for channel in channels:
        if not isinstance(channel, Mapping):
            raise MalformedTranscriptError("a channel entry is not an object")
        label = str(channel.get("channel_label", ""))
        items = channel.get("items", [])
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise MalformedTranscriptError("a channel has no list of item objects")
        tokens.extend(_tokens(items, lambda _item, _start, label=label: label))
    # Interleave the channels by time; stable, so punctuation stays after its word.
    tokens.sort(key=lambda t: t.start_time)
    return tokens


def _speaker_tokens(items: Sequence[Mapping[str, Any]], speaker_labels: Mapping[str, Any]) -> list[_Token]:
    # Older outputs put the speaker only in the segments, keyed by start time.
    by_start: dict[str, str] = {}
    segments = speaker_labels.get("segments") or []
    if not isinstance(segments, list) or not all(isinstance(s, Mapping) for s in segments):
        raise MalformedTranscriptError("'speaker_labels.segments' is not a list of objects")
    for segment in segments:
        seg_items = segment.get("items") or []
        if not isinstance(seg_items, list) or not all(isinstance(i, Mapping) for i in seg_items):
            raise MalformedTranscriptError("a speaker segment has no list of item objects")
        for seg_item in seg_items:
            by_start[str(seg_item.get("start_time"))] = str(seg_item.get("speaker_label", ""))

    def speaker_of(item: Mapping[str, Any], _start: float) -> str:
        label = item.get("speaker_label") or by_start.get(str(item.get("start_time")))
        return str(label or "")

    return _tokens(items, speaker_of)


def _plain_tokens(items: Sequence[Mapping[str, Any]], results: Mapping[str, Any]) -> list[_Token]:
    if items:
        return _tokens(items, lambda _item, _start: "customer")
    # Some producers write only the flat transcript; it is still one customer turn.
    transcripts = results.get("transcripts")
    first = transcripts[0] if isinstance(transcripts, list) and transcripts else None
    text = str(first.get("transcript") or "") if isinstance(first, Mapping) else ""
    return [_Token("customer", 0.0, text, False)] if text.strip() else []


def _group(tokens: Sequence[_Token], customer: str) -> list[Turn]:
    turns: list[Turn] = []
    speaker: str | None = None
    words: list[str] = []
    start = 0.0

    def flush() -> None:
        text = "".join(words).strip()
        if text:
            role = Role.CUSTOMER if speaker == customer else Role.AGENT
            turns.append(Turn(role, text, start))

    for token in tokens:
        if token.speaker != speaker and not token.is_punctuation:
            flush()
            speaker, words, start = token.speaker, [], token.start_time
        words.append(token.content if token.is_punctuation or not words else " " + token.content)
    flush()
    return turns


# --- the reverse direction: used by the local Transcribe stand-in and the skew tests ---

_TOKEN = re.compile(r"[^\s.,?!]+(?:[.,?!]+(?=[^\s.,?!]))*[^\s.,?!]*|[.,?!]")


def tokenize(text: str) -> list[tuple[str, bool]]:
    """Split text as Transcribe does: words, and ``. , ? !`` as separate punctuation items."""
    return [(m, m in {".", ",", "?", "!"}) for m in _TOKEN.findall(text)]


def build_transcript(
    turns: Sequence[Turn],
    *,
    job_name: str = "local-job",
    account_id: str = "000000000000",
    mode: str = "channels",
    customer_channel: str = DEFAULT_CUSTOMER_CHANNEL,
    agent_channel: str = "ch_1",
    customer_speaker: str = DEFAULT_CUSTOMER_SPEAKER,
    agent_speaker: str = "spk_0",
    seconds_per_word: float = 0.3,
) -> dict[str, Any]:
    """A Transcribe output document for the given turns (mode: channels, speakers or plain)."""
    if mode not in {"channels", "speakers", "plain"}:
        raise ValueError(f"unknown mode {mode!r}")
    items: list[dict[str, Any]] = []
    for turn in sorted(turns, key=lambda t: t.start_time):
        customer = turn.role is Role.CUSTOMER
        clock = turn.start_time
        for content, punctuation in tokenize(turn.text):
            item: dict[str, Any] = {
                "alternatives": [{"confidence": "0.0" if punctuation else "0.99", "content": content}],
                "type": "punctuation" if punctuation else "pronunciation",
            }
            if not punctuation:
                item["start_time"] = f"{clock:.2f}"
                clock += seconds_per_word
                item["end_time"] = f"{clock - 0.02:.2f}"
            if mode == "channels":
                item["channel_label"] = customer_channel if customer else agent_channel
            elif mode == "speakers":
                item["speaker_label"] = customer_speaker if customer else agent_speaker
            items.append(item)

    transcript = " ".join(t.text for t in sorted(turns, key=lambda t: t.start_time))
    results: dict[str, Any] = {"transcripts": [{"transcript": transcript}], "items": items}
    if mode == "channels":
        results["channel_labels"] = {
            "channels": [
                {"channel_label": label, "items": [i for i in items if i["channel_label"] == label]}
                for label in (customer_channel, agent_channel)
            ],
            "number_of_channels": 2,
        }
    elif mode == "speakers":
        results["speaker_labels"] = {
            "channel_label": "ch_0",
            "speakers": 2,
            "segments": _segments(items),
        }
    return {"jobName": job_name, "accountId": account_id, "results": results, "status": "COMPLETED"}


def _segments(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    for item in items:
        if item["type"] == "punctuation":
            continue
        entry = {k: item[k] for k in ("start_time", "end_time", "speaker_label")}
        if segments and segments[-1]["speaker_label"] == item["speaker_label"]:
            segments[-1]["items"].append(entry)
            segments[-1]["end_time"] = item["end_time"]
        else:
            segments.append({**entry, "items": [entry]})
    return segments
