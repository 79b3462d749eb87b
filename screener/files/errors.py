"""Bad input, in one line that names the file, sheet, row and column: the only way readers fail."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# Labels, sheet and file names come from the file: other line breaks (\x1c, U+2028...) would split
# the line, and ESC sequences would drive the terminal the error is printed on.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """Text from a file (a name, a label) for a line of terminal output: its lines joined by " / " (a
    name written on several lines), control characters and escape sequences shown escaped."""
    return _UNPRINTABLE.sub(_escape_char, _LINE_BREAKS.sub(" / ", text.strip("\r\n")))


_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


class InputError(Exception):
    """Bad input, explained in one line that names the file, sheet, row and column where known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f'sheet "{self.sheet}"')
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f'column "{self.column}"')
        text = f"{', '.join(parts)}: {self.message}" if parts else self.message
        return _UNPRINTABLE.sub(_escape_char, re.sub(r"[\r\n]+", " ", text))


class ColumnNotFound(InputError):
    """A needed column is missing; ``headers`` are the labels the user may pick from instead."""

    def __init__(
        self, message: str, *, headers: Sequence[str] = (), role: str = "name", **where: Any
    ) -> None:
        super().__init__(message, **where)
        self.headers = list(headers)
        self.role = role


def describe(exc: BaseException) -> str:
    """The exception in a few words; an OSError by its reason only, as its text names server paths."""
    strerror = exc.strerror if isinstance(exc, OSError) else None
    text = strerror or str(exc) or type(exc).__name__
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > 200:
        text = text[:200] + "…"
    return text


def quote_list(items: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(f'"{item}"' for item in items[:limit])
    if len(items) > limit:
        shown += f", … ({len(items) - limit} more)"
    return shown or "(none)"
