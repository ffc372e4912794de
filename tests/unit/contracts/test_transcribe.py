import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.transcribe import (
    EmptyTranscriptError,
    MalformedTranscriptError,
    build_transcript,
    parse_transcript,
    tokenize,
)

from tests.conftest import load_format


def test_channel_identification_reference_output():
    conversation = parse_transcript(load_format("transcribe-output-channel-identification.json"))
    assert [(t.role, t.text) for t in conversation.turns] == [
        (Role.CUSTOMER, "I've been on hold for an hour."),
        (Role.AGENT, "Sorry about that."),
    ]
    assert conversation.turns[0].start_time == pytest.approx(4.86)
    assert conversation.customer_text == "I've been on hold for an hour."


def test_channel_identification_customer_channel_is_configurable():
    document = load_format("transcribe-output-channel-identification.json")
    assert parse_transcript(document, customer_channel="ch_1").customer_text == "Sorry about that."


def test_speaker_labels_reference_output_customer_is_second_speaker():
    conversation = parse_transcript(load_format("transcribe-output-speaker-labels.json"))
    assert [(t.role, t.text) for t in conversation.turns] == [
        (Role.AGENT, "I've been on hold for an hour."),
        (Role.CUSTOMER, "Sorry about that."),
    ]
    assert conversation.customer_text == "Sorry about that."


def test_speaker_labels_customer_speaker_is_configurable():
    document = load_format("transcribe-output-speaker-labels.json")
    conversation = parse_transcript(document, customer_speaker="spk_0")
    assert conversation.customer_text == "I've been on hold for an hour."


def test_speaker_taken_from_segments_when_items_lack_it():
    document = load_format("transcribe-output-speaker-labels.json")
    for item in document["results"]["items"]:
        item.pop("speaker_label", None)
    assert parse_transcript(document).customer_text == "Sorry about that."


def test_plain_transcript_is_one_customer_turn():
    document = load_format("transcribe-output-channel-identification.json")
    results = document["results"]
    del results["channel_labels"]
    for item in results["items"]:
        item.pop("channel_label")
    conversation = parse_transcript(document)
    assert [(t.role, t.text) for t in conversation.turns] == [
        (Role.CUSTOMER, "I've been on hold for an hour. Sorry about that.")
    ]


def test_plain_transcript_without_items_falls_back_to_transcript_text():
    document = {"results": {"transcripts": [{"transcript": "Just the text."}], "items": []}}
    assert parse_transcript(document).customer_text == "Just the text."


@pytest.mark.parametrize(
    "document",
    [{}, {"results": None}, {"jobName": "x"}, [], {"results": {"items": "nope"}}],
)
def test_malformed_documents_raise_a_named_error(document):
    with pytest.raises(MalformedTranscriptError):
        parse_transcript(document)


def test_item_without_content_is_malformed():
    document = {"results": {"items": [{"type": "pronunciation", "start_time": "1.0"}]}}
    with pytest.raises(MalformedTranscriptError, match="content"):
        parse_transcript(document)


def test_no_words_raises_empty_error():
    with pytest.raises(EmptyTranscriptError):
        parse_transcript({"results": {"transcripts": [{"transcript": ""}], "items": []}})


def test_tokenize_splits_punctuation_like_transcribe():
    assert tokenize("Well, I'm not happy... U.S. plan?") == [
        ("Well", False),
        (",", True),
        ("I'm", False),
        ("not", False),
        ("happy", False),
        (".", True),
        (".", True),
        (".", True),
        ("U.S", False),
        (".", True),
        ("plan", False),
        ("?", True),
    ]


TURNS = [
    Turn(Role.AGENT, "Thanks for calling, how can I help?", 0.0),
    Turn(Role.CUSTOMER, "My bill went up again, and I'm not happy at all.", 3.0),
    Turn(Role.AGENT, "I'm sorry to hear that.", 8.0),
    Turn(Role.CUSTOMER, "Can you fix it? Otherwise I'm leaving!", 10.0),
]


@pytest.mark.parametrize("mode", ["channels", "speakers"])
def test_built_documents_parse_back_to_the_same_turns(mode):
    conversation = parse_transcript(build_transcript(TURNS, mode=mode))
    assert [(t.role, t.text) for t in conversation.turns] == [(t.role, t.text) for t in TURNS]


def test_built_plain_document_keeps_every_word():
    conversation = parse_transcript(build_transcript(TURNS, mode="plain"))
    assert conversation.customer_text == " ".join(t.text for t in TURNS)
