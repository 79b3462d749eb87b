"""Reader tests: real files written to tmp_path and read back."""

from __future__ import annotations

import csv
import hashlib
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hostile import (  # tests/ is on sys.path
    EXPECTED_MESSAGE,
    HOSTILE_CASES,
    billion_laughs_sheet,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.files.readers import (
    MAX_NAME_CHARS,
    ColumnNotFound,
    InputError,
    open_input,
    read_frame,
)


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]], hidden: set[str] = frozenset()) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read(path: Path, **kwargs: object) -> tuple[list, object]:
    source = open_input(path, **kwargs)
    return list(source.rows()), source


# --- formats --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_xlsx_rows_columns_and_hash(tmp_path: Path, suffix: str) -> None:
    path = write_xlsx(tmp_path / f"orders{suffix}", {"Customers": [
        ["ID", "Customer Name", "Country", "Address"],
        [1, "Huawei Technologies Co., Ltd.", "CN", "Shenzhen"],
        [2, "  Acme Ltd  ", " US ", None],
    ]})
    rows, source = read(path)
    assert source.kind == "xlsx"
    assert source.file_name == f"orders{suffix}"
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source.sheets == ["Customers"]
    assert source.columns == {"Customers": {"name": "Customer Name", "country": "Country",
                                            "address": "Address"}}
    assert [(r.name, r.country, r.address, r.sheet, r.row) for r in rows] == [
        ("Huawei Technologies Co., Ltd.", "CN", "Shenzhen", "Customers", 2),
        ("Acme Ltd", "US", None, "Customers", 3),
    ]
    assert source.rows_per_sheet == {"Customers": 2}


def test_display_name_and_suffix_from_it(tmp_path: Path) -> None:
    path = write_text(tmp_path / "upload-1234", "Name\nAcme\n")
    rows, source = read(path, display_name="Orders Q3.csv")
    assert source.file_name == "Orders Q3.csv"
    assert rows[0].sheet == "Orders Q3"


def test_upload_name_loses_client_folders_and_pk_header_is_text(tmp_path: Path) -> None:
    path = write_text(tmp_path / "tmp123.bin", "PK,Name\n1,Acme\n")
    rows, source = read(path, display_name="C:\\Users\\ann\\Orders.CSV")
    assert source.file_name == "Orders.CSV" and source.sheets == ["Orders"]
    assert rows[0].name == "Acme"


@pytest.mark.parametrize("suffix,delimiter", [
    (".csv", ","), (".csv", ";"), (".tsv", "\t"), (".txt", "|"), (".txt", "\t"), (".csv", "|"),
])
def test_delimiters(tmp_path: Path, suffix: str, delimiter: str) -> None:
    lines = [["Company", "Country", "Note"], ["Acme, Inc.", "US", "a;b|c"],
             ["Beta; GmbH", "DE", ""], ["Gamma | SA", "FR", "x,y"]]
    path = tmp_path / f"parties{suffix}"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(lines)
    rows, source = read(path)
    assert source.kind == "csv"
    assert source.delimiter == delimiter
    assert [r.name for r in rows] == ["Acme, Inc.", "Beta; GmbH", "Gamma | SA"]
    assert [r.country for r in rows] == ["US", "DE", "FR"]
    assert [r.row for r in rows] == [2, 3, 4]
    assert source.sheets == ["parties"] and rows[0].sheet == "parties"


def test_single_column_csv(tmp_path: Path) -> None:
    rows, source = read(write_text(tmp_path / "names.csv", "Name\nAcme\nBeta\n"))
    assert [r.name for r in rows] == ["Acme", "Beta"]
    assert source.columns["names"] == {"name": "Name", "country": None, "address": None}


def test_quoted_newlines_count_as_one_record(tmp_path: Path) -> None:
    text = 'Name,Address\n"Acme Ltd","1 Main St\nSpringfield"\nBeta,"x"\n'
    rows, _ = read(write_text(tmp_path / "multi.csv", text))
    assert [(r.name, r.address, r.row) for r in rows] == [
        ("Acme Ltd", "1 Main St\nSpringfield", 2), ("Beta", "x", 3)]


def test_line_endings(tmp_path: Path) -> None:
    for name, data in {"crlf.csv": b"Name\r\nAcme\r\nBeta\r\n", "cr.csv": b"Name\rAcme\rBeta",
                       "none.csv": b"Name\nAcme\nBeta"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        rows, _ = read(path)
        assert [(r.name, r.row) for r in rows] == [("Acme", 2), ("Beta", 3)], name


# --- encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"),
    ("gb18030", "gb18030"), ("utf-16", "utf-16"),
])
def test_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    if encoding == "gb18030":
        text = "客户名称,国家\n华为技术有限公司,中国\n中兴通讯股份有限公司,中国\nAcme Ltd,US\n"
        names = ["华为技术有限公司", "中兴通讯股份有限公司", "Acme Ltd"]
    else:
        text = "Name;Country\nSociété Générale;FR\nMüller GmbH;DE\nZürich Versicherung;CH\n"
        names = ["Société Générale", "Müller GmbH", "Zürich Versicherung"]
    rows, source = read(write_text(tmp_path / "enc.csv", text, encoding))
    assert source.encoding == expected
    assert [r.name for r in rows] == names
    assert [r.row for r in rows] == [2, 3, 4]


# Customer names as the spreadsheet programs of each script save them, enough rows to tell
NAMES_BY_SCRIPT = {
    "cp1251": ["ООО Ромашка", "АО Концерн ВКО Алмаз-Антей", "Торговый дом Северный завод",
               "Научно-производственное объединение Восток", "Уральский металлургический комбинат",
               "Общество с ограниченной ответственностью Сибирская транспортная группа"],
    "koi8-r": ["ООО Ромашка", "АО Концерн ВКО Алмаз-Антей", "Торговый дом Северный завод",
               "Научно-производственное объединение Восток", "Московская строительная компания"],
    "cp1253": ["Ελληνική Εταιρεία Ναυτιλίας", "Ανώνυμη Εμπορική Εταιρεία Αθηνών",
               "Βιομηχανία Τεχνικών Κατασκευών Θεσσαλονίκης", "Ναυτιλιακή Εταιρεία Υπηρεσιών"],
    "cp1256": ["شركة النور للتجارة", "بنك ملي ايران", "شركة الخليج للصناعات", "مؤسسة الشرق للنقل"],
    "big5": ["杭州海康威視數字技術股份有限公司", "北京曠視科技有限公司", "台灣積體電路製造股份有限公司"],
    "shift_jis": ["杭州海康威視", "ソニー株式会社", "トヨタ自動車株式会社", "株式会社日立製作所"],
    "euc_kr": ["삼성전자 주식회사", "현대자동차 주식회사", "엘지전자 주식회사", "에스케이하이닉스"],
}


@pytest.mark.parametrize("encoding", list(NAMES_BY_SCRIPT))
def test_names_in_other_scripts_are_read_in_their_own_encoding(tmp_path: Path, encoding: str) -> None:
    """Found from outside: a Russian Windows-1251 csv (or KOI8-R, Greek, Arabic, Big5, Shift-JIS,
    EUC-KR) was read as Windows-1252 or GB18030: every name came out as "ÎÎÎ Ðîìàøêà", which no
    list entry matches, and the run was clear."""
    names = NAMES_BY_SCRIPT[encoding]
    text = "Customer Name,Country\n" + "".join(f"{n},XX\n" for n in names)
    rows, source = read(write_text(tmp_path / "enc.csv", text, encoding))
    assert [r.name for r in rows] == names
    assert source.encoding == encoding


def test_a_reading_of_another_script_as_likely_is_refused_not_guessed(tmp_path: Path) -> None:
    """Two Cyrillic words read as Greek as well as they read as Cyrillic: refused, one line, rather
    than names a list could never match."""
    path = write_text(tmp_path / "short.csv", "Customer Name,Country\nООО Ромашка,RU\n", "cp1251")
    with pytest.raises(InputError) as caught:
        open_input(path)
    message = str(caught.value)
    assert message.startswith("short.csv: cannot tell the text encoding (it reads as Windows-1251 (Cyrillic) or as ")
    assert message.endswith('save the file as UTF-8 (Excel: "CSV UTF-8")') and "\n" not in message


def test_utf8_bom_does_not_leak_into_header(tmp_path: Path) -> None:
    rows, source = read(write_text(tmp_path / "bom.csv", "Name,Country\nAcme,US\n", "utf-8-sig"))
    assert source.columns["bom"]["name"] == "Name"
    assert rows[0].name == "Acme"


def test_mixed_encodings_decode_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("Name,Country\nSociété Générale,FR\n".encode()
                     + "Müller GmbH,DE\n".encode("cp1252") + "华为,CN\n".encode())
    rows, source = read(path)
    assert [r.name for r in rows] == ["Société Générale", "Müller GmbH", "华为"]
    assert any("mixed encodings" in note and "line 3" in note for note in source.notes)


def test_cp1252_line_after_a_long_utf8_sample(tmp_path: Path) -> None:
    """The legacy line lies beyond the detection sample; it is still decoded, and noted."""
    head = "Name\n" + "Acme International Trading Ltd\n" * 40_000  # beyond the 1 MiB sample
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + "Nestlé SA\n".encode("cp1252"))
    rows, source = read(path)
    assert rows[-1].name == "Nestlé SA"
    assert len(rows) == 40_001
    assert any("cp1252" in note for note in source.notes)


def test_gb18030_line_in_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "late_gb.csv"
    path.write_bytes(("Name\n" + "Acme Ltd\n" * 10).encode() + "中兴通讯股份有限公司\n".encode("gb18030"))
    rows, _ = read(path)
    assert rows[-1].name == "中兴通讯股份有限公司"


def test_undecodable_late_line_is_replaced_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "bad_late.csv"
    head = "Name\n" + "Acme International Trading Ltd\n" * 40_000
    path.write_bytes(head.encode() + b"Bad \x81\xff Co\nLast Co\n")
    rows, source = read(path)
    assert len(rows) == 40_002 and rows[-2].name == "Bad \ufffd\ufffd Co" and rows[-1].name == "Last Co"
    assert any("could not be decoded" in note and "line 40002" in note for note in source.notes)


def test_control_characters_and_inner_quotes_kept(tmp_path: Path) -> None:
    text = 'Name,Country\nAc\x00me\x07 Ltd,US\nAcme "Best" Ltd,US\n"Quoted ""In"" Co",DE\n'
    rows, _ = read(write_text(tmp_path / "ctl.csv", text))
    assert [r.name for r in rows] == ["Ac\x00me\x07 Ltd", 'Acme "Best" Ltd', 'Quoted "In" Co']


# --- header detection -----------------------------------------------------------------------------


@pytest.mark.parametrize("headers,expected", [
    (["Name", "Company Name"], "Company Name"),
    (["Customer", "Customer Name"], "Customer Name"),
    (["Customer ID", "Name"], "Name"),
    (["customer_name", "COUNTRY"], "customer_name"),
    (["CUSTOMER-NAME"], "CUSTOMER-NAME"),
    (["  Party  Name "], "Party  Name"),
    (["Consignee", "Name"], "Consignee"),
    (["End User", "Country"], "End User"),
    (["Organisation"], "Organisation"),
    (["organization name"], "organization name"),
    (["Account Name"], "Account Name"),
    (["Buyer"], "Buyer"),
    (["Purchaser"], "Purchaser"),
    (["Client"], "Client"),
    (["Company Name (English)", "Notes"], "Company Name (English)"),
    (["名称", "国家"], "名称"),
    (["客户名称", "国家"], "客户名称"),
    (["公司名称", "地址"], "公司名称"),
    (["客户", "国家"], "客户"),
    (["名称", "客户名称"], "客户名称"),
    (["Ｃｏｍｐａｎｙ　Ｎａｍｅ"], "Ｃｏｍｐａｎｙ　Ｎａｍｅ"),  # full-width
])
def test_name_header_detection(tmp_path: Path, headers: list[str], expected: str) -> None:
    path = write_xlsx(tmp_path / "h.xlsx", {"S": [headers, ["x"] * len(headers)]})
    _, source = read(path)
    assert source.columns["S"]["name"] == expected


def test_country_and_address_detection_incl_chinese(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cn.xlsx", {"客户": [
        ["序号", "客户名称", "国家/地区", "详细地址"], [1, "华为技术有限公司", "中国", "深圳市龙岗区"]]})
    rows, source = read(path)
    assert source.columns["客户"] == {"name": "客户名称", "country": "国家/地区", "address": "详细地址"}
    assert (rows[0].name, rows[0].country, rows[0].address) == ("华为技术有限公司", "中国", "深圳市龙岗区")


@pytest.mark.parametrize("spec", ["Buyer Ref", "buyer ref", "B", "b", 2, "2"])
def test_explicit_name_column(tmp_path: Path, spec: object) -> None:
    path = write_xlsx(tmp_path / "x.xlsx", {"S": [["Name", "Buyer Ref", "Land"], ["Contact", "Acme", "DE"]]})
    rows, source = read(path, name_column=spec, country_column="C")
    assert source.columns["S"] == {"name": "Buyer Ref", "country": "Land", "address": None}
    assert (rows[0].name, rows[0].country) == ("Acme", "DE")


def test_explicit_column_with_blank_header_label(tmp_path: Path) -> None:
    path = write_text(tmp_path / "blank_label.csv", "Id,,Country\n1,Acme,US\n")
    rows, source = read(path, name_column="B")
    assert source.columns["blank_label"]["name"] == "column B"
    assert rows[0].name == "Acme"


@pytest.mark.parametrize("kwargs,role", [
    ({"name_column": "Firm"}, "name"), ({"name_column": "F"}, "name"), ({"name_column": 9}, "name"),
    ({"country_column": "Nation State"}, "country"), ({"address_column": "Z"}, "address"),
])
def test_missing_explicit_column(tmp_path: Path, kwargs: dict, role: str) -> None:
    path = write_xlsx(tmp_path / "orders.xlsx", {"Customers": [["Name", "Country", ""], ["Acme", "US", "x"]]})
    with pytest.raises(ColumnNotFound) as caught:
        open_input(path, **kwargs)
    error = caught.value
    assert error.role == role
    assert error.headers == ["Name", "Country"]
    text = str(error)
    assert text.startswith('orders.xlsx, sheet "Customers", column "')
    assert "\n" not in text and '"Name", "Country"' in text


def test_unrecognised_header_lists_headers(tmp_path: Path) -> None:
    # No label is known, so the first row may be data: never guess (issue 12 chose "Land" as a country).
    path = write_text(tmp_path / "odd.csv", "Benennung,Notiz\nAcme,US\n")
    with pytest.raises(ColumnNotFound) as caught:
        open_input(path)
    assert caught.value.headers == ["Benennung", "Notiz"]
    assert str(caught.value) == ('odd.csv: no name column recognised in the header (row 1); '
                                 'choose one of: "Benennung", "Notiz"')
    rows, _ = read(path, name_column=caught.value.headers[0])
    assert rows[0].name == "Acme"


def test_title_rows_above_header_and_merged_cells(tmp_path: Path) -> None:
    path = tmp_path / "merged.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Orders"
    sheet["A1"] = "Customer list Q3"
    sheet.merge_cells("A1:D1")
    sheet["A2"] = "Customer Name"
    sheet.merge_cells("A2:B2")  # a header cell spanning two columns
    sheet["C2"], sheet["D2"] = "Country", "City"
    sheet.append(["Acme Ltd", None, "US", "Springfield"])
    workbook.save(path)
    rows, source = read(path)
    assert source.header_rows == {"Orders": 2}
    assert source.columns["Orders"] == {"name": "Customer Name", "country": "Country", "address": "City"}
    assert [(r.name, r.row) for r in rows] == [("Acme Ltd", 3)]
    assert any("above the header" in note for note in source.notes)


def test_a_report_title_block_of_several_cells_a_line_is_passed_over(tmp_path: Path) -> None:
    """Found from outside: a report export's title lines ("Open orders" ... "Printed 2024-01-01")
    were taken as the header, so the file was refused, and --name-column "Customer Name" could not
    help: it looked for the column in row 1."""
    path = write_xlsx(tmp_path / "report.xlsx", {"Orders": [
        ["Open orders report", None, "Printed 2024-01-01"], ["Region: EMEA", None, "Page 1"], [],
        ["Customer Name", "Country", "Order"], ["Hikvision", "CN", "SO-1"], ["Acme Ltd", "US", "SO-2"]]})
    rows, source = read(path)
    assert source.header_rows == {"Orders": 4}
    assert [(r.name, r.country, r.row) for r in rows] == [("Hikvision", "CN", 5), ("Acme Ltd", "US", 6)]
    assert any("row(s) 1, 2 above the header (row 4)" in note for note in source.notes)
    rows, _ = read(path, name_column="Customer Name")
    assert [r.name for r in rows] == ["Hikvision", "Acme Ltd"]


def test_a_data_row_is_not_taken_for_a_header_below_data(tmp_path: Path) -> None:
    """Without a header, rows are data: a later row holding a word like "Customer" is no header."""
    path = write_text(tmp_path / "noheader.csv", "Acme Ltd,US,active\nNordic AB,SE,Customer\nBob AG,DE,x\n")
    with pytest.raises(ColumnNotFound) as caught:
        open_input(path)
    assert "(row 1)" in str(caught.value)


def test_leading_blank_rows_and_header_row_number(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "gap.xlsx", {"S": [[], [], ["Name"], ["Acme"]]})
    rows, source = read(path)
    assert source.header_rows == {"S": 3}
    assert rows[0].row == 4


# --- name cells -----------------------------------------------------------------------------------


def test_name_cell_handling_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "cells.xlsx", {"S": [
        ["Name", "Country", "Qty"],
        ["", "US", 1],
        ["   ", "US", 2],
        [None, "US", 3],
        ["---", "US", 4],
        [12345, "US", 5],
        [12.5, None, 6],
        [datetime(2024, 1, 5), None, 7],
        [True, None, 8],
        ["=A2&A3", None, 9],
        ["عبد الله", "SA", 10],
        ["Ac\u200bme\u202e", None, 11],
    ]})
    rows, _ = read(path)
    got = [(r.row, r.name, r.not_screened_reason) for r in rows]
    assert got == [
        (2, None, "empty name"),
        (3, None, "empty name"),
        (4, None, "empty name"),
        (5, "---", "name has no letters or digits"),
        (6, "12345", None),
        (7, "12.5", None),
        (8, "2024-01-05", None),
        (9, "TRUE", None),
        (10, None, "formula without a cached value"),
        (11, "عبد الله", None),
        (12, "Ac\u200bme\u202e", None),
    ]


def test_excel_error_value_is_not_screened(tmp_path: Path) -> None:
    from hostile import error_cells_xlsx

    rows, _ = read(error_cells_xlsx(tmp_path))
    assert (rows[1].name, rows[1].not_screened_reason) == ("#N/A", "cell shows the Excel error #N/A")


def test_long_names_are_cut_and_noted(tmp_path: Path) -> None:
    long_name = "Acme " * 2000  # 10,000 characters
    path = write_xlsx(tmp_path / "long.xlsx", {"S": [["Name"], [long_name], ["Short"]]})
    rows, source = read(path)
    assert len(rows[0].name) <= MAX_NAME_CHARS and long_name.startswith(rows[0].name)
    assert rows[0].not_screened_reason is None
    assert any("longer than 1,000" in note and "rows 2" in note for note in source.notes)


def test_blank_rows_skipped_and_row_numbers_kept(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "blank.xlsx", {"S": [
        ["Name", "Country"], ["Acme", "US"], [None, None], ["  ", ""], [None, "DE"], ["Beta", "FR"],
        [], []]})
    rows, source = read(path)
    assert [(r.row, r.name, r.country, r.not_screened_reason) for r in rows] == [
        (2, "Acme", "US", None), (5, None, "DE", "empty name"), (6, "Beta", "FR", None)]
    assert source.rows_per_sheet == {"S": 3}
    assert 'sheet "S": 2 blank row(s) between data rows were skipped, no record each (rows 3, 4)' in source.notes


def test_blank_lines_in_csv_keep_excel_row_numbers(tmp_path: Path) -> None:
    rows, _ = read(write_text(tmp_path / "gaps.csv", "Name,Country\nAcme,US\n\n,,\nBeta,FR\n"))
    assert [(r.row, r.name) for r in rows] == [(2, "Acme"), (5, "Beta")]


def test_mixed_type_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "mixed.xlsx", {"S": [
        ["Company", "Country"], [1, 2], ["Acme", 3.0], [date(2020, 2, 3), "US"], [4.25, None]]})
    rows, _ = read(path)
    assert [(r.name, r.country) for r in rows] == [
        ("1", "2"), ("Acme", "3"), ("2020-02-03", "US"), ("4.25", None)]


# --- sheets ---------------------------------------------------------------------------------------


def test_several_sheets_in_order_with_hidden_noted(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {
        "First": [["Name"], ["A1"], ["A2"]],
        "Empty": [],
        "Secret": [["Title only"], ["Company", "Country"], ["B1", "CN"]],
        "Last": [["客户名称"], ["C1"]],
    }, hidden={"Secret"})
    rows, source = read(path)
    assert source.sheets == ["First", "Empty", "Secret", "Last"]
    assert [(r.sheet, r.row, r.name) for r in rows] == [
        ("First", 2, "A1"), ("First", 3, "A2"), ("Secret", 3, "B1"), ("Last", 2, "C1")]
    assert source.rows_per_sheet == {"First": 2, "Empty": 0, "Secret": 1, "Last": 1}
    assert any("Secret" in note and "hidden" in note for note in source.notes)
    assert any('"Empty" is empty' in note for note in source.notes)


def test_very_hidden_sheet_is_read_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "vh.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name"])
    sheet = workbook.create_sheet("Deep")
    sheet.append(["Name"])
    sheet.append(["Deep Co"])
    sheet.sheet_state = "veryHidden"
    workbook.save(path)
    rows, source = read(path)
    assert [r.name for r in rows] == ["Deep Co"]
    assert 'sheet "Deep" is very hidden in Excel; it was read' in source.notes


def test_sheet_selection(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {"One": [["Name"], ["a"]], "Two": [["Name"], ["b"]]})
    rows, source = read(path, sheet="two")
    assert source.sheets == ["Two"] and [r.name for r in rows] == ["b"]
    with pytest.raises(InputError) as caught:
        open_input(path, sheet="Three")
    assert str(caught.value) == 'book.xlsx: no sheet "Three"; sheets: "One", "Two"'


def test_sheet_without_header_is_column_not_found(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {"Good": [["Name"], ["a"]], "Notes": [["hello", "world"]]})
    with pytest.raises(ColumnNotFound) as caught:
        open_input(path)
    assert caught.value.sheet == "Notes"
    assert read(path, sheet="Good")[0][0].name == "a"


def test_rows_can_be_read_twice(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "twice.xlsx", {"S": [["Name"], ["a"], ["b"]]})
    source = open_input(path)
    first = list(source.rows())
    assert list(source.rows()) == first and len(first) == 2


# --- errors ---------------------------------------------------------------------------------------


def test_input_error_text() -> None:
    error = InputError("bad value", file="orders.xlsx", sheet="Customers", row=7, column="Name")
    assert str(error) == 'orders.xlsx, sheet "Customers", row 7, column "Name": bad value'
    assert str(InputError("oops\nsecond line", file="a.csv")) == "a.csv: oops second line"
    assert str(InputError("plain")) == "plain"


@pytest.mark.parametrize("name,make,outcome", HOSTILE_CASES, ids=[c[0] for c in HOSTILE_CASES])
def test_hostile_cases(tmp_path: Path, name: str, make, outcome: str) -> None:
    path = make(tmp_path)
    if outcome == "ok":
        source = open_input(path)
        rows = list(source.rows())
        assert sum(source.rows_per_sheet.values()) == len(rows)
        return
    with pytest.raises(InputError) as caught:
        list(open_input(path).rows())
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    assert text.startswith(path.name)
    if name in EXPECTED_MESSAGE:
        assert EXPECTED_MESSAGE[name] in text


def test_openpyxl_uses_defusedxml(tmp_path: Path) -> None:
    """The prolog check refuses first; openpyxl's own parser must refuse too, without it."""
    import openpyxl.xml

    from screener.files.xlsx import Book

    assert openpyxl.xml.DEFUSEDXML
    path = billion_laughs_sheet(tmp_path)
    with pytest.raises(InputError, match="entities"):
        open_input(path)
    with pytest.raises(InputError, match="entities"):
        book = Book.open(path, path.name)  # bypasses the prolog check
        try:
            list(book.records("Sheet1"))
        finally:
            book.close()


def test_damaged_sheet_fails_while_streaming_with_sheet_named(tmp_path: Path) -> None:
    from hostile import damaged_member_xlsx

    path = damaged_member_xlsx(tmp_path)
    source = open_input(path)
    with pytest.raises(InputError) as caught:
        for _ in source.rows():
            pass
    assert caught.value.sheet == "Sheet1"
    # The sheet's bytes are random, so the overwritten stretch either fails to inflate (no row to
    # name) or inflates to garbled XML that fails at a cell (its row named): one line either way.
    assert re.match(r'damaged\.xlsx, sheet "Sheet1"(, row \d+)?: ', str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)


def test_csv_quote_error_names_row(tmp_path: Path) -> None:
    path = write_text(tmp_path / "q.csv", 'Name,Country\nAcme,US\n"Beta" GmbH,DE\n')
    with pytest.raises(InputError) as caught:
        list(open_input(path).rows())
    assert caught.value.row == 3
    assert str(caught.value).startswith("q.csv, row 3: ")


# --- DataFrames -----------------------------------------------------------------------------------


def test_read_frame_keeps_every_row() -> None:
    frame = pd.DataFrame({
        "Customer Name": ["Acme", None, float("nan"), "  ", "Beta", 42],
        "Country": ["US", "DE", None, None, pd.NA, "FR"],
        "When": pd.to_datetime(["2024-01-01"] * 6),
    })
    rows = list(read_frame(frame, sheet="frame"))
    assert [(r.row, r.name, r.country, r.not_screened_reason) for r in rows] == [
        (2, "Acme", "US", None), (3, None, "DE", "empty name"), (4, None, None, "empty name"),
        (5, None, None, "empty name"), (6, "Beta", None, None), (7, "42", "FR", None)]
    assert all(r.sheet == "frame" for r in rows)


def test_read_frame_explicit_and_missing_columns() -> None:
    frame = pd.DataFrame({"a": ["x"], "b": ["Acme"], "c": [pd.Timestamp("2024-02-03")]})
    assert next(read_frame(frame, name_column="b", country_column=3)).country == "2024-02-03"
    assert next(read_frame(frame, name_column="B")).name == "Acme"  # label b, case-insensitive
    with pytest.raises(ColumnNotFound) as caught:
        read_frame(frame)  # raised before iteration
    assert caught.value.headers == ["a", "b", "c"]
    with pytest.raises(ColumnNotFound):
        read_frame(frame, name_column="b", address_column="zzz")


# --- properties and speed -------------------------------------------------------------------------

# Any text but NUL: a file full of NULs is refused as binary by design.
_cell = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cell, min_size=3, max_size=3), max_size=25))
def test_property_quoted_csv_round_trip(tmp_path: Path, table: list[list[str]]) -> None:
    path = tmp_path / "prop.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "Country", "Note"])
        writer.writerows(table)
    rows = list(open_input(path).rows())
    expected = [r for r in table if any(cell.strip() for cell in r)]
    assert len(rows) == len(expected)
    assert [r.row for r in rows] == sorted({r.row for r in rows})
    for got, cells in zip(rows, expected):
        name = cells[0].strip()
        assert got.name == (name[:MAX_NAME_CHARS] if name else None)
        assert got.country == (cells[1].strip() or None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=30), max_size=30), st.sampled_from(["utf-8", "cp1252", "gb18030"]))
def test_property_raw_text_never_crashes(tmp_path: Path, lines: list[str], encoding: str) -> None:
    path = tmp_path / "raw.csv"
    path.write_bytes(("Name\n" + "\n".join(lines)).encode(encoding, errors="replace"))
    try:
        source = open_input(path)
        rows = list(source.rows())
    except InputError as error:
        assert "\n" not in str(error)
        return
    numbers = [r.row for r in rows]
    assert numbers == sorted(set(numbers)) and all(n >= 2 for n in numbers)
    assert sum(source.rows_per_sheet.values()) == len(rows)


def test_a_large_csv_streams_every_row(tmp_path: Path) -> None:
    """Every row of a 200,000-row file comes out (its speed is measured in benchmarks/speed.py)."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Customer Name,Country,Address\n")
        for i in range(200_000):
            fh.write(f'Company {i} Ltd,US,"{i} Main St, Springfield"\n')
    rows = open_input(path).rows()
    count = sum(1 for _ in rows)
    assert count == 200_000
