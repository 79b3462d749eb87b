"""`screener users ...` (who may sign in to the upload page) and `screener audit ...` (what was run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from screener.cli.common import fail

DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", help="Audit store URL (default: $SCREENER_DB, else SQLite under SCREENER_HOME)."),
]

users_app = typer.Typer(no_args_is_help=True, help="Accounts for the upload page.")
audit_app = typer.Typer(no_args_is_help=True, help="Recorded runs, their rows and review decisions.")


def _store(db: str | None):  # noqa: ANN202 - typed by Store
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
    db: DbOpt = None,
) -> None:
    """Add a user; the password is asked twice (or read from standard input) and stored as an argon2id hash."""
    from screener.review.store import StoreError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _store(db)
    try:
        store.add_user(name, password)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"user {name.strip()!r} added")


@users_app.command("list")
def users_list(db: DbOpt = None) -> None:
    """List the users who may sign in."""
    for user in _store(db).list_users():
        typer.echo(f"{user.name}\t(created {user.created_at.isoformat(timespec='seconds')})")


@audit_app.command("runs")
def audit_runs(
    db: DbOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs, newest first.")] = 50,
) -> None:
    """Recorded runs, newest first, including failed and unfinished ones."""
    runs = _store(db).list_runs(include_incomplete=True, limit=limit)
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


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="FILE.csv or FILE.xlsx.")],
    run: Annotated[Optional[str], typer.Option("--run", help="Only this run (default: every run).")] = None,
    table: Annotated[
        str, typer.Option(help="For .csv: rows, runs or decisions (.xlsx holds all three as sheets).")
    ] = "rows",
    db: DbOpt = None,
) -> None:
    """Export the audit trail; text that looks like a formula is written as text."""
    from screener.review.store import StoreError, export_audit

    store = _store(db)
    try:
        written = export_audit(store, output, run_id=run, table=table)
    except StoreError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    typer.echo(f"{written} lines → {output}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
