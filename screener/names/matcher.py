"""The matcher: an index over every alias of every party, and a score that can be explained.

Scoring, for one input name against one alias (both normalised, see `normalize`):

* every alias token carries a weight: how distinctive it is across the list (an inverse document
  frequency over parties) times a prior that is low for generic words (domains, places, org words);
* alias tokens are aligned with input tokens: exactly, within a small typo budget that grows with the
  token's length, or across spacing ("Hik Vision" ~ "hikvision", "Sensetime" ~ "Sense Time");
* coverage = the weighted share of the alias found in the input; words the input has beyond the alias
  lower the score a little (a subsidiary carrying the party's distinctive name stays a hit), or fully
  for weak aliases (a short acronym or a name made only of generic words);
* score = 100 x coverage x (1 - penalty); 100 means the input equals the alias after normalisation.

Candidate generation looks up input tokens (and joins of adjacent tokens) in an inverted index, exactly
and within the same typo budget, and bounds each alias's best possible score before scoring it. The
bound is exact (a score can never exceed it), so the index loses no match that exhaustive comparison of
every alias would find above the reporting floor.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from screener.models import (
    Alias,
    AliasKind,
    Explanation,
    Match,
    Party,
    RestrictedList,
    TokenEvidence,
)
from screener.names.normalize import NormalizedName, is_generic, is_place, normalize

GENERIC_PRIOR = 0.12  # a generic word weighs about an eighth of a distinctive one before list statistics
IDF_SHARE = 0.6  # how much of a weight depends on rarity across the list (the rest is the prior alone)
EXTRA_PENALTY_CAP = 0.15  # most a strong alias can lose to extra words in the input
KIND_CONFLICT_PENALTY = 0.15  # the input names another kind of organisation than the alias
REPORT_FLOOR = 50.0  # candidates below this are not reported at all
MAX_JOIN = 3  # adjacent tokens joined when looking for spacing variants
MAX_FUZZY_EDITS = 3

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SOUND_ALIKE = ("ck", "kq", "cs", "sz", "iy", "fv", "gj", "dt", "bp", "mn")
_VOWELS = set("aeiouy")


def _keyboard_neighbours() -> dict[str, set[str]]:
    pos = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    out: dict[str, set[str]] = defaultdict(set)
    for a, (ra, ca) in pos.items():
        for b, (rb, cb) in pos.items():
            if a != b and abs(ra - rb) <= 1 and abs((ca + 0.5 * ra) - (cb + 0.5 * rb)) <= 1:
                out[a].add(b)
    for a, b in _SOUND_ALIKE:
        out[a].add(b)
        out[b].add(a)
    return out


_NEIGHBOURS = _keyboard_neighbours()


def typo_budget(length: int) -> int:
    """Edits tolerated in a token of this length: none for short tokens, where one edit is identity."""
    if length <= 4:
        return 0
    if length <= 7:
        return 1
    if length <= 11:
        return 2
    return MAX_FUZZY_EDITS


def _plausible_single_edit(a: str, b: str) -> bool:
    """One substitution in a short word is a typo only between neighbouring keys or like sounds."""
    ops = Levenshtein.editops(a, b)
    if len(ops) != 1 or ops[0].tag != "replace":
        return True  # an insertion, deletion (or, via OSA, a transposition)
    x, y = a[ops[0].src_pos], b[ops[0].dest_pos]
    if y in _NEIGHBOURS.get(x, ()):
        return True
    return len(a) >= 6 and x in _VOWELS and y in _VOWELS


@lru_cache(maxsize=262144)
def token_similarity(alias_token: str, input_token: str) -> tuple[float, str]:
    """Similarity in [0, 1] of an alias token and an input token, and the rule that decided it."""
    if alias_token == input_token:
        return 1.0, "exact"
    budget = typo_budget(min(len(alias_token), len(input_token)))
    if budget == 0 or len(input_token) < 4 or not alias_token.isalpha():
        return 0.0, "none"
    if alias_token[0] != input_token[0] and alias_token[:2] != input_token[1::-1]:
        return 0.0, "none"  # a word's first letter is rarely mistyped: "Division" is no "Hikvision"
    if is_generic(input_token) and not is_generic(alias_token):
        return 0.0, "none"  # a known word or place is no typo of a name: "Xining" is no "Xinjiang"
    edits = OSA.distance(alias_token, input_token, score_cutoff=budget)
    if edits > budget:
        return 0.0, "none"
    if edits == 1 and len(alias_token) <= 7 and not _plausible_single_edit(alias_token, input_token):
        return 0.0, "none"
    return 1.0 - 0.5 * edits / len(alias_token), f"typo ({edits} edit{'s' if edits > 1 else ''})"


@dataclass(frozen=True, slots=True)
class _Unit:
    """A token, or adjacent tokens joined, on one side of a comparison."""

    text: str
    start: int
    end: int  # inclusive

    @property
    def size(self) -> int:
        return self.end - self.start


def _units(tokens: Sequence[str]) -> tuple[_Unit, ...]:
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


# what an input unit can pair with: alias unit text -> [(input unit, similarity, rule)]
Pairs = dict[str, list[tuple[_Unit, float, str]]]


@dataclass(slots=True)
class Query:
    """A normalised input prepared once per name: its units and what each can pair with."""

    norm: NormalizedName
    units: tuple[_Unit, ...]
    pairs: Pairs | None = None  # filled from the index; None means compare every unit pair


class TokenWeights:
    """Distinctiveness of tokens across a list: idf over parties times a generic-word prior."""

    def __init__(self, df: dict[str, int], parties: int) -> None:
        self.df = df
        self.parties = max(parties, 1)
        self._log_n = math.log(1 + self.parties)

    @staticmethod
    def prior(token: str) -> float:
        if token.isdigit():
            return GENERIC_PRIOR
        return GENERIC_PRIOR if is_generic(token) else 1.0

    def __call__(self, token: str) -> float:
        df = self.df.get(token)
        prior = self.prior(token)
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


def _candidate_pairs(query: Query, alias: IndexedAlias) -> list[tuple[float, float, str, _Unit, _Unit]]:
    out = []
    for au, a_weight in zip(alias.units, alias.unit_weights):
        if query.pairs is not None:
            found = query.pairs.get(au.text, ())
        else:
            found = []
            for qu in query.units:
                sim, rule = token_similarity(au.text, qu.text)
                if sim > 0:
                    found.append((qu, sim, rule))
        for qu, sim, rule in found:
            if au.size and qu.size:
                continue  # joins on both sides add nothing
            out.append((a_weight * sim, sim, rule, au, qu))
    return out


def score_alias(query: Query, alias: IndexedAlias, weight: TokenWeights) -> Scored:
    """Score one prepared input against one indexed alias."""
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

    extras = [j for j, used in enumerate(q_used) if not used]
    acronyms = _acronyms(q_tokens, extras)
    if acronyms:
        extras = [j for j in extras if j not in acronyms]
    extra_weight = sum(weight(q_tokens[j]) for j in extras)
    total = alias.total
    coverage = matched / total if total > 0 else 0.0
    ratio = extra_weight / (extra_weight + total) if total > 0 else 1.0
    penalty = ratio if alias.weak else EXTRA_PENALTY_CAP * ratio
    conflict = _kind_conflict(alias, a_used, [q_tokens[j] for j in extras])
    if conflict:
        penalty = 1.0 - (1.0 - penalty) * (1.0 - KIND_CONFLICT_PENALTY)
    score = round(max(0.0, min(100.0, 100.0 * coverage * (1.0 - penalty))), 1)
    if score == 100.0 and (extras or coverage < 1.0 - 1e-9):
        score = 99.9  # 100 is reserved for the alias itself
    return Scored(score, query, alias, chosen, extras, sorted(acronyms), conflict)


def _kind_conflict(alias: IndexedAlias, a_used: list[bool], extras: list[str]) -> str | None:
    """The input names another kind of organisation: the alias's kind words ("Institute of Computing")
    are missing and the input has kind words of its own in their place ("Shipyard", "University").

    Places do not count on either side: a branch named for its country is the same kind of thing.
    """
    missing = [
        t for t, used in zip(alias.norm.tokens, a_used)
        if not used and is_generic(t) and not is_place(t)
    ]
    if not missing:
        return None
    own = [t for t in extras if is_generic(t) and not is_place(t)]
    if not own:
        return None
    return f"another kind of organisation: input has {', '.join(own)} where the alias has {', '.join(missing)}"


def _explain(scored: Scored) -> Explanation:
    alias, q_tokens = scored.alias, scored.query.norm.tokens
    evidence: dict[int, TokenEvidence] = {}
    for au, qu, sim, rule in scored.chosen:
        if au.size:
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
        rules.append(scored.conflict)
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


class AliasIndex:
    """Every alias of every party of one or more lists, indexed by token."""

    def __init__(self, lists: Sequence[tuple[str, RestrictedList]]) -> None:
        self.parties: list[tuple[str, Party]] = []
        raw: list[tuple[int, Alias, NormalizedName]] = []
        df: dict[str, int] = defaultdict(int)
        for key, lst in lists:
            for party in lst.parties:
                idx = len(self.parties)
                self.parties.append((key, party))
                seen_norms: set[tuple[str, ...]] = set()
                party_tokens: set[str] = set()
                for alias in party.all_names():
                    norm = normalize(alias.name)
                    if not norm.tokens or norm.tokens in seen_norms:
                        continue
                    seen_norms.add(norm.tokens)
                    party_tokens.update(norm.tokens)
                    raw.append((idx, alias, norm))
                for token in party_tokens:
                    df[token] += 1
        self.weight = TokenWeights(dict(df), len(self.parties))
        self.aliases: list[IndexedAlias] = []
        # postings: index key -> [(alias index, share of the alias's weight the key covers, in %)],
        # largest share first
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for idx, alias, norm in raw:
            a_idx = len(self.aliases)
            indexed = index_alias(idx, alias, norm, self.weight)
            self.aliases.append(indexed)
            for unit, unit_weight in zip(indexed.units, indexed.unit_weights):
                share = 100.0 * unit_weight / indexed.total if indexed.total else 0.0
                postings[unit.text].append((a_idx, share))
        self._postings = {key: sorted(p, key=lambda x: -x[1]) for key, p in postings.items()}
        singles = {t for a in self.aliases for t in a.norm.tokens}
        self._singles = frozenset(singles)
        # keys by length, all and single-token only: a joined input unit is only ever paired with a
        # single alias token (joins on both sides are never scored), so it need not search joined keys
        # and by first letter, since a typo keeps it (or swaps it with the second): see token_similarity
        by_length: dict[tuple[int, str, bool], list[str]] = defaultdict(list)
        for key in self._postings:
            by_length[(len(key), key[0], False)].append(key)
            if key in singles:
                by_length[(len(key), key[0], True)].append(key)
        self._by_length = dict(by_length)
        self._lookup = lru_cache(maxsize=262144)(self._lookup_uncached)

    def _lookup_uncached(self, text: str, singles_only: bool) -> tuple[tuple[str, float, str], ...]:
        """Index keys that `text` can match, exactly or within their typo budget, with the rule.

        A key pairs with `text` only within typo_budget(min(len(key), len(text))) edits, never more than
        typo_budget(len(text)): that budget bounds both the search window and the cutoff, losslessly.
        """
        hits: dict[str, tuple[float, str]] = {}
        if text in (self._singles if singles_only else self._postings):
            hits[text] = (1.0, "exact")
        budget = typo_budget(len(text))
        starts = {text[:1], text[1:2]}
        for length, first in ((n, f) for n in range(max(5, len(text) - budget), len(text) + budget + 1) for f in starts):
            keys = self._by_length.get((length, first, singles_only)) if budget else None
            if not keys:
                continue
            for key, _, _ in process.extract(text, keys, scorer=OSA.distance, score_cutoff=budget, limit=None):
                if key not in hits:
                    sim, rule = token_similarity(key, text)
                    if sim > 0:
                        hits[key] = (sim, rule)
        return tuple((key, sim, rule) for key, (sim, rule) in hits.items())

    def prepare(self, norm: NormalizedName) -> Query:
        """Look every input unit up once; scoring then reads pairs instead of comparing strings."""
        units = _units(norm.tokens)
        pairs: Pairs = defaultdict(list)
        for unit in units:
            for key, sim, rule in self._lookup(unit.text, unit.size > 0):
                pairs[key].append((unit, sim, rule))
        return Query(norm, units, dict(pairs))

    def candidates(self, query: Query, floor: float) -> list[int]:
        """Aliases whose best possible score reaches `floor`, via the bound described above.

        An alias's bound is the sum of the shares of its tokens the input can pair with, so an alias
        reaching `floor` through k index keys has one key worth at least floor/k of it. Postings are
        sorted by that share, so each key is read only down to floor/k (most of a generic word's long
        posting list is never touched), and the exact bound is then computed for those seeds alone.
        """
        pairs = query.pairs or {}
        if not pairs:
            return []
        least = (floor - 0.1) / len(pairs)  # scores are rounded to 0.1
        seeds: set[int] = set()
        for key in pairs:
            for a_idx, share in self._postings[key]:
                if share < least:
                    break
                seeds.add(a_idx)
        out = []
        for a_idx in seeds:
            alias = self.aliases[a_idx]
            mask = 0
            for unit in alias.units:
                if unit.text in pairs:
                    mask |= ((1 << (unit.size + 1)) - 1) << unit.start
            got = sum(w for i, w in enumerate(alias.weights) if mask >> i & 1)
            if alias.total and 100.0 * got / alias.total >= floor - 0.1:
                out.append(a_idx)
        return out

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
            scored = score_alias(query, alias, self.weight)
            if scored.score < floor:
                continue
            held = best.get(alias.party)
            if held is None or scored.score > held[1].score:
                best[alias.party] = (alias, scored)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1].score, kv[0]))
        return [(party, alias, scored) for party, (alias, scored) in ranked[:limit]]

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


def index_alias(party: int, alias: Alias, norm: NormalizedName, weight: TokenWeights) -> IndexedAlias:
    """Weigh an alias's tokens; an acronym or an all-generic name is weak (extra words count fully)."""
    weights = tuple(weight(t) for t in norm.tokens)
    generic_only = all(TokenWeights.prior(t) < 1.0 for t in norm.tokens)
    weak = generic_only or (len(norm.tokens) == 1 and len(norm.tokens[0]) <= 4)
    units = _units(norm.tokens)
    unit_weights = tuple(sum(weights[u.start : u.end + 1]) for u in units)
    return IndexedAlias(party, alias, norm, weights, sum(weights), weak, units, unit_weights)


def prepare_unindexed(norm: NormalizedName) -> Query:
    """A query compared against an alias outside any index (every unit pair is tried)."""
    return Query(norm, _units(norm.tokens), None)


def ad_hoc_alias(name: str, weight: TokenWeights) -> IndexedAlias:
    """Treat any name as an alias, weighted by a list's statistics, to compare two names directly."""
    return index_alias(-1, Alias(name=name or "-", kind=AliasKind.LISTED), normalize(name), weight)
