"""Known words: a frequent English word is never a typo of another frequent word.

"Summit Traders" and "Summit Trainers", "Cardinal Health" and "Cardinal Wealth" are one edit or two
apart, but each is a word people write on purpose: a slip of the keyboard rarely lands on another
common word. Frequencies come from wordfreq's small English table (about 29,000 words used at least
once in a million, from many corpora), so the rule needs no word list of our own; they are compiled
once with the normaliser's terms, since importing wordfreq takes about a fifth of a second. British
and American spellings of one word ("colour" / "color", "defence" / "defense") are one word.
"""

from __future__ import annotations

import re
from functools import lru_cache

FREQUENT_ZIPF = 3.5  # about three uses in a million words: "traders", "painters", "medal" and up (the
# small table holds every word from 3.0 up, so nothing frequent enough is missing from it)
EVERYDAY_ZIPF = 4.0  # ten in a million: "components", "holding", "daniel"; the names of groups in the news
# sit below it ("taliban" 3.7, "hamas" 3.6, "wagner" 3.7), so a listed name in them is never "everyday"
_DOUBLED = re.compile(r"(.)\1+")
_ENDINGS = frozenset({"s", "es", "al", "ed", "ing", "er", "ers", "ly", "ic", "ical", "ial"})  # after _spelling


def frequent_words(zipf: float = FREQUENT_ZIPF) -> list[str]:
    """The words of the table at `zipf` or more (zipf is log10 of uses per billion words), four letters
    or longer. Compiled once with the normaliser's terms (`normalize._compiled_terms`), so a start-up
    reads them from JSON and never imports wordfreq."""
    from wordfreq import get_frequency_dict

    least = 10 ** (zipf - 9)
    return sorted(w for w, f in get_frequency_dict("en", wordlist="small").items() if f >= least and len(w) >= 4)


@lru_cache(maxsize=1)
def _frequent() -> frozenset[str]:
    from screener.names.normalize import vocabulary

    return vocabulary().frequent_words


def is_frequent_word(token: str) -> bool:
    """Whether a token is a common English word (names as common as "Victor" count too): one set lookup,
    where wordfreq's own lookup first tokenises the word."""
    return token in _frequent()


@lru_cache(maxsize=1)
def _everyday() -> frozenset[str]:
    from screener.names.normalize import vocabulary

    return vocabulary().everyday_words


def is_everyday_word(token: str) -> bool:
    """Whether a token is one of the words of every day (EVERYDAY_ZIPF), which a name shares with many."""
    return token in _everyday()


def _spelling(word: str) -> str:
    """A word with the letters British and American spellings (and a plural) disagree on folded."""
    word = word.replace("our", "or").replace("ae", "e").replace("z", "s").replace("c", "s")
    if word.endswith("re") and word[-3:-2] not in "aeiou":  # centre, fibre; not "culture"
        word = word[:-2] + "er"
    word = _DOUBLED.sub(r"\1", word)
    if word.endswith("ium"):
        word = word[:-3] + "um"
    word = word.removesuffix("s").removesuffix("e")
    return word[:-1] + "i" if word.endswith("y") else word  # industry / industrial


def same_word(a: str, b: str) -> bool:
    """One word in two spellings or inflections ("agriculture" / "agricultural", "colour" / "color")."""
    if a == b:
        return True
    a, b = sorted((_spelling(a), _spelling(b)), key=len)
    return a == b or (b.startswith(a) and b[len(a) :] in _ENDINGS)


def different_words(a: str, b: str) -> bool:
    """Two different common words ("traders" / "trainers"), neither a spelling nor an inflection of the
    other ("agriculture" / "agricultural" are one word)."""
    return is_frequent_word(a) and is_frequent_word(b) and not same_word(a, b)
