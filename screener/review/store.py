"""The audit store: who screened what against which list version, and who cleared which match.

SQLAlchemy Core over portable types only, so the same code runs on the default SQLite file under
SCREENER_HOME and on PostgreSQL. The tool owns its schema: `Store.open` applies the ordered
`MIGRATIONS` that the database has not seen yet, recording each in `schema_version`, inside one
transaction that holds the database's write lock, so two processes opening at once migrate once.

Runs are recorded while they stream: `Recorder.observe` buffers rows and inserts them in batches,
so a million-row run costs a few seconds and flat memory. A run row appears with the first batch
(status "running") and is completed by `finish`; a run that dies midway stays visible as such.

Decisions are an append-only log. The newest decision for (normalised input name, entity, list)
is the one in force, and it applies only while the party record and the threshold it was made
against are unchanged: when the list edits the party, or the threshold moves, the match must be
looked at again.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, Field

from screener.home import home
from screener.models import InputRow, Match, Party, RowResult, RunSummary, Status
from screener.names.normalize import normalize

if TYPE_CHECKING:
    from screener.screening import Screener

DB_ENV = "SCREENER_DB"
BATCH_ROWS = 5_000
MIN_PASSWORD_CHARS = 8
Decision = Literal["false_positive", "confirmed"]
DECISIONS: tuple[str, ...] = ("false_positive", "confirmed")
SOURCES: tuple[str, ...] = ("cli", "api", "web")


class StoreError(ValueError):
    """A request the store refuses (unknown user, empty comment, ...), explained in one line."""


# --- types ----------------------------------------------------------------------------------------


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, stored naive so every backend agrees."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the audit store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- schema (current) -----------------------------------------------------------------------------

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),  # running | complete | failed
    sa.Column("user", sa.String(200)),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("tool_version", sa.String(40)),
    sa.Column("threshold", sa.Float),
    sa.Column("inputs", sa.JSON),  # [InputInfo]: file names, SHA-256, rows per sheet
    sa.Column("lists", sa.JSON),  # [ListInfo]: list versions and content hashes
    sa.Column("counts", sa.JSON),
    sa.Column("rows_read", sa.Integer),
    sa.Column("rows_reported", sa.Integer),
    sa.Column("error", sa.Text),
)

run_rows = sa.Table(
    "run_rows",
    metadata,
    sa.Column("run", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),  # 1-based, input order
    sa.Column("sheet", sa.Text, nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("input_name", sa.Text),
    sa.Column("country", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("entity_id", sa.String(200)),
    sa.Column("matched_alias", sa.Text),
    sa.Column("list_key", sa.String(200)),
    # version 2
    sa.Column("address", sa.Text),
    sa.Column("not_screened_reason", sa.Text),
    sa.Column("review", sa.Text),
    sa.Column("review_decision", sa.String(16)),
    sa.Column("matches", sa.JSON(none_as_null=True)),  # every candidate with evidence, for potential matches only
)
sa.Index("ix_run_rows_status", run_rows.c.run, run_rows.c.status)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("input_key", sa.Text, nullable=False),  # normalize(name).text
    sa.Column("input_name", sa.Text, nullable=False),  # as the analyst saw it
    sa.Column("entity_id", sa.String(200), nullable=False),
    sa.Column("list_key", sa.String(200), nullable=False),
    sa.Column("party_hash", sa.String(64), nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
)
sa.Index("ix_decisions_entity", decisions.c.entity_id, decisions.c.list_key)


# --- migrations -----------------------------------------------------------------------------------
# Each step is frozen once released: it describes the tables as they were at that version, never the
# current `metadata`, so a fresh database and an upgraded one end up identical.


def _v1(conn: sa.Connection) -> None:
    """Users, runs, one line per screened row, and the decision log."""
    m = sa.MetaData()
    sa.Table(
        "users", m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        "runs", m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user", sa.String(200)),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("tool_version", sa.String(40)),
        sa.Column("threshold", sa.Float),
        sa.Column("inputs", sa.JSON),
        sa.Column("lists", sa.JSON),
        sa.Column("counts", sa.JSON),
        sa.Column("rows_read", sa.Integer),
        sa.Column("rows_reported", sa.Integer),
        sa.Column("error", sa.Text),
    )
    sa.Table(
        "run_rows", m,
        sa.Column("run", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sheet", sa.Text, nullable=False),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("input_name", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("entity_id", sa.String(200)),
        sa.Column("matched_alias", sa.Text),
        sa.Column("list_key", sa.String(200)),
    )
    sa.Table(
        "decisions", m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("input_key", sa.Text, nullable=False),
        sa.Column("input_name", sa.Text, nullable=False),
        sa.Column("entity_id", sa.String(200), nullable=False),
        sa.Column("list_key", sa.String(200), nullable=False),
        sa.Column("party_hash", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("decided_at", UTCDateTime, nullable=False),
    )
    m.create_all(conn)


def _v2(conn: sa.Connection) -> None:
    """Rows keep address and reason (so a rescreen sees what the file held), the review shown, and
    the candidates' evidence for potential matches (so a results page can be shown later); indexes
    for the results page and decision lookups."""
    for column in (
        sa.Column("address", sa.Text),
        sa.Column("not_screened_reason", sa.Text),
        sa.Column("review", sa.Text),
        sa.Column("review_decision", sa.String(16)),
        sa.Column("matches", sa.JSON),
    ):
        ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE run_rows ADD COLUMN {ddl}"))
    m = sa.MetaData()
    rr = sa.Table("run_rows", m, sa.Column("run", sa.Integer), sa.Column("status", sa.String(16)))
    dd = sa.Table("decisions", m, sa.Column("entity_id", sa.String(200)), sa.Column("list_key", sa.String(200)))
    sa.Index("ix_run_rows_status", rr.c.run, rr.c.status).create(conn)
    sa.Index("ix_decisions_entity", dd.c.entity_id, dd.c.list_key).create(conn)


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(engine: sa.Engine, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to `target` in one locked transaction; return the version reached."""
    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7312025)"))
        schema_version.create(conn, checkfirst=True)
        current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the audit store is at schema version {current}, newer than this screener "
                f"understands ({SCHEMA_VERSION}); upgrade screener"
            )
        for version in range(current + 1, target + 1):
            MIGRATIONS[version - 1](conn)
            conn.execute(schema_version.insert().values(version=version, applied_at=_now()))
        return max(current, target)


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
    review_decision: Decision | None = None
    matches: list[Match] = Field(default_factory=list)


class DecisionRecord(BaseModel):
    """One analyst decision, as logged."""

    id: int
    input_name: str
    input_key: str
    entity_id: str
    list_key: str
    party_hash: str
    threshold: float
    decision: Decision
    comment: str
    user: str
    decided_at: datetime

    def review_text(self) -> str:
        verb = "cleared" if self.decision == "false_positive" else "confirmed"
        return f"{verb} by {self.user} on {self.decided_at.date().isoformat()}: {self.comment}"


class UserInfo(BaseModel):
    name: str
    created_at: datetime


def party_hash(party: Party) -> str:
    """Identifies the exact party record a decision was made against."""
    return hashlib.sha256(party.model_dump_json().encode("utf-8")).hexdigest()


def input_key(name: str | None) -> str:
    """The form of an input name decisions are keyed on: spelling and legal-form noise removed."""
    return normalize(name).text


def _same_threshold(a: float, b: float) -> bool:
    return round(float(a), 6) == round(float(b), 6)


# --- the store ------------------------------------------------------------------------------------


def default_url() -> str:
    """`SCREENER_DB` when set, else the SQLite file in the home folder."""
    return os.environ.get(DB_ENV) or f"sqlite:///{home() / 'screener.db'}"


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    """SQLite with real transactions (pysqlite's implicit ones disabled), WAL and a busy timeout."""
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A writer takes the lock up front: upgrading a read lock later can fail without waiting.
        immediate = conn.get_execution_options().get("write_lock")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """The audit store. Thread-safe: every call takes its own connection from the pool."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._hasher = PasswordHasher()  # argon2id with the library's current parameters
        self._dummy: str | None = None  # verified against for unknown users, so they cost the same

    @classmethod
    def open(cls, url: str | None = None) -> Store:
        """Connect (default: `default_url()`) and bring the schema up to date."""
        parsed = sa.make_url(url or default_url())
        engine = _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else sa.create_engine(
            parsed, pool_pre_ping=True
        )
        migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def _write(self) -> Any:
        return self.engine.connect().execution_options(write_lock=True)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create a user; the password is kept only as an argon2id hash."""
        name = name.strip()
        if not name or len(name) > 200 or any(ord(ch) < 32 for ch in name):
            raise StoreError("a user name must be 1 to 200 printable characters")
        if len(password) < MIN_PASSWORD_CHARS:
            raise StoreError(f"a password must have at least {MIN_PASSWORD_CHARS} characters")
        digest = self._hasher.hash(password)
        with self._write() as conn, conn.begin():
            if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first():
                raise StoreError(f"user {name!r} already exists")
            conn.execute(users.insert().values(name=name, password_hash=digest, created_at=_now()))

    def verify_user(self, name: str, password: str) -> bool:
        """True when the password is right; an unknown user costs the same hashing time."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.id, users.c.password_hash).where(users.c.name == name.strip())
            ).first()
        if row is None and self._dummy is None:
            self._dummy = self._hasher.hash(uuid.uuid4().hex)
        try:
            self._hasher.verify(row.password_hash if row else self._dummy, password)  # type: ignore[arg-type]
        except (VerificationError, InvalidHashError):
            return False
        if row is None:
            return False
        if self._hasher.check_needs_rehash(row.password_hash):
            with self._write() as conn, conn.begin():
                conn.execute(
                    users.update().where(users.c.id == row.id).values(password_hash=self._hasher.hash(password))
                )
        return True

    def user_exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None

    def list_users(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users.c.name, users.c.created_at).order_by(users.c.name))
            return [UserInfo(name=r.name, created_at=r.created_at) for r in rows]

    # -- runs ----------------------------------------------------------------------------------

    def recorder(self, user: str | None = None, source: str = "cli") -> Recorder:
        """Record one run: pass every result to `observe`, then the summary to `finish`."""
        if source not in SOURCES:
            raise StoreError(f"run source must be one of {', '.join(SOURCES)}")
        return Recorder(self, user, source)

    def list_runs(self, *, include_incomplete: bool = False, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first; only completed ones unless asked."""
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc())
        if not include_incomplete:
            query = query.where(runs.c.status == "complete")
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_run_record(r) for r in conn.execute(query)]

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        return _run_record(row) if row else None

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

    # -- decisions -----------------------------------------------------------------------------

    def decide(
        self,
        user: str,
        input_name: str,
        entity_id: str,
        list_key: str,
        party: Party,
        threshold: float,
        decision: Decision | str,
        comment: str,
    ) -> DecisionRecord:
        """Log an analyst's decision on one (input name, party) pair; it applies to later runs."""
        if decision not in DECISIONS:
            raise StoreError("decision must be false_positive or confirmed")
        comment = (comment or "").strip()
        if not comment:
            raise StoreError("a comment is required: say why")
        if not user or not user.strip():
            raise StoreError("a decision needs the name of who made it")
        key = input_key(input_name)
        if not key:
            raise StoreError("the input name has no letters or digits to match on")
        if party.id != entity_id:
            raise StoreError(f"party record {party.id!r} is not entity {entity_id!r}")
        values: dict[str, Any] = dict(
            input_key=key,
            input_name=input_name,
            entity_id=entity_id,
            list_key=list_key,
            party_hash=party_hash(party),
            threshold=float(threshold),
            decision=decision,
            comment=comment,
            user=user.strip(),
            decided_at=_now(),
        )
        with self._write() as conn, conn.begin():
            new_id = conn.execute(decisions.insert().values(**values)).inserted_primary_key[0]
        return DecisionRecord.model_validate({"id": new_id, **values})

    def list_decisions(self) -> list[DecisionRecord]:
        """The whole decision log, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(decisions).order_by(decisions.c.decided_at, decisions.c.id))
            return [DecisionRecord.model_validate(r._asdict()) for r in rows]

    def current_decisions(self) -> dict[tuple[str, str, str], DecisionRecord]:
        """The decision in force per (input key, entity id, list key): the newest one."""
        latest: dict[tuple[str, str, str], DecisionRecord] = {}
        for d in self.list_decisions():
            latest[(d.input_key, d.entity_id, d.list_key)] = d
        return latest

    def apply_decisions(self, results: Iterable[RowResult], screener: Screener) -> Iterator[RowResult]:
        """Mark potential matches that analysts decided on, as long as each decision still holds.

        A row is cleared (`review_decision="false_positive"`, no longer an alert) only when every
        candidate above the threshold was cleared; any confirmed candidate makes it "confirmed".
        Partly cleared rows keep their alert and say which candidates were cleared.
        """
        decided = self.current_decisions()
        if not decided:
            yield from results
            return
        parties = {(key, p.id): p for key, lst in screener.lists for p in lst.parties}
        hashes: dict[tuple[str, str], str] = {}

        def valid(match: Match, key: str) -> DecisionRecord | None:
            d = decided.get((key, match.entity_id, match.list_key))
            if d is None or not _same_threshold(d.threshold, screener.threshold):
                return None
            pkey = (match.list_key, match.entity_id)
            if pkey not in hashes:
                party = parties.get(pkey)
                hashes[pkey] = party_hash(party) if party else ""
            return d if d.party_hash == hashes[pkey] else None

        for result in results:
            if result.status is not Status.POTENTIAL_MATCH or not result.matches:
                yield result
                continue
            key = input_key(result.input_name)
            found = [(m, valid(m, key)) for m in result.matches]
            applied = [(m, d) for m, d in found if d is not None]
            if not applied:
                yield result
                continue
            if len(found) == 1:
                review = applied[0][1].review_text()
            else:
                review = "; ".join(f"{m.entity_id}: {d.review_text()}" for m, d in applied)
                undecided = [m.entity_id for m, d in found if d is None]
                if undecided:
                    review += "; not reviewed: " + ", ".join(undecided)
            kinds = {d.decision for _, d in applied}
            if "confirmed" in kinds:
                outcome: Decision | None = "confirmed"
            elif len(applied) == len(found):
                outcome = "false_positive"
            else:
                outcome = None
            yield result.model_copy(update={"review": review, "review_decision": outcome})


class Recorder:
    """Buffers a run's rows and writes them in batches; `finish` completes the run record."""

    def __init__(self, store: Store, user: str | None, source: str, batch: int = BATCH_ROWS) -> None:
        self.store = store
        self.user = user
        self.source = source
        self.batch = batch
        self.run_id = uuid.uuid4().hex[:12]  # provisional; `finish` adopts the summary's run id
        self.started_at = _now()
        self.rows = 0
        self._pk: int | None = None
        self._buffer: list[dict[str, Any]] = []
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
            }
        )
        if len(self._buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows (creating the run record with the first batch)."""
        with self.store._write() as conn, conn.begin():
            if self._pk is None:
                self._pk = conn.execute(
                    runs.insert().values(
                        run_id=self.run_id,
                        status="running",
                        user=self.user,
                        source=self.source,
                        started_at=self.started_at,
                    )
                ).inserted_primary_key[0]
            if self._buffer:
                _insert_rows(conn, self._pk, self._buffer)
        self._buffer = []

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
                    finished_at=_now(),
                    duration_seconds=summary.duration_seconds,
                    tool_version=summary.tool_version,
                    threshold=summary.threshold,
                    inputs=[i.model_dump(mode="json") for i in summary.inputs],
                    lists=[info.model_dump(mode="json") for info in summary.lists],
                    counts=dict(summary.counts),
                    rows_read=summary.rows_read,
                    rows_reported=summary.rows_reported,
                )
            )
        self.run_id = summary.run_id
        self._state = "finished"
        return summary.run_id

    def abort(self, reason: str = "the run failed") -> None:
        """Record the run as failed, with the rows screened so far as evidence; idempotent."""
        if self._state != "open":
            return
        self._state = "aborted"
        if self.rows == 0:
            return  # nothing was screened (e.g. the file was refused): nothing to record
        self.flush()
        with self.store._write() as conn, conn.begin():
            conn.execute(
                runs.update().where(runs.c.id == self._pk).values(
                    status="failed", finished_at=_now(), error=reason[:1000]
                )
            )


_ROW_KEYS = (
    "seq", "sheet", "row", "input_name", "country", "address", "status", "score", "entity_id",
    "matched_alias", "list_key", "not_screened_reason", "review", "review_decision", "matches",
)


def _insert_rows(conn: sa.Connection, run_pk: int, rows: list[dict[str, Any]]) -> None:
    """One driver-level executemany: SQLAlchemy's per-row parameter processing would cost as much
    as the screening itself on a million rows. Only `matches` needs converting (to JSON text)."""
    compiled = run_rows.insert().compile(dialect=conn.dialect, column_keys=["run", *_ROW_KEYS])
    for item in rows:
        item["run"] = run_pk
        if item["matches"] is not None:
            item["matches"] = json.dumps(item["matches"], ensure_ascii=False)
    if compiled.positional:
        order = compiled.positiontup or []
        params: list[Any] = [tuple(item[k] for k in order) for item in rows]
    else:
        params = rows
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
    return RunRow.model_validate(data)


def _json(value: Any) -> Any:
    """JSON columns come back decoded; tolerate a driver that hands back text."""
    return json.loads(value) if isinstance(value, str) else value


# --- audit export ---------------------------------------------------------------------------------

EXPORT_TABLES: tuple[str, ...] = ("rows", "runs", "decisions")
ROW_FIELDS = (
    "run_id", "run_started_at", "user", "source", "sheet", "row", "input_name", "country",
    "address", "status", "score", "entity_id", "matched_alias", "list_key",
    "not_screened_reason", "review",
)
RUN_FIELDS = (
    "run_id", "status", "started_at", "finished_at", "user", "source", "threshold", "inputs",
    "lists", "potential_match", "clear", "not_screened", "rows_read", "rows_reported",
    "duration_seconds", "tool_version", "error",
)
DECISION_FIELDS = (
    "decided_at", "user", "input_name", "input_key", "entity_id", "list_key", "decision",
    "comment", "threshold", "party_hash", "in_force",
)
XLSX_MAX_ROWS = 1_048_575  # data rows per sheet under the header
XLSX_MAX_CHARS = 32_767


def _run_line(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "user": run.user,
        "source": run.source,
        "threshold": run.threshold,
        "inputs": " | ".join(f"{i.file_name} (sha256 {i.sha256})" for i in run.inputs),
        "lists": " | ".join(
            f"{li.key}: {li.name} {li.version} (sha256 {li.content_hash})" for li in run.lists
        ),
        "potential_match": run.counts.get("potential_match", 0),
        "clear": run.counts.get("clear", 0),
        "not_screened": run.counts.get("not_screened", 0),
        "rows_read": run.rows_read,
        "rows_reported": run.rows_reported,
        "duration_seconds": run.duration_seconds,
        "tool_version": run.tool_version,
        "error": run.error,
    }


def _audit_lines(store: Store, table: str, run_id: str | None) -> Iterator[dict[str, Any]]:
    if table == "decisions":
        log = store.list_decisions()
        in_force = {d.id for d in store.current_decisions().values()}
        for d in log:
            line = d.model_dump()
            line["decided_at"] = d.decided_at.isoformat()
            line["in_force"] = "yes" if d.id in in_force else "superseded"
            yield line
        return
    chosen = [store.get_run(run_id)] if run_id else store.list_runs(include_incomplete=True)
    for run in chosen:
        if run is None:
            continue
        if table == "runs":
            yield _run_line(run)
            continue
        for r in store.run_rows(run.run_id):
            line = r.model_dump(exclude={"matches"})
            line.update(run_id=run.run_id, run_started_at=run.started_at, user=run.user, source=run.source)
            line["status"] = r.status.value
            yield line


def export_audit(store: Store, output: str | Path, *, run_id: str | None = None, table: str = "rows") -> int:
    """Write the audit trail to .csv (one `table`) or .xlsx (runs, decisions and rows sheets).

    Text that a spreadsheet would run as a formula stays text: csv cells get a leading `'`, xlsx
    cells are written as string cells. Returns the number of lines written (all sheets).
    """
    from screener.files.writers import StagedFile, inert

    path = Path(output)
    if run_id is not None and store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in the audit store")
    if table not in EXPORT_TABLES:
        raise StoreError(f"table must be one of {', '.join(EXPORT_TABLES)}")
    fields = {"rows": ROW_FIELDS, "runs": RUN_FIELDS, "decisions": DECISION_FIELDS}
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise StoreError("the export must be a .csv or .xlsx file")
    staged = StagedFile(path)
    written = 0
    try:
        if suffix == ".csv":
            import csv

            with open(staged.path, "w", encoding="utf-8-sig", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(fields[table])
                for line in _audit_lines(store, table, run_id):
                    out.writerow(["" if line.get(f) is None else inert(line.get(f)) for f in fields[table]])
                    written += 1
        else:
            import xlsxwriter

            book = xlsxwriter.Workbook(
                str(staged.path),
                {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                 "strings_to_numbers": False},
            )
            bold = book.add_format({"bold": True})
            for name in ("runs", "decisions", "rows"):
                sheet, n, page = None, XLSX_MAX_ROWS, 0
                for line in _audit_lines(store, name, run_id):
                    if n >= XLSX_MAX_ROWS:
                        page += 1
                        sheet = book.add_worksheet(name.title() + (f" ({page})" if page > 1 else ""))
                        sheet.write_row(0, 0, fields[name], bold)
                        n = 0
                    n += 1
                    written += 1
                    for col, f in enumerate(fields[name]):
                        _xlsx_cell(sheet, n, col, line.get(f))
                if sheet is None:
                    book.add_worksheet(name.title()).write_row(0, 0, fields[name], bold)
            book.close()
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    return written


def _xlsx_cell(sheet: Any, row: int, col: int, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, str(value)[:XLSX_MAX_CHARS])
