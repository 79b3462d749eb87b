"""Cell values as a user sees them, and the two cell states that are not values at all."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any


class _NoCache:
    """A formula cell whose workbook was saved without a computed value (e.g. written by a script)."""

    __slots__ = ()


NO_CACHE = _NoCache()


class ExcelError:
    """A cached Excel error value such as #N/A: shown to the user, never screened."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code


HAS_ALNUM = re.compile(r"[^\W_]").search


def text(value: Any) -> str:
    """A cell value as the text a user sees; integral floats lose their ".0"."""
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (_NoCache, ExcelError)):
        return ""
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def optional_text(value: Any) -> str | None:
    if value.__class__ is str:
        return value.strip() or None
    if value is None or isinstance(value, (_NoCache, ExcelError)):
        return None
    try:
        if value != value:  # noqa: PLR0124 - NaN from pandas
            return None
    except (TypeError, ValueError):
        pass
    shown = text(value).strip()
    return shown or None


def is_blank_value(value: Any) -> bool:
    if value is None:
        return True
    return value.__class__ is str and (not value or value.isspace())


def is_blank(cells: Sequence[Any]) -> bool:
    for value in cells:
        if value is None:
            continue
        if value.__class__ is str:
            if value and not value.isspace():
                return False
            continue
        return False
    return True


def letter(index: int) -> str:
    """Spreadsheet letter for a 0-based column index."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
