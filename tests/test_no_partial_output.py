"""A run that fails midway publishes nothing: no output, no temp file, an older report untouched.

Failures are real: a csv that breaks thousands of rows in (after the writer has started), a
workbook whose sheet data is damaged, and screen functions that lose, repeat or choke on a row,
which the pipeline's accounting or the writer must catch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hostile import damaged_member_xlsx  # tests/ is on sys.path

from screener.files.outputs import open_writer
from screener.files.readers import InputError, open_input
from screener.models import InputRow, RowResult
from screener.pipeline import AccountingError, screen_files, screen_sources
from screener.screening import Screener

SCREENER = Screener.default()
FORMATS = ["report.xlsx", "results.csv", "results.jsonl", "results.json"]
OLD = b"an older, complete report\n"


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scratch files (the Excel writer's spill and row files) go here, so leftovers can be seen."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def broken_csv(folder: Path, bad_line: int = 5000, lines: int = 6000) -> Path:
    """Valid rows, then an unclosed quote on `bad_line`: the header and sample read fine."""
    path = folder / "orders.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Customer Name,Country\n")
        for n in range(2, lines + 1):
            fh.write(f'"Beta {n} GmbH,DE\n' if n == bad_line else f"Company {n} Ltd,US\n")
    return path


def good_csv(folder: Path, rows: int = 50) -> Path:
    path = folder / "orders.csv"
    path.write_text("Name,Country\n" + "".join(f"Company {n} Ltd,US\n" for n in range(rows)),
                    encoding="utf-8")
    return path


def leftovers(folder: Path, *keep: str) -> list[str]:
    """Everything in `folder` (hidden temp files included) except the named files."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("target", FORMATS)
def test_unclosed_quote_deep_in_a_csv_leaves_no_output(tmp_path: Path, private_tmp: Path,
                                                      target: str) -> None:
    source = broken_csv(tmp_path)
    opened = open_input(source)  # the break is past the sample: opening succeeds
    assert opened.columns["orders"]["name"] == "Customer Name"
    out = tmp_path / target
    seen: list[RowResult] = []
    with pytest.raises(InputError) as caught:
        screen_files(SCREENER, [source], out, observe=seen.append)
    assert len(seen) == 4998  # rows 2 to 4999 were screened and written before the break
    assert caught.value.row == 5000 and "never closed" in str(caught.value)
    assert leftovers(tmp_path, "orders.csv", "scratch") == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("target", FORMATS)
def test_failed_run_keeps_the_older_report(tmp_path: Path, private_tmp: Path, target: str) -> None:
    source = broken_csv(tmp_path)
    out = tmp_path / target
    out.write_bytes(OLD)
    with pytest.raises(InputError):
        screen_files(SCREENER, [source], out)
    assert out.read_bytes() == OLD
    assert leftovers(tmp_path, "orders.csv", "scratch", target) == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("target", ["report.xlsx", "results.jsonl"])
def test_damaged_workbook_midway_leaves_no_output(tmp_path: Path, private_tmp: Path,
                                                 target: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    source = damaged_member_xlsx(folder)
    out = tmp_path / target
    out.write_bytes(OLD)
    with pytest.raises(InputError) as caught:
        screen_files(SCREENER, [source], out)
    assert caught.value.sheet == "Sheet1"
    assert out.read_bytes() == OLD
    assert leftovers(tmp_path, "in", "scratch", target) == []
    assert list(private_tmp.iterdir()) == []


# --- screen functions that break the accounting ---------------------------------------------------


def dropping(rows: Iterable[InputRow]) -> Iterator[RowResult]:
    """Loses the third row, as a buggy filter or a swallowed exception would."""
    for i, row in enumerate(rows):
        if i != 2:
            yield SCREENER.screen_row(row)


def repeating(rows: Iterable[InputRow]) -> Iterator[RowResult]:
    """Reports one row twice."""
    for i, row in enumerate(rows):
        result = SCREENER.screen_row(row)
        yield result
        if i == 5:
            yield result


def choking(rows: Iterable[InputRow]) -> Iterator[RowResult]:
    for i, row in enumerate(rows):
        if i == 30:
            raise RuntimeError("matcher crashed")
        yield SCREENER.screen_row(row)


@pytest.mark.parametrize("target", FORMATS)
@pytest.mark.parametrize("screen", [dropping, repeating], ids=["drops", "repeats"])
def test_accounting_error_publishes_nothing(tmp_path: Path, private_tmp: Path, target: str,
                                            screen) -> None:
    source = good_csv(tmp_path)
    out = tmp_path / target
    writer = open_writer(out, SCREENER.lists)
    with pytest.raises(AccountingError, match="rows read but"):
        screen_sources(SCREENER, [open_input(source)], writer, screen=screen)
    assert not out.exists()
    assert leftovers(tmp_path, "orders.csv", "scratch") == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("target", FORMATS)
def test_accounting_error_keeps_the_older_report(tmp_path: Path, private_tmp: Path,
                                                 target: str) -> None:
    source = good_csv(tmp_path)
    out = tmp_path / target
    out.write_bytes(OLD)
    with pytest.raises(AccountingError):
        screen_files(SCREENER, [source], out, screen=dropping)
    assert out.read_bytes() == OLD
    assert leftovers(tmp_path, "orders.csv", "scratch", target) == []


@pytest.mark.parametrize("target", FORMATS)
def test_crash_in_screening_publishes_nothing(tmp_path: Path, private_tmp: Path,
                                              target: str) -> None:
    source = good_csv(tmp_path)
    out = tmp_path / target
    out.write_bytes(OLD)
    with pytest.raises(RuntimeError, match="matcher crashed"):
        screen_files(SCREENER, [source], out, screen=choking)
    assert out.read_bytes() == OLD
    assert leftovers(tmp_path, "orders.csv", "scratch", target) == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("target", FORMATS)
def test_bad_second_input_fails_before_any_output(tmp_path: Path, target: str) -> None:
    """Inputs are all opened (and their headers checked) before the writer exists."""
    good = good_csv(tmp_path)
    bad = tmp_path / "notes.csv"
    bad.write_text("id,notes\n1,hello\n", encoding="utf-8")
    out = tmp_path / target
    with pytest.raises(InputError, match="no name column"):
        screen_files(SCREENER, [good, bad], out)
    assert leftovers(tmp_path, "orders.csv", "notes.csv") == []


def test_a_successful_run_replaces_the_older_report(tmp_path: Path, private_tmp: Path) -> None:
    """The control: the same paths do get published when nothing goes wrong."""
    source = good_csv(tmp_path)
    for target in FORMATS:
        out = tmp_path / target
        out.write_bytes(OLD)
        summary = screen_files(SCREENER, [source], out)
        assert summary.rows_read == summary.rows_reported == 50
        assert out.read_bytes() != OLD
    assert leftovers(tmp_path, "orders.csv", "scratch", *FORMATS) == []
    assert list(private_tmp.iterdir()) == []
