"""The audit store's tables and the ordered migrations that build them.

SQLAlchemy Core over portable types only, so the same schema lives in the default SQLite file and
in PostgreSQL. `migrate` applies the steps a database has not seen yet, recording each in
`schema_version`, inside one transaction holding the write lock, so two processes opening at once
migrate once. Each step is frozen once released: it describes the tables as they were at that
version, never the current `metadata`, so a fresh database and an upgraded one end up identical.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa


class StoreError(ValueError):
    """A request the store refuses (unknown user, empty comment, ...), explained in one line.

    `code` names the rule for shells that show only fixed texts (the page's messages)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


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


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def create_tables(engine: sa.Engine, *tables: sa.MetaData) -> None:
    """Create whichever of `tables` are missing, holding the write lock from the start. The checks
    read first; in WAL mode a read transaction that another writer commits past cannot become a
    write, and SQLite fails it at once ("database is locked") instead of waiting its busy timeout.
    Call it once, where the tables' owner opens the database: every call waits for the write lock."""
    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        for metadata in tables:
            metadata.create_all(conn, checkfirst=True)


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
    sa.Column("role", sa.String(16), nullable=False, server_default="analyst"),  # version 3
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
    sa.Column("columns", sa.JSON),  # [SheetColumns]: which column was screened as what, and why
    sa.Column("warnings", sa.JSON),  # [str]: the run's warnings (a doubtful column, an empty country column)
    sa.Column("notes", sa.JSON),  # [str]: what reading did (blank rows skipped, titles, names cut)
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
    # version 3
    sa.Column("customer_id", sa.Text),
    # version 4
    sa.Column("ownership", sa.JSON(none_as_null=True)),  # the Affiliates Rule outcome, for rows with owners
)
sa.Index("ix_run_rows_status", run_rows.c.run, run_rows.c.status)

def _decision_evidence() -> tuple[sa.Column, ...]:  # type: ignore[type-arg]
    """Version 3's decision columns: the evidence a decision was made on, and whether it needs a
    second person. A function, because a Column belongs to one table (the table and its migration)."""
    return (
        sa.Column("country", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("customer_id", sa.Text),
        sa.Column("country_key", sa.Text),
        sa.Column("address_key", sa.Text),
        sa.Column("list_hash", sa.String(64)),
        sa.Column("list_version", sa.Text),
        sa.Column("score", sa.Float),
        sa.Column("strong", sa.Boolean),
        sa.Column("role", sa.String(16)),
        sa.Column("run_id", sa.String(64)),
    )


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
    *_decision_evidence(),  # version 3
)
sa.Index("ix_decisions_entity", decisions.c.entity_id, decisions.c.list_key)
sa.Index("ix_decisions_lookup", decisions.c.entity_id, decisions.c.list_key, decisions.c.input_key, decisions.c.id)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("approved_at", UTCDateTime, nullable=False),
    sa.Column("comment", sa.Text),
)
sa.Index("ix_approvals_decision", approvals.c.decision_id)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, 3... no gaps
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200)),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("details", sa.Text, nullable=False),  # canonical JSON, hashed as stored
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
sa.Index("ix_audit_log_at", audit_log.c.at)

policy = sa.Table(
    "policy",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200)),
)


# --- migrations -----------------------------------------------------------------------------------


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


def _add_columns(conn: sa.Connection, table: str, columns: tuple[sa.Column, ...]) -> None:  # type: ignore[type-arg]
    for column in columns:
        ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def _v2(conn: sa.Connection) -> None:
    """Rows keep address and reason (so a rescreen sees what the file held), the review shown, and
    the candidates' evidence for potential matches (so a results page can be shown later); indexes
    for the results page and decision lookups."""
    _add_columns(conn, "run_rows", (
        sa.Column("address", sa.Text),
        sa.Column("not_screened_reason", sa.Text),
        sa.Column("review", sa.Text),
        sa.Column("review_decision", sa.String(16)),
        sa.Column("matches", sa.JSON),
    ))
    m = sa.MetaData()
    rr = sa.Table("run_rows", m, sa.Column("run", sa.Integer), sa.Column("status", sa.String(16)))
    dd = sa.Table("decisions", m, sa.Column("entity_id", sa.String(200)), sa.Column("list_key", sa.String(200)))
    sa.Index("ix_run_rows_status", rr.c.run, rr.c.status).create(conn)
    sa.Index("ix_decisions_entity", dd.c.entity_id, dd.c.list_key).create(conn)


def _v3(conn: sa.Connection) -> None:
    """Roles; decisions bound to their evidence (country, address, customer id, list version) with
    four-eyes approvals; the hash-chained audit log; the admin's policy settings. Decisions logged
    before this version carry no evidence and so hold for nothing until made again."""
    _add_columns(conn, "users", (sa.Column("role", sa.String(16), nullable=False, server_default="analyst"),))
    _add_columns(conn, "run_rows", (sa.Column("customer_id", sa.Text),))
    _add_columns(conn, "decisions", _decision_evidence())
    m = sa.MetaData()
    dd = sa.Table(
        "decisions", m, sa.Column("id", sa.Integer, primary_key=True), sa.Column("entity_id", sa.String(200)),
        sa.Column("list_key", sa.String(200)), sa.Column("input_key", sa.Text),
    )
    sa.Index("ix_decisions_lookup", dd.c.entity_id, dd.c.list_key, dd.c.input_key, dd.c.id).create(conn)
    ap = sa.Table(
        "approvals", m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id"), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("approved_at", UTCDateTime, nullable=False),
        sa.Column("comment", sa.Text),
    )
    log = sa.Table(
        "audit_log", m,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    sa.Table(
        "policy", m,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200)),
    )
    m.create_all(conn, tables=[m.tables["approvals"], m.tables["audit_log"], m.tables["policy"]])
    sa.Index("ix_approvals_decision", ap.c.decision_id).create(conn)
    sa.Index("ix_audit_log_at", log.c.at).create(conn)


def _v4(conn: sa.Connection) -> None:
    """Rows keep their ownership outcome (the 50 percent Affiliates Rule, with its chains), so the
    results page and the audit export show why a row is a potential match by ownership. Rows
    recorded before this version had no owners recorded: NULL."""
    _add_columns(conn, "run_rows", (sa.Column("ownership", sa.JSON),))


def _v5(conn: sa.Connection) -> None:
    """Runs keep which column was screened as what, their warnings and the readers' notes, so a run
    looked at later shows what its report's Summary sheet showed. Runs recorded before: NULL."""
    _add_columns(conn, "runs", (sa.Column("columns", sa.JSON), sa.Column("warnings", sa.JSON),
                                sa.Column("notes", sa.JSON)))


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5)
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
            conn.execute(schema_version.insert().values(version=version, applied_at=now()))
        return max(current, target)
