"""`screener rescreen`: re-screen recorded runs against a new version of a list, reporting only changes."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from screener.cli.common import EXIT_CLEAR, EXIT_MATCH, fail


def rescreen_command(
    list_names: Annotated[list[str], typer.Option("--list", "-l", help="The imported list's name (one).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Report: .xlsx, .csv (changes) or .json.")],
    from_version: Annotated[
        Optional[str], typer.Option("--from", help="Version (hash prefix) to compare from; default: each run's own.")
    ] = None,
    to_version: Annotated[
        Optional[str], typer.Option("--to", help="Version (hash prefix) to compare to; default: the current one.")
    ] = None,
    runs: Annotated[
        Optional[list[str]],
        typer.Option("--run", help="Recorded run id (repeatable); default: every run that used the list."),
    ] = None,
    threshold: Annotated[
        Optional[float], typer.Option("--threshold", "-t", min=0, max=100, help="Default: each run's own threshold.")
    ] = None,
    db: Annotated[Optional[str], typer.Option(help="Audit store URL (default: SQLite under SCREENER_HOME).")] = None,
) -> None:
    """Report new potential matches and vanished matches; exit 1 when there is any new potential match."""
    from screener.lists.partylist import ListError
    from screener.review.rescreen import RescreenError, rescreen, write_report
    from screener.review.store import Store

    if len(set(list_names)) > 1:  # refused: taking the last one given would leave the others unchecked
        fail(f"rescreen compares one list at a time; run it once for each of {', '.join(dict.fromkeys(list_names))}")
    list_name = list_names[0]
    if not output.lower().endswith((".xlsx", ".csv", ".json")):
        fail(f"{output}: output must be .xlsx, .csv or .json")
    try:
        store = Store.open(db)
    except Exception as exc:  # noqa: BLE001 - any failure to open the store is one line and exit 2
        fail(f"cannot open the audit store: {exc}")
    try:
        report = rescreen(
            store, list_name, from_version=from_version, to_version=to_version, run_ids=runs, threshold=threshold
        )
        write_report(report, output)
    except (RescreenError, ListError, ValueError, OSError) as exc:
        fail(str(exc))
    finally:
        store.close()
    counts = report.counts()
    for diff in report.diffs:
        sys.stderr.write(
            f"{list_name} {diff.from_hash[:16]} -> {diff.to_hash[:16]}: {len(diff.added)} parties added,"
            f" {len(diff.removed)} removed, {len(diff.changed)} changed\n"
        )
    sys.stderr.write(
        f"{len(report.runs)} run(s), {sum(r.rows for r in report.runs)} rows re-screened: "
        + ", ".join(f"{n} {kind}" for kind, n in counts.items())
        + f" → {output}\n"
    )
    if not report.runs:
        sys.stderr.write("no recorded run was re-screened: the report holds the list changes only\n")
    raise typer.Exit(EXIT_MATCH if report.new_matches else EXIT_CLEAR)


def register(app: typer.Typer) -> None:
    app.command("rescreen")(rescreen_command)
