"""`screener decisions ...`: record the decisions filled in on a report, list and approve them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from screener.cli.audit import DbOpt, _store
from screener.cli.common import fail, load_screener

app = typer.Typer(no_args_is_help=True, help="Review decisions: import a filled-in report, list, approve.")


@app.command("import")
def decisions_import(
    report: Annotated[Path, typer.Argument(help="A screener report (.xlsx) with Decision and Comment filled in.")],
    user: Annotated[str, typer.Option(help="Who made these decisions (an analyst or supervisor account).")],
    db: DbOpt = None,
) -> None:
    """Record the report's Decision/Comment cells with the page's rules (comment required, evidence
    bound, four eyes for strong matches), one line per filled-in row. Exit 1 when any was refused."""
    from screener.files.errors import InputError
    from screener.review.roundtrip import import_decisions

    store = _store(db)
    try:
        result = import_decisions(
            store, report, user, lambda run: load_screener([li.key for li in run.lists], run.threshold)
        )
    except InputError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{report}: cannot read: {exc.strerror or exc}")
    for line in result.lines:
        typer.echo(line.text())
    typer.echo(f"run {result.run_id}: {result.count('taken')} taken, {result.count('unchanged')} already recorded, "
               f"{result.count('refused')} refused", err=True)
    raise typer.Exit(1 if result.count("refused") else 0)


@app.command("approve")
def decisions_approve(
    decision: Annotated[int, typer.Argument(help="The decision id (see `screener decisions pending`).")],
    user: Annotated[str, typer.Option(help="The approving supervisor: not the one who proposed it.")],
    comment: Annotated[str, typer.Option(help="A note kept with the approval.")] = "",
    db: DbOpt = None,
) -> None:
    """Approve a pending clearance of a strong match (four eyes)."""
    from screener.review.schema import StoreError

    try:
        made = _store(db).approve(user, decision, comment)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"decision {decision}: {made.review_text()}")


@app.command("pending")
def decisions_pending(db: DbOpt = None) -> None:
    """Clearances of strong matches waiting for a supervisor's approval, oldest first."""
    store = _store(db)
    in_force = store.in_force_ids()
    waiting = [d for d in store.list_decisions() if d.pending and d.id in in_force]
    if not waiting:
        typer.echo("no clearance is waiting for approval")
    for d in waiting:
        typer.echo(f"{d.id}\t{d.decided_at.date().isoformat()}\t{d.user}\t{d.input_name!r} -> {d.entity_id} "
                   f"({d.list_key}, score {d.score or 0:.1f}): {d.comment}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="decisions")
