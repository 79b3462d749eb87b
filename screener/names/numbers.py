"""Numbers in names, read to one form: digits, Roman numerals, ordinals and number words.

Vessels, funds and branches are told apart by their numbers alone ("Maru No. 3" and "No. 5", "Fund II"
and "Fund III"), so a number is read to its value wherever it is written ("Forty-Four" = "44", "1st" =
"First" = "1", "XV" = "15"), and the matcher then requires the numbers of both names to agree.
"""

from __future__ import annotations

import re

_UNITS = (
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
)
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "fourty": 40,  # misspelt, but often
    "ninty": 90,
}
_ORDINAL_UNITS = (
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
)
_ORDINAL_TENS = {k[:-1] + "ieth": v for k, v in _TENS.items()}
# the number words most often misspelt ("fourty" and "ninty" are tens above): a number read wrong is a name missed
_MISSPELT = {"nineth": 9, "twelth": 12, "ninteen": 19, "ninteenth": 19}
WORDS: dict[str, int] = {
    **{w: i for i, w in enumerate(_UNITS)},
    **{w: i for i, w in enumerate(_ORDINAL_UNITS)},
    **_TENS,
    **_ORDINAL_TENS,
    **_MISSPELT,
}
_ORDINAL_DIGITS = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_ROMAN = re.compile(r"^(?=[ivx])(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
MARKERS = frozenset({"no", "nr", "number", "num"})  # "No. 3": the marker says nothing once the number is read


def roman_value(token: str) -> int | None:
    """The value of a Roman numeral of i, v and x (up to 39), else None."""
    if not _ROMAN.match(token):
        return None
    total, prev = 0, 0
    for ch in reversed(token):
        v = _ROMAN_VALUES[ch]
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total


def read_numbers(words: list[str], rules: list[str]) -> list[str]:
    """Words with every number written as its digits; number words that add up ("forty four") merge.

    A Roman numeral counts only after two words of a name, where funds and vessels carry it ("Capital
    Trust XV"), so that "Xi" or "Vi" at the start of a name stays a name.
    """
    if not any(w[:1].isdigit() or w in WORDS or not w.strip("ivx") for w in words):
        return words
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        value: int | None = None
        used = 1
        m = _ORDINAL_DIGITS.match(word)
        if m:
            value = int(m.group(1))
        elif word in WORDS:
            value = WORDS[word]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            unit = WORDS.get(nxt, int(nxt) if nxt.isdigit() and len(nxt) == 1 else None)
            if word in _TENS and unit is not None and 0 < unit < 10:
                value, used = value + unit, 2
        elif len(out) >= 2 and (len(word) >= 2 or i == len(words) - 1):
            value = roman_value(word)
        if value is None:
            out.append(word)
            i += 1
            continue
        read = " ".join(words[i : i + used])
        if read != str(value):
            rules.append(f"number read: {read}→{value}")
        if out and out[-1] in MARKERS:
            out.pop()
        out.append(str(value))
        i += used
    return [w for k, w in enumerate(out) if not (w in MARKERS and k + 1 < len(out) and out[k + 1].isdigit())]


def numbers_of(tokens: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t for t in tokens if t.isdigit())
