import json

import pytest
from churn_contracts.endpoint import parse_score, prediction
from churn_contracts.topics import (
    COMPLAINT_TOPICS,
    MAX_SENTENCE_CHARS,
    TOPIC_IDS,
    CallTopics,
    TopicsError,
    canonical,
    from_reasons,
    summarise,
)


def test_table_has_one_praise_and_complaints():
    assert "praise" in TOPIC_IDS and "praise" not in COMPLAINT_TOPICS
    assert {"coverage", "billing", "service", "competitor", "device"} == COMPLAINT_TOPICS
    assert canonical("network") == "coverage" and canonical("price") == "billing"
    assert canonical("weather") is None


def test_summarise_counts_every_sentence_and_keeps_the_strongest():
    sentences = ["The signal drops.", "No coverage at home.", "I'm cancelling.", "Thanks."]
    labels = [[("coverage", 0.6)], [("coverage", 0.8)], [("cancel", 0.7), ("coverage", 0.2)], []]
    topics = summarise(sentences, labels, method="test")
    assert topics.sentences == 4
    assert topics.counts == {"coverage": 3, "cancel": 1}
    assert topics.strongest["coverage"].text == "No coverage at home."
    assert topics.strongest["coverage"].sentence == 1
    assert topics.ranked() == ["coverage", "cancel"]
    assert topics.main_complaint() == "coverage"
    assert summarise(["I'm cancelling."], [[("cancel", 0.9)]]).main_complaint() is None


def test_round_trip_and_bounded_text():
    topics = summarise(["x" * 1000], [[("billing", 0.5)]])
    back = CallTopics.from_dict(json.loads(json.dumps(topics.to_dict())))
    assert back == topics
    assert len(back.strongest["billing"].text) == MAX_SENTENCE_CHARS


def test_a_sentence_leads_with_one_complaint_the_main_complaint_counts_those():
    # Three sentences: two about the people, each heard more weakly as coverage too (customers
    # say "service" for both), and one about the signal.
    sentences = ["Terrible customer service.", "Nobody calls back.", "No signal at home."]
    labels = [
        [("service", 0.9), ("coverage", 0.7)],
        [("coverage", 0.55), ("service", 0.8)],
        [("coverage", 0.95)],
    ]
    topics = summarise(sentences, labels)
    assert topics.counts == {"service": 2, "coverage": 3}
    assert topics.leads == {"service": 2, "coverage": 1}
    assert topics.main_complaint() == "service"  # by counts alone it would be coverage
    assert topics.complaints()[0] == "coverage"  # the display order stays by sentences
    back = CallTopics.from_dict(json.loads(json.dumps(topics.to_dict())))
    assert back == topics and back.main_complaint() == "service"


def test_non_complaints_never_lead_and_old_documents_fall_back_to_counts():
    topics = summarise(["I'm leaving.", "Your bill is too high."], [[("cancel", 0.99)], [("billing", 0.6)]])
    assert topics.leads == {"billing": 1} and topics.main_complaint() == "billing"
    old = topics.to_dict()
    del old["leads"]  # a document stored before "leads"
    assert CallTopics.from_dict(old).leads == {}
    assert CallTopics.from_dict(old).main_complaint() == "billing"
    # A lead count is bounded by the topic's sentences, and only complaints present lead.
    forged = {**topics.to_dict(), "leads": {"billing": 9, "cancel": 1, "device": 2}}
    assert CallTopics.from_dict(forged).leads == {"billing": 1}


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"counts": []},
        {"counts": {"billing": -1}},
        {"counts": {"billing": True}},
        {"counts": {"billing": 1}, "strongest": {"billing": {"text": "a", "strength": 2}}},
        {"counts": {"billing": 1}, "strongest": {"billing": {"strength": 0.5}}},
        {"counts": {"billing": 1}, "leads": []},
        {"counts": {"billing": 1}, "leads": {"billing": -1}},
    ],
)
def test_malformed_documents_raise(bad):
    with pytest.raises(TopicsError):
        CallTopics.from_dict(bad)


def test_unknown_topics_from_a_newer_table_are_dropped():
    topics = CallTopics.from_dict({"counts": {"weather": 2, "device": 1}, "strongest": {}})
    assert topics.counts == {"device": 1}


def test_endpoint_answer_carries_topics_and_old_models_have_none():
    topics = summarise(["You overcharged me."], [[("billing", 0.7)]])
    score = parse_score(json.dumps(prediction(0.4, "m", [], topics=topics)))
    assert score.topics == topics and score.topics_problem is None
    assert parse_score(json.dumps(prediction(0.4, "m", []))).topics is None


def test_a_malformed_topics_answer_keeps_the_score():
    score = parse_score(json.dumps({"probability": 0.4, "topics": {"counts": "x"}}))
    assert score.probability == 0.4 and score.topics is None
    assert "counts" in score.topics_problem


def test_topics_from_phrase_reasons_use_the_new_ids():
    reasons = [
        {"kind": "phrase", "value": "The network is awful.", "topic": "network", "topic_similarity": 0.5},
        {"kind": "profile", "name": "Day Mins", "value": 300},
        {"kind": "phrase", "value": "Hello.", "topic": "other", "topic_similarity": 0.1},
    ]
    topics = from_reasons(reasons)
    assert topics.counts == {"coverage": 1} and topics.sentences == 2
