"""The cycle collector and what a process keeps: the normaliser's tables, pypinyin's dictionaries and
the index are frozen once loaded, and a worker that streams rows collects less often (see
`screener.collector`). Real processes, so that what this test process froze or set hides nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from screener.collector import BATCH_THRESHOLDS, kept, paused
from screener.runtime.engine import _pool_init

# In a fresh process: load the bundled list's index as `screen` does (from the kept index once it
# is on disk), warm it as a forking pool does, then ask the collector whether it still walks
# pypinyin's phrase dictionary (400,000 lists) and the index's postings.
PROBE = """
import gc, json, sys
from screener.screening import Screener
screener = Screener.from_catalog(["default"])
screener.index.warm()
import pypinyin.phrases_dict as phrases
tracked = {id(o) for o in gc.get_objects()}
print(json.dumps({
    "enabled": gc.isenabled(),
    "phrases_walked": id(phrases.phrases_dict) in tracked,
    "postings_walked": id(screener.index._postings) in tracked,
    "frozen": gc.get_freeze_count(),
}))
"""


def test_what_warming_loads_is_frozen_so_no_collection_walks_it_again(tmp_path: Path) -> None:
    env = {**os.environ, "SCREENER_HOME": str(tmp_path / "home")}
    env.pop("SCREENER_INDEX_CACHE", None)
    for _ in range(2):  # the first builds the index and keeps it; the second loads it, as every run does
        proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "home" / "index-cache").glob("*.idx"))
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["enabled"]  # paused while loading, collecting again after
    assert not got["phrases_walked"] and not got["postings_walked"]
    assert got["frozen"] > 100_000


def test_kept_freezes_only_what_was_built_and_paused_always_restores() -> None:
    import gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with kept():
            assert not gc.isenabled()
            raise ValueError("the build failed")
    except ValueError:
        pass
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()  # a caller's own pause is left as it was
    finally:
        gc.enable()


# A server that froze at start-up brings in a new list version while a request's garbage cycle (an
# exception and its traceback, say) waits for a collection: freezing must not keep it for ever.
REFRESH_PROBE = """
import gc, weakref
from screener.collector import kept
with kept():
    started = [object() for _ in range(1000)]
class Request:
    pass
request = Request()
request.me = request
gone = weakref.ref(request)
del request
with kept():
    index = [object() for _ in range(1000)]
gc.collect()
print(gone() is None)
"""


def test_a_later_freeze_does_not_keep_the_garbage_cycles_alive_before_it() -> None:
    proc = subprocess.run([sys.executable, "-c", REFRESH_PROBE], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "True", proc.stderr


def _thresholds() -> tuple[int, int, int]:
    import gc

    return gc.get_threshold()


def test_a_spawned_pool_worker_collects_at_the_batch_thresholds() -> None:
    """A forked worker inherits its parent's settings; a spawned one (macOS, Windows) starts afresh."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_pool_init, initargs=(None, [], 75.0)) as pool:
        assert pool.submit(_thresholds).result(timeout=120) == BATCH_THRESHOLDS
