"""Pick the result writer for an output name; the writers live in `writers` and `report`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from screener.files.report import ReportWriter
from screener.files.writers import CsvWriter, JsonLinesWriter, JsonWriter, ResultWriter
from screener.models import RestrictedList

SUPPORTED = ".xlsx, .csv, .json, .jsonl, or - for JSON lines on stdout"


def open_writer(
    output: str | Path,
    lists: Sequence[tuple[str, RestrictedList]],
    *,
    stream: TextIO | None = None,
) -> ResultWriter:
    """Pick a writer from the output name: `.xlsx`, `.csv`, `.json`, `.jsonl`, or `-` for stdout."""
    if str(output) == "-":
        return JsonLinesWriter(stream=stream or sys.stdout)
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return ReportWriter(path, lists)
    if suffix == ".csv":
        return CsvWriter(path)
    if suffix == ".json":
        return JsonWriter(path)
    if suffix == ".jsonl":
        return JsonLinesWriter(path)
    raise ValueError(f"cannot write {str(output)!r}: output must be {SUPPORTED}")
