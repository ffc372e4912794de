"""Numbers as a speech synthesiser says them, so references and the language model hold words.

espeak-ng reads "7784" as "seven thousand seven hundred eighty four" and "0932" digit by
digit; the recogniser can only answer in words, so digits are spelled out the same way.
"""

from __future__ import annotations

import re

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"), (100, "hundred"))
_DIGITS = re.compile(r"\d+")


def number_words(value: int) -> str:
    if value < 20:
        return _ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for scale, name in _SCALES:
        if value >= scale:
            head, rest = divmod(value, scale)
            return f"{number_words(head)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def spell_numbers(text: str) -> str:
    """Replace each run of digits by words; a leading zero means digit by digit, as in "0932"."""

    def spoken(match: re.Match[str]) -> str:
        digits = match.group()
        if (digits.startswith("0") and len(digits) > 1) or len(digits) > 12:
            return " " + " ".join(_ONES[int(d)] for d in digits) + " "
        return f" {number_words(int(digits))} "

    return _DIGITS.sub(spoken, text)
