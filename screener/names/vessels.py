"""Vessel prefixes and former names: "M/V NORTHERN STAR (ex-NORTHERN GULL)" is two names of one ship.

Lists and shipping documents write a ship with its type prefix ("M/V", "MT", "SS", rigour's object-prefix
table) and its earlier names in the same field ("(ex-…)", "f.k.a.", "formerly"). The prefix is removed
(only where a name of two words or more is left, so "MT Trading" stays), and the field is split into
its names, each screened on its own, so that a ship renamed to evade a listing is found by either name.
Names joined by a slash ("Al-Qa'ida/Islamic Army") are split the same way. An input name written on
several lines (a cell with line breaks, SAP's NAME1 and NAME2 columns joined by the reader) is screened
whole and line by line (`name_lines`).
"""

from __future__ import annotations

import re

from rigour.names import remove_obj_prefixes

_FORMER = re.compile(
    r"\s*(?:\(\s*(?:ex|formerly|f\.?k\.?a\.?|a\.?k\.?a\.?)\b[\s.:-]*([^)]*)\)"
    r"|[,;]?\s+(?:ex-|f\.?k\.?a\.?\s|formerly(?:\s+known\s+as)?\s|a\.?k\.?a\.?\s)\s*(.+))",
    re.IGNORECASE,
)


_HINTS = ("(", "/", "ex", "k.a", "ka ", "formerly")  # a name without any of these holds one name
# "Al-Qa'ida/Islamic Army": a slash between words (not in "M/V" or "A/S") separates two names
_SLASH = re.compile(r"(?<=[^\W\d_]{2})\s*/\s*(?=[^\W\d_]{2})")


def split_names(raw: str) -> list[str]:
    """The names a field holds: the current one first, then each former or other name it gives."""
    lower = raw.lower()
    if not any(hint in lower for hint in _HINTS):
        return [raw]
    names: list[str] = []
    rest = raw
    if "/" in raw:
        parts = _SLASH.split(raw)
        if len(parts) > 1:
            return [n for part in parts for n in split_names(part)]
    while True:
        m = _FORMER.search(rest)
        if not m or not rest[: m.start()].strip():
            names.append(rest)
            break
        names.append(rest[: m.start()])
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        rest = (inner or "") + rest[m.end() :] if m.group(1) is not None else inner or ""
    return [n.strip(" ,;") for n in names if n.strip(" ,;")] or [raw]


def name_lines(raw: str) -> list[str]:
    """An input name of several lines as the whole and each line: a name wrapped mid-word ("Hik-" /
    "vision Digital Technology") is found whole, and a second line naming another party ("c/o ...")
    on its own."""
    if "\n" not in raw:
        return [raw]
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    return [" ".join(lines), *lines] if len(lines) > 1 else lines or [raw]


def strip_vessel_prefix(words: list[str], rules: list[str]) -> list[str]:
    """A leading vessel-type prefix ("M/V", "MT", "SS") removed where two words or more remain.

    On words rather than raw text, so that punctuation cannot hide a prefix the first time and reveal
    it the next ("ß:0:0" is the words "ss 0 0" either way): normalising stays idempotent.
    """
    if len(words) < 3:
        return words
    text = " ".join(words)
    prefix = len(text[: len(text) - len(remove_obj_prefixes(text))].split())  # the regex ends on a space
    if not prefix or len(words) - prefix < 2:
        return words
    rules.append(f"vessel prefix removed: {' '.join(words[:prefix])}")
    return words[prefix:]
