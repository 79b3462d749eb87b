"""The service's scheduled list refresh, and what `/healthz` and the page say about the lists' age.

Every SCREENER_REFRESH_HOURS (default 24; 0 turns it off) the service downloads the official lists
it screens against (`screener.lists.update`; SCREENER_REFRESH_SOURCES=csl,ofac-sdn or all to name
them), re-screens the monitored base when a version changed and sends its alerts. With several
server processes, one of them refreshes at a time (a lock file under SCREENER_HOME); every process
checks each minute whether the catalog's current versions are still the ones it screens against and,
if not, swaps in a Screener over the new versions (from the index cache, so in a moment); the job
queue's worker processes ask the same (`behind`) before every job, so a file screened after an
update, made by this process, another one or `screener lists update`, screens against the new
version. A failed download keeps the good version and is reported, with its reason, by `status()`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from screener.home import home
from screener.lists.update import (
    LIST_NAME,
    SOURCES,
    UpdateError,
    list_status,
    read_state,
    update_list,
)

if TYPE_CHECKING:
    from screener.screening import Screener

log = logging.getLogger("screener.service.refresh")

HOURS_ENV, SOURCES_ENV, MAX_AGE_ENV = "SCREENER_REFRESH_HOURS", "SCREENER_REFRESH_SOURCES", "SCREENER_LIST_MAX_AGE_DAYS"
DEFAULT_HOURS = 24.0
DEFAULT_MAX_AGE_DAYS = 3.0
CHECK_SECONDS = 60.0  # how often a process looks for a version another process fetched


def max_age_days() -> float:
    return float(os.environ.get(MAX_AGE_ENV) or DEFAULT_MAX_AGE_DAYS)


def status(served: list[str]) -> list[dict[str, object]]:
    """Version, fetched-at, age and warning of each imported list the service screens against."""
    return [s for s in list_status(max_age_days()) if s["name"] in served]


class Refresher:
    """The refresh loop of one server process (see the module docstring); `state.screener` is swapped."""

    def __init__(self, state: Any) -> None:
        self.state = state
        served = list(state.settings.lists)
        self.served = served
        hours = float(os.environ.get(HOURS_ENV) or DEFAULT_HOURS)
        self.interval = hours * 3600
        wanted = os.environ.get(SOURCES_ENV, "")
        if wanted.strip() == "all":
            self.sources = list(SOURCES)
        elif wanted.strip():
            self.sources = [s.strip() for s in wanted.split(",") if s.strip() in SOURCES]
        else:
            self.sources = [s for s in SOURCES if LIST_NAME[s] in served]
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and (self.sources or set(self.served) - {"default"}):
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)  # waits for the cancellation

    def _due(self) -> bool:
        """True when some source was not fetched (successfully or not) within the interval."""
        for source in self.sources:
            state = read_state(LIST_NAME[source])
            last = state.attempted_at if state else None
            if last is None or (datetime.now(UTC) - datetime.fromisoformat(last)).total_seconds() >= self.interval:
                return True
        return False

    async def _loop(self) -> None:
        while True:
            try:
                if self.sources and self._due():
                    await asyncio.to_thread(self.refresh)
                await asyncio.to_thread(self.reload)
            except Exception:  # the loop must survive anything; logged with its traceback
                log.exception("list refresh failed")
            await asyncio.sleep(CHECK_SECONDS)

    def refresh(self) -> None:
        """Update every source once (only in the process holding the lock)."""
        folder = home()
        with open(folder / "refresh.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another server process is refreshing
            if not self._due():
                return  # it just did
            for source in self.sources:
                started = time.monotonic()
                try:
                    result = update_list(source)
                except (UpdateError, OSError, ValueError) as exc:
                    log.warning("refresh of %s failed; the current version stays: %s", source, exc)
                    continue
                log.info("refresh of %s: %s, version %s (%.1f s)", source, result.outcome, result.version,
                         time.monotonic() - started)
                if result.changed:
                    from screener.review.monitor import after_update

                    for line in after_update(result.name, db_url=self.state.settings.db_url):
                        log.info("%s", line)

    def reload(self) -> None:
        """Swap in a Screener over the catalog's current versions when they are not the ones served."""
        from screener.service.state import build_screener

        screener = self.state.screener
        if screener is None or not behind(screener, self.served):
            return
        fresh = build_screener(self.state.settings)  # from the index cache when another process built it
        fresh.screen_name("warm up")
        self.state.screener = fresh
        log.info("now screening against %s", ", ".join(f"{i.key} {i.version}" for i in fresh.list_infos()))


def behind(screener: Screener, names: Sequence[str]) -> bool:
    """Whether a catalog list among `names` has a current version other than the one `screener` holds.

    Reads each list's small version index, nothing more: cheap enough to ask before every job."""
    from screener.lists.catalog import find_version

    held = {i.key: i.content_hash for i in screener.list_infos()}
    return any(name != "default" and find_version(name).content_hash != held.get(name) for name in names)

