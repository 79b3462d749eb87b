"""What every request of one server process shares: settings, keys, the screener, the store.

Its own module so that the app (which builds it) and the routes (which use it) import it, and not
each other. What several server processes must share lives in the store (`shared`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from screener.models import RowResult
from screener.screening import Screener
from screener.service.auth import KeyRing
from screener.service.settings import Settings

if TYPE_CHECKING:
    from screener.service.jobs import Runner
    from screener.service.shared import Shared

log = logging.getLogger("screener.service")

STORE_RETRY_SECONDS = 30.0


def build_screener(settings: Settings) -> Screener:
    """The lists the settings name, with the settings' threshold."""
    if settings.lists == ["default"]:
        return Screener.default(threshold=settings.threshold)
    return Screener.from_catalog(settings.lists, threshold=settings.threshold)  # index kept on disk per version


class Decisions:
    """Analysts' recorded decisions, read from the audit store opened on first need.

    When the store cannot be read, results pass unchanged: a potential match stays an alert, so an
    outage can only hold a shipment, never release one.
    """

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._store: Any = None
        self._failed_at = -STORE_RETRY_SECONDS
        self._lock = threading.Lock()

    def store(self) -> Any:
        with self._lock:
            if self._store is None and time.monotonic() - self._failed_at > STORE_RETRY_SECONDS:
                try:
                    from screener.review.store import Store

                    self._store = Store.open(self.url)
                except Exception as exc:  # noqa: BLE001 - reported, and the caller holds instead
                    self._failed_at = time.monotonic()
                    log.warning("audit store unavailable (%s); recorded decisions are not applied", type(exc).__name__)
            return self._store

    def apply(self, results: Iterable[RowResult], screener: Screener) -> list[RowResult]:
        results = list(results)
        store = self.store()
        if store is None:
            return results
        try:
            return list(store.apply_decisions(results, screener))
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot read recorded decisions (%s); none applied", type(exc).__name__)
            return results

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class StoreDown(Exception):
    """The store holding the shared state cannot be opened."""


class ServiceState:
    """What every request shares, on `app.state.service`."""

    def __init__(self, settings: Settings, keyring: KeyRing) -> None:
        self.settings = settings
        self.keyring = keyring
        self.screener: Screener | None = None
        self.decisions = Decisions(settings.db_url)
        self.runner: Runner | None = None
        self._shared: Shared | None = None
        self._lock = threading.Lock()

    def shared(self) -> Shared:
        """The tables every server process shares (opened on first use); StoreDown when unreachable."""
        with self._lock:
            if self._shared is None:
                from screener.service.shared import Shared

                store = self.decisions.store()
                if store is None:
                    raise StoreDown()
                self._shared = Shared(store.engine)
            return self._shared

    def close(self) -> None:
        self.decisions.close()
