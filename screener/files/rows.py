"""Data rows to InputRows: one record per filled party cell, in column order, none lost.

A data row is a row with any non-blank cell; fully blank rows are skipped (and counted). Each
filled party cell of a data row is one record; a data row whose party cells are all blank is
still one record, not screened ("empty name"), so that every row is accounted for. A record
carries its row's filled cells by header (``fields``).

Names are stripped of surrounding whitespace; numbers, dates and booleans become the text Excel
shows. Not screened, with the reason: a formula without a cached value, an Excel error value (#N/A),
a missing-value marker as the whole name (NaN, null, n/a...), a name without letters or digits.
Names over ``MAX_NAME_CHARS`` are screened on their first ``MAX_NAME_CHARS`` characters and noted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from screener.files.cells import (
    HAS_ALNUM,
    NO_CACHE,
    ExcelError,
    is_blank,
    optional_text,
    text,
)
from screener.files.errors import InputError
from screener.files.layout import Layout, PartyColumn
from screener.files.missing import missing_marker
from screener.models import InputRow

MAX_NAME_CHARS = 1_000  # longer names are screened on their first 1,000 characters (and noted)
MAX_ROW_NOTES = 5  # per kind of per-row note, then only a count
_MARKER_CHARS = 12  # no missing-value marker is longer


class RowTally:
    """Per-sheet bookkeeping that ends up as notes, warnings and the row accounting."""

    def __init__(self, layout: Layout) -> None:
        self.long_names: list[int] = []
        self.long_count = 0
        self.blank_skipped = 0
        self.blank_rows: list[int] = []  # the first MAX_ROW_NOTES of them
        self.data_rows = 0
        self.records = 0
        self.countries = dict.fromkeys({p.country for p in layout.parties if p.country is not None}, 0)


def _name(raw: Any) -> tuple[str | None, str | None]:
    """(name, reason not screened) for one party cell."""
    if raw is None:
        return None, "empty name"
    if raw.__class__ is str:
        name: str | None = raw.strip()
    elif raw is NO_CACHE:
        return None, "formula without a cached value"
    elif isinstance(raw, ExcelError):
        return raw.code, f"cell shows the Excel error {raw.code}"
    else:
        name = optional_text(raw)
    if not name:
        return None, "empty name"
    if len(name) <= _MARKER_CHARS and missing_marker(name) is not None:
        return name, f"missing value ({name}), not a name"
    if not HAS_ALNUM(name):
        return name, "name has no letters or digits"
    return name, None


def _lines(cells: Sequence[Any], party: PartyColumn, width: int, first: Any) -> Any:
    """A name continued in later columns (`layout._name_lines`) as one cell of several lines, which
    the matcher screens whole and line by line. A line that holds no name (blank, "n/a") is left
    out; one that cannot be read (an Excel error, a formula without its value) makes the name
    unreadable, as a part of it is unknown."""
    lines = []
    for i in (party.index, *party.lines):
        raw = cells[i] if i < width else None
        name, reason = _name(raw)
        if reason is None:
            lines.append(name)
        elif raw is NO_CACHE or isinstance(raw, ExcelError):
            return raw
    return "\n".join(lines) if lines else first


def _fact(cells: Sequence[Any], index: int | None, width: int) -> str | None:
    if index is None or index >= width:
        return None
    value = cells[index]
    return (value.strip() or None) if value.__class__ is str else optional_text(value)


def make_rows(records: Iterable[tuple[int, Sequence[Any]]], layout: Layout, sheet: str,
              tally: RowTally, *, skip_blank: bool = True, strict_width: str | None = None
              ) -> Iterator[InputRow]:
    """The hot loop: records for every data row after the header (blank ones skipped if asked).

    ``strict_width`` (the file name, for delimited text) refuses a row with filled cells beyond the
    header: a name cut by the delimiter would otherwise lose its tail without a word.
    """
    header_row, header_width = layout.header_row, layout.width
    parties = layout.parties
    keys = layout.keys
    several = len(parties) > 1
    countries = tally.countries
    validate = InputRow.model_validate  # from a dict: a third faster than keyword arguments
    pending_blank, pending_rows = 0, []  # blank rows not yet known to lie between data rows (the first few)
    for row, cells in records:
        if row <= header_row:
            continue
        if skip_blank and is_blank(cells):
            pending_blank += 1
            if len(pending_rows) < MAX_ROW_NOTES:
                pending_rows.append(row)
            continue
        if pending_blank:
            tally.blank_skipped += pending_blank
            tally.blank_rows.extend(pending_rows[: MAX_ROW_NOTES - len(tally.blank_rows)])
            pending_blank, pending_rows = 0, []
        width = len(cells)
        if strict_width is not None and width > header_width and not is_blank(cells[header_width:]):
            raise InputError(
                f"{width} fields where the header (row {header_row}) has {header_width}: the "
                "delimiter splits this line differently; quote names that contain it",
                file=strict_width, row=row)
        tally.data_rows += 1
        if strict_width is not None:  # delimited text: every cell is already text
            fields = dict(zip(keys, cells))
        else:
            fields = {k: (v.strip() if v.__class__ is str else text(v).strip())
                      for k, v in zip(keys, cells)
                      if v is not None and (v.__class__ is not str or (v and not v.isspace()))}
        emitted = False
        for party in parties:
            raw = cells[party.index] if party.index < width else None
            if party.lines:
                raw = _lines(cells, party, width, raw)
            if several and (raw is None or (raw.__class__ is str and (not raw or raw.isspace()))):
                continue
            if raw.__class__ is str and len(name := raw.strip()) > _MARKER_CHARS and HAS_ALNUM(name):
                reason = None  # the common case, without the checks below
            else:
                name, reason = _name(raw)
            if reason is None and len(name) > MAX_NAME_CHARS:  # type: ignore[arg-type]
                name = name[:MAX_NAME_CHARS].rstrip()  # type: ignore[index]
                tally.long_count += 1
                if len(tally.long_names) < MAX_ROW_NOTES:
                    tally.long_names.append(row)
            country = _fact(cells, party.country, width)
            if country is not None:
                countries[party.country] += 1
            tally.records += 1
            emitted = True
            yield validate({"name": name, "country": country, "address": _fact(cells, party.address, width),
                            "sheet": sheet, "row": row, "column": party.label,
                            "not_screened_reason": reason, "fields": fields})
        if not emitted:
            first = parties[0]
            tally.records += 1
            yield validate({"name": None, "country": _fact(cells, first.country, width),
                            "address": _fact(cells, first.address, width), "sheet": sheet, "row": row,
                            "column": first.label, "fields": fields,
                            "not_screened_reason": "empty name in every party column ("
                            + ", ".join(p.label for p in parties) + ")"})


def sheet_notes(sheet: str, tally: RowTally) -> list[str]:
    notes = []
    if tally.blank_skipped:
        notes.append(f'sheet "{sheet}": {tally.blank_skipped} blank row(s) between data rows '
                     f"were skipped, no record each ({_rows(tally.blank_rows, tally.blank_skipped)})")
    if tally.long_count:
        notes.append(f'sheet "{sheet}": {tally.long_count} name(s) longer than {MAX_NAME_CHARS:,} '
                     f"characters were screened on their first {MAX_NAME_CHARS:,} "
                     f"({_rows(tally.long_names, tally.long_count)})")
    return notes


def _rows(shown: list[int], count: int) -> str:
    return "rows " + ", ".join(str(r) for r in shown) + ("" if count <= len(shown) else ", …")


def sheet_warnings(layout: Layout, tally: RowTally) -> list[str]:
    """A country column from which nothing was read is said, never silently ignored."""
    if not tally.data_rows:
        return []
    return [f'country column "{layout.display(index)}" is empty in every row; no country was read'
            for index, count in tally.countries.items() if not count]


def header_notes(sheet: str, layout: Layout) -> list[str]:
    if not layout.titles:
        return []
    rows = ", ".join(str(r) for r in layout.titles)
    return [(f'sheet "{sheet}": row(s) {rows} above the header (row {layout.header_row}) were '
             "read as titles, not data")]
