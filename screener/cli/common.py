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


def load_screener(list_names: Sequence[str] | None, threshold: float = DEFAULT_THRESHOLD) -> Screener:
    """The default list, or the named lists (the default and/or lists imported under a name)."""
    names = list(list_names or ["default"])
    if names == ["default"]:
        return Screener.default(threshold=threshold)
    from screener.lists.catalog import load_named_list

    loaded = []
    for name in names:
        try:
            loaded.append((name, load_named_list(name)))
        except KeyError as exc:
            fail(str(exc.args[0]) if exc.args else f"unknown list {name!r}")
    return Screener(loaded, threshold=threshold)
