"""Vessel prefixes and former names: "M/V NORTHERN STAR (ex-NORTHERN GULL)" is two names of one ship.

Lists and shipping documents write a ship with its type prefix ("M/V", "MT", "SS", rigour's object-prefix
table) and its earlier names in the same field ("(ex-…)", "f.k.a.", "formerly"). The prefix is removed
(only where a name of two words or more is left, so "MT Trading" stays), and the field is split into
its names, each screened on its own, so that a ship renamed to evade a listing is found by either name.
Names joined by a slash ("Al-Qa'ida/Islamic Army") are split the same way, and so are the names a
party is also known by or trades under ("SIBERIAN AIRLINES D/B/A S7 AIRLINES", "FUYI SUN A/K/A FRANK
SUN" on the CSL; "t/a", "trading as", "doing business as"), on the list's side as on the customer's,
each with what the field says of it (`named_parts`). An input name written on
several lines (a cell with line breaks, SAP's NAME1 and NAME2 columns joined by the reader) is screened
whole and line by line (`name_lines`).
"""

from __future__ import annotations

import re

from rigour.names import remove_obj_prefixes

# What introduces another name of the same party, by what it says of that name: an earlier one, one
# it is also known by, or one it trades under ("SIBERIAN AIRLINES D/B/A S7 AIRLINES" on the CSL).
_MARK = (r"(?P<former>{ex}|formerly(?:\s+known\s+as)?|f\.\s?k\.\s?a\b\.?|f/k/a)"
         r"|(?P<aka>a\.\s?k\.\s?a\b\.?|a/k/a|also\s+known\s+as)"
         r"|(?P<trade>d\.\s?b\.\s?a\b\.?|d/b/a|t/a|trading\s+as|doing\s+business\s+as)")
_BARE = r"(?P<bare_former>fka)|(?P<bare_aka>aka)|(?P<bare_trade>dba)"
# "(ex-Y)", "(ex Y)", "[aka Y]": the bracket holds the other name; "X, formerly Y", "X ex-Y", "X d/b/a Y":
# the rest does ("Alex Ex Machina" is one name)
_EX_IN_BRACKETS, _EX_AFTER = r"ex(?=[\s.:-])", "ex-"
_BRACKET = re.compile(r"\s*[(\[]\s*(?:" + _MARK.format(ex=_EX_IN_BRACKETS) + "|" + _BARE
                      + r")(?![\w/])[\s.:-]*([^)\]]*)[)\]]", re.IGNORECASE)
_TRAILING = re.compile(r"[,;]?\s+(?:" + _MARK.format(ex=_EX_AFTER) + r")(?:(?<=-)|(?![\w/]))[\s.:-]*(?=\S)",
                       re.IGNORECASE)
# a bare word ("aka", "dba") separates names only after two words or more ("Nordic DBA Consulting" is one)
_BARE_WORD = re.compile(rf"\s+(?:{_BARE})\s+", re.IGNORECASE)
# a field that starts with the trade marker ("DBA Behover Information Technologies", a CSL brand)
_LEADING = re.compile(r"(?:d\.\s?b\.\s?a\.?|d/b/a|dba|t/a|trading\s+as)\s+(?=\S+\s+\S)", re.IGNORECASE)

Part = tuple[str, str]  # a name and how the field introduces it: "" (the first), former, aka or trade

# a name without any of these holds one name: one scan of the name, as nearly every name has none
_HINTS = re.compile(r"[(\[/]|ex|k\.a|ka |formerly|known as|b\.a|dba|trading as|business as")  # on lower case
# "Al-Qa'ida/Islamic Army": a slash between words (not in "M/V" or "A/S") separates two names
_SLASH = re.compile(r"(?<=[^\W\d_]{2})\s*/\s*(?=[^\W\d_]{2})")


def _kind(match: re.Match[str]) -> str:
    return next(k for k, v in match.groupdict().items() if v is not None).removeprefix("bare_")


def _bare(text: str) -> re.Match[str] | None:
    for found in _BARE_WORD.finditer(text):
        if len(text[: found.start()].split()) >= 2 and text[found.end():].strip():
            return found
    return None


def named_parts(raw: str) -> list[Part]:
    """The names a field holds, each with how the field introduces it: the current one first."""
    if _HINTS.search(raw.lower()) is None:
        return [(raw, "")]
    if "/" in raw and len(parts := _SLASH.split(raw)) > 1:
        return [(name, kind if i or j else "") for i, part in enumerate(parts)
                for j, (name, kind) in enumerate(named_parts(part))]
    if (lead := _LEADING.match(raw)) is not None:  # the field itself, and the name it trades under
        return [(raw, ""), *((name, kind or "trade") for name, kind in named_parts(raw[lead.end():]))]
    out: list[Part] = []
    rest, kind = raw, ""
    while True:
        found = [m for m in (_BRACKET.search(rest), _TRAILING.search(rest), _bare(rest))
                 if m is not None and rest[: m.start()].strip()]
        if not found:
            out.append((rest, kind))
            break
        first = min(found, key=lambda m: m.start())
        out.append((rest[: first.start()], kind))
        if first.re is _BRACKET:  # what follows the bracket goes with the name it holds
            rest = (first.groups()[-1] or "") + rest[first.end():]
        else:
            rest = rest[first.end():]
        kind = _kind(first)
    parts = [(name.strip(" ,;"), kind) for name, kind in out if name.strip(" ,;")]
    return parts or [(raw, "")]


def split_names(raw: str) -> list[str]:
    """The names a field holds: the current one first, then each former or other name it gives."""
    return [name for name, _ in named_parts(raw)]


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
