"""How one input name scores against one alias, and why: a score that can be explained.

For one input name against one alias (both normalised, see `normalize`):

* every alias token carries a weight: how distinctive it is across the list (an inverse document
  frequency over parties) times a prior that is low for generic words (domains, places, org words),
  numbers and minor parts of personal names (`persons`);
* alias tokens are aligned with input tokens, each pair by a named rule of `similarity` (exact,
  romanisation variant, typo, across spacing: "Hik Vision" ~ "hikvision"); once half the alias is
  found, left-over words pair loosely (an initial, a similar word, the input's last word as the start
  of the alias's next one: a name cut at a field's length, "... Manufacturing Interna");
* coverage = the weighted share of the alias found in the input (a person's missing middle names weigh
  half, and the words past the end of an input cut at a field's length a quarter, `CUT_LENGTHS`);
  words the input has beyond the alias lower the score a little (a subsidiary carrying the
  party's distinctive name stays a hit), or fully for weak aliases and where they replace a
  distinctive word of the alias; numbers and patronymics must agree, and another kind of organisation
  costs 15%; names swapped about "bin" ("Salman bin Hamad" / "Hamad bin Salman") are two people;
* a join across a word of one or two letters ("Ya Mahdi" ~ "Yamahdi") counts for 85%, and a name made
  of the initials of the other's words ("PLA") pairs with all of them at 80%;
* score = top x coverage x (1 - penalty); top is 100 for the alias as written, 99 for a name equal only
  after normalisation and 98 for one with extra words, so that scores can be ordered; names whose words
  do not pair at all rank by the likeness of their letters, below the report floor (never a hit).

Which aliases are scored at all is the index's business (`matcher`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from screener.models import Alias, AliasKind, Explanation, TokenEvidence
from screener.names.caches import bounded_cache
from screener.names.normalize import (
    NORMALIZE_CACHE_CHARS,
    NormalizedName,
    is_generic,
    is_place,
    legal_kinds,
    normalize,
)
from screener.names.numbers import numbers_of
from screener.names.persons import has_lineage, is_lineage, is_minor_part, is_patronymic
from screener.names.similarity import NEAR_MISS_RULE, abjad_similarity, residue_pairs, token_similarity
from screener.names.vessels import split_names
from screener.names.words import is_everyday_word, is_frequent_word

GENERIC_PRIOR = 0.12  # a generic word weighs about an eighth of a distinctive one before list statistics
IDF_SHARE = 0.6  # how much of a weight depends on rarity across the list (the rest is the prior alone)
EXTRA_PENALTY_CAP = 0.15  # most a strong alias can lose to extra words in the input
KIND_CONFLICT_PENALTY = 0.15  # the input names another kind of organisation than the alias
LEGAL_CONFLICT_PENALTY = 0.05  # both names give a legal form, of different kinds: "AG" / "GmbH"
PLACE_CONFLICT_PENALTY = 0.15  # ... or another place: "Bowne (Spain)" / "Bowne (Netherlands)", a sister branch
NUMBER_CONFLICT_PENALTY = 0.2  # both names carry numbers and they differ ("No. 3" / "No. 5"): never a hit
# (capped at NEAR_MISS_CAP), but ranked above names sharing less: a fund or vessel of the series
ONE_NUMBER_PENALTY = 0.05  # one name carries a number, the other none ("Fund" / "Fund II"): another of a series?
LINEAGE_CONFLICT_PENALTY = 0.4  # patronymics differ, or names swapped about "bin": two people
NORMALISED_EQUAL = 99.0  # equal only after normalisation (legal form, script, spelling): below the alias itself
WITH_EXTRAS_MAX = 98.0  # a name carrying the alias and more (a subsidiary): below an equal name
RESIDUE_GATE = 0.5  # words left over are compared loosely only once this share of the alias is found
MIDDLE_DISCOUNT = 0.5  # a missing middle name of a person weighs half: "Sirajuddin Haqqani"
SHORT_FORM_SHARE = 0.25  # a person's names missing from a short form weigh this share (see score_alias)
SHORT_FORM_FOUND = 0.4  # ... which must carry this share of the listed name's weight: two common names of
# a long one ("Ali Hassan") are no short form of it
# lengths at which an ERP system cuts a name (SAP's NAME1 holds 35 characters), or one less where the
# cut fell after a space that was then trimmed: an input of such a length may be a longer name's start
CUT_LENGTHS = frozenset({29, 30, 34, 35, 39, 40})
CUT_DISCOUNT = 0.75  # the alias words after where a cut input ends weigh a quarter (see `_finish`)
REPORT_FLOOR = 50.0  # candidates below this are not reported at all
SCRIPT_CACHE_CHARS = 48  # names whose script is kept (see `caches`): short ones only
NEAR_MISS_CAP = 70.0  # most a name scores when a word of it pairs only as a near miss, or its numbers differ:
# ranked above names sharing less, but below any threshold in use (never a hit)
LIKENESS_CAP = 45.0  # most a pair of names scores on the likeness of their letters alone (below the floor)
MAX_JOIN = 3  # adjacent tokens joined when looking for spacing variants
SHORT_JOIN = 0.85  # a join across a word of one or two letters counts for this share (see _candidate_pairs)
ACRONYM_SIMILARITY = 0.8  # one name is the initials of the other's words: "PLA" / "People's Liberation Army"
MIN_ACRONYM, MAX_ACRONYM = 3, 8  # words an acronym stands for: fewer is too ambiguous ("AB")

_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A token, or adjacent tokens joined, on one side of a comparison."""

    text: str
    start: int
    end: int  # inclusive

    @property
    def size(self) -> int:
        return self.end - self.start

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return _Unit, (self.text, self.start, self.end)  # see IndexedAlias.__reduce__


def units_of(tokens: Sequence[str]) -> tuple[_Unit, ...]:
    out = [_Unit(t, i, i) for i, t in enumerate(tokens)]
    for size in range(2, MAX_JOIN + 1):
        for i in range(len(tokens) - size + 1):
            out.append(_Unit("".join(tokens[i : i + size]), i, i + size - 1))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IndexedAlias:
    party: int
    alias: Alias
    norm: NormalizedName
    weights: tuple[float, ...]
    total: float
    weak: bool
    units: tuple[_Unit, ...]
    unit_weights: tuple[float, ...]  # summed weight of the tokens each unit covers
    written: frozenset[str]  # the party's names with these tokens, as written (see `plain`)
    least_total: float  # the total once missing middle names are discounted: what scores are bounded by
    person: bool  # the alias is a person's full name (`_person_shaped`), which may be written short
    short_least: float  # the total bounding a short form of it (see `index_alias`)
    common: bool  # named in common words only (`_common_words`): an input's own distinctive word weighs fully
    spelled: frozenset[str]  # the initials the party's names of several words spell (`_candidate_pairs`)
    cut_least: float  # the total bounding an input cut short (`_cut_from`): two words, the rest discounted

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        """Pickled as a call of the constructor: a slotted dataclass's own pickling looks its fields up
        for every object read back, which made reading a kept index (`indexcache`) twice as slow."""
        return IndexedAlias, tuple(getattr(self, name) for name in self.__slots__)


# what an input unit can pair with: alias unit text -> [(input unit, similarity, rule)]
Pairs = dict[str, list[tuple[_Unit, float, str]]]


@dataclass(slots=True)
class Query:
    """A normalised input prepared once per name: its units and what each can pair with."""

    norm: NormalizedName
    units: tuple[_Unit, ...]
    pairs: Pairs | None = None  # filled from the index; None means compare every unit pair

    @property
    def cut(self) -> bool:
        """Whether the input may be a longer name cut at a field's length (`CUT_LENGTHS`)."""
        return len(self.norm.tokens) >= 2 and len(self.norm.original.strip()) in CUT_LENGTHS


class TokenWeights:
    """Distinctiveness of tokens across a list: idf over parties times a generic-word prior."""

    def __init__(self, df: dict[str, int], parties: int) -> None:
        self.df = df
        self.parties = max(parties, 1)
        self._log_n = math.log(1 + self.parties)

    @staticmethod
    def prior(token: str, last: bool = False) -> float:
        """Low for numbers, generic words and minor name parts; a patronymic ending a name is a family name."""
        if last and is_patronymic(token):
            return 1.0
        if token.isdigit() or is_minor_part(token):
            return GENERIC_PRIOR
        return GENERIC_PRIOR if is_generic(token) else 1.0

    def __call__(self, token: str, last: bool = False) -> float:
        df = self.df.get(token)
        prior = self.prior(token, last)
        if not df or self.parties < 3:
            return prior
        rarity = math.log(1 + self.parties / df) / self._log_n
        return prior * ((1 - IDF_SHARE) + IDF_SHARE * rarity)


@dataclass(slots=True)
class Scored:
    """A score and the alignment behind it; the explanation is built only when someone reads it."""

    score: float
    query: Query
    alias: IndexedAlias
    chosen: list[tuple[_Unit, _Unit, float, str]]
    extras: list[int]
    acronyms: list[int]
    conflict: str | None = None
    _explanation: Explanation | None = None

    @property
    def explanation(self) -> Explanation:
        if self._explanation is None:
            self._explanation = _explain(self)
        return self._explanation


_ABJAD = re.compile("[\u0590-\u05ff\u0600-\u077f\u0780-\u07bf\u08a0-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


@bounded_cache(maxsize=65536, max_chars=SCRIPT_CACHE_CHARS)
def _script_side(original: str) -> int:
    """1 for a name written in an abjad (Arabic, Persian, Hebrew), 2 for one in Latin letters, else 0."""
    if _ABJAD.search(original):
        return 1
    return 2 if any(c.isascii() and c.isalpha() for c in original) else 0


_HANGUL = re.compile("[\uac00-\ud7a3]")


@bounded_cache(maxsize=65536, max_chars=SCRIPT_CACHE_CHARS)
def _hangul(original: str) -> bool:
    return bool(_HANGUL.search(original))


def _both_hangul(query: Query, alias: IndexedAlias) -> bool:
    """Both names written in Hangul: each syllable is read one way, so a syllable spelt otherwise is
    another syllable, another name ("김정은" / "김종은"), never a typo or a loose pair."""
    q, a = query.norm.original, alias.norm.original
    return not (q.isascii() or a.isascii()) and _hangul(q) and _hangul(a)


def _across_abjad(query: Query, alias: IndexedAlias) -> bool:
    """One name is written in an abjad and the other in Latin letters (see `abjad_similarity`)."""
    return {_script_side(query.norm.original), _script_side(alias.norm.original)} == {1, 2}


def _candidate_pairs(query: Query, alias: IndexedAlias) -> list[tuple[float, float, str, _Unit, _Unit]]:
    out = []
    a_tokens, q_tokens = alias.norm.tokens, query.norm.tokens
    abjad = not (query.norm.original.isascii() and alias.norm.original.isascii()) and _across_abjad(query, alias)
    hangul = _both_hangul(query, alias)
    for au, a_weight in zip(alias.units, alias.unit_weights):
        if query.pairs is not None:
            found = query.pairs.get(au.text, ())
            if abjad:
                known = {qu for qu, _, _ in found}
                found = [*found, *((qu, *abjad_similarity(au.text, qu.text)) for qu in query.units if qu not in known)]
        else:
            found = []
            for qu in query.units:
                sim, rule = token_similarity(au.text, qu.text, not (au.size or qu.size))
                if sim == 0 and abjad:
                    sim, rule = abjad_similarity(au.text, qu.text)
                if sim > 0:
                    found.append((qu, sim, rule))
        a_joined = au.end != au.start
        for qu, sim, rule in found:
            q_joined = qu.end != qu.start
            if a_joined and q_joined or sim == 0 or hangul and sim < 1.0:
                continue  # joins on both sides add nothing
            if a_joined or q_joined:
                joined = a_tokens[au.start : au.end + 1] if a_joined else q_tokens[qu.start : qu.end + 1]
                if min(map(len, joined)) <= 2:
                    # a word of one or two letters ("Ya Mahdi", "Al Qaida") is more often a word of its
                    # own (an article, a particle, an initial) than a piece of the next one
                    sim, rule = sim * SHORT_JOIN, f"{rule}, a short word joined"
            out.append((a_weight * sim, sim, rule, au, qu))
    # one name the initials of the other's words; single units come first, in token order (`units_of`)
    if MIN_ACRONYM <= len(a_tokens) <= MAX_ACRONYM and not alias.person:  # a person's initials are no name
        initials = initials_of(a_tokens)
        if initials in q_tokens:
            whole = _Unit(initials, 0, len(a_tokens) - 1)
            qu = query.units[q_tokens.index(initials)]
            out.append((alias.total * ACRONYM_SIMILARITY, ACRONYM_SIMILARITY, "acronym of the alias", whole, qu))
    elif MIN_ACRONYM <= len(q_tokens) <= MAX_ACRONYM:
        # the input's initials as the alias's word, unless the party's own name spells that acronym out:
        # the input's words were then compared with the real ones and are other words ("Sales Export
        # Partners" is not "SEP", Safety Equipment Procurement Company)
        initials = initials_of(q_tokens)
        if initials in a_tokens and initials not in alias.spelled:
            i = a_tokens.index(initials)
            whole = _Unit(initials, 0, len(q_tokens) - 1)
            out.append((alias.weights[i] * ACRONYM_SIMILARITY, ACRONYM_SIMILARITY, "acronym of the input",
                        alias.units[i], whole))
    return out


@bounded_cache(maxsize=65536, max_chars=NORMALIZE_CACHE_CHARS)
def initials_of(tokens: tuple[str, ...]) -> str:
    """The initials of a name's words ("people liberation army": "pla"), "" unless every word has letters."""
    return "".join(t[0] for t in tokens) if all(t[0].isalpha() and t.isascii() for t in tokens) else ""


def score_alias(query: Query, alias: IndexedAlias, weight: TokenWeights) -> Scored:
    """Score one prepared input against one indexed alias."""
    scored = score_above(query, alias, weight, 0.0)
    assert scored is not None  # no score falls below a floor of 0
    return scored


def score_above(query: Query, alias: IndexedAlias, weight: TokenWeights, floor: float) -> Scored | None:
    """`score_alias`, or None as soon as the score is sure to fall below `floor`: most candidates of the
    index do, and the words paired and the extra words bound a score before its conflicts are weighed."""
    candidates = _candidate_pairs(query, alias)
    # exact before fuzzy, single tokens before joins, then heavier first: a greedy pass then never trades
    # an exact token for a joined near-miss, and a name always matches itself in full
    candidates.sort(key=lambda c: (-c[1], c[3].size + c[4].size, -c[0], c[3].start, c[4].start))
    q_tokens = query.norm.tokens
    a_used = [False] * len(alias.weights)
    q_used = [False] * len(q_tokens)
    chosen: list[tuple[_Unit, _Unit, float, str]] = []
    matched = 0.0
    for value, sim, rule, au, qu in candidates:
        if any(a_used[au.start : au.end + 1]) or any(q_used[qu.start : qu.end + 1]):
            continue
        a_used[au.start : au.end + 1] = [True] * (au.size + 1)
        q_used[qu.start : qu.end + 1] = [True] * (qu.size + 1)
        matched += value
        chosen.append((au, qu, sim, rule))

    if alias.total > 0 and matched / alias.total >= RESIDUE_GATE - 1e-9:
        loose = residue_pairs(alias.norm.tokens, a_used, q_tokens, q_used, _both_hangul(query, alias))
        near = [p for p in loose if p[3].startswith(NEAR_MISS_RULE)]
        if near:
            # a near miss may lift a score to NEAR_MISS_CAP, never lower one: scored with and without
            without = _finish(query, alias, weight, a_used[:], q_used[:], matched, chosen[:],
                              [p for p in loose if p not in near], floor)
            if without is not None and without.score >= NEAR_MISS_CAP:
                return without
            found = _finish(query, alias, weight, a_used, q_used, matched, chosen, loose, floor)
            if found is not None and found.score > NEAR_MISS_CAP:
                found.score = NEAR_MISS_CAP
                found.conflict = "; ".join(filter(None, (found.conflict,
                                  f"a word pairs only as a near miss: score capped at {NEAR_MISS_CAP:g}")))
            if without is None:  # below the floor: the near miss's score, if it reaches the floor
                return found if found is not None and found.score >= floor else None
            return found if found is not None and found.score > without.score else without
        return _finish(query, alias, weight, a_used, q_used, matched, chosen, loose, floor)
    return _finish(query, alias, weight, a_used, q_used, matched, chosen, [], floor)


def _finish(
    query: Query,
    alias: IndexedAlias,
    weight: TokenWeights,
    a_used: list[bool],
    q_used: list[bool],
    matched: float,
    chosen: list[tuple[_Unit, _Unit, float, str]],
    loose: list[tuple[int, int, float, str]],
    floor: float,
) -> Scored | None:
    """The score once tokens are paired: coverage, extra words, conflicts and the top for the kind of match;
    None when coverage and extra words alone put it below `floor` (see `score_above`)."""
    q_tokens = query.norm.tokens
    for i, j, sim, rule in loose:
        a_used[i] = q_used[j] = True
        matched += alias.weights[i] * sim
        chosen.append((_Unit(alias.norm.tokens[i], i, i), _Unit(q_tokens[j], j, j), sim, rule))
    total = alias.total
    extras = [j for j, used in enumerate(q_used) if not used]
    cut_from = _cut_from(query, alias, a_used, chosen) if query.cut else None
    if cut_from is not None:
        # a name cut at a field's length: the alias words after where it ends were cut off, not left out
        total -= CUT_DISCOUNT * sum(alias.weights[cut_from:])
    elif alias.person and not extras and sum(a_used) >= 2 and matched >= SHORT_FORM_FOUND * total - 1e-9:
        # a short form of a person's name: every name of the input found, two at least, the others
        # of the listed name left out ("Abdul Ghani Turk", "Fazl Rabi" for longer listed names)
        total -= (1.0 - SHORT_FORM_SHARE) * sum(w for w, used in zip(alias.weights, a_used) if not used)
    elif alias.total > alias.least_total and a_used[0] and a_used[-1]:
        total -= MIDDLE_DISCOUNT * sum(w for w, used in zip(alias.weights[1:-1], a_used[1:-1]) if not used)
    coverage = matched / total if total > 0 else 0.0
    # the top is at most 100 and every conflict adds to the penalty; only whole-name likeness, outside
    # the index and below LIKENESS_CAP, raises a score (rounding by 0.05 at most): so coverage, then
    # coverage and the least penalty for extra words, can put an alias below the floor unweighed
    stops = query.pairs is not None or floor > LIKENESS_CAP
    if stops and 100.0 * coverage < floor - 0.1:
        return None
    acronyms = _acronyms(q_tokens, extras)
    if acronyms:
        extras = [j for j in extras if j not in acronyms]
    last = len(q_tokens) - 1
    fragment = _cut_short(alias.norm.tokens, a_used, q_tokens, extras)
    extra_weight = sum(weight(q_tokens[j], j == last and j > 0) * (GENERIC_PRIOR if j == fragment else 1.0)
                       for j in extras)
    ratio = extra_weight / (extra_weight + total) if total > 0 else 1.0
    if stops and 100.0 * coverage * (1.0 - EXTRA_PENALTY_CAP * ratio) < floor - 0.1:
        return None
    # an extra word counts fully for a weak alias, and where it stands in for a distinctive word of the
    # alias that the input lacks (one name's part replaced by another's); otherwise lightly
    replaced = any(TokenWeights.prior(t) >= 1.0 for t, used in zip(alias.norm.tokens, a_used) if not used) and any(
        TokenWeights.prior(q_tokens[j]) >= 1.0 for j in extras
    )
    # and for an alias in common words only, beside a distinctive word of the input's own: another firm
    # that shares a common word ("Zuengzot Components" / "Electronic Components Industries")
    borrowed = alias.common and any(_own_word(q_tokens[j]) for j in extras)
    penalty = ratio if alias.weak or replaced or borrowed else EXTRA_PENALTY_CAP * ratio
    if stops and 100.0 * coverage * (1.0 - penalty) < floor - 0.1:
        return None
    conflicts = []
    if cut_from is not None:
        conflicts.append(f"input of {len(query.norm.original.strip())} characters, as a field cuts a name: "
                         f"the alias words after {alias.norm.tokens[cut_from - 1]!r} weigh a quarter")
    if fragment is not None:
        conflicts.append(f"last word {q_tokens[fragment]!r} read as cut short (a field's length): "
                         "weighed as a generic extra word")
    extra_tokens = [q_tokens[j] for j in extras]
    number_conflict, one_number = _numbers(q_tokens, alias.norm.tokens)
    for conflict, cost in (
        (_kind_conflict(alias, a_used, extra_tokens), KIND_CONFLICT_PENALTY),
        (_place_conflict(alias, a_used, extra_tokens), PLACE_CONFLICT_PENALTY),
        (_legal_conflict(query.norm, alias.norm), LEGAL_CONFLICT_PENALTY),
        (number_conflict, NUMBER_CONFLICT_PENALTY),
        (one_number, ONE_NUMBER_PENALTY),
        (_patronymic_conflict(alias.norm.tokens, a_used, q_tokens, extras), LINEAGE_CONFLICT_PENALTY),
        (_lineage_conflict(alias.norm.tokens, q_tokens, chosen), LINEAGE_CONFLICT_PENALTY),
    ):
        if conflict:
            conflicts.append(conflict)
            penalty = 1.0 - (1.0 - penalty) * (1.0 - cost)
    top = 100.0
    if extras:
        top = WITH_EXTRAS_MAX  # a name carrying the alias and more ranks below any name equal to it
    elif coverage < 1.0 - 1e-9 or query.norm.text != alias.norm.text:
        top = NORMALISED_EQUAL - 0.1
    elif plain(query.norm.original) not in alias.written:
        top = NORMALISED_EQUAL  # 100 is reserved for the alias as written
    score = round(max(0.0, min(100.0, top * coverage * (1.0 - penalty))), 1)
    if number_conflict and score > NEAR_MISS_CAP:
        score = NEAR_MISS_CAP
        conflicts.append(f"numbers differ: score capped at {NEAR_MISS_CAP:g}")
    if extras and replaced:
        conflicts.append("a distinctive word of the alias is replaced by another: every extra word counts fully")
    elif borrowed:
        conflicts.append("the alias is common words only and the input has a distinctive word of its own: "
                         "every extra word counts fully")
    if score < LIKENESS_CAP and query.pairs is None:
        # words too far apart to pair ("Sukamto" / "Sukarno", "SiemensAG") still rank above unrelated
        # names, by the likeness of the whole names; capped below the report floor, so never a hit, and
        # so left out of screening through the index, which drops such scores unread
        likeness = round(LIKENESS_CAP * fuzz.ratio(query.norm.text, alias.norm.text) / 100.0, 1)
        if likeness > score:
            score = likeness
            conflicts.append(f"words unpaired: scored by whole-name likeness, at most {LIKENESS_CAP:g}")
    return Scored(score, query, alias, chosen, extras, sorted(acronyms), "; ".join(conflicts) or None)


def _cut_from(query: Query, alias: IndexedAlias, a_used: list[bool],
              chosen: Sequence[tuple[_Unit, _Unit, float, str]]) -> int | None:
    """Where the alias goes on past a cut input: the position after the alias word its last word
    pairs with, when both names start alike (a cut keeps a name's beginning) and the input's last
    word pairs with the last alias word found, word for word (an acronym pair is no alignment);
    None when the alias ends there or the names do not line up so."""
    last = len(query.norm.tokens) - 1
    found = max((i for i, used in enumerate(a_used) if used), default=-1)
    if found < 1 or found + 1 >= len(a_used):  # two alias words at least before the cut (`cut_least`)
        return None
    starts = ends = False
    for au, qu, _, rule in chosen:
        if rule.startswith("acronym"):  # one name the other's initials: words, not a cut, line up
            continue
        starts = starts or (au.start == 0 and qu.start == 0)
        ends = ends or (au.end == found and qu.end == last)
    return found + 1 if starts and ends else None


def _cut_short(a_tokens: Sequence[str], a_used: list[bool], q_tokens: Sequence[str],
               extras: Sequence[int]) -> int | None:
    """The input's last word, when it is left over and looks cut off at a field's length (SAP's
    NAME1 holds 35 characters): a single letter, or the start of the alias word after the last one
    found ("Semiconductor Manufacturing Interna"). It then weighs as a generic extra word, not a
    word of another name. The alias words cut off still count as missing."""
    last = len(q_tokens) - 1
    if last < 1 or not extras or extras[-1] != last or not any(a_used):  # extras ascend
        return None
    word = q_tokens[last]
    if len(word) == 1 and word.isalpha():
        return last
    after = max(i for i, used in enumerate(a_used) if used) + 1
    if after < len(a_tokens) and len(word) < len(a_tokens[after]) and a_tokens[after].startswith(word):
        return last
    return None


def plain(name: str) -> str:
    """A name as written, but for case and the kind and amount of punctuation and spacing between its
    words: what "the alias itself" means ("M.E.G.V.I.I." and "Hik-Vision" are not written as an alias)."""
    return " ".join(_NON_WORD.split(name.casefold())).strip()


def _patronymic_conflict(
    a_tokens: Sequence[str], a_used: list[bool], q_tokens: Sequence[str], extras: Sequence[int]
) -> str | None:
    """Both names give a patronymic and they differ ("Sergey Ivanovich" / "Sergey Viktorovich"): two fathers."""
    a = [t for i, t in enumerate(a_tokens[:-1]) if not a_used[i] and is_patronymic(t)]
    q = [q_tokens[j] for j in extras if j < len(q_tokens) - 1 and is_patronymic(q_tokens[j])]
    if a and q:
        return f"patronymics differ: input {', '.join(q)}, alias {', '.join(a)}"
    return None


def _lineage_conflict(
    a_tokens: Sequence[str], q_tokens: Sequence[str], chosen: Sequence[tuple[_Unit, _Unit, float, str]]
) -> str | None:
    """Two names swapped about "bin"/"ibn" ("Salman bin Hamad" / "Hamad bin Salman"): the son is named
    as the father, so they are two people, however alike their words. Only the two words either side
    of one particle count, so a family name moved to the front ("Al Bin Ali, Isa Bin Tarif") is no swap."""
    if not (has_lineage(a_tokens[1:-1]) and has_lineage(q_tokens[1:-1])):
        return None
    at = {au.start: (qu.start, au.text) for au, qu, _, _ in chosen if not au.size and not qu.size}
    for i in range(1, len(a_tokens) - 1):
        if is_lineage(a_tokens[i]) and i - 1 in at and i + 1 in at:
            (before, a_word), (after, b_word) = at[i - 1], at[i + 1]
            if before == after + 2 and is_lineage(q_tokens[after + 1]):
                return f"names swapped about a lineage particle: {a_word} {a_tokens[i]} {b_word}"
    return None


def _numbers(q_tokens: Sequence[str], a_tokens: Sequence[str]) -> tuple[str | None, str | None]:
    """Numbers that differ, and a number on one side only, as (conflict, one-sided) descriptions.

    Both names carrying numbers that differ ("Fund II" / "Fund III") are different vessels or funds;
    only one carrying a number ("Bowne Global Solutions" / "... II") may be two of a series, so the
    pair ranks a little below the same name, never enough to drop a hit."""
    q, a = numbers_of(tuple(q_tokens)), numbers_of(tuple(a_tokens))
    if q and a:
        if q == a:
            return None, None
        return f"numbers differ: input {', '.join(sorted(q))}, alias {', '.join(sorted(a))}", None
    if q or a:
        return None, f"only the {'input' if q else 'alias'} carries a number: {', '.join(sorted(q or a))}"
    return None, None


def _kind_conflict(alias: IndexedAlias, a_used: list[bool], extras: list[str]) -> str | None:
    """The input names another kind of organisation: the alias's kind words ("Institute of Computing")
    are missing and the input has kind words of its own in their place ("Shipyard", "University").

    Places do not count on either side: a branch named for its country is the same kind of thing.
    """
    swap = _swapped(alias, a_used, extras, lambda t: is_generic(t) and not is_place(t))
    return None if swap is None else f"another kind of organisation: input has {swap[0]} where the alias has {swap[1]}"


def _swapped(
    alias: IndexedAlias, a_used: list[bool], extras: list[str], test: Callable[[str], bool]
) -> tuple[str, str] | None:
    """The input's extra words and the alias's unpaired words that pass `test`, when both sides have some."""
    if not extras:
        return None
    missing = [t for t, used in zip(alias.norm.tokens, a_used) if not used and test(t)]
    if not missing:
        return None
    own = [t for t in extras if test(t)]
    return (", ".join(own), ", ".join(missing)) if own else None


def _legal_conflict(query: NormalizedName, alias: NormalizedName) -> str | None:
    """Both names give a legal form and no kind is shared ("Deutsche Bank AG" / "Deutsche Bank GmbH"):
    likely two companies of one group. A small cost, so that such a pair ranks below the same company."""
    if not (query.legal_forms and alias.legal_forms):
        return None
    mine, theirs = legal_kinds(query.legal_forms), legal_kinds(alias.legal_forms)
    if not mine or not theirs or mine & theirs:
        return None
    return f"legal forms differ: input {', '.join(query.legal_forms)}, alias {', '.join(alias.legal_forms)}"


def _place_conflict(alias: IndexedAlias, a_used: list[bool], extras: list[str]) -> str | None:
    """The input names another place where the alias names one ("Bank of China (Hong Kong)" / "(Australia)"):
    a branch or sister company elsewhere, a separate legal entity. A place on one side only is no
    conflict: a subsidiary named for its country still carries the party's name."""
    swap = _swapped(alias, a_used, extras, is_place)
    return None if swap is None else f"another place: input has {swap[0]} where the alias has {swap[1]}"


def _explain(scored: Scored) -> Explanation:
    alias, q_tokens = scored.alias, scored.query.norm.tokens
    evidence: dict[int, TokenEvidence] = {}
    for au, qu, sim, rule in scored.chosen:
        if rule.startswith("acronym"):
            pass
        elif au.size:
            rule = f"joined in input: {rule}" if rule != "exact" else "spacing (alias split)"
        elif qu.size:
            rule = f"spacing (input split): {rule}" if rule != "exact" else "spacing (input split)"
        evidence[au.start] = TokenEvidence(
            alias_token=au.text,
            input_token=" ".join(q_tokens[qu.start : qu.end + 1]),
            weight=round(sum(alias.weights[au.start : au.end + 1]), 3),
            similarity=round(sim, 3),
            rule=rule,
        )
    covered = {i for au, _, _, _ in scored.chosen for i in range(au.start, au.end + 1)}
    for i, token in enumerate(alias.norm.tokens):
        if i not in covered:
            evidence[i] = TokenEvidence(
                alias_token=token, input_token=None, weight=round(alias.weights[i], 3),
                similarity=0.0, rule="missing",
            )
    rules = list(scored.query.norm.rules)
    if scored.acronyms:
        rules.append("acronym of the name ignored: " + ", ".join(q_tokens[j] for j in scored.acronyms))
    if alias.weak and scored.extras:
        rules.append("weak alias: every extra word counts fully")
    if scored.conflict:
        rules.extend(scored.conflict.split("; "))
    rules += [f"alias: {r}" for r in alias.norm.rules if r.startswith("transliterated")]
    return Explanation(
        alias=alias.alias.name,
        alias_kind=alias.alias.kind,
        input_normalized=scored.query.norm.text,
        alias_normalized=alias.norm.text,
        tokens=[evidence[i] for i in sorted(evidence)],
        extra_input_tokens=[q_tokens[j] for j in scored.extras],
        rules=rules,
    )


def _acronyms(tokens: Sequence[str], extras: Sequence[int]) -> set[int]:
    """Extra tokens that are the initials of a run of the name's other tokens, e.g. "(JICT)"."""
    out: set[int] = set()
    for j in extras:
        token = tokens[j]
        if not (2 <= len(token) <= 6 and token.isalpha()):
            continue
        others = [t for k, t in enumerate(tokens) if k != j]
        initials = "".join(t[0] for t in others)
        if token in initials:
            out.add(j)
    return out


def index_alias(
    party: int, alias: Alias, norm: NormalizedName, weight: TokenWeights, written: frozenset[str] = frozenset(),
    spelled: frozenset[str] = frozenset(),
) -> IndexedAlias:
    """Weigh an alias's tokens; an acronym or an all-generic name is weak (extra words count fully), and
    an organisation named in common words only is `common` (see `_common_words`)."""
    last = len(norm.tokens) - 1
    weights = tuple(weight(t, i == last and i > 0) for i, t in enumerate(norm.tokens))
    generic_only = all(TokenWeights.prior(t) < 1.0 for t in norm.tokens)
    weak = generic_only or (len(norm.tokens) == 1 and len(norm.tokens[0]) <= 4)
    units = units_of(norm.tokens)
    unit_weights = tuple(sum(weights[u.start : u.end + 1]) for u in units)
    written = written or frozenset({plain(alias.name)})
    total = sum(weights)
    least = total
    tokens = norm.tokens
    if len(tokens) >= 3 and TokenWeights.prior(tokens[0]) >= 1.0 and TokenWeights.prior(tokens[-1]) >= 1.0:
        least -= MIDDLE_DISCOUNT * sum(weights[1:-1])  # a person's middle names (see score_alias)
    # a short form scores at least the floor only if it carries SHORT_FORM_FOUND of the weight (its score
    # is then at most found / (SHORT_FORM_SHARE total + (1 - SHORT_FORM_SHARE) found)); candidates() asks
    # floor x total of at most half the weight (its floor is at most 100 x RESIDUE_GATE), so this total
    # bounds it exactly
    person = _person_shaped(tokens)
    short = min(least, SHORT_FORM_FOUND * total / RESIDUE_GATE) if person else least
    # an input cut after the alias's second word keeps the least of it (`_cut_from`)
    cut_least = total - CUT_DISCOUNT * sum(weights[2:])
    return IndexedAlias(party, alias, norm, weights, total, weak, units, unit_weights, written, least, person, short,
                        not weak and _common_words(tokens), spelled, cut_least)


def _common_words(tokens: tuple[str, ...]) -> bool:
    """An organisation (a word for a kind of body among its words), or a single word, named only in
    generic and everyday words (`words.EVERYDAY_ZIPF`): "Electronic Components Industries", "Wolf
    Holding", "Daniel"; not "Taliban", a name in the news rather than a word of every day.

    The list's own word counts cannot tell that such a name is common among customers: "components" is
    rare on a sanctions list and in many a supplier's name. An input carrying it beside a word of its
    own ("Zuengzot Components") names another firm, so its extra words count fully (`_finish`), as for
    an all-generic name; the name itself, with or without its legal form, generic words or a stray
    fragment ("Componen-ts"), scores as before. Two or more names, none generic ("Daniel Smith"), are a
    person's: a middle name added stays light.
    """
    if len(tokens) > 1 and all(TokenWeights.prior(t) >= 1.0 for t in tokens):
        return False
    return all(TokenWeights.prior(t) < 1.0 or is_everyday_word(t) for t in tokens)


def _own_word(token: str) -> bool:
    """A word that names its bearer: three letters or more, neither generic nor in a dictionary."""
    return len(token) >= 3 and TokenWeights.prior(token) >= 1.0 and not is_frequent_word(token)


def _person_shaped(tokens: tuple[str, ...]) -> bool:
    """Three names or more, each a name (no word for a kind of body, place or legal form, no number):
    a listed person's full name, which customers often write short."""
    return len(tokens) >= 3 and all(
        not t.isdigit() and (TokenWeights.prior(t) >= 1.0 or is_minor_part(t)) for t in tokens
    )


def compare_names(name_a: str, name_b: str, weight: TokenWeights) -> Scored:
    """`name_a` as input against `name_b` as an alias, the best over the names each holds."""
    return max(
        (
            score_alias(prepare_unindexed(normalize(a)), ad_hoc_alias(b, weight), weight)
            for a in split_names(name_a)
            for b in split_names(name_b)
        ),
        key=lambda scored: scored.score,
    )


def prepare_unindexed(norm: NormalizedName) -> Query:
    """A query compared against an alias outside any index (every unit pair is tried)."""
    return Query(norm, units_of(norm.tokens), None)


def ad_hoc_alias(name: str, weight: TokenWeights) -> IndexedAlias:
    """Treat any name as an alias, weighted by a list's statistics, to compare two names directly."""
    return index_alias(-1, Alias(name=name or "-", kind=AliasKind.LISTED), normalize(name), weight)
