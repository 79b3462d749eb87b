"""The Excel report, streamed with xlsxwriter in constant_memory mode, and made to print.

Rows arrive one at a time and go straight to the "All rows" sheet, so memory stays flat however
long the input. Potential matches must be sorted, so each one is spilled as a JSON line to a
scratch file and only its sort key stays in memory. Everything else (Summary, Legend, Potential
matches, Restricted parties, Sources, Ownership) is written in `close()`, when the summary and the
full set of matches are known. constant_memory only demands that each sheet is written top to
bottom, so the Summary and Legend sheets are created first (first tabs) and filled last.

Sheets, in order: Summary, Legend, Potential matches, All rows, All rows (2)..., then Potential
matches (2)... if there were more potential matches than one sheet holds (they can only be added
at close), Restricted parties, Sources, Ownership (only when owners were supplied). Any table
longer than `MAX_DATA_ROWS` continues on a numbered sheet with its own header.

A deliverable, not a dump: human headers and values, the input's own columns (customer number and
the rest, from `RowResult.fields`) beside each result, a plain-language "Why it matched" with the
technical trace in its own unprinted column, short source references (S1, S2…) linking to the
Sources sheet, and every sheet set up to print landscape, one page wide, header row repeated,
run and list versions in the page header, page numbers in the footer (`screener.files.sheets`).

Completeness. The workbook is written to a hidden temp file beside the target and renamed over it
at the end of `close()`, which first checks that every row read was written (see
`screener.files.writers.check_complete`). `abort()` removes the temp file and the scratch files.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from screener.files.sheets import (
    NUMBER,
    SCORE,
    TEXT,
    TRACE,
    WRAP,
    Column,
    Formats,
    Table,
    page_name,
)
from screener.files.summary_sheet import (
    TITLE,
    Tally,
    print_header,
    write_legend,
    write_summary,
)
from screener.files.wording import (
    ENTITY_TYPE_LABELS,
    kind_label,
    plain_explanation,
    review_label,
    status_label,
)
from screener.files.writers import ResultWriter, StagedFile, check_complete
from screener.models import (
    ListInfo,
    Match,
    RestrictedList,
    RowResult,
    RunSummary,
    Source,
    Status,
)

__all__ = ["MATCH_KEY_HEADERS", "SHEET_DECISIONS", "TITLE", "ReportWriter", "page_name", "write_report"]

MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header; lowered by tests
MAX_FIELD_COLUMNS = 3  # input columns shown as columns of their own; the rest share one cell
FIELD_WIDTH = 13
OTHER_CELLS = Column("Other input cells", WRAP, 22)

MATCH_HEAD = (
    Column("Score", SCORE, 7),
    Column("Input name", WRAP, 26),
    Column("Sheet", WRAP, 11),
    Column("Row", NUMBER, 6),
    Column("Column", WRAP, 11),
    Column("Country", TEXT, 8),
)
MATCH_TAIL = (
    Column("Matched party", WRAP, 24),
    Column("Party id", TEXT, 16),  # links to the party's row in Restricted parties (short: links do not wrap)
    Column("List", WRAP, 12),
    Column("Why it matched", WRAP, 50),
    Column("Sources", TEXT, 20),  # links to the first source's row in Sources
    Column("Review", WRAP, 20),
    # the two cells an analyst fills in for `screener decisions import`
    Column("Decision", TEXT, 13),
    Column("Comment", WRAP, 24),
    Column("Technical trace", TRACE, 90),
)
# The headers `screener decisions import` reads a filled-in sheet by (screener.review.roundtrip).
MATCH_KEY_HEADERS = {
    "sheet": "Sheet",
    "input row": "Row",
    "input name": "Input name",
    "entity id": "Party id",
    "list": "List",
    "Decision": "Decision",
    "Comment": "Comment",
}
SHEET_DECISIONS = {"false positive": "false_positive", "confirmed": "confirmed", "escalate": "escalated"}

ALL_ROWS_HEAD = (
    Column("Sheet", WRAP, 11),
    Column("Row", NUMBER, 6),
    Column("Column", WRAP, 11),
    Column("Input name", WRAP, 28),
    Column("Country", TEXT, 8),
    Column("Address", WRAP, 26),
)
ALL_ROWS_TAIL = (
    Column("Status", WRAP, 13),
    Column("Score", SCORE, 7),
    Column("Best candidate", WRAP, 24),
    Column("Party id", WRAP, 13),
    Column("Matched name", WRAP, 24),
    Column("Note", WRAP, 34),
)

PARTY_COLUMNS = (
    Column("List", WRAP, 12),
    Column("Party id", WRAP, 14),
    Column("Name", WRAP, 26),
    Column("Entity type", WRAP, 12),
    Column("Country", TEXT, 8),
    Column("Aliases", WRAP, 36),
    Column("Addresses", WRAP, 30),
    Column("Date added", TEXT, 11),
    Column("FR citation", WRAP, 12),
    Column("Licence", WRAP, 36),
    Column("Not verified", WRAP, 36),
    Column("Sources", WRAP, 50),
)

SOURCE_COLUMNS = (
    Column("Ref", TEXT, 6),
    Column("Kind", WRAP, 12),
    Column("Document", WRAP, 40),
    Column("Publisher", WRAP, 20),
    Column("Date", WRAP, 12),
    Column("FR citation", WRAP, 12),
    Column("FR Doc", TEXT, 11),
    Column("Link", WRAP, 30),
    Column("Not shown in the stored copy", WRAP, 30),
    Column("File id", WRAP, 16),
    Column("Cited by", WRAP, 40),
)
SOURCE_KINDS = {"notice": "Federal Register notice", "article": "News article", "list_file": "Official list file"}

OWNERSHIP_COLUMNS = (
    Column("sheet", TEXT),
    Column("input row", NUMBER),
    Column("input name", TEXT),
    Column("outcome", TEXT),
    Column("rule state", TEXT),
    Column("as of", TEXT),
    Column("listed share %", NUMBER),
    Column("up to %", NUMBER),
    Column("chain", NUMBER),
    Column("chain: listed party -share-> ... -> customer", WRAP),
    Column("list entry", WRAP),
    Column("licence requirement", WRAP),
    Column("explanation", WRAP),
)


def _score(value: float | None) -> float | None:
    """Scores as the flat record shows them, so the workbook and the CSV agree."""
    return None if value is None else round(value, 1)


def _lines(items: Iterable[str]) -> str:
    return "\n".join(items)


def own_cells(result: RowResult) -> dict[str, str]:
    """The input row's own cells, less the ones the result already shows (name, country, address)."""
    shown = {result.input_name, result.input_country, result.input_address}
    return {k: v for k, v in result.fields.items() if k != result.column and v not in shown}


class FieldColumns:
    """The input's own columns: the first few headers get a column each, the rest one shared cell.

    `spare` keeps the shared cell even when every header known now has a column: All rows fixes its
    columns at the first row, and a later sheet of the input may have other headers.
    """

    def __init__(self, keys: Iterable[str], *, spare: bool) -> None:
        known = list(keys)
        self.keys = known[:MAX_FIELD_COLUMNS]
        self.other = bool(known) and (spare or len(known) > MAX_FIELD_COLUMNS)
        self.columns = [Column(k, WRAP, FIELD_WIDTH) for k in self.keys] + ([OTHER_CELLS] if self.other else [])

    def cells(self, fields: dict[str, str]) -> list[str | None]:
        values: list[str | None] = [fields.get(k) for k in self.keys]
        if self.other:
            values.append("\n".join(f"{k}: {v}" for k, v in fields.items() if k not in self.keys) or None)
        return values


def _ranges(numbers: list[int]) -> str:
    """[2, 3, 4, 6] -> 'S2–S4, S6'."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"S{a}" if a == b else f"S{a}–S{b}" for a, b in runs)


def _short_refs(sources: Sequence[Source], refs: Sequence[tuple[str, str, str]]) -> str | None:
    """'S1 84 FR 54002, S2–S6': documents other than articles by name, articles by number only."""
    pairs = list(zip(sources, refs, strict=True))
    named = list(dict.fromkeys(f"{ref} {short}" for s, (ref, short, _) in pairs if s.kind != "article"))
    articles = [int(ref[1:]) for s, (ref, _, _) in pairs if s.kind == "article"]
    if articles:
        named.append(_ranges(articles))
    return ", ".join(named) or None


def _review_text(result: RowResult) -> str:
    """The recorded review in words: status, who, when, why, who approved."""
    if result.reviewed_by is None and result.review:
        return result.review
    text = review_label(result.review_status or "open")
    if result.reviewed_by:
        text += f" by {result.reviewed_by}"
    if result.reviewed_at:
        text += f" on {result.reviewed_at[:10]}"
    if result.review_comment:
        text += f": {result.review_comment}"
    if result.approved_by:
        text += f"; approved by {result.approved_by}"
    return text


def _decision_dropdown(page: Any) -> None:
    """A drop-down of the decisions `screener decisions import` takes, on every match line."""
    col = [c.header for c in page.columns].index(MATCH_KEY_HEADERS["Decision"])
    page.ws.data_validation(1, col, max(page.rows, 1), col, {
        "validate": "list",
        "source": list(SHEET_DECISIONS),
        "input_title": "Your decision",
        "input_message": "false positive, confirmed or escalate; say why in Comment",
        "error_title": "Not a decision",
        "error_message": "Choose false positive, confirmed or escalate.",
    })


class OwnershipSheet:
    """The Ownership sheet: one line per chain of every party with an Affiliates Rule outcome.

    Lines are spilled to a scratch file as results stream in and written at close. The rule's state
    is on every line, so a covered party while the rule is suspended reads as a red flag, not a match.
    """

    def __init__(self, scratch: str) -> None:
        self._spill = tempfile.TemporaryFile(dir=scratch)  # noqa: SIM115 - closed by close()
        self.lines = 0

    def add(self, result: RowResult) -> None:
        own = result.ownership
        if own is None:
            return
        state = own.rule_state.replace("_", " ")
        chains = own.chains or [None]
        for number, chain in enumerate(chains, 1):
            root = chain.links[-1].owner if chain else None
            entries = [o for o in own.listed_owners if o.owner == root]
            values = [
                result.sheet, result.row, result.input_name,
                own.outcome.replace("_", " ") + ("" if own.rule_state == "in_force" or own.outcome != "covered"
                                                  else " (red flag: rule " + state + ")"),
                state, own.as_of.isoformat(), own.listed_percent, own.possible_percent,
                number if chain else None, chain.text if chain else None,
                _lines(f"{o.entity_id} {o.entity_name} ({o.list_name}, score {o.score:g}"
                       + (f", {o.fr_citation}" if o.fr_citation else "") + ")" for o in entries),
                own.licence_requirement, own.text,
            ]
            self._spill.write(json.dumps(values, ensure_ascii=False).encode() + b"\n")
            self.lines += 1

    def write(self, book: xlsxwriter.Workbook, fmts: Formats, limit: int) -> Table | None:
        """The sheet, or None when no party had owners (the report then has no Ownership sheet)."""
        if not self.lines:
            return None
        table = Table(book, "Ownership", OWNERSHIP_COLUMNS, fmts, limit)
        self._spill.seek(0)
        for line in self._spill:
            table.add(json.loads(line))
        return table

    def close(self) -> None:
        self._spill.close()


class ReportWriter(ResultWriter):
    """Streams results into an Excel workbook that appears at `path` only when complete."""

    def __init__(
        self,
        path: str | Path,
        lists: Sequence[tuple[str, RestrictedList]],
        *,
        tmpdir: str | Path | None = None,
    ) -> None:
        self._limit = MAX_DATA_ROWS
        self._lists = list(lists)
        self._party_rows = self._locate_parties()
        self._documents = self._number_sources()
        self._state = "open"
        self._tally = Tally()
        self._all_fields: FieldColumns | None = None
        self._match_fields: dict[str, None] = {}  # every own-cell header of a potential match, in order
        self._match_keys: list[tuple[float, int, int, int]] = []  # -row score, seq, rank, offset
        self._scratch = tempfile.TemporaryDirectory(
            prefix="screener-report-", dir=tmpdir, ignore_cleanup_errors=True
        )
        self._staged = StagedFile(path)
        try:
            self._spill = tempfile.TemporaryFile(dir=self._scratch.name)  # noqa: SIM115 - closed by close()/abort()
            self._ownership = OwnershipSheet(self._scratch.name)
            self._book = xlsxwriter.Workbook(
                str(self._staged.path),
                {
                    "constant_memory": True,
                    "tmpdir": self._scratch.name,
                    "use_zip64": True,  # only used if a part exceeds 4 GB
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
            self._fmts = Formats(self._book)
            self._summary = self._book.add_worksheet("Summary")
            self._legend = self._book.add_worksheet("Legend")
            self._matches = Table(self._book, "Potential matches", MATCH_HEAD + MATCH_TAIL, self._fmts, self._limit)
            self._all_rows = Table(self._book, "All rows", ALL_ROWS_HEAD + ALL_ROWS_TAIL, self._fmts, self._limit)
        except BaseException:
            self._staged.discard()
            self._scratch.cleanup()
            raise

    # -- streaming -------------------------------------------------------------------------

    def write(self, result: RowResult) -> None:
        if self._state != "open":
            raise RuntimeError(f"report writer is {self._state}")
        tally = self._tally
        tally.written += 1
        tally.counts[result.status] += 1
        tally.by_sheet[result.sheet] += 1
        cells = own_cells(result)
        if self._all_fields is None:  # the first row's own columns become columns of All rows
            self._all_fields = FieldColumns(cells, spare=True)
            self._all_rows.start(ALL_ROWS_HEAD + tuple(self._all_fields.columns) + ALL_ROWS_TAIL)
        best = result.matches[0] if result.matches else None
        self._all_rows.add(
            (
                result.sheet,
                result.row,
                result.column,
                result.input_name,
                result.input_country,
                result.input_address,
                *self._all_fields.cells(cells),
                status_label(result.status, result.review_decision),
                _score(result.score),
                best.entity_name if best else None,
                best.entity_id if best else None,
                best.matched_alias if best else None,
                result.not_screened_reason or result.review,
            )
        )
        if result.status is Status.POTENTIAL_MATCH:
            self._stash_matches(result, cells)
        self._ownership.add(result)

    def _stash_matches(self, result: RowResult, cells: dict[str, str]) -> None:
        """Spill one line per candidate; keep only (sort key, file offset) in memory.

        Lines sort by the row's score, then input order, then candidate rank, so a row's candidates
        stay together. A potential match without candidates still gets a line: never lose a row.
        """
        best = result.matches[0] if result.matches else None
        row_score = result.score if result.score is not None else (best.score if best else 0.0)
        review = _review_text(result)
        self._tally.reviews[result.review_status or "open"] += len(result.matches) or 1
        if len(self._match_fields) < 100:
            self._match_fields.update(dict.fromkeys(cells))
        candidates: list[Match | None] = list(result.matches) or [None]
        for rank, m in enumerate(candidates, 1):
            head = [
                _score(m.score if m else result.score),
                result.input_name,
                result.sheet,
                result.row,
                result.column,
                result.input_country,
            ]
            refs = [self._documents[(s.kind, s.id)] for s in m.sources] if m else []
            tail = [
                m.entity_name if m else None,
                m.entity_id if m else None,
                m.list_name if m else None,
                plain_explanation(m.explanation, result.input_name, m.score)
                if m else (result.ownership.text if result.ownership else None),
                _short_refs(m.sources, refs) if m else None,
                review,
                None,
                None,
                m.explanation.text() if m else None,
            ]
            links = [self._party_location(m) if m else None, refs[0][2] if refs else None]
            offset = self._spill.tell()
            self._spill.write(json.dumps([head, cells, tail, links], ensure_ascii=False).encode() + b"\n")
            self._match_keys.append((-row_score, self._tally.written, rank, offset))

    # -- restricted parties and sources ---------------------------------------------------

    def _locate_parties(self) -> dict[tuple[str, str] | str, str | None]:
        """Where each party's row will be: by (list key, id), and by id alone when unambiguous."""
        where: dict[tuple[str, str] | str, str | None] = {}
        index = 0
        for key, restricted in self._lists:
            for party in restricted.parties:
                page, offset = divmod(index, self._limit)
                location = f"'{page_name('Restricted parties', page)}'!A{offset + 2}"
                where[(key, party.id)] = location
                where[party.id] = None if party.id in where else location
                index += 1
        return where

    def _party_location(self, match: Match) -> str | None:
        return self._party_rows.get((match.list_key, match.entity_id)) or self._party_rows.get(
            match.entity_id
        )

    def _number_sources(self) -> dict[tuple[str, str], tuple[str, str, str]]:
        """Each cited document once, in order of first citation: (kind, id) -> (ref, short, location)."""
        refs: dict[tuple[str, str], tuple[str, str, str]] = {}
        for _, restricted in self._lists:
            for p in restricted.parties:
                for s in p.sources:
                    if (s.kind, s.id) not in refs:
                        page, offset = divmod(len(refs), self._limit)
                        location = f"'{page_name('Sources', page)}'!A{offset + 2}"
                        refs[(s.kind, s.id)] = (f"S{len(refs) + 1}", s.short(), location)
        return refs

    # -- closing ---------------------------------------------------------------------------

    def close(self, summary: RunSummary) -> None:
        if self._state != "open":
            raise RuntimeError(f"report writer is {self._state}")
        try:
            check_complete(summary, self._tally.written, "Excel report")
            infos = summary.lists or self._list_infos()
            header = print_header(summary, infos)
            self._write_matches()
            parties = self._write_parties()
            sources = self._write_sources()
            ownership = self._ownership.write(self._book, self._fmts, self._limit)
            tables = [self._matches, self._all_rows, parties, sources, *([ownership] if ownership else [])]
            for table in tables:
                for page in table.pages:
                    page.finish(summary.threshold, header)
            for page in self._matches.pages:
                _decision_dropdown(page)
            rows_by_name = {p.name: p.rows for t in tables for p in t.pages}
            sheets = [(ws.name, rows_by_name[ws.name]) for ws in self._book.worksheets() if ws.name in rows_by_name]
            write_summary(self._summary, self._fmts, summary, self._tally, infos, sheets)
            write_legend(self._legend, self._fmts, summary, infos)
            self._book.set_properties(
                {"title": TITLE, "subject": f"run {summary.run_id}", "author": summary.user or ""}
            )
            self._book.close()
            self._spill.close()
            self._ownership.close()
            self._staged.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        self._scratch.cleanup()

    def abort(self) -> None:
        """Discard everything: the partial workbook, the spill file and xlsxwriter's row files."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._spill.close()
        self._ownership.close()
        # Closing the workbook would first assemble the whole file; just release its row files.
        for ws in self._book.worksheets():
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None:
                fh.close()
        self._scratch.cleanup()
        self._staged.discard()

    def _write_matches(self) -> None:
        self._spill.flush()
        self._match_keys.sort()
        fields = FieldColumns(self._match_fields, spare=False)
        self._matches.start(MATCH_HEAD + tuple(fields.columns) + MATCH_TAIL)
        party_col = len(MATCH_HEAD) + len(fields.columns) + 1  # the Party id cell
        source_col = party_col + 3
        for *_, offset in self._match_keys:
            self._spill.seek(offset)
            head, cells, tail, (party_at, source_at) = json.loads(self._spill.readline())
            links = {col: at for col, at in ((party_col, party_at), (source_col, source_at)) if at}
            self._matches.add([*head, *fields.cells(cells), *tail], links)
        self._match_keys = []

    def _write_parties(self) -> Table:
        table = Table(self._book, "Restricted parties", PARTY_COLUMNS, self._fmts, self._limit)
        for _, restricted in self._lists:
            for p in restricted.parties:
                table.add(
                    (
                        restricted.name,
                        p.id,
                        p.name,
                        ENTITY_TYPE_LABELS.get(p.entity_type.value, p.entity_type.value),
                        p.country,
                        _lines(
                            f"{a.name} ({kind_label(a.kind)}"
                            + (")" if a.verified else f"; not verified: {a.note or 'no source seen'})")
                            for a in p.aliases
                        ),
                        _lines(
                            a.text
                            + (f" ({a.country})" if a.country else "")
                            + ("" if a.verified else " (not verified)")
                            for a in p.addresses
                        ),
                        p.date_added.isoformat() if p.date_added else None,
                        p.fr_citation,
                        _lines(x for x in (p.licence_requirement, p.licence_policy) if x),
                        _lines(p.unverified),
                        _lines(self._cited(s) for s in p.sources),
                    )
                )
        return table

    def _cited(self, s: Source) -> str:
        ref, short, _ = self._documents[(s.kind, s.id)]
        return f'{ref} {short}: "{s.quote}"' if s.quote else f"{ref} {short}"

    def _write_sources(self) -> Table:
        """Each cited document once, in the order numbered, with the parties citing it."""
        documents: dict[tuple[str, str], tuple[Source, list[str]]] = {}
        for key, restricted in self._lists:
            for p in restricted.parties:
                for s in p.sources:
                    _, citing = documents.setdefault((s.kind, s.id), (s, []))
                    who = p.name if key == "default" else f"{p.name} ({restricted.name})"
                    if not citing or citing[-1] != who:
                        citing.append(who)
        table = Table(self._book, "Sources", SOURCE_COLUMNS, self._fmts, self._limit)
        for (kind, sid), (s, citing) in documents.items():
            table.add(
                (
                    self._documents[(kind, sid)][0],
                    SOURCE_KINDS.get(s.kind, s.kind),
                    s.title or (s.citation if s.kind == "notice" else None),
                    s.publisher,
                    s.date,
                    s.citation,
                    s.document_number,
                    s.url,
                    s.note,
                    s.id if s.kind != "notice" else None,
                    _lines(citing),
                )
            )
        return table

    def _list_infos(self) -> list[ListInfo]:
        """List facts from the lists themselves, when the summary does not carry them."""
        return [ListInfo.of(key, lst) for key, lst in self._lists]


def write_report(
    path: str | Path,
    summary: RunSummary,
    results: Iterable[RowResult],
    lists: Sequence[tuple[str, RestrictedList]],
) -> Path:
    """Write a whole report from an iterable of results; nothing is left behind if it fails."""
    writer = ReportWriter(path, lists)
    try:
        for result in results:
            writer.write(result)
        writer.close(summary)
    except BaseException:
        writer.abort()
        raise
    return Path(path)
