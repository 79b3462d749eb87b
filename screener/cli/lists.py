"""`screener lists ...`: the catalog of lists; build, show, validate and import restricted-party lists.

`screener lists` alone prints the catalog: the bundled default list and the current version of every
imported list. `build` and `validate` read the bundled default list unless `--list` names another
file; `show` and `validate` also take an imported list's name. Failures are one line on stderr and
exit code 2, so scripts and CI can tell a bad list from a crash.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Annotated

import typer

from screener.cli.common import fail
from screener.lists.partylist import (
    ListError,
    default_list_path,
    load_list,
    save_list,
    validate_list,
)
from screener.models import ListInfo, RestrictedList

app = typer.Typer(
    help="The catalog of lists (with no command); build, show, validate and import lists.",
    invoke_without_command=True,
)

ListOpt = typer.Option(None, "--list", help="List file (YAML or JSON); default: the bundled list.")
NamedListOpt = typer.Option(
    None, "--list", help="List file (YAML or JSON) or an imported list's name; default: the bundled list."
)


def _load(path: Path | None, *, named: bool = False) -> tuple[Path, RestrictedList]:
    """Read a list file; with `named`, a value that is no file but an imported list's name loads that."""
    path = path or default_list_path()
    if named and not path.exists() and path.name == str(path):
        from screener.lists.catalog import load_named_list

        try:
            return path, load_named_list(str(path))
        except KeyError as exc:
            fail(f"{path}: no such list file, and {exc.args[0]}")
        except ListError as exc:
            fail(str(exc))
    try:
        return path, load_list(path)
    except ListError as exc:
        fail(str(exc))


@app.callback()
def lists_main(ctx: typer.Context) -> None:
    """With no command, print the catalog: the default list and every imported list's current version."""
    if ctx.invoked_subcommand is None:
        catalog(all_versions=False)


@app.command()
def catalog(
    all_versions: Annotated[bool, typer.Option("--all", help="Every stored version, not only the current.")] = False,
) -> None:
    """Print the lists screener can screen against: name, version hash, imported at, records."""
    from screener.lists import catalog as store

    try:
        rows = [store.default_version(), *store.list_catalog(all_versions=all_versions)]
    except (ListError, OSError) as exc:
        fail(str(exc))
    header = ("name", "version", "imported at (UTC)", "records", "format", "source file", "")
    table = [
        (
            v.name,
            v.version,
            v.last_imported_at[:19].replace("T", " "),
            str(v.records),
            v.format,
            v.source_file,
            "current" if all_versions and v.current and v.name != store.DEFAULT else "",
        )
        for v in rows
    ]
    widths = [max(len(r[i]) for r in (header, *table)) for i in range(len(header))]
    for row in (header, *table):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if len(rows) == 1:
        typer.echo("no imported lists: add one with 'screener lists import FILE --format csl|ofac-sdn'")


@app.command("import")
def import_list(
    file: Annotated[Path, typer.Argument(help="The CSL .csv file, or the OFAC SDN folder (or its sdn.csv).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csl or ofac-sdn.")],
    name: Annotated[str | None, typer.Option("--name", help="Catalog name; default: the format name.")] = None,
) -> None:
    """Import an official list file as a new version in the catalog; every unreadable row is listed."""
    from screener.lists.catalog import check_name, save_imported
    from screener.lists.importers import IMPORTERS, ImportFormatError, import_file

    if fmt not in IMPORTERS:
        fail(f"unknown format {fmt!r}: use {' or '.join(IMPORTERS)}")
    name = name or fmt
    try:
        check_name(name)
    except ValueError as exc:
        fail(str(exc))
    if not file.exists():
        fail(f"{file}: no such file or folder")
    started = time.perf_counter()
    try:
        result = import_file(file, fmt)
    except ImportFormatError as exc:
        fail(str(exc))
    elapsed = time.perf_counter() - started
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    for row in result.skipped:
        typer.echo(f"SKIPPED {row}", err=True)
    files = ", ".join(f"{k} {v}" for k, v in result.files.items())
    typer.echo(f"{result.records} records from {result.rows_read} rows read ({files}) in {elapsed:.1f} s")
    if not result.records:
        fail(f"{file}: no record could be read; nothing imported")
    try:
        version = save_imported(name, result, file)
    except (ListError, OSError, ValueError) as exc:
        fail(str(exc))
    state = "already stored; now current" if version.already_stored else "stored"
    typer.echo(f"list {name!r} version {version.version} ({state}); content hash {version.content_hash}")
    if result.skipped:
        typer.echo(
            f"WARNING: {len(result.skipped)} row(s) could not be read and are NOT in the list (listed above)",
            err=True,
        )


def _need_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        fail(f"{what} folder not found: {path}")


@app.command()
def build(
    articles: Annotated[Path, typer.Option("--articles", help="Folder of news articles (*.txt).")],
    list_path: Path | None = ListOpt,
    reset: Annotated[bool, typer.Option("--reset", help="Drop existing article citations instead of checking them.")] = False,
) -> None:
    """Regenerate the list's article citations from the articles and rewrite the list file in place."""
    from screener.lists.listbuild import (
        ListBuildError,
        build_citations,
        citations_by_article,
    )

    _need_dir(articles, "articles")
    path, lst = _load(list_path)
    try:
        built = build_citations(lst, articles, reset=reset)
    except ListBuildError as exc:
        fail(str(exc))
    save_list(built, path)
    cited = citations_by_article(built)
    for article_id, party_ids in cited.items():
        typer.echo(f"{article_id}: {len(party_ids)} parties: {', '.join(party_ids)}")
    total = sum(len(v) for v in cited.values())
    typer.echo(f"wrote {path}: {total} article citations across {len(cited)} articles")


@app.command()
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON: coverage and party records.")] = False,
    list_path: Path | None = NamedListOpt,
) -> None:
    """List the parties: a table for people, or JSON records for programs."""
    path, lst = _load(list_path, named=True)
    coverage = ListInfo.of("default" if path == default_list_path() else str(path), lst).coverage
    if as_json:
        data = {
            "name": lst.name,
            "version": lst.version,
            "content_hash": lst.content_hash,
            "coverage": coverage,
            "parties": [p.model_dump(mode="json") for p in lst.parties],
        }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    header = ("id", "name", "type", "date added", "FR citation", "aliases", "sources")
    rows = [
        (
            p.id,
            p.name,
            p.entity_type.value,
            p.date_added.isoformat() if p.date_added else "",
            p.fr_citation or "",
            str(len(p.aliases)),
            ", ".join(f"{k}:{sum(1 for s in p.sources if s.kind == k)}"
                      for k in dict.fromkeys(s.kind for s in p.sources)),
        )
        for p in lst.parties
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, tuple("-" * w for w in widths), *rows):
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    typer.echo(f"{lst.name} {lst.version}: {len(lst.parties)} parties")
    typer.echo("")
    typer.echo(textwrap.fill(f"Coverage: {coverage}", width=100))


@app.command()
def validate(
    list_path: Path | None = NamedListOpt,
    articles: Annotated[Path | None, typer.Option("--articles", help="Also check article quotes against this folder.")] = None,
) -> None:
    """Check a list file: schema, ids, wording, sources, and (given the articles) that every quote is verbatim."""
    if articles is not None:
        _need_dir(articles, "articles")
    _, lst = _load(list_path, named=True)
    problems = validate_list(lst, articles)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        fail(f"{len(problems)} problem(s) in {lst.name}")
    aliases = sum(len(p.aliases) for p in lst.parties)
    sources = sum(len(p.sources) for p in lst.parties)
    typer.echo(f"OK: {len(lst.parties)} parties, {aliases} aliases, {sources} sources")


@app.command()
def update(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="csl, ofac-sdn or all (repeatable; default all).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Mirror address (one source): the CSL file, or "
                                               "the folder holding sdn.csv, alt.csv, add.csv.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Catalog name (one source); default csl / sdn.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Audit store URL (the monitored base).")] = None,
) -> None:
    """Download the official lists; a new version only when their content changed; re-screen the monitored base."""
    from screener.lists.update import SOURCES, UpdateError, update_list

    asked = source or ["all"]  # each source named, in the order given: a repeated --source must not drop one
    if unknown := [s for s in asked if s != "all" and s not in SOURCES]:
        fail(f"unknown source {unknown[0]!r}: use {', '.join(SOURCES)} or all")
    sources = list(dict.fromkeys(s for a in asked for s in (SOURCES if a == "all" else [a])))
    if (url or name) and len(sources) > 1:
        fail("--url and --name need one --source")
    failed = []
    for src in sources:
        try:
            result = update_list(src, url=url, name=name)
        except (UpdateError, ValueError, OSError) as exc:
            typer.echo(f"screener: error: {' '.join(str(exc).split())}", err=True)
            failed.append(src)
            continue
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        for row in result.skipped:
            typer.echo(f"SKIPPED {row}", err=True)
        got = ", ".join(f"{f} {n:,} bytes" for f, n in result.downloaded.items()) or "nothing downloaded"
        typer.echo(f"{result.name}: {result.outcome.replace('_', ' ')}, version {result.version} ({got})")
        if result.skipped:
            typer.echo(f"WARNING: {len(result.skipped)} row(s) could not be read and are NOT in the list", err=True)
        if result.changed:
            from screener.review.monitor import after_update

            for line in after_update(result.name, db_url=db):
                typer.echo(line)
    if failed:
        fail(f"update failed for {', '.join(failed)}; the current versions stay")
