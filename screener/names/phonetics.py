"""Transliteration-aware keys: two spellings of one sound get one key, so romanisations meet.

Names reach the lists through several romanisation systems (German, French, English, ISO 9 for
Cyrillic; several for Arabic), so one name is written Tsvetkov or Cvetkov, Abramovich or Abramowitz,
Yevgeny or Evgeniy, Khaled or Haled. A keyboard typo model misses these (they change the first letter
or several letters at once); a key that writes each sound one way catches them. Two keys, in order of
confidence: the spelling key (consonant and vowel sounds folded, doubled letters collapsed), and the
vowel key (the spelling key with its vowels blurred, for Osama/Usama, Qaeda/Qaida) used only for
longer words, where the consonants have to agree; within it, the close-vowel key tells the vowels
romanisations swap most (e/i, o/u) from any others.

Chinese words written in pinyin are a closed set of syllables: two different pinyin words of as many
syllables are two different names ("Xinhua" is no "Xinhui", 钱江 no 钱塘), never a typo of each other.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jellyfish import metaphone

from screener.names.caches import bounded_cache

KEYED_CACHE_CHARS = 32  # keys of longer words are computed each time: the caches stay bounded in bytes

# spellings of one sound across romanisation systems, longest first
_SOUNDS = (
    ("tsch", "ch"), ("sch", "sh"), ("tch", "ch"), ("dzh", "j"), ("dj", "j"), ("zh", "j"), ("jh", "j"),
    ("kh", "h"), ("gh", "g"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("cz", "ch"), ("tz", "ts"),
    ("ou", "u"), ("oo", "u"), ("ee", "i"), ("ie", "i"), ("ey", "i"), ("iy", "i"), ("yi", "i"), ("dh", "d"),
)
_SOUND_MAP = dict(_SOUNDS)
_DIGRAPHS = re.compile("|".join(re.escape(a) for a, _ in _SOUNDS))  # longest first, left to right
_LETTERS = (("q", "k"), ("w", "v"), ("x", "ks"), ("y", "i"))  # after the digraphs above
_SOFT_C = re.compile(r"c(?=[eiy])")
_SLAVIC_C = re.compile(r"c(?!h)")
_DOUBLED = re.compile(r"(.)\1+")
_VOWEL_RUN = re.compile(r"[aeiou]+")
_SYLLABLE = re.compile(r"[aeiouy]+")
# Slavic patronymic and family-name endings, written -ovich, -owitz, -owicz, -ovitch, -ovic
_SLAVIC_ENDINGS = ("itsch", "itch", "itz", "icz", "ich", "its", "ic")
_SLAVIC_END = re.compile(rf"(?<=[ov])(?:{'|'.join(_SLAVIC_ENDINGS)})$")
MAX_KEYED = 14  # longer words (and words joined across spaces) are compared by typo budget alone


@bounded_cache(maxsize=262144, max_chars=KEYED_CACHE_CHARS)
def spelling_key(token: str) -> str:
    """One spelling for the sounds of a Latin word, or "" for words that are not letters only."""
    if not 3 <= len(token) <= MAX_KEYED or not token.isalpha() or not token.isascii():
        return ""
    s = token
    if s.startswith(("ye", "ie", "yo", "ju", "yu")) and len(s) > 4:
        s = s[1:]  # Yevgeny / Evgeniy, Yuri / Juri / Uri: a leading glide is a romanisation choice
    if s.endswith("js") and len(s) > 4:
        s = s[:-2] + "y"  # Latvian writes a final -й with its masculine -s: Sergejs / Sergey, Andrejs
    if _DIGRAPHS.search(s):
        s = _DIGRAPHS.sub(lambda m: _SOUND_MAP[m.group()], s)
    for letter, sound in _LETTERS:
        if letter in s:
            s = s.replace(letter, sound)
    if s.endswith(_SLAVIC_ENDINGS):
        s = _SLAVIC_END.sub("ich", s)
    if "c" in s:
        s = _SOFT_C.sub("s", s)  # soft c: Cencora / Sencora
        s = _SLAVIC_C.sub("ts", s)  # Slavic c: Cvetkov / Tsvetkov
    return _DOUBLED.sub(_first, s) if _DOUBLED.search(s) else s  # doubled letters: Hussein / Husein


def _first(m: re.Match[str]) -> str:
    return m.group(1)


@bounded_cache(maxsize=262144, max_chars=KEYED_CACHE_CHARS)
def vowel_key(token: str) -> str:
    """The spelling key with every run of vowels written "a", for words of five letters or more.

    Arabic and Korean names are romanised with whichever vowels the clerk hears (Osama / Usama,
    Qaeda / Qaida, Muammar / Moammar), while their consonants stay put.
    """
    if len(token) < 5:
        return ""
    return _VOWEL_RUN.sub("a", spelling_key(token))


_CLOSE_VOWELS = str.maketrans("eo", "iu")


@bounded_cache(maxsize=262144, max_chars=KEYED_CACHE_CHARS)
def close_vowel_key(token: str) -> str:
    """The spelling key with e written i and o written u, for words of five letters or more.

    These are the pairs romanisations swap for one vowel (Arabic kasra and damma: Ladin / Laden,
    Usama / Osama; unstressed Russian e: Yevgeny / Evgeniy), so they are closer than any two vowels;
    the diphthong written ai, ay or ei (Husain / Husayn / Hussein) is one sound too.
    """
    if len(token) < 5:
        return ""
    key = spelling_key(token)
    if "ei" in key:
        key = key.replace("ei", "ai")  # the Arabic diphthong: Husayn / Hussein / Husain, Zayd / Zeid
    key = key.translate(_CLOSE_VOWELS)
    return _DOUBLED.sub(_first, key) if _DOUBLED.search(key) else key


@bounded_cache(maxsize=262144, max_chars=KEYED_CACHE_CHARS)
def sound_key(token: str) -> str:
    """The Metaphone code (jellyfish) and syllable count of a word of five letters or more, or "" when
    the code keeps fewer than three sounds: spellings a romanisation key misses, where the first letter
    changes ("Qaddafi" / "Gaddafi", "Zelenskyy" / "Selenskyj") or a sound is written another way."""
    if len(token) < 5 or not token.isascii() or not token.isalpha():
        return ""
    key = metaphone(token)
    # with the count of syllables and the first vowel, which Metaphone drops, so that fewer words share
    # a key ("Kumar" / "Kamara": KMR2u, KMR3a); the rule then still wants two edits at most (`similarity`)
    if len(key) < 3:
        return ""
    syllables = _SYLLABLE.findall(token)
    return f"{key}{len(syllables)}{syllables[0][0] if syllables else ''}"


_ABJAD_LETTERS = str.maketrans("pvz", "bfs", "aeiouwy")  # no p, v in Arabic; vowels mostly unwritten


@bounded_cache(maxsize=65536, max_chars=KEYED_CACHE_CHARS)
def consonant_key(token: str) -> str:
    """The consonants of a word as an abjad writes them, or "" when fewer than three are left.

    Arabic, Persian and Hebrew write few vowels, so "فرناندو" comes out of transliteration as "frnandw"
    and "Fernando" can only meet it on its consonants: f-r-n-d. Vowels and the letters that stand for
    long vowels (w, y) are dropped and the sounds an abjad lacks (p, v) folded to their nearest (b, f).
    """
    if not token.isascii() or not token.isalpha():
        return ""
    token = token.replace("w", "")  # before the spelling key reads it as v
    key = (spelling_key(token) or token).translate(_ABJAD_LETTERS)
    key = _DOUBLED.sub(_first, key) if _DOUBLED.search(key) else key
    return key if len(key) >= 3 else ""


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Pinyin's syllables, compiled with the normaliser's terms: pypinyin's dictionary is not loaded
    for this at each start (it took half a `check` against CSL + SDN)."""
    from screener.names.normalize import vocabulary

    return vocabulary().pinyin_syllables


@bounded_cache(maxsize=65536, max_chars=KEYED_CACHE_CHARS)
def pinyin_syllables(token: str) -> int:
    """The fewest pinyin syllables that spell a word, 0 when none do."""
    if not token.isascii() or not token.isalpha() or len(token) < 2:
        return 0
    syllables = _pinyin_syllables()
    n = len(token)
    # reach[i]: fewest syllables that spell token[:i] (0 = unreachable, except the start)
    reach = [0] * (n + 1)
    reach[0] = 1
    for i in range(n):
        if not reach[i]:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            if token[i:j] in syllables and (not reach[j] or reach[j] > reach[i] + 1):
                reach[j] = reach[i] + 1
    return reach[n] - 1 if reach[n] else 0  # reach counts from 1
