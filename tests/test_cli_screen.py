"""`screener screen` end to end, as a pipeline runs it: real subprocesses, real files read back."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from hostile import EXPECTED_MESSAGE, HOSTILE_CASES

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_orders"


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("SCREENER_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "screener", *args],
        capture_output=True, text=True, cwd=cwd or ROOT, env=env, input=stdin, timeout=120,
    )


def test_sample_report_has_every_sheet_and_field(tmp_path):
    out = tmp_path / "r.xlsx"
    proc = run("screen", str(SAMPLES / "customer_master.xlsx"), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:6] == ["Summary", "Legend", "Potential matches", "All rows", "Restricted parties", "Sources"]
    summary = " ".join(str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value is not None)
    for needle in ["customer_master.xlsx", "us-entity-list-2019", "75", "Potential match", "Clear", "Not screened"]:
        assert needle in summary, needle
    pm = list(wb["Potential matches"].iter_rows(values_only=True))
    header = [str(h).lower() for h in pm[0]]
    for field in ["score", "matched party", "why it matched", "technical trace"]:
        assert any(field in h for h in header), field
    assert any("source" in h for h in header)
    names = {r[header.index("input name")] for r in pm[1:]}
    assert "Hangzhou Hikvision Digital Technology Co., Ltd" in names
    scores = [r[header.index("score")] for r in pm[1:]]
    assert scores == sorted(scores, reverse=True)
    all_rows = list(wb["All rows"].iter_rows(values_only=True))
    assert len(all_rows) - 1 == 35 + 8  # two sheets of the sample, every row once
    parties = list(wb["Restricted parties"].iter_rows(values_only=True))
    assert len(parties) - 1 == 34


def test_clean_file_exits_zero(tmp_path):
    proc = run("screen", str(SAMPLES / "clean_customers_cp1252.csv"), "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    records = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["status"] for r in records] == ["clear"] * 12
    assert records[1]["input_name"] == "Nordic Precision AB"
    assert any("Société" in r["input_name"] for r in records)


def test_blank_rows_skipped_are_said_on_stderr_and_in_the_report(tmp_path):
    """A row with no filled cell is no record, so the run says which rows it skipped: on standard error
    and on the report's Summary sheet, with the row numbers the records keep."""
    path = tmp_path / "gaps.csv"
    path.write_text("Name,Country\nAcme Widgets Ltd,US\n,\nNordic Precision AB,SE\n\n,\nBeta Tools GmbH,DE\n,\n",
                    encoding="utf-8")
    out = tmp_path / "r.xlsx"
    proc = run("screen", str(path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    note = 'gaps.csv: sheet "gaps": 3 blank row(s) between data rows were skipped, no record each (rows 3, 5, 6)'
    assert f"screener: note: {note}" in proc.stderr.splitlines()
    summary = [[c for c in row if c is not None] for row in openpyxl.load_workbook(out)["Summary"].iter_rows(
        values_only=True)]
    assert ["Note", note] in summary
    rows = list(openpyxl.load_workbook(out)["All rows"].iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == [2, 4, 7]  # each record keeps its file row
    assert "note:" not in run("screen", str(path), "-o", str(tmp_path / "r.csv"), "-q").stderr


def test_jsonl_to_stdout_one_record_per_row_in_order():
    proc = run("screen", str(SAMPLES / "open_orders.csv"), "-o", "-")
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["row"] for r in records] == list(range(2, 18))
    fields = {"sheet", "row", "input_name", "input_country", "status", "score", "entity_id", "entity_name",
              "matched_alias", "list", "explanation", "sources", "not_screened_reason"}
    assert fields <= set(records[0])
    hit = next(r for r in records if r["input_name"].startswith("Chengdu Haiguang"))
    assert hit["status"] == "potential_match" and hit["entity_id"] == "chengdu_haiguang_ic"
    assert "84 FR 29371" in hit["sources"]


def test_csv_output_and_formula_names_stay_text(tmp_path):
    src = tmp_path / "evil.csv"
    evil = ['=HYPERLINK("http://x","y")', "+cmd|'/c calc'!A0", "@SUM(1)", "-2+3", "Hikvision"]
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Customer Name", "Country"])
        for name in evil:
            w.writerow([name, "US"])
    out_csv, out_xlsx = tmp_path / "r.csv", tmp_path / "r.xlsx"
    assert run("screen", str(src), "-o", str(out_csv), "-q").returncode == 1
    with out_csv.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5
    assert all(not r["input_name"].startswith(("=", "+", "-", "@")) for r in rows)
    assert run("screen", str(src), "-o", str(out_xlsx), "-q").returncode == 1
    ws = openpyxl.load_workbook(out_xlsx)["All rows"]
    header = [c.value for c in ws[1]]
    col = [str(h).lower() for h in header].index("input name") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, 7)]
    assert [c.value for c in cells] == evil
    assert all(c.data_type == "s" for c in cells)


def test_missing_name_column_is_one_line_exit_2(tmp_path):
    src = tmp_path / "odd.csv"
    src.write_text("id,notes\n1,hello\n", encoding="utf-8")
    out = tmp_path / "r.xlsx"
    proc = run("screen", str(src), "-o", str(out))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "odd.csv" in proc.stderr
    assert not out.exists()
    proc = run("screen", str(src), "-o", str(out), "--name-column", "notes")
    assert proc.returncode == 0, proc.stderr


def test_every_sheet_named_with_sheet_is_screened_and_a_sheet_without_names_says_how(tmp_path):
    """Found from outside: `--sheet Customers --sheet Vendors` screened Vendors alone (the last one
    given won), so Megvii on Customers went unscreened without a word and the run looked complete."""
    book = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Customers"
    for row in (["Customer", "Country"], ["Megvii", "CN"], ["Nordic AB", "SE"]):
        wb.active.append(row)
    for title, rows in (("Prices", [["SKU", "Price"], ["A-1", 12.5]]),
                        ("Vendors", [["Vendor name", "Land"], ["Zhejiang Dahua Technology Co., Ltd.", "CN"]])):
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(book)
    out = tmp_path / "r.csv"
    refused = run("screen", str(book), "-o", str(out))
    assert refused.returncode == 2 and not out.exists()
    assert 'sheet "Prices"' in refused.stderr and "(--sheet, once per sheet)" in refused.stderr
    proc = run("screen", str(book), "--sheet", "Vendors", "--sheet", "customers", "-o", str(out), "-q")
    assert proc.returncode == 1, proc.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        got = [(r["sheet"], r["input_name"], r["status"]) for r in csv.DictReader(fh)]
    assert got == [("Customers", "Megvii", "potential_match"), ("Customers", "Nordic AB", "clear"),
                   ("Vendors", "Zhejiang Dahua Technology Co., Ltd.", "potential_match")]  # the workbook's order


def test_an_output_naming_an_input_is_refused_and_the_input_kept(tmp_path):
    """Found from outside: `screen customers.csv -o customers.csv` replaced the customer's file with
    the report. By its own path, another spelling of it or a link, the input must stay as it was."""
    source = tmp_path / "customers.csv"
    source.write_text("Customer,Country\nMegvii,CN\nNordic AB,SE\n", encoding="utf-8")
    before = source.read_bytes()
    (tmp_path / "link.csv").symlink_to(source)
    link, spelled = tmp_path / "link.csv", tmp_path / "." / "customers.csv"
    for given, output in ((source, source), (source, spelled), (link, source)):
        proc = run("screen", str(given), "-o", str(output), "-q")
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert "the output would replace this input file" in proc.stderr
        assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.csv", "link.csv"]  # no temp file left


def test_two_inputs_of_one_file_name_are_both_screened(tmp_path):
    """Found from outside: de/customers.csv and fr/customers.csv in one run failed "2 rows read but 3
    reported": the accounting of rows went by file name, so the two files counted as one."""
    for folder, names in (("de", ["Megvii", "Nordic AB"]), ("fr", ["Acme SA"])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "customers.csv").write_text("Customer\n" + "\n".join(names) + "\n", encoding="utf-8")
    out = tmp_path / "r.csv"
    proc = run("screen", str(tmp_path / "de" / "customers.csv"), str(tmp_path / "fr" / "customers.csv"),
               "-o", str(out), "-q")
    assert proc.returncode == 1, proc.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert [(r["sheet"], r["row"], r["input_name"]) for r in csv.DictReader(fh)] == [
            ("customers.csv (input 1)", "2", "Megvii"), ("customers.csv (input 1)", "3", "Nordic AB"),
            ("customers.csv (input 2)", "2", "Acme SA")]


def test_every_row_of_a_run_traces_to_one_input(tmp_path):
    """Found from outside: two workbooks' "Sheet" (or two folders' customers.csv) in one run gave
    rows named "Sheet" row 2 twice, so a hit could not be told to come from either file, and the
    Summary counted both files' rows against each. A shared sheet name is named with its file."""
    for name, party in (("east.xlsx", "Hikvision"), ("west.xlsx", "Nordic Precision AB")):
        book = openpyxl.Workbook()
        book.active.title = "Sheet1"
        book.active.append(["Company name"])
        book.active.append([party])
        if name == "east.xlsx":
            book.create_sheet("Suppliers").append(["Supplier"])  # its own name: left as it is
        book.save(tmp_path / name)
    (tmp_path / "Sheet1.csv").write_text("Customer\nDahua Technology\n", encoding="utf-8")
    out = tmp_path / "r.xlsx"
    proc = run("screen", *(str(tmp_path / n) for n in ("east.xlsx", "west.xlsx", "Sheet1.csv")), "-o", str(out), "-q")
    assert proc.returncode == 1, proc.stderr
    book = openpyxl.load_workbook(out, read_only=True)
    hits = [(r[2], r[3], r[1]) for r in list(book["Potential matches"].iter_rows(values_only=True))[1:]]
    assert hits == [("east.xlsx: Sheet1", 2, "Hikvision"), ("Sheet1.csv", 2, "Dahua Technology")]
    rows = [(r[0], r[3]) for r in list(book["All rows"].iter_rows(values_only=True))[1:]]
    assert rows == [("east.xlsx: Sheet1", "Hikvision"), ("west.xlsx: Sheet1", "Nordic Precision AB"),
                    ("Sheet1.csv", "Dahua Technology")]
    summary = [r for r in book["Summary"].iter_rows(values_only=True)]
    start = [r[0] for r in summary].index("Inputs") + 2
    assert [r[:5] for r in summary[start:start + 5]] == [
        ("east.xlsx", summary[start][1], "east.xlsx: Sheet1", 1, 1),
        ("east.xlsx", summary[start][1], "Suppliers", 0, 0),
        ("west.xlsx", summary[start + 2][1], "west.xlsx: Sheet1", 1, 1),
        ("Sheet1.csv", summary[start + 3][1], "Sheet1.csv", 1, 1),
        ("Total", None, None, 3, 3)]


@pytest.mark.parametrize("args", [
    ["screen"],
    ["screen", "sample_orders/open_orders.csv", "-o", "r.pdf"],
    ["screen", "sample_orders/open_orders.csv", "-o", "r.xlsx", "--threshold", "120"],
    ["screen", "no/such/file.csv", "-o", "r.xlsx"],
    ["screen", "sample_orders/customer_master.xlsx", "-o", "r.xlsx", "--sheet", "Nope"],
    ["screen", "sample_orders/open_orders.csv", "-o", "r.xlsx", "--list", "never-imported"],
    ["frobnicate"],
])
def test_usage_errors_exit_2_without_traceback(tmp_path, args):
    args = [str(ROOT / a) if a.startswith("sample_orders") else a for a in args]
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.xlsx").exists()


@pytest.mark.parametrize("name, make, outcome", HOSTILE_CASES, ids=[c[0] for c in HOSTILE_CASES])
def test_hostile_files_through_the_cli(tmp_path, name, make, outcome):
    folder = tmp_path / "in"
    folder.mkdir()
    path = make(folder)
    out = tmp_path / "report.xlsx"
    proc = run("screen", str(path), "-o", str(out), "-q")
    assert "Traceback" not in proc.stderr
    if outcome == "error":
        assert proc.returncode == 2, (name, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (name, proc.stderr)
        if name in EXPECTED_MESSAGE:
            assert EXPECTED_MESSAGE[name] in lines[0]
        assert not out.exists(), "no partial report may survive an error"
        assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    else:
        assert proc.returncode in (0, 1), (name, proc.stderr)
        summary = openpyxl.load_workbook(out)["Summary"]
        text = " ".join(str(c.value) for row in summary.iter_rows() for c in row if c.value is not None)
        assert "complete" in text.lower()


def test_recorded_decisions_apply_to_later_cli_runs(tmp_path, monkeypatch):
    """A false positive cleared by an analyst stops alerting (exit 0) until the threshold changes."""
    from screener.lists.partylist import default_list
    from screener.review.store import Store

    home = tmp_path / "home"
    monkeypatch.setenv("SCREENER_HOME", str(home))
    src = tmp_path / "c.csv"
    src.write_text("Customer Name,Country\nHikvision Europe B.V.,NL\nSiemens AG,DE\n", encoding="utf-8")
    first = run("screen", str(src), "-o", str(tmp_path / "a.jsonl"), "--record", "--user", "alice")
    assert first.returncode == 1, first.stderr
    store = Store.open()
    assert [r.rows_reported for r in store.list_runs()] == [2]
    from screener.models import InputRow
    from screener.review.decisions import Evidence
    from screener.screening import Screener

    # a clearance holds for the row's evidence (name and country) and a strong match needs four eyes

    lst = default_list()
    party = next(p for p in lst.parties if p.id == "hikvision")
    store.add_user("alice", "correct horse battery")
    store.add_user("sue", "correct horse battery", "supervisor")
    (row,) = Screener.default().screen_rows([InputRow(name="Hikvision Europe B.V.", country="NL")])
    made = store.decide("alice", Evidence.of(row), row.matches[0], party, list_hash=lst.content_hash,
                        list_version=lst.version, threshold=75.0, decision="false_positive",
                        comment="EU distributor, checked against the customer's registry entry")
    if made.pending:  # a strong match: a second person approves
        store.approve("sue", made.id)
    store.close()
    again = run("screen", str(src), "-o", "-")
    assert again.returncode == 0, again.stderr
    record = json.loads(again.stdout.splitlines()[0])
    assert record["status"] == "potential_match" and record["review"].startswith("cleared by alice")
    stricter = run("screen", str(src), "-o", "-", "--threshold", "70")
    assert stricter.returncode == 1, "a decision applies only at the threshold it was made at"


def test_a_home_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path):
    """A pipeline's account often has no writable home: the error says which folder and what to set."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**os.environ, "SCREENER_HOME": str(blocker / "home")}
    env.pop("SCREENER_DEBUG", None)
    names = tmp_path / "in.csv"
    names.write_text("Customer\nAcme Robotics Inc\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "screener", "screen", str(names), "-o", str(tmp_path / "r.xlsx"),
                           "--list", "csl"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and not (tmp_path / "r.xlsx").exists()
    assert proc.stderr.splitlines() == [
        f"screener: error: cannot create the home folder {blocker / 'home'} (Not a directory); "
        "set SCREENER_HOME to a folder you can write"]
