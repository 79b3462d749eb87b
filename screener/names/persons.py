"""Parts of personal names that say little about who someone is: titles, patronymics, particles.

The official lists hold individuals, written with and without a patronymic ("Vladimir Vladimirovich
Putin"), a title ("Dr.", "Shaikh"), and Arabic or Dutch particles ("bin", "al-", "van der"). These
parts weigh little, so a name given without them still matches, and two people who share only them
do not. A patronymic ending a name is a family name (Abramovich, Lukashevich) and weighs in full; two
different patronymics are two different fathers (see `scoring`).
"""

from __future__ import annotations

import re

from screener.names.caches import bounded_cache
from screener.names.phonetics import KEYED_CACHE_CHARS

# East Slavic, Turkic and Icelandic patronymics: -ovich, -evna, -ogly, -kyzy, -dottir
_PATRONYMIC = re.compile(
    r"^[a-z]{3,}(?:ovich|evich|ovitch|evitch|ovych|evych|ovna|evna|ivna|ichna|ogly|oglu|kyzy|dottir)$"
)
_PARTICLES = frozenset(
    {
        "bin",
        "ibn",
        "ben",
        "bint",
        "binti",
        "al",
        "el",
        "ul",
        "ud",
        "ur",
        "abu",
        "umm",
        "van",
        "von",
        "der",
        "den",
        "de",
        "des",
        "da",
        "di",
        "du",
        "dos",
        "das",
        "del",
        "la",
        "le",
        "ter",
        "y",
        "e",
    }
)
_TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "lord",
        "lady",
        "president",
        "praesident",
        "prasident",
        "shaikh",
        "sheikh",
        "shaykh",
        "sheik",
        "haji",
        "hajji",
        "mullah",
        "maulana",
        "mawlana",
        "qari",
        "imam",
        "monsieur",
        "madame",
        "herr",
        "frau",
    }
)


# "son of", "daughter of", "father of": the names either side of these play different parts
_LINEAGE = frozenset({"bin", "ibn", "ben", "bint", "binti", "ould", "abu", "umm"})


def is_lineage(token: str) -> bool:
    """A particle naming a relative ("Salman bin Hamad": Salman, son of Hamad)."""
    return token in _LINEAGE


def has_lineage(tokens: tuple[str, ...]) -> bool:
    return not _LINEAGE.isdisjoint(tokens)


def is_patronymic(token: str) -> bool:
    return bool(_PATRONYMIC.match(token))


@bounded_cache(maxsize=65536, max_chars=KEYED_CACHE_CHARS)
def is_minor_part(token: str) -> bool:
    """A title, particle or patronymic: present in many names, so weak evidence of identity."""
    return token in _PARTICLES or token in _TITLES or bool(_PATRONYMIC.match(token))
