"""Which columns of a sheet are screened as what: the header row, every party column, and the
country and address that go with each.

Header. The first non-blank row of a sheet, except that title rows (at most one filled cell, e.g.
a merged "Orders 2024" banner) are passed over when a header with two or more filled cells
follows within ``HEADER_SCAN_ROWS`` rows (noted).

Party columns (see ``headers``). Every column whose label names a party is screened, unless its
content says otherwise: a column whose sampled cells (the first ``CONTENT_SAMPLE_ROWS`` data
rows) are mostly numbers, codes or dates holds customer numbers, never names ("Customer" in a SAP
export next to "Name 1"), and is reported as not used, with the reason; when every party column
looks so, they are screened all the same and the run cannot be clear. When no label names a party
but the row is clearly a header (another label is known), the column whose content looks most like
names is screened, and that choice is a warning. Columns given by the caller (label, letter or
1-based number, several allowed) are screened as given.

Country and address. A role-prefixed column ("Ship To Country") goes with that role's party
column; otherwise the sheet's plain country (address) column goes with every party column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import chain
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from screener.files.cells import NO_CACHE, ExcelError, is_blank, letter, text
from screener.files.errors import ColumnNotFound, quote_list
from screener.files.headers import (
    Label,
    classify,
    fact_priority,
    is_field_label,
    normalise_label,
)
from screener.models import ColumnUse, SheetColumns

HEADER_SCAN_ROWS = 10  # title rows passed over while looking for a header
CONTENT_SAMPLE_ROWS = 200  # data rows looked at to tell names from numbers, codes and dates
NON_NAME_SHARE = 0.5  # a party column with more than this share of numbers/codes/dates is not one

Spec = str | int
Records = Iterator[tuple[int, Sequence[Any]]]

_NUMBERISH = re.compile(r"[\d\s.,:/+\-()%]*\d[\d\s.,:/+\-()%]*")  # amounts, dates, phone numbers
_CODE = re.compile(r"[A-Za-z0-9._/#\-]*\d[A-Za-z0-9._/#\-]*")  # C001, SO-1234, 4711A
_LETTERS = re.compile(r"[^\W\d_]")


def _is_non_name(value: Any) -> bool | None:
    """True for a number, code or date; False for text that could be a name; None for blanks."""
    if value is None or value is NO_CACHE or isinstance(value, ExcelError):
        return None
    if isinstance(value, (bool, int, float, datetime, date, time, timedelta)):
        return True
    shown = text(value).strip()
    if not shown:
        return None
    return bool(_NUMBERISH.fullmatch(shown) or _CODE.fullmatch(shown))


@dataclass
class _Profile:
    filled: int = 0
    non_name: int = 0
    namey: int = 0  # cells with three or more letters

    def add(self, value: Any) -> None:
        kind = _is_non_name(value)
        if kind is None:
            return
        self.filled += 1
        if kind:
            self.non_name += 1
        elif len(_LETTERS.findall(text(value))) >= 3:
            self.namey += 1

    @property
    def mostly_non_names(self) -> bool:
        return self.filled > 0 and self.non_name > NON_NAME_SHARE * self.filled

    def why_not(self) -> str:
        return (f"mostly numbers, codes or dates ({self.non_name} of {self.filled} sampled cells): "
                "not screened as names")


@dataclass
class PartyColumn:
    index: int
    label: str  # as shown to the user
    country: int | None
    address: int | None
    lines: tuple[int, ...] = ()  # the columns of the same name's later lines (`_name_lines`)


@dataclass
class Layout:
    """Where the party, country and address columns sit in one sheet, and which row is the header."""

    header_row: int
    labels: list[str]
    width: int  # cells in the header row, blank trailing ones included
    parties: list[PartyColumn]  # in column order, which is the order of a row's records
    titles: list[int] = field(default_factory=list)
    uses: list[ColumnUse] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    primary_index: int = 0  # the most specific party column ("Customer Name" before "Name")
    doubtful: list[str] = field(default_factory=list)  # party columns whose content is not names

    @property
    def primary(self) -> PartyColumn:
        return next((p for p in self.parties if p.index == self.primary_index), self.parties[0])

    @property
    def keys(self) -> list[str]:
        return column_keys(self.labels)

    def display(self, index: int | None) -> str | None:
        return None if index is None else display_label(self.labels, index)

    def described(self) -> dict[str, str | None]:
        """The primary party column and its country and address (what a one-column caller sees)."""
        p = self.primary
        return {"name": p.label, "country": self.display(p.country), "address": self.display(p.address)}

    def sheet_columns(self, file_name: str, sheet: str) -> SheetColumns:
        return SheetColumns(file_name=file_name, sheet=sheet, header_row=self.header_row,
                            columns=list(self.uses), warnings=list(self.warnings),
                            doubtful=list(self.doubtful))


def column_keys(labels: Sequence[str]) -> list[str]:
    """Each column's name in records and ``fields``: its label, made unique with its letter."""
    repeated = {label for i, label in enumerate(labels) if label and labels.index(label) != i}
    return [f"{label} ({letter(i)})" if label in repeated else label or f"column {letter(i)}"
            for i, label in enumerate(labels)]


def display_label(labels: Sequence[str], index: int) -> str:
    label = labels[index] if index < len(labels) else ""
    return label or f"column {letter(index)}"


def header_choices(labels: Sequence[str]) -> list[str]:
    """What the user may pick from: each label, or the column letter where the label is blank."""
    return [label or letter(i) for i, label in enumerate(labels)]


def header_labels(cells: Sequence[Any]) -> list[str]:
    labels = [text(v).strip() if v is not None else "" for v in cells]
    while labels and not labels[-1]:
        labels.pop()
    return labels


def resolve_spec(labels: Sequence[str], spec: Spec, positional: bool = True) -> int | None:
    """Index of an explicitly given column: label first, then letter ("B"), then 1-based number."""
    width = len(labels)
    shown = str(spec).strip()
    if not shown:
        return None
    for i, label in enumerate(labels):
        if label == shown:
            return i
    folded = shown.casefold()
    for i, label in enumerate(labels):
        if label.casefold() == folded:
            return i
    wanted = normalise_label(shown)
    if wanted:
        for i, label in enumerate(labels):
            if normalise_label(label) == wanted:
                return i
    if not positional:
        return None
    index: int | None = None
    if isinstance(spec, int) or shown.isdigit():
        index = int(shown) - 1
    elif re.fullmatch(r"[A-Za-z]{1,3}", shown):
        index = 0
        for ch in shown.upper():
            index = index * 26 + ord(ch) - 64
        index -= 1
    if index is not None and 0 <= index < width:
        return index
    return None


class Specs:
    """The columns the caller named (label, letter or 1-based number), None to detect."""

    def __init__(self, names: Spec | Sequence[Spec] | None, country: Spec | None,
                 address: Spec | None) -> None:
        if names is None or isinstance(names, (str, int)):
            names = [] if names is None or str(names).strip() == "" else [names]
        self.names: list[Spec] = list(names)
        self.country, self.address = country, address


# --- finding the header ---------------------------------------------------------------------------


@dataclass
class _Header:
    row: int
    labels: list[str]
    width: int
    titles: list[int]
    kinds: list[Label | None]

    @property
    def known(self) -> bool:
        """Whether the row is clearly a header: some label is a field screener knows."""
        return any(self.kinds) or any(is_field_label(normalise_label(x)) for x in self.labels if x)


def _header(row: int, cells: Sequence[Any], titles: list[int]) -> _Header:
    labels = header_labels(cells)
    kinds = [classify(normalise_label(label)) if label else None for label in labels]
    return _Header(row, labels, len(cells), titles, kinds)


def _has_party(header: _Header, specs: Specs) -> bool:
    if specs.names:
        return any(resolve_spec(header.labels, s, positional=False) is not None for s in specs.names)
    return any(k is not None and k.kind == "party" for k in header.kinds)


def find_header(records: Records, specs: Specs) -> tuple[_Header | None, Records]:
    """Locate the header row (None for a sheet with no data at all), and the records after it.

    Candidates are the first non-blank row and, while rows hold at most one filled cell (titles),
    the rows after it up to the first row with two or more filled cells. A candidate naming a
    party column is the header; failing that, a report's title block of several cells a line
    ("Open orders", "Printed 2024-01-01") is passed over too: a later row among the first
    HEADER_SCAN_ROWS that names the given name column, or a party and another known field
    ("Customer Name", "Country"), which a data row hardly does. Failing both, the last candidate
    with two or more filled cells, else the first.
    """
    candidates: list[_Header] = []
    filled = 0
    for row, cells in records:
        if is_blank(cells):
            continue
        header = _header(row, cells, [c.row for c in candidates])
        filled = sum(1 for label in header.labels if label)
        candidates.append(header)
        if (len(candidates) == 1 or filled >= 2) and _has_party(header, specs):
            return header, records
        if filled >= 2 or len(candidates) > HEADER_SCAN_ROWS:
            break
    if not candidates:
        return None, records
    chosen = candidates[-1] if filled >= 2 else candidates[0]
    if filled < 2:
        return chosen, records
    read: list[tuple[int, Sequence[Any]]] = []  # looked at past `chosen`: given back when no header is there
    seen = [c.row for c in candidates]
    for row, cells in records:
        read.append((row, cells))
        if is_blank(cells):
            continue
        later = _header(row, cells, list(seen))
        if _has_party(later, specs) and (specs.names or sum(1 for k in later.kinds if k) >= 2):
            return later, records
        seen.append(row)
        if len(seen) >= HEADER_SCAN_ROWS:
            break
    return chosen, chain(read, records)


def sample_rows(records: Records, after: int) -> list[Sequence[Any]]:
    """The first data rows after the header, for the content checks (consumes ``records``)."""
    out: list[Sequence[Any]] = []
    for row, cells in records:
        if row <= after or is_blank(cells):
            continue
        out.append(cells)
        if len(out) >= CONTENT_SAMPLE_ROWS:
            break
    return out


# --- choosing the columns -------------------------------------------------------------------------


def build_layout(header: _Header, sample: Sequence[Sequence[Any]], specs: Specs,
                 where: dict[str, Any]) -> Layout:
    """Party columns with their country and address, every column's use, and the warnings."""
    labels = header.labels
    keys = column_keys(labels)
    width = max(len(labels), 1)
    profiles = [_Profile() for _ in range(width)]
    for cells in sample:
        for i in range(min(width, len(cells))):
            profiles[i].add(cells[i])
    uses: dict[int, ColumnUse] = {}
    warnings: list[str] = []
    doubtful: list[str] = []

    def use(i: int, kind: str, how: str | None, note: str | None = None) -> None:
        uses[i] = ColumnUse(column=keys[i], letter=letter(i), use=kind,  # type: ignore[arg-type]
                            chosen_by=how, note=note)

    facts = _facts(header, specs, where)
    for kind, found in facts.items():
        for i in found.values():
            use(i, kind, "option" if getattr(specs, kind) is not None else "header")
    stems: dict[int, str] = {}
    if specs.names:
        party = []
        for spec in specs.names:
            i = resolve_spec(labels, spec)
            if i is None:
                choices = header_choices(labels)
                raise ColumnNotFound(
                    f"name column not found in the header (row {header.row}); headers: "
                    f"{quote_list(choices)}", headers=choices, role="name", column=str(spec), **where)
            if i not in party:
                party.append(i)
                use(i, "party", "option")
                if profiles[i].mostly_non_names:
                    warnings.append(f'column "{display_label(labels, i)}" was given as a name column '
                                    f"but holds {profiles[i].why_not().split(':')[0]}")
        named = [i for i, kind in enumerate(header.kinds) if kind is not None and kind.kind == "party"]
        for first, more in _name_lines(labels, sorted(set(named) | set(party))).items():
            left = [j for j in (first, *more) if j not in party]
            if left and len(left) <= len(more):  # some lines given, others not
                warnings.append(f"{quote_list([display_label(labels, j) for j in left])}: the other line(s) "
                                f'of the name in "{display_label(labels, first if first in party else more[0])}"'
                                " were not given with --name-column, so that name was screened in part")
    else:
        ranked = []
        for i, kind in enumerate(header.kinds):
            if kind is None or kind.kind != "party" or i in uses:
                continue
            if profiles[i].mostly_non_names:
                use(i, "not used", "content", profiles[i].why_not())
                continue
            ranked.append((kind.rank, i))
            stems[i] = kind.stem
            use(i, "party", "header")
        party = [i for _, i in sorted(ranked)]
        if not party and not any(u.use == "not used" for u in uses.values()):  # no party header at all
            party = _by_content(header, profiles, uses)
            for i in party:
                use(i, "party", "content")
            if party:
                shown = ", ".join(f'"{display_label(labels, i)}"' for i in sorted(party))
                warnings.append(f"no header names a party column; column(s) {shown} were screened because "
                                "their content looks like names: check them, or name the party columns "
                                "with --name-column")
        if not party:
            party = _numeric_parties(header, uses, where)
            for i in party:
                use(i, "party", "header", profiles[i].why_not().split(":")[0]
                    + ": screened all the same, as no other party column was found")
                doubtful.append(keys[i])
                warnings.append(f'party column "{keys[i]}" holds {profiles[i].why_not().split(":")[0]}; '
                                "it was screened as no other party column was found, and the run cannot "
                                "be clear: name the party columns with --name-column")
    for i, label in enumerate(labels):
        if i not in uses:
            use(i, "not used", None)
    lines = _name_lines(labels, party)
    later = {j: i for i, more in lines.items() for j in more}
    parties = []
    for i in party:
        if i in later:
            uses[i] = uses[i].model_copy(update={"note": f"a later line of the name in {keys[later[i]]}: "
                                                 "screened with it"})
            continue
        country = _pair(stems.get(i, ""), facts["country"])
        address = _pair(stems.get(i, ""), facts["address"])
        more = lines.get(i, ())
        parties.append(PartyColumn(i, " + ".join(keys[j] for j in (i, *more)), country, address, more))
        extras = [f"{k} {display_label(labels, j)}" for k, j in (("country", country), ("address", address))
                  if j is not None]
        if more:
            extras.insert(0, f"the name's later line(s) {', '.join(keys[j] for j in more)}: screened "
                          "whole and line by line")
        if extras:
            uses[i] = uses[i].model_copy(update={"note": (uses[i].note + "; " if uses[i].note else "")
                                                 + "with " + ", ".join(extras)})
    return Layout(header.row, labels, header.width, sorted(parties, key=lambda p: p.index), header.titles,
                  [uses[i] for i in sorted(uses)], warnings, later.get(party[0], party[0]), doubtful)


_LINE = re.compile(r"(.*(?:name|naam|nom|nombre|nome|名称|名字))(\d?)")  # a name column's label, numbered or not


def _name_lines(labels: Sequence[str], party: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Party columns that hold the lines of one name: SAP's NAME1 to NAME4, "Name 1" and "Name 2",
    "Customer Name" and "Customer Name 2". A name longer than a field is continued in the next,
    often mid-word ("Hangzhou Hik-" / "vision Digital Technology Co., Ltd."), so each line alone
    may match nothing. By the first line's column, the columns of the later lines, in line order."""
    series: dict[str, list[tuple[int, int]]] = {}
    for i in party:
        found = _LINE.fullmatch(normalise_label(labels[i]))
        if found is not None:
            series.setdefault(found.group(1), []).append((int(found.group(2) or 1), i))
    out: dict[int, tuple[int, ...]] = {}
    for members in series.values():
        members.sort()
        if len(members) > 1 and [n for n, _ in members] == list(range(1, len(members) + 1)):
            out[members[0][1]] = tuple(i for _, i in members[1:])
    return out


def _facts(header: _Header, specs: Specs, where: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Country and address columns by role stem ("" for the plain one); a given one for all roles."""
    labels = header.labels
    out: dict[str, dict[str, int]] = {"country": {}, "address": {}}
    for kind in ("country", "address"):
        spec = getattr(specs, kind)
        if spec is not None:
            index = resolve_spec(labels, spec)
            if index is None:
                choices = header_choices(labels)
                raise ColumnNotFound(
                    f"{kind} column not found in the header (row {header.row}); "
                    f"headers: {quote_list(choices)}",
                    headers=choices, role=kind, column=str(spec), **where)
            out[kind][""] = index
            continue
        best: dict[str, tuple[int, int]] = {}
        for i, found in enumerate(header.kinds):
            if found is None or found.kind != kind or (specs.names and i in _given(labels, specs)):
                continue
            key = (fact_priority(normalise_label(labels[i]), kind), i)
            if found.stem not in best or key < best[found.stem]:
                best[found.stem] = key
        out[kind] = {stem: i for stem, (_, i) in best.items()}
    return out


def _given(labels: Sequence[str], specs: Specs) -> set[int]:
    return {i for s in specs.names if (i := resolve_spec(labels, s)) is not None}


def _pair(stem: str, found: dict[str, int]) -> int | None:
    """The role's own column, else the plain one, else the first there is."""
    if stem in found:
        return found[stem]
    if "" in found:
        return found[""]
    return min(found.values()) if found else None


def _by_content(header: _Header, profiles: list[_Profile], uses: dict[int, ColumnUse]) -> list[int]:
    """Every column whose content looks like names, when the row is clearly a header: the one that
    looks most so first. All of them, since a header screener cannot read ("Warenempfänger" before
    its word was known) may name a second party, and a party left out is the costliest miss."""
    if not header.known:
        return []
    found = []
    for i, profile in enumerate(profiles[: len(header.labels)]):
        if i in uses or not profile.filled or profile.mostly_non_names:
            continue
        if is_field_label(normalise_label(header.labels[i])) or profile.namey * 2 < profile.filled:
            continue
        found.append(((profile.namey / profile.filled, profile.namey), i))
    return [i for _, i in sorted(found, key=lambda f: (-f[0][0], -f[0][1], f[1]))]


def _numeric_parties(header: _Header, uses: dict[int, ColumnUse], where: dict[str, Any]) -> list[int]:
    """Party columns set aside for their content, when nothing else is left: screened anyway (a
    warning), since screening numbers costs nothing and skipping a party column could miss one."""
    set_aside = [i for i, u in uses.items() if u.use == "not used" and u.chosen_by == "content"]
    if set_aside:
        return sorted(set_aside)
    choices = header_choices(header.labels)
    raise ColumnNotFound(f"no name column recognised in the header (row {header.row}); choose one "
                         f"of: {quote_list(choices)}", headers=choices, role="name", **where)
