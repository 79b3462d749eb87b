"""Pick the result writer for an output name; the writers live in `writers` and `report`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from screener.files.report import ReportWriter
from screener.files.writers import CsvWriter, JsonLinesWriter, JsonWriter, ResultWriter
from screener.models import RestrictedList

SUPPORTED = ".xlsx, .csv, .json, .jsonl, or - for JSON lines on stdout"


def open_writer(
    output: str | Path,
    lists: Sequence[tuple[str, RestrictedList]] | Callable[[], Sequence[tuple[str, RestrictedList]]],
    *,
    stream: TextIO | None = None,
) -> ResultWriter:
    """Pick a writer from the output name: `.xlsx`, `.csv`, `.json`, `.jsonl`, or `-` for stdout.

    Only the report shows the lists, so they may be given as a function: a Screener loaded from the
    index cache then reads them only for a report."""
    if str(output) == "-":
        return JsonLinesWriter(stream=stream or sys.stdout)
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return ReportWriter(path, lists() if callable(lists) else lists)
    if suffix == ".csv":
        return CsvWriter(path)
    if suffix == ".json":
        return JsonWriter(path)
    if suffix == ".jsonl":
        return JsonLinesWriter(path)
    raise ValueError(f"cannot write {str(output)!r}: output must be {SUPPORTED}")
