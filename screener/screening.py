"""The library API every shell uses: screen names, rows and frames against loaded lists, and decide.

`Screener` holds the lists and their index (built once, reused for every call), the threshold that
turns a score into a potential match, and the secondary evidence (country, address) that goes into
an explanation but never lowers a strong name match.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from screener.files.missing import missing_marker
from screener.models import (
    Comparison,
    InputRow,
    ListInfo,
    Match,
    Party,
    RestrictedList,
    RowResult,
    Status,
)
from screener.names.matcher import AliasIndex
from screener.names.normalize import normalize
from screener.names.scoring import REPORT_FLOOR, IndexedAlias, Scored, compare_names

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_THRESHOLD = 75.0
MAX_CANDIDATES = 5
SEEN_NAMES = 50_000  # distinct names whose candidates a Screener keeps (repeated names screened once; 0: none)
SEEN_NAME_CHARS = 160  # only names this short are kept, so the memory kept is bounded (see `caches`)


class Screener:
    """Screens names against one or more restricted-party lists."""

    def __init__(
        self,
        lists: Sequence[tuple[str, RestrictedList]] | RestrictedList | None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        index: AliasIndex | None = None,
        infos: Sequence[ListInfo] | None = None,
        load_lists: Callable[[], list[tuple[str, RestrictedList]]] | None = None,
    ) -> None:
        """`index`, `infos` and `load_lists` (instead of `lists`) come from the index cache."""
        if isinstance(lists, RestrictedList):
            lists = [("default", lists)]
        if not 0 <= threshold <= 100:
            raise ValueError(f"threshold must be between 0 and 100, not {threshold}")
        self._lists: Sequence[tuple[str, RestrictedList]] | None = list(lists) if lists is not None else None
        self._load_lists = load_lists
        self.threshold = float(threshold)
        self.index = index if index is not None else AliasIndex(self.lists)
        self._floor = min(REPORT_FLOOR, self.threshold)
        self._infos: list[ListInfo] | None = list(infos) if infos is not None else None
        self._seen: dict[str, list[tuple[int, IndexedAlias, Scored]] | None] = {}

    @property
    def lists(self) -> list[tuple[str, RestrictedList]]:
        """The lists screened against; read from the index cache only when first needed (a report)."""
        if self._lists is None:
            assert self._load_lists is not None
            self._lists = self._load_lists()
        return list(self._lists)

    @classmethod
    def from_catalog(cls, names: Sequence[str], *, threshold: float = DEFAULT_THRESHOLD) -> Screener:
        """Lists by catalog name, with the index kept on disk per list version (`screener.runtime.indexcache`)."""
        from screener.runtime.indexcache import cached_screener

        return cached_screener(list(names), threshold)

    @classmethod
    def default(cls, *, threshold: float = DEFAULT_THRESHOLD) -> Screener:
        """The bundled US Entity List; the index is built once per process and shared."""
        return _default_screener(threshold)

    def list_infos(self) -> list[ListInfo]:
        """Versions and content hashes of the lists screened against (hashed once: lists do not change)."""
        if self._infos is None:
            self._infos = [ListInfo.of(key, lst) for key, lst in self.lists]
        return list(self._infos)

    def matches(self, name: str, country: str | None = None, address: str | None = None) -> list[Match]:
        """Candidates for one name, best first, down to the reporting floor."""
        return self._to_matches(self._found(name) or [], country, address)

    def _to_matches(
        self, found: Sequence[tuple[int, IndexedAlias, Scored]], country: str | None, address: str | None
    ) -> list[Match]:
        return [
            self.index.to_match(party_idx, scored, _secondary(self.index.parties[party_idx][1], country, address))
            for party_idx, _, scored in found
        ]

    def _found(self, name: str) -> list[tuple[int, IndexedAlias, Scored]] | None:
        """The index's candidates for a name, None when it has no tokens; a repeated name is screened once.

        Results depend on the name alone (country and address are added per row), so they are kept
        per Screener, up to SEEN_NAMES distinct names of at most SEEN_NAME_CHARS characters (oldest
        dropped first): entries times the largest entry bounds the memory, whatever the input.
        """
        if name in self._seen:
            return self._seen[name]
        found = self.index.match_name(name, floor=self._floor, limit=MAX_CANDIDATES)
        if SEEN_NAMES and len(name) <= SEEN_NAME_CHARS:
            keep_bounded(self._seen, name, found, SEEN_NAMES)
        return found

    def screen_row(self, row: InputRow) -> RowResult:
        """Decide one row: not screened (with the reader's or our reason), clear, or potential match."""
        reason, found = self._screened(row.name, row.not_screened_reason)
        return self._decide(row, reason, found)

    def screen_values(self, name: str | None, country: str | None, address: str | None,
                      reason: str | None) -> RowResult | None:
        """`screen_row` of a row with these values, or None where that is `clear_result` (no candidate
        at all: nearly every row), which a pool worker then neither builds nor sends."""
        reason, found = self._screened(name, reason)
        if found is not None and not found:
            return None
        row = InputRow(name=name, country=country, address=address, not_screened_reason=reason)
        return self._decide(row, reason, found)

    def _screened(self, name: str | None, reason: str | None
                  ) -> tuple[str | None, list[tuple[int, IndexedAlias, Scored]] | None]:
        """Why a name is not screened (the reader's reason or ours), and its candidates otherwise."""
        reason = reason or _unusable(name)
        return reason, None if reason or name is None else self._found(name)  # matched once, however long

    def _decide(self, row: InputRow, reason: str | None,
                found: list[tuple[int, IndexedAlias, Scored]] | None) -> RowResult:
        if found is None:
            reason = reason or "name has no letters or digits"
            return RowResult(**_row_fields(row), status=Status.NOT_SCREENED, not_screened_reason=reason)
        if not found:
            return clear_result(row)
        base = _row_fields(row)
        # matches (and their explanations) are built only for the candidates the row keeps
        top = found[0][2].score
        if top >= self.threshold:
            hits = self._to_matches([f for f in found if f[2].score >= self.threshold], row.country, row.address)
            return RowResult(**base, status=Status.POTENTIAL_MATCH, score=top, matches=hits)
        best = self._to_matches(found[:1], row.country, row.address)
        return RowResult(**base, status=Status.CLEAR, score=top, matches=best)

    def screen_rows(self, rows: Iterable[InputRow]) -> Iterator[RowResult]:
        for row in rows:
            yield self.screen_row(row)

    def screen_name(self, name: str, country: str | None = None, address: str | None = None) -> RowResult:
        return self.screen_row(InputRow(name=name, country=country, address=address))

    def screen_names(self, names: Iterable[str | None]) -> list[RowResult]:
        return [
            self.screen_row(InputRow(name=name, row=i, sheet="")) for i, name in enumerate(names, start=1)
        ]

    def screen_frame(
        self,
        df: pd.DataFrame,
        *,
        name_column: str | None = None,
        country_column: str | None = None,
        address_column: str | None = None,
    ) -> list[RowResult]:
        """Screen a DataFrame; the name column is detected from its header unless given."""
        from screener.files.readers import read_frame

        rows = read_frame(
            df, name_column=name_column, country_column=country_column, address_column=address_column
        )
        return list(self.screen_rows(rows))

    def compare(self, name_a: str, name_b: str) -> Comparison:
        """Score `name_a` as input against `name_b` as if it were an alias on this screener's lists."""
        scored = compare_names(name_a, name_b, self.index.weight)
        return Comparison(name_a=name_a, name_b=name_b, score=scored.score, explanation=scored.explanation)


@lru_cache(maxsize=8)
def _default_screener(threshold: float) -> Screener:
    from screener.lists.partylist import default_list

    return Screener([("default", default_list())], threshold=threshold)


def compare(name_a: str, name_b: str) -> Comparison:
    """Score two names against each other exactly as screening against the default list does."""
    return Screener.default().compare(name_a, name_b)


def keep_bounded(table: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    """Keep `key` in a table of at most `most` entries, dropping the oldest first."""
    if len(table) >= most:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread got there first
            del table[next(iter(table))]
    table[key] = value


def _row_fields(row: InputRow) -> dict[str, Any]:
    return {"sheet": row.sheet, "row": row.row, "column": row.column, "input_name": row.name,
            "input_country": row.country, "input_address": row.address, "fields": row.fields}


_CLEAR = RowResult(input_name=None, status=Status.CLEAR).__dict__
_CLEAR_SET = frozenset(_row_fields(InputRow(name=None))) | {"status"}
_setattr = object.__setattr__


def clear_result(row: InputRow) -> RowResult:
    """The result of a row whose name has no candidate at all: clear, without a score.

    Nearly every row's, so it is put together as `model_construct` does, from one clear result and
    the row's place and cells (validated when the row was read): validating it again cost two
    seconds a million rows. Equal to ``RowResult(**_row_fields(row), status=Status.CLEAR)``, which
    a test holds it to."""
    result = RowResult.__new__(RowResult)
    _setattr(result, "__dict__", {**_CLEAR, "sheet": row.sheet, "row": row.row, "column": row.column,
                                  "input_name": row.name, "input_country": row.country,
                                  "input_address": row.address, "fields": row.fields, "matches": []})
    _setattr(result, "__pydantic_fields_set__", set(_CLEAR_SET))
    _setattr(result, "__pydantic_extra__", None)
    _setattr(result, "__pydantic_private__", None)
    return result


def repeat_result(result: RowResult, row: InputRow) -> RowResult:
    """`result` as the result of another row with its name, country and address (all that screening
    a row reads besides its place and other cells)."""
    return result.model_copy(update=_row_fields(row))


def without_candidates(result: RowResult) -> bool:
    """Whether a result is `clear_result`'s: so is every other row with this name and no reader's note."""
    return result.status is Status.CLEAR and result.score is None and not result.matches


def _unusable(name: str | None) -> str | None:
    if name is None or not str(name).strip():
        return "empty name"
    if missing_marker(name) is not None:
        return f"missing value ({name.strip()}), not a name"
    return None


def _secondary(party: Party, country: str | None, address: str | None) -> list[str]:
    """Country and address as evidence for the analyst; they never change the score."""
    notes: list[str] = []
    if country and party.country:
        given = country.strip().upper()
        if given == party.country.upper():
            notes.append(f"country agrees ({party.country})")
        else:
            notes.append(
                f"country differs (input {country.strip()}, list {party.country}): not used to lower the score"
            )
    if address and party.addresses:
        given_tokens = set(normalize(address).tokens)
        shared = sorted(
            {t for a in party.addresses for t in normalize(a.text).tokens if t in given_tokens and len(t) > 3}
        )
        if shared:
            notes.append("address shares: " + ", ".join(shared[:6]))
    return notes
