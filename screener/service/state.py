"""What every request of one server process shares: settings, keys, the screener, the store.

Its own module so that the app (which builds it) and the routes (which use it) import it, and not
each other. What several server processes must share lives in the store (`shared`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from screener.models import RowResult, Status
from screener.review.decisions import Evidence, basis_of
from screener.review.schema import approvals, decisions
from screener.screening import Screener
from screener.service.auth import KeyRing
from screener.service.settings import Settings

if TYPE_CHECKING:
    from screener.service.jobs import Runner
    from screener.service.shared import Shared

log = logging.getLogger("screener.service")

STORE_RETRY_SECONDS = 30.0
REVIEW_CACHE_BYTES = 8 * 1024 * 1024  # reviews of recently checked parties, per process
# The decision log only grows (decisions and approvals are inserted, never changed: the audit
# chain would show it), so its newest ids name its state exactly, on SQLite and PostgreSQL alike.
LOG_VERSION = sa.select(sa.select(sa.func.max(decisions.c.id)).scalar_subquery(),
                        sa.select(sa.func.max(approvals.c.id)).scalar_subquery())


def build_screener(settings: Settings) -> Screener:
    """The lists the settings name, with the settings' threshold."""
    if settings.lists == ["default"]:
        return Screener.default(threshold=settings.threshold)
    return Screener.from_catalog(settings.lists, threshold=settings.threshold)  # index kept on disk per version


@functools.cache
def _log_version_sql(dialect: sa.Dialect) -> str:
    return str(LOG_VERSION.compile(dialect=dialect))


def log_version(engine: sa.Engine) -> tuple[Any, ...]:
    """The decision log's version, read on a bare pooled connection: one statement needs no
    transaction of its own, and SQLAlchemy's begin and rollback would cost more than the query."""
    sql = _log_version_sql(engine.dialect)
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(sql)
        row = cursor.fetchone()
        cursor.close()
    finally:
        conn.close()  # back to the pool, which ends any transaction the driver began
    return tuple(row)


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
        # (party evidence, candidates) -> the review's fields, valid while `_cache_at` holds:
        # the log's version and the lists and threshold screened against
        self._cache: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], int]] = OrderedDict()
        self._cache_bytes = 0
        self._cache_at: tuple[Any, ...] | None = None

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
        """`Store.apply_decisions`, with each party's review kept until the log or the lists change:
        a repeated check costs one indexed query (the log's version) instead of the lookups."""
        results = list(results)
        todo = [i for i, r in enumerate(results) if r.status is Status.POTENTIAL_MATCH and r.matches]
        store = self.store() if todo else None
        if store is None:
            return results
        try:
            reviews = self._reviews(store, [results[i] for i in todo], screener)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot read recorded decisions (%s); none applied", type(exc).__name__)
            return results
        for i, fields in zip(todo, reviews, strict=True):
            results[i] = results[i].model_copy(update=fields)
        return results

    def _reviews(self, store: Any, rows: list[RowResult], screener: Screener) -> list[dict[str, Any]]:
        version = log_version(store.engine)
        at = (version, screener.threshold, tuple((i.key, i.content_hash) for i in screener.list_infos()))
        evidence = [Evidence.of(r) for r in rows]
        keys = [(e.name, e.country, e.address, e.customer_id, *((m.entity_id, m.list_key) for m in r.matches))
                for e, r in zip(evidence, rows, strict=True)]
        with self._lock:
            if self._cache_at != at:
                self._cache.clear()
                self._cache_bytes, self._cache_at = 0, at
            found: list[dict[str, Any] | None] = [self._hit(k) for k in keys]
        missing = [i for i, f in enumerate(found) if f is None]
        if missing:
            looked_up = store.review_rows([(evidence[i], rows[i].matches) for i in missing], basis_of(screener))
            with self._lock:
                for i, review in zip(missing, looked_up, strict=True):
                    found[i] = review.fields(rows[i].matches)
                    if self._cache_at == at:  # what was read is at least as new as `at`
                        self._keep(keys[i], found[i])  # type: ignore[arg-type]
        return found  # type: ignore[return-value]

    def _hit(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        self._cache.move_to_end(key)
        return entry[0]

    def _keep(self, key: tuple[Any, ...], fields: dict[str, Any]) -> None:
        """Remember a review, the least recently used ones going past the byte budget."""
        size = 400 + sum(len(str(x)) for x in key) + sum(len(str(v)) for v in fields.values())
        if key in self._cache or size > REVIEW_CACHE_BYTES // 100:
            return
        self._cache[key] = (fields, size)
        self._cache_bytes += size
        while self._cache_bytes > REVIEW_CACHE_BYTES:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cache_bytes -= dropped

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
