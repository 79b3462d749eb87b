"""`screener monitor ...`: keep a customer base, re-screen it when a list changes, list and send alerts.

Exit codes: `add` and `run` exit 1 when an open (not cleared) new potential match was found, like
`screen`; `alerts` and `deliveries` exit 0; errors are one line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from screener.cli.common import EXIT_CLEAR, EXIT_MATCH, fail, load_screener
from screener.files.errors import one_line

if TYPE_CHECKING:
    from screener.review.monitor import Monitor, Screening

app = typer.Typer(help="A monitored customer base: re-screened when a list changes.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Audit store URL (default: SQLite under SCREENER_HOME).")]


def _open(db: str | None) -> Monitor:
    """Imported here, not at the top, to keep `screener --help` fast."""
    from screener.review.monitor import Monitor

    try:
        return Monitor.open(db)
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is one line and exit 2
        fail(f"cannot open the audit store: {exc}")


def _report(screenings: list[Screening]) -> int:
    from screener.review.monitor import summary

    new = 0
    for screening in screenings:
        typer.echo(summary(screening))
        for a in screening.alerts:
            who = one_line(a.customer_name or "")
            if a.state == "open" and a.is_new:
                new += 1
                typer.echo(f"  NEW   {who} ~ {a.party_name} [{a.entity_id}] {a.new_score:g} ({a.kind})")
            elif a.state == "cleared":
                typer.echo(f"  ok    {who} ~ {a.party_name} [{a.entity_id}]: {a.review}")
            else:
                typer.echo(f"  GONE  {who} ~ {a.party_name or ''} [{a.entity_id}] ({a.kind})")
    return EXIT_MATCH if new else EXIT_CLEAR


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="Customer spreadsheet: .xlsx, .csv or .tsv.")],
    lists: Annotated[list[str] | None, typer.Option("--list", "-l", help="List to monitor against (repeatable).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", "-t", min=0, max=100)] = 75.0,
    name_column: Annotated[
        list[str] | None,
        typer.Option(help="Header, letter or number of a party name column (repeatable); default: every "
                     "party column found by its header."),
    ] = None,
    country_column: Annotated[str | None, typer.Option(help="Header, letter or number of the country column.")] = None,
    address_column: Annotated[str | None, typer.Option(help="Header, letter or number of the address column.")] = None,
    user: Annotated[str | None, typer.Option(help="Who added them, for the audit trail.")] = None,
    db: DbOpt = None,
) -> None:
    """Add the file's customers to the monitored base and screen them now."""
    from screener.files.readers import InputError, open_input

    screener = load_screener(lists, threshold)
    try:
        with open_input(file, name_column=name_column, country_column=country_column,
                        address_column=address_column) as source:
            rows = list(source.rows())
    except InputError as exc:
        fail(str(exc))
    skipped = [r for r in rows if r.not_screened_reason or not r.name]
    for r in skipped:
        typer.echo(f"NOT MONITORED {file.name} {r.sheet} row {r.row}: {r.not_screened_reason or 'empty name'}", err=True)
    monitor = _open(db)
    try:
        added = monitor.add(rows, screener, source_file=file.name, user=user)
        for screening in added.screenings:
            monitor.notify(screening)
        typer.echo(f"{added.text()}; {monitor.customer_count()} monitored")
        code = _report(added.screenings)
    finally:
        monitor.close()
    raise typer.Exit(code)


@app.command()
def run(db: DbOpt = None) -> None:
    """Re-screen the base against every monitored list whose current version it has not seen yet."""
    monitor = _open(db)
    try:
        if not monitor.lists():
            fail("nothing is monitored: add customers with 'screener monitor add FILE'")
        screenings = monitor.run(load=lambda key, limit: load_screener([key], limit))
        if not screenings:
            typer.echo("monitor: every monitored list is at the version last screened")
        code = _report(screenings)
    finally:
        monitor.close()
    raise typer.Exit(code)


@app.command("alerts")
def list_alerts(
    limit: Annotated[int, typer.Option(help="Most recent alerts shown.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    db: DbOpt = None,
) -> None:
    """New and vanished potential matches, newest first."""
    monitor = _open(db)
    try:
        found = monitor.alerts(limit=limit)
    finally:
        monitor.close()
    for a in found:
        if as_json:
            typer.echo(json.dumps(a.model_dump(mode="json"), ensure_ascii=False))
        else:
            score, who = (a.new_score if a.is_new else a.old_score), one_line(a.customer_name or "")
            typer.echo(f"{a.at[:19]}  #{a.id}  {a.state:8}  {a.kind:22}  {who} ~ {a.party_name or ''}"
                       f" [{a.list_key} {a.entity_id}] {'' if score is None else f'{score:g}'}")
    if not found and not as_json:
        typer.echo("no alerts")


@app.command()
def deliveries(limit: Annotated[int, typer.Option(help="Most recent attempts shown.")] = 50, db: DbOpt = None) -> None:
    """The webhook delivery log: every attempt, with its HTTP status or error."""
    from screener.review.webhooks import delivery_log

    monitor = _open(db)
    try:
        log = delivery_log(monitor.engine, limit)
    finally:
        monitor.close()
    for d in log:
        state = "delivered" if d["delivered"] else f"failed ({d['status_code'] or d['error']})"
        typer.echo(f"{d['at']:%Y-%m-%d %H:%M:%S}  {d['delivery_id'][:12]}  attempt {d['attempt']}  {d['url']}  {state}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="monitor")
