import pytest
from churn_local.transcribe.language_model import build_arpa, cached_arpa, sentences


def test_sentences_split_at_words_the_recogniser_cannot_say():
    vocabulary = frozenset({"i", "want", "to", "cancel", "my", "plan", "thirty", "five"})
    assert sentences(["I want to cancel my xyzzy plan.", "Thirty-five? 35!"], vocabulary) == [
        "i want to cancel my",
        "plan",
        "thirty five thirty five",
    ]


def test_arpa_model_loads_in_pocketsphinx(tmp_path):
    from pocketsphinx import NGramModel

    path = build_arpa(["I want to cancel my contract", "thank you for calling"], tmp_path / "lm.arpa")
    text = path.read_text()
    assert "\\data\\" in text and "ngram 3=" in text and " cancel " in text
    model = NGramModel.readfile(str(path))
    assert model.prob(["cancel", "to", "want"]) > model.prob(["calling", "to", "want"])


def test_no_usable_words_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        build_arpa(["### ?!", "qzxv"], tmp_path / "lm.arpa")


def test_cached_models_are_reused_per_corpus(tmp_path):
    first = cached_arpa(["i want a refund"], tmp_path)
    stamp = first.stat().st_mtime_ns
    assert cached_arpa(["i want a refund"], tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert cached_arpa(["i want to cancel"], tmp_path) != first
