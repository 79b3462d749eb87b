"""Issue 12, no silent clear: every way a restricted party came back clear without a word, through the
real CLI (subprocesses, real files read back), the real HTTP service and `check`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hostile import SHEET, raw_xlsx  # tests/ is on sys.path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_service_api import BEARER, api, home, serve  # noqa: F401 - the real-server fixtures
from test_web import server, signin, upload, wait_run  # noqa: F401 - the staff page's server

from screener.files.readers import InputError
from screener.models import Status
from screener.pipeline import screen_files
from screener.screening import Screener

ROOT = Path(__file__).resolve().parents[1]
HIKVISION = "Hangzhou Hikvision Digital Technology Co., Ltd."
MEGVII = "Beijing Megvii Technology Co., Ltd."
CLEAN = "Nordic Precision AB"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "SCREENER_HOME": tempfile.mkdtemp()}
    env.pop("SCREENER_DEBUG", None)
    env.pop("SCREENER_DB", None)
    return subprocess.run([sys.executable, "-m", "screener", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, input=stdin, timeout=120, check=False)


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def screen_json(path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    out = path.with_suffix(".out.json")
    proc = run("screen", str(path), "-o", str(out), *options)
    assert "Traceback" not in proc.stderr
    records = json.loads(out.read_text(encoding="utf-8")) if out.exists() else []
    return proc, records


def summary_text(path: Path) -> str:
    wb = openpyxl.load_workbook(path, read_only=True)
    return " | ".join(str(c) for row in wb["Summary"].iter_rows(values_only=True) for c in row if c is not None)


# --- 1. the wrong column ------------------------------------------------------------------------------


def test_sap_customer_numbers_are_not_the_name_column(tmp_path):
    path = write_csv(tmp_path / "sap.csv", [["Customer", "Name 1", "City", "Country"],
                                             ["100234", HIKVISION, "Hangzhou", "CN"],
                                             ["100235", MEGVII, "Beijing", "CN"]])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert [(r["row"], r["column"], r["status"]) for r in records] == [
        (2, "Name 1", "potential_match"), (3, "Name 1", "potential_match")]
    assert [r["input_country"] for r in records] == ["CN", "CN"]
    report = tmp_path / "sap.xlsx"
    assert run("screen", str(path), "-o", str(report)).returncode == 1
    text = summary_text(report)
    assert "Name 1 (B) | party | header" in text
    assert "Customer (A) | not used | content | mostly numbers, codes or dates" in text
    assert "City (C) | address" in text and "Country (D) | country" in text


def test_company_codes_beside_name(tmp_path):
    path = write_csv(tmp_path / "codes.csv", [["Company", "Name"], ["C001", HIKVISION], ["C002", CLEAN]])
    proc, records = screen_json(path)
    assert proc.returncode == 1
    assert [(r["column"], r["input_name"]) for r in records] == [("Name", HIKVISION), ("Name", CLEAN)]


def test_column_chosen_by_content_is_a_warning_on_stderr_and_in_the_summary(tmp_path):
    path = write_csv(tmp_path / "firma.csv", [["Bezeichnung", "Land"], [HIKVISION, "CN"], [CLEAN, "SE"]])
    report = tmp_path / "firma.xlsx"
    proc = run("screen", str(path), "-o", str(report), "-q")
    assert proc.returncode == 1
    assert ('warning: firma.csv: no header names a party column; column(s) "Bezeichnung" were screened'
            in proc.stderr)
    text = summary_text(report)
    assert "Bezeichnung (A) | party | content" in text and "no header names a party column" in text


def test_every_column_of_names_is_screened_when_no_header_names_a_party(tmp_path):
    """Found from outside: with headers screener could not read, only the one column looking most
    like names was screened; Hikvision as the second party ("Empfangsstelle") was never looked at
    and the run exited 0."""
    path = write_csv(tmp_path / "auftrag.csv", [["Auftragsnr", "Besteller Bez.", "Empfangsstelle", "Land"],
                                                 ["4711", CLEAN, HIKVISION, "CN"], ["4712", "Acme Widgets", "Bob AG", "DE"]])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert [(r["row"], r["column"], r["status"]) for r in records] == [
        (2, "Besteller Bez.", "clear"), (2, "Empfangsstelle", "potential_match"),
        (3, "Besteller Bez.", "clear"), (3, "Empfangsstelle", "clear")]
    assert 'column(s) "Besteller Bez.", "Empfangsstelle" were screened' in proc.stderr


@pytest.mark.parametrize("headers", [
    ["Kundennummer", "Kundenname", "Warenempfänger", "Land"],
    ["Kunden-Nr.", "Firma", "Endverwender", "Land"],
    ["N° client", "Nom du client", "Destinataire final", "Pays"],
    ["Código", "Razón social", "Usuario final", "País"],
    ["Codice", "Ragione sociale", "Destinatario", "Paese"],
    ["Código", "Nome do cliente", "Destinatário", "País"],
    ["Klantnummer", "Klantnaam", "Eindgebruiker", "Land"],
])
def test_party_headers_in_the_languages_customers_write(tmp_path, headers):
    """Found from outside: a German order file ("Kundenname", "Warenempfänger") had no header screener
    knew, so one column was guessed and the ship-to party, Hikvision, was never screened (exit 0)."""
    path = write_csv(tmp_path / "orders.csv", [headers, ["1001", CLEAN, HIKVISION, "CN"]])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    assert [(r["column"], r["status"], r["input_country"]) for r in records] == [
        (headers[1], "clear", "CN"), (headers[2], "potential_match", "CN")]


# --- 2. every party column ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    ["Customer Name", "End User Name"], ["Sold To Name", "Ship To Name"],
    ["Consignee", "Ultimate Consignee"], ["Name", "Name"], ["Freight Forwarder", "Intermediate Consignee"],
])
def test_the_second_party_column_is_screened(tmp_path, headers):
    path = write_csv(tmp_path / "parties.csv", [headers, [CLEAN, HIKVISION], ["Acme Widgets GmbH", ""]])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    second = headers[1] if headers[0] != headers[1] else "Name (B)"
    first = headers[0] if headers[0] != headers[1] else "Name (A)"
    assert [(r["row"], r["column"], r["status"]) for r in records] == [
        (2, first, "clear"), (2, second, "potential_match"), (3, first, "clear")]


def test_english_and_chinese_name_columns_with_role_countries(tmp_path):
    path = tmp_path / "cn.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Company Name", "中文名称", "Ship To Name", "Ship To Country", "Country"])
    wb.active.append(["Hai Kang Trading", "杭州海康威视数字技术股份有限公司", "Acme Widgets GmbH", "DE", "CN"])
    wb.save(path)
    proc, records = screen_json(path)
    assert proc.returncode == 1
    assert [(r["column"], r["status"], r["input_country"]) for r in records] == [
        ("Company Name", "clear", "CN"), ("中文名称", "potential_match", "CN"), ("Ship To Name", "clear", "DE")]


def test_name_column_is_repeatable(tmp_path):
    path = write_csv(tmp_path / "given.csv", [["Ref A", "Ref B", "Note"], [CLEAN, HIKVISION, "x"]])
    proc, records = screen_json(path, "--name-column", "Ref A", "--name-column", "B")
    assert proc.returncode == 1
    assert [(r["column"], r["status"]) for r in records] == [("Ref A", "clear"), ("Ref B", "potential_match")]


def test_a_name_continued_in_the_next_column_is_screened_whole(tmp_path):
    """Found from outside: a SAP export's NAME1 and NAME2 hold one name cut at the field's length,
    often mid-word; screened as two names, "Hangzhou Hik-" and "vision Digital Technology Co Ltd"
    were both clear, and so was "Sense" / "Time Group". Each row is one record now, its name the
    lines together (screened whole and line by line); NAME2 on its own line still finds a party."""
    path = write_csv(tmp_path / "kna1.csv", [
        ["KUNNR", "NAME1", "NAME2", "LAND1", "ORT01"],
        ["0000100001", "Hangzhou Hik-", "vision Digital Technology Co Ltd", "CN", "Hangzhou"],
        ["0000100002", "Sense", "Time Group Limited", "HK", "Hong Kong"],
        ["0000100003", "Nordic Freight AB", "c/o Zhejiang Dahua Technology", "SE", "Malmo"],
        ["0000100004", "Acme Widgets", "GmbH", "DE", "Berlin"],
        ["0000100005", "", "Megvii Technology Limited", "CN", "Beijing"],
        ["0000100006", "", "", "DE", "Berlin"],
    ])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert [(r["row"], r["column"], r["input_name"], r["status"], r["entity_id"]) for r in records] == [
        (2, "NAME1 + NAME2", "Hangzhou Hik-\nvision Digital Technology Co Ltd", "potential_match", "hikvision"),
        (3, "NAME1 + NAME2", "Sense\nTime Group Limited", "potential_match", "sensetime"),
        (4, "NAME1 + NAME2", "Nordic Freight AB\nc/o Zhejiang Dahua Technology", "potential_match", "dahua"),
        (5, "NAME1 + NAME2", "Acme Widgets\nGmbH", "clear", None),
        (6, "NAME1 + NAME2", "Megvii Technology Limited", "potential_match", "megvii"),
        (7, "NAME1 + NAME2", None, "not_screened", None)]
    assert records[0]["input_country"] == "CN"
    report = tmp_path / "kna1.xlsx"
    assert run("screen", str(path), "-o", str(report)).returncode == 1
    text = summary_text(report)
    assert "NAME1 (B) | party | header | with the name's later line(s) NAME2: screened whole" in text
    assert "NAME2 (C) | party | header | a later line of the name in NAME1: screened with it" in text


def test_naming_one_line_of_a_name_only_is_a_warning(tmp_path):
    path = write_csv(tmp_path / "kna1.csv", [["KUNNR", "NAME1", "NAME2"], ["1", "Hangzhou Hik-", "vision Co Ltd"]])
    proc, records = screen_json(path, "--name-column", "NAME1")
    assert [r["column"] for r in records] == ["NAME1"]
    assert ('warning: kna1.csv: "NAME2": the other line(s) of the name in "NAME1" were not given with '
            "--name-column, so that name was screened in part") in proc.stderr


def test_an_unreadable_line_of_a_name_leaves_it_unscreened(tmp_path):
    path = tmp_path / "lines.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Name 1", "Name 2", "Name 3", "Country"])
    book.active.append(["Hangzhou Hik-", "vision Digital", "Technology Co., Ltd.", "CN"])
    book.active.append(["Acme", "=NOW()", "GmbH", "DE"])  # a formula saved without its value
    book.save(path)
    proc, records = screen_json(path)
    assert proc.returncode == 1
    assert [(r["column"], r["status"], r["not_screened_reason"]) for r in records] == [
        ("Name 1 + Name 2 + Name 3", "potential_match", None),
        ("Name 1 + Name 2 + Name 3", "not_screened", "formula without a cached value")]


@pytest.mark.parametrize("headers, label", [
    (["Customer Name", "Customer Name 2"], "Customer Name + Customer Name 2"),
    (["Name 2", "Name 1"], "Name 1 + Name 2"),  # in line order, whatever the column order
    (["Nom 1", "Nom 2"], "Nom 1 + Nom 2"),
    (["Party 1", "Party 2"], None),  # two parties, not two lines of a name
    (["Name 1", "Name 3"], None),  # not one series
    (["Ship To Name 1", "Sold To Name 2"], None),
])
def test_which_columns_are_lines_of_one_name(tmp_path, headers, label):
    from screener.files.readers import open_input

    path = write_csv(tmp_path / "h.csv", [headers, ["Hikvision", "Europe B.V."]])
    with open_input(path) as source:
        got = [r.column for r in source.rows()]
    assert got == ([label] if label else headers)


# --- 3. missing values --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, text", [
    ("nan.json", '{"id": "S", "parties": [{"name": NaN, "role": "end_user"}]}'),
    ("inf.json", '{"id": "S", "parties": [{"name": Infinity}]}'),
    ("nan.yaml", "id: S\nparties:\n  - name: .nan\n"),
    ("na.yaml", "id: S\nparties:\n  - name: n/a\n"),
    ("null.json", '{"id": "S", "parties": [{"name": "null"}]}'),
])
def test_check_refuses_missing_names_naming_the_field(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    proc = run("check", str(path))
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"screener: error: {name}: parties[0].name: missing value (")
    assert "RELEASE" not in proc.stdout


def test_check_party_option_nan_and_nan_country_is_absent(tmp_path):
    assert run("check", "--party", "NaN").returncode == 2
    path = tmp_path / "country.json"
    path.write_text(json.dumps({"id": "S", "parties": [{"name": HIKVISION, "country": float("nan")}]}))
    proc = run("check", str(path), "--json")
    assert proc.returncode == 1 and json.loads(proc.stdout)["parties"][0]["country"] is None


def test_missing_markers_in_a_file_are_not_screened(tmp_path):
    path = write_csv(tmp_path / "nan.csv", [["Name", "Country"], ["nan", "CN"], ["N/A", "US"], [CLEAN, "SE"]])
    proc, records = screen_json(path)
    assert proc.returncode == 1
    assert [(r["status"], r["not_screened_reason"]) for r in records] == [
        ("not_screened", "missing value (nan), not a name"), ("not_screened", "missing value (N/A), not a name"),
        ("clear", None)]


def test_api_refuses_nan_names_with_422(api):  # noqa: F811
    c = api.client(**BEARER, **{"Content-Type": "application/json"})
    r = c.post("/v1/check", content='{"id": "S", "parties": [{"name": NaN}]}')
    assert r.status_code == 422 and "name" in json.dumps(r.json()) and "missing value" in json.dumps(r.json())
    r = c.post("/v1/screen", content='{"parties": [{"name": "Acme"}, {"name": Infinity}]}')
    assert r.status_code == 422 and "parties" in json.dumps(r.json())
    r = c.post("/v1/screen", content='{"parties": [{"name": "nan"}]}')
    assert r.status_code == 422


def test_api_screen_says_clear_only_when_all_screened_and_clear(api):  # noqa: F811
    c = api.client(**BEARER)
    body = c.post("/v1/screen", json={"parties": [{"name": CLEAN}]}).json()
    assert body["clear"] is True and body["verdict"].startswith("clear")
    body = c.post("/v1/screen", json={"parties": [{"name": CLEAN}, {"name": None}]}).json()
    assert body["clear"] is False and "1 record not screened" in body["verdict"]


def test_page_status_follows_the_same_rule(server):  # noqa: F811
    c = signin(server)
    for content, expected in [
        (f"Customer,Country\n{CLEAN},SE\n,US\n", "Needs review: 1 record not screened."),
        (f"Customer,Country\n{CLEAN},SE\n", "Clear: 1 record screened, all clear."),
    ]:
        r = upload(c, content.encode(), name="page.csv")
        assert r.status_code == 303, r.text
        page = c.get(wait_run(c, r.headers["location"])).text
        assert expected in page


# --- 4. nothing screened ------------------------------------------------------------------------------


def formulas_xlsx(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    sheet.write_string(0, 0, "Name")
    sheet.write_string(0, 1, "Ref")
    for i in range(1, 4):
        sheet.write_formula(i, 0, f"=B{i + 1}", None, "")  # saved without a computed value
        sheet.write_string(i, 1, f"r{i}")
    book.close()
    return path


@pytest.mark.parametrize("make", [
    lambda d: write_csv(d / "blank.csv", [["Name", "Country"], ["", "US"], ["  ", "DE"]]),
    lambda d: write_csv(d / "header_only.csv", [["Name", "Country"]]),
    formulas_xlsx,
], ids=["empty names", "headers only", "formulas without values"])
def test_nothing_screened_is_never_exit_0(tmp_path, make):
    path = make(tmp_path / "f.xlsx") if make is formulas_xlsx else make(tmp_path)
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert all(r["status"] == "not_screened" for r in records)
    assert "nothing was screened" in proc.stderr


def test_allow_unscreened_is_stated_in_the_summary(tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [["Name", "Country"], [CLEAN, "SE"], ["", "US"]])
    report = tmp_path / "mixed.xlsx"
    assert run("screen", str(path), "-o", str(report)).returncode == 1
    proc = run("screen", str(path), "-o", str(report), "--allow-unscreened")
    assert proc.returncode == 0, proc.stderr
    assert "treated as clear (--allow-unscreened)" in summary_text(report)


# --- 5. delimiters never cut a name -------------------------------------------------------------------


def test_one_column_file_with_commas_stays_one_column(tmp_path):
    path = tmp_path / "psb.csv"
    path.write_text("Name\nPublic Security Bureau, Xinjiang Uyghur Autonomous Region\nNordic Precision AB\n")
    proc, records = screen_json(path)
    assert proc.returncode == 1
    assert records[0]["input_name"] == "Public Security Bureau, Xinjiang Uyghur Autonomous Region"
    assert records[0]["status"] == "potential_match"


def test_inconsistent_split_is_a_one_line_error_naming_the_line(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text("Name,Country\nAcme Widgets GmbH,DE\nPublic Security Bureau, Xinjiang,CN\n")
    proc = run("screen", str(path), "-o", str(tmp_path / "out.xlsx"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("screener: error: cut.csv, row 3: 3 fields where the header (row 1) has 2")
    assert not (tmp_path / "out.xlsx").exists()


# --- 6. every OOXML cell type -------------------------------------------------------------------------


def cells_sheet(*cells: str) -> str:
    rows = "".join(f'<row r="{i}">{c.replace("@", f"A{i}")}</row>' for i, c in enumerate(cells, start=3))
    return SHEET.replace("</sheetData>", rows + "</sheetData>")


def test_every_cell_type_is_read_and_no_row_vanishes(tmp_path):
    sheet = cells_sheet(
        '<c r="@" t="inlineStr"><v>Beijing Megvii Technology Co., Ltd.</v></c>',
        '<c r="@" t="s"><v>0</v></c>', '<c r="@"><v>100234</v></c>', '<c r="@" t="b"><v>1</v></c>',
        '<c r="@" t="e"><v>#N/A</v></c>', '<c r="@" t="d"><v>2024-01-05T00:00:00</v></c>',
        '<c r="@" t="str"><f>A1</f><v>Dahua Technology</v></c>',
    )
    path = with_shared_strings(raw_xlsx(tmp_path / "types.xlsx", sheet=sheet), ["Huawei Technologies Co., Ltd."])
    proc, records = screen_json(path)
    assert proc.returncode == 1, proc.stderr
    assert [(r["row"], r["input_name"], r["status"]) for r in records] == [
        (2, "Acme Ltd", "clear"), (3, "Beijing Megvii Technology Co., Ltd.", "potential_match"),
        (4, "Huawei Technologies Co., Ltd.", "potential_match"), (5, "100234", "clear"), (6, "TRUE", "clear"),
        (7, "#N/A", "not_screened"), (8, "2024-01-05", "clear"), (9, "Dahua Technology", "potential_match")]


def with_shared_strings(path: Path, strings: list[str]) -> Path:
    """raw_xlsx's workbook with a shared-string table, declared where openpyxl looks for it."""
    import zipfile

    table = "".join(f"<si><t>{text}</t></si>" for text in strings)
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
           f'spreadsheetml/2006/main">{table}</sst>')
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/sharedStrings.xml"] = sst.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return path


@pytest.mark.parametrize("index", ["-1", "5", "x"])
def test_bad_shared_string_index_is_an_error_naming_sheet_row_column(tmp_path, index):
    sheet = cells_sheet(f'<c r="@" t="s"><v>{index}</v></c>')
    path = with_shared_strings(raw_xlsx(tmp_path / "sst.xlsx", sheet=sheet), [CLEAN])
    proc = run("screen", str(path), "-o", str(tmp_path / "out.json"))
    assert proc.returncode == 2
    assert proc.stderr.startswith('screener: error: sst.xlsx, sheet "Sheet1", row 3, column "A": ')
    assert "shared-string index" in proc.stderr or "not such a value" in proc.stderr


# --- 7. country and address columns -------------------------------------------------------------------


@pytest.mark.parametrize("label", ["Ctry", "Cntry", "Land", "ISO", "Country Key", "Land/Region", "Pays",
                                   "País", "Nación"])
def test_country_header_vocabulary(tmp_path, label):
    path = write_csv(tmp_path / "c.csv", [["Name", label, "Street / City"], [HIKVISION, "CN", "Hangzhou"]])
    proc, records = screen_json(path)
    assert (records[0]["input_country"], proc.returncode) == ("CN", 1)
    assert "country agrees (CN)" in records[0]["explanation"]
    assert "warning" not in proc.stderr


def test_empty_country_column_is_a_warning(tmp_path):
    path = write_csv(tmp_path / "nocountry.csv", [["Name", "Country"], [CLEAN, ""], ["Acme Widgets GmbH", ""]])
    proc = run("screen", str(path), "-o", str(tmp_path / "o.xlsx"))
    assert 'country column "Country" is empty in every row; no country was read' in proc.stderr
    assert "no country was read" in summary_text(tmp_path / "o.xlsx")


# --- the property: every party cell screened or said not screened; exit 0 only when all clear ----------

PARTY_HEADERS = ["Customer Name", "End User", "Consignee", "Ship To Name", "Name", "名称"]
SCREENER = Screener.default()
cell = st.one_of(
    st.just(None), st.just(""), st.just("=FORMULA"), st.integers(0, 10**7),
    st.sampled_from([HIKVISION, MEGVII, CLEAN, "Acme Widgets GmbH", "n/a", "NaN", "#!?", "华为技术有限公司"]),
    st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12),
)
sheets = st.tuples(
    st.lists(st.sampled_from(PARTY_HEADERS), min_size=1, max_size=3, unique=True),
    st.lists(st.lists(cell, min_size=3, max_size=3), min_size=0, max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets)
def test_property_every_party_cell_is_accounted_for(sheet):
    headers, rows = sheet
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gen.xlsx"
        book = xlsxwriter.Workbook(str(path))
        ws = book.add_worksheet("S")
        for col, label in enumerate([*headers, "Ref"]):
            ws.write_string(0, col, label)
        for r, values in enumerate(rows, start=1):
            for col, value in enumerate(values[: len(headers)]):
                if value == "=FORMULA":
                    ws.write_formula(r, col, f"=Z{r + 1}", None, "")
                elif isinstance(value, int):
                    ws.write_number(r, col, value)
                elif value is not None:
                    ws.write_string(r, col, value)
            ws.write_string(r, len(headers), f"ref{r}")  # every row is a data row
        book.close()
        out = Path(folder) / "out.json"
        try:
            summary = screen_files(SCREENER, [path], out)
        except InputError as exc:  # only a sheet whose party columns are all numbers may be refused
            assert "choose one of" in str(exc)
            return
        records = json.loads(out.read_text(encoding="utf-8"))
    expected = []
    for r, values in enumerate(rows, start=2):
        # a cell of spaces is blank, as the readers take it (README: "a row with no filled party cell")
        filled = [(headers[i], v) for i, v in enumerate(values[: len(headers)])
                  if v is not None and not (isinstance(v, str) and not v.strip())]
        expected.append((r, filled))
    got: dict[int, list[dict]] = {}
    for rec in records:
        got.setdefault(rec["row"], []).append(rec)
    assert sorted(got) == [r for r, _ in expected]  # every row, in order, nothing else
    screened_columns = {u.column for usage in summary.columns for u in usage.columns if u.use == "party"}
    for r, filled in expected:
        recs = got[r]
        for rec in recs:
            assert rec["status"] in {s.value for s in Status}
            if rec["status"] == Status.NOT_SCREENED.value:
                assert rec["not_screened_reason"]
        party_filled = [(c, v) for c, v in filled if c in screened_columns]
        if party_filled:
            assert [rec["column"] for rec in recs] == [c for c, _ in party_filled]
        else:
            assert len(recs) == 1 and recs[0]["status"] == "not_screened"
    if summary.clear:
        assert records and all(rec["status"] == "clear" for rec in records)
    else:  # not clear: some record says why, or a party column held numbers or codes (never clear)
        doubtful = any(usage.doubtful for usage in summary.columns)
        assert not records or doubtful or any(rec["status"] != "clear" for rec in records)
    assert summary.rows_read == summary.rows_reported == len(records)
    assert summary.data_rows_read == summary.data_rows_reported == len(rows)
