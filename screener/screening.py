"""The library API every shell uses: screen names, rows and frames against loaded lists, and decide.

`Screener` holds the lists and their index (built once, reused for every call), the threshold that
turns a score into a potential match, and the secondary evidence (country, address) that goes into
an explanation but never lowers a strong name match.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

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
from screener.names.matcher import (
    REPORT_FLOOR,
    AliasIndex,
    ad_hoc_alias,
    prepare_unindexed,
    score_alias,
)
from screener.names.normalize import normalize

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_THRESHOLD = 75.0
MAX_CANDIDATES = 5


class Screener:
    """Screens names against one or more restricted-party lists."""

    def __init__(
        self,
        lists: Sequence[tuple[str, RestrictedList]] | RestrictedList,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if isinstance(lists, RestrictedList):
            lists = [("default", lists)]
        if not 0 <= threshold <= 100:
            raise ValueError(f"threshold must be between 0 and 100, not {threshold}")
        self.lists: list[tuple[str, RestrictedList]] = list(lists)
        self.threshold = float(threshold)
        self.index = AliasIndex(self.lists)
        self._floor = min(REPORT_FLOOR, self.threshold)
        self._infos: list[ListInfo] | None = None

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
        query = normalize(name)
        found = self.index.match(query, floor=self._floor, limit=MAX_CANDIDATES)
        return [
            self.index.to_match(party_idx, scored, _secondary(self.index.parties[party_idx][1], country, address))
            for party_idx, _, scored in found
        ]

    def screen_row(self, row: InputRow) -> RowResult:
        """Decide one row: not screened (with the reader's or our reason), clear, or potential match."""
        base = dict(
            sheet=row.sheet,
            row=row.row,
            input_name=row.name,
            input_country=row.country,
            input_address=row.address,
        )
        reason = row.not_screened_reason or _unusable(row.name)
        if reason:
            return RowResult(**base, status=Status.NOT_SCREENED, not_screened_reason=reason)
        assert row.name is not None
        found = self.matches(row.name, row.country, row.address)
        if not found:
            return RowResult(**base, status=Status.CLEAR)
        top = found[0].score
        if top >= self.threshold:
            hits = [m for m in found if m.score >= self.threshold]
            return RowResult(**base, status=Status.POTENTIAL_MATCH, score=top, matches=hits)
        return RowResult(**base, status=Status.CLEAR, score=top, matches=found[:1])

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
        alias = ad_hoc_alias(name_b, self.index.weight)
        scored = score_alias(prepare_unindexed(normalize(name_a)), alias, self.index.weight)
        return Comparison(name_a=name_a, name_b=name_b, score=scored.score, explanation=scored.explanation)


@lru_cache(maxsize=8)
def _default_screener(threshold: float) -> Screener:
    from screener.lists.partylist import default_list

    return Screener([("default", default_list())], threshold=threshold)


def compare(name_a: str, name_b: str) -> Comparison:
    """Score two names against each other exactly as screening against the default list does."""
    return Screener.default().compare(name_a, name_b)


def _unusable(name: str | None) -> str | None:
    if name is None or not str(name).strip():
        return "empty name"
    if not normalize(name).tokens:
        return "name has no letters or digits"
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
