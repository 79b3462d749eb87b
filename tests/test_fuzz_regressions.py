"""Regression tests for what fuzzing (fuzz/fuzz_readers.py) and the pipeline properties found.

Each test writes the minimised input as a real file and checks the reader's contract: rows in
increasing order with every one accounted for, or a one-line InputError naming file and sheet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter
from hostile import SHEET, WORKBOOK, raw_xlsx  # tests/ is on sys.path

from screener.files.layout import CONTENT_SAMPLE_ROWS
from screener.files.readers import InputError, open_input


def sheet_with_rows(*rows: tuple[str, str]) -> str:
    """Sheet XML whose <row> elements carry the given r attributes and inline texts, in that order."""
    body = "".join(
        f'<row r="{r}"><c t="inlineStr"><is><t>{text}</t></is></c></row>' for r, text in rows)
    start = SHEET.index("<sheetData>") + len("<sheetData>")
    end = SHEET.index("</sheetData>")
    return SHEET[:start] + body + SHEET[end:]


# --- fuzz finding 1: row numbers that go backwards --------------------------------------------------
# A <row r="..."> may name any number. openpyxl hands rows on in file order with the number the file
# claims, so rows came out of order, and a row numbered at or above the header after it (r="1" again)
# was silently dropped as "part of the header": a lost row. Excel requires ascending row numbers and
# calls such a file corrupt; the reader now refuses it.


@pytest.mark.parametrize("rows", [
    [("1", "Name"), ("4", "Acme Ltd"), ("3", "Beta GmbH")],  # the fuzzer's input, minimised
    [("1", "Name"), ("2", "Acme Ltd"), ("2", "Beta GmbH")],  # a repeated number
    [("1", "Name"), ("2", "Acme Ltd"), ("1", "Beta GmbH")],  # back to the header: was dropped
    [("0", "Name"), ("1", "Acme Ltd")],  # no row 0 in a spreadsheet
    [("-3", "Name"), ("1", "Acme Ltd")],
])
def test_rows_out_of_order_are_refused_not_lost(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    path = raw_xlsx(tmp_path / "orders.xlsx", sheet=sheet_with_rows(*rows))
    with pytest.raises(InputError) as caught:
        list(open_input(path).rows())
    text = str(caught.value)
    assert text.startswith('orders.xlsx, sheet "Sheet1": damaged sheet: row')
    assert "\n" not in text


def test_rows_out_of_order_after_the_header_check_fail_while_streaming(tmp_path: Path) -> None:
    # beyond the rows open_input samples for the column content (issue 12), so found while streaming
    last = CONTENT_SAMPLE_ROWS + 40
    rows = [("1", "Name"), *((str(n), f"Company {n}") for n in range(2, last)), ("7", "Late Co")]
    path = raw_xlsx(tmp_path / "late.xlsx", sheet=sheet_with_rows(*rows))
    source = open_input(path)  # header fine
    seen = []
    with pytest.raises(InputError, match=f"row 7 comes after row {last - 1}"):
        for row in source.rows():
            seen.append(row.row)
    assert seen == list(range(2, last))


def test_ascending_gaps_and_unnumbered_rows_still_read(tmp_path: Path) -> None:
    """Gaps are fine (blank rows are not stored), and rows without r count on from the last."""
    sheet = sheet_with_rows(("1", "Name"), ("5", "Acme Ltd")).replace(
        "</sheetData>", '<row><c t="inlineStr"><is><t>Beta GmbH</t></is></c></row></sheetData>')
    rows = list(open_input(raw_xlsx(tmp_path / "gaps.xlsx", sheet=sheet)).rows())
    assert [(r.row, r.name) for r in rows] == [(5, "Acme Ltd"), (6, "Beta GmbH")]


# --- property finding: Excel's _xHHHH_ escapes -------------------------------------------------------
# Found by tests/test_pipeline_properties.py: XML cannot hold most control characters, so Excel (and
# xlsxwriter) store a CR as "_x000D_"; openpyxl returns the escape as text. A cell holding only a CR
# was screened as the name "_x000D_" (status clear instead of "empty name"), and a name such as
# "Hikvision_x000D_" scored lower than "Hikvision".


def test_control_character_escapes_are_expanded(tmp_path: Path) -> None:
    path = tmp_path / "escapes.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Parties")
    names = ["Name", "\r", "Hikvision\r\n", "Ac\x01me", "_x0041_ stays", "Huawei\tTech"]
    for row, name in enumerate(names):
        sheet.write_string(row, 0, name)
        sheet.write_string(row, 1, "Ref" if row == 0 else f"r{row}")
    book.close()
    rows = list(open_input(path).rows())
    assert [(r.name, r.not_screened_reason) for r in rows] == [
        (None, "empty name"), ("Hikvision", None), ("Ac\x01me", None), ("_x0041_ stays", None),
        ("Huawei\tTech", None)]


def test_inline_string_escapes_follow_the_spec(tmp_path: Path) -> None:
    """_x005F_ is a literal underscore, so "_x005F_x000D_" is the text "_x000D_", not a CR."""
    sheet = sheet_with_rows(("1", "Name"), ("2", "Acme_x000D_"), ("3", "Beta _x005F_x000D_ Co"))
    rows = list(open_input(raw_xlsx(tmp_path / "inline.xlsx", sheet=sheet)).rows())
    assert [r.name for r in rows] == ["Acme", "Beta _x000D_ Co"]


# --- fuzz finding 2: control characters in error messages ------------------------------------------
# Error texts quote header labels and sheet names from the file. Only CR and LF were flattened, so
# "\x1c" or U+2028 split the "one-line" error (str.splitlines, log collectors), and ESC sequences
# reached the terminal the CLI prints to. They are now shown as \x.. / \u.... escapes.


def test_control_characters_in_header_labels_are_escaped_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Acme L\x01\x00,US\nBeta GmbH,DE\n")  # the fuzzer's input, minimised
    with pytest.raises(InputError) as caught:
        open_input(path)
    assert str(caught.value) == ('odd.csv: no name column recognised in the header (row 1); '
                                 'choose one of: "Acme L\\x01\\x00", "US"')
    assert caught.value.headers == ["Acme L\x01\x00", "US"]  # the choices keep the real labels


@pytest.mark.parametrize("label", ["Firma\x1cX", "Land\u2028Y", "\x1b[2J\x1b[31mOK", "a\x85b"])
def test_error_text_is_one_printable_line(tmp_path: Path, label: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(f"{label},Other\nAcme,US\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        open_input(path)
    text = str(caught.value)
    assert len(text.splitlines()) == 1
    assert not any(ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in text)


def test_control_characters_in_a_sheet_name_are_escaped(tmp_path: Path) -> None:
    workbook = WORKBOOK.replace('name="Sheet1"', 'name="Q3\u2028\x85Orders"')
    sheet = sheet_with_rows(("1", "Benennung"), ("2", "Acme Ltd"))
    path = raw_xlsx(tmp_path / "book.xlsx", sheet=sheet, workbook=workbook)
    with pytest.raises(InputError) as caught:
        open_input(path)
    assert str(caught.value).startswith('book.xlsx, sheet "Q3\\u2028\\x85Orders": no name column')


# --- review finding: server paths in error texts -----------------------------------------------------
# Found while writing docs/security.md: an OSError while streaming was described by str(exc), which
# names the server path of the file (in the service, its private upload folder). Only the reason is
# shown now; the file is named by its display name as everywhere else.


def test_file_vanishing_midway_is_an_input_error_without_the_server_path(tmp_path: Path) -> None:
    path = tmp_path / "private-upload-3f2a.csv"
    path.write_text("Name\nAcme Ltd\n", encoding="utf-8")
    source = open_input(path, display_name="Orders.csv")
    path.unlink()
    with pytest.raises(InputError) as caught:
        list(source.rows())
    text = str(caught.value)
    assert text.startswith("Orders.csv: unreadable text") and "No such file" in text
    assert str(tmp_path) not in text and "private-upload" not in text
