"""The sample report printed: the CLI's report of sample_orders/customer_master.xlsx, converted to PDF
by LibreOffice headless, read back page by page with poppler's pdftotext, and with openpyxl.

Needs `soffice` (LibreOffice) and `pdftotext`/`pdfinfo` (poppler-utils) on PATH; skips, saying
which, when they are absent.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from screener.files.sheets import LINE_POINTS, wrapped_lines

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_orders" / "customer_master.xlsx"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"),
    pytest.mark.skipif(
        shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
        reason="poppler-utils (pdftotext, pdfinfo) is not installed",
    ),
]
# The first and the last printed header of each table sheet: a sheet split across pages side by side
# would print pages lacking one of them (the header row repeats on every page as print titles).
EDGES = {
    "Potential matches": ("Score", "Comment"),
    "All rows": ("Sheet", "Note"),
    "Restricted parties": ("List", "Sources"),
    "Sources": ("Ref", "Cited by"),
}


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    """(the report, [(sheet named in the page header, page text)] for every PDF page)."""
    work = tmp_path_factory.mktemp("print")
    report = work / "report.xlsx"
    run = subprocess.run(
        [sys.executable, "-m", "screener", "screen", str(SAMPLE), "-o", str(report)],
        capture_output=True, text=True, timeout=120, cwd=work, check=False,
    )
    assert run.returncode == 1, run.stderr  # the sample holds potential matches
    profile = work / "lo-profile"  # a private profile: parallel conversions must not share one
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
         "--outdir", str(work), str(report)],
        capture_output=True, timeout=180, check=True,
    )
    pdf = work / "report.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    pages = []
    for n in range(1, count + 1):
        text = subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        first = next(line for line in text.splitlines() if line.strip())
        pages.append((first.split("  ")[0].strip(), text))
    return report, pages


def test_each_sheet_prints_one_page_wide_and_the_summary_on_one_page(printed) -> None:  # type: ignore[no-untyped-def]
    report, pages = printed
    sheets = openpyxl.load_workbook(report, read_only=True).sheetnames
    by_sheet: dict[str, list[str]] = {}
    for sheet, text in pages:
        by_sheet.setdefault(sheet, []).append(text)
    assert list(by_sheet) == sheets  # every sheet printed, in tab order, each page naming its sheet
    assert len(by_sheet["Summary"]) == 1 and len(by_sheet["Legend"]) == 1
    assert len(by_sheet["Potential matches"]) <= 3
    for sheet, (first, last) in EDGES.items():
        for n, text in enumerate(by_sheet[sheet], 1):
            assert first in text and last in text, f"{sheet} page {n} lacks a column: printed more than one page wide"
    run_id = openpyxl.load_workbook(report, read_only=True)["Summary"]["B6"].value
    for n, (_, text) in enumerate(pages, 1):
        assert f"Run {run_id}" in text and "us-entity-list-2019" in text  # the page header
        assert f"Page {n} of {len(pages)}" in text  # the footer
    assert "Hangzhou Hikvision" in "".join(by_sheet["Potential matches"])
    assert "What the lists cover" in by_sheet["Summary"][0] and "not covered" in by_sheet["Summary"][0].lower()


def test_the_sample_report_reads_back_with_headers_print_titles_and_row_heights(printed) -> None:  # type: ignore[no-untyped-def]
    report, _ = printed
    wb = openpyxl.load_workbook(report)
    matches = wb["Potential matches"]
    headers = [c.value for c in matches[1]]
    assert headers[:6] == ["Score", "Input name", "Sheet", "Row", "Column", "Country"]
    assert "Customer ID" in headers and "Ref" in headers  # the input's own columns carried over
    assert {"Matched party", "Why it matched", "Sources", "Review", "Decision", "Comment"} <= set(headers)
    for ws in wb.worksheets:
        if ws.title not in ("Summary", "Legend"):
            assert ws.print_title_rows == "$1:$1", ws.title
    why = headers.index("Why it matched")
    width = matches.column_dimensions[openpyxl.utils.get_column_letter(why + 1)].width
    for row in matches.iter_rows(min_row=2):
        text = row[why].value
        lines = wrapped_lines(text, int(width))
        assert matches.row_dimensions[row[0].row].height >= LINE_POINTS * lines, (row[0].row, text)
        assert "w=" not in text  # the plain explanation, not the trace
    hik = next(r for r in matches.iter_rows(min_row=2, values_only=True) if r[1].startswith("HIKVISION EUROPE"))
    assert hik[why].startswith("Matched the listed name 'Hikvision'; 'EUROPE' is an extra word")
    assert "legal form 'B.V.' ignored" in hik[why]
    rows = list(wb["All rows"].iter_rows(values_only=True))
    status = rows[0].index("Status")
    assert {r[status] for r in rows[1:]} == {"Potential match", "Clear", "Not screened"}  # human values
