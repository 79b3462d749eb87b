"""The report's table rows are written as whole rows of XML (`Sheet._add_row_xml`), the per-cell
calls of xlsxwriter being most of a large report's time. These tests hold that shortcut to the
library: the same rows written both ways give the same workbook, byte for byte, on generated
hostile text (XML and control characters, xlsxwriter's own _xHHHH_ escapes, edge spaces, look-alike
rich-text markup, over-long cells, wrapped lines) and on the numbers the report writes."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from screener.files import sheets
from screener.files.sheets import NUMBER, SCORE, TEXT, WRAP, Column, Formats, Table

COLUMNS = (Column("Row", NUMBER, 8), Column("Name", WRAP, 30), Column("Code", TEXT, 12),
           Column("Score", SCORE, 8), Column("Note", WRAP, 50))
PIECES = ("Hikvision", "海康威视", " ", "  ", "\n", "&", "<", ">", '"', "'", "_x0041_", "_x", "\x01", "\x1f",
          "\t", "\ufffe", "\uffff", "<r>", "</r>", "=HYPERLINK(\"http://x\")", "Ω", "😀", "\u00a0", "\u3000")


def hostile_text(rng: random.Random) -> str:
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.05:
        text = "<r>" + text + "</r>"  # what xlsxwriter would take for its own markup
    if rng.random() < 0.01:
        text = "long " * 7_000  # past Excel's cell limit: cut and marked
    return text


def hostile_rows(n: int) -> list[list[object]]:
    rng = random.Random(17)
    rows: list[list[object]] = []
    for i in range(n):
        score = rng.choice([None, 0.0, 100.0, 87.25, 1 / 3, 75])
        rows.append([i + 2, hostile_text(rng), rng.choice(["", None, "GB", hostile_text(rng)]), score,
                     rng.choice([None, "", hostile_text(rng), "a fairly long explanation " * rng.randint(1, 9)])])
    rows.append([None, None, None, None, None])  # an empty row stays empty
    return rows


def write_book(path: Path, rows: list[list[object]]) -> dict[str, bytes]:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    fmts = Formats(book)
    table = Table(book, "Rows", COLUMNS, fmts, limit=300)  # several pages
    for i, values in enumerate(rows):
        table.add(values, {1: "'Rows'!A1"} if i % 97 == 5 else None)  # a few rows with links
    for page in table.pages:
        page.finish(75.0, "test")
    book.close()
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


def test_whole_rows_are_the_bytes_xlsxwriter_writes_cell_by_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = hostile_rows(1_000)
    fast_rows = 0
    real = sheets.Sheet._add_row_xml

    def counted(self: sheets.Sheet, *args: object) -> bool:
        nonlocal fast_rows
        done = real(self, *args)
        fast_rows += done
        return done

    monkeypatch.setattr(sheets.Sheet, "_add_row_xml", counted)
    fast = write_book(tmp_path / "fast.xlsx", rows)
    assert fast_rows > 800  # the shortcut took most rows; the rest went cell by cell
    monkeypatch.setattr(sheets.Sheet, "_add_row_xml", lambda self, *args: False)
    by_cell = write_book(tmp_path / "cells.xlsx", rows)
    assert fast.keys() == by_cell.keys()
    differing = [name for name in by_cell if fast[name] != by_cell[name]]
    assert differing == []


def test_whole_rows_read_back_as_written(tmp_path: Path) -> None:
    rows = [[2, "  Hikvision & Co <Ltd> ", "GB", 87.25, "line one\nline two"],
            [3, "=HYPERLINK(\"http://x\")", "ctl\x01", 100.0, "\u3000wide\u3000"],
            [4, "海康威视", None, 1 / 3, None]]
    write_book(tmp_path / "r.xlsx", rows)
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Rows"]
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_row=4)]
    assert got[0] == [2, "  Hikvision & Co <Ltd> ", "GB", 87.25, "line one\nline two"]
    assert got[1][:2] == [3, "=HYPERLINK(\"http://x\")"] and ws["B3"].data_type == "s"
    assert got[2] == [4, "海康威视", None, 1 / 3, None]
    assert ws.row_dimensions[2].height is not None  # the two-line note made its row taller
