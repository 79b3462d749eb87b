"""Worksheet building blocks of the Excel report: safe cells, fixed-width tables, print setup.

Every table sheet is written top to bottom (xlsxwriter's constant_memory mode only allows that),
with fixed column widths so that each row's height can be set, before the row is flushed, to fit
its wrapped text: Excel does not grow row heights it is told nothing about, and a printed cell
that hides half its text is worse than none.

Safety. Every value from input or list data is written with `write_string` (or as the display text
of an internal hyperlink), never `write`, so `=HYPERLINK(...)` stays text. xlsxwriter 3.3 in
constant_memory mode copies any string that starts with `<r>` and ends with `</r>` into the sheet
XML unescaped (it takes it for its own rich-text markup), which lets input data inject a formula
cell; such strings are written as two rich-text runs instead, which are escaped and read back
literally. Text longer than Excel's 32,767-character cell limit is cut and marked `[truncated]`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, NamedTuple

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name
from xlsxwriter.worksheet import Worksheet

MAX_CELL_CHARS = 32_767  # Excel's cell limit, in UTF-16 code units
MAX_LINKS_PER_SHEET = 65_530  # Excel's hyperlink limit per worksheet
TRUNCATED = " … [truncated]"
LINE_POINTS = 15.0  # one line of 11-point Calibri
MAX_ROW_POINTS = 409.0  # Excel's row height limit
MAX_PRINTED_LINES = 27  # what fits Excel's row height limit; the whole text stays in the cell

# what xlsxwriter escapes in an inline string (XML, control characters, its own _xHHHH_ escapes) or
# marks to keep (leading or trailing space); text without any is written as it is
_NEEDS_ESCAPING = re.compile(r'[&<>"\n\x00-\x08\x0b-\x1f\ufffe\uffff]|_x|^\s|\s$')

TEXT, WRAP, NUMBER, SCORE, TRACE = "text", "wrap", "number", "score", "trace"


class Column(NamedTuple):
    header: str
    kind: str
    width: int = 14  # in characters of the default font


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


# the characters that may be drawn wide: from U+1100 on, and the few earlier ones (unassigned code
# points) that unicodedata also calls wide; the rest need not be looked up
_MAYBE_WIDE = re.compile("[" + "".join(chr(c) for c in range(0x80, 0x1100) if unicodedata.east_asian_width(chr(c)) in "WF")
                         + "\u1100-\U0010ffff]")


def _display_width(line: str) -> int:
    """Characters as wide as the default font draws them: Chinese and full-width forms count two."""
    if line.isascii():
        return len(line)
    return len(line) + sum(unicodedata.east_asian_width(ch) in "WF" for ch in _MAYBE_WIDE.findall(line))


def wrapped_lines(text: str, width: int) -> int:
    """How many lines `text` takes wrapped at `width` characters (words are kept whole, roughly)."""
    usable = max(width - 1, 1)
    if "\n" not in text:  # the common cases: one line of ASCII, or short enough in any script
        if text.isascii():
            return max(1, math.ceil(len(text) * 1.1 / usable))
        if len(text) * 2.2 < usable:
            return 1
    lines = 0
    for line in text.split("\n")[:MAX_PRINTED_LINES * 4]:
        lines += max(1, math.ceil(_display_width(line) * 1.1 / usable))  # whole words waste some width
    return lines


def row_points(lines: int) -> float:
    return min(MAX_ROW_POINTS, LINE_POINTS * min(lines, MAX_PRINTED_LINES) + 3)


class Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "valign": "top", "text_wrap": True}
        )
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.section = book.add_format({"bold": True, "font_size": 12})
        self.bold = book.add_format({"bold": True, "valign": "top"})
        self.ok = book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"})
        self.warn = book.add_format(
            {"bold": True, "font_color": "#9C5700", "bg_color": "#FFEB9C", "text_wrap": True, "valign": "top"}
        )
        self.plain = book.add_format()
        self.top = book.add_format({"valign": "top"})
        self.wrap = book.add_format({"valign": "top", "text_wrap": True})
        self.score = book.add_format({"valign": "top", "num_format": "0.0"})
        self.number = book.add_format({"valign": "top"})
        self.decimal = book.add_format({"num_format": "0.0", "valign": "top", "align": "left"})
        self.link = book.add_format({"valign": "top", "font_color": "#0563C1", "underline": 1, "text_wrap": True})


def page_name(title: str, index: int) -> str:
    """'All rows', 'All rows (2)', ...: the sheet holding the index-th page of a table."""
    return title if index == 0 else f"{title} ({index + 1})"


def _header_text(text: str) -> str:
    """Literal text for a page header or footer: '&' starts a code there."""
    return text.replace("&", "&&")


def page_setup(ws: Worksheet, header: str, *, repeat_header: bool, one_page: bool = False) -> None:
    """Landscape, one page wide (and one tall for `one_page`), header naming the sheet and run, page numbers."""
    ws.set_landscape()
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    ws.fit_to_pages(1, 1 if one_page else 0)
    ws.set_header(f"&L&A&R{_header_text(header)}"[:255], {"margin": 0.3})
    ws.set_footer("&LRestricted-party screening report&RPage &P of &N", {"margin": 0.3})
    if repeat_header:
        ws.repeat_rows(0)


class Sheet:
    """One worksheet of a table: a header, a frozen top row, fixed widths, at most `limit` rows.

    The header is written with the first row (or when the sheet is finished), so a table whose
    columns depend on the first result can still be created, in tab order, before it arrives.
    """

    def __init__(self, book: xlsxwriter.Workbook, name: str, columns: Sequence[Column], fmts: Formats) -> None:
        self.name = name
        self.ws = book.add_worksheet(name)
        self.columns: Sequence[Column] = columns
        self.fmts = fmts
        self.rows = 0
        self.links = 0
        self._started = False

    def start(self, columns: Sequence[Column] | None = None) -> None:
        """Fix the columns and write the header row; later calls change nothing."""
        if self._started:
            return
        self._started = True
        if columns is not None:
            self.columns = columns
        fmts = self.fmts
        self.kinds = [c.kind for c in self.columns]
        self.cell_formats: list[Format | None] = [
            {WRAP: fmts.wrap, SCORE: fmts.score, NUMBER: fmts.number}.get(c.kind, fmts.top) for c in self.columns
        ]
        self._letters = [xl_col_to_name(col) for col in range(len(self.columns))]
        self._styles = [f' s="{f._get_xf_index()}"' if f is not None else "" for f in self.cell_formats]
        lines = max(wrapped_lines(c.header, c.width) for c in self.columns) if self.columns else 1
        self.ws.set_row(0, row_points(lines))
        for col, column in enumerate(self.columns):
            self.ws.set_column(col, col, column.width)
            self.ws.write_string(0, col, column.header, fmts.header)
        self.ws.freeze_panes(1, 0)

    def add(self, values: Sequence[Any], links: dict[int, str] | None = None) -> None:
        """Append one row; `links` maps a column to the internal location its text links to."""
        self.start()
        row = self.rows + 1
        ws, kinds, columns = self.ws, self.kinds, self.columns
        lines = 1
        for col, value in enumerate(values):
            if kinds[col] == WRAP and value:
                lines = max(lines, wrapped_lines(value, columns[col].width))
        if links or not self._add_row_xml(row, values, lines):
            self._add_cells(row, values, lines, links)
        if row - 1 in ws.row_info:  # flushed by now, by either way of writing this row
            self._forget(row - 1)
        self.rows = row

    def _add_cells(self, row: int, values: Sequence[Any], lines: int, links: dict[int, str] | None) -> None:
        """The row through xlsxwriter's cell calls: links, rich-text runs and unusual values."""
        ws, kinds, formats = self.ws, self.kinds, self.cell_formats
        if lines > 1:
            ws.set_row(row, row_points(lines))
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if kinds[col] in (NUMBER, SCORE):
                if ws.write_number(row, col, value, formats[col]) < 0:
                    raise RuntimeError(f"xlsxwriter refused a number at {self.name}!R{row + 1}C{col + 1}")
            elif links and col in links:
                self._link(row, col, value, links[col])
            else:
                write_text(ws, row, col, value, formats[col], self.fmts.plain)

    def _add_row_xml(self, row: int, values: Sequence[Any], lines: int) -> bool:
        """Write the row's XML at once, as xlsxwriter's constant_memory mode writes it cell by cell.

        The per-cell calls are most of a large report's time (the All rows sheet has a row per input
        row); this writes the same bytes (tests/test_report_rows.py compares them with the library's)
        for rows of plain text and finite numbers, and returns False for anything else, which then
        goes through the cell calls.
        """
        ws = self.ws
        if not ws.constant_memory or row <= ws.previous_row:
            return False
        cells, first, last = [], -1, -1
        ref = str(row + 1)
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            style = self._styles[col]
            if self.kinds[col] in (NUMBER, SCORE):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    return False
                cells.append(f'<c r="{self._letters[col]}{ref}"{style}><v>{value:.16G}</v></c>')
            elif not isinstance(value, str):
                return False
            else:
                text = fit_cell(value) if len(value) > MAX_CELL_CHARS // 2 else value
                if text[0] == "<" and _is_rich_markup(text):
                    return False
                if _NEEDS_ESCAPING.search(text) is not None:
                    text = ws._escape_control_characters(text)
                    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
                    text = ws._escape_data(text)
                else:
                    space = ""
                cells.append(f'<c r="{self._letters[col]}{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            first = col if first < 0 else first
            last = col
        if first < 0:
            return False  # an empty row: xlsxwriter writes none, and neither does this
        ws._write_single_row(row)  # the row before, if it is still pending (the header)
        ws._check_dimensions(row, first)
        ws._check_dimensions(row, last)
        height = ""
        if lines > 1:
            pixels = int(row_points(lines) * 4.0 / 3.0 + 0.5)  # as set_row rounds it
            height = f' ht="{pixels * 0.75:.16g}" customHeight="1"'
        ws.fh.write(f'<row r="{ref}"{height}>{"".join(cells)}</row>')
        return True

    def _forget(self, row: int) -> None:
        """Drop xlsxwriter's record of a row already flushed to disk: it keeps every height it is
        given (for positioning images, which the report has none of), which would grow with the rows."""
        self.ws.row_info.pop(row, None)
        self.ws.row_sizes.pop(row, None)

    def _link(self, row: int, col: int, text: str, location: str) -> None:
        text = fit_cell(text)
        if self.links >= MAX_LINKS_PER_SHEET or _is_rich_markup(text):
            write_text(self.ws, row, col, text, self.cell_formats[col], self.fmts.plain)
            return
        self.links += 1
        status = self.ws.write_url(row, col, f"internal:{location}", self.fmts.link, string=text)
        if status < 0:
            raise RuntimeError(f"xlsxwriter refused a link ({status}) at {self.name}!R{row + 1}C{col + 1}")

    def finish(self, threshold: float, header: str) -> None:
        """Filter, score colours and print setup; columns of kind TRACE are left out of print."""
        self.start()
        ws = self.ws
        last = len(self.columns) - 1
        ws.autofilter(0, 0, self.rows, last)
        page_setup(ws, header, repeat_header=True)
        ws.hide_gridlines(0)
        printed = [i for i, c in enumerate(self.columns) if c.kind != TRACE]
        if printed and printed[-1] < last:
            ws.print_area(0, 0, max(self.rows, 1), printed[-1])
        for col, column in enumerate(self.columns):
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


class Table:
    """A logical table spread over as many sheets as the row limit requires."""

    def __init__(
        self, book: xlsxwriter.Workbook, title: str, columns: Sequence[Column], fmts: Formats, limit: int
    ) -> None:
        self._book, self._fmts, self.title, self.columns, self.limit = book, fmts, title, columns, limit
        self.pages: list[Sheet] = []
        self._page = self._new_page()

    def _new_page(self) -> Sheet:
        page = Sheet(self._book, page_name(self.title, len(self.pages)), self.columns, self._fmts)
        self.pages.append(page)
        return page

    def start(self, columns: Sequence[Column]) -> None:
        """Fix the columns (before the first row) for this and every later sheet of the table."""
        self.columns = columns
        self._page.start(columns)

    def add(self, values: Sequence[Any], links: dict[int, str] | None = None) -> None:
        if self._page.rows >= self.limit:
            self._page = self._new_page()
        self._page.add(values, links)
