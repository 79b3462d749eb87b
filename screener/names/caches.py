"""Caches bounded in bytes at the cost of an entry count: only short keys are kept.

An LRU cache by entries alone grows with what it is fed: 200,000 entries of 1,000-character names
are gigabytes. Weighing every entry (a byte-sized cache) costs a fifth of the matcher's time. Instead
a call whose string arguments (the first two: a token, or a pair of tokens) are longer than
`max_chars` is computed and not kept, so every entry's key is short and its value (a function of that key) is of bounded size: entries x the largest entry
is the cache's bound, and a flood of long distinct names passes through without growing it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, update_wrapper
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _chars(value: Any) -> int:
    """The characters of a string, or of a tuple of strings (a name's tokens); 0 for anything else."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple):
        return sum(len(v) for v in value if isinstance(v, str))
    return 0


def bounded_cache(maxsize: int, max_chars: int) -> Callable[[F], F]:
    """An LRU cache of `maxsize` entries, keeping only calls whose string (or tuple-of-strings)
    arguments each have at most `max_chars` characters; the others run uncached."""

    def decorate(fn: F) -> F:
        cached = lru_cache(maxsize=maxsize)(fn)

        def call(first: Any, *args: Any) -> Any:
            # a lone string, the usual call, is measured without `_chars` (a fifth of this wrapper's cost)
            if (len(first) if first.__class__ is str else _chars(first)) > max_chars or (
                args and _chars(args[0]) > max_chars
            ):
                return fn(first, *args)
            return cached(first, *args)

        update_wrapper(call, fn)
        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        call.max_chars = max_chars  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate
