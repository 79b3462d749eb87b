"""Memory budgets of the xlsx reader: crafted shared-string tables and giant cells are refused
with one line, before openpyxl loads them; real workbooks with many strings still read."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import openpyxl
import pytest
from hostile import SHEET, raw_xlsx  # tests/ is on sys.path

from screener.files.readers import InputError, open_input

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def shared_strings(count: int, text: str = "s") -> bytes:
    body = "".join(f"<si><t>{text}{i}</t></si>" for i in range(count))
    return (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}" count="{count}" '
            f'uniqueCount="{count}">{body}</sst>').encode()


def test_a_table_of_millions_of_strings_for_two_rows_is_refused_at_once(tmp_path: Path) -> None:
    path = raw_xlsx(tmp_path / "crafted.xlsx", extra={"xl/sharedStrings.xml": shared_strings(1_000_000)})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(InputError) as caught:
        open_input(path)
    took = time.perf_counter() - t0
    message = str(caught.value)
    assert "crafted.xlsx" in message and "shared-string table" in message and "\n" not in message
    assert took < 5, f"{took:.1f} s to refuse"
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    assert grown < 50 * 2**20, f"reading the table cost {grown / 2**20:.0f} MiB"


def test_a_cell_longer_than_excel_allows_is_refused_naming_the_cell(tmp_path: Path) -> None:
    sheet = SHEET.replace("<t>Acme Ltd</t>", "<t>" + "A" * 40_000 + "</t>")
    with pytest.raises(InputError) as caught:  # open_input checks the whole file
        list(open_input(raw_xlsx(tmp_path / "long.xlsx", sheet=sheet)).rows())
    message = str(caught.value)
    assert "long.xlsx" in message and "40,000 characters" in message and "A" in message
    big = shared_strings(3, text="B" * 40_000)
    with pytest.raises(InputError, match="shared string 1 holds"):
        open_input(raw_xlsx(tmp_path / "long_shared.xlsx", extra={"xl/sharedStrings.xml": big}))


def test_a_real_workbook_of_many_distinct_names_still_reads(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer", "Address"])
    for i in range(30_000):
        sheet.append([f"Company {i} Trading Ltd", f"{i} Harbour Road"])
    path = tmp_path / "many.xlsx"
    book.save(path)
    source = open_input(path)
    assert sum(1 for _ in source.rows()) == 30_000
