"""The audit store: who screened what against which list version, and what was decided.

One `Store` over one SQLAlchemy engine (the SQLite file under SCREENER_HOME by default, or
PostgreSQL), brought up to date by `schema.migrate` when opened. Its concerns live in their own
modules and are mixed in here: accounts and policy (`users`), decisions and approvals
(`decisions`), the hash-chained trail (`audit`). This module holds the runs.

Runs are recorded while they stream: `Recorder.observe` buffers rows and inserts them in batches,
so a million-row run costs a few seconds and flat memory. A run row appears with the first batch
(status "running") and is completed by `finish`, which also appends the run, with a digest of its
rows, to the audit trail; a run that dies midway stays visible as such.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from pydantic import BaseModel, Field

from screener.home import DB_ENV, STORE_FILE, file_mode, home, private_dir
from screener.models import InputRow, Match, Ownership, RowResult, RunSummary, Status
from screener.review.audit import (
    ROW_DIGEST_COLUMNS,
    append_event,
    digest_line,
    run_event,
    start_chain,
    stored_rows_digest,
)
from screener.review.decisions import DecisionLog, customer_id_of
from screener.review.schema import (
    StoreError,
    migrate,
    now,
    run_rows,
    runs,
    schema_version,
)
from screener.review.users import UserAccounts

BATCH_ROWS = 5_000
SOURCES: tuple[str, ...] = ("cli", "api", "web")


# --- boundary models ------------------------------------------------------------------------------


class RunRecord(RunSummary):
    """A recorded run: its summary plus where it came from and whether it completed."""

    source: str
    status: str = "complete"
    finished_at: str | None = None
    error: str | None = None


class RunRow(BaseModel):
    """One screened row as recorded; `matches` holds the candidates' evidence for potential matches."""

    seq: int
    sheet: str
    row: int
    input_name: str | None
    country: str | None = None
    address: str | None = None
    status: Status
    score: float | None = None
    entity_id: str | None = None
    matched_alias: str | None = None
    list_key: str | None = None
    not_screened_reason: str | None = None
    review: str | None = None
    review_decision: Literal["false_positive", "confirmed"] | None = None
    customer_id: str | None = None
    matches: list[Match] = Field(default_factory=list)
    ownership: Ownership | None = None  # the Affiliates Rule outcome, when the row had owners


# --- the store ---------------------------------------------------------------------------------


def default_url() -> str:
    """`SCREENER_DB` when set, else the SQLite file in the home folder."""
    return os.environ.get(DB_ENV) or f"sqlite:///{home() / STORE_FILE}"


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    """SQLite with real transactions (pysqlite's implicit ones disabled), WAL and a busy timeout."""
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        if not path.parent.exists():
            private_dir(path.parent)
        # created here so that its mode is ours (SQLite gives its -wal and -shm files the same mode)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, file_mode(path)))
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # The busy timeout comes first, so every later statement waits for a lock instead of failing.
        # WAL is not set here: switching needs an exclusive lock, which a connection opened while
        # another process closes (and checkpoints) the database cannot get; it is set once, below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        if database and database != ":memory:":
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if database and database != ":memory:":
        _use_wal(engine)  # before the begin listener: the mode cannot change inside a transaction

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A writer takes the lock up front: upgrading a read lock later can fail without waiting.
        immediate = conn.get_execution_options().get("write_lock")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(engine: sa.Engine, patience: float = 60.0) -> None:
    """Put the database in WAL mode, once: the mode is kept in the file, so this only switches a
    new (or old rollback-mode) database. A racing process switching it first is waited for."""
    deadline = time.monotonic() + patience
    with engine.connect() as conn:
        while conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
            try:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class Store(UserAccounts, DecisionLog):
    """The audit store. Thread-safe: every call takes its own connection from the pool."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._hasher = PasswordHasher()  # argon2id with the library's current parameters
        self._dummy = None  # verified against for unknown users, so they cost the same

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Connect (default: `default_url()`) and bring the schema up to date."""
        parsed = sa.make_url(url or default_url())
        engine = _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else sa.create_engine(
            parsed, pool_pre_ping=True
        )
        migrate(engine)
        start_chain(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def _write(self) -> Any:
        return self.engine.connect().execution_options(write_lock=True)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    # -- runs ----------------------------------------------------------------------------------

    def recorder(self, user: str | None = None, source: str = "cli") -> Recorder:
        """Record one run: pass every result to `observe`, then the summary to `finish`."""
        if source not in SOURCES:
            raise StoreError(f"run source must be one of {', '.join(SOURCES)}")
        return Recorder(self, user, source)

    def list_runs(
        self, *, include_incomplete: bool = False, limit: int | None = None, viewer: str | None = None
    ) -> list[RunRecord]:
        """Runs, newest first; only completed ones unless asked; only those `viewer` may see."""
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc())
        if not include_incomplete:
            query = query.where(runs.c.status == "complete")
        if viewer is not None and not self.sees_every_run(viewer):
            query = query.where(runs.c.user == viewer)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_run_record(r) for r in conn.execute(query)]

    def get_run(self, run_id: str, viewer: str | None = None) -> RunRecord | None:
        """The run, or None when there is none or `viewer` may not see it (policy "owner")."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        if row is None or (viewer is not None and row.user != viewer and not self.sees_every_run(viewer)):
            return None
        return _run_record(row)

    def run_rows(
        self,
        run_id: str,
        *,
        status: Status | str | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: Literal["input", "score"] = "input",
    ) -> Iterator[RunRow]:
        """The run's rows in input order (or best score first), streamed from the database."""
        pk = self._run_pk(run_id)
        if pk is None:
            return
        query = sa.select(run_rows).where(run_rows.c.run == pk)
        if status is not None:
            query = query.where(run_rows.c.status == Status(status).value)
        if order == "score":
            query = query.order_by(run_rows.c.score.desc(), run_rows.c.seq)
        else:
            query = query.order_by(run_rows.c.seq)
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=2_000).execute(query)
            for r in result:
                yield _run_row(r)

    def get_run_row(self, run_id: str, seq: int) -> RunRow | None:
        pk = self._run_pk(run_id)
        if pk is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(run_rows).where(run_rows.c.run == pk, run_rows.c.seq == seq)
            ).first()
        return _run_row(row) if row else None

    def run_inputs(self, run_id: str) -> Iterator[InputRow]:
        """What the run's files held, row by row, ready to screen again."""
        for r in self.run_rows(run_id):
            yield InputRow(
                name=r.input_name,
                country=r.country,
                address=r.address,
                sheet=r.sheet,
                row=r.row,
                not_screened_reason=r.not_screened_reason,
            )

    def _run_pk(self, run_id: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(runs.c.id).where(runs.c.run_id == run_id)).scalar()


class Recorder:
    """Buffers a run's rows and writes them in batches; `finish` completes the run record."""

    def __init__(self, store: Store, user: str | None, source: str, batch: int = BATCH_ROWS) -> None:
        self.store = store
        self.user = user
        self.source = source
        self.batch = batch
        self.run_id = uuid.uuid4().hex[:12]  # provisional; `finish` adopts the summary's run id
        self.started_at = now()
        self.rows = 0
        self._pk: int | None = None
        self._buffer: list[dict[str, Any]] = []
        self._digest = hashlib.sha256()  # over the rows as written, for the audit trail
        self._state = "open"

    def observe(self, result: RowResult) -> None:
        if self._state != "open":
            raise RuntimeError(f"recorder is {self._state}")
        self.rows += 1
        best = result.matches[0] if result.matches else None
        potential = result.status is Status.POTENTIAL_MATCH
        self._buffer.append(
            {
                "seq": self.rows,
                "sheet": result.sheet,
                "row": result.row,
                "input_name": result.input_name,
                "country": result.input_country,
                "address": result.input_address,
                "status": result.status.value,
                "score": result.score,
                "entity_id": best.entity_id if best else None,
                "matched_alias": best.matched_alias if best else None,
                "list_key": best.list_key if best else None,
                "not_screened_reason": result.not_screened_reason,
                "review": result.review,
                "review_decision": result.review_decision,
                "matches": [m.model_dump(mode="json") for m in result.matches] if potential else None,
                "customer_id": customer_id_of(result.fields),
                "ownership": result.ownership.model_dump(mode="json") if result.ownership else None,
            }
        )
        line = self._buffer[-1]
        self._digest.update(digest_line([line[c] for c in ROW_DIGEST_COLUMNS]))
        if len(self._buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows (creating the run record with the first batch)."""
        with self.store._write() as conn, conn.begin():
            pk = self._pk if self._pk is not None else self._create(conn)
            if self._buffer:
                _insert_rows(conn, pk, self._buffer)
        self._pk, self._buffer = pk, []

    def _create(self, conn: sa.Connection) -> int:
        return conn.execute(
            runs.insert().values(
                run_id=self.run_id, status="running", user=self.user, source=self.source,
                started_at=self.started_at,
            )
        ).inserted_primary_key[0]

    def finish(self, summary: RunSummary) -> str:
        """Write what is left and complete the run record; returns the run id."""
        if self._state != "open":
            raise RuntimeError(f"recorder is {self._state}")
        if summary.rows_reported != self.rows:
            self.abort(f"{self.rows} rows recorded but the run reported {summary.rows_reported}")
            raise StoreError(f"run not recorded completely: {self.rows} rows recorded, "
                             f"{summary.rows_reported} reported")
        self.flush()
        with self.store._write() as conn, conn.begin():
            conn.execute(
                runs.update()
                .where(runs.c.id == self._pk)
                .values(
                    run_id=summary.run_id,
                    status="complete",
                    user=self.user or summary.user,
                    finished_at=now(),
                    duration_seconds=summary.duration_seconds,
                    tool_version=summary.tool_version,
                    threshold=summary.threshold,
                    inputs=[i.model_dump(mode="json") for i in summary.inputs],
                    lists=[info.model_dump(mode="json") for info in summary.lists],
                    counts=dict(summary.counts),
                    rows_read=summary.rows_read,
                    rows_reported=summary.rows_reported,
                    columns=[c.model_dump(mode="json") for c in summary.columns],
                    warnings=list(summary.warnings),
                    notes=list(summary.notes),
                )
            )
            self._audit(conn, self.user or summary.user)
        self.run_id = summary.run_id
        self._state = "finished"
        return summary.run_id

    def abort(self, reason: str = "the run failed") -> None:
        """Record the run as failed, with the rows screened so far as evidence; idempotent.

        A signal lands anywhere in the main thread, also inside `flush` after its commit and before
        its buffer was emptied: the run record and rows are taken as stored, only the buffered rows not
        yet there are written, and the failure is recorded in the same transaction, so a cut run can
        never be left "running" by a second write of rows already in."""
        if self._state != "open":
            return
        self._state = "aborted"
        if self.rows == 0:
            return  # nothing was screened (e.g. the file was refused): nothing to record
        with self.store._write() as conn, conn.begin():
            pk = conn.execute(sa.select(runs.c.id).where(runs.c.run_id == self.run_id)).scalar()
            self._pk = pk if pk is not None else self._create(conn)
            stored = conn.execute(
                sa.select(sa.func.max(run_rows.c.seq)).where(run_rows.c.run == self._pk)
            ).scalar() or 0
            pending = [item for item in self._buffer if item["seq"] > stored]
            if pending:
                _insert_rows(conn, self._pk, pending)
            conn.execute(
                runs.update().where(runs.c.id == self._pk).values(
                    status="failed", finished_at=now(), error=reason[:1000]
                )
            )
            # the rows as stored: a signal between buffering a row and digesting it must not make
            # the evidence of a cut run look edited
            self._audit(conn, self.user, stored_rows_digest(conn, self._pk))
        self._buffer = []

    def _audit(self, conn: sa.Connection, user: str | None, digest: str | None = None) -> None:
        """The run as it now stands, with the digest of its rows, appended to the audit trail."""
        row = conn.execute(sa.select(runs).where(runs.c.id == self._pk)).one()
        append_event(conn, user, "run", row.run_id, run_event(row, digest or self._digest.hexdigest()))


_ROW_KEYS = (
    "seq", "sheet", "row", "input_name", "country", "address", "status", "score", "entity_id",
    "matched_alias", "list_key", "not_screened_reason", "review", "review_decision", "matches", "customer_id",
    "ownership",
)


def _insert_rows(conn: sa.Connection, run_pk: int, rows: list[dict[str, Any]]) -> None:
    """One driver-level executemany: SQLAlchemy's per-row parameter processing would cost as much
    as the screening itself on a million rows. Only the JSON columns need converting (to text)."""
    compiled = run_rows.insert().compile(dialect=conn.dialect, column_keys=["run", *_ROW_KEYS])
    # New dicts, not the buffered ones: a write cut short (a signal) is written again by `abort`,
    # and must not find its JSON columns encoded twice.
    encoded = [{**item, "run": run_pk, **{k: json.dumps(item[k], ensure_ascii=False)
                                          for k in ("matches", "ownership") if item[k] is not None}}
               for item in rows]
    if compiled.positional:
        order = compiled.positiontup or []
        params: list[Any] = [tuple(item[k] for k in order) for item in encoded]
    else:
        params = encoded
    conn.exec_driver_sql(str(compiled), params)


def _run_record(r: sa.Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=r.run_id,
        tool_version=r.tool_version or "",
        started_at=r.started_at.isoformat(timespec="seconds"),
        duration_seconds=r.duration_seconds or 0.0,
        threshold=r.threshold if r.threshold is not None else 0.0,
        inputs=_json(r.inputs) or [],
        lists=_json(r.lists) or [],
        counts=_json(r.counts) or {},
        rows_read=r.rows_read or 0,
        rows_reported=r.rows_reported or 0,
        columns=_json(r.columns) or [],
        warnings=_json(r.warnings) or [],
        notes=_json(r.notes) or [],
        user=r.user,
        source=r.source,
        status=r.status,
        finished_at=r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
        error=r.error,
    )


def _run_row(r: sa.Row[Any]) -> RunRow:
    data = r._asdict()
    data.pop("run", None)
    data["matches"] = _json(data.get("matches")) or []
    data["ownership"] = _json(data.get("ownership"))
    return RunRow.model_validate(data)


def _json(value: Any) -> Any:
    """JSON columns come back decoded; tolerate a driver that hands back text."""
    return json.loads(value) if isinstance(value, str) else value


