"""Where screening runs: in this process, or (see issue 7) spread over processes or a Dask cluster."""

from __future__ import annotations

from .pipeline import ScreenFn
from .screening import Screener


def make_screen_fn(screener: Screener, *, workers: int = 1, engine: str = "local", scheduler: str | None = None) -> ScreenFn:
    """A function from input rows to results, in input order, whatever runs it."""
    if engine != "local":
        raise ValueError(f"unknown engine {engine!r}: use 'local'")
    if scheduler:
        raise ValueError("--scheduler goes with --engine dask")
    return screener.screen_rows
