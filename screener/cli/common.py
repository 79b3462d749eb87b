"""What every command shares: one-line errors with exit code 2, and loading the lists to screen against."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import typer

from screener.screening import DEFAULT_THRESHOLD, Screener

EXIT_CLEAR, EXIT_MATCH, EXIT_ERROR = 0, 1, 2


def fail(message: str) -> NoReturn:
    """Print one line to standard error and exit 2."""
    first = " ".join(str(message).split("\n")[0].split())
    sys.stderr.write(f"screener: error: {first}\n")
    raise typer.Exit(EXIT_ERROR)


def plural(count: int, noun: str) -> str:
    """'1 potential match', '16 potential matches', '2 rows'."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}{'es' if noun.endswith(('s', 'sh', 'ch', 'x', 'z')) else 's'}"


def load_screener(list_names: Sequence[str] | None, threshold: float = DEFAULT_THRESHOLD) -> Screener:
    """The default list, or the named lists (the default and/or lists imported under a name)."""
    names = list(list_names or ["default"])
    try:
        return Screener.from_catalog(names, threshold=threshold)  # the index is kept on disk per version
    except KeyError as exc:
        fail(str(exc.args[0]) if exc.args else "unknown list")
