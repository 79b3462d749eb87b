"""The Excel report, streamed with xlsxwriter in constant_memory mode.

Rows arrive one at a time and go straight to the "All rows" sheet, so memory stays flat however
long the input. Potential matches must be sorted, so each one is spilled as a JSON line to a
scratch file and only its sort key stays in memory. Everything else (Summary, Potential matches,
Restricted parties, Sources) is written in `close()`, when the summary and the full set of matches
are known. constant_memory only demands that each sheet is written top to bottom, so the Summary
sheet is created first (first tab) and filled last.

Sheets, in order: Summary, Potential matches, All rows, All rows (2)..., then Potential matches
(2)... if there were more potential matches than one sheet holds (they can only be added at close),
Restricted parties, Sources. Any table longer than `MAX_DATA_ROWS` continues on a numbered sheet
with its own header.

Safety. Every value from input or list data is written with `write_string` (or as the display text
of an internal hyperlink), never `write`, so `=HYPERLINK(...)` stays text. xlsxwriter 3.3 in
constant_memory mode copies any string that starts with `<r>` and ends with `</r>` into the sheet
XML unescaped (it takes it for its own rich-text markup), which lets input data inject a formula
cell; such strings are written as two rich-text runs instead, which are escaped and read back
literally. Text longer than Excel's 32,767-character cell limit is cut and marked `[truncated]`.

Completeness. The workbook is written to a hidden temp file beside the target and renamed over it
at the end of `close()`, which first checks that every row read was written (see
`screener.files.writers.check_complete`). `abort()` removes the temp file and the scratch files.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from screener.files.writers import ResultWriter, StagedFile, check_complete
from screener.models import (
    ListInfo,
    Match,
    RestrictedList,
    RowResult,
    RunSummary,
    Source,
    Status,
)

MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header; lowered by tests
MAX_CELL_CHARS = 32_767  # Excel's cell limit, in UTF-16 code units
MAX_LINKS_PER_SHEET = 65_530  # Excel's hyperlink limit per worksheet
MAX_COLUMN_WIDTH = 60
TRUNCATED = " … [truncated]"
TITLE = "Restricted-party screening report"

TEXT, WRAP, NUMBER, SCORE = "text", "wrap", "number", "score"


class Column(NamedTuple):
    header: str
    kind: str


MATCH_COLUMNS = (
    Column("sheet", TEXT),
    Column("input row", NUMBER),
    Column("input name", TEXT),
    Column("input country", TEXT),
    Column("score", SCORE),
    Column("candidate", NUMBER),
    Column("status / review", TEXT),
    Column("entity id", TEXT),
    Column("entity name", TEXT),
    Column("matched alias", TEXT),
    Column("alias kind", TEXT),
    Column("explanation", WRAP),
    Column("list", TEXT),
    Column("programme", TEXT),
    Column("FR citation", TEXT),
    Column("sources", WRAP),
)
MATCH_LINK_COLUMN = 8  # entity name links to the party's row in Restricted parties

ALL_ROWS_COLUMNS = (
    Column("sheet", TEXT),
    Column("row", NUMBER),
    Column("input name", TEXT),
    Column("input country", TEXT),
    Column("input address", TEXT),
    Column("status", TEXT),
    Column("score", SCORE),
    Column("entity id", TEXT),
    Column("entity name", TEXT),
    Column("matched alias", TEXT),
    Column("not-screened reason", TEXT),
    Column("review", TEXT),
)

PARTY_COLUMNS = (
    Column("list key", TEXT),
    Column("list", TEXT),
    Column("id", TEXT),
    Column("name", TEXT),
    Column("entity type", TEXT),
    Column("country", TEXT),
    Column("aliases", WRAP),
    Column("addresses", WRAP),
    Column("programme", TEXT),
    Column("date added", TEXT),
    Column("FR citation", TEXT),
    Column("licence requirement", WRAP),
    Column("licence policy", WRAP),
    Column("unverified facts", WRAP),
    Column("sources", WRAP),
)

SOURCE_COLUMNS = (
    Column("kind", TEXT),
    Column("id", TEXT),
    Column("title", WRAP),
    Column("publisher", TEXT),
    Column("date", TEXT),
    Column("citation", TEXT),
    Column("url", TEXT),
    Column("cited by", WRAP),
)


def fit_cell(text: str) -> str:
    """Cut text to Excel's cell limit, visibly, instead of letting Excel or xlsxwriter cut it."""
    if len(text) <= MAX_CELL_CHARS // 2:  # cannot exceed the limit even if all surrogate pairs
        return text
    encoded = text.encode("utf-16-le")
    if len(encoded) // 2 <= MAX_CELL_CHARS:
        return text
    keep = (MAX_CELL_CHARS - len(TRUNCATED)) * 2
    return encoded[:keep].decode("utf-16-le", errors="ignore") + TRUNCATED


def _is_rich_markup(text: str) -> bool:
    return text.startswith("<r>") and text.endswith("</r>")


def write_text(
    ws: Worksheet, row: int, col: int, text: str, fmt: Format | None, run_format: Format
) -> None:
    """Write data as a literal string cell, whatever it looks like; fail rather than drop it.

    `run_format` is the font of the second run when the text must be split into rich-text runs
    (xlsxwriter ignores a rich string that has no format between its fragments).
    """
    text = fit_cell(text)
    if _is_rich_markup(text):
        parts: list[Any] = [text[:1], run_format, text[1:]]
        if fmt is not None:
            parts.append(fmt)
        status = ws.write_rich_string(row, col, *parts)
    else:
        status = ws.write_string(row, col, text, fmt)
    if status < 0:
        raise RuntimeError(f"xlsxwriter refused a cell ({status}) at {ws.name}!R{row + 1}C{col + 1}")


def _score(value: float | None) -> float | None:
    """Scores as the flat record shows them, so the workbook and the CSV agree."""
    return None if value is None else round(value, 1)


def _lines(items: Iterable[str]) -> str:
    return "\n".join(items)


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "valign": "top", "text_wrap": True}
        )
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.section = book.add_format({"bold": True, "font_size": 12})
        self.bold = book.add_format({"bold": True})
        self.ok = book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"})
        self.plain = book.add_format()
        self.top = book.add_format({"valign": "top"})
        self.wrap = book.add_format({"valign": "top", "text_wrap": True})
        self.score = book.add_format({"valign": "top", "num_format": "0.0"})
        self.decimal = book.add_format({"num_format": "0.0"})
        self.link = book.add_format({"valign": "top", "font_color": "#0563C1", "underline": 1})


class _Page:
    """One worksheet of a table: header, frozen top row, tracked widths, at most `limit` rows."""

    def __init__(
        self, book: xlsxwriter.Workbook, name: str, columns: Sequence[Column], fmts: _Formats
    ) -> None:
        self.name = name
        self.ws = book.add_worksheet(name)
        self.columns = columns
        self.rows = 0
        self.links = 0
        self.widths = [len(c.header) for c in columns]
        has_wrap = any(c.kind == WRAP for c in columns)
        plain = fmts.top if has_wrap else None
        self.kinds = [c.kind for c in columns]
        self.cell_formats: list[Format | None] = [
            {WRAP: fmts.wrap, SCORE: fmts.score}.get(c.kind, plain) for c in columns
        ]
        self.link_format = fmts.link
        self.run_format = fmts.plain
        for col, column in enumerate(columns):
            self.ws.write_string(0, col, column.header, fmts.header)
        self.ws.freeze_panes(1, 0)

    def add(self, values: Sequence[Any], link: tuple[int, str] | None = None) -> None:
        """Append one row; `link` is (column, internal location) for that column's text."""
        row = self.rows + 1
        ws, widths, kinds, formats = self.ws, self.widths, self.kinds, self.cell_formats
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if kinds[col] in (NUMBER, SCORE):
                if ws.write_number(row, col, value, formats[col]) < 0:
                    raise RuntimeError(f"xlsxwriter refused a number at {self.name}!R{row + 1}C{col + 1}")
                continue
            if len(value) > widths[col]:
                widths[col] = len(value)
            if link is not None and link[0] == col:
                self._link(row, col, value, link[1])
            else:
                write_text(ws, row, col, value, formats[col], self.run_format)
        self.rows = row

    def _link(self, row: int, col: int, text: str, location: str) -> None:
        text = fit_cell(text)
        if self.links >= MAX_LINKS_PER_SHEET or _is_rich_markup(text):
            write_text(self.ws, row, col, text, self.cell_formats[col], self.run_format)
            return
        self.links += 1
        status = self.ws.write_url(row, col, f"internal:{location}", self.link_format, string=text)
        if status < 0:
            raise RuntimeError(f"xlsxwriter refused a link ({status}) at {self.name}!R{row + 1}C{col + 1}")

    def finish(self, threshold: float) -> None:
        ws = self.ws
        ws.autofilter(0, 0, self.rows, len(self.columns) - 1)
        for col, column in enumerate(self.columns):
            width = max(self.widths[col], 8 if column.kind in (NUMBER, SCORE) else 0)
            ws.set_column(col, col, min(MAX_COLUMN_WIDTH, width + 2))
            if column.kind == SCORE and self.rows:
                ws.conditional_format(
                    1,
                    col,
                    self.rows,
                    col,
                    {
                        "type": "3_color_scale",
                        "min_type": "num",
                        "min_value": 0,
                        "mid_type": "num",
                        "mid_value": min(max(threshold, 0), 100),
                        "max_type": "num",
                        "max_value": 100,
                        "min_color": "#63BE7B",
                        "mid_color": "#FFEB84",
                        "max_color": "#F8696B",
                    },
                )


class _Table:
    """A logical table spread over as many pages as the row limit requires."""

    def __init__(
        self,
        book: xlsxwriter.Workbook,
        title: str,
        columns: Sequence[Column],
        fmts: _Formats,
        limit: int,
    ) -> None:
        self._book, self._fmts, self.title, self.columns, self.limit = book, fmts, title, columns, limit
        self.pages: list[_Page] = []
        self._page = self._new_page()

    def _new_page(self) -> _Page:
        name = page_name(self.title, len(self.pages))
        page = _Page(self._book, name, self.columns, self._fmts)
        self.pages.append(page)
        return page

    def add(self, values: Sequence[Any], link: tuple[int, str] | None = None) -> None:
        if self._page.rows >= self.limit:
            self._page = self._new_page()
        self._page.add(values, link)


def page_name(title: str, index: int) -> str:
    """'All rows', 'All rows (2)', ...: the sheet holding the index-th page of a table."""
    return title if index == 0 else f"{title} ({index + 1})"


class ReportWriter(ResultWriter):
    """Streams results into an Excel workbook that appears at `path` only when complete."""

    def __init__(
        self,
        path: str | Path,
        lists: Sequence[tuple[str, RestrictedList]],
        *,
        tmpdir: str | Path | None = None,
    ) -> None:
        self._limit = MAX_DATA_ROWS
        self._lists = list(lists)
        self._party_rows = self._locate_parties()
        self._state = "open"
        self._written = 0
        self._counts: Counter[Status] = Counter()
        self._by_sheet: Counter[str] = Counter()
        self._match_keys: list[tuple[float, int, int, int]] = []  # -row score, seq, rank, offset
        self._scratch = tempfile.TemporaryDirectory(
            prefix="screener-report-", dir=tmpdir, ignore_cleanup_errors=True
        )
        self._staged = StagedFile(path)
        try:
            self._spill = tempfile.TemporaryFile(dir=self._scratch.name)
            self._book = xlsxwriter.Workbook(
                str(self._staged.path),
                {
                    "constant_memory": True,
                    "tmpdir": self._scratch.name,
                    "use_zip64": True,  # only used if a part exceeds 4 GB
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
            self._fmts = _Formats(self._book)
            self._summary = self._book.add_worksheet("Summary")
            self._matches = _Table(self._book, "Potential matches", MATCH_COLUMNS, self._fmts, self._limit)
            self._all_rows = _Table(self._book, "All rows", ALL_ROWS_COLUMNS, self._fmts, self._limit)
        except BaseException:
            self._staged.discard()
            self._scratch.cleanup()
            raise

    # -- streaming -------------------------------------------------------------------------

    def write(self, result: RowResult) -> None:
        if self._state != "open":
            raise RuntimeError(f"report writer is {self._state}")
        self._written += 1
        self._counts[result.status] += 1
        self._by_sheet[result.sheet] += 1
        best = result.matches[0] if result.matches else None
        self._all_rows.add(
            (
                result.sheet,
                result.row,
                result.input_name,
                result.input_country,
                result.input_address,
                result.status.value,
                _score(result.score),
                best.entity_id if best else None,
                best.entity_name if best else None,
                best.matched_alias if best else None,
                result.not_screened_reason,
                result.review,
            )
        )
        if result.status is Status.POTENTIAL_MATCH:
            self._stash_matches(result)

    def _stash_matches(self, result: RowResult) -> None:
        """Spill one line per candidate; keep only (sort key, file offset) in memory.

        Lines sort by the row's score, then input order, then candidate rank, so a row's candidates
        stay together. A potential match without candidates still gets a line: never lose a row.
        """
        best = result.matches[0] if result.matches else None
        row_score = result.score if result.score is not None else (best.score if best else 0.0)
        status = result.review or result.status.value
        candidates: list[Match | None] = list(result.matches) or [None]
        for rank, m in enumerate(candidates, 1):
            values = [
                result.sheet,
                result.row,
                result.input_name,
                result.input_country,
                _score(m.score if m else result.score),
                rank if m else None,
                status,
                m.entity_id if m else None,
                m.entity_name if m else None,
                m.matched_alias if m else None,
                m.explanation.alias_kind.value if m else None,
                m.explanation.text() if m else None,
                m.list_name if m else None,
                m.programme if m else None,
                m.fr_citation if m else None,
                _lines(s.label() for s in m.sources) if m else None,
            ]
            location = self._party_location(m) if m else None
            offset = self._spill.tell()
            self._spill.write(json.dumps([values, location], ensure_ascii=False).encode() + b"\n")
            self._match_keys.append((-row_score, self._written, rank, offset))

    # -- restricted parties ----------------------------------------------------------------

    def _locate_parties(self) -> dict[tuple[str, str] | str, str | None]:
        """Where each party's row will be: by (list key, id), and by id alone when unambiguous."""
        where: dict[tuple[str, str] | str, str | None] = {}
        index = 0
        for key, restricted in self._lists:
            for party in restricted.parties:
                page, offset = divmod(index, self._limit)
                location = f"'{page_name('Restricted parties', page)}'!A{offset + 2}"
                where[(key, party.id)] = location
                where[party.id] = None if party.id in where else location
                index += 1
        return where

    def _party_location(self, match: Match) -> str | None:
        return self._party_rows.get((match.list_key, match.entity_id)) or self._party_rows.get(
            match.entity_id
        )

    # -- closing ---------------------------------------------------------------------------

    def close(self, summary: RunSummary) -> None:
        if self._state != "open":
            raise RuntimeError(f"report writer is {self._state}")
        try:
            check_complete(summary, self._written, "Excel report")
            self._write_matches()
            parties = self._write_parties()
            sources = self._write_sources()
            for table in (self._matches, self._all_rows, parties, sources):
                for page in table.pages:
                    page.finish(summary.threshold)
            self._write_summary(summary, [self._matches, self._all_rows, parties, sources])
            self._book.set_properties(
                {"title": TITLE, "subject": f"run {summary.run_id}", "author": summary.user or ""}
            )
            self._book.close()
            self._spill.close()
            self._staged.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        self._scratch.cleanup()

    def abort(self) -> None:
        """Discard everything: the partial workbook, the spill file and xlsxwriter's row files."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._spill.close()
        # Closing the workbook would first assemble the whole file; just release its row files.
        for ws in self._book.worksheets():
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None:
                fh.close()
        self._scratch.cleanup()
        self._staged.discard()

    def _write_matches(self) -> None:
        self._spill.flush()
        self._match_keys.sort()
        for *_, offset in self._match_keys:
            self._spill.seek(offset)
            values, location = json.loads(self._spill.readline())
            self._matches.add(values, (MATCH_LINK_COLUMN, location) if location else None)
        self._match_keys = []

    def _write_parties(self) -> _Table:
        table = _Table(self._book, "Restricted parties", PARTY_COLUMNS, self._fmts, self._limit)
        for key, restricted in self._lists:
            for p in restricted.parties:
                table.add(
                    (
                        key,
                        restricted.name,
                        p.id,
                        p.name,
                        p.entity_type.value,
                        p.country,
                        _lines(
                            f"{a.name} [{a.kind.value}]" + ("" if a.verified else " (unverified)")
                            for a in p.aliases
                        ),
                        _lines(
                            a.text
                            + (f" ({a.country})" if a.country else "")
                            + ("" if a.verified else " (unverified)")
                            for a in p.addresses
                        ),
                        p.programme,
                        p.date_added.isoformat() if p.date_added else None,
                        p.fr_citation,
                        p.licence_requirement,
                        p.licence_policy,
                        _lines(p.unverified),
                        _lines(s.label() for s in p.sources),
                    )
                )
        return table

    def _write_sources(self) -> _Table:
        """Each cited document once, in order of first citation, with the parties citing it."""
        documents: dict[tuple[str, str], tuple[Source, list[str]]] = {}
        for key, restricted in self._lists:
            for p in restricted.parties:
                for s in p.sources:
                    _, citing = documents.setdefault((s.kind, s.id), (s, []))
                    who = f"{p.name} ({key}:{p.id})"
                    if not citing or citing[-1] != who:
                        citing.append(who)
        table = _Table(self._book, "Sources", SOURCE_COLUMNS, self._fmts, self._limit)
        for s, citing in documents.values():
            table.add((s.kind, s.id, s.title, s.publisher, s.date, s.citation, s.url, _lines(citing)))
        return table

    def _write_summary(self, summary: RunSummary, tables: list[_Table]) -> None:
        ws, f = self._summary, self._fmts
        row = 0

        def line(*values: Any, fmt: Format | None = None) -> None:
            nonlocal row
            for col, value in enumerate(values):
                if value is None or value == "":
                    continue
                if isinstance(value, (int, float)):
                    ws.write_number(row, col, value, f.decimal if isinstance(value, float) else fmt)
                else:
                    write_text(ws, row, col, str(value), fmt, f.plain)
            row += 1

        def section(title: str, *headers: str) -> None:
            nonlocal row
            row += 1
            line(title, fmt=f.section)
            if headers:
                line(*headers, fmt=f.header)

        total = self._written
        line(TITLE, fmt=f.title)
        line(
            f"Complete: all {total:,} data rows read from the inputs are reported in this workbook.",
            fmt=f.ok,
        )

        section("Run")
        line("Run id", summary.run_id)
        line("User", summary.user or "")
        line("Started (UTC)", summary.started_at)
        line("Duration (seconds)", float(summary.duration_seconds))
        line("Tool version", summary.tool_version)
        line("Match threshold", float(summary.threshold))

        section("Results by status", "Status", "Rows")
        for status in Status:
            line(status.value, self._counts[status])
        line("total", total, fmt=f.bold)

        section("Inputs", "File", "SHA-256", "Sheet", "Rows read", "Rows reported", "Note")
        owners = Counter(sheet for info in summary.inputs for sheet in info.sheets)
        for info in summary.inputs:
            if not info.sheets:
                line(info.file_name, info.sha256)
            for sheet, read in info.sheets.items():
                note = (
                    f"sheet name used by {owners[sheet]} inputs; rows reported counts them all"
                    if owners[sheet] > 1
                    else ""
                )
                line(info.file_name, info.sha256, sheet, read, self._by_sheet.get(sheet, 0), note)
        for sheet, reported in self._by_sheet.items():
            if sheet not in owners:  # never hide rows the inputs do not account for
                line("", "", sheet, None, reported, "sheet not listed in any input" if owners else "")
        line("Total", "", "", summary.rows_read, total, fmt=f.bold)

        section("Lists screened", "Key", "Content hash (SHA-256)", "Name", "Version", "Parties", "Aliases")
        for info in summary.lists or self._list_infos():
            line(info.key, info.content_hash, info.name, info.version, info.parties, info.aliases)

        section("Sheets in this workbook", "Sheet", "Data rows")
        rows_by_name = {p.name: p.rows for t in tables for p in t.pages}
        for ws_ in self._book.worksheets():
            if ws_.name in rows_by_name:
                line(ws_.name, rows_by_name[ws_.name])

        for col, width in enumerate((30, 66, 26, 14, 14, 14, 50)):
            ws.set_column(col, col, width)

    def _list_infos(self) -> list[ListInfo]:
        """List facts from the lists themselves, when the summary does not carry them."""
        return [ListInfo.of(key, lst) for key, lst in self._lists]


def write_report(
    path: str | Path,
    summary: RunSummary,
    results: Iterable[RowResult],
    lists: Sequence[tuple[str, RestrictedList]],
) -> Path:
    """Write a whole report from an iterable of results; nothing is left behind if it fails."""
    writer = ReportWriter(path, lists)
    try:
        for result in results:
            writer.write(result)
        writer.close(summary)
    except BaseException:
        writer.abort()
        raise
    return Path(path)
