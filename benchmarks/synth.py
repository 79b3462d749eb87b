"""Synthetic customer names: restricted-party variants of every kind, and clean names that must stay clear.

Variants are made by rule from the list's own aliases (never from the development set), so the quality
benchmark measures how the matcher generalises to names it has never seen. Clean names mix invented
company names, generic-word names, unlisted Chinese public security bureaus and look-alikes that share
letters with a listed name but not its identity.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass

from screener.models import AliasKind, EntityType, RestrictedList
from screener.names.normalize import is_generic, normalize

LEGAL_SUFFIXES = [
    "Co., Ltd.", "Co Ltd", "Company Limited", "Limited", "Ltd", "Inc", "Inc.", "Corp", "Corporation",
    "GmbH", "LLC", "Co.", "CO., LTD", "Pte Ltd", "S.A.", "B.V.", "PLC", "Holdings Ltd",
]
CHINESE_LEGAL = ["有限公司", "股份有限公司", "有限责任公司"]
COUNTRIES = ["Australia", "Canada", "Europe", "UK", "France", "Germany", "India", "Brasil", "Middle East",
             "Korea", "Japan", "Singapore", "USA", "Mexico", "Italia", "Netherlands"]
CYRILLIC = {"a": "а", "o": "о", "e": "е", "i": "і", "c": "с", "p": "р", "x": "х", "y": "у"}
GENERIC_WORDS = ["Technology", "Digital", "Information", "Science", "Electronics", "Systems", "Trading",
                 "Industrial", "International", "Network", "Solutions", "Engineering", "Security",
                 "Vision", "Smart", "Intelligent", "Supply", "Logistics", "Manufacturing", "Services"]
PLACES = ["Hangzhou", "Shenzhen", "Beijing", "Shanghai", "Zhejiang", "Xinjiang", "Guangzhou", "Xiamen",
          "Chengdu", "Wuxi", "Nanjing", "Suzhou", "Tianjin", "Hefei", "Wuhan", "Dalian", "Ningbo"]
UNLISTED_PSB_PLACES = ["Shenzhen", "Guangzhou", "Beijing", "Shanghai", "Chongqing", "Lhasa", "Hohhot",
                       "Xining", "Lanzhou", "Yinchuan", "Nanning", "Kunming", "Harbin", "Jilin"]
SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "vex", "sol", "dra", "qui", "zen", "bel", "mar", "tek", "ion",
             "ara", "nova", "lux", "gen", "tri", "ster", "well", "corp", "ver", "dyn", "pol", "ran", "sun"]
WESTERN = ["Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne",
           "Soylent", "Vandelay", "Hooli", "Pied Piper", "Wonka", "Gringotts", "Monarch", "Oceanic"]


@dataclass(frozen=True)
class Labelled:
    name: str
    entity_id: str | None  # None: must stay clear
    kind: str


def _distinctive(tokens: list[str]) -> int | None:
    """Index of the most distinctive word of an alias (longest non-generic), if any."""
    best = None
    for i, word in enumerate(tokens):
        norm = normalize(word).tokens
        if not norm or any(is_generic(t) for t in norm) or not word.isalpha():
            continue
        if best is None or len(word) > len(tokens[best]):
            best = i
    return best


def typo(word: str, rng: random.Random, edits: int = 1) -> str:
    for _ in range(edits):
        i = rng.randrange(1, max(2, len(word) - 1))
        op = rng.choice(["insert", "delete", "transpose", "double"])
        if op == "insert":
            word = word[:i] + rng.choice("aeiou") + word[i:]
        elif op == "delete" and len(word) > 5:
            word = word[:i] + word[i + 1 :]
        elif op == "transpose" and i < len(word) - 1:
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            word = word[:i] + word[i] + word[i:]
    return word


def variants(lst: RestrictedList, rng: random.Random, per_kind: int = 1) -> Iterator[Labelled]:
    """Restricted-party variants of each kind, made by rule from every Latin-script alias."""
    for party in lst.parties:
        latin = [a for a in party.all_names() if a.name.isascii() and len(a.name) > 3]
        chinese = [a for a in party.all_names() if a.kind == AliasKind.CHINESE]
        for _ in range(per_kind):
            alias = rng.choice(latin).name
            words = alias.replace(",", "").split()
            d = _distinctive(words)
            yield Labelled(f"{alias.upper() if rng.random() < 0.5 else alias} {rng.choice(LEGAL_SUFFIXES)}",
                           party.id, "legal-form")
            if d is not None:
                w = words[d]
                cut = rng.randrange(2, len(w) - 1) if len(w) > 4 else None
                if cut:
                    spaced = words[:d] + [w[:cut] + rng.choice(["-", " ", ""]) + w[cut:]] + words[d + 1 :]
                    yield Labelled(" ".join(spaced).upper(), party.id, "spacing")
                if len(w) >= 5:
                    typoed = words[:d] + [typo(w, rng, 1 if len(w) < 8 else rng.choice([1, 2]))] + words[d + 1 :]
                    yield Labelled(" ".join(typoed), party.id, "typo")
                    glyphs = "".join(CYRILLIC.get(c, c) if rng.random() < 0.3 else c for c in w)
                    if glyphs != w:
                        yield Labelled(" ".join(words[:d] + [glyphs] + words[d + 1 :]), party.id, "homoglyph")
                    if party.entity_type == EntityType.COMPANY:
                        own = " ".join(x for x in words if not any(is_generic(t) for t in normalize(x).tokens))
                        yield Labelled(f"{own} {rng.choice(COUNTRIES)} {rng.choice(LEGAL_SUFFIXES)}", party.id,
                                       "affiliate")
            if len(words) > 2:
                shuffled = words[:]
                rng.shuffle(shuffled)
                yield Labelled(" ".join(shuffled), party.id, "reorder")
            fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in alias)
            yield Labelled(fullwidth, party.id, "fullwidth")
            if chinese:
                cn = rng.choice(chinese).name
                for legal in CHINESE_LEGAL:
                    cn = cn.replace(legal, "")
                yield Labelled(cn + (rng.choice(CHINESE_LEGAL) if rng.random() < 0.5 else ""), party.id, "chinese")


def clean_names(lst: RestrictedList, rng: random.Random, n: int) -> Iterator[Labelled]:
    """Names that must stay clear: invented, generic, unlisted bureaus, and letter-sharing look-alikes."""
    distinct = sorted({
        w for p in lst.parties for a in p.all_names() if a.name.isascii()
        for w in a.name.replace(",", "").split()
        if len(w) >= 6 and w.isalpha() and not is_generic(w.lower())
    })
    for i in range(n):
        kind = rng.choice(["invented", "generic", "psb", "lookalike", "western"])
        if kind == "invented":
            stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 3]))).capitalize()
            name = f"{rng.choice(PLACES)} {stem} {rng.choice(GENERIC_WORDS)} {rng.choice(LEGAL_SUFFIXES)}"
        elif kind == "generic":
            words = rng.sample(GENERIC_WORDS, rng.choice([1, 2, 3]))
            name = " ".join(([rng.choice(PLACES)] if rng.random() < 0.6 else []) + words + [rng.choice(LEGAL_SUFFIXES)])
        elif kind == "psb":
            name = f"{rng.choice(UNLISTED_PSB_PLACES)} {rng.choice(['Municipal ', ''])}Public Security Bureau"
        elif kind == "lookalike" and distinct:
            w = rng.choice(distinct)
            # keep a prefix, replace the rest: shares letters, not identity (3+ letters differ)
            keep = max(3, len(w) // 2 - 1)
            tail = "".join(rng.choice(string.ascii_lowercase) for _ in range(max(3, len(w) - keep)))
            name = f"{w[:keep]}{tail} {rng.choice(GENERIC_WORDS)} {rng.choice(LEGAL_SUFFIXES)}".capitalize()
        else:
            name = f"{rng.choice(WESTERN)} {rng.choice(GENERIC_WORDS)} {rng.choice(LEGAL_SUFFIXES)}"
        yield Labelled(name, None, f"clean-{kind}")
