"""Importers for the published US list formats: the Consolidated Screening List CSV and OFAC's SDN CSVs.

Both turn a downloaded file into a `RestrictedList` of `Party` records, one per listed entry, and
account for every row they read: a row that cannot become a record is reported in `skipped` with its
file, line and reason, and every repair made to the data (stray control characters, unreadable dates,
the OFAC end-of-file byte) is reported in `notes`. Nothing is dropped or changed silently.

Party ids are `<prefix>:<original id>` (`csl:`, `sdn:`). The CSL repeats an id when one entity sits on
several lists (SDN and PLC, SSI and NS-MBS); every row sharing an id is then qualified with its list's
short name (`csl:17014:ssi`), so ids stay unique and do not depend on row order. A row without an id
(the 2019 CSL layout) gets a hash of its list and name, so the id survives edits to the rest of the
record and a later version can be compared with this one by id.

Neither the CSL nor the SDN files have a field for the reason of listing; their free-text remarks
(for SDN rows, with the overflow in sdn_comments.csv) are kept in `Party.reason`, prefixed
"Remarks: ", so that identifying details (dates of birth, "Linked To:") reach the analyst.
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from screener.models import (
    QUOTE_MAX,
    Address,
    Alias,
    AliasKind,
    EntityType,
    Party,
    RestrictedList,
    Source,
)

CSL_REQUIRED = ("source", "name")
CSL_FORMAT, SDN_FORMAT = "csl", "ofac-sdn"
SDN_LIST_NAME = "Specially Designated Nationals (SDN) - Treasury Department"
SDN_URL = (
    "https://home.treasury.gov/policy-issues/financial-sanctions/"
    "specially-designated-nationals-and-blocked-persons-list-sdn-human-readable-lists"
)
SDN_EMPTY = "-0-"
EOF_BYTE = b"\x1a"
SDN_FILES = {"sdn": 12, "alt": 5, "add": 6, "sdn_comments": 2}  # file stem -> field count
MAX_NOTES_PER_KIND = 20  # repeated notes of one kind are summarised beyond this many

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ID_OK = re.compile(r"^[A-Za-z0-9_.-]+$")
_SPLIT = re.compile(r"\s*;\s*")
_ABBREV = re.compile(r"\(([^()]+)\)")


class ImportFormatError(ValueError):
    """The file is not in the format asked for (or cannot be read at all); nothing was imported."""


class SkippedRow(BaseModel):
    """A row that did not become a record, with where it is and why."""

    file: str
    line: int = Field(description="1-based physical line where the row starts")
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


# Named before ImportResult, whose field `list` shadows the builtin inside its class body.
SkippedRows = list[SkippedRow]
Lines = list[str]


class ImportResult(BaseModel):
    """One import: the list, and the accounting that shows nothing was lost.

    For a CSL file `rows_read == records + len(skipped)`. For an SDN set `rows_read` counts the rows
    of every file read (see `files`); alias, address and comment rows join a record rather than
    being one.
    """

    list: RestrictedList
    format: str
    rows_read: int
    records: int
    skipped: SkippedRows = Field(default_factory=builtins.list)
    notes: Lines = Field(default_factory=builtins.list)
    files: dict[str, int] = Field(default_factory=dict, description="data rows read per file name")


# --- shared helpers -----------------------------------------------------------------------------


class _Notes:
    """Collects notes, summarising a kind that repeats so a dirty file cannot flood the output."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._kinds: Counter[str] = Counter()

    def add(self, kind: str, text: str) -> None:
        self._kinds[kind] += 1
        if self._kinds[kind] <= MAX_NOTES_PER_KIND:
            self.lines.append(text)

    def done(self) -> list[str]:
        extra = [
            f"... and {n - MAX_NOTES_PER_KIND} more notes of the kind '{kind}'"
            for kind, n in self._kinds.items()
            if n > MAX_NOTES_PER_KIND
        ]
        return self.lines + extra


def _decode(raw: bytes, file: str, notes: _Notes) -> str:
    """UTF-8 (a BOM is dropped); a file that is not UTF-8 is read as Windows-1252, and said so."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        notes.add("encoding", f"{file}: not UTF-8 (byte {exc.start}); read as Windows-1252")
        return raw.decode("cp1252", errors="replace")


def _repair_char(ch: str) -> str:
    """The character a stray C1 control stands for: the byte it would be in Windows-1252, else nothing.

    Files that passed through Windows-1252 carry curly quotes as U+0091..U+0094 when decoded as
    Latin-1; U+0092 is the right single quote in "Xi’an". C0 controls and the five C1 codes
    Windows-1252 leaves undefined are removed.
    """
    code = ord(ch)
    if 0x80 <= code <= 0x9F:
        try:
            return bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            return ""
    return ""


def _repair(text: str, where: str, notes: _Notes) -> str:
    if not _CONTROL.search(text):
        return text

    def fix(m: re.Match[str]) -> str:
        new = _repair_char(m.group())
        change = f"replaced by {new!r}" if new else "removed"
        notes.add("control character", f"{where}: control character U+{ord(m.group()):04X} {change}")
        return new

    return _CONTROL.sub(fix, text)


def _clean(text: str | None) -> str:
    """One line of text: whitespace runs (embedded newlines included) become one space."""
    return " ".join(text.split()) if text else ""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _territory_names() -> dict[str, str]:
    """Codes, alpha-3 codes and English names of territories with an ISO alpha-2 code, case-folded."""
    from rigour.territories import get_territories

    out: dict[str, str] = {}
    for t in get_territories():
        if len(t.code) == 2:
            for key in (t.code, t.alpha3, t.name, t.full_name):
                if key:
                    out.setdefault(key.casefold(), t.code.upper())
    return out


@lru_cache(maxsize=4096)
def country_code(text: str | None, fuzzy: bool = True) -> str | None:
    """ISO 3166-1 alpha-2 for a country as lists print it ("CN", "Germany", with `fuzzy` "Korea, North").

    The fuzzy lookup (rigour's name tables, about a second to load once) is for OFAC's country
    names; a CSL address ends in a code, so anything else there is a city or postcode, not a country.
    """
    text = " ".join((text or "").split()).rstrip(".")
    if not text or any(ch.isdigit() for ch in text):
        return None
    code = _territory_names().get(text.casefold())
    if code or not fuzzy:
        return code
    from rigour.territories import lookup_territory

    territory = lookup_territory(text)
    found = territory.code if territory is not None else None
    return found.upper() if found and len(found) == 2 else None


def _alias_kind(name: str, default: AliasKind) -> AliasKind:
    """Chinese or other non-Latin script says more about an alias than the list's aka/fka does."""
    if name.isascii():
        return default
    for ch in name:
        if ch.isalpha() and not ch.isascii():
            uname = unicodedata.name(ch, "")
            if uname.startswith("CJK"):
                return AliasKind.CHINESE
            if not uname.startswith("LATIN"):
                return AliasKind.OTHER_SCRIPT
    return default


def _aliases(name: str, names: list[tuple[str, AliasKind, str | None]], stats: Counter[str]) -> list[Alias]:
    """Aliases in list order, without repeats of the primary name or of each other (case-folded)."""
    seen = {name.casefold()}
    out: list[Alias] = []
    for alias, kind, note in names:
        alias = _clean(alias)
        key = alias.casefold()
        if not alias:
            continue
        if key in seen:
            stats["repeated alias"] += 1
            continue
        seen.add(key)
        out.append(Alias(name=alias, kind=_alias_kind(alias, kind), note=note))
    return out


def _parse_date(value: str, where: str, notes: _Notes) -> date | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d %b %Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    notes.add("date", f"{where}: start_date {value!r} is not a date; date_added left blank")
    return None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def _party_id(prefix: str, original: str) -> str:
    return f"{prefix}:{original}" if _ID_OK.match(original) else f"{prefix}:h{_digest(original)[:16]}"


def _list_abbrev(list_name: str) -> str:
    """Short name of a CSL source list: "(NS-MBS List)" → "ns-mbs-list"."""
    found = _ABBREV.findall(list_name)
    text = found[-1] if found else list_name.split(" - ")[0]
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "list"


def _finish(
    name: str,
    title: str,
    fmt: str,
    drafts: list[dict[str, Any]],
    skipped: list[SkippedRow],
    notes: _Notes,
    rows_read: int,
    files: dict[str, int],
    stats: Counter[str],
) -> ImportResult:
    if stats["repeated alias"]:
        notes.add("stats", f"{stats['repeated alias']} aliases repeat their record's name or another alias; kept once")
    if stats["empty address"]:
        notes.add("stats", f"{stats['empty address']} address rows have no address, city or country (placeholders)")
    parties = []
    for draft in drafts:
        file, line = draft.pop("_where")
        try:
            parties.append(Party(**draft))
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            skipped.append(SkippedRow(file=file, line=line, reason=f"invalid record: {problem}"))
    lst = RestrictedList(name=name, title=title, parties=parties)
    lst.version = lst.content_hash[:16]
    skipped.sort(key=lambda s: (s.file, s.line))
    return ImportResult(
        list=lst,
        format=fmt,
        rows_read=rows_read,
        records=len(parties),
        skipped=skipped,
        notes=notes.done(),
        files=files,
    )


# --- Consolidated Screening List -----------------------------------------------------------------


def import_csl(path: str | Path) -> ImportResult:
    """Read a Consolidated Screening List CSV (the 28-column layout without `_id`, or the 29-column one).

    A header line repeated inside the file is skipped (and noted); a row whose field count differs
    from the header's, such as a record cut off at the end of the file, is skipped and reported.
    """
    path = Path(path)
    file = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    notes = _Notes()
    text = _decode(raw, file, notes)
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise ImportFormatError(f"{file}: empty file")
    header = [h.strip().lstrip("\ufeff").lower() for h in first[1]]
    missing = [c for c in CSL_REQUIRED if c not in header]
    if missing:
        raise ImportFormatError(
            f"{file}: not a Consolidated Screening List CSV: no {', '.join(missing)} column in the header"
        )
    col = {h: i for i, h in enumerate(header)}
    ignored = [h for h in header if h not in _CSL_USED]
    if ignored:
        notes.add("columns", f"{file}: columns not carried into records: {', '.join(ignored)}")

    skipped: list[SkippedRow] = []
    stats: Counter[str] = Counter()
    drafts: list[dict[str, Any]] = []
    lines: list[int] = []
    fingerprints: list[str] = []
    rows_read = 0
    ends_clean = text.endswith("\n")  # a file cut off mid-record ends without a line break
    last_line = text.count("\n") + (0 if ends_clean else 1)
    for line, row in rows:
        if [c.strip().lower() for c in row] == header:
            notes.add("header", f"{file}:{line}: header line repeated; skipped (not a record)")
            continue
        if not any(c.strip() for c in row):
            notes.add("blank", f"{file}:{line}: blank line")
            continue
        rows_read += 1
        if len(row) != len(header):
            cut = len(row) < len(header) and not ends_clean and line + sum(c.count("\n") for c in row) >= last_line
            reason = (
                f"record cut off at the end of the file: {len(row)} of {len(header)} fields"
                if cut
                else f"{len(row)} fields, expected {len(header)}"
            )
            label = _clean(row[col["name"]]) if len(row) > col["name"] else ""
            skipped.append(SkippedRow(file=file, line=line, reason=reason + (f" ({label})" if label else "")))
            continue
        cells = {h: _repair(row[i], f"{file}:{line}: {h}", notes) for h, i in col.items() if h in _CSL_USED}
        draft = _csl_party(cells, file, line, notes, stats)
        if draft is None:
            skipped.append(SkippedRow(file=file, line=line, reason="no name"))
            continue
        drafts.append(draft)
        lines.append(line)
        fingerprints.append(_digest(*row))

    keep = _unique_csl_ids(drafts, lines, fingerprints, file, skipped, notes)
    drafts = [d for d, k in zip(drafts, keep, strict=True) if k]
    return _finish("csl", f"Consolidated Screening List ({file})", CSL_FORMAT, drafts, skipped, notes, rows_read,
                   {file: rows_read}, stats)


_CSL_USED = {
    "_id", "source", "entity_number", "type", "programs", "name", "addresses", "federal_register_notice",
    "start_date", "license_requirement", "license_policy", "remarks", "source_list_url", "alt_names",
    "citizenships", "nationalities",
}  # fmt: skip

_CSL_TYPES = {
    "individual": EntityType.INDIVIDUAL,
    "entity": EntityType.COMPANY,
    "vessel": EntityType.VESSEL,
    "aircraft": EntityType.AIRCRAFT,
}


def _csl_party(
    c: dict[str, str], file: str, line: int, notes: _Notes, stats: Counter[str]
) -> dict[str, Any] | None:
    get = c.get
    printed = (get("name") or "").strip()
    name = _clean(printed)
    if not name:
        return None
    list_name = _clean(get("source")) or "Consolidated Screening List"
    original = (get("_id") or "").strip() or (get("entity_number") or "").strip()
    addresses = []
    for text in _SPLIT.split(get("addresses") or ""):
        text = _clean(text)
        if text:
            addresses.append(Address(text=text, country=country_code(text.rsplit(",", 1)[-1], fuzzy=False)))
    nationalities = _SPLIT.split(f"{get('nationalities') or ''};{get('citizenships') or ''}")
    citizen = [country_code(x, fuzzy=False) for x in nationalities]
    country = next((a.country for a in addresses if a.country), None) or next((x for x in citizen if x), None)
    kind = (get("type") or "").strip().lower()
    if kind and kind not in _CSL_TYPES:
        notes.add("type", f"{file}:{line}: type {get('type')!r} not known; entity type 'other'")
    programmes = [p for p in _SPLIT.split(_clean(get("programs"))) if p]
    remarks = _clean(get("remarks"))
    url = _clean(get("source_list_url")) or None
    alt_names = _SPLIT.split(get("alt_names") or "")
    return {
        "_where": (file, line),
        "id": "",  # assigned once every row is read, see _unique_csl_ids
        "name": name,
        "aliases": _aliases(name, [(a, AliasKind.BRAND, None) for a in alt_names], stats),
        "entity_type": _CSL_TYPES.get(kind, EntityType.OTHER),
        "country": country,
        "addresses": addresses,
        "list_name": list_name,
        "programme": "; ".join(programmes) or None,
        "date_added": _parse_date(get("start_date") or "", f"{file}:{line}", notes),
        "fr_citation": _clean(get("federal_register_notice")) or None,
        "reason": f"Remarks: {remarks}" if remarks else None,
        "licence_requirement": _clean(get("license_requirement")) or None,
        "licence_policy": _clean(get("license_policy")) or None,
        "source_list_url": url,
        "original_id": original or None,
        "sources": [
            Source(kind="list_file", id=file, title=list_name, url=url, quote=printed[:QUOTE_MAX])
        ],
    }


def _unique_csl_ids(
    drafts: list[dict[str, Any]],
    lines: list[int],
    fingerprints: list[str],
    file: str,
    skipped: list[SkippedRow],
    notes: _Notes,
) -> list[bool]:
    """Give every row a unique id independent of row order; drop exact repeats of a row (reported)."""
    ids = []
    for d in drafts:
        original = d["original_id"]
        ids.append(_party_id("csl", original) if original else f"csl:h{_digest(d['list_name'], d['name'])[:16]}")
    counts = Counter(ids)
    for i, d in enumerate(drafts):
        if counts[ids[i]] > 1 and d["original_id"]:
            ids[i] = f"{ids[i]}:{_list_abbrev(d['list_name'])}"
    counts = Counter(ids)
    for i in range(len(drafts)):
        if counts[ids[i]] > 1:
            ids[i] = f"{ids[i]}:{fingerprints[i][:8]}"
    keep = [True] * len(drafts)
    first: dict[str, int] = {}
    for i, d in enumerate(drafts):
        if ids[i] in first:
            keep[i] = False
            reason = f"exact repeat of the record at line {lines[first[ids[i]]]}"
            skipped.append(SkippedRow(file=file, line=lines[i], reason=reason))
            continue
        first[ids[i]] = i
        d["id"] = ids[i]
    shared = sum(1 for i, d in enumerate(drafts) if keep[i] and d["original_id"] and ids[i].count(":") > 1)
    if shared:
        notes.add("ids", f"{file}: {shared} rows share an _id with a row of another list; their ids carry the list")
    return keep


# --- OFAC SDN (legacy CSV) -----------------------------------------------------------------------

_SDN_TYPES = {"individual": EntityType.INDIVIDUAL, "vessel": EntityType.VESSEL, "aircraft": EntityType.AIRCRAFT}
_ALT_KINDS = {
    "aka": (AliasKind.BRAND, None),
    "fka": (AliasKind.FORMER, "formerly known as"),
    "nka": (AliasKind.LEGAL, "now known as"),
}


def _sdn_files(path: Path) -> tuple[Path, dict[str, Path]]:
    """The set's files by stem (case-insensitive, as OFAC publishes SDN.CSV), beside sdn.csv."""
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        raise ImportFormatError(f"{path}: no such file or folder")
    found = {p.stem.lower(): p for p in folder.iterdir() if p.suffix.lower() == ".csv"}
    files = {stem: found[stem] for stem in SDN_FILES if stem in found}
    if not path.is_dir():
        if not path.is_file():
            raise ImportFormatError(f"{path}: no such file")
        files["sdn"] = path
    if "sdn" not in files:
        raise ImportFormatError(f"{folder}: no sdn.csv in this folder")
    return folder, files


def _sdn_value(cell: str) -> str | None:
    value = cell.strip()
    return None if not value or value == SDN_EMPTY else value


def _read_sdn_file(path: Path, fields: int, notes: _Notes, skipped: list[SkippedRow]) -> list[tuple[int, list]]:
    """Rows of one headerless OFAC file, `-0-` read as empty; rows of the wrong shape are reported."""
    file = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    stripped = raw.rstrip(b"\r\n")
    if stripped.endswith(EOF_BYTE):
        raw = stripped.rstrip(EOF_BYTE)
        notes.add("eof", f"{file}: end-of-file byte 0x1A removed")
    text = _decode(raw, file, notes)
    out: list[tuple[int, list]] = []
    for line, row in _rows(text):
        if not any(c.strip() for c in row):
            continue
        if len(row) != fields:
            skipped.append(SkippedRow(file=file, line=line, reason=f"{len(row)} fields, expected {fields}"))
            out.append((line, []))  # counted as read
            continue
        out.append((line, [_sdn_value(_repair(c, f"{file}:{line}", notes)) for c in row]))
    return out


def import_ofac_sdn(folder_or_sdn_csv: str | Path) -> ImportResult:
    """Read OFAC's legacy SDN files: sdn.csv joined with alt.csv, add.csv and sdn_comments.csv on ent_num.

    Give the folder or its sdn.csv; the other files are looked for beside it, and a missing one is
    noted (no aliases without alt.csv). Alias, address and comment rows whose ent_num has no sdn.csv
    record are reported as skipped.
    """
    path = Path(folder_or_sdn_csv)
    _, paths = _sdn_files(path)
    notes = _Notes()
    skipped: list[SkippedRow] = []
    stats: Counter[str] = Counter()
    for stem in SDN_FILES:
        if stem not in paths:
            effect = {"alt": "no aliases", "add": "no addresses"}.get(stem, "no remarks overflow")
            notes.add("missing", f"{stem}.csv not found beside sdn.csv: {effect} imported")
    data = {stem: _read_sdn_file(p, SDN_FILES[stem], notes, skipped) for stem, p in paths.items()}
    files = {paths[stem].name: len(rows) for stem, rows in data.items()}
    sdn_file = paths["sdn"].name

    drafts: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for line, row in data["sdn"]:
        if not row:
            continue
        ent, name = row[0], _clean(row[1])
        if not ent or not _ID_OK.match(ent):
            skipped.append(SkippedRow(file=sdn_file, line=line, reason=f"ent_num {ent!r} is not an id"))
            continue
        if not name:
            skipped.append(SkippedRow(file=sdn_file, line=line, reason=f"ent_num {ent}: no name"))
            continue
        if ent in drafts:
            reason = f"ent_num {ent} repeated (first at line {first_line[ent]})"
            skipped.append(SkippedRow(file=sdn_file, line=line, reason=reason))
            continue
        kind = (row[2] or "").lower()
        if kind and kind not in _SDN_TYPES:
            notes.add("type", f"{sdn_file}:{line}: SDN_Type {row[2]!r} not known; entity type 'other'")
        programmes = [p.strip() for p in (row[3] or "").strip("[] ").split("] [") if p.strip()]
        first_line[ent] = line
        drafts[ent] = {
            "_where": (sdn_file, line),
            "id": f"sdn:{ent}",
            "name": name,
            "entity_type": _SDN_TYPES.get(kind, EntityType.OTHER if kind else EntityType.COMPANY),
            "list_name": SDN_LIST_NAME,
            "programme": "; ".join(programmes) or None,
            "source_list_url": SDN_URL,
            "original_id": ent,
            "aliases": [],
            "addresses": [],
            "_remarks": row[11] or "",
            "sources": [
                Source(kind="list_file", id=sdn_file, title=SDN_LIST_NAME, url=SDN_URL, quote=row[1][:QUOTE_MAX])
            ],
        }

    def owner(stem: str, line: int, ent: str | None) -> dict[str, Any] | None:
        draft = drafts.get(ent or "")
        if draft is None:
            skipped.append(
                SkippedRow(file=paths[stem].name, line=line, reason=f"ent_num {ent!r} has no record in {sdn_file}")
            )
        return draft

    alt_names: dict[str, list[tuple[str, AliasKind, str | None]]] = defaultdict(list)
    for line, row in data.get("alt", []):
        if not row or (draft := owner("alt", line, row[0])) is None:
            continue
        if not row[3]:
            skipped.append(SkippedRow(file=paths["alt"].name, line=line, reason=f"ent_num {row[0]}: empty alias"))
            continue
        alt_type = (row[2] or "").lower()
        kind, note = _ALT_KINDS.get(alt_type, (AliasKind.VARIANT, alt_type or None))
        if alt_type not in _ALT_KINDS:
            notes.add("alt type", f"{paths['alt'].name}:{line}: alt_type {row[2]!r} not known; kept as a variant")
        if row[4]:
            note = f"{note}; {row[4]}" if note else row[4]
        alt_names[row[0]].append((row[3], kind, note))
    for ent, names in alt_names.items():
        drafts[ent]["aliases"] = _aliases(drafts[ent]["name"], names, stats)

    unmapped: Counter[str] = Counter()
    for line, row in data.get("add", []):
        if not row or (draft := owner("add", line, row[0])) is None:
            continue
        parts = [p for p in (_clean(row[2]), _clean(row[3]), _clean(row[4])) if p]
        if not parts:
            stats["empty address"] += 1
            continue
        code = country_code(row[4])
        if row[4] and code is None:
            unmapped[_clean(row[4])] += 1
        draft["addresses"].append(Address(text=", ".join(parts), country=code, note=_clean(row[5]) or None))
    if unmapped:
        listed = ", ".join(f"{k!r} ({n})" for k, n in unmapped.most_common())
        notes.add("country", f"{paths['add'].name}: countries without an ISO code (kept in the address): {listed}")

    for line, row in data.get("sdn_comments", []):
        if row and (draft := owner("sdn_comments", line, row[0])) is not None and row[1]:
            draft["_remarks"] += row[1]

    for draft in drafts.values():
        remarks = _clean(draft.pop("_remarks"))
        draft["reason"] = f"Remarks: {remarks}" if remarks else None
        draft["country"] = next((a.country for a in draft["addresses"] if a.country), None)
    rows_read = sum(files.values())
    return _finish("ofac-sdn", f"OFAC SDN list ({sdn_file})", SDN_FORMAT, list(drafts.values()), skipped, notes,
                   rows_read, files, stats)


IMPORTERS = {CSL_FORMAT: import_csl, SDN_FORMAT: import_ofac_sdn}


def import_file(path: str | Path, fmt: str) -> ImportResult:
    """Dispatch on a format name as the CLI spells it."""
    try:
        importer = IMPORTERS[fmt]
    except KeyError:
        raise ImportFormatError(f"unknown format {fmt!r}: use {' or '.join(IMPORTERS)}") from None
    return importer(path)
