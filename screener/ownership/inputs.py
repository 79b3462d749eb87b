"""Ownership as users supply it: an ownership file or sheet, owner columns on a customer row, and the
owners of a shipment party. Everything becomes holdings of one `OwnershipGraph`.

The ownership file (csv/tsv or xlsx; in a workbook the sheet named "Ownership", else the first sheet
whose header has entity and owner columns) has one holding per row: ``entity, owner,
share_percent``, several rows per entity, and owners that are themselves entities of the file
(chains). Shares are percent (``60``, ``60%``, ``60.5``); a blank share, ``unknown`` or ``?`` is
an unknown share. A cell Excel formats as a percentage arrives as the text it shows ("60%" for
0.6, see `screener.files.xlsx`); a plain 0.6 elsewhere is 0.6 percent, as typed: the outcome then
says so, and a listed owner's 0.6% is still a listed minority holding, never a clear. Entities and owners are joined by their normalised name (case, punctuation,
legal forms and scripts as matching sees them), so "Acme Holdings Ltd." in a customer file finds
"ACME HOLDINGS LIMITED" here. Bad input is an `OwnershipError` naming file, sheet, row and column.

Row owner columns (``Parent``, ``Owner``, ``Ultimate Parent``, ``Shareholder``, numbered or with
"Name"/"Company") are read from a customer row's filled cells; a share column beside them
(``Parent Share %``, ``Ownership %``, ``Share``) pairs with the owner column its label starts
with, else with the owner column before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any

from screener.collector import paused
from screener.files.cells import is_blank, optional_text
from screener.files.delimited import CsvRecords, LineDecoder, plan_text
from screener.files.headers import normalise_label
from screener.files.missing import missing_marker
from screener.files.xlsx import Book, check_zip
from screener.models import SheetColumns
from screener.names.normalize import normalize
from screener.ownership.graph import OwnershipError, OwnershipGraph

SHEET_NAME = "ownership"
ENTITY_LABELS = frozenset({"entity", "entityname", "company", "companyname", "subsidiary", "customer",
                           "customername", "party", "name"})
SHARE_LABELS = frozenset({"sharepercent", "share", "sharepct", "percent", "pct", "ownership",
                          "ownershippercent", "ownershippct", "shareholding", "stake"})
ROW_OWNER = re.compile(r"^(ultimate|immediate|direct)?(parent|owner|shareholder)(name|company)?\d*$")
ROW_SHARE = re.compile(r"(share|ownership|percent|pct|stake)")
UNKNOWN_SHARES = frozenset({"", "?", "unknown", "unk", "tbd", "not known", "notknown"})
SHARE_TEXT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*%?$")


def name_key(name: str) -> str:
    """How an entity is recognised across files: its normalised tokens, else its casefolded text."""
    return normalize(name).text or " ".join(name.casefold().split())


def parse_share(value: Any, where: str) -> float | None:
    """A share in percent, or None when unknown; anything else is an OwnershipError at `where`."""
    if isinstance(value, bool):
        raise OwnershipError(f"{where}: {value} is not a share in percent")
    if isinstance(value, (int, float)) and missing_marker(value) is None:
        share = float(value)
    else:
        text = optional_text(value) or ""
        if text.casefold() in UNKNOWN_SHARES or missing_marker(text) is not None:
            return None
        found = SHARE_TEXT.match(text.strip())
        if found is None:
            raise OwnershipError(f'{where}: "{text}" is not a share in percent (e.g. 60 or 60%; blank if unknown)')
        share = float(found.group(1).replace(",", "."))
    if not 0 <= share <= 100:
        raise OwnershipError(f"{where}: share {share:g}% is not between 0 and 100")
    return share


def read_ownership(path: str | Path, display_name: str | None = None,
                   graph: OwnershipGraph | None = None) -> OwnershipGraph:
    """The holdings of an ownership file (csv/tsv/txt or xlsx) added to `graph` (a new one by default)."""
    path = Path(path)
    file_name = display_name or path.name
    graph = graph if graph is not None else OwnershipGraph()
    if not path.is_file():
        raise OwnershipError(f"{file_name}: no such ownership file")
    with paused():
        _read(path, file_name, graph)
    return graph


def _read(path: Path, file_name: str, graph: OwnershipGraph) -> None:
    suffix = Path(file_name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        check_zip(path, {"file": file_name})
        book = Book.open(path, file_name)
        try:
            sheet = _ownership_sheet(book, file_name)
            with closing(book.records(sheet)) as records:
                _add_records(graph, records, f'{file_name}, sheet "{sheet}"', strict_width=False)
        finally:
            book.close()
    elif suffix in (".csv", ".tsv", ".txt"):
        plan, _ = plan_text(path, suffix, {"file": file_name})
        records = CsvRecords(path, plan, LineDecoder(plan), file_name)
        with closing(iter(records)) as stream:
            _add_records(graph, stream, file_name, strict_width=True)
    else:
        raise OwnershipError(f"{file_name}: an ownership file must be .xlsx, .csv or .tsv")


def _ownership_sheet(book: Book, file_name: str) -> str:
    names = list(book.workbook.sheetnames)
    named = next((n for n in names if n.strip().casefold() == SHEET_NAME), None)
    if named is not None:
        return named
    for name in names:
        with closing(book.records(name)) as records:
            header = next(((i, cells) for i, cells in records if not is_blank(cells)), None)
        if header is not None and _columns(header[1]) is not None:
            return name
    raise OwnershipError(f'{file_name}: no sheet "Ownership" and no sheet with entity and owner columns')


def _columns(header: Sequence[Any]) -> tuple[int, int, int | None] | None:
    labels = [normalise_label(optional_text(c) or "") for c in header]
    entity = next((i for i, lb in enumerate(labels) if lb in ENTITY_LABELS), None)
    owner = next((i for i, lb in enumerate(labels) if ROW_OWNER.match(lb) or lb == "holder"), None)
    share = next((i for i, lb in enumerate(labels) if lb in SHARE_LABELS), None)
    if entity is None or owner is None:
        return None
    return entity, owner, share


def _add_records(graph: OwnershipGraph, records: Iterator[tuple[int, Sequence[Any]]], where: str, *,
                 strict_width: bool) -> None:
    """`strict_width` (delimited text) refuses a line split into more fields than the header: an
    unquoted "Acme, Inc." would otherwise make " Inc." the owner and drop the listed one unseen."""
    header = next(((i, cells) for i, cells in records if not is_blank(cells)), None)
    if header is None:
        raise OwnershipError(f"{where}: no data")
    found = _columns(header[1])
    if found is None:
        raise OwnershipError(f"{where}, row {header[0]}: the header needs an entity column and an owner "
                             "column (entity, owner, share_percent)")
    entity_col, owner_col, share_col = found
    labels = [optional_text(c) or "" for c in header[1]]

    def cell(cells: Sequence[Any], col: int | None) -> Any:
        return cells[col] if col is not None and col < len(cells) else None

    for number, cells in records:
        if is_blank(cells):
            continue
        at = f"{where}, row {number}"
        if strict_width and len(cells) > len(header[1]) and not is_blank(cells[len(header[1]):]):
            raise OwnershipError(f"{at}: {len(cells)} fields where the header (row {header[0]}) has "
                                 f"{len(header[1])}: the delimiter splits this line differently; quote names "
                                 "that contain it")
        entity = optional_text(cell(cells, entity_col))
        owner = optional_text(cell(cells, owner_col))
        if entity is None:
            raise OwnershipError(f'{at}, column "{labels[entity_col]}": no entity name')
        node = graph.node(name_key(entity), entity)
        if owner is None:
            continue  # an entity without owners: known, holding nothing
        share_at = f'{at}, column "{labels[share_col]}"' if share_col is not None else at
        share = parse_share(cell(cells, share_col), share_at)
        graph.add(node, graph.node(name_key(owner), owner), share, at)


@lru_cache(maxsize=4096)
def owner_columns(labels: tuple[str, ...]) -> dict[str, str | None]:
    """Owner column label -> the share column label paired with it (None without one), in order."""
    norms = {label: normalise_label(label) for label in labels}
    owners = [label for label, norm in norms.items() if ROW_OWNER.match(norm)]
    pairs: dict[str, str | None] = dict.fromkeys(owners)
    previous: str | None = None
    for label, norm in norms.items():
        if label in pairs:
            previous = label
            continue
        if not owners or not ROW_SHARE.search(norm):
            continue
        stem = max((o for o in owners if norm.startswith(norms[o])), key=lambda o: len(norms[o]), default=None)
        target = stem or (owners[0] if len(owners) == 1 else previous)
        if target is not None and pairs[target] is None:
            pairs[target] = label
    return pairs


def row_owners(fields: Mapping[str, str], where: str) -> list[tuple[str, float | None, str]]:
    """(owner name, share or None, where) for each owner column filled on a customer row."""
    out = []
    for label, share_label in owner_columns(tuple(fields)).items():
        name = fields[label].strip()
        if not name or missing_marker(name) is not None:
            continue
        if share_label is not None:
            share = parse_share(fields[share_label], f'{where}, column "{share_label}"')
            out.append((name, share, f'{where}, columns "{label}" and "{share_label}"'))
        else:
            out.append((name, None, f'{where}, column "{label}"'))
    return out


def mark_owner_columns(usage: list[SheetColumns]) -> list[SheetColumns]:
    """The Summary's column uses with owner and share columns shown as used (they are not screened
    as parties, but their owners are screened for the Affiliates Rule)."""
    for sheet in usage:
        pairs = owner_columns(tuple(c.column for c in sheet.columns))
        shares = {share: owner for owner, share in pairs.items() if share is not None}
        for c in sheet.columns:
            if c.use != "not used":
                continue
            if c.column in pairs:
                c.use, c.chosen_by, c.note = "owner", "header", "owner screened for the 50% Affiliates Rule"
            elif c.column in shares:
                c.use, c.chosen_by, c.note = "owner share", "header", f'share held by "{shares[c.column]}"'
    return usage

def add_owners(graph: OwnershipGraph | None, parties: Sequence[tuple[str, Sequence[Any], str]]) -> OwnershipGraph:
    """Nested owners (objects with name, share_percent, owners) of each (party name, owners, where).

    A party or owner named again elsewhere in the document is the same entity: a holding it already
    has is not counted twice.
    """
    graph = graph if graph is not None else OwnershipGraph()
    stack = list(reversed(parties))
    while stack:
        name, owners, where = stack.pop()
        node = graph.node(name_key(name), name)
        for i, owner in enumerate(owners):
            at = f"{where}.owners[{i}]"
            owner_node = graph.node(name_key(owner.name), owner.name)
            if all(h.owner != owner_node for h in graph.holders[node]):
                graph.add(node, owner_node, owner.share_percent, at)
            stack.append((owner.name, owner.owners, at))
    return graph
