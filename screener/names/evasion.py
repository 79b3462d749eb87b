"""Evasive spellings undone: letters dotted or spaced out, and digits written for letters.

"M.E.G.V.I.I.", "M E G V I I", "海 康 威 视" and "HUAWE1" are the same names written so that a word
index misses them; dotted legal forms ("B.V.", "S.A.", "K.K.") are the same pattern and read the same
way ("B.V." = "BV"). Each rewrite is recorded as a rule, since it is evidence an analyst should see.
"""

from __future__ import annotations

import re

# a run of single letters each followed by a dot ("m.e.g.v.i.i.", "b.v.", "u.s."), the last dot optional
_DOTTED = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.){2,}(?:[^\W\d_](?![^\W_]))?")
_HAN_SPACED = re.compile(r"(?<=[\u3400-\u9fff]) +(?=[\u3400-\u9fff])")
_LEET = str.maketrans("013457890", "oieastbgo")
_LEET_DIGITS = frozenset("01345789")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th)$")  # "1st" is a number (see `numbers`), not "ist"


def join_letters(text: str, rules: list[str]) -> str:
    """Dotted letters ("b.v.") and spaced-out Chinese characters joined into the word they spell."""

    def dotted(m: re.Match[str]) -> str:
        joined = m.group().replace(".", "")
        rules.append(f"dotted letters joined: {m.group()}→{joined}")
        return joined

    if "." in text:
        text = _DOTTED.sub(dotted, text)
    if not text.isascii() and _HAN_SPACED.search(text):
        rules.append("spaced Chinese characters joined")
        text = _HAN_SPACED.sub("", text)
    return text


def join_single_letters(words: list[str], rules: list[str]) -> list[str]:
    """Three or more one-letter words in a row ("M E G V I I", "M-E-G", "A:B:C") read as the word they
    spell; on words rather than text, so that it holds however the letters are separated."""
    if sum(len(word) == 1 for word in words) < 3:
        return words  # no run of three (most names)
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        # a run is of one kind: letters left in their own script (no transliteration) are not joined to
        # Latin ones, since the joined word would be transliterated, and changed, when read again
        if len(word) == 1 and word.isalpha() and (not run or run[0].isascii() == word.isascii()):
            run.append(word)
            continue
        if len(run) >= 3:
            joined = "".join(run)
            rules.append(f"spaced letters joined: {' '.join(run)}→{joined}")
            out.append(joined)
        else:
            out.extend(run)
        run = [word] if len(word) == 1 and word.isalpha() else []
        if word and not run:
            out.append(word)
    return out


def unleet(word: str, rules: list[str]) -> str:
    """A word of letters with a few digits standing for look-alike letters ("huawe1", "megv11") read as letters.

    Only where letters are at least twice the digits and every digit has a look-alike letter, so that
    codes, numbers and ordinals ("A320", "3M", "44", "1st") stay as they are.
    """
    if word.isalpha() or word.isdigit() or not word.isascii() or not word.isalnum() or _ORDINAL.match(word):
        return word
    digits = sum(c.isdigit() for c in word)
    letters = len(word) - digits
    if letters < 2 * digits or not all(c in _LEET_DIGITS for c in word if c.isdigit()):
        return word
    read = word.translate(_LEET)
    rules.append(f"digits read as letters: {word}→{read}")
    return read
