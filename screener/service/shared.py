"""What every server process shares, kept in the store: sessions, sign-in counters and jobs, and
the process recording each CLI run with its heartbeat (`screener.service.runs`).

With `serve --workers N` each request may land on any process, so nothing a later request needs may
live in one process's memory. These tables sit in the audit store's database (SQLite by default,
PostgreSQL the same way) with their own schema version (`svc_schema`), created here and never by
the audit store's migrations. Times are epoch seconds (floats), compared in SQL.

Sign-in counters are reserved before the password is checked, in one UPDATE ... RETURNING, so forty
concurrent guesses on two workers get exactly `limit` tries between them; a success gives its
reservation back. Counters are kept per account and address, per address and per account, each
with its own limit, and a lock ends by itself after `LOCK_SECONDS` (or `unlock`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from screener.home import home

SCHEMA_VERSION = 2  # 2: svc_runs
SECRET_FILE = "secret_key"
FAILED_WINDOW = 15 * 60  # sign-in attempts are counted over this window...
LOCK_SECONDS = 15 * 60  # ... and a scope over its limit is locked this long
SIGNIN_LIMITS = {"pair": 5, "addr": 20, "user": 50}  # account at one address; one address; one account
HOST = socket.gethostname()[:200]

metadata = sa.MetaData()

svc_schema = sa.Table(
    "svc_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

svc_sessions = sa.Table(
    "svc_sessions",
    metadata,
    sa.Column("sid", sa.String(64), primary_key=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("revoked_at", sa.Float),
)

svc_signin = sa.Table(
    "svc_signin",
    metadata,
    sa.Column("scope", sa.String(500), primary_key=True),  # "user:NAME", "addr:IP" or "pair:NAME|IP"
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float),
)

svc_jobs = sa.Table(
    "svc_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # web | api
    sa.Column("user", sa.String(200), nullable=False, index=True),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("state", sa.String(12), nullable=False, index=True),  # columns|queued|running|done|failed|cancelled
    sa.Column("host", sa.String(200), nullable=False),  # the job's folder is on this machine
    sa.Column("workdir", sa.String(1000), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: input path, options, output format, record
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),  # upload bytes: the small-job lane
    sa.Column("total", sa.Integer),  # estimated rows, for the progress bar
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("run_id", sa.String(64)),
    sa.Column("result", sa.Text),  # JSON summary of a finished API job
    sa.Column("owner", sa.String(300)),  # "host:pid" of the server process running it
    sa.Column("cancel", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("ended_at", sa.Float),
)

svc_runs = sa.Table(  # the process recording a CLI run, and its heartbeat (screener.service.runs)
    "svc_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False, index=True),
)

ACTIVE = ("queued", "opening", "running")
WORKING = ("opening", "running")


class JobRow(BaseModel):
    id: str
    kind: str
    user: str
    file_name: str
    state: str
    host: str
    workdir: str
    spec: dict[str, Any]
    size: int = 0
    total: int | None = None
    rows: int = 0
    error: str | None = None
    run_id: str | None = None
    result: str | None = None
    owner: str | None = None
    cancel: bool = False
    created_at: float
    started_at: float | None = None
    heartbeat_at: float | None = None
    ended_at: float | None = None

    @property
    def folder(self) -> Path:
        return Path(self.workdir)


def _job(row: Any) -> JobRow:
    data = dict(row._mapping)
    data["spec"] = json.loads(data["spec"])
    return JobRow.model_validate(data)


def secret_key(configured: str | None) -> str:
    """The configured secret, else the one in `<home>/secret_key`, created once (0600) by whichever
    process comes first: written aside and hard-linked into place, so no process reads half a key."""
    if configured:
        return configured
    path = home() / SECRET_FILE
    if not path.exists():
        aside = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(6)}.tmp")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def _locked(conn: sa.Connection) -> None:
    """Serialise schema creation between processes (SQLite: the begin listener's write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7514014)"))


def ensure_schema(engine: sa.Engine) -> int:
    """Create the service tables once; returns the schema version now in force."""
    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        _locked(conn)
        metadata.create_all(conn, checkfirst=True)
        version = conn.execute(sa.select(sa.func.max(svc_schema.c.version))).scalar() or 0
        if version < SCHEMA_VERSION:
            conn.execute(svc_schema.insert().values(version=SCHEMA_VERSION, applied_at=time.time()))
            version = SCHEMA_VERSION
    return version


class Shared:
    """The shared tables over one engine (the audit store's). Thread- and process-safe."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def _write(self) -> sa.Connection:
        return self.engine.connect().execution_options(write_lock=True)

    # -- sessions --------------------------------------------------------------------------------

    def open_session(self, user: str, seconds: float) -> tuple[str, str]:
        """A new session's (sid, csrf token)."""
        sid, csrf, at = secrets.token_urlsafe(24), secrets.token_urlsafe(24), time.time()
        with self._write() as conn, conn.begin():
            conn.execute(svc_sessions.delete().where(svc_sessions.c.expires_at < at))
            conn.execute(svc_sessions.insert().values(sid=sid, user=user, csrf=csrf, created_at=at,
                                                      expires_at=at + seconds))
        return sid, csrf

    def session(self, sid: str) -> tuple[str, str] | None:
        """(user, csrf) of a live session: not expired, not signed out (on any worker)."""
        query = sa.select(svc_sessions.c.user, svc_sessions.c.csrf).where(
            svc_sessions.c.sid == sid, svc_sessions.c.revoked_at.is_(None), svc_sessions.c.expires_at > time.time()
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.user, row.csrf) if row else None

    def close_session(self, sid: str) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(svc_sessions.update().where(svc_sessions.c.sid == sid).values(revoked_at=time.time()))

    # -- sign-in counters ------------------------------------------------------------------------

    @staticmethod
    def scopes(user: str, address: str) -> dict[str, str]:
        name = user.casefold()
        return {"pair": f"pair:{name}|{address}", "addr": f"addr:{address}", "user": f"user:{name}"}

    def reserve_signin(self, user: str, address: str) -> bool:
        """Count one attempt in every scope, atomically; False when any scope is (now) locked."""
        at = time.time()
        allowed = True
        with self._write() as conn, conn.begin():
            for kind, scope in self.scopes(user, address).items():
                insert = _insert(conn).values(scope=scope, attempts=0, window_start=at)
                conn.execute(insert.on_conflict_do_nothing(index_elements=["scope"]))
                fresh = svc_signin.c.window_start < at - FAILED_WINDOW
                row = conn.execute(
                    svc_signin.update().where(svc_signin.c.scope == scope).values(
                        attempts=sa.case((fresh, 1), else_=svc_signin.c.attempts + 1),
                        window_start=sa.case((fresh, at), else_=svc_signin.c.window_start),
                    ).returning(svc_signin.c.attempts, svc_signin.c.locked_until)
                ).one()
                if row.locked_until is not None and row.locked_until > at:
                    allowed = False
                elif row.attempts > SIGNIN_LIMITS[kind]:
                    conn.execute(svc_signin.update().where(svc_signin.c.scope == scope)
                                 .values(locked_until=at + LOCK_SECONDS))
                    allowed = False
        return allowed

    def release_signin(self, user: str, address: str) -> None:
        """A successful sign-in: its reservation is given back, and the account's own lock cleared."""
        scopes = self.scopes(user, address)
        with self._write() as conn, conn.begin():
            conn.execute(svc_signin.update().where(svc_signin.c.scope.in_(list(scopes.values())),
                                                   svc_signin.c.attempts > 0)
                         .values(attempts=svc_signin.c.attempts - 1))
            conn.execute(svc_signin.delete().where(svc_signin.c.scope == scopes["pair"]))

    def unlock(self, user: str) -> int:
        """An administrator's unlock of an account (at every address); returns the counters cleared."""
        name = user.casefold()
        with self._write() as conn, conn.begin():
            return conn.execute(svc_signin.delete().where(
                sa.or_(svc_signin.c.scope == f"user:{name}", svc_signin.c.scope.like(f"pair:{_like(name)}|%", escape="\\"))
            )).rowcount

    # -- jobs ------------------------------------------------------------------------------------

    def add_job(self, *, kind: str, user: str, file_name: str, workdir: Path, spec: dict[str, Any],
                size: int, state: str = "queued", job_id: str | None = None) -> str:
        job_id = job_id or secrets.token_urlsafe(18)
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.insert().values(
                id=job_id, kind=kind, user=user, file_name=file_name[:300], state=state, host=HOST,
                workdir=str(workdir), spec=json.dumps(spec), size=size, created_at=time.time(),
            ))
        return job_id

    def job(self, job_id: str) -> JobRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(svc_jobs).where(svc_jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def active_jobs(self, user: str) -> int:
        query = sa.select(sa.func.count()).where(svc_jobs.c.user == user, svc_jobs.c.state.in_(ACTIVE))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def update_job(self, job_id: str, **values: Any) -> None:
        if "spec" in values:
            values["spec"] = json.dumps(values["spec"])
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.update().where(svc_jobs.c.id == job_id).values(**values))

    def claim(self, owner: str, *, small_bytes: int, big_allowed: bool) -> JobRow | None:
        """Take the fairest queued job of this machine: the user with fewest running jobs first, then
        the smallest, then the oldest; big jobs only when `big_allowed`. None when there is none."""
        with self._write() as conn, conn.begin():
            running = dict(conn.execute(
                sa.select(svc_jobs.c.user, sa.func.count()).where(svc_jobs.c.state.in_(WORKING))
                .group_by(svc_jobs.c.user)
            ).all())
            queued = conn.execute(
                sa.select(svc_jobs.c.id, svc_jobs.c.user, svc_jobs.c.size, svc_jobs.c.created_at)
                .where(svc_jobs.c.state == "queued", svc_jobs.c.host == HOST)
                .order_by(svc_jobs.c.created_at).limit(200)
            ).all()
            eligible = [q for q in queued if big_allowed or q.size <= small_bytes]
            if not eligible:
                return None
            pick = min(eligible, key=lambda q: (running.get(q.user, 0), q.size, q.created_at))
            at = time.time()
            taken = conn.execute(
                svc_jobs.update().where(svc_jobs.c.id == pick.id, svc_jobs.c.state == "queued")
                .values(state="opening", owner=owner, started_at=at, heartbeat_at=at)
            ).rowcount
            row = conn.execute(sa.select(svc_jobs).where(svc_jobs.c.id == pick.id)).one() if taken else None
        return _job(row) if row else None

    def progress(self, job_id: str, rows: int) -> bool:
        """Record rows screened and the heartbeat; True when the job was asked to stop."""
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.update().where(svc_jobs.c.id == job_id)
                         .values(rows=rows, heartbeat_at=time.time()))
            return bool(conn.execute(sa.select(svc_jobs.c.cancel).where(svc_jobs.c.id == job_id)).scalar())

    def beat(self, owner: str) -> None:
        """The heartbeat of every job a server process is running."""
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.update().where(svc_jobs.c.owner == owner, svc_jobs.c.state.in_(WORKING))
                         .values(heartbeat_at=time.time()))

    def end_job(self, job_id: str, state: str, **values: Any) -> bool:
        """Mark a job ended, unless it already is; True when this call ended it."""
        with self._write() as conn, conn.begin():
            return bool(conn.execute(
                svc_jobs.update().where(svc_jobs.c.id == job_id, svc_jobs.c.state.in_(("columns", *ACTIVE)))
                .values(state=state, ended_at=time.time(), **values)
            ).rowcount)

    def cancel_job(self, job_id: str, user: str) -> bool:
        """Ask a job to stop: a queued one is cancelled at once, a running one at its next heartbeat."""
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.update().where(svc_jobs.c.id == job_id, svc_jobs.c.user == user,
                                                 svc_jobs.c.state == "queued")
                         .values(state="cancelled", ended_at=time.time(), error="Cancelled."))
            return bool(conn.execute(svc_jobs.update().where(
                svc_jobs.c.id == job_id, svc_jobs.c.user == user, svc_jobs.c.state.in_(("columns", *ACTIVE))
            ).values(cancel=True)).rowcount)

    def orphans(self, alive: Any, stale_seconds: float) -> list[JobRow]:
        """Running jobs whose server process is gone: dead on this machine, or silent too long."""
        limit = time.time() - stale_seconds
        with self.engine.connect() as conn:
            rows = [_job(r) for r in conn.execute(sa.select(svc_jobs).where(svc_jobs.c.state.in_(WORKING)))]
        return [j for j in rows if (j.heartbeat_at or 0) < limit or not alive(j.owner)]

    def expired(self, before: float) -> list[JobRow]:
        """Jobs of this machine whose folder may go: ended, or waiting for a column choice, before `before`."""
        query = sa.select(svc_jobs).where(svc_jobs.c.host == HOST, sa.or_(
            sa.and_(svc_jobs.c.state == "columns", svc_jobs.c.created_at < before),
            sa.and_(svc_jobs.c.state.not_in(("columns", *ACTIVE)), svc_jobs.c.ended_at < before),
        ))
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query)]

    def job_folders(self) -> set[str]:
        """The folders of this machine's jobs that are still needed (waiting, queued or running)."""
        query = sa.select(svc_jobs.c.workdir).where(svc_jobs.c.host == HOST,
                                                    svc_jobs.c.state.in_(("columns", *ACTIVE)))
        with self.engine.connect() as conn:
            return {r.workdir for r in conn.execute(query)}

    def forget_jobs(self, before: float) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(svc_jobs.delete().where(svc_jobs.c.state.not_in(("columns", *ACTIVE)),
                                                 svc_jobs.c.ended_at < before))

    # -- recorded runs' owners --------------------------------------------------------------------

    def hold_run(self, run_id: str, pid: int) -> None:
        """This machine's process `pid` is recording the run."""
        at = time.time()
        with self._write() as conn, conn.begin():
            conn.execute(svc_runs.insert().values(run_id=run_id, host=HOST, pid=pid, started_at=at, heartbeat_at=at))

    def beat_run(self, run_id: str) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(svc_runs.update().where(svc_runs.c.run_id == run_id).values(heartbeat_at=time.time()))

    def release_run(self, run_id: str) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(svc_runs.delete().where(svc_runs.c.run_id == run_id))

    def silent_runs(self, before: float) -> list[tuple[str, str, int, float]]:
        """(run id, host, pid, heartbeat) of the runs whose last heartbeat is older than `before`."""
        query = sa.select(svc_runs.c.run_id, svc_runs.c.host, svc_runs.c.pid, svc_runs.c.heartbeat_at).where(
            svc_runs.c.heartbeat_at < before)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]


def _insert(conn: sa.Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(svc_signin)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
