"""Read customer files (xlsx/xlsm, csv/tsv/txt, pandas frames) into InputRows, one per data row.

Promises, in order of priority:

1. **No row is lost.** Every data row comes out as exactly one ``InputRow``, in file order, either
   screenable or with ``not_screened_reason``. A data row is a row with any non-blank cell; fully
   blank rows (Excel users leave them between blocks) are skipped, and how many were skipped
   between data rows is noted in ``InputSource.notes``. ``read_frame`` skips nothing, so its
   output lines up with the frame.
2. **Bad input is one clear line.** Every failure is an ``InputError`` naming file, sheet, row and
   column where they apply. ``open_input`` checks the container, the encoding and every sheet's
   header before the first row is produced. A failure while streaming (a damaged zip member
   deep in a sheet, an unclosed quote) still raises ``InputError``: discard the partial output.
3. **Streaming.** csv is read line by line from a buffered binary file and parsed by the ``csv``
   module (about 400k rows/s); xlsx goes through openpyxl's read-only parser with cached values.
   Memory does not grow with the number of rows (openpyxl does hold a workbook's shared strings).

Row numbers are what a user sees: the spreadsheet row, header included; for csv the record
number counting blank lines, so that they match Excel's rows unless a quoted field spans lines.

Header. The first non-blank row of a sheet, except that title rows (at most one filled cell, e.g.
a merged "Orders 2024" banner) are passed over when a recognised header with two or more filled
cells follows within ``HEADER_SCAN_ROWS`` rows (noted). Labels are compared after NFKC,
casefolding and dropping all but letters and digits. When several columns qualify, the earliest
alias in ``NAME_HEADERS`` wins (role-qualified names such as "Customer Name", then role words such
as "Consignee", then the bare "Name"), then the leftmost column; failing an exact match, a label
starting with a role-qualified alias ("Company Name (EN)") is taken. A given column is matched as a
label first, then as a letter or 1-based number, and must lie within the header row.

Encodings (csv). A UTF-8 or UTF-16 BOM decides. Otherwise the first ``SAMPLE_BYTES`` are checked:
if some lines are not UTF-8, charset-normalizer picks GB18030 or cp1252 for them (a byte-pattern
check settles it when the detector abstains) and a sample that is neither is refused. Each line is
then decoded on its own, UTF-8 first (legacy text is almost never valid UTF-8), then the chosen
legacy encoding, then the other one; GB18030, which accepts nearly any bytes, is only tried on a
line whose high bytes come in pairs unless the sample chose it. Mixed files thus read correctly
line by line, with a note of how many lines used which encoding; a line that fits nothing gets
U+FFFD replacements and a note rather than an error.

Names. Stripped of surrounding whitespace; numbers, dates and booleans become the text Excel shows;
control characters are kept (xlsx stores them as ``_x000D_``-style escapes, which are expanded). Names over ``MAX_NAME_CHARS`` are screened on their first
``MAX_NAME_CHARS`` characters and noted. xlsx formulas give their cached value; without one the row
is not screened ("formula without a cached value"), and Excel error values (#N/A) are not screened.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from screener.models import InputRow

# --- limits ---------------------------------------------------------------------------------------

MAX_NAME_CHARS = 1_000  # longer names are screened on their first 1,000 characters (and noted)
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024  # refuse an xlsx whose members expand beyond 512 MiB
MAX_COMPRESSION_RATIO = 200  # ... or with a member expanding more than 200:1 ...
RATIO_CHECK_MIN_BYTES = 10 * 1024 * 1024  # ... when that member is over 10 MiB uncompressed
MAX_ZIP_MEMBERS = 10_000
MAX_LINE_BYTES = 16 * 1024 * 1024  # one physical csv line; the csv module limits a field to 128 Ki
SAMPLE_BYTES = 1024 * 1024  # csv sample for encoding and delimiter detection
HEADER_SCAN_ROWS = 10  # title rows passed over while looking for a header
MAX_ROW_NOTES = 5  # per kind of per-row note, then only a count

Kind = Literal["xlsx", "csv"]
XLSX_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
DELIMITERS = (",", ";", "\t", "|")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # compound file: legacy .xls, or any password-protected workbook
OLE2_FULL_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# openpyxl reports harmless oddities (unknown extensions, odd dates) as UserWarnings on stderr.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")


# --- errors ---------------------------------------------------------------------------------------


class InputError(Exception):
    """Bad input, explained in one line that names the file, sheet, row and column where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f'sheet "{self.sheet}"')
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f'column "{self.column}"')
        text = f"{', '.join(parts)}: {self.message}" if parts else self.message
        return _UNPRINTABLE.sub(_escape_char, re.sub(r"[\r\n]+", " ", text))


# Labels, sheet and file names come from the file: other line breaks (\x1c, U+2028...) would split
# the line, and ESC sequences would drive the terminal the error is printed on.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class ColumnNotFound(InputError):
    """A needed column is missing; ``headers`` are the labels the user may pick from instead."""

    def __init__(
        self, message: str, *, headers: Sequence[str] = (), role: str = "name", **where: Any
    ) -> None:
        super().__init__(message, **where)
        self.headers = list(headers)
        self.role = role


# --- header aliases -------------------------------------------------------------------------------


def normalise_label(label: object) -> str:
    """Header label reduced to casefolded letters and digits, so spacing and punctuation never matter."""
    text = unicodedata.normalize("NFKC", str(label)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


# Most specific first. Role-qualified names also match as prefixes ("Company Name (English)").
_QUALIFIED_NAMES = (
    "party name", "company name", "customer name", "consignee name", "ultimate consignee name",
    "end user name", "entity name", "organisation name", "organization name", "account name",
    "client name", "buyer name", "purchaser name", "legal name", "business name", "firm name",
    "sold to name", "ship to name", "bill to name", "supplier name", "vendor name",
    "客户名称", "公司名称", "单位名称", "企业名称", "收货单位名称", "收货人名称", "最终用户名称",
    "客户名", "公司名", "英文名称",
)
_ROLE_WORDS = (
    "ultimate consignee", "consignee", "end user", "party", "company", "entity", "organisation",
    "organization", "customer", "client", "buyer", "purchaser", "sold to", "supplier", "vendor",
    "收货单位", "收货人", "最终用户", "客户", "公司", "单位", "企业", "买方", "购买方",
)
_GENERIC_NAMES = ("name", "full name", "名称", "名字", "姓名")
NAME_HEADERS: tuple[str, ...] = _QUALIFIED_NAMES + _ROLE_WORDS + _GENERIC_NAMES
COUNTRY_HEADERS: tuple[str, ...] = (
    "country", "country code", "country/region", "country or region", "iso country",
    "country iso", "country of destination", "destination country", "ship to country", "nation",
    "国家", "国家/地区", "国家或地区", "国别", "国家代码", "目的国",
)
ADDRESS_HEADERS: tuple[str, ...] = (
    "full address", "address", "street address", "address line 1", "address 1", "addr",
    "street", "city", "详细地址", "地址", "公司地址", "注册地址", "收货地址", "城市",
)
_N_NAME = tuple(dict.fromkeys(normalise_label(a) for a in NAME_HEADERS))
_N_PREFIX = tuple(dict.fromkeys(normalise_label(a) for a in _QUALIFIED_NAMES))
_N_COUNTRY = tuple(dict.fromkeys(normalise_label(a) for a in COUNTRY_HEADERS))
_N_ADDRESS = tuple(dict.fromkeys(normalise_label(a) for a in ADDRESS_HEADERS))


# --- cell values ----------------------------------------------------------------------------------


class _NoCache:
    """A formula cell whose workbook was saved without a computed value (e.g. written by a script)."""

    __slots__ = ()


NO_CACHE = _NoCache()


class _ExcelError:
    """A cached Excel error value such as #N/A: shown to the user, never screened."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code


_HAS_ALNUM = re.compile(r"[^\W_]").search


def _text(value: Any) -> str:
    """A cell value as the text a user sees; integral floats lose their ".0"."""
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (_NoCache, _ExcelError)):
        return ""
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _optional_text(value: Any) -> str | None:
    if value.__class__ is str:
        return value.strip() or None
    if value is None or isinstance(value, (_NoCache, _ExcelError)):
        return None
    try:
        if value != value:  # NaN from pandas
            return None
    except (TypeError, ValueError):
        pass
    text = _text(value).strip()
    return text or None


def _is_blank(cells: Sequence[Any]) -> bool:
    for value in cells:
        if value is None:
            continue
        if value.__class__ is str:
            if value and not value.isspace():
                return False
            continue
        return False
    return True


# --- column resolution ----------------------------------------------------------------------------


def _letter(index: int) -> str:
    """Spreadsheet letter for a 0-based column index."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _display_label(labels: Sequence[str], index: int) -> str:
    label = labels[index] if index < len(labels) else ""
    return label or f"column {_letter(index)}"


def _header_choices(labels: Sequence[str]) -> list[str]:
    """What the user may pick from: each label, or the column letter where the label is blank."""
    return [label or _letter(i) for i, label in enumerate(labels)]


def _resolve_spec(labels: Sequence[str], spec: str | int, positional: bool = True) -> int | None:
    """Index of an explicitly given column: label first, then letter ("B"), then 1-based number."""
    width = len(labels)
    text = str(spec).strip()
    if not text:
        return None
    for i, label in enumerate(labels):
        if label == text:
            return i
    folded = text.casefold()
    for i, label in enumerate(labels):
        if label.casefold() == folded:
            return i
    wanted = normalise_label(text)
    if wanted:
        for i, label in enumerate(labels):
            if normalise_label(label) == wanted:
                return i
    index: int | None = None
    if not positional:
        return None
    if isinstance(spec, int) or text.isdigit():
        index = int(text) - 1
    elif re.fullmatch(r"[A-Za-z]{1,3}", text):
        index = 0
        for ch in text.upper():
            index = index * 26 + ord(ch) - 64
        index -= 1
    if index is not None and 0 <= index < width:
        return index
    return None


def _auto(normalised: Sequence[str], aliases: Sequence[str], exclude: set[int]) -> int | None:
    positions: dict[str, int] = {}
    for i, label in enumerate(normalised):
        if label and i not in exclude:
            positions.setdefault(label, i)
    for alias in aliases:
        if alias in positions:
            return positions[alias]
    return None


def _auto_name(normalised: Sequence[str]) -> int | None:
    found = _auto(normalised, _N_NAME, set())
    if found is not None:
        return found
    for alias in _N_PREFIX:
        for i, label in enumerate(normalised):
            if label.startswith(alias):
                return i
    return None


class _Columns:
    """Where name, country and address sit in one sheet, and which header row says so."""

    __slots__ = ("header_row", "labels", "name", "country", "address", "titles")

    def __init__(self, header_row: int, labels: list[str], name: int,
                 country: int | None, address: int | None, titles: list[int]) -> None:
        self.header_row = header_row
        self.labels = labels
        self.name = name
        self.country = country
        self.address = address
        self.titles = titles

    def described(self) -> dict[str, str | None]:
        def label(i: int | None) -> str | None:
            return None if i is None else _display_label(self.labels, i)

        return {"name": label(self.name), "country": label(self.country),
                "address": label(self.address)}


def _labels(cells: Sequence[Any]) -> list[str]:
    labels = [_text(v).strip() if v is not None else "" for v in cells]
    while labels and not labels[-1]:
        labels.pop()
    return labels


def _quote_list(items: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(f'"{item}"' for item in items[:limit])
    if len(items) > limit:
        shown += f", … ({len(items) - limit} more)"
    return shown or "(none)"


class _Specs:
    """The columns the caller named (label, letter or 1-based number), None to detect."""

    def __init__(self, name: str | int | None, country: str | int | None,
                 address: str | int | None) -> None:
        self.name, self.country, self.address = name, country, address


def _columns_in(labels: list[str], row: int, specs: _Specs, where: dict[str, Any],
                positional: bool = True) -> _Columns | None:
    """Columns for this header row, or None when it holds no name column."""
    if specs.name is None:
        normalised = [normalise_label(label) for label in labels]
        name = _auto_name(normalised)
    else:
        normalised = []
        name = _resolve_spec(labels, specs.name, positional)
    if name is None:
        return None
    found: dict[str, int | None] = {}
    for role, spec, aliases in (("country", specs.country, _N_COUNTRY),
                                ("address", specs.address, _N_ADDRESS)):
        if spec is None:
            if not normalised:
                normalised = [normalise_label(label) for label in labels]
            taken = {name, *(i for i in found.values() if i is not None)}
            found[role] = _auto(normalised, aliases, taken)
            continue
        index = _resolve_spec(labels, spec)
        if index is None:
            raise ColumnNotFound(
                f"{role} column not found in the header (row {row}); "
                f"headers: {_quote_list(_header_choices(labels))}",
                headers=_header_choices(labels), role=role, column=str(spec), **where)
        found[role] = index
    return _Columns(row, labels, name, found["country"], found["address"], [])


def _find_columns(records: Iterator[tuple[int, Sequence[Any]]], specs: _Specs,
                  where: dict[str, Any]) -> _Columns | None:
    """Locate the header row and the columns; None for a sheet with no data at all.

    Candidates are the first non-blank row and, while rows hold at most one filled cell (titles),
    the rows after it up to the first row with two or more filled cells. Labels (detected or given)
    are looked for in each candidate; a column letter or number applies to the last candidate.
    """
    candidates: list[tuple[int, list[str]]] = []
    filled = 0
    for row, cells in records:
        if _is_blank(cells):
            continue
        labels = _labels(cells)
        filled = sum(1 for label in labels if label)
        candidates.append((row, labels))
        if len(candidates) == 1 or filled >= 2:
            columns = _columns_in(labels, row, specs, where, positional=False)
            if columns is not None:
                columns.titles = [r for r, _ in candidates[:-1]]
                return columns
        if filled >= 2 or len(candidates) > HEADER_SCAN_ROWS:
            break
    if not candidates:
        return None
    header = candidates[-1] if filled >= 2 else candidates[0]
    row, labels = header
    if specs.name is not None:
        columns = _columns_in(labels, row, specs, where, positional=True)
        if columns is not None:
            columns.titles = [r for r, _ in candidates if r < row]
            return columns
    choices = _header_choices(labels)
    if specs.name is None:
        message = (f"no name column recognised in the header (row {row}); choose one of: "
                   f"{_quote_list(choices)}")
        raise ColumnNotFound(message, headers=choices, role="name", **where)
    raise ColumnNotFound(
        f"name column not found in the header (row {row}); headers: {_quote_list(choices)}",
        headers=choices, role="name", column=str(specs.name), **where)


# --- turning records into rows --------------------------------------------------------------------


class _RowNotes:
    """Per-sheet bookkeeping that ends up as human-readable notes."""

    def __init__(self) -> None:
        self.long_names: list[int] = []
        self.long_count = 0
        self.blank_skipped = 0


def _make_rows(records: Iterable[tuple[int, Sequence[Any]]], columns: _Columns, sheet: str,
               tally: _RowNotes, skip_blank: bool = True) -> Iterator[InputRow]:
    """The hot loop: one InputRow per record after the header (blank ones skipped if asked)."""
    ni, ci, ai = columns.name, columns.country, columns.address
    header_row = columns.header_row
    pending_blank = 0
    for row, cells in records:
        if row <= header_row:
            continue
        if skip_blank and _is_blank(cells):
            pending_blank += 1
            continue
        if pending_blank:
            tally.blank_skipped += pending_blank
            pending_blank = 0
        width = len(cells)
        raw = cells[ni] if ni < width else None
        reason = None
        if raw is None:
            name = None
            reason = "empty name"
        elif raw.__class__ is str:
            name = raw.strip()
        elif raw is NO_CACHE:
            name = None
            reason = "formula without a cached value"
        elif isinstance(raw, _ExcelError):
            name = raw.code
            reason = f"cell shows the Excel error {raw.code}"
        else:
            name = _optional_text(raw)
        if reason is None:
            if not name:
                name = None
                reason = "empty name"
            elif not _HAS_ALNUM(name):
                reason = "name has no letters or digits"
            elif len(name) > MAX_NAME_CHARS:
                name = name[:MAX_NAME_CHARS].rstrip()
                tally.long_count += 1
                if len(tally.long_names) < MAX_ROW_NOTES:
                    tally.long_names.append(row)
        yield InputRow(
            name=name,
            country=_optional_text(cells[ci]) if ci is not None and ci < width else None,
            address=_optional_text(cells[ai]) if ai is not None and ai < width else None,
            sheet=sheet,
            row=row,
            not_screened_reason=reason,
        )


def _sheet_notes(sheet: str, columns: _Columns, tally: _RowNotes) -> list[str]:
    notes = []
    if tally.blank_skipped:
        notes.append(f'sheet "{sheet}": {tally.blank_skipped} blank row(s) between data rows '
                     "were skipped")
    if tally.long_count:
        rows = ", ".join(str(r) for r in tally.long_names)
        more = "" if tally.long_count <= len(tally.long_names) else ", …"
        notes.append(f'sheet "{sheet}": {tally.long_count} name(s) longer than {MAX_NAME_CHARS:,} '
                     f"characters were screened on their first {MAX_NAME_CHARS:,} (rows {rows}{more})")
    return notes


def _header_notes(sheet: str, columns: _Columns) -> list[str]:
    if not columns.titles:
        return []
    rows = ", ".join(str(r) for r in columns.titles)
    return [f'sheet "{sheet}": row(s) {rows} above the header (row {columns.header_row}) were '
            "read as titles, not data"]


# --- the source -----------------------------------------------------------------------------------


class InputSource:
    """An opened, checked input file. ``rows()`` streams it; it may be called again to re-read."""

    def __init__(self, *, path: Path, file_name: str, sha256: str, kind: Kind) -> None:
        self.path = path
        self.file_name = file_name
        self.sha256 = sha256
        self.kind: Kind = kind
        self.sheets: list[str] = []
        self.notes: list[str] = []
        self.columns: dict[str, dict[str, str | None]] = {}
        self.header_rows: dict[str, int] = {}
        self.rows_per_sheet: dict[str, int] = {}
        self.encoding: str | None = None  # csv only
        self.delimiter: str | None = None  # csv only
        self._layout: dict[str, _Columns] = {}
        self._text: _TextPlan | None = None
        self._book: _Book | None = None

    def rows(self) -> Iterator[InputRow]:
        """Every data row, sheet by sheet, in file order; raises InputError if the file breaks."""
        self.rows_per_sheet = {}
        if self.kind == "csv":
            yield from self._csv_rows()
        else:
            yield from self._xlsx_rows()

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self) -> InputSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, sheet: str | None = None) -> dict[str, Any]:
        return {"file": self.file_name, "sheet": sheet}

    def _emit(self, sheet: str, records: Iterable[tuple[int, Sequence[Any]]]) -> Iterator[InputRow]:
        columns = self._layout.get(sheet)
        self.rows_per_sheet[sheet] = 0
        if columns is None:
            return
        tally = _RowNotes()
        count = 0
        for item in _make_rows(records, columns, sheet, tally):
            count += 1
            self.rows_per_sheet[sheet] = count
            yield item
        for note in _sheet_notes(sheet, columns, tally):
            if note not in self.notes:
                self.notes.append(note)

    def _csv_rows(self) -> Iterator[InputRow]:
        assert self._text is not None
        sheet = self.sheets[0]
        decoder = _LineDecoder(self._text)
        records = _CsvRecords(self.path, self._text, decoder, self.file_name)
        yield from self._emit(sheet, records)
        for note in decoder.notes():
            if note not in self.notes:
                self.notes.append(note)

    def _xlsx_rows(self) -> Iterator[InputRow]:
        try:
            if self._book is None:
                self._book = _Book.open(self.path, self.file_name)
            for sheet in self.sheets:
                yield from self._emit(sheet, self._book.records(sheet))
        finally:
            self.close()


def open_input(
    path: str | Path,
    *,
    sheet: str | None = None,
    name_column: str | int | None = None,
    country_column: str | int | None = None,
    address_column: str | int | None = None,
    display_name: str | None = None,
) -> InputSource:
    """Check a file completely (container, encoding, headers) and return a source ready to stream."""
    path = Path(path)
    if display_name:  # an upload's name may carry the client's folders
        display_name = display_name.replace("\\", "/").rsplit("/", 1)[-1] or None
    file_name = display_name or path.name
    where = {"file": file_name}
    specs = _Specs(name_column, country_column, address_column)
    try:
        if not path.exists():
            raise InputError("file not found", **where)
        if path.is_dir():
            raise InputError("is a folder, not a file", **where)
        size = path.stat().st_size
        if size == 0:
            raise InputError("the file is empty (0 bytes)", **where)
        with path.open("rb") as fh:
            head = fh.read(8)
        sha256 = _sha256(path)
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or _describe(exc)
        raise InputError(f"cannot read the file: {reason}", **where) from exc

    suffix = _suffix(path, display_name)
    if suffix == ".xls":
        raise InputError("old binary .xls workbook: save it as .xlsx or .csv", **where)
    if suffix == ".xlsb":
        raise InputError("binary .xlsb workbook: save it as .xlsx or .csv", **where)
    if suffix in XLSX_SUFFIXES:
        if head.startswith(OLE2_MAGIC):
            raise InputError("encrypted or legacy .xls workbook: save it as .xlsx", **where)
        if not head.startswith(ZIP_MAGICS):
            raise InputError("not an xlsx workbook (not a zip archive)", **where)
        source = InputSource(path=path, file_name=file_name, sha256=sha256, kind="xlsx")
        _open_xlsx(source, sheet, specs)
        return source
    if suffix in TEXT_SUFFIXES:
        if head.startswith(ZIP_MAGICS):
            raise InputError("this is a zip archive (an Excel workbook?), not delimited text: "
                             "give it its .xlsx name or save it as .csv", **where)
        if head.startswith(OLE2_FULL_MAGIC):
            raise InputError("this is a binary or encrypted Excel workbook, not delimited text: "
                             "save it as .xlsx or .csv", **where)
        source = InputSource(path=path, file_name=file_name, sha256=sha256, kind="csv")
        _open_csv(source, suffix, specs, display_name)
        return source
    shown = suffix or "(no extension)"
    raise InputError(f'unsupported file type "{shown}": use .xlsx, .xlsm, .csv, .tsv or .txt',
                     **where)


def read_frame(
    df: Any,
    *,
    name_column: str | int | None = None,
    country_column: str | int | None = None,
    address_column: str | int | None = None,
    sheet: str = "",
) -> Iterator[InputRow]:
    """One InputRow per DataFrame row (none skipped, so results line up); ``row`` = position + 2.

    Columns are resolved like a file header, the frame's column labels being the header (row 1).
    A missing column raises ColumnNotFound here, before iteration starts.
    """
    labels = [_text(c).strip() if c is not None else "" for c in df.columns]
    specs = _Specs(name_column, country_column, address_column)
    where = {"sheet": sheet or None}
    columns = _columns_in(labels, 1, specs, where)
    if columns is None:
        choices = _header_choices(labels)
        if name_column is None:
            raise ColumnNotFound(f"no name column recognised; choose one of: {_quote_list(choices)}",
                                 headers=choices, **where)
        raise ColumnNotFound(f"name column not found; columns: {_quote_list(choices)}",
                             headers=choices, column=str(name_column), **where)

    def values(index: int | None) -> Iterable[Any]:
        if index is None:
            return [None] * len(df)
        return df.iloc[:, index].tolist()

    ni = columns.name
    picked = [ni, columns.country, columns.address]
    compact = _Columns(1, labels, 0, 1 if picked[1] is not None else None,
                       2 if picked[2] is not None else None, [])
    records = (
        (position + 2, [_frame_value(n), _frame_value(c), _frame_value(a)])
        for position, (n, c, a) in enumerate(zip(values(ni), values(picked[1]), values(picked[2])))
    )
    return _make_rows(records, compact, sheet, _RowNotes(), skip_blank=False)


def _frame_value(value: Any) -> Any:
    """Pandas missing values become None; timestamps become datetimes."""
    if value is None:
        return None
    try:
        if value != value:  # NaN, NaT
            return None
    except (TypeError, ValueError):
        pass
    if value.__class__.__name__ == "NAType":
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return str(value)
    return value


# --- helpers shared by both formats ---------------------------------------------------------------


def _suffix(path: Path, display_name: str | None) -> str:
    known = XLSX_SUFFIXES + TEXT_SUFFIXES + (".xls", ".xlsb")
    suffix = path.suffix.lower()
    if suffix not in known and display_name:
        other = Path(display_name).suffix.lower()
        if other in known:
            return other
    return suffix


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(exc: BaseException) -> str:
    """The exception in a few words; an OSError by its reason only, as its text names server paths."""
    strerror = exc.strerror if isinstance(exc, OSError) else None
    text = strerror or str(exc) or type(exc).__name__
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > 200:
        text = text[:200] + "…"
    return text


# --- xlsx -----------------------------------------------------------------------------------------


_XML_REFUSAL = ("refused: the workbook's XML declares entities or a DTD "
                "(possible XML bomb or external-entity attack)")
XML_PROLOG_BYTES = 64 * 1024  # an xlsx part's XML declaration; a root element must start within it
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _xml_refusal(exc: BaseException) -> str | None:
    """A friendly reason when defusedxml (or lxml, if openpyxl uses it) refused entity tricks."""
    from defusedxml import DefusedXmlException

    if isinstance(exc, DefusedXmlException):
        return _XML_REFUSAL
    if type(exc).__name__ in ("XMLSyntaxError", "ParseError") and "entit" in str(exc).lower():
        return _XML_REFUSAL
    return None


def _check_xml_prologs(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                       where: dict[str, Any]) -> None:
    """Refuse any DTD before openpyxl parses a part, whichever XML library it uses.

    Office never writes a DOCTYPE; defusedxml would refuse entities anyway, but this check gives
    the same clear message whether or not lxml is installed, and looks at the prolog only.
    """
    for info in infos:
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        with archive.open(info) as member:
            head = member.read(XML_PROLOG_BYTES)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            head = head.decode("utf-16", errors="replace").encode("utf-8")
        root = _ROOT_START.search(head)
        prolog = head if root is None else head[: root.start()]
        if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
            raise InputError(_XML_REFUSAL, **where)
        if root is None and len(head) == XML_PROLOG_BYTES:
            raise InputError(f'refused: part "{info.filename}" has no XML element in its first '
                             f"{XML_PROLOG_BYTES // 1024} KiB", **where)


def _check_zip(path: Path, where: dict[str, Any]) -> None:
    """Check the archive before openpyxl touches it: sizes first, then each XML prolog."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_sizes(infos, where)
            _check_xml_prologs(archive, infos, where)
    except InputError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"corrupt or truncated xlsx workbook ({_describe(exc)})", **where) from exc
    except Exception as exc:  # zlib.error, unsupported compression, OSError ...
        raise InputError(f"unreadable xlsx workbook ({_describe(exc)})", **where) from exc


def _check_sizes(infos: list[zipfile.ZipInfo], where: dict[str, Any]) -> None:
    """Zip bombs show in the central directory, before anything is decompressed.

    Python's zipfile never inflates past a member's declared size (it fails the CRC instead), so
    the declared sizes bound what openpyxl can expand.
    """
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"refused: the workbook has {len(infos):,} parts "
                         f"(limit {MAX_ZIP_MEMBERS:,})", **where)
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise InputError(
            f"refused: the workbook would expand to {total / 2**20:,.0f} MiB uncompressed "
            f"(limit {MAX_UNCOMPRESSED_BYTES // 2**20} MiB); possible zip bomb", **where)
    for info in infos:
        if info.flag_bits & 0x1:
            raise InputError("encrypted zip archive: save the workbook without a password", **where)
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise InputError(
                f'refused: part "{info.filename}" expands {ratio:,.0f}:1 '
                f"(limit {MAX_COMPRESSION_RATIO}:1); possible zip bomb", **where)
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names:
        raise InputError("not an xlsx workbook (zip archive without workbook content)", **where)


def _sheet_parser_class() -> type:
    """openpyxl's sheet parser, taught to tell formulas without cached values and error cells apart.

    The public read-only API returns None for both an empty cell and a formula whose value was
    never computed, and the plain string for an error; the parser (openpyxl >= 3.1) still sees them.
    Excel stores a computed empty text as ``t="str"`` with an empty ``<v>``; a formula with no
    ``<v>``, or an empty one of numeric type (what openpyxl and other writers leave), was never
    computed.
    """
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class CellParser(WorkSheetParser):  # type: ignore[misc]
        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell = super().parse_cell(element)
            if cell["value"] is None:
                if element.find(FORMULA_TAG) is not None and (
                    element.find(VALUE_TAG) is None or element.get("t", "n") == "n"
                ):
                    cell["value"] = NO_CACHE
            elif cell["data_type"] == "e":
                cell["value"] = _ExcelError(str(cell["value"]))
            elif cell["value"].__class__ is str and "_x" in cell["value"]:
                cell["value"] = _unescape_controls(cell["value"])
            return cell

    return CellParser


_CONTROL_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f]|005[Ff])_")


def _unescape_controls(text: str) -> str:
    """Excel stores a control character (a CR, say) as ``_x000D_``; openpyxl passes it on as is.

    Only control characters and ``_x005F_`` (a literal underscore before such a sequence) are
    expanded, in one pass, so other ``_xHHHH_`` text stays as typed. openpyxl already drops the
    ``x005F_`` of shared strings, so a name literally typed as "_x000D_" reads as a CR: harmless,
    whereas leaving the escapes in a name ("Huawei_x000D_") lowers its match score.
    """
    return _CONTROL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class _Book:
    """An open read-only workbook plus the file handle under it."""

    def __init__(self, handle: IO[bytes], workbook: Any, file_name: str) -> None:
        self.handle = handle
        self.workbook = workbook
        self.file_name = file_name
        self.parser_class = _sheet_parser_class()

    @classmethod
    def open(cls, path: Path, file_name: str) -> _Book:
        import openpyxl

        where = {"file": file_name}
        if not getattr(openpyxl, "DEFUSEDXML", False):
            raise InputError("refusing to read xlsx: defusedxml is not active in openpyxl "
                             "(install defusedxml and unset OPENPYXL_DEFUSEDXML)", **where)
        handle = path.open("rb")
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True,
                                              keep_links=False)
        except Exception as exc:
            handle.close()
            reason = _xml_refusal(exc)
            if reason is None:
                if isinstance(exc, zipfile.BadZipFile):
                    reason = f"corrupt or truncated xlsx workbook ({_describe(exc)})"
                elif isinstance(exc, KeyError):
                    reason = f"not an xlsx workbook: a required part is missing ({_describe(exc)})"
                else:
                    cause = exc.__cause__ or exc
                    reason = _xml_refusal(cause) or f"unreadable xlsx workbook ({_describe(cause)})"
            raise InputError(reason, **where) from exc
        return cls(handle, workbook, file_name)

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            self.handle.close()

    def records(self, sheet: str) -> Iterator[tuple[int, list[Any]]]:
        """(row number, cell values) for every row element of a sheet, in file order."""
        worksheet = self.workbook[sheet]
        book = self.workbook
        last = 0
        try:
            with worksheet._get_source() as source:
                parser = self.parser_class(
                    source, worksheet._shared_strings, data_only=True, epoch=book.epoch,
                    date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
                for index, cells in parser.parse():
                    if index <= last:  # Excel requires ascending rows; a repeat would hide one
                        raise InputError(
                            f"damaged sheet: row {index} comes after row {last} (row numbers "
                            "must increase)" if last else f"damaged sheet: row number {index}",
                            file=self.file_name, sheet=sheet)
                    last = index
                    if not cells:
                        yield index, []
                        continue
                    width = max(cell["column"] for cell in cells)
                    values: list[Any] = [None] * width
                    for cell in cells:
                        values[cell["column"] - 1] = cell["value"]
                    yield index, values
        except InputError:
            raise
        except Exception as exc:
            reason = _xml_refusal(exc) or (
                f"unreadable sheet data after row {last} ({_describe(exc)})" if last
                else f"unreadable sheet data ({_describe(exc)})")
            raise InputError(reason, file=self.file_name, sheet=sheet) from exc


def _open_xlsx(source: InputSource, sheet: str | None, specs: _Specs) -> None:
    where = source._where()
    _check_zip(source.path, where)
    book = _Book.open(source.path, source.file_name)
    try:
        workbook = book.workbook
        worksheets = {ws.title: ws for ws in workbook.worksheets}
        all_names = list(workbook.sheetnames)
        if not worksheets:
            raise InputError("the workbook has no worksheets", **where)
        if sheet is not None:
            chosen = sheet if sheet in all_names else next(
                (n for n in all_names if n.casefold() == sheet.strip().casefold()), None)
            if chosen is None:
                raise InputError(f'no sheet "{sheet}"; sheets: {_quote_list(all_names)}', **where)
            if chosen not in worksheets:
                raise InputError(f'sheet "{chosen}" is a chart, not a table', **where)
            names = [chosen]
        else:
            names = [n for n in all_names if n in worksheets]
            charts = [n for n in all_names if n not in worksheets]
            if charts:
                source.notes.append(f"chart sheet(s) {_quote_list(charts)} have no rows to read")
        any_data = False
        for name in names:
            state = worksheets[name].sheet_state
            if state != "visible":
                shown = "very hidden" if state == "veryHidden" else state
                source.notes.append(f'sheet "{name}" is {shown} in Excel; it was read')
            with closing(book.records(name)) as records:
                columns = _find_columns(records, specs, source._where(name))
            source.sheets.append(name)
            if columns is None:
                source.notes.append(f'sheet "{name}" is empty')
                continue
            any_data = True
            source._layout[name] = columns
            source.columns[name] = columns.described()
            source.header_rows[name] = columns.header_row
            source.notes.extend(_header_notes(name, columns))
        if not any_data:
            raise InputError("no data: every sheet is empty", **where)
    except BaseException:
        book.close()
        raise
    source._book = book


# --- csv ------------------------------------------------------------------------------------------


class _TextPlan:
    """How to turn the bytes of a delimited text file into lines and fields."""

    def __init__(self, encoding: str, legacy: str | None, bom: int, delimiter: str,
                 utf16: bool) -> None:
        self.encoding = encoding  # what the file mostly is, for display
        self.legacy = legacy  # non-UTF-8 encoding for lines that are not UTF-8
        self.bom = bom  # bytes to skip
        self.delimiter = delimiter
        self.utf16 = utf16


_LEGACY = ("gb18030", "cp1252")


def _gb_plausible(data: bytes) -> bool:
    """GB18030 Chinese pairs high bytes; Western cp1252 puts one high byte before ASCII letters."""
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    for ch in text:
        if ord(ch) > 127:
            encoded = ch.encode("gb18030")
            if len(encoded) == 2 and encoded[1] < 0x80:
                return False
    return True


def _guess_legacy(data: bytes) -> str | None:
    """GB18030 or cp1252 for bytes that are not UTF-8; None when neither fits."""
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data, cp_isolation=list(_LEGACY)).best()
    except Exception:  # a detector failure must not become a traceback; the byte check decides
        best = None
    if best is not None:
        encoding = codecs.lookup(best.encoding).name
        if encoding in _LEGACY:
            return encoding
    if _gb_plausible(data):
        return "gb18030"
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return None


def _sample_lines(sample: bytes, complete: bool) -> list[bytes]:
    lines = sample.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines.pop()  # probably cut in the middle
    return lines


def _looks_binary(sample: bytes) -> bool:
    """Text may hold a stray NUL in a cell; binary files (and UTF-32) are full of them."""
    return sample.count(0) > max(4, len(sample) // 100)


def _plan_text(path: Path, suffix: str, where: dict[str, Any]) -> tuple[_TextPlan, list[str]]:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    if sample.startswith(codecs.BOM_UTF8):
        encoding, legacy, bom, utf16 = "utf-8-sig", None, 3, False
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, legacy, bom, utf16 = "utf-16", None, 0, True
    elif _utf16_without_bom(sample):
        encoding = "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
        legacy, bom, utf16 = None, 0, True
    else:
        if _looks_binary(sample):
            raise InputError("binary data, not delimited text", **where)
        bom, utf16 = 0, False
        lines = _sample_lines(sample, complete)
        foreign = b"".join(line for line in lines if not _is_utf8(line))
        if not foreign:
            encoding, legacy = "utf-8", None
        else:
            legacy = _guess_legacy(foreign)
            if legacy is None:
                raise InputError("cannot tell the text encoding: not UTF-8, GB18030 or "
                                 "Windows-1252; save the file as UTF-8", **where)
            utf8_lines = sum(1 for line in lines if not line.isascii() and _is_utf8(line))
            encoding = "utf-8" if utf8_lines > foreign.count(b"\n") else legacy
    text = _decode_sample(sample, encoding, legacy, utf16, complete)
    if not text.strip():
        raise InputError("no data: the file holds only blank lines", **where)
    delimiter = _sniff_delimiter(text, suffix)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        label = {"cp1252": "Windows-1252 (cp1252)", "gb18030": "GB18030"}.get(encoding, encoding)
        notes.append(f"decoded as {label}")
    return _TextPlan(encoding, legacy, bom, delimiter, utf16), notes


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _utf16_without_bom(sample: bytes) -> bool:
    head = sample[:4096]
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return (odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even)) or (
        even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd))


def _decode_sample(sample: bytes, encoding: str, legacy: str | None, utf16: bool,
                   complete: bool) -> str:
    if utf16:
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        return decoder.decode(sample, final=complete)
    lines = _sample_lines(sample[3:] if sample.startswith(codecs.BOM_UTF8) else sample, complete)
    out = []
    for line in lines:
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(line.decode(legacy or "cp1252", errors="replace"))
    return "".join(out)


_LINE_SPLIT = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")  # only what the csv module calls a line end


def _sniff_delimiter(text: str, suffix: str) -> str:
    """The candidate that splits the first lines into the most consistent number (>1) of fields."""
    lines = [part for part in _LINE_SPLIT.split(text, maxsplit=200) if part][:200]
    preferred = "\t" if suffix == ".tsv" else ","
    best, best_score = preferred, (0.0, 0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=delimiter)
                      if any(field.strip() for field in r)]
        except csv.Error:
            continue
        if not widths:
            continue
        mode, hits = Counter(widths).most_common(1)[0]
        if mode < 2:
            continue
        score = (hits / len(widths), mode, 1 if delimiter == preferred else 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _LineDecoder:
    """Bytes lines to text: UTF-8 first, then the legacy encoding; counts what it had to do."""

    def __init__(self, plan: _TextPlan) -> None:
        self.plan = plan
        self.used: Counter[str] = Counter()
        self.first: dict[str, int] = {}
        self.line_no = 0

    def lines(self, fh: IO[bytes], file_name: str) -> Iterator[str]:
        readline = fh.readline
        legacy_used = self.used
        while True:
            raw = readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.line_no += 1
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise InputError(f"line {self.line_no} is longer than "
                                 f"{MAX_LINE_BYTES // 2**20} MiB", file=file_name)
            if raw.isascii():
                line = raw.decode("ascii")
            else:
                try:
                    line = raw.decode("utf-8")
                    legacy_used["utf-8"] += 1
                except UnicodeDecodeError:
                    line = self._fallback(raw)
            if "\r" in line and line.find("\r") != len(line) - 2:
                yield from _split_cr(line)
            else:
                yield line

    def _fallback(self, raw: bytes) -> str:
        """A line that is not UTF-8: the file's legacy encoding, else whichever fits the bytes.

        GB18030 accepts almost any byte soup, so it is only used where the sample chose it or
        where the bytes look like Chinese (high bytes in pairs).
        """
        legacy = self.plan.legacy
        if legacy is None:
            order = ["gb18030", "cp1252"] if _gb_plausible(raw) else ["cp1252", "gb18030"]
        else:
            order = [legacy] + [e for e in _LEGACY if e != legacy]
        for encoding in order:
            if encoding == "gb18030" and legacy != "gb18030" and not _gb_plausible(raw):
                continue
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError:
                continue
            self._count(encoding)
            return line
        self._count("replaced")
        return raw.decode(legacy or "utf-8", errors="replace")

    def _count(self, encoding: str) -> None:
        self.used[encoding] += 1
        self.first.setdefault(encoding, self.line_no)

    def notes(self) -> list[str]:
        notes = []
        names = {"cp1252": "Windows-1252 (cp1252)", "gb18030": "GB18030"}
        legacy = {e: n for e, n in self.used.items() if e in _LEGACY}
        if legacy and (self.used.get("utf-8") or len(legacy) > 1):
            parts = [f"{n:,} line(s) as {names[e]} (first at line {self.first[e]})"
                     for e, n in legacy.items()]
            utf8 = self.used.get("utf-8", 0)
            notes.append("mixed encodings: each line was decoded on its own; "
                         + f"{utf8:,} line(s) with non-ASCII text as UTF-8, " + ", ".join(parts))
        elif legacy and self.plan.encoding in ("utf-8", "utf-8-sig"):
            e, n = next(iter(legacy.items()))
            notes.append(f"{n:,} line(s) were not UTF-8 and were decoded as {names[e]} "
                         f"(first at line {self.first[e]})")
        if self.used.get("replaced"):
            notes.append(f"{self.used['replaced']:,} line(s) could not be decoded; unreadable "
                         f"bytes were replaced with \ufffd (first at line {self.first['replaced']})")
        return notes


_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)")


def _split_cr(line: str) -> list[str]:
    """Old Mac line ends (a bare CR) become line ends the csv module understands."""
    return [part for part in _CR_SPLIT.split(line) if part]


class _CsvRecords:
    """Iterable of (record number, fields); record 1 is the first line, blank lines count."""

    def __init__(self, path: Path, plan: _TextPlan, decoder: _LineDecoder, file_name: str) -> None:
        self.path, self.plan, self.decoder, self.file_name = path, plan, decoder, file_name

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            with self.path.open("rb", buffering=1024 * 1024) as fh:
                if self.plan.utf16:
                    lines: Iterable[str] = io.TextIOWrapper(
                        fh, encoding=self.plan.encoding, errors="replace", newline="")
                else:
                    fh.seek(self.plan.bom)
                    lines = self.decoder.lines(fh, self.file_name)
                reader = csv.reader(lines, delimiter=self.plan.delimiter, strict=True)
                for number, fields in enumerate(reader, start=1):
                    yield number, fields
        except InputError:
            raise
        except csv.Error as exc:
            raise InputError(_csv_message(exc), file=self.file_name, row=number + 1) from exc
        except (OSError, UnicodeError, ValueError, MemoryError) as exc:
            raise InputError(f"unreadable text after row {number} ({_describe(exc)})",
                             file=self.file_name) from exc


def _csv_message(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quoted field is never closed (missing \")"
    if "expected after" in text:
        return ("text after a closing quote: a field that starts with \" must end with \" "
                "(write \"\" for a quote inside it)")
    if "field larger than field limit" in text:
        return f"a field is longer than the limit of {csv.field_size_limit():,} characters"
    return f"malformed delimited text ({_describe(exc)})"


def _open_csv(source: InputSource, suffix: str, specs: _Specs, display_name: str | None) -> None:
    where = source._where()
    plan, notes = _plan_text(source.path, suffix, where)
    source._text = plan
    source.encoding = plan.encoding
    source.delimiter = plan.delimiter
    source.notes.extend(notes)
    sheet = Path(display_name).stem if display_name else source.path.stem
    source.sheets = [sheet]
    records = _CsvRecords(source.path, plan, _LineDecoder(plan), source.file_name)
    with closing(iter(records)) as stream:
        columns = _find_columns(stream, specs, {"file": source.file_name})
    if columns is None:
        raise InputError("no data: the file holds only blank lines", **where)
    source._layout[sheet] = columns
    source.columns[sheet] = columns.described()
    source.header_rows[sheet] = columns.header_row
    source.notes.extend(_header_notes(sheet, columns))
