"""Generators of hostile and awkward input files, shared by reader tests and CLI-level tests.

Each generator writes one file into the folder it is given and returns its path (for
``missing_file``, a path that does not exist). ``HOSTILE_CASES`` pairs each with its name and the
outcome a reader must produce: ``"error"`` (a one-line ``InputError``) or ``"ok"`` (every row
read). ``EXPECTED_MESSAGE`` holds a fragment the error text must contain, where it is worth pinning.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import openpyxl

Outcome = Literal["error", "ok"]

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL_NS}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
SHEET = (
    f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>Acme Ltd</t></is></c></row>'
    "</sheetData></worksheet>"
)
LAUGHS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def raw_xlsx(path: Path | io.BytesIO, *, sheet: str = SHEET, workbook: str = WORKBOOK,
             extra: dict[str, bytes] | None = None) -> Path | io.BytesIO:
    """A hand-assembled minimal workbook, so tests control every byte of its XML."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def good_xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Customers"
    sheet.append(["Customer Name", "Country"])
    for i in range(200):
        sheet.append([f"Company {i}", "US"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- errors ---------------------------------------------------------------------------------------


def missing_file(folder: Path) -> Path:
    return folder / "does_not_exist.xlsx"


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def folder_not_file(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.mkdir()
    return path


def empty_xlsx(folder: Path) -> Path:
    return _written(folder / "empty.xlsx", b"")


def empty_csv(folder: Path) -> Path:
    return _written(folder / "empty.csv", b"")


def text_named_xlsx(folder: Path) -> Path:
    path = folder / "not_a_zip.xlsx"
    path.write_text("Name,Country\nAcme,US\n", encoding="utf-8")
    return path


def truncated_xlsx(folder: Path) -> Path:
    path = folder / "truncated.xlsx"
    data = good_xlsx_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt_zip_xlsx(folder: Path) -> Path:
    return _written(folder / "corrupt.xlsx", b"PK\x03\x04" + os.urandom(4096))


def damaged_member_xlsx(folder: Path) -> Path:
    """A valid directory over a sheet whose compressed bytes were overwritten (CRC/inflate error)."""
    path = folder / "damaged.xlsx"
    buffer = io.BytesIO()
    rows = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>Company {i:06d} {os.urandom(8).hex()}</t>'
        "</is></c></row>"
        for i in range(3, 40000)  # row 2 is SHEET's own
    )
    sheet = SHEET.replace("</sheetData>", rows + "</sheetData>").replace(
        "<sheetData>", '<dimension ref="A1:A40000"/><sheetData>')  # so openpyxl opens it lazily
    raw_xlsx(buffer, sheet=sheet)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.compress_size // 2
    data[middle: middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return path


def zip_without_workbook(folder: Path) -> Path:
    path = folder / "document.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    return path


def encrypted_xlsx(folder: Path) -> Path:
    """Password-protected workbooks are OLE2 compound files, not zips."""
    return _written(folder / "encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088)


def legacy_xls(folder: Path) -> Path:
    return _written(folder / "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088)


def unsupported_extension(folder: Path) -> Path:
    return _written(folder / "orders.pdf", b"%PDF-1.4\n")


def zip_bomb_ratio(folder: Path) -> Path:
    """A 40 MiB part of zeros that compresses about 1000:1."""
    path = folder / "bomb_ratio.xlsx"
    return raw_xlsx(path, extra={"xl/media/image1.bin": b"\x00" * (40 * 1024 * 1024)})


def zip_bomb_declared_size(folder: Path) -> Path:
    """A small archive whose central directory claims a part of 4 GiB."""
    path = folder / "bomb_size.xlsx"
    raw_xlsx(path)
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack("<H", data[central + 28: central + 30])[0]
        name = bytes(data[central + 46: central + 46 + name_len])
        if name == b"xl/worksheets/sheet1.xml":
            data[central + 24: central + 28] = struct.pack("<I", 0xFFFFFFF0)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


def billion_laughs_sheet(folder: Path) -> Path:
    path = folder / "laughs_sheet.xlsx"
    sheet = SHEET.replace('<?xml version="1.0" encoding="UTF-8"?>', LAUGHS).replace(
        "Acme Ltd", "&lol9;")
    return raw_xlsx(path, sheet=sheet)


def billion_laughs_workbook(folder: Path) -> Path:
    path = folder / "laughs_workbook.xlsx"
    workbook = WORKBOOK.replace('<?xml version="1.0" encoding="UTF-8"?>', LAUGHS).replace(
        'name="Sheet1"', 'name="&lol9;"')
    return raw_xlsx(path, workbook=workbook)


def external_entity_sheet(folder: Path) -> Path:
    path = folder / "xxe.xlsx"
    sheet = SHEET.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ).replace("Acme Ltd", "&xxe;")
    return raw_xlsx(path, sheet=sheet)


def workbook_without_sheets(folder: Path) -> Path:
    path = folder / "no_sheets.xlsx"
    workbook = WORKBOOK.replace('<sheet name="Sheet1" sheetId="1" r:id="rId1"/>', "")
    return raw_xlsx(path, workbook=workbook)


def workbook_all_empty(folder: Path) -> Path:
    path = folder / "blank.xlsx"
    workbook = openpyxl.Workbook()
    workbook.create_sheet("Second")
    workbook.save(path)
    return path


def xlsx_without_header(folder: Path) -> Path:
    path = folder / "no_header.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Acme Ltd", "US"])
    workbook.active.append(["Beta GmbH", "DE"])
    workbook.save(path)
    return path


def binary_csv(folder: Path) -> Path:
    return _written(folder / "binary.csv", b"\x89PNG\r\n\x1a\n" + bytes(4096) + os.urandom(4096))


def zip_named_csv(folder: Path) -> Path:
    return _written(folder / "orders.csv", good_xlsx_bytes())


def pdf_named_csv(folder: Path) -> Path:
    """A PDF saved as .csv: no NUL in its first line, which would otherwise be offered as a header."""
    return _written(folder / "customers.csv",
                    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")


def html_named_csv(folder: Path) -> Path:
    """A web page's table saved as .csv, as browser exports often are."""
    return _written(folder / "export.csv", b"\xef\xbb\xbf\n  <!DOCTYPE html><html><body><table><tr><td>Name</td></tr>"
                                           b"<tr><td>Acme Ltd</td></tr></table></body></html>\n")


def undecodable_csv(folder: Path) -> Path:
    """Bytes that are neither UTF-8, GB18030 nor cp1252 (0x81 0xFF fails all three)."""
    return _written(folder / "undecodable.csv", b"Name,Country\n" + b"Acme \x81\xff\x81\xff Ltd,US\n" * 50)


def unclosed_quote_csv(folder: Path) -> Path:
    path = folder / "unclosed.csv"
    path.write_text('Name,Country\nAcme,US\n"Beta GmbH,DE\nGamma,FR\n', encoding="utf-8")
    return path


def blank_lines_csv(folder: Path) -> Path:
    path = folder / "blank.csv"
    path.write_text("\n \n\t\n", encoding="utf-8")
    return path


def csv_without_header(folder: Path) -> Path:
    path = folder / "no_header.csv"
    path.write_text("Acme Ltd,US\nBeta GmbH,DE\n", encoding="utf-8")
    return path


def huge_field_csv(folder: Path) -> Path:
    path = folder / "huge_field.csv"
    path.write_text("Name,Country\n" + "A" * 200_000 + ",US\n", encoding="utf-8")
    return path


# --- awkward but valid ----------------------------------------------------------------------------


def header_only_csv(folder: Path) -> Path:
    path = folder / "header_only.csv"
    path.write_text("Name,Country\n", encoding="utf-8")
    return path


def header_only_xlsx(folder: Path) -> Path:
    path = folder / "header_only.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Company Name", "Country"])
    workbook.save(path)
    return path


def control_characters_csv(folder: Path) -> Path:
    path = folder / "controls.csv"
    path.write_text("Name,Country\nAc\x00me\x07 Ltd,US\n\x1b[31mRed Corp,CN\n", encoding="utf-8")
    return path


def ten_thousand_char_name(folder: Path) -> Path:
    path = folder / "long_name.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name"])
    workbook.active.append(["Very Long Company " * 556])  # 10,008 characters
    workbook.save(path)
    return path


def right_to_left_names(folder: Path) -> Path:
    path = folder / "rtl.csv"
    path.write_text("Name,Country\nشركة النفط الوطنية,IR\n\u202eevil\u202c Ltd,US\nבנק הפועלים,IL\n",
                    encoding="utf-8")
    return path


def formula_without_cache(folder: Path) -> Path:
    path = folder / "formulas.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Country"])
    workbook.active.append(['=CONCAT("Ac","me")', "US"])
    workbook.save(path)
    return path


def mixed_encoding_csv(folder: Path) -> Path:
    return _written(folder / "mixed.csv", "Name,Country\nSociété Générale,FR\n".encode("utf-8")
                    + "Müller GmbH,DE\n".encode("cp1252") + "华为,CN\n".encode("utf-8"))


def hidden_sheet_xlsx(folder: Path) -> Path:
    path = folder / "hidden.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name"])
    workbook.active.append(["Visible Co"])
    hidden = workbook.create_sheet("Secret")
    hidden.sheet_state = "hidden"
    hidden.append(["Name"])
    hidden.append(["Hidden Co"])
    workbook.save(path)
    return path


def bare_cr_csv(folder: Path) -> Path:
    return _written(folder / "mac.csv", b"Name,Country\rAcme,US\rBeta,DE\r")


def wrong_dimension_xlsx(folder: Path) -> Path:
    """The sheet claims to span A1:A1 but holds three rows (some writers never update it)."""
    path = folder / "dimension.xlsx"
    sheet = SHEET.replace("<sheetData>", '<dimension ref="A1"/><sheetData>').replace(
        "</sheetData>", '<row r="3"><c r="A3" t="inlineStr"><is><t>Beta</t></is></c></row></sheetData>')
    return raw_xlsx(path, sheet=sheet)


def error_cells_xlsx(folder: Path) -> Path:
    path = folder / "errors.xlsx"
    sheet = SHEET.replace(
        "</sheetData>",
        '<row r="3"><c r="A3" t="e"><f>VLOOKUP(1,B:B,2)</f><v>#N/A</v></c></row></sheetData>')
    return raw_xlsx(path, sheet=sheet)


HOSTILE_CASES: list[tuple[str, Callable[[Path], Path], Outcome]] = [
    ("missing_file", missing_file, "error"),
    ("folder_not_file", folder_not_file, "error"),
    ("empty_xlsx", empty_xlsx, "error"),
    ("empty_csv", empty_csv, "error"),
    ("text_named_xlsx", text_named_xlsx, "error"),
    ("truncated_xlsx", truncated_xlsx, "error"),
    ("corrupt_zip_xlsx", corrupt_zip_xlsx, "error"),
    ("damaged_member_xlsx", damaged_member_xlsx, "error"),
    ("zip_without_workbook", zip_without_workbook, "error"),
    ("encrypted_xlsx", encrypted_xlsx, "error"),
    ("legacy_xls", legacy_xls, "error"),
    ("unsupported_extension", unsupported_extension, "error"),
    ("zip_bomb_ratio", zip_bomb_ratio, "error"),
    ("zip_bomb_declared_size", zip_bomb_declared_size, "error"),
    ("billion_laughs_sheet", billion_laughs_sheet, "error"),
    ("billion_laughs_workbook", billion_laughs_workbook, "error"),
    ("external_entity_sheet", external_entity_sheet, "error"),
    ("workbook_without_sheets", workbook_without_sheets, "error"),
    ("workbook_all_empty", workbook_all_empty, "error"),
    ("xlsx_without_header", xlsx_without_header, "error"),
    ("binary_csv", binary_csv, "error"),
    ("zip_named_csv", zip_named_csv, "error"),
    ("pdf_named_csv", pdf_named_csv, "error"),
    ("html_named_csv", html_named_csv, "error"),
    ("undecodable_csv", undecodable_csv, "error"),
    ("unclosed_quote_csv", unclosed_quote_csv, "error"),
    ("blank_lines_csv", blank_lines_csv, "error"),
    ("csv_without_header", csv_without_header, "error"),
    ("huge_field_csv", huge_field_csv, "error"),
    ("header_only_csv", header_only_csv, "ok"),
    ("header_only_xlsx", header_only_xlsx, "ok"),
    ("control_characters_csv", control_characters_csv, "ok"),
    ("ten_thousand_char_name", ten_thousand_char_name, "ok"),
    ("right_to_left_names", right_to_left_names, "ok"),
    ("formula_without_cache", formula_without_cache, "ok"),
    ("mixed_encoding_csv", mixed_encoding_csv, "ok"),
    ("hidden_sheet_xlsx", hidden_sheet_xlsx, "ok"),
    ("bare_cr_csv", bare_cr_csv, "ok"),
    ("wrong_dimension_xlsx", wrong_dimension_xlsx, "ok"),
    ("error_cells_xlsx", error_cells_xlsx, "ok"),
]

EXPECTED_MESSAGE: dict[str, str] = {
    "missing_file": "file not found",
    "empty_xlsx": "empty (0 bytes)",
    "empty_csv": "empty (0 bytes)",
    "text_named_xlsx": "not an xlsx workbook (not a zip archive)",
    "truncated_xlsx": "corrupt or truncated",
    "corrupt_zip_xlsx": "corrupt or truncated",
    "zip_without_workbook": "not an xlsx workbook",
    "encrypted_xlsx": "encrypted or legacy .xls workbook: save it as .xlsx",
    "legacy_xls": "save it as .xlsx",
    "unsupported_extension": "unsupported file type",
    "zip_bomb_ratio": "possible zip bomb",
    "zip_bomb_declared_size": "uncompressed",
    "billion_laughs_sheet": "entities",
    "billion_laughs_workbook": "entities",
    "external_entity_sheet": "entities",
    "workbook_without_sheets": "no worksheets",
    "workbook_all_empty": "every sheet is empty",
    "xlsx_without_header": "no name column",
    "binary_csv": "not delimited text",
    "zip_named_csv": "zip archive",
    "pdf_named_csv": "this is a PDF document, not delimited text",
    "html_named_csv": "this is an HTML page, not delimited text",
    "undecodable_csv": "encoding",
    "unclosed_quote_csv": "never closed",
    "blank_lines_csv": "no data",
    "csv_without_header": "no name column",
    "huge_field_csv": "longer than the limit",
}
