"""Row accounting through the real pipeline, for any names at all (hypothesis).

Each example writes a real input file (csv, or xlsx via xlsxwriter), screens it with
`pipeline.screen_files` into a real output, and reads the output back: exactly one record per
input data row, in input order, each with a valid status, and a summary whose rows read and rows
reported both equal the number of rows. Every row carries a second, always-filled column, so
every row is a data row whatever its name (a blank name is still a row to report).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from pathlib import Path

import openpyxl
import xlsxwriter
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from screener.files.readers import MAX_NAME_CHARS, InputError
from screener.files.wording import STATUS_LABELS
from screener.files.writers import inert
from screener.models import Status
from screener.pipeline import screen_files
from screener.screening import Screener

SCREENER = Screener.default()
STATUSES = {s.value for s in Status}

FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|'/c calc'!A0", "@SUM(1)", "-2+3", "=1+1",
            "<r>x</r>", "\tTAB", "\rCR", "'quoted"]
REAL = ["Hikvision", "Huawei Technologies Co., Ltd.", "华为技术有限公司", "Public Security Bureau"]
_any = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
names = st.one_of(
    _any,
    st.just(""),
    st.sampled_from(FORMULAS + REAL),
    st.text(alphabet=" \t\r\n\x00\x0b\x0c\x1c\x85\u2028", max_size=6),  # only blanks, NUL, newlines
    st.tuples(st.sampled_from(REAL), _any).map("\n".join),  # a name spanning lines
    st.text(min_size=1, max_size=4).map(lambda s: s * 700),  # over MAX_NAME_CHARS
)
name_lists = st.lists(names, max_size=30)
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected_name(raw: str) -> str | None:
    """What the reader hands on: stripped, None when blank, cut to MAX_NAME_CHARS if screenable."""
    name = raw.strip()
    if not name:
        return None
    if len(name) > MAX_NAME_CHARS and re.search(r"[^\W_]", name):
        return name[:MAX_NAME_CHARS].rstrip()
    return name


def write_csv(folder: Path, batch: list[str]) -> Path:
    path = folder / "names.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Name", "Ref"])
        writer.writerows([name, f"r{i}"] for i, name in enumerate(batch))
    return path


def write_xlsx(folder: Path, batch: list[str]) -> Path:
    path = folder / "names.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Names")
    sheet.write_string(0, 0, "Name")
    sheet.write_string(0, 1, "Ref")
    for i, name in enumerate(batch, start=1):
        sheet.write_string(i, 0, name)
        sheet.write_string(i, 1, f"r{i}")
    book.close()
    return path


def screen(path: Path, out: Path, batch: list[str]):
    """Screen `path` into `out`; None when the reader refused the file (only NUL-heavy csv may be)."""
    try:
        summary = screen_files(SCREENER, [path], out)
    except InputError as error:
        event("file refused by the reader")
        assert path.suffix == ".csv" and any("\x00" in n for n in batch), str(error)
        assert "\n" not in str(error)
        assert not out.exists()
        return None
    assert summary.rows_read == summary.rows_reported == len(batch)
    assert sum(summary.counts.values()) == len(batch)
    return summary


def check_records(records: list[dict], batch: list[str], names_shown: bool = True) -> None:
    assert len(records) == len(batch)
    assert [int(r["row"]) for r in records] == list(range(2, len(batch) + 2))
    for record, raw in zip(records, batch):
        assert record["status"] in STATUSES
        if names_shown:
            assert record["input_name"] == expected_name(raw)
        if expected_name(raw) is None:
            assert record["status"] == Status.NOT_SCREENED.value


def read_jsonl(path: Path) -> list[dict]:
    """Lines end at \n only: names may hold U+0085 or U+2028, which JSON leaves unescaped."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [json.loads(line) for line in fh]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def read_report(path: Path, batch: list[str]) -> None:
    """The All rows sheet holds every row in order; the Summary's Total line agrees."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book["All rows"].iter_rows(values_only=True))
        header = [str(h).casefold() for h in rows[0]]
        records = [dict(zip(header, r)) for r in rows[1:]]
        assert [r["row"] for r in records] == list(range(2, len(batch) + 2))
        assert all(r["status"] in STATUS_LABELS.values() for r in records)  # the report's words for them
        total = next(r for r in book["Summary"].iter_rows(values_only=True) if r[0] == "Total")
        assert total[3] == total[4] == len(batch)
    finally:
        book.close()


@MANY
@given(name_lists)
def test_csv_to_jsonl_and_csv_one_record_per_row(batch: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_csv(folder, batch)
        out = folder / "out.jsonl"
        if screen(path, out, batch) is None:
            return
        check_records(read_jsonl(out), batch)
        out = folder / "out.csv"
        assert screen(path, out, batch) is not None
        records = read_csv(out)
        check_records(records, batch, names_shown=False)
        assert [r["input_name"] for r in records] == [
            "" if expected_name(n) is None else inert(expected_name(n)) for n in batch]
        assert sorted(p.name for p in folder.iterdir()) == ["names.csv", "out.csv", "out.jsonl"]


@FEW
@given(name_lists)
def test_csv_to_xlsx_report_one_row_per_input_row(batch: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_csv(folder, batch)
        out = folder / "out.xlsx"
        if screen(path, out, batch) is None:
            return
        read_report(out, batch)
        assert sorted(p.name for p in folder.iterdir()) == ["names.csv", "out.xlsx"]


# xlsxwriter copies "<r>...</r>" into the file as rich-text markup, so such a cell is not text.
_xlsx_names = names.filter(lambda n: not (n.startswith("<r>") and n.endswith("</r>")))
# xlsxwriter also escapes U+FFFE/U+FFFF, which the reader leaves escaped; text that itself looks
# like an escape (_x000D_) is ambiguous once openpyxl has read the shared strings.
_ESCAPED = re.compile(r"[\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")


@FEW
@given(st.lists(_xlsx_names, max_size=30))
def test_xlsx_to_jsonl_one_record_per_row(batch: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_xlsx(folder, batch)
        out = folder / "out.jsonl"
        assert screen(path, out, batch) is not None
        records = read_jsonl(out)
        check_records(records, batch, names_shown=False)
        for record, raw in zip(records, batch):
            if not _ESCAPED.search(raw):  # control characters included: Excel escapes them too
                assert record["input_name"] == expected_name(raw)
