"""`screener users ...` (accounts, roles, policy) and `screener audit ...` (what was run and decided).

Whoever can run these commands can open the store's database anyway, so the CLI is trusted: it is
where the first admin is made and where an examiner verifies and exports the trail.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from screener.cli.common import fail

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Audit store URL (default: $SCREENER_DB, else SQLite under SCREENER_HOME)."),
]

users_app = typer.Typer(no_args_is_help=True, help="Accounts and roles for the upload page, and the admin's policy.")
audit_app = typer.Typer(no_args_is_help=True, help="Recorded runs, their rows and review decisions.")


def _store(db: str | None):
    from sqlalchemy.exc import SQLAlchemyError

    from screener.review.store import Store, StoreError

    try:
        return Store.open(db)
    except StoreError as exc:
        fail(str(exc))
    except (SQLAlchemyError, ValueError, OSError) as exc:
        fail(f"cannot open the audit store: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
    role: Annotated[
        str, typer.Option(help="analyst (reviews), supervisor (also approves others' strong-match clearances) "
                          "or admin (manages users and policy).")
    ] = "analyst",
    db: DbOpt = None,
) -> None:
    """Add a user; the password is asked twice (or read from standard input) and stored as an argon2id hash."""
    from screener.review.store import StoreError

    if password_stdin or not sys.stdin.isatty():  # a piped password is read, never prompted for
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store(db)
    try:
        store.add_user(name, password, role)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"user {name.strip()!r} added as {role}")


@users_app.command("list")
def users_list(db: DbOpt = None) -> None:
    """List the users who may sign in, with their roles."""
    for user in _store(db).list_users():
        typer.echo(f"{user.name}\t{user.role}\t(created {user.created_at.isoformat(timespec='seconds')})")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="analyst, supervisor or admin.")],
    db: DbOpt = None,
) -> None:
    """Change a user's role (recorded in the audit trail)."""
    from screener.review.store import StoreError

    try:
        _store(db).set_role(name, role)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"user {name!r} is now {role}")


@users_app.command("unlock")
def users_unlock(name: Annotated[str, typer.Argument(help="The user.")], db: DbOpt = None) -> None:
    """Lift a sign-in lockout of a user at every address now (locks also end by themselves)."""
    from screener.service.shared import Shared

    cleared = Shared(_store(db).engine).unlock(name)
    typer.echo(f"user {name!r} unlocked" + ("" if cleared else " (was not locked)"))


@users_app.command("policy")
def users_policy(
    four_eyes_score: Annotated[
        float | None, typer.Option(help="Clearing a match scoring at least this (or an exact alias) needs a "
                                      "second person, a supervisor (default 95).")
    ] = None,
    run_visibility: Annotated[
        str | None, typer.Option(help="team: every signed-in user sees every run; owner: only the run's owner "
                                    "and supervisors.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Show the policy settings, or change them (each change is in the audit trail)."""
    from screener.review.store import StoreError

    store = _store(db)
    try:
        if four_eyes_score is not None:
            store.set_policy("four_eyes_score", str(four_eyes_score))
        if run_visibility is not None:
            store.set_policy("run_visibility", run_visibility)
    except StoreError as exc:
        fail(str(exc))
    for key, value in store.policy().items():
        typer.echo(f"{key}\t{value}")


@audit_app.command("runs")
def audit_runs(
    db: DbOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs, newest first.")] = 50,
) -> None:
    """Recorded runs, newest first, including failed and unfinished ones (a run whose process was
    killed is marked failed first)."""
    from screener.service.runs import fail_dead_runs

    store = _store(db)
    fail_dead_runs(store.engine)
    runs = store.list_runs(include_incomplete=True, limit=limit)
    if not runs:
        typer.echo("no runs recorded")
        return
    typer.echo("run_id\tstarted (UTC)\tuser\tsource\tstatus\trows\tpotential\tfiles")
    for run in runs:
        files = ", ".join(i.file_name for i in run.inputs) or "-"
        typer.echo(
            f"{run.run_id}\t{run.started_at}\t{run.user or '-'}\t{run.source}\t{run.status}\t"
            f"{run.rows_reported}\t{run.counts.get('potential_match', 0)}\t{files}"
        )


@audit_app.command("show")
def audit_show(
    run: Annotated[str, typer.Argument(help="The run id (see `screener audit runs`).")],
    db: DbOpt = None,
) -> None:
    """One run: who, when, which files and list versions (with hashes), counts, and its potential matches."""
    store = _store(db)
    record = store.get_run(run)
    if record is None:
        fail(f"no run {run!r} in the audit store")
    echo = typer.echo
    echo(f"run {record.run_id} ({record.status})")
    echo(f"  started   {record.started_at} UTC, {record.duration_seconds:.1f} s, by {record.user or '-'} via {record.source}")
    echo(f"  threshold {record.threshold:g}; screener {record.tool_version or '-'}")
    if record.error:
        echo(f"  error     {record.error}")
    for info in record.inputs:
        sheets = ", ".join(f"{s}: {n}" for s, n in info.sheets.items())
        echo(f"  input     {info.file_name} sha256 {info.sha256} ({sheets})")
    for li in record.lists:
        echo(f"  list      {li.key}: {li.name} {li.version}, {li.parties} parties, sha256 {li.content_hash}")
    counts = ", ".join(f"{k} {v}" for k, v in record.counts.items())
    echo(f"  rows      {record.rows_reported} ({counts})")
    for row in store.run_rows(run, status="potential_match", order="score"):
        review = f" [{row.review}]" if row.review else ""
        echo(
            f"  {row.score or 0:5.1f}  {row.sheet}!{row.row}  {row.input_name!r} -> "
            f"{row.entity_id} ({row.matched_alias}){review}"
        )


@audit_app.command("verify")
def audit_verify(db: DbOpt = None) -> None:
    """Check the hash chain and every decision, approval and run against it: exit 0 intact, 1 broken."""
    from screener.review.audit import verify

    result = verify(_store(db))
    if not result.ok:
        typer.echo(f"audit trail BROKEN: {result.problem}")
        raise typer.Exit(1)
    typer.echo(f"audit trail intact: {result.records} records, head {result.head_hash}")


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.csv or FILE.xlsx.")],
    run: Annotated[str | None, typer.Option("--run", help="Only this run (default: every run).")] = None,
    table: Annotated[
        str, typer.Option(help="For .csv: rows, runs, decisions, approvals or events (.xlsx holds them all).")
    ] = "rows",
    since: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC), YYYY-MM-DD.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC), included.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Export the audit trail over a date range; text that looks like a formula is written as text."""
    from screener.review.audit import Period, export_audit
    from screener.review.store import StoreError

    store = _store(db)
    period = Period(start=since.date() if since else None, end=until.date() if until else None)
    try:
        written = export_audit(store, output, run_id=run, table=table, period=period)
    except StoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    typer.echo(f"{written} lines → {output}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
