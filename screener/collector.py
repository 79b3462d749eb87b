"""The cycle collector, paused while a process builds what it keeps, and kept off it afterwards.

An index, the normaliser's term tables and pypinyin's dictionaries are hundreds of thousands of
containers that live as long as the process. Each collection while they are built walks them again
for nothing, and so does every full collection after, for as long as they live (a third of the time
per name against CSL + SDN; a fifth of a 100,000-row screen's parent). `kept` builds them with the
collector paused and then freezes them: no collection walks them again, and a forked worker's
collections do not touch (and so copy) the pages it shares with its parent.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cycle collection in the block: what it builds is tuples, strings and containers that
    live on, which the collector would traverse again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def kept() -> Iterator[None]:
    """`paused`, then everything alive is frozen: built to last, it is never collected or walked.

    Garbage cycles alive at the start would be frozen too, and never freed. In a process that has
    frozen before (a server bringing in a new list version) they are collected first: the heap not
    yet frozen is then only what came since, so that collection is short."""
    if gc.get_freeze_count():
        gc.collect()
    with paused():
        yield
        gc.freeze()


BATCH_THRESHOLDS = (50_000, 20, 100)  # the defaults are (700, 10, 10)


def for_batch() -> None:
    """Collect less often, for a process that streams rows (a `screen`, a pool worker).

    The rows and results in flight (thousands of small models) outlive a few young collections, so
    every full collection walks them all, and with the defaults one came every 7,000 allocations:
    about a sixth of a 100,000-row screen's time, and as much of the matching's. They make no cycles
    (reference counting frees them), so collecting a seventieth as often loses nothing but leaves
    the few cycles that do occur (an exception's traceback) a little longer in memory.
    """
    gc.set_threshold(*BATCH_THRESHOLDS)
