"""The monitored customer base: customers kept with their evidence, re-screened when a list changes.

`monitor add` stores each customer (name, country, address, the row's cells, the customer's own id)
and screens them against the lists monitored, recording every potential match as the base's current
hits. When a monitored list gets a new version (`lists update`, the service's scheduled refresh, or
`monitor run`), the base is screened against that version and compared with the hits recorded from
the last one: each potential match that appeared and each that vanished becomes an alert, and the
hits are replaced. Screening against the new version only (the old outcome is what was recorded) is
what the list diff can affect: a new version also shifts the token weights every score depends on,
so a customer can cross the threshold without any record of theirs changing (see `rescreen`), and
only the whole base screened against the new index catches that. A version whose parties are the
same as the last (only the file names differ) is not screened again.

Clearances are respected: a new match an analyst already cleared for this customer's evidence
(`Store.apply_decisions`, the same rule as every other shell) is recorded as "cleared" with the
decision's text and not sent; everything else is sent to the webhooks (`screener.review.webhooks`).

The tables live in the audit database beside the store's, created here (`monitor_*`). Screenings of
the base take turns on a machine (a lock file under SCREENER_HOME): the page's "run now", the API, the
CLI and the scheduled refresh may ask at once, and two screenings from the same recorded version
would record the same alerts twice.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from screener.home import home
from screener.models import InputRow, Match, Party, RestrictedList, RowResult, Status
from screener.ownership.graph import OwnershipError
from screener.ownership.inputs import owner_columns, row_owners
from screener.review import webhooks
from screener.review.decisions import customer_id_of
from screener.review.rescreen import ChangeKind, diff_lists, hits_of, score_if_listed
from screener.review.schema import UTCDateTime, create_tables, now
from screener.review.store import default_url
from screener.screening import Screener

INITIAL = "initial_match"  # a match found when the customer was added
BATCH = 500  # customer ids per statement
DEFAULT = "default"  # the bundled list
LOCK_FILE = "monitor.lock"

metadata = sa.MetaData()

monitored_lists = sa.Table(
    "monitor_lists",
    metadata,
    sa.Column("list_key", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False, doc="content hash the hits were screened against"),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("screened_at", UTCDateTime, nullable=False),
)

customers = sa.Table(
    "monitor_customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("name", sa.String(1000)),
    sa.Column("country", sa.String(200)),
    sa.Column("address", sa.String(2000)),
    sa.Column("fields", sa.JSON),
    sa.Column("source_file", sa.String(500)),
    sa.Column("sheet", sa.String(200)),
    sa.Column("row", sa.Integer),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("added_by", sa.String(200)),
)

hits = sa.Table(
    "monitor_hits",
    metadata,
    sa.Column("customer", sa.Integer, sa.ForeignKey("monitor_customers.id"), primary_key=True),
    sa.Column("list_key", sa.String(64), primary_key=True),
    sa.Column("entity_id", sa.String(200), primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("matched_alias", sa.String(1000)),
)

screenings = sa.Table(
    "monitor_screenings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # add | update
    sa.Column("list_key", sa.String(64), nullable=False),
    sa.Column("from_version", sa.String(64)),
    sa.Column("to_version", sa.String(64), nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("vanished", sa.Integer, nullable=False),
)

alerts = sa.Table(
    "monitor_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("screening", sa.Integer, sa.ForeignKey("monitor_screenings.id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # initial_match or a rescreen ChangeKind
    sa.Column("customer", sa.Integer, sa.ForeignKey("monitor_customers.id"), nullable=False),
    sa.Column("customer_id", sa.String(200)),
    sa.Column("customer_name", sa.String(1000)),
    sa.Column("list_key", sa.String(64), nullable=False),
    sa.Column("entity_id", sa.String(200), nullable=False),
    sa.Column("party_name", sa.String(1000)),
    sa.Column("old_score", sa.Float),
    sa.Column("new_score", sa.Float),
    sa.Column("matched_alias", sa.String(1000)),
    sa.Column("explanation", sa.Text),
    sa.Column("state", sa.String(16), nullable=False),  # open | cleared | vanished
    sa.Column("review", sa.String(2000)),
)


class Alert(BaseModel):
    id: int
    screening: int
    at: str
    kind: str
    customer: int
    customer_id: str | None
    customer_name: str | None
    list_key: str
    entity_id: str
    party_name: str | None
    old_score: float | None
    new_score: float | None
    matched_alias: str | None
    explanation: str | None
    state: str
    review: str | None
    list_version: str | None = None  # content hash of the version the screening found this against
    previous_version: str | None = None  # the version screened before it (where a vanished party was listed)

    @property
    def is_new(self) -> bool:
        return self.kind == INITIAL or ChangeKind(self.kind).is_new


class Upload(BaseModel):
    """Customers added in one go: a file from the page or CLI, or one API call."""

    source_file: str | None
    added_at: datetime
    added_by: str | None
    customers: int


class MonitoredList(BaseModel):
    list_key: str
    version: str  # content hash the base was last screened against
    threshold: float
    screened_at: datetime
    current: str | None  # the content hash current now (None: no longer in the catalog)

    @property
    def behind(self) -> bool:
        return self.current is not None and self.current != self.version


class Delivery(BaseModel):
    """One webhook delivery: every attempt at one payload to one URL."""

    delivery_id: str
    url: str
    screening_id: int | None
    alerts: int
    attempts: int
    delivered: bool
    last_at: datetime
    last_error: str | None  # of the last failed attempt: the HTTP status or the connection error


class Screening(BaseModel):
    id: int
    list_key: str
    from_version: str | None
    to_version: str
    customers: int
    alerts: list[Alert]
    delivered: dict[str, bool] = {}


class Added(BaseModel):
    """What an upload did to the base (see `Monitor.add`), and the screenings it ran."""

    added: int
    updated: int = 0
    already: int = 0  # repeats of customers the base kept already
    screenings: list[Screening]

    def text(self, file_name: str = "") -> str:
        """"5 customers from c.csv added, 1 updated, 2 already monitored"."""
        origin = f" from {file_name}" if file_name else ""
        done = [f"{self.added} customer{'' if self.added == 1 else 's'}{origin} added"]
        done += [f"{self.updated} updated"] if self.updated else []
        done += [f"{self.already} already monitored"] if self.already else []
        return ", ".join(done)


_EVIDENCE = (customers.c.name, customers.c.country, customers.c.address, customers.c.fields)


def _evidence(name: str | None, country: str | None, address: str | None, fields: Any) -> tuple[Any, ...]:
    """What a row must repeat of a kept customer to change nothing."""
    return name, country, address, tuple(sorted((fields or {}).items()))


def _identity(customer_id: str | None, evidence: tuple[Any, ...]) -> tuple[Any, ...]:
    """Who a row is: the customer's own id and name (the party columns of one row share its id, so
    the id alone would make a consignee overwrite the buyer beside it), or without an id all of it."""
    return ("id", customer_id, evidence[0]) if customer_id is not None else ("row", *evidence)


class Monitor:
    """The base in one database (the audit store's by default: `Store.open(url)`)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        create_tables(self.engine, metadata, webhooks.metadata)  # the delivery log lives beside the base

    @classmethod
    def open(cls, url: str | None = None) -> Monitor:
        from screener.review.store import Store

        return cls(Store.open(url))

    def close(self) -> None:
        self.store.close()

    # -- the base ------------------------------------------------------------------------------

    def lists(self) -> dict[str, tuple[str, float]]:
        """Monitored list key -> (version screened, threshold)."""
        with self.engine.connect() as conn:
            return {r.list_key: (r.version, r.threshold) for r in conn.execute(sa.select(monitored_lists))}

    def customer_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar() or 0

    def matching_count(self) -> int:
        """Customers with a potential match now, on any monitored list (cleared or not)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count(sa.distinct(hits.c.customer)))).scalar() or 0

    def add(
        self,
        rows: Iterable[InputRow],
        screener: Screener,
        *,
        source_file: str = "",
        user: str | None = None,
    ) -> Added:
        """Keep these customers and screen them now against each of the screener's lists, at the
        catalog's current version of each, and against every list the base is monitored against.

        A customer is kept once: a row with the id and name of one already kept refreshes that
        customer's evidence (and is screened again when it changed); a row without an id that
        repeats a kept one cell for cell is already monitored. A customer master uploaded again
        each month thus neither doubles the base nor sends each alert once per upload."""
        with _exclusive():
            return self._add(rows, screener, source_file, user)

    def _add(self, rows: Iterable[InputRow], screener: Screener, source_file: str, user: str | None) -> Added:
        stamp = now()
        added: dict[int, None] = {}  # in upload order, each once (a customer updated twice in one file)
        counts = {"added": 0, "updated": 0, "already": 0}
        with self.engine.begin() as conn:
            kept: dict[tuple[Any, ...], tuple[int, tuple[Any, ...]]] = {}
            for r in conn.execute(sa.select(customers.c.id, customers.c.customer_id, *_EVIDENCE)):
                evidence = _evidence(r.name, r.country, r.address, r.fields)
                kept[_identity(r.customer_id, evidence)] = (r.id, evidence)
            for row in rows:
                if row.not_screened_reason or not row.name:
                    continue  # nothing to monitor; the caller reports these rows
                customer_id = customer_id_of(row.fields)
                evidence = _evidence(row.name, row.country, row.address, row.fields)
                identity = _identity(customer_id, evidence)
                held = kept.get(identity)
                if held is not None and held[1] == evidence:
                    counts["already"] += 1
                    continue
                values = {"name": row.name, "country": row.country, "address": row.address, "fields": row.fields,
                          "source_file": source_file, "sheet": row.sheet, "row": row.row, "added_at": stamp,
                          "added_by": user}
                if held is not None:
                    conn.execute(customers.update().where(customers.c.id == held[0]).values(**values))
                    pk = held[0]
                    counts["updated"] += 1
                else:
                    pk = int(conn.execute(customers.insert().values(customer_id=customer_id, **values))
                             .inserted_primary_key[0])
                    counts["added"] += 1
                kept[identity] = (pk, evidence)
                added[pk] = None
        out = []
        known = self.lists()
        for key, lst in screener.lists:
            # a caller's screener may be a moment behind the catalog (a service between two reloads):
            # screened against the version current now, the base never goes back to an older one
            use = screener
            if current_version(key) not in (None, lst.content_hash):
                use = current_screener(key, screener.threshold)
                lst = use.lists[0][1]
            out.extend(self._cover(key, use, lst.content_hash, known, set(added)))
        # every customer of the base is screened against every monitored list: this upload also against
        # the lists monitored before that it did not name (at their own thresholds), or its customers
        # would stay unscreened against them until a new version came, and then alert as changes
        named = {key for key, _ in screener.lists}
        for key, (_, threshold) in known.items():
            if added and key not in named and (version := current_version(key)) is not None:
                out.extend(self._cover(key, current_screener(key, threshold), version, known, set(added)))
        return Added(**counts, screenings=out)

    def _cover(
        self, key: str, screener: Screener, version: str, known: dict[str, tuple[str, float]], added: set[int]
    ) -> list[Screening]:
        """Screen the customers just added against list `key` at `version` (its content hash), the base
        first brought up to that version if behind; a list monitored for the first time, the whole base."""
        if key not in known:
            return [self._screen(key, screener, "add")]
        out = []
        if known[key][0] != version:
            out.append(self._screen(key, screener, "update", exclude=added))
        out.append(self._screen(key, screener, "add", only=added))
        return out

    def rescreen(self, screener: Screener) -> list[Screening]:
        """Screen the base against each list of `screener` whose version differs from the one recorded."""
        with _exclusive():
            known = self.lists()  # read under the lock: a screening that just ran has moved it on
            return [
                self._screen(key, screener, "update")
                for key, lst in screener.lists
                if key in known and known[key][0] != lst.content_hash
            ]

    def run(
        self, names: Collection[str] | None = None, *, load: Callable[[str, float], Screener] | None = None
    ) -> list[Screening]:
        """Re-screen the base against the current version of every monitored list (or of `names`) it
        has not been screened against yet, and send the alerts; `load(key, threshold)` gives the screener."""
        out = []
        for key, (version, limit) in self.lists().items():
            if (names is None or key in names) and current_version(key) != version:  # else nothing to build
                for screening in self.rescreen((load or current_screener)(key, limit)):
                    self.notify(screening)
                    out.append(screening)
        return out

    def uploads(self, limit: int = 100) -> list[Upload]:
        """The base by upload, newest first."""
        count = sa.func.count().label("customers")
        keys = (customers.c.source_file, customers.c.added_at, customers.c.added_by)
        query = sa.select(*keys, count).group_by(*keys).order_by(customers.c.added_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Upload.model_validate(dict(r._mapping)) for r in conn.execute(query)]

    def list_states(self) -> list[MonitoredList]:
        """Each monitored list: the version the base was last screened against, and the one current now."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.select(monitored_lists).order_by(monitored_lists.c.list_key)))
        return [MonitoredList(**r._mapping, current=current_version(r.list_key)) for r in rows]

    def deliveries(self, limit: int = 50) -> list[Delivery]:
        """The webhook delivery log by delivery, newest first."""
        tries: dict[str, list[dict[str, Any]]] = {}
        for attempt in reversed(webhooks.delivery_log(self.engine, limit * webhooks.ATTEMPTS)):  # oldest first
            tries.setdefault(attempt["delivery_id"], []).append(attempt)
        out = []
        for delivery_id, made in tries.items():
            last = made[-1]
            failed = [a for a in made if not a["delivered"]]
            error = (failed[-1]["error"] or f"HTTP {failed[-1]['status_code']}") if failed else None
            out.append(Delivery(delivery_id=delivery_id, url=last["url"], screening_id=last["screening_id"],
                                alerts=last["alerts"], attempts=max(a["attempt"] for a in made),
                                delivered=any(a["delivered"] for a in made), last_at=last["at"], last_error=error))
        return sorted(out, key=lambda d: d.last_at, reverse=True)[:limit]

    def _customers(self, only: set[int] | None, exclude: set[int]) -> list[tuple[int, InputRow, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(customers).order_by(customers.c.id))
            return [
                (r.id, InputRow(name=r.name, country=r.country, address=r.address, sheet=r.sheet or "",
                                row=r.row or 0, fields=r.fields or {}), r.customer_id)
                for r in rows
                if (only is None or r.id in only) and r.id not in exclude
            ]

    def _screen(
        self,
        key: str,
        screener: Screener,
        trigger: str,
        *,
        only: set[int] | None = None,
        exclude: set[int] | None = None,
    ) -> Screening:
        """Screen customers against list `key`; record appeared and vanished matches as alerts."""
        lst = next(lst for k, lst in screener.lists if k == key)
        known = self.lists().get(key)
        from_version = known[0] if known else None
        base = self._customers(only, exclude or set())
        held = self._hits(key, {c for c, _, _ in base})
        added: set[str] = set()
        removed: set[str] = set()
        old: RestrictedList | None = None
        old_index: dict[str, Screener] = {}  # built only when a new match needs its score before
        if trigger == "update" and from_version:
            old = _stored_version(key, from_version)
            if old is not None:
                diff = diff_lists(old, lst, key)
                if not diff.all():
                    self._set_version(key, lst.content_hash, screener.threshold)
                    return self._record(key, trigger, from_version, lst.content_hash, len(base), [], [], {})
                added = {c.party_id for c in diff.added}
                removed = {c.party_id for c in diff.removed}
        single = screener if len(screener.lists) == 1 else _single(key, lst, screener.threshold)

        def before_score(row: InputRow, pid: str) -> float | None:
            if old is None or pid in added:
                return None
            if not old_index:
                old_index["s"] = Screener([(key, old)], threshold=screener.threshold)
            return score_if_listed(old_index["s"], row, pid)

        found: dict[str, dict[str, Any]] = {}
        appeared: list[dict[str, Any]] = []
        vanished: list[dict[str, Any]] = []
        current: list[tuple[int, dict[str, Any]]] = []
        for cid, row, customer_id in base:
            name_key = row.name or ""
            if name_key not in found:
                found[name_key] = hits_of(single, row)
            # an owner a list names makes the customer an alert too (the Affiliates Rule); the
            # customer's own name match wins where both name one party
            now_hits = {**_owner_hits(single, row, found), **found[name_key]}
            current.append((cid, now_hits))
            before = held.get(cid, {})
            who = {"customer": cid, "customer_id": customer_id, "customer_name": row.name, "list_key": key}
            for pid in now_hits.keys() - before.keys():
                party, scored, owner = (*now_hits[pid], None)[:3]
                kind = INITIAL if trigger == "add" else (
                    ChangeKind.NEW_MATCH_ADDED_PARTY if pid in added else ChangeKind.NEW_MATCH
                ).value
                old_score = before_score(owner[0] if owner else row, pid)
                appeared.append({**who, "kind": kind, "entity_id": pid, "party_name": party.name,
                                 "old_score": old_score, "new_score": scored.score,
                                 "matched_alias": _stored_alias(scored.explanation.alias, owner),
                                 "explanation": (f"{owner[1]}; " if owner else "") + scored.explanation.text(),
                                 "_row": row, "_match": _match(single, party.id, scored), "_by_owner": owner is not None})
            for pid in before.keys() - now_hits.keys():
                score, alias = before[pid]
                gone = pid in removed or not any(p.id == pid for p in lst.parties)
                kind = ChangeKind.MATCH_PARTY_REMOVED if gone else ChangeKind.NO_LONGER_MATCHES
                by_owner = (alias or "").startswith(BY_OWNERSHIP)
                vanished.append({**who, "kind": kind.value, "entity_id": pid, "party_name": _party_name(old, pid),
                                 "old_score": score,
                                 "new_score": None if gone or by_owner else score_if_listed(single, row, pid),
                                 "matched_alias": alias, "explanation": None})
        reviews = self._clearances(appeared, single)
        with self.engine.begin() as conn:
            ids = sorted({c for c, _, _ in base})
            for start in range(0, len(ids), BATCH):
                conn.execute(hits.delete().where(hits.c.list_key == key, hits.c.customer.in_(ids[start:start + BATCH])))
            rows = [
                {"customer": cid, "list_key": key, "entity_id": pid, "score": hit[1].score,
                 "matched_alias": _stored_alias(hit[1].explanation.alias, hit[2] if len(hit) > 2 else None)}
                for cid, got in current for pid, hit in got.items()
            ]
            if rows:
                conn.execute(hits.insert(), rows)
        if trigger == "update" or known is None:
            self._set_version(key, lst.content_hash, screener.threshold)
        return self._record(key, trigger, from_version, lst.content_hash, len(base), appeared, vanished, reviews)

    def _hits(self, key: str, wanted: set[int]) -> dict[int, dict[str, tuple[float, str | None]]]:
        out: dict[int, dict[str, tuple[float, str | None]]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(hits).where(hits.c.list_key == key)):
                if r.customer in wanted:
                    out.setdefault(r.customer, {})[r.entity_id] = (r.score, r.matched_alias)
        return out

    def _clearances(self, appeared: list[dict[str, Any]], screener: Screener) -> dict[int, str]:
        """Index in `appeared` -> the review text, for each new match an analyst's decision clears."""
        named = [i for i, a in enumerate(appeared) if not a["_by_owner"]]  # a name clearance never clears an owner
        results = [
            RowResult(input_name=a["_row"].name, input_country=a["_row"].country, input_address=a["_row"].address,
                      fields=a["_row"].fields, status=Status.POTENTIAL_MATCH, score=a["new_score"],
                      matches=[a["_match"]])
            for a in (appeared[i] for i in named)
        ]
        if not results:
            return {}
        reviewed = self.store.apply_decisions(results, screener)
        return {named[i]: r.review or "cleared" for i, r in enumerate(reviewed) if r.review_decision == "false_positive"}

    def _set_version(self, key: str, version: str, threshold: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(monitored_lists.delete().where(monitored_lists.c.list_key == key))
            conn.execute(monitored_lists.insert().values(
                list_key=key, version=version, threshold=threshold, screened_at=now()))

    def _record(
        self, key: str, trigger: str, from_version: str | None, to_version: str, count: int,
        appeared: list[dict[str, Any]], vanished: list[dict[str, Any]], reviews: dict[int, str],
    ) -> Screening:
        stamp = now()
        with self.engine.begin() as conn:
            sid = int(conn.execute(screenings.insert().values(
                at=stamp, trigger=trigger, list_key=key, from_version=from_version, to_version=to_version,
                customers=count, new=len(appeared), vanished=len(vanished),
            )).inserted_primary_key[0])
            rows = [
                {**{k: v for k, v in a.items() if not k.startswith("_")}, "screening": sid, "at": stamp,
                 "state": "cleared" if i in reviews else "open", "review": reviews.get(i)}
                for i, a in enumerate(appeared)
            ] + [{**v, "screening": sid, "at": stamp, "state": "vanished", "review": None} for v in vanished]
            if rows:
                conn.execute(alerts.insert(), rows)
        return Screening(id=sid, list_key=key, from_version=from_version, to_version=to_version, customers=count,
                         alerts=self.alerts(screening=sid))

    def alerts(self, *, screening: int | None = None, limit: int | None = None) -> list[Alert]:
        """Alerts, newest first (or one screening's, in order), with the list versions of their screening."""
        query = sa.select(alerts, screenings.c.to_version.label("list_version"),
                          screenings.c.from_version.label("previous_version")).join(
            screenings, screenings.c.id == alerts.c.screening)
        if screening is not None:
            query = query.where(alerts.c.screening == screening).order_by(alerts.c.id)
        else:
            query = query.order_by(alerts.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [Alert.model_validate({**r._mapping, "at": r.at.isoformat()}) for r in conn.execute(query)]

    # -- sending -------------------------------------------------------------------------------

    def notify(self, screening: Screening, *, urls: Sequence[str] | None = None, secret: str | None = None,
               **options: Any) -> dict[str, bool]:
        """Send a screening's alerts (not the cleared ones) to the webhooks; URL -> delivered."""
        if urls is None:
            urls, secret = webhooks.configured()
        sent = [a for a in screening.alerts if a.state != "cleared"]
        if not sent or not urls:
            return {}
        payload = {
            "event": "screener.monitor.alerts",
            "screening": screening.model_dump(mode="json", exclude={"alerts", "delivered"}),
            "alerts": [a.model_dump(mode="json") for a in sent],
        }
        screening.delivered = webhooks.deliver(self.engine, payload, urls=urls, secret=secret,
                                               screening_id=screening.id, **options)
        return screening.delivered


BY_OWNERSHIP = "by ownership: "  # the stored alias of a hit through an owner starts so


def _owner_hits(screener: Screener, row: InputRow, found: dict[str, dict[str, Any]]
                ) -> dict[str, tuple[Party, Any, tuple[InputRow, str]]]:
    """The parties that the owners in a customer's owner columns match: (party, scored, (owner row,
    how it reads)). Each owner name is screened once per screening (`found` is shared with names).
    A share that cannot be read is unknown: the owner is still an alert."""
    fields = row.fields
    if not fields or not owner_columns(tuple(fields)):
        return {}
    where = ", ".join(filter(None, (row.sheet and f'sheet "{row.sheet}"', row.row and f"row {row.row}")))
    try:
        owners = row_owners(fields, where)
    except OwnershipError:
        owners = [(fields[label].strip(), None, where) for label in owner_columns(tuple(fields)) if fields[label].strip()]
    out: dict[str, tuple[Party, Any, tuple[InputRow, str]]] = {}
    for name, share, place in owners:
        if name not in found:
            found[name] = hits_of(screener, InputRow(name=name))
        held = "an unknown share" if share is None else f"{share:g}%"
        for pid, (party, scored) in found[name].items():
            reading = f'by ownership: owner "{name}" holds {held} ({place})'
            out.setdefault(pid, (party, scored, (InputRow(name=name), reading)))
    return out


def _stored_alias(alias: str | None, owner: tuple[InputRow, str] | None) -> str | None:
    return f'{BY_OWNERSHIP}{owner[0].name} ~ {alias}' if owner else alias


def _match(screener: Screener, pid: str, scored: Any) -> Match:
    idx = next(i for i, (_, p) in enumerate(screener.index.parties) if p.id == pid)
    return screener.index.to_match(idx, scored, [])


def _party_name(lst: RestrictedList | None, pid: str) -> str | None:
    return next((p.name for p in lst.parties if p.id == pid), None) if lst is not None else None


def _single(key: str, lst: RestrictedList, threshold: float) -> Screener:
    """A Screener over one list: the kept index when `lst` is the current version of `key`."""
    if current_version(key) == lst.content_hash:
        return current_screener(key, threshold)
    return Screener([(key, lst)], threshold=threshold)


def current_version(key: str) -> str | None:
    """The content hash of a list's current version (the bundled list's for "default"); None if not held."""
    from screener.lists.catalog import find_version
    from screener.lists.partylist import default_list

    try:
        return default_list().content_hash if key == DEFAULT else find_version(key).content_hash
    except (KeyError, ValueError, OSError):
        return None


def current_screener(key: str, threshold: float) -> Screener:
    """A Screener over the current version of one monitored list."""
    if key == DEFAULT:
        return Screener.default(threshold=threshold)
    return Screener.from_catalog([key], threshold=threshold)


def parties_of(found: Iterable[Alert]) -> dict[int, Party]:
    """Alert id -> the listed party it is about, from the version its screening found it in (a party
    since removed: from the version before), for the sources a reviewer checks. Versions the catalog
    no longer holds give none."""
    held: dict[tuple[str, str], dict[str, Party]] = {}
    out: dict[int, Party] = {}
    for alert in found:
        for version in (alert.list_version, alert.previous_version):
            if not version:
                continue
            if (alert.list_key, version) not in held:
                lst = _stored_version(alert.list_key, version)
                held[alert.list_key, version] = {p.id: p for p in lst.parties} if lst else {}
            party = held[alert.list_key, version].get(alert.entity_id)
            if party is not None:
                out[alert.id] = party
                break
    return out


@contextmanager
def _exclusive() -> Iterator[None]:
    """One screening of the base at a time on this machine (see the module docstring)."""
    with open(home() / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _stored_version(key: str, content_hash: str) -> RestrictedList | None:
    """The list version the hits were screened against, if the catalog still holds it."""
    from screener.lists.catalog import load_named_list

    try:
        return load_named_list(key, content_hash)
    except (KeyError, ValueError, OSError):
        return None


def summary(screening: Screening) -> str:
    new = sum(1 for a in screening.alerts if a.is_new and a.state == "open")
    cleared = sum(1 for a in screening.alerts if a.state == "cleared")
    gone = sum(1 for a in screening.alerts if a.state == "vanished")
    sent = ", ".join(f"{u}: {'delivered' if ok else 'NOT delivered'}" for u, ok in screening.delivered.items())
    text = (f"monitor: {screening.list_key} {(screening.from_version or '-')[:16]} -> {screening.to_version[:16]}:"
            f" {screening.customers} customers, {new} new potential matches, {gone} vanished, {cleared} already cleared")
    return text + (f"; webhooks {sent}" if sent else "")


def after_update(name: str, *, db_url: str | None = None) -> list[str]:
    """Re-screen the base for list `name` when it is monitored; one summary line per screening."""
    url = sa.make_url(db_url or default_url())
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return []  # no audit database yet, so no monitored base: do not create one
    monitor = Monitor.open(db_url)
    try:
        return [summary(screening) for screening in monitor.run([name])]
    finally:
        monitor.close()
