import pytest
from churn_local.transcribe.numbers import number_words, spell_numbers
from churn_local.transcribe.wer import normalise, word_error_rate


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (35, "thirty five"),
        (100, "one hundred"),
        (7784, "seven thousand seven hundred eighty four"),
        (2_000_005, "two million five"),
    ],
)
def test_number_words(value, words):
    assert number_words(value) == words


def test_spell_numbers_reads_leading_zeros_digit_by_digit():
    assert " ".join(spell_numbers("ending in 0932, 35 dollars").split()) == (
        "ending in zero nine three two , thirty five dollars"
    )


def test_normalise_ignores_case_and_punctuation_but_keeps_apostrophes():
    assert normalise("Yes! I'm SURE, it's 12.") == "yes i'm sure it's twelve"


def test_word_error_rate_over_a_corpus():
    assert word_error_rate("I want to cancel.", "i want to cancel") == 0.0
    assert word_error_rate(["one two", "three four"], ["one two", "three"]) == pytest.approx(0.25)
    assert word_error_rate("hello world", "") == 1.0
    with pytest.raises(ValueError):
        word_error_rate(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        word_error_rate("...", "anything")
