"""`screener screen` (batch files → report) and `screener explain` (why a name scores what it does)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from screener.cli.common import EXIT_CLEAR, EXIT_MATCH, fail, load_screener, plural
from screener.files.errors import InputError
from screener.lists.coverage import coverage_lines
from screener.screening import DEFAULT_THRESHOLD

ListOpt = Annotated[
    Optional[list[str]],
    typer.Option("--list", "-l", help="List to screen against: 'default' or an imported list's name (repeatable)."),
]
ThresholdOpt = Annotated[
    float,
    typer.Option(
        "--threshold",
        "-t",
        min=0,
        max=100,
        help=f"Score (0-100) from which a row is a potential match. Default {DEFAULT_THRESHOLD:g}.",
    ),
]


def screen_command(
    inputs: Annotated[list[Path], typer.Argument(help="Customer spreadsheets: .xlsx, .csv or .tsv.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Report: .xlsx, or .csv/.json/.jsonl; '-' for JSON lines on stdout.")
    ],
    sheet: Annotated[
        Optional[list[str]], typer.Option(help="Screen only this sheet of an .xlsx file (repeatable).")
    ] = None,
    name_column: Annotated[
        Optional[list[str]],
        typer.Option(help="Header, letter or number of a party name column (repeatable); default: every "
                     "party column found by its header."),
    ] = None,
    country_column: Annotated[Optional[str], typer.Option(help="Header, letter or number of the country column.")] = None,
    address_column: Annotated[Optional[str], typer.Option(help="Header, letter or number of the address column.")] = None,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    lists: ListOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    workers: Annotated[int, typer.Option(help="Processes to screen with (0 = one per core).")] = 1,
    engine: Annotated[str, typer.Option(help="'local' or 'dask'.")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address, with --engine dask.")] = None,
    record: Annotated[bool, typer.Option(help="Record the run in the audit store (analysts' decisions apply).")] = False,
    db: Annotated[Optional[str], typer.Option(help="Audit store URL (default: SQLite under SCREENER_HOME).")] = None,
    user: Annotated[Optional[str], typer.Option(help="Who ran it, for the audit trail.")] = None,
    allow_unscreened: Annotated[
        bool, typer.Option(help="Treat records that could not be screened as clear (stated in the Summary).")
    ] = False,
    ownership: Annotated[
        Optional[Path],
        typer.Option(help="Ownership file or workbook (entity, owner, share_percent): owners are screened and "
                     "the 50% Affiliates Rule applied."),
    ] = None,
) -> None:
    """Screen customer spreadsheets: exit 0 only when every party cell was screened and is clear; 1 when
    any is a potential match or could not be screened; 2 on a usage or input error.

    Potential matches an analyst cleared as false positives (in the audit store) do not count.
    """
    from screener.collector import for_batch
    from screener.pipeline import AccountingError, screen_files
    from screener.runtime.engine import WorkerLost, make_screen_fn
    from screener.runtime.lifetime import interrupt_on_sigterm

    interrupt_on_sigterm()  # SIGTERM unwinds like Ctrl-C: no staged output left, a recorded run marked failed
    for_batch()  # this process streams rows: fewer cycle collections (and the workers it forks inherit it)
    screener = load_screener(lists, threshold)
    try:
        screen_fn = make_screen_fn(screener, workers=workers, engine=engine, scheduler=scheduler)
    except ValueError as exc:
        fail(str(exc))
    assessment = _ownership(screener, ownership)
    store = _open_store(db, record)
    if store is not None:
        decide = store.apply_decisions
        plain = screen_fn
        screen_fn = lambda rows: decide(plain(rows), screener)  # noqa: E731
    recorder = store.recorder(user=user, source="cli") if (store is not None and record) else None
    with _heartbeat(store, recorder):  # kill -9 cannot unwind: the heartbeat tells (service.runs)
        try:
            summary = screen_files(
                screener,
                inputs,
                output,
                sheet=sheet,
                name_column=name_column,
                country_column=country_column,
                address_column=address_column,
                quiet=quiet or output == "-",
                screen=screen_fn,
                user=user,
                observe=recorder.observe if recorder else None,
                allow_unscreened=allow_unscreened,
                ownership=assessment,
            )
        except BrokenPipeError:
            if recorder:
                recorder.abort("the reader of standard output closed the pipe")
            raise
        except KeyboardInterrupt as exc:
            if recorder:
                recorder.abort(f"interrupted ({exc or 'SIGINT'})")
            raise
        except (InputError, AccountingError, WorkerLost, ValueError, OSError) as exc:
            if recorder:
                recorder.abort(str(exc))
            fail(str(exc))
        except BaseException as exc:  # a fault of our own: the run record must still say it failed
            if recorder:
                recorder.abort(f"{type(exc).__name__}: {exc}")
            raise
        if recorder:
            recorder.finish(summary)
    for warning in summary.warnings:  # always: a doubtful column choice must be seen
        sys.stderr.write(f"screener: warning: {warning}\n")
    counts = summary.counts
    if not quiet:
        for note in summary.notes:  # rows skipped or read as titles, names cut: each still in the report
            sys.stderr.write(f"screener: note: {note}\n")
    if output != "-" and not quiet:
        cleared = counts.get("potential_match", 0) - summary.alerts
        sys.stderr.write(
            f"{plural(summary.rows_reported, 'record')} from {plural(summary.data_rows_read, 'row')}: {plural(counts.get('potential_match', 0), 'potential match')}"
            f"{f' ({cleared} cleared by review)' if cleared else ''}, "
            f"{counts.get('clear', 0)} clear, {counts.get('not_screened', 0)} not screened → {output}\n"
        )
    if not summary.clear and not quiet:
        sys.stderr.write(f"screener: {summary.verdict}\n")
    if not quiet:  # a clear row is only as wide as the lists: say what they cover
        for name, text in coverage_lines(summary.lists):
            sys.stderr.write(f"coverage of {name}: {text}\n")
    raise typer.Exit(EXIT_CLEAR if summary.clear else EXIT_MATCH)


def _ownership(screener, path: Path | None):  # type: ignore[no-untyped-def]
    """The --ownership file read, its owners screened and its graph resolved, before any output exists."""
    from screener.ownership.assess import OwnershipAssessment
    from screener.ownership.inputs import read_ownership

    try:
        return OwnershipAssessment(screener, read_ownership(path) if path is not None else None)
    except (InputError, ValueError, OSError) as exc:
        fail(str(exc))


def _open_store(db: str | None, record: bool):  # type: ignore[no-untyped-def]
    """The audit store when asked for or already in use, so analysts' decisions apply to CLI runs too;
    runs left "running" by a killed process are marked failed as it opens.

    A plain `screen` never creates a store: without --record/--db/SCREENER_DB it reads decisions only
    from a store that already exists.
    """
    from screener.home import existing_store_url

    url = existing_store_url(db)
    if url is None and not record:
        return None  # nothing to read decisions from, and SQLAlchemy is not even imported
    from screener.review.store import Store, default_url
    from screener.service.runs import fail_dead_runs

    store = Store.open(url or default_url())
    fail_dead_runs(store.engine)
    return store


def _heartbeat(store, recorder):  # type: ignore[no-untyped-def]
    """While a recorded run lasts: its process named, with a heartbeat, so a kill -9 is seen."""
    if recorder is None:
        return contextlib.nullcontext()
    from screener.service.runs import RunHeartbeat
    from screener.service.shared import Shared

    return RunHeartbeat(Shared(store.engine), recorder.run_id)


def explain_command(
    name: Annotated[str, typer.Argument(help="The name to explain.")],
    against: Annotated[Optional[str], typer.Option(help="Score NAME against this other name instead of the list.")] = None,
    country: Annotated[Optional[str], typer.Option(help="The party's country (secondary evidence).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    lists: ListOpt = None,
) -> None:
    """Show the best candidates for NAME with their explanations, or score NAME --against another name."""
    screener = load_screener(lists, threshold)
    if against is not None:
        result = screener.compare(name, against)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
        else:
            typer.echo(f"{result.score:5.1f}  {name!r} vs {against!r}")
            typer.echo("       " + result.explanation.text())
        return
    row = screener.screen_name(name, country=country)
    if as_json:
        typer.echo(json.dumps(row.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    typer.echo(f"{row.status.value}: {name!r} (threshold {screener.threshold:g})")
    if row.not_screened_reason:
        typer.echo(f"  not screened: {row.not_screened_reason}")
    candidates = row.matches if row.matches else screener.matches(name, country)
    if not candidates:
        typer.echo("  no candidate scores 50 or more")
    for match in candidates:
        typer.echo(f"  {match.score:5.1f}  {match.entity_id}: {match.entity_name} [{match.list_name}]")
        typer.echo(f"         {match.explanation.text()}")


def register(app: typer.Typer) -> None:
    app.command("screen")(screen_command)
    app.command("explain")(explain_command)
