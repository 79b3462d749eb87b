"""File to report in one pass: read → screen → write, with the row accounting that proves nothing is lost.

Every input is opened (and its columns found) before any output exists, so a bad file fails with no
report at all. Records (one per party cell of a data row) stream through one at a time; the writer
is aborted on any error, so a partial output never survives. At the end, per sheet, the records
read must equal the records reported and every data row read must have been reported, or the run
fails. The summary carries which column was screened as what, the readers' warnings, and the
verdict (`screener.review.clearance`) that the exit code, the report and the JSON all state.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from screener import __version__
from screener.files.outputs import open_writer
from screener.files.readers import InputError, InputSource, label_sheets, open_input
from screener.files.writers import ResultWriter
from screener.models import InputInfo, InputRow, RowResult, RunSummary, Status
from screener.ownership.assess import OwnershipAssessment
from screener.ownership.inputs import mark_owner_columns
from screener.review.clearance import verdict
from screener.screening import Screener


class AccountingError(RuntimeError):
    """Rows read and rows reported disagree: the run must not be trusted."""


class Progress:
    """A plain progress line on standard error for long runs; silent for short ones or with --quiet."""

    def __init__(self, enabled: bool, stream: IO[str] | None = None, every: float = 1.0, min_rows: int = 5000):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.every = every
        self.min_rows = min_rows
        self.started = time.monotonic()
        self._last = self.started
        self._shown = False

    def update(self, rows: int) -> None:
        if not self.enabled or rows < self.min_rows or rows % 1000:
            return
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        rate = rows / max(now - self.started, 1e-9)
        self.stream.write(f"\rscreened {rows:,} rows ({rate:,.0f} rows/s)")
        self.stream.flush()
        self._shown = True

    def done(self, rows: int) -> None:
        if self._shown:
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\rscreened {rows:,} rows in {elapsed:,.1f} s{' ' * 20}\n")
            self.stream.flush()


ScreenFn = Callable[[Iterable[InputRow]], Iterator[RowResult]]


def screen_sources(
    screener: Screener,
    sources: Sequence[InputSource],
    writer: ResultWriter,
    *,
    progress: Progress | None = None,
    screen: ScreenFn | None = None,
    user: str | None = None,
    observe: Callable[[RowResult], None] | None = None,
    allow_unscreened: bool = False,
    ownership: OwnershipAssessment | None = None,
) -> RunSummary:
    """Screen opened sources into `writer` and close it with the run's summary (abort on failure).

    `allow_unscreened` lets not-screened records count as clear in the verdict (said in it).
    `ownership` (an ownership file's graph) applies the Affiliates Rule; row owner columns apply always.
    """
    started_at = datetime.now(UTC)
    t0 = time.monotonic()
    label_sheets(sources)
    screen = screen or screener.screen_rows
    ownership = ownership or OwnershipAssessment(screener)
    counts: Counter[Status] = Counter()
    # by the source's place in the run, not its file name: two folders' customers.csv are two inputs
    reported: Counter[tuple[int, str]] = Counter()
    rows_reported: Counter[tuple[int, str]] = Counter()
    total = alerts = 0
    try:
        for place, src in enumerate(sources):
            last: tuple[str, int] | None = None
            records: Counter[str] = Counter()  # this file's, by sheet
            rows: Counter[str] = Counter()
            for result in ownership.screen_fn(screen, src.file_name, src.column_labels)(src.rows()):
                writer.write(result)
                if observe:
                    observe(result)
                counts[result.status] += 1
                alerts += result.alert
                records[result.sheet] += 1
                if (at := (result.sheet, result.row)) != last:  # a row's records arrive together
                    rows[result.sheet] += 1
                    last = at
                total += 1
                if progress:
                    progress.update(total)
            reported.update({(place, sheet): n for sheet, n in records.items()})
            rows_reported.update({(place, sheet): n for sheet, n in rows.items()})
        inputs = [InputInfo(file_name=s.file_name, sha256=s.sha256, sheets=dict(s.rows_per_sheet),
                            data_rows=dict(s.data_rows)) for s in sources]
        rows_read = sum(sum(i.sheets.values()) for i in inputs)
        for place, info in enumerate(inputs):
            for sheet, n in info.sheets.items():
                if reported[(place, sheet)] != n:
                    raise AccountingError(
                        f"{info.file_name}, sheet {sheet!r}: {n} rows read but {reported[(place, sheet)]} reported"
                    )
            for sheet, n in info.data_rows.items():
                if rows_reported[(place, sheet)] != n:
                    raise AccountingError(
                        f"{info.file_name}, sheet {sheet!r}: {n} data rows read but "
                        f"{rows_reported[(place, sheet)]} reported"
                    )
        if rows_read != total:
            raise AccountingError(f"{rows_read} rows read but {total} reported")
        not_screened = counts[Status.NOT_SCREENED]
        columns = mark_owner_columns([usage for s in sources for usage in s.column_usage()])
        outcome = verdict(alerts=alerts, not_screened=not_screened, screened=total - not_screened,
                          allow_unscreened=allow_unscreened, doubtful=[c for u in columns for c in u.doubtful])
        summary = RunSummary(
            run_id=uuid.uuid4().hex[:12],
            tool_version=__version__,
            started_at=started_at.isoformat(timespec="seconds"),
            duration_seconds=round(time.monotonic() - t0, 3),
            threshold=screener.threshold,
            inputs=inputs,
            lists=screener.list_infos(),
            counts={s.value: counts[s] for s in Status},
            alerts=alerts,
            rows_read=rows_read,
            rows_reported=total,
            data_rows_read=sum(sum(i.data_rows.values()) for i in inputs),
            data_rows_reported=sum(rows_reported.values()),
            columns=columns,
            warnings=[w for s in sources for w in s.warnings],
            notes=[f"{s.file_name}: {note}" for s in sources for note in s.notes],
            allow_unscreened=allow_unscreened,
            clear=outcome.clear,
            verdict=outcome.reason,
            user=user,
        )
        writer.close(summary)
    except BaseException:
        writer.abort()
        raise
    if progress:
        progress.done(total)
    return summary


def screen_files(
    screener: Screener,
    inputs: Sequence[str | Path],
    output: str | Path,
    *,
    sheet: str | Sequence[str] | None = None,
    name_column: str | Sequence[str] | None = None,
    country_column: str | None = None,
    address_column: str | None = None,
    quiet: bool = True,
    screen: ScreenFn | None = None,
    user: str | None = None,
    stream: IO[str] | None = None,
    observe: Callable[[RowResult], None] | None = None,
    allow_unscreened: bool = False,
    ownership: OwnershipAssessment | None = None,
) -> RunSummary:
    """Screen spreadsheet files into one output (.xlsx report, .csv, .json, .jsonl, or '-').

    `name_column` may name several party columns; by default every party column is detected.
    """
    sources = [
        open_input(
            Path(p),
            sheet=sheet,
            name_column=name_column,
            country_column=country_column,
            address_column=address_column,
        )
        for p in inputs
    ]
    _refuse_overwriting_an_input(sources, output)
    writer = open_writer(output, lambda: screener.lists, stream=stream)
    return screen_sources(
        screener, sources, writer, progress=Progress(not quiet), screen=screen, user=user, observe=observe,
        allow_unscreened=allow_unscreened, ownership=ownership,
    )


def _refuse_overwriting_an_input(sources: Sequence[InputSource], output: str | Path) -> None:
    """`-o` naming an input file (by another path or a link, too) would replace the customer's file
    with the report when it is complete: refused before anything is written."""
    target = Path(output)
    if str(output) == "-" or not target.exists():
        return
    for source in sources:
        if target.samefile(source.path):
            raise InputError("the output would replace this input file; write the report elsewhere (-o)",
                             file=source.file_name)
