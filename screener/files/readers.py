"""Read customer files (xlsx/xlsm, csv/tsv/txt, pandas frames) into InputRows: one record per
filled party cell of every data row.

Promises, in order of priority:

1. **No party is missed.** Every party column of a sheet is screened (``layout``); a column chosen
   by its content rather than its header, or a country column nothing was read from, is a warning.
2. **No row is lost.** Every data row comes out as one record per filled party cell (at least
   one), in file order, either screenable or with ``not_screened_reason`` (``rows``). Fully blank
   rows are skipped and counted in ``InputSource.notes``. ``read_frame`` skips no frame row.
3. **Bad input is one clear line.** Every failure is an ``InputError`` naming file, sheet, row and
   column where they apply. ``open_input`` checks the container, the encoding and every sheet's
   header and column content before the first row is produced. A failure while streaming (a
   damaged zip member deep in a sheet, an unclosed quote, a line split differently from its
   header) still raises ``InputError``: discard the partial output.
4. **Streaming.** csv is read line by line (``delimited``); xlsx goes through openpyxl's read-only
   parser with cached values (``xlsx``). Memory does not grow with the number of rows (openpyxl
   does hold a workbook's shared strings).

Row numbers are what a user sees: the spreadsheet row, header included; for csv the record
number counting blank lines, so that they match Excel's rows unless a quoted field spans lines.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from screener.files.cells import text
from screener.files.delimited import CsvRecords, LineDecoder, TextPlan, plan_text
from screener.files.errors import ColumnNotFound, InputError, describe, quote_list
from screener.files.layout import (
    Layout,
    Spec,
    Specs,
    build_layout,
    find_header,
    header_choices,
    sample_rows,
)
from screener.files.rows import (
    MAX_NAME_CHARS,
    RowTally,
    header_notes,
    make_rows,
    sheet_notes,
    sheet_warnings,
)
from screener.files.xlsx import Book, check_zip
from screener.models import InputRow, SheetColumns

__all__ = [
    "MAX_NAME_CHARS",
    "TEXT_SUFFIXES",
    "XLSX_SUFFIXES",
    "ColumnNotFound",
    "InputError",
    "InputSource",
    "open_input",
    "read_frame",
]

Kind = Literal["xlsx", "csv"]
XLSX_SUFFIXES = (".xlsx", ".xlsm")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # compound file: legacy .xls, or any password-protected workbook
OLE2_FULL_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# documents saved under a text name whose first line would otherwise be taken for a header
_DOCUMENTS = ((b"%pdf-", "a PDF document"), (b"{\\rtf", "an RTF document"), (b"<!doctype html", "an HTML page"),
              (b"<html", "an HTML page"), (b"<?xml", "an XML document (an Excel 2003 XML spreadsheet?)"))


def _document_kind(head: bytes) -> str | None:
    """What kind of document a file starting with `head` is, when it is one of `_DOCUMENTS`."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return next((kind for magic, kind in _DOCUMENTS if start.startswith(magic)), None)


NameSpec = Spec | Sequence[Spec] | None


class InputSource:
    """An opened, checked input file. ``rows()`` streams it; it may be called again to re-read."""

    def __init__(self, *, path: Path, file_name: str, sha256: str, kind: Kind) -> None:
        self.path = path
        self.file_name = file_name
        self.sha256 = sha256
        self.kind: Kind = kind
        self.sheets: list[str] = []
        self.labels: dict[str, str] = {}  # sheet -> the name its rows carry, where not its own (`label_sheets`)
        self.notes: list[str] = []
        self.columns: dict[str, dict[str, str | None]] = {}  # the primary party column per sheet
        self.header_rows: dict[str, int] = {}
        self.rows_per_sheet: dict[str, int] = {}  # records (party cells) per sheet
        self.data_rows: dict[str, int] = {}
        self.encoding: str | None = None  # csv only
        self.delimiter: str | None = None  # csv only; None for a one-column file
        self._layout: dict[str, Layout] = {}
        self._warnings: dict[str, list[str]] = {}
        self._text: TextPlan | None = None
        self._book: Book | None = None

    def rows(self) -> Iterator[InputRow]:
        """Every record, sheet by sheet, in file order; raises InputError if the file breaks."""
        self.rows_per_sheet = {}
        self.data_rows = {}
        if self.kind == "csv":
            yield from self._csv_rows()
        else:
            yield from self._xlsx_rows()

    @property
    def column_labels(self) -> tuple[str, ...]:
        """Every sheet's column labels (as rows' `fields` name them), each once."""
        return tuple(dict.fromkeys(key for layout in self._layout.values() for key in layout.keys))

    def column_usage(self) -> list[SheetColumns]:
        """Per sheet, which column was screened as what and which not, with the warnings so far."""
        out = []
        for sheet, layout in self._layout.items():
            usage = layout.sheet_columns(self.file_name, sheet)
            usage.warnings.extend(w for w in self._warnings.get(sheet, []) if w not in usage.warnings)
            out.append(usage)
        return out

    @property
    def warnings(self) -> list[str]:
        """Every sheet's warnings, each prefixed with where it applies."""
        where = (lambda u: u.file_name) if self.kind == "csv" else (
            lambda u: f'{u.file_name}, sheet "{u.sheet}"')
        return [f"{where(u)}: {w}" for u in self.column_usage() for w in u.warnings]

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None

    def __enter__(self) -> InputSource:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, sheet: str | None = None) -> dict[str, Any]:
        return {"file": self.file_name, "sheet": sheet}

    def _emit(self, sheet: str, records: Iterable[tuple[int, Sequence[Any]]]) -> Iterator[InputRow]:
        layout = self._layout.get(sheet)
        label = self.labels.get(sheet, sheet)  # what rows, their accounting and the report call the sheet
        self.rows_per_sheet[label] = 0
        self.data_rows[label] = 0
        if layout is None:
            return
        tally = RowTally(layout)
        strict = self.file_name if self.kind == "csv" else None
        for item in make_rows(records, layout, label, tally, strict_width=strict):
            self.rows_per_sheet[label] = tally.records
            self.data_rows[label] = tally.data_rows
            yield item
        self.rows_per_sheet[label] = tally.records
        self.data_rows[label] = tally.data_rows
        for note in sheet_notes(sheet, tally):
            if note not in self.notes:
                self.notes.append(note)
        self._warnings[sheet] = sheet_warnings(layout, tally)

    def _csv_rows(self) -> Iterator[InputRow]:
        assert self._text is not None
        sheet = self.sheets[0]
        decoder = LineDecoder(self._text)
        records = CsvRecords(self.path, self._text, decoder, self.file_name)
        yield from self._emit(sheet, records)
        for note in decoder.notes():
            if note not in self.notes:
                self.notes.append(note)

    def _xlsx_rows(self) -> Iterator[InputRow]:
        try:
            if self._book is None:
                self._book = Book.open(self.path, self.file_name)
            for sheet in self.sheets:
                yield from self._emit(sheet, self._book.records(sheet))
        finally:
            self.close()

    def _add_layout(self, sheet: str, layout: Layout) -> None:
        self._layout[sheet] = layout
        self.columns[sheet] = layout.described()
        self.header_rows[sheet] = layout.header_row
        self.notes.extend(header_notes(sheet, layout))


def label_sheets(sources: Sequence[InputSource]) -> None:
    """Name each sheet so that every row of a run traces to one input. A row carries its sheet's
    name, which two inputs may share (two workbooks' "Sheet1", two folders' customers.csv): such a
    sheet is named with its file ("orders.xlsx: Sheet1"; a csv file by its name alone), and with the
    input's place too where file names are shared as well ("customers.csv (input 2)")."""
    def named(place: int, source: InputSource, sheet: str, numbered: bool) -> str:
        shown = f"{source.file_name} (input {place + 1})" if numbered else source.file_name
        return shown if source.kind == "csv" else f"{shown}: {sheet}"

    owners = Counter(sheet for source in sources for sheet in source.sheets)
    files = Counter(source.file_name for source in sources)
    for place, source in enumerate(sources):
        source.labels = {sheet: named(place, source, sheet, files[source.file_name] > 1)
                         for sheet in source.sheets if owners[sheet] > 1}
    taken = Counter(source.labels.get(sheet, sheet) for source in sources for sheet in source.sheets)
    for place, source in enumerate(sources):  # a sheet named as another input's label is ("a.csv")
        source.labels.update({sheet: named(place, source, sheet, True) for sheet in source.sheets
                              if taken[source.labels.get(sheet, sheet)] > 1})


def open_input(
    path: str | Path,
    *,
    sheet: str | Sequence[str] | None = None,
    name_column: NameSpec = None,
    country_column: Spec | None = None,
    address_column: Spec | None = None,
    display_name: str | None = None,
) -> InputSource:
    """Check a file completely (container, encoding, headers, column content) and return a source
    ready to stream. ``name_column`` may name several party columns (a list)."""
    path = Path(path)
    if display_name:  # an upload's name may carry the client's folders
        display_name = display_name.replace("\\", "/").rsplit("/", 1)[-1] or None
    file_name = display_name or path.name
    where = {"file": file_name}
    specs = Specs(name_column, country_column, address_column)
    try:
        if not path.exists():
            raise InputError("file not found", **where)
        if path.is_dir():
            raise InputError("is a folder, not a file", **where)
        size = path.stat().st_size
        if size == 0:
            raise InputError("the file is empty (0 bytes)", **where)
        with path.open("rb") as fh:
            head = fh.read(512)
        sha256 = _sha256(path)
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or describe(exc)
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
        if kind := _document_kind(head):
            raise InputError(f"this is {kind}, not delimited text: save the list as .csv or .xlsx", **where)
        source = InputSource(path=path, file_name=file_name, sha256=sha256, kind="csv")
        _open_csv(source, suffix, specs, display_name)
        return source
    shown = suffix or "(no extension)"
    raise InputError(f'unsupported file type "{shown}": use .xlsx, .xlsm, .csv, .tsv or .txt',
                     **where)


def _layout_of(records: Iterator[tuple[int, Sequence[Any]]], specs: Specs,
               where: dict[str, Any]) -> Layout | None:
    """The sheet's layout from its header and its first data rows; None for an empty sheet."""
    header, records = find_header(records, specs)
    if header is None:
        return None
    return build_layout(header, sample_rows(records, header.row), specs, where)


def read_frame(
    df: Any,
    *,
    name_column: NameSpec = None,
    country_column: Spec | None = None,
    address_column: Spec | None = None,
    sheet: str = "",
) -> Iterator[InputRow]:
    """Records for every DataFrame row (none skipped); ``row`` = position + 2.

    Columns are resolved like a file header, the frame's column labels being the header (row 1).
    A missing column raises ColumnNotFound here, before iteration starts.
    """
    labels = [text(c).strip() if c is not None else "" for c in df.columns]
    specs = Specs(name_column, country_column, address_column)
    where = {"sheet": sheet or None}
    columns = [[_frame_value(v) for v in df.iloc[:, i].tolist()] for i in range(len(labels))]
    records = [(position + 2, list(cells)) for position, cells in enumerate(zip(*columns))]
    header, _ = find_header(iter([(1, labels)]), specs)
    if header is None:
        choices = header_choices(labels)
        raise ColumnNotFound(f"no name column recognised; choose one of: {quote_list(choices)}",
                             headers=choices, **where)
    layout = build_layout(header, [cells for _, cells in records[:200]], specs, where)
    layout.width = len(labels)
    return make_rows(records, layout, sheet, RowTally(layout), skip_blank=False)


def _frame_value(value: Any) -> Any:
    """Pandas missing values become None; timestamps become datetimes."""
    if value is None:
        return None
    try:
        if value != value:  # noqa: PLR0124 - NaN, NaT
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


def _open_xlsx(source: InputSource, sheet: str | Sequence[str] | None, specs: Specs) -> None:
    where = source._where()
    check_zip(source.path, where)
    book = Book.open(source.path, source.file_name)
    try:
        workbook = book.workbook
        worksheets = {ws.title: ws for ws in workbook.worksheets}
        all_names = list(workbook.sheetnames)
        if not worksheets:
            raise InputError("the workbook has no worksheets", **where)
        if sheet is not None:
            chosen_names = set()
            for asked in [sheet] if isinstance(sheet, str) else sheet:
                chosen = asked if asked in all_names else next(
                    (n for n in all_names if n.casefold() == asked.strip().casefold()), None)
                if chosen is None:
                    raise InputError(f'no sheet "{asked}"; sheets: {quote_list(all_names)}', **where)
                if chosen not in worksheets:
                    raise InputError(f'sheet "{chosen}" is a chart, not a table', **where)
                chosen_names.add(chosen)
            names = [n for n in all_names if n in chosen_names]  # in the workbook's order, each once
        else:
            names = [n for n in all_names if n in worksheets]
            charts = [n for n in all_names if n not in worksheets]
            if charts:
                source.notes.append(f"chart sheet(s) {quote_list(charts)} have no rows to read")
        any_data = False
        for name in names:
            state = worksheets[name].sheet_state
            if state != "visible":
                shown = "very hidden" if state == "veryHidden" else state
                source.notes.append(f'sheet "{name}" is {shown} in Excel; it was read')
            with closing(book.records(name)) as records:
                try:
                    layout = _layout_of(records, specs, source._where(name))
                except ColumnNotFound as exc:
                    if sheet is None and len(names) > 1:  # a sheet of prices or notes beside the customers
                        exc.message += "; or choose the sheets to screen (--sheet, once per sheet)"
                    raise
            source.sheets.append(name)
            if layout is None:
                source.notes.append(f'sheet "{name}" is empty')
                continue
            any_data = True
            source._add_layout(name, layout)
        if not any_data:
            raise InputError("no data: every sheet is empty", **where)
    except BaseException:
        book.close()
        raise
    source._book = book


def _open_csv(source: InputSource, suffix: str, specs: Specs, display_name: str | None) -> None:
    where = source._where()
    plan, notes = plan_text(source.path, suffix, where)
    source._text = plan
    source.encoding = plan.encoding
    source.delimiter = plan.delimiter if plan.delimiter in (",", ";", "\t", "|") else None
    source.notes.extend(notes)
    sheet = Path(display_name).stem if display_name else source.path.stem
    source.sheets = [sheet]
    records = CsvRecords(source.path, plan, LineDecoder(plan), source.file_name)
    with closing(iter(records)) as stream:
        layout = _layout_of(stream, specs, {"file": source.file_name})
    if layout is None:
        raise InputError("no data: the file holds only blank lines", **where)
    source._add_layout(sheet, layout)
