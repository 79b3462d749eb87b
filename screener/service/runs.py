"""The owner and heartbeat of a run recorded by `screen --record`, so that a killed one is failed.

SIGTERM and Ctrl-C unwind and mark the run failed themselves; kill -9, a crash or a power cut leave
it "running" with nobody to finish it. So while a CLI run is recorded, its process (host and pid)
is named in `svc_runs` and a thread renews the heartbeat every `BEAT_SECONDS`; the row goes when
the run ends, however it ends. A run whose heartbeat is older than `STALE_SECONDS` and whose
process is gone (on this machine: no such pid; on another, where it cannot be looked at: silent for
`OTHER_HOST_SECONDS`) is marked failed with `REASON`, on the audit chain as the service fails its
dead jobs' runs (`jobs.fail_run`). That is done when a store is next opened for screening, by
`screener audit runs` and when `serve` starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from types import TracebackType
from typing import Self

import sqlalchemy as sa

from screener.service.jobs import fail_run
from screener.service.shared import HOST, Shared

BEAT_SECONDS = 1.0
STALE_SECONDS = 5.0  # a live process has renewed its heartbeat several times by then
OTHER_HOST_SECONDS = 15 * 60
REASON = "the process stopped without finishing: killed or crashed"

log = logging.getLogger("screener")


class RunHeartbeat:
    """`with RunHeartbeat(shared, run_id):` around the recording of one run by this process."""

    def __init__(self, shared: Shared, run_id: str) -> None:
        self.shared = shared
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Self:
        self.shared.hold_run(self.run_id, os.getpid())
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):  # the run's own outcome matters more than this row
            self.shared.release_run(self.run_id)

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                self.shared.beat_run(self.run_id)
            except Exception as exc:  # noqa: BLE001 - a busy or lost store: the next beat tries again
                log.debug("run heartbeat not written (%s)", type(exc).__name__)


def _gone(host: str, pid: int, heartbeat_at: float) -> bool:
    if host != HOST:
        return heartbeat_at < time.time() - OTHER_HOST_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's live process
    return False


def fail_dead_runs(engine: sa.Engine) -> list[str]:
    """Mark failed every recorded run whose process stopped without finishing; their ids."""
    shared = Shared(engine)
    failed = []
    for run_id, host, pid, heartbeat_at in shared.silent_runs(time.time() - STALE_SECONDS):
        if _gone(host, pid, heartbeat_at):
            fail_run(engine, run_id, REASON)
            shared.release_run(run_id)
            failed.append(run_id)
    return failed
