"""The tamper-evident audit trail: a hash chain over every event, its check, and the examiner's export.

Every sign-in, account change, policy change, decision, approval and recorded run appends one
`audit_log` record whose hash covers its own content and the hash of the record before it; the
application only ever inserts. `verify` walks the chain and names the first record that does not
hash as stored, then checks that every decision, approval and run still says what its audit record
says, so editing any of them (or the audit row itself) is found. The chain head (count and hash)
printed by `verify` and carried by every export lets an examiner detect later truncation too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from screener.review.schema import (
    StoreError,
    approvals,
    audit_log,
    decisions,
    now,
    run_rows,
    runs,
)

if TYPE_CHECKING:
    from screener.review.store import RunRecord, Store

GENESIS = "0" * 64
CHAIN_LOCK = 7312026  # PostgreSQL advisory lock serialising appends


def canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def record_hash(seq: int, at: datetime, actor: str | None, action: str, subject: str | None,
                details: str, prev_hash: str) -> str:
    payload = json.dumps([seq, at.isoformat(), actor, action, subject, details, prev_hash], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_event(conn: sa.Connection, actor: str | None, action: str, subject: str | None,
                 details: dict[str, Any]) -> int:
    """Append one record to the chain inside the caller's write transaction; returns its number."""
    _lock_chain(conn)
    last = conn.execute(sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).first()
    seq, prev = (last.id + 1, last.hash) if last else (1, GENESIS)
    at = now()
    text = canonical(details)
    conn.execute(audit_log.insert().values(
        id=seq, at=at, actor=actor, action=action, subject=subject, details=text, prev_hash=prev,
        hash=record_hash(seq, at, actor, action, subject, text, prev),
    ))
    return seq


def _lock_chain(conn: sa.Connection) -> None:
    """SQLite's write transactions are already serial; PostgreSQL's need the chain's own lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})"))


def start_chain(engine: sa.Engine) -> None:
    """Open the chain with a first record naming the rows logged before it existed (none when new)."""
    with engine.connect() as conn:
        if conn.execute(sa.select(audit_log.c.id).limit(1)).first() is not None:
            return
    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        _lock_chain(conn)
        if conn.execute(sa.select(audit_log.c.id).limit(1)).first() is not None:
            return
        details = {
            "runs_before": conn.execute(sa.select(sa.func.max(runs.c.id))).scalar() or 0,
            "decisions_before": conn.execute(sa.select(sa.func.max(decisions.c.id))).scalar() or 0,
        }
        append_event(conn, None, "chain_started", None, details)


# --- what each audited table row must still say -----------------------------------------------------


def decision_fields(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["decided_at"] = data["decided_at"].isoformat()
    return data


def approval_fields(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["approved_at"] = data["approved_at"].isoformat()
    return data


def run_fields(row: Any) -> dict[str, Any]:
    """A finished run as recorded: who, when, inputs with hashes, list versions, threshold, counts,
    and (since schema 5) its column choices, warnings and the readers' notes."""
    keys = ("run_id", "status", "user", "source", "threshold", "inputs", "lists", "counts", "rows_read",
            "rows_reported", "error", "tool_version")
    data = {k: _decoded(getattr(row, k)) for k in keys}
    data["started_at"] = row.started_at.isoformat()
    for key in ("columns", "warnings", "notes"):  # kept since schema 5: a run recorded before has none
        if (value := getattr(row, key, None)) is not None:
            data[key] = _decoded(value)
    return data


def digest_line(values: Sequence[Any]) -> bytes:
    """One row's line of the rows digest; JSON objects (the ownership outcome) with sorted keys, so
    the line does not depend on how a database hands back a JSON column."""
    return json.dumps(list(values), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


def rows_digest(lines: Iterator[tuple[Any, ...]]) -> str:
    """SHA-256 over a run's rows (seq, sheet, row, name, country, address, status, score, best party,
    and since digest version 2 the ownership outcome)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(digest_line(line))
    return h.hexdigest()


# The columns each run's rows digest covers. Version 2 adds the ownership outcome (schema step 4);
# a run's audit record names its version ("rows_digest"), and records without one are version 1,
# so runs recorded before keep verifying while the ownership of later ones is tamper-evident too.
ROW_DIGEST_VERSION = 2
ROW_DIGEST_COLUMNS = ("seq", "sheet", "row", "input_name", "country", "address", "status", "score",
                      "entity_id", "list_key", "ownership")


def digest_columns(version: int | None) -> tuple[str, ...]:
    return ROW_DIGEST_COLUMNS if (version or 1) >= 2 else ROW_DIGEST_COLUMNS[:-1]


def stored_rows_digest(conn: sa.Connection, run_pk: int, version: int | None = ROW_DIGEST_VERSION) -> str:
    """The digest of a run's rows as stored, over the columns of digest `version`."""
    cols = [run_rows.c[c] for c in digest_columns(version)]
    lines = conn.execute(sa.select(*cols).where(run_rows.c.run == run_pk).order_by(run_rows.c.seq))
    return rows_digest(tuple(_decoded(x) if c == "ownership" else x for c, x in zip(digest_columns(version), line))
                       for line in lines)


def run_event(run: Any, digest: str) -> dict[str, Any]:
    """The details of a run's audit record: the run as recorded and the digest of its rows."""
    return {"record": run_fields(run), "rows_sha256": digest, "rows_digest": ROW_DIGEST_VERSION}


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


# --- verify ---------------------------------------------------------------------------------------


class Verification(BaseModel):
    ok: bool
    records: int
    head_hash: str
    problem: str | None = None  # the first broken record, in one line


def verify(store: Store) -> Verification:
    """Check the chain record by record, then every audited row against its record."""
    prev, count = GENESIS, 0
    events: dict[tuple[str, str], dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for r in conn.execution_options(yield_per=2_000).execute(sa.select(audit_log).order_by(audit_log.c.id)):
            count += 1
            where = f"audit record {r.id} ({r.action} by {r.actor or '-'} at {r.at.isoformat()})"
            if r.id != count:
                return Verification(ok=False, records=count, head_hash=prev,
                                    problem=f"audit record {count} is missing (the next one is {r.id})")
            if r.prev_hash != prev:
                return Verification(ok=False, records=count, head_hash=prev,
                                    problem=f"{where} does not follow record {count - 1}: the chain is broken")
            if record_hash(r.id, r.at, r.actor, r.action, r.subject, r.details, r.prev_hash) != r.hash:
                return Verification(ok=False, records=count, head_hash=prev,
                                    problem=f"{where} was altered: its content no longer matches its hash")
            prev = r.hash
            if r.action in ("decision", "approval", "run", "chain_started"):
                events[(r.action, r.subject or "")] = {"seq": r.id, **json.loads(r.details)}
        problem = _check_rows(conn, events)
    return Verification(ok=problem is None, records=count, head_hash=prev, problem=problem)


def _check_rows(conn: sa.Connection, events: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    """Rows logged before the chain existed (schema version 2) are named by its first record."""
    before = events.get(("chain_started", ""), {})
    checks = (
        ("decision", "decision", sa.select(decisions).where(decisions.c.id > before.get("decisions_before", 0))
         .order_by(decisions.c.id), decision_fields),
        ("approval", "approval", sa.select(approvals).order_by(approvals.c.id), approval_fields),
    )
    for action, label, query, fields in checks:
        for row in conn.execute(query):
            event = events.get((action, str(row.id)))
            if event is None:
                return f"{label} {row.id} has no audit record: it was added outside the application"
            recorded = event.get("record")
            if recorded != json.loads(canonical(fields(row))):
                changed = sorted(k for k in (recorded or {}) if (recorded or {}).get(k) != fields(row).get(k))
                return (f"{label} {row.id} differs from audit record {event['seq']}"
                        f"{' in ' + ', '.join(changed) if changed else ''}: it was edited")
    recorded = sa.select(runs).where(runs.c.status != "running", runs.c.id > before.get("runs_before", 0))
    for run in conn.execute(recorded.order_by(runs.c.id)):
        event = events.get(("run", run.run_id))
        if event is None:
            return f"run {run.run_id} has no audit record: it was added outside the application"
        if event.get("record") != json.loads(canonical(run_fields(run))):
            return f"run {run.run_id} differs from audit record {event['seq']}: it was edited"
        if event.get("rows_sha256") != stored_rows_digest(conn, run.id, event.get("rows_digest")):
            return f"the rows of run {run.run_id} differ from audit record {event['seq']}: they were edited"
    return None


# --- export ---------------------------------------------------------------------------------------

EXPORT_TABLES: tuple[str, ...] = ("rows", "runs", "decisions", "approvals", "events")
ROW_FIELDS = (
    "run_id", "run_started_at", "user", "source", "sheet", "row", "input_name", "country",
    "address", "customer_id", "status", "score", "entity_id", "matched_alias", "list_key",
    "not_screened_reason", "review", "ownership",
)
RUN_FIELDS = (
    "run_id", "status", "started_at", "finished_at", "user", "source", "threshold", "inputs",
    "lists", "potential_match", "clear", "not_screened", "rows_read", "rows_reported",
    "duration_seconds", "tool_version", "error",
)
DECISION_FIELDS = (
    "id", "decided_at", "user", "role", "input_name", "input_key", "country", "address", "customer_id",
    "entity_id", "list_key", "list_version", "list_hash", "party_hash", "score", "strong", "threshold",
    "decision", "comment", "run_id", "approved_by", "approved_at", "in_force",
)
APPROVAL_FIELDS = ("id", "decision_id", "user", "approved_at", "comment")
EVENT_FIELDS = ("id", "at", "actor", "action", "subject", "details", "prev_hash", "hash")
FIELDS = {"rows": ROW_FIELDS, "runs": RUN_FIELDS, "decisions": DECISION_FIELDS,
          "approvals": APPROVAL_FIELDS, "events": EVENT_FIELDS}
XLSX_MAX_ROWS = 1_048_575  # data rows per sheet under the header
XLSX_MAX_CHARS = 32_767


class Period(BaseModel):
    """An export's date range, both ends inclusive days (UTC); either end may be open."""

    start: date | None = None
    end: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        lo = datetime.combine(self.start, time(), UTC) if self.start else None
        hi = datetime.combine(self.end + timedelta(days=1), time(), UTC) if self.end else None
        return lo, hi

    def holds(self, moment: datetime) -> bool:
        lo, hi = self.bounds()
        return (lo is None or moment >= lo) and (hi is None or moment < hi)


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


def _lines(store: Store, table: str, run_id: str | None, period: Period) -> Iterator[dict[str, Any]]:
    if table == "decisions":
        in_force = store.in_force_ids()
        for d in store.list_decisions():
            if not period.holds(d.decided_at):
                continue
            line = d.model_dump(exclude={"approvals"})
            line["decided_at"] = d.decided_at.isoformat()
            approval = d.approval
            line["approved_by"] = approval.user if approval else None
            line["approved_at"] = approval.approved_at.isoformat() if approval else None
            line["in_force"] = "yes" if d.id in in_force else "superseded"
            yield line
        return
    if table in ("approvals", "events"):
        source = approvals if table == "approvals" else audit_log
        stamp = source.c.approved_at if table == "approvals" else source.c.at
        lo, hi = period.bounds()
        query = sa.select(source).order_by(source.c.id)
        if lo:
            query = query.where(stamp >= lo)
        if hi:
            query = query.where(stamp < hi)
        with store.engine.connect() as conn:
            for r in conn.execute(query):
                line = dict(r._mapping)
                line[stamp.key] = line[stamp.key].isoformat()
                yield line
        return
    chosen = [store.get_run(run_id)] if run_id else store.list_runs(include_incomplete=True)
    for run in chosen:
        if run is None or not period.holds(datetime.fromisoformat(run.started_at)):
            continue
        if table == "runs":
            yield _run_line(run)
            continue
        for r in store.run_rows(run.run_id):
            line = r.model_dump(exclude={"matches", "ownership"})
            line.update(run_id=run.run_id, run_started_at=run.started_at, user=run.user, source=run.source,
                        ownership=r.ownership.text if r.ownership else None)
            line["status"] = r.status.value
            yield line


def export_audit(
    store: Store, output: str | Path, *, run_id: str | None = None, table: str = "rows",
    period: Period | None = None,
) -> int:
    """Write the audit trail to .csv (one `table`) or .xlsx (every table as a sheet).

    Text that a spreadsheet would run as a formula stays text: csv cells get a leading `'`, xlsx
    cells are written as string cells. Returns the number of lines written (all sheets).
    """
    from screener.files.writers import StagedFile, inert

    period = period or Period()
    path = Path(output)
    if run_id is not None and store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in the audit store")
    if table not in EXPORT_TABLES:
        raise StoreError(f"table must be one of {', '.join(EXPORT_TABLES)}")
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
                out.writerow(FIELDS[table])
                for line in _lines(store, table, run_id, period):
                    out.writerow(["" if line.get(f) is None else inert(line.get(f)) for f in FIELDS[table]])
                    written += 1
        else:
            written = _write_xlsx(store, staged.path, run_id, period)
        staged.commit()
    except BaseException:
        staged.discard()
        raise
    return written


def _write_xlsx(store: Store, path: Path, run_id: str | None, period: Period) -> int:
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
         "strings_to_numbers": False},
    )
    bold = book.add_format({"bold": True})
    written = 0
    for name in ("runs", "decisions", "approvals", "rows", "events"):
        sheet, n, page = None, XLSX_MAX_ROWS, 0
        for line in _lines(store, name, run_id, period):
            if n >= XLSX_MAX_ROWS:
                page += 1
                sheet = book.add_worksheet(name.title() + (f" ({page})" if page > 1 else ""))
                sheet.write_row(0, 0, FIELDS[name], bold)
                n = 0
            n += 1
            written += 1
            for col, f in enumerate(FIELDS[name]):
                _xlsx_cell(sheet, n, col, line.get(f))
        if sheet is None:
            book.add_worksheet(name.title()).write_row(0, 0, FIELDS[name], bold)
    book.close()
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
