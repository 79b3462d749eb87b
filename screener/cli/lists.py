"""`screener lists ...`: build, show and validate restricted-party list files.

Every command reads the bundled default list unless `--list` names another file. Failures are one
line on stderr and exit code 2, so scripts and CI can tell a bad list from a crash.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from screener.cli.common import fail
from screener.listbuild import ListBuildError, build_citations, citations_by_article
from screener.models import RestrictedList
from screener.partylist import ListError, default_list_path, load_list, save_list, validate_list

app = typer.Typer(help="Build, show and validate restricted-party lists.", no_args_is_help=True)

ListOpt = typer.Option(None, "--list", help="List file (YAML or JSON); default: the bundled list.")


def _load(path: Path | None) -> tuple[Path, RestrictedList]:
    path = path or default_list_path()
    try:
        return path, load_list(path)
    except ListError as exc:
        fail(str(exc))


def _need_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        fail(f"{what} folder not found: {path}")


@app.command()
def build(
    articles: Path = typer.Option(..., "--articles", help="Folder of news articles (*.txt)."),
    list_path: Path | None = ListOpt,
    reset: bool = typer.Option(False, "--reset", help="Drop existing article citations instead of checking them."),
) -> None:
    """Regenerate the list's article citations from the articles and rewrite the list file in place."""
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
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array of party records."),
    list_path: Path | None = ListOpt,
) -> None:
    """List the parties: a table for people, or JSON records for programs."""
    _, lst = _load(list_path)
    if as_json:
        records = [p.model_dump(mode="json") for p in lst.parties]
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
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


@app.command()
def validate(
    list_path: Path | None = ListOpt,
    articles: Path | None = typer.Option(None, "--articles", help="Also check article quotes against this folder."),
    reference: Path | None = typer.Option(None, "--reference", help="Also check reference quotes (<id>.md files)."),
) -> None:
    """Check a list file: schema, ids, sources, and (given the folders) that every quote is verbatim."""
    for folder, what in ((articles, "articles"), (reference, "reference")):
        if folder is not None:
            _need_dir(folder, what)
    _, lst = _load(list_path)
    problems = validate_list(lst, articles, reference_dir=reference)
    if problems:
        for problem in problems:
            typer.echo(problem, err=True)
        fail(f"{len(problems)} problem(s) in {lst.name}")
    aliases = sum(len(p.aliases) for p in lst.parties)
    sources = sum(len(p.sources) for p in lst.parties)
    typer.echo(f"OK: {len(lst.parties)} parties, {aliases} aliases, {sources} sources")
