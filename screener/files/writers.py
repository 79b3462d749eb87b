"""Result writers: one record per screened party cell (`sheet`, `row`, `column`), in input order,
published only when the run is complete.

The pipeline hands every `RowResult` to a `ResultWriter` as it is produced, then calls
`close(summary)` once, or `abort()` if the run failed. Writers never hold more than one row.

Completeness. A file writer writes to a hidden temp file next to the target
(`.<name>.<random>.tmp`) and renames it over the target only in `close()`. So a crashed or
interrupted run leaves either nothing or a `.tmp` file, never a file that looks complete. `close()`
also refuses to publish (removes the temp file and raises `IncompleteOutputError`) unless the
number of rows written equals both `summary.rows_read` and `summary.rows_reported`.
Once `close()` has returned, `abort()` does nothing, so `try: ... close() except: abort()` is safe.

Formats:
- `.csv`: the `RECORD_FIELDS` columns. Encoded as UTF-8 *with* a byte-order mark, because Excel
  opens a BOM-less UTF-8 CSV in the local ANSI code page and garbles Chinese names; Python readers
  should use `encoding="utf-8-sig"`. Inert in every delimiter locale (CSV injection): every text
  field is quoted, and a `'` goes before `=`, `+`, `-`, `@`, a tab or a carriage return wherever a
  spreadsheet could start a cell there: at the start of the value and after any `,`, `;`, tab or
  line break in it (Excel set to `;` splits `Acme;=1+1` at the `;`, whatever the quotes). So a
  spreadsheet shows such text instead of running it as a formula. This changes such values:
  `-2+3` is written `'-2+3`, `Acme;=1+1` as `Acme;'=1+1`.
- `.json` (one array) and `.jsonl` (one object per line): the `RECORD_FIELDS` plus `matches`, every
  candidate with its full explanation (alias, normalised forms, token evidence, rules) and
  sources, so a machine can trace every score, and `ownership` as the structured Affiliates Rule
  outcome (chains, listed owners) where the CSV carries its sentence. UTF-8, no BOM, values unaltered.
- `-`: JSON lines to stdout, written directly. Lines already written cannot be withdrawn, so for
  stdout `abort()` only flushes and the caller must report the failure (for example, exit code).
- `.xlsx`: the Excel report, `screener.files.report.ReportWriter`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
from pathlib import Path
from typing import IO, Protocol, TextIO, runtime_checkable

from screener.home import file_mode
from screener.models import RECORD_FIELDS, RowResult, RunSummary

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# a formula trigger where any locale's spreadsheet may start a cell: the value's start, or after a
# delimiter (`,` `;` tab) or a line break
_CELL_START_FORMULA = re.compile(r"(^|[,;\t\r\n])(?=[=+\-@\t\r])")
_FORMULA_TRIGGER = re.compile(r"[=+\-@\t\r]")  # no trigger anywhere, nothing to make inert (most text)


@runtime_checkable
class ResultWriter(Protocol):
    """Where screening results go. Rows arrive in input order; `close` publishes, `abort` discards."""

    def write(self, result: RowResult) -> None: ...

    def close(self, summary: RunSummary) -> None: ...

    def abort(self) -> None: ...


class IncompleteOutputError(RuntimeError):
    """The rows written do not account for every row read, so the output was not published."""


def check_complete(summary: RunSummary, written: int, what: str) -> None:
    """Raise unless every row read was written: a short output must never pass for a full one."""
    if summary.rows_read == written and summary.rows_reported == written:
        return
    raise IncompleteOutputError(
        f"{what} not written: {written} rows written but the run read {summary.rows_read}"
        f" and reported {summary.rows_reported}"
    )


def inert(value: object) -> object:
    """Put `'` before every formula trigger that could start a cell; non-text passes unchanged."""
    if isinstance(value, str) and _FORMULA_TRIGGER.search(value):
        return _CELL_START_FORMULA.sub(r"\1'", value)
    return value


def inert_csv_writer(fh: IO[str]) -> csv.writer:  # type: ignore[valid-type]
    """A csv writer that quotes every text field, so `;` or a tab in a value never splits it."""
    return csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)


def json_record(result: RowResult) -> dict[str, object]:
    """The flat record plus every candidate's structured evidence (and the ownership outcome's)."""
    record = result.record()
    record["matches"] = [m.model_dump(mode="json") for m in result.matches]
    if result.ownership is not None:
        record["ownership"] = result.ownership.model_dump(mode="json")
    return record


class StagedFile:
    """A temp file beside the target that replaces the target only on `commit`.

    Same directory, so the final `os.replace` is an atomic rename on one file system. The name is
    hidden and ends in `.tmp`, so a leftover from a killed process is not mistaken for output.
    """

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        self.path = self.target.with_name(f".{self.target.name}.{secrets.token_hex(6)}.tmp")
        # O_EXCL: never reuse someone else's file; the umask applies as for any new file, except
        # under the home folder, where files are private (reports of web runs, audit exports).
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode(self.target))
        except OSError as exc:  # name the path the user gave, not the hidden temp file
            raise OSError(f"cannot write {self.target}: {exc.strerror}") from None
        os.close(fd)

    def commit(self) -> None:
        with open(self.path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(self.path, self.target)
        _fsync_dir(self.target.parent)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _TextFileWriter:
    """Shared lifecycle of the text writers: stage, write rows, verify, publish or discard."""

    kind = "output"
    encoding = "utf-8"

    def __init__(self, path: str | Path | None = None, *, stream: TextIO | None = None) -> None:
        if (path is None) == (stream is None):
            raise TypeError("give exactly one of path or stream")
        self._staged: StagedFile | None = None
        self._fh: IO[str]
        if stream is not None:
            self._fh = stream
        else:
            self._staged = StagedFile(path)  # type: ignore[arg-type]
            self._fh = open(self._staged.path, "w", encoding=self.encoding, newline="")
        self._rows = 0
        self._state = "open"
        self._start()

    @property
    def rows_written(self) -> int:
        return self._rows

    def write(self, result: RowResult) -> None:
        if self._state != "open":
            raise RuntimeError(f"{self.kind} writer is {self._state}")
        self._emit(result)
        self._rows += 1

    def close(self, summary: RunSummary) -> None:
        if self._state != "open":
            raise RuntimeError(f"{self.kind} writer is {self._state}")
        try:
            check_complete(summary, self._rows, self.kind)
            self._finish()
            self._fh.flush()
            if self._staged is not None:
                self._fh.close()
                self._staged.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        if self._staged is None:
            try:
                self._fh.flush()
            except (OSError, ValueError):
                pass
            return
        try:
            self._fh.close()
        finally:
            self._staged.discard()

    def _start(self) -> None:
        pass

    def _emit(self, result: RowResult) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        pass


class CsvWriter(_TextFileWriter):
    """Flat CSV, one line per record, header `RECORD_FIELDS`, formula-looking text made inert."""

    kind = "csv"
    encoding = "utf-8-sig"

    def _start(self) -> None:
        self._csv = inert_csv_writer(self._fh)
        self._csv.writerow(RECORD_FIELDS)

    def _emit(self, result: RowResult) -> None:
        values = result.record_values()
        if values[_HEAD:] == _NO_EVIDENCE:  # nearly every line: clear, no candidate, review or note
            line = ["" if v is None else v for v in values[:_HEAD]]
            tail = _EMPTY_TAIL
        else:
            line, tail = ["" if v is None else v for v in values], []
        if _FORMULA_TRIGGER.search("\0".join([v for v in line if v.__class__ is str])):  # one search a line
            line = [inert(v) for v in line]
        self._csv.writerow(line + tail)


_HEAD = RECORD_FIELDS.index("entity_id")  # the fields before a record's candidate evidence
_NO_EVIDENCE = (None,) * (len(RECORD_FIELDS) - _HEAD)
_EMPTY_TAIL = [""] * len(_NO_EVIDENCE)


_LINE_BREAKERS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def json_text(result: RowResult) -> str:
    """One record as JSON text that no line splitter can break: Unicode line separators are escaped."""
    return json.dumps(json_record(result), ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKERS)


class JsonWriter(_TextFileWriter):
    """One JSON array, streamed element by element so memory stays flat."""

    kind = "json"

    def _emit(self, result: RowResult) -> None:
        self._fh.write(",\n" if self._rows else "[\n")
        self._fh.write(json_text(result))

    def _finish(self) -> None:
        self._fh.write("\n]\n" if self._rows else "[]\n")


class JsonLinesWriter(_TextFileWriter):
    """One JSON object per line; the only format that can go straight to stdout."""

    kind = "jsonl"

    def _emit(self, result: RowResult) -> None:
        self._fh.write(json_text(result))
        self._fh.write("\n")
