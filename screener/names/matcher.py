"""The matcher: an index over every alias of every party, which finds the few worth scoring (`scoring`).

Candidate generation looks up input tokens (and joins of adjacent tokens) in an inverted index, exactly,
by romanisation key and within the same typo budget, and bounds each alias's best possible score before
scoring it. The bound is exact (a score can never exceed it), so the index loses no match that
exhaustive comparison of every alias would find above the reporting floor.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache, partial
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from screener.collector import kept
from screener.models import Alias, AliasKind, Match, Party, RestrictedList
from screener.names.normalize import NormalizedName, is_generic, normalize
from screener.names.phonetics import sound_key, spelling_key, vowel_key
from screener.names.scoring import (
    ACRONYM_SIMILARITY,
    MAX_ACRONYM,
    MIN_ACRONYM,
    REPORT_FLOOR,
    RESIDUE_GATE,
    IndexedAlias,
    Pairs,
    Query,
    Scored,
    TokenWeights,
    index_alias,
    initials_of,
    plain,
    score_above,
    units_of,
)
from screener.names.similarity import token_similarity, typo_budget
from screener.names.vessels import name_lines, named_parts, split_names

LOOKUP_CACHE, LOOKUP_CACHE_CHARS = 65536, 48  # input units kept per index: short ones only (see `caches`)
SCAN_ALL = 48  # a window of fewer keys is compared in full: the letter filter would cost more than it saves
_PLAIN_SCANS = 64  # look-ups filtered in Python before numpy is imported (see `_KeyGroup`)
PREFIX_FLOOR = min(REPORT_FLOOR, 100.0 * RESIDUE_GATE)  # the floor prefix postings serve (`_prefix_keys`)
WARM_WORDS = 3000  # the list's most frequent words, looked up before workers fork (`AliasIndex.warm`)


def _letters(text: str) -> int:
    """A 64-bit set of the characters of `text` (a to z, digits, anything else by its code)."""
    mask = 0
    for ch in text:
        code = ord(ch)
        mask |= 1 << (code - 97 if 97 <= code <= 122 else 26 + code - 48 if 48 <= code <= 57 else 36 + code % 28)
    return mask


class _KeyGroup:
    """Index keys of one beginning, sorted by length, with their character sets (64-bit masks).

    An edit adds at most one character to a word's set and removes at most one (a transposition
    neither), so a key within `budget` edits of a text differs from it by at most `budget` set bits
    each way (any mapping of characters to bits keeps that true). Testing this for a length window
    in one vectorised step leaves only a few keys for the exact (OSA) comparison. The masks are kept
    as a stdlib array, so that loading a cached index does not import numpy (a tenth of a second):
    the first few look-ups test in Python, later ones (a file being screened) with numpy.
    """

    __slots__ = ("_vector", "keys", "lengths", "masks")

    def __init__(self, keys: list[str], lengths: list[int], masks: array) -> None:
        self.keys, self.lengths, self.masks = keys, lengths, masks
        self._vector: tuple[Any, Any, Any] | None = None  # keys, masks and their sizes, in numpy

    def __getstate__(self) -> tuple[list[str], list[int], array]:
        return self.keys, self.lengths, self.masks

    def __setstate__(self, state: tuple[list[str], list[int], array]) -> None:
        self.__init__(*state)

    @classmethod
    def of(cls, keys: Iterable[str]) -> _KeyGroup:
        ordered = sorted(keys, key=len)
        return cls(ordered, [len(k) for k in ordered], array("Q", map(_letters, ordered)))

    def near(self, text: str, budget: int) -> list[str]:
        """Keys of a length within `budget` of `text` (and at least 4, see typo_budget) whose character
        sets allow `budget` edits from that of `text` (computed only for a window worth filtering)."""
        global _PLAIN_SCANS
        lo = bisect_left(self.lengths, max(4, len(text) - budget))
        hi = bisect_right(self.lengths, len(text) + budget)
        if hi - lo < SCAN_ALL:
            return self.keys[lo:hi]
        letters = _letters(text)
        if _PLAIN_SCANS > 0 and "numpy" not in sys.modules:
            _PLAIN_SCANS -= 1
            return [k for k, m in zip(self.keys[lo:hi], self.masks[lo:hi])
                    if (m & ~letters).bit_count() <= budget and (letters & ~m).bit_count() <= budget]
        import numpy as np

        if self._vector is None:
            masks = np.frombuffer(self.masks, dtype=np.uint64)
            self._vector = (np.array(self.keys, dtype=object), masks, np.bitwise_count(masks))
        keys, masks, sizes = self._vector
        # letters of the key missing from the text number the key's count less the shared ones, and
        # the text's missing from the key the text's count less them: both within `budget` exactly when
        # the larger count less the shared ones is
        shared = np.bitwise_count(masks[lo:hi] & np.uint64(letters))
        ok = np.maximum(sizes[lo:hi], letters.bit_count()) - shared <= budget
        return keys[lo:hi][ok].tolist()


def _sounds(token: str) -> set[str]:
    """The keys under which `token_similarity` finds spelling variants of a word."""
    return {spelling_key(token), vowel_key(token), sound_key(token)} - {""}


# What `candidates` reads of an alias to bound its score: its short_least, least_total and weights, and
# its index keys, each with the tokens it covers (a bit mask) and their weight. Kept apart from the
# alias, a kept index (`indexcache`) decodes an alias only when it is scored, not for every seed it
# rejects; a plain tuple, as it decodes in a third of a named one's time.
_Bound = tuple[float, float, tuple[float, ...], dict[str, tuple[int, float]], float]


def _bound(alias: IndexedAlias) -> _Bound:
    masks: dict[str, int] = defaultdict(int)
    for unit in alias.units:
        masks[unit.text] |= ((1 << (unit.size + 1)) - 1) << unit.start
    keys = {text: (mask, sum(w for i, w in enumerate(alias.weights) if mask >> i & 1)) for text, mask in masks.items()}
    return alias.short_least, alias.least_total, alias.weights, keys, min(alias.short_least, alias.cut_least)


def _prefix_keys(bound: _Bound, wanted: float) -> list[str]:
    """The alias's keys that any input reaching `wanted` against it pairs with at least one of.

    A bound (`AliasIndex.candidates`) counts each token of the alias at most once, at its weight
    times a similarity of at most 1, and must reach `wanted` % of short_least. So the tokens left
    once the heaviest are taken away, weighing less than that together, cannot reach it alone: an
    input that does pairs with a key covering one of the heaviest (the prefix filter of set
    similarity joins). A generic word is rarely among an alias's heaviest, so it seeds few aliases.
    """
    short_least, _, weights, keys, _ = bound
    need = wanted * short_least / 100.0
    rest, heaviest = sum(weights), 0
    for i in sorted(range(len(weights)), key=weights.__getitem__, reverse=True):
        if rest < need * (1 - 1e-9):  # short of the bound's own sums, whatever their rounding
            break
        heaviest |= 1 << i
        rest -= weights[i]
    return [text for text, (mask, _) in keys.items() if mask & heaviest]


def _lookup_in(
    singles: frozenset[str],
    postings: dict[str, Any],
    by_sound: dict[str, list[str]],
    by_first: dict[tuple[str, bool], _KeyGroup],
    text: str,
    singles_only: bool,
) -> tuple[tuple[str, float, str], ...]:
    """Index keys that `text` can match, exactly, as a spelling variant or within their typo budget.

    A key pairs with `text` only within typo_budget(min(len(key), len(text))) edits, never more than
    typo_budget(len(text)): that budget bounds the search window, the letter filter (`_KeyGroup`)
    and the cutoff, losslessly; spelling variants share a key of `phonetics` with `text`, so they are
    looked up by that key, and every other pair is a typo keeping (or swapping) the first letter.
    """
    hits: dict[str, tuple[float, str]] = {}
    if text in (singles if singles_only else postings):
        hits[text] = (1.0, "exact")
    sounds = () if singles_only else _sounds(text)
    for sound in sounds:  # a single input word against single alias words (see token_similarity)
        for key in by_sound.get(sound, ()):
            if key not in hits:
                sim, rule = token_similarity(key, text)
                if sim > 0:
                    hits[key] = (sim, rule)
    budget = typo_budget(len(text))
    # keys with the same first letter, or with the first two swapped
    scans = () if not budget else (text[0], text[1::-1]) if text[0] != text[1] else (text[0],)
    for prefix in scans:
        group = by_first.get((prefix, singles_only))
        if group is None:
            continue
        near = group.near(text, budget)
        if not near:
            continue
        for key, _, _ in process.extract(text, near, scorer=OSA.distance, score_cutoff=budget, limit=None):
            if key not in hits:
                sim, rule = token_similarity(key, text, not singles_only and key in singles)
                if sim > 0:
                    hits[key] = (sim, rule)
    return tuple((key, sim, rule) for key, (sim, rule) in hits.items())


# a name in each script the normaliser reads its own way (see `AliasIndex.warm`)
_WARM_NAMES = ("Hikvision Europe B.V.", "杭州海康威视数字技术股份有限公司", "ООО Ромашка", "شركة النور",
               "삼성전자 주식회사", "Ελληνική Εταιρεία", "חברת אלון בע\"מ", "M/V Northern Star (ex-Gull)")


class AliasIndex:
    """Every alias of every party of one or more lists, indexed by token."""

    def __init__(self, lists: Sequence[tuple[str, RestrictedList]]) -> None:
        # the index is about a million long-lived objects: built with the cycle collector paused, then
        # frozen, so that no collection walks them (see `screener.collector`)
        with kept():
            self._build(lists)

    def _build(self, lists: Sequence[tuple[str, RestrictedList]]) -> None:
        self.parties: list[tuple[str, Party]] = []
        raw: list[tuple[int, Alias, NormalizedName, set[str]]] = []
        df: dict[str, int] = defaultdict(int)
        spelled: dict[int, frozenset[str]] = {}  # per party: the initials its names of several words spell
        for key, lst in lists:
            for party in lst.parties:
                idx = len(self.parties)
                self.parties.append((key, party))
                seen_norms: dict[tuple[str, ...], set[str]] = {}
                for alias in (a for whole in party.all_names() for a in _split_alias(whole)):
                    norm = normalize(alias.name)
                    if not norm.tokens:
                        continue
                    if norm.tokens not in seen_norms:
                        raw.append((idx, alias, norm, seen_norms.setdefault(norm.tokens, set())))
                    seen_norms[norm.tokens].add(plain(alias.name))
                for token in {t for tokens in seen_norms for t in tokens}:
                    df[token] += 1
                spelled[idx] = frozenset(initials_of(t) for t in seen_norms if MIN_ACRONYM <= len(t) <= MAX_ACRONYM)
        self.weight = TokenWeights(dict(df), len(self.parties))
        self.aliases: list[IndexedAlias] = []
        # per alias: what bounds its score (`_Bound`)
        self._bounds: list[_Bound] = []
        # postings: index key -> [(alias index, share of the alias's weight the key covers in %, that
        # share times the alias's number of tokens)], largest product first (see `candidates`)
        postings: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        for idx, alias, norm, written in raw:
            a_idx = len(self.aliases)
            indexed = index_alias(idx, alias, norm, self.weight, frozenset(written), spelled[idx])
            self.aliases.append(indexed)
            bound = _bound(indexed)
            self._bounds.append(bound)
            keys = bound[3]
            for text, (_, key_weight) in keys.items():
                share = 100.0 * key_weight / indexed.short_least if indexed.short_least else 0.0
                postings[text].append((a_idx, share, share * len(indexed.weights)))
        self._postings = {key: sorted(p, key=lambda x: -x[2]) for key, p in postings.items()}
        # prefix postings: index key -> the aliases it can seed at PREFIX_FLOOR (`_prefix_keys`)
        prefix: dict[str, list[int]] = defaultdict(list)
        for a_idx, bound in enumerate(self._bounds):
            for text in _prefix_keys(bound, PREFIX_FLOOR - 0.1):
                prefix[text].append(a_idx)
        self._prefix = {key: tuple(holders) for key, holders in prefix.items()}
        # aliases by the keys they start with: the only ones a cut input can be read against as cut
        # (its first word pairs with theirs, `scoring._cut_from`), which bound it more loosely
        first: dict[str, list[int]] = defaultdict(list)
        for a_idx, indexed in enumerate(self.aliases):
            for text in {unit.text for unit in indexed.units if unit.start == 0}:
                first[text].append(a_idx)
        self._first = {key: tuple(holders) for key, holders in first.items()}
        singles = {t for a in self.aliases for t in a.norm.tokens}
        self._singles = frozenset(singles)
        # aliases by their initials ("kui" for "Khuddam ul Islam"): an input word that is an alias's
        # initials pairs with all of it (`_candidate_pairs`), which no token key finds
        acronyms: dict[str, list[int]] = defaultdict(list)
        for a_idx, indexed in enumerate(self.aliases):
            if indexed.person or not MIN_ACRONYM <= len(indexed.norm.tokens) <= MAX_ACRONYM:
                continue
            if initials := initials_of(indexed.norm.tokens):
                acronyms[initials].append(a_idx)
        self._acronyms = dict(acronyms)
        # keys by first letter and by first two, all and single-token only: a joined input unit is only
        # ever paired with a single alias token (joins on both sides are never scored), so it need not
        # search joined keys; a typo keeps the first letter or swaps it with the second (token_similarity)
        by_first: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for key in self._postings:
            for prefix in {key[:1], key[:2]}:
                by_first[(prefix, False)].append(key)
                if key in singles:
                    by_first[(prefix, True)].append(key)
        self._by_first = {group: _KeyGroup.of(keys) for group, keys in by_first.items()}
        # keys by their romanisation and Metaphone keys, so that spelling variants (which may change the
        # first letter) are found without a scan; the two kinds of key never collide (lower / upper case)
        by_sound: dict[str, list[str]] = defaultdict(list)
        for key in singles:
            for sound in _sounds(key):
                by_sound[sound].append(key)
        self._by_sound = dict(by_sound)
        self.start_caches()

    CACHES = ("_lookup_uncached", "_lookup")  # made by start_caches, never stored (`indexcache`)

    def start_caches(self) -> None:
        """The look-up and its cache, over the index's tables but not the index itself: a cache of a
        bound method would make every index a reference cycle, which the collector never frees once
        frozen (`kept`), so a service swapping in the index of each new list version kept every old one."""
        self._lookup_uncached = partial(_lookup_in, self._singles, self._postings, self._by_sound, self._by_first)
        self._lookup = lru_cache(maxsize=LOOKUP_CACHE)(self._lookup_uncached)

    def warm(self) -> None:
        """Load now what matching loads on first use: the normaliser's terms, pypinyin's dictionaries,
        ICU's transliterators, rigour's tagger and numpy (`_KeyGroup`). Worker processes forked after
        this share one copy of them, instead of each loading its own (a second of CPU per worker).
        The list's WARM_WORDS most frequent words are then looked up as input words would be: names
        share the words lists share most (trading, technology, places, given names), and each look-up
        fills what it reads (its cache entry, the keys' romanisation and sound keys, a kept index's
        decoded chunks) once for every worker. They last as long as the process, so they are kept off
        the cycle collector (`kept`)."""
        with kept():
            import numpy  # noqa: F401

            for name in _WARM_NAMES:
                self.match(normalize(name))
                is_generic(name)
            df = self.weight.df
            for word in heapq.nlargest(WARM_WORDS, df, key=df.__getitem__):
                self._lookup(word, False)

    def prepare(self, norm: NormalizedName) -> Query:
        """Look every input unit up once; scoring then reads pairs instead of comparing strings."""
        units = units_of(norm.tokens)
        pairs: Pairs = defaultdict(list)
        for unit in units:
            # a short unit's keys are kept (bounded: entries x a short key and its few hits); a long one,
            # rare and unbounded in size, is looked up each time
            lookup = self._lookup if len(unit.text) <= LOOKUP_CACHE_CHARS else self._lookup_uncached
            for key, sim, rule in lookup(unit.text, unit.size > 0):
                pairs[key].append((unit, sim, rule))
        return Query(norm, units, dict(pairs))

    def candidates(self, query: Query, floor: float) -> list[int]:
        """Aliases whose best possible score reaches `floor`, via the bound described above.

        An alias's bound is the sum of the shares of its tokens the input can pair with: each token
        weighs its weight times the best similarity of any input unit its keys pair with (a pair's
        value in `score_alias` is never more), against the total once middle names are discounted,
        which a score's coverage never falls below. It is computed for a few seeds alone. At the
        usual floor (PREFIX_FLOOR and above) the seeds are the aliases one of whose prefix keys the
        input pairs with (`_prefix_keys`). Below it, an alias reaching `floor` through k index keys
        has one key worth at least floor/k of it (its share times the best similarity the input pairs
        it with), and one of its n tokens is worth at least floor/n, so the key pairing that token
        is too: one key is worth floor/min(k, n). Postings are sorted by share times n, so each key
        is read only down to floor.
        """
        pairs = query.pairs or {}
        floor = min(floor, 100.0 * RESIDUE_GATE)  # left-over words can lift an alias half found (score_alias)
        best_sim = {key: max(found[1] for found in pairs_of) for key, pairs_of in pairs.items()}
        q_tokens = query.norm.tokens
        # the input's initials as an alias's word ("PLA" for "People's Liberation Army"), and the input's
        # words as an alias's initials: acronym pairs of `_candidate_pairs`, worth ACRONYM_SIMILARITY
        initials = initials_of(q_tokens) if MIN_ACRONYM <= len(q_tokens) <= MAX_ACRONYM else ""
        if initials in self._postings:
            best_sim[initials] = max(best_sim.get(initials, 0.0), ACRONYM_SIMILARITY)
        whole = {a_idx for t in set(q_tokens) for a_idx in self._acronyms.get(t, ())} \
            if 100.0 * ACRONYM_SIMILARITY >= floor else set()
        if not best_sim:  # no word pairs with an alias key: only an alias whose initials the input writes
            return list(whole)
        wanted = floor - 0.1  # scores are rounded to 0.1
        seeds: set[int] = set()
        if floor >= PREFIX_FLOOR:  # any alias reaching it pairs with one of its prefix keys
            prefix = self._prefix
            for key in best_sim:
                if holders := prefix.get(key):
                    seeds.update(holders)
        else:
            least = wanted / len(best_sim)
            for key, sim in best_sim.items():
                # a key is worth its share times the best similarity it pairs with; postings are read
                # down to the first whose share times its alias's tokens falls short, then filtered by share
                reach, cut = wanted / sim, least / sim
                for a_idx, share, spread in self._postings[key]:
                    if spread < reach:
                        break
                    if share >= cut:
                        seeds.add(a_idx)
        # an input that may be cut is read as cut only against aliases starting as it does, whose words
        # past its end weigh less (scoring._cut_from): those are bounded by their cut_least
        as_cut: set[int] = set()
        if query.cut:
            first = self._first
            for key, found in pairs.items():
                if any(unit.start == 0 for unit, _, _ in found) and (holders := first.get(key)):
                    as_cut.update(holders)
            seeds |= as_cut
        out = []
        bounds, query_keys = self._bounds, best_sim.keys()
        for a_idx in seeds:
            short_least, least_total, weights, keys, cut_least = bounds[a_idx]
            if not short_least:
                continue
            got, covered, overlap = 0.0, 0, False
            for key in keys.keys() & query_keys:  # the few keys both have (a set operation in C)
                mask, key_weight = keys[key]
                overlap = overlap or bool(covered & mask)
                covered |= mask
                got += best_sim[key] * key_weight
            # a short form of a person's name needs two of its tokens found (score_alias)
            need = wanted * (short_least if covered.bit_count() >= 2 else least_total) / 100.0
            if a_idx in as_cut:
                need = min(need, wanted * cut_least / 100.0)
            if got < need:
                continue  # the sum over keys is at least the bound, overlapping or not
            if overlap:  # keys sharing tokens: each token counts once, at its best similarity
                got = sum(weights[i] * max(sim for key, sim in best_sim.items()
                                           if key in keys and keys[key][0] >> i & 1)
                          for i in range(len(weights)) if covered >> i & 1)
                if got < need:
                    continue
            out.append(a_idx)
        if whole:
            out.extend(whole.difference(out))
        out.sort()  # in index order, as exhaustive comparison reads them: of a party's aliases scoring alike,
        return out  # the first listed is the one reported

    def match(
        self,
        norm: NormalizedName,
        *,
        floor: float = REPORT_FLOOR,
        limit: int = 5,
        exhaustive: bool = False,
    ) -> list[tuple[int, IndexedAlias, Scored]]:
        """Best alias per party, best party first, for every party scoring at least `floor`."""
        if not norm.tokens:
            return []
        query = self.prepare(norm)
        pool: Iterable[int] = range(len(self.aliases)) if exhaustive else self.candidates(query, floor)
        if exhaustive:
            query = Query(norm, query.units, None)  # compare every unit pair, bypassing the index
        best: dict[int, tuple[IndexedAlias, Scored]] = {}
        for a_idx in pool:
            alias = self.aliases[a_idx]
            scored = score_above(query, alias, self.weight, floor)
            if scored is None or scored.score < floor:
                continue
            held = best.get(alias.party)
            if held is None or scored.score > held[1].score:
                best[alias.party] = (alias, scored)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1].score, kv[0]))
        return [(party, alias, scored) for party, (alias, scored) in ranked[:limit]]

    def match_name(
        self, name: str, *, floor: float = REPORT_FLOOR, limit: int = 5
    ) -> list[tuple[int, IndexedAlias, Scored]] | None:
        """`match` for a raw name, each of its names (see `vessels.split_names`, `vessels.name_lines`)
        on its own, best per party; None when no name in it has a token."""
        parts = split_names(name) if "\n" not in name else \
            list(dict.fromkeys(part for line in name_lines(name) for part in split_names(line)))
        norms = [n for n in (normalize(part) for part in parts) if n.tokens]
        if not norms:
            return None
        if len(norms) == 1:
            return self.match(norms[0], floor=floor, limit=limit)
        best: dict[int, tuple[int, IndexedAlias, Scored]] = {}
        for norm in norms:
            for found in self.match(norm, floor=floor, limit=limit):
                if found[0] not in best or found[2].score > best[found[0]][2].score:
                    best[found[0]] = found
        return sorted(best.values(), key=lambda f: (-f[2].score, f[0]))[:limit]

    def to_match(self, party_idx: int, scored: Scored, secondary: list[str]) -> Match:
        key, party = self.parties[party_idx]
        explanation = scored.explanation.model_copy(update={"secondary": secondary})
        return Match(
            entity_id=party.id,
            entity_name=party.name,
            list_name=party.list_name,
            list_key=key,
            programme=party.programme,
            fr_citation=party.fr_citation,
            entity_type=party.entity_type,
            country=party.country,
            score=scored.score,
            matched_alias=scored.explanation.alias,
            explanation=explanation,
            sources=party.sources,
        )


_PART_KINDS = {"former": AliasKind.FORMER, "trade": AliasKind.BRAND}  # "aka" and a slash keep the field's


def _split_alias(alias: Alias) -> list[Alias]:
    """An alias field naming other names too as one alias per name: a vessel's former names ("X
    (ex-Y)"), the names a party is also known by or trades under ("SIBERIAN AIRLINES D/B/A S7
    AIRLINES", "FUYI SUN A/K/A FRANK SUN")."""
    parts = named_parts(alias.name)
    if len(parts) == 1:
        return [alias]
    return [alias.model_copy(update={"name": parts[0][0]})] + [
        Alias(name=name, kind=_PART_KINDS.get(kind, alias.kind)) for name, kind in parts[1:]]
